"""Reading the change feed: the organization's events in commit order, from a cursor.

The order is (txid, seq). On SQLite one transaction writes at a time, so seq alone is commit order. On PostgreSQL
transactions commit in any order, so a reader sees only events of transactions older than the oldest one still
running (`pg_snapshot_xmin`): an event can never turn up behind a position already handed out, and a client that
polls from its last cursor misses nothing.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, literal_column, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import get_settings
from app.core.db import db, utcnow
from app.core.errors import Forbidden, NotFound, ValidationFailed, field_error
from app.core.models import table_of
from app.core.security import Principal, Role
from app.events.models import Event
from app.events.schemas import EVENT_SELECTORS, EVENT_TYPES, TYPES_PATTERN

_T = table_of(Event)


# A cursor is a position in the feed, `{txid}.{seq}`: any position the pattern allows is one the feed can be read
# on from (a position never handed out reads the events after it, which the caller may see anyway). Cursors of
# the first form, the same text in unpadded base64url, are read as before: clients keep theirs across an upgrade.
CURSOR_PATTERN = r"^[0-9]{1,18}\.[0-9]{1,18}$"
_CURSOR = re.compile(CURSOR_PATTERN)
_LEGACY = re.compile(r"^[A-Za-z0-9_-]{4,64}$")
_TYPES = re.compile(TYPES_PATTERN)


def encode_cursor(txid: int, seq: int) -> str:
    return f"{txid}.{seq}"


def _from_legacy(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return ""


def decode_cursor(cursor: str) -> tuple[int, int]:
    # fullmatch: `$` in a Python pattern also matches before a final newline, where the declared (ECMA) one does not
    text = cursor if _CURSOR.fullmatch(cursor) else _from_legacy(cursor) if _LEGACY.fullmatch(cursor) else ""
    if not _CURSOR.fullmatch(text):
        raise ValidationFailed("after is not a cursor: pass a `next_cursor` or an event's `cursor`.", errors=[
            field_error("query.after", "not a valid cursor", "invalid_cursor")])
    txid, seq = text.split(".")
    return int(txid), int(seq)


def parse_types(types: str | None) -> list[str] | None:
    """`types` is a comma-separated list of event types, spaces allowed around each (the declared
    `TYPES_PATTERN`, enforced here as declared); `noun.*` stands for all of the noun's. Empty: every type."""
    if not types:
        return None
    if _TYPES.fullmatch(types) is None:
        unknown = next((n.strip(" ") for n in types.split(",") if n.strip(" ") not in EVENT_SELECTORS), types)
        raise ValidationFailed(f"Unknown event type {unknown!r}: name event types (or `noun.*`), separated by commas.",
                               errors=[field_error("query.types", f"unknown event type {unknown!r}",
                                                   "unknown_event_type")])
    wanted: list[str] = []
    for raw in types.split(","):
        name = raw.strip(" ")
        wanted.extend(t for t in EVENT_TYPES if t == name or (name.endswith(".*") and t.startswith(name[:-1])))
    return sorted(set(wanted))


def _scope(principal: Principal, organization_id: uuid.UUID | None) -> list[Any]:
    if principal.is_admin:
        return [_T.c.organization_id == organization_id] if organization_id is not None else []
    if organization_id is not None and organization_id != principal.organization_id:
        raise Forbidden("You can read only your own organization's events.")
    where = [_T.c.organization_id == principal.organization_id]
    if principal.role is Role.candidate:
        where.append(_T.c.candidate_id == principal.candidate_id)
    return where


def _visible(dialect: str) -> list[Any]:
    if dialect == "postgresql":
        return [_T.c.txid < literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")]
    return []


def render(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "type": row.type, "occurred_at": row.occurred_at, "organization_id": row.organization_id,
        "candidate_id": row.candidate_id,
        "subject": {"type": row.subject_type, "id": row.subject_id, "external_id": row.subject_external_id,
                    "version": row.subject_version},
        "data": row.data, "cursor": encode_cursor(row.txid, row.seq),
    }


async def list_events(session: AsyncSession, principal: Principal, *, after: str | None, types: str | None,
                      candidate_id: uuid.UUID | None, organization_id: uuid.UUID | None, limit: int
                      ) -> dict[str, Any]:
    where = _scope(principal, organization_id)
    dialect = db.dialect_name
    where += _visible(dialect)
    position = decode_cursor(after) if after is not None else None
    if position is not None:
        where.append(tuple_(_T.c.txid, _T.c.seq) > tuple_(*position) if dialect == "postgresql"
                     else or_(_T.c.txid > position[0], and_(_T.c.txid == position[0], _T.c.seq > position[1])))
    wanted = parse_types(types)
    if wanted is not None:
        where.append(_T.c.type.in_(wanted))
    if candidate_id is not None:
        where.append(_T.c.candidate_id == candidate_id)
    rows = (await session.execute(select(_T).where(*where).order_by(_T.c.txid, _T.c.seq).limit(limit + 1))).all()
    more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        next_cursor = encode_cursor(rows[-1].txid, rows[-1].seq)
    elif position is not None:
        next_cursor = encode_cursor(*position)
    else:
        next_cursor = encode_cursor(0, 0)
    return {"items": [render(r) for r in rows], "next_cursor": next_cursor, "has_more": more, "limit": limit}


async def get_event(session: AsyncSession, principal: Principal, event_id: uuid.UUID) -> dict[str, Any]:
    row = (await session.execute(select(_T).where(_T.c.id == event_id, *_scope(principal, None)))).first()
    if row is None:
        raise NotFound("Event not found.")
    return render(row)


def retention_cutoff(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=get_settings().event_retention_days)
