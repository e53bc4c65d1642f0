"""The audit trail's writer: a sink of the write hook that records, in the transaction of each change, who made it
(the request's principal; `system` for the worker), what and which fields — names only, never values."""

from __future__ import annotations

import uuid

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from app.audit.models import AuditRecord
from app.core.changes import Change, add_sink
from app.core.db import utcnow
from app.core.security import current_actor

_INSERT = insert(AuditRecord.__table__)  # type: ignore[attr-defined]
_ACTIONS = {"created": "create", "updated": "update", "deleted": "delete"}


def who_and_where() -> dict[str, object]:
    """The audit columns that say who acted, from where, in which request (the current request's, or the
    worker's: `system`)."""
    actor = current_actor.get()
    p = actor.principal if actor is not None else None
    if p is None:
        who: dict[str, object] = {"actor_type": "system", "actor_id": None, "actor_role": None}
    elif p.api_key_id is not None:
        who = {"actor_type": "api_key", "actor_id": p.api_key_id, "actor_role": p.role.value}
    else:
        who = {"actor_type": "user", "actor_id": p.user_id, "actor_role": p.role.value}
    return {**who, "request_id": actor.request_id if actor else None,
            "client_address": actor.client_address if actor else None}


def record(conn: Connection, *, action: str, organization_id: uuid.UUID | None, candidate_id: uuid.UUID | None,
           subject_type: str, subject_id: uuid.UUID) -> None:
    """An audit row for what is not a write (an export, a disclosure), in the caller's transaction."""
    conn.execute(_INSERT, [{"id": uuid.uuid4(), "occurred_at": utcnow(), "organization_id": organization_id,
                            "candidate_id": candidate_id, **who_and_where(), "action": action,
                            "subject_type": subject_type, "subject_id": subject_id, "changed_fields": []}])


def _write_audit(conn: Connection, changes: list[Change]) -> None:
    who = who_and_where()
    now = utcnow()
    rows = [{"id": uuid.uuid4(), "occurred_at": now, "organization_id": ch.organization_id,
             "candidate_id": ch.candidate_id, **who, "action": _ACTIONS[ch.kind], "subject_type": ch.subject.type,
             "subject_id": ch.obj.id, "changed_fields": list(ch.changed)}
            for ch in changes]
    if rows:
        conn.execute(_INSERT, rows)


add_sink(_write_audit, order=90)
