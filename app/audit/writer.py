"""The audit trail's writer: a sink of the write hook that records, in the transaction of each change, who made it
(the request's principal; `system` for the worker), what and which fields — names only, never values."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from sqlalchemy import JSON, Uuid, bindparam, insert, text
from sqlalchemy.engine import Connection

from app.audit.models import AuditRecord
from app.core.changes import Change, add_sink
from app.core.coalesced import Access, accesses
from app.core.db import UtcDateTime, db, utcnow
from app.core.models import table_of
from app.core.observe import current_origin
from app.core.security import current_actor

log = logging.getLogger("matchready.audit")

_INSERT = insert(table_of(AuditRecord))
_ACTIONS = {"created": "create", "updated": "update", "deleted": "delete"}


def who_and_where() -> dict[str, object]:
    """The audit columns that say who acted, from where, in which request (the current request's principal, else
    `system`: the worker, or a request before it knows its caller)."""
    actor = current_actor.get()
    if actor is None:
        origin = current_origin.get()
        return {"actor_type": "system", "actor_id": None, "actor_role": None, "request_id": origin.request_id,
                "client_address": origin.client_address}
    p = actor.principal
    if p is None:
        who: dict[str, object] = {"actor_type": "system", "actor_id": None, "actor_role": None}
    elif p.api_key_id is not None:
        who = {"actor_type": "api_key", "actor_id": p.api_key_id, "actor_role": p.role.value}
    else:
        who = {"actor_type": "user", "actor_id": p.user_id, "actor_role": p.role.value}
    return {**who, "request_id": actor.request_id, "client_address": actor.client_address}


def record(conn: Connection, *, action: str, organization_id: uuid.UUID | None, candidate_id: uuid.UUID | None,
           subject_type: str, subject_id: uuid.UUID) -> None:
    """An audit row for what is not a write (an export, an erasure), in the caller's transaction, by the current
    request's principal."""
    conn.execute(_INSERT, [{"id": uuid.uuid4(), "occurred_at": utcnow(), "organization_id": organization_id,
                            "candidate_id": candidate_id, **who_and_where(), "action": action,
                            "subject_type": subject_type, "subject_id": subject_id, "changed_fields": []}])


def _action(ch: Change) -> str:
    """A new sign-in session is a sign-in (its actor: the user who signed in); every other row says its kind."""
    return "sign_in" if ch.kind == "created" and ch.subject.type == "auth_session" else _ACTIONS[ch.kind]


def _write_audit(conn: Connection, changes: list[Change]) -> None:
    who = who_and_where()
    now = utcnow()
    rows = [{"id": uuid.uuid4(), "occurred_at": now, "organization_id": ch.organization_id,
             "candidate_id": ch.candidate_id, **who, "action": _action(ch), "subject_type": ch.subject.type,
             "subject_id": ch.obj.id, "changed_fields": list(ch.changed)}
            for ch in changes]
    if rows:
        conn.execute(_INSERT, rows)


add_sink(_write_audit, order=90)


# One row per coalesced access; the candidate's organization comes from its row, and an access to a candidate
# deleted meanwhile leaves none. ON CONFLICT DO NOTHING on the coalesce key: another process wrote it already.
_COALESCED = text(
    "INSERT INTO audit_record (id, occurred_at, organization_id, candidate_id, actor_type, actor_id, actor_role, "
    "action, subject_type, subject_id, changed_fields, request_id, client_address, coalesce_key) "
    "SELECT :id, :occurred_at, candidate.organization_id, candidate.id, :actor_type, :actor_id, :actor_role, "
    ":action, :subject_type, :subject_id, :changed_fields, :request_id, :client_address, :coalesce_key "
    "FROM candidate WHERE candidate.id = :candidate_id ON CONFLICT DO NOTHING"
).bindparams(bindparam("id", type_=Uuid()), bindparam("occurred_at", type_=UtcDateTime()),
             bindparam("actor_id", type_=Uuid()), bindparam("subject_id", type_=Uuid()),
             bindparam("candidate_id", type_=Uuid()), bindparam("changed_fields", type_=JSON()))


def _row(a: Access) -> dict[str, object]:
    return {"id": uuid.uuid4(), "occurred_at": a.occurred_at, "actor_type": a.actor_type, "actor_id": a.actor_id,
            "actor_role": a.actor_role, "action": a.action, "subject_type": a.subject_type,
            "subject_id": a.subject_id, "changed_fields": [], "request_id": a.request_id,
            "client_address": a.client_address, "coalesce_key": a.key, "candidate_id": a.candidate_id}


async def flush_coalesced() -> int:
    """Write the accesses this process noted since the last flush (app.core.coalesced); on failure they wait for
    the next one. Returns how many were written or found written already."""
    pending = accesses.drain()
    if not pending:
        return 0
    try:
        async with db.session() as session:
            await session.execute(_COALESCED, [_row(a) for a in pending])
            await session.commit()
    except BaseException:
        accesses.restore(pending)
        raise
    return len(pending)


async def flush_coalesced_every(seconds: float, stop: asyncio.Event) -> None:
    """The process's flusher (started by the app's lifespan and by the worker): every `seconds`, and once more when
    `stop` is set, so a graceful shutdown loses nothing. `seconds` 0: only then."""
    dropped = 0
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds or None)
        try:
            await flush_coalesced()
        except Exception as exc:  # the database is down: the accesses wait for the next flush
            log.warning("audit flush failed; %d accesses wait for the next one (%s)", len(accesses),
                        type(exc).__name__)
        if accesses.dropped != dropped:
            log.error("audit: %d coalesced accesses dropped while the database was unreachable",
                      accesses.dropped - dropped)
            dropped = accesses.dropped
        if stop.is_set():
            return
