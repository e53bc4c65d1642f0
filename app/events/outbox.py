"""The change feed's writer: a sink of the write hook (app.core.changes) that turns each change of a candidate's
record into an event row, in the transaction of the change. No change without its event, no event without its
change: both commit or neither does."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from app.core.changes import Change, add_sink
from app.core.db import utcnow
from app.core.models import table_of
from app.events.models import Event

_INSERT = insert(table_of(Event))


def event_data(ch: Change) -> dict[str, Any]:
    """`object` is the subject's public representation after the change; `changed_fields` names (never values)
    what an update changed. A deleted personal record keeps only its ids."""
    if ch.kind == "deleted" and ch.subject.personal:
        return {"object": {k: ch.data.get(k) for k in ("id", "external_id", "organization_id")}}
    data: dict[str, Any] = {"object": ch.data}
    if ch.kind == "updated":
        data["changed_fields"] = list(ch.changed)
    return data


def _write_events(conn: Connection, changes: list[Change]) -> None:
    now = utcnow()
    rows = [
        {"id": uuid.uuid4(), "type": f"{ch.subject.type}.{ch.kind}", "occurred_at": now,
         "organization_id": ch.organization_id, "candidate_id": ch.candidate_id,
         "subject_type": ch.subject.type, "subject_id": ch.obj.id,
         "subject_external_id": getattr(ch.obj, "external_id", None),
         "subject_version": ch.obj.version, "data": event_data(ch)}
        for ch in changes if ch.subject.emits
    ]
    if rows:
        conn.execute(_INSERT, rows)


add_sink(_write_events, order=50)
