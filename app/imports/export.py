"""The organization's export: NDJSON in the shape an import takes, streamed a page of candidates at a time."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from app.candidates.models import Candidate
from app.candidates.schemas import CandidateUpsert
from app.core.coalesced import accesses
from app.core.db import db
from app.core.models import table_of
from app.events.models import Event
from app.milestones.models import Milestone
from app.milestones.schemas import MilestoneCreate
from app.programs.models import ProgramList
from app.programs.schemas import ProgramListCreate
from app.usce.models import UsceRecord
from app.usce.schemas import UsceCreate

PAGE = 500
_CAND = table_of(Candidate)
_EV = table_of(Event)
_CHILDREN: tuple[tuple[str, Any, frozenset[str]], ...] = (
    ("milestones", table_of(Milestone), frozenset(MilestoneCreate.model_fields)),
    ("usce_records", table_of(UsceRecord), frozenset(UsceCreate.model_fields)),
    ("program_lists", table_of(ProgramList), frozenset(ProgramListCreate.model_fields)),
)
_CANDIDATE_FIELDS = ("external_id", *CandidateUpsert.model_fields)
_RECORD_EVENTS = tuple(f"{noun}.{verb}" for noun in ("candidate", "milestone", "usce_record", "program_list")
                       for verb in ("created", "updated", "deleted"))


async def etag(session: AsyncSession, organization_id: uuid.UUID) -> str:
    """Every write to the organization's records writes an event (the write hook), so the newest such event's
    position and the number of candidates tell whether anything changed since."""
    seq = (await session.execute(select(func.max(_EV.c.seq)).where(
        _EV.c.organization_id == organization_id, _EV.c.type.in_(_RECORD_EVENTS)))).scalar_one()
    n = (await session.execute(select(func.count()).select_from(_CAND).where(
        _CAND.c.organization_id == organization_id))).scalar_one()
    return f'"x{seq or 0}.{n}"'


def _plain(row: Any, fields: frozenset[str] | tuple[str, ...]) -> dict[str, Any]:
    m = row._mapping
    out = {}
    for f in (fields if isinstance(fields, tuple) else sorted(fields)):
        if f not in m:
            continue
        v = m[f]
        out[f] = v.isoformat() if hasattr(v, "isoformat") else v
    return out


async def lines(organization_id: uuid.UUID) -> AsyncIterator[bytes]:
    """Candidates ordered by external id (then id), a page at a time on a session of its own: the response
    streams while the request's session is long closed."""
    last: tuple[Any, Any] | None = None
    while True:
        async with db.session() as session:
            q = select(_CAND).where(_CAND.c.organization_id == organization_id)
            key = (func.coalesce(_CAND.c.external_id, ""), _CAND.c.id)
            if last is not None:
                q = q.where(tuple_(*key) > tuple_(*last))
            cands = (await session.execute(q.order_by(*key).limit(PAGE))).all()
            if not cands:
                return
            ids = [c.id for c in cands]
            accesses.note("export", ids)  # a disclosure of each record, for the audit trail (once an hour)
            children: dict[str, dict[uuid.UUID, list[dict[str, Any]]]] = {}
            for name, table, fields in _CHILDREN:
                rows = (await session.execute(select(table).where(table.c.candidate_id.in_(ids))
                                              .order_by(table.c.candidate_id, table.c.created_at, table.c.id))).all()
                grouped: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
                for r in rows:
                    grouped[r.candidate_id].append(_plain(r, fields))
                children[name] = grouped
        out = []
        for c in cands:
            doc = _plain(c, _CANDIDATE_FIELDS)
            for name, _t, _f in _CHILDREN:
                doc[name] = children[name].get(c.id, [])
            out.append(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode() + b"\n")
        yield b"".join(out)
        last = (cands[-1].external_id or "", cands[-1].id)
