"""The write hook: the one place that sees every write to the records of the service.

Every ORM flush of every session passes through two SQLAlchemy session events installed here:

* `before_flush` notes each created, changed (with the names of the changed fields) and deleted row, and stamps
  `updated_at` on the changed ones (their `version` is bumped by the mapper, see app.core.models);
* `after_flush` hands those changes, once the SQL has run, to the registered *sinks*, which write what follows from
  them through the same connection, in the same transaction: the candidate's `facts_version` bump that keeps
  computed answers fresh, the change feed's event rows (the transactional outbox), and audit rows.

The registries hold what `core` cannot know: domains describe their tables (`register_subject`) and add sinks
(`add_sink`), so this module imports no domain. An ORM bulk `INSERT` through a session (an import's rows) is
seen too: its rows go to the sinks as created rows. A bulk `UPDATE` or `DELETE` on a described table is refused:
it would bypass the hook (there is none in the service; a test holds it so).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Literal

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from app.core.db import utcnow

Kind = Literal["created", "updated", "deleted"]

_PENDING = "matchready.changes"


@dataclass(frozen=True)
class Subject:
    """How the hook reads a table's rows.

    `type` names the subject in events (`milestone` -> `milestone.created`); `render` gives its public
    representation; `candidate_of` the candidate whose record the row belongs to (None: not a candidate's),
    `organization_of` the organization when the row itself says (e.g. a candidate); `facts` says whether a change
    is a fact of the candidate's computed views; `emits` whether it goes to the change feed; `personal` that its
    representation is personal data (a deleted one leaves only its ids behind)."""

    table: str
    type: str
    render: Callable[[Any], dict[str, Any]]
    candidate_of: Callable[[Connection, Any], uuid.UUID | None]
    organization_of: Callable[[Any], uuid.UUID | None] = lambda _obj: None
    facts: bool = False
    emits: bool = True
    personal: bool = False


@dataclass
class Change:
    kind: Kind
    subject: Subject
    obj: Any
    changed: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    candidate_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None


Sink = Callable[[Connection, list[Change]], None]

_subjects: dict[str, Subject] = {}
_sinks: list[tuple[int, Sink]] = []
OrganizationResolver = Callable[[Connection, set[uuid.UUID]], dict[uuid.UUID, uuid.UUID]]
_org_resolver: list[OrganizationResolver] = []


def register_subject(subject: Subject) -> None:
    _subjects[subject.table] = subject


def add_sink(sink: Sink, order: int = 100) -> None:
    """Sinks run in `order` (lower first) after every flush that changed a described table."""
    if all(s is not sink for _, s in _sinks):
        _sinks.append((order, sink))
        _sinks.sort(key=lambda pair: pair[0])


def set_organization_resolver(resolver: OrganizationResolver) -> None:
    """The candidates domain says which organization each candidate belongs to (rows resolved in bulk)."""
    _org_resolver[:] = [resolver]


def subjects() -> dict[str, Subject]:
    return dict(_subjects)


def _changed_fields(obj: Any) -> tuple[str, ...]:
    state = inspect(obj)
    return tuple(sorted(a.key for a in state.attrs if a.key not in ("updated_at", "version")
                        and a.history.has_changes()))


def _before_flush(session: Session, _ctx: UOWTransaction, _instances: Iterable[Any] | None) -> None:
    pending: list[Change] = session.info.setdefault(_PENDING, [])
    for obj in session.new:
        subject = _subjects.get(getattr(obj, "__tablename__", ""))
        if subject is not None:
            pending.append(Change("created", subject, obj))
    for obj in session.dirty:
        subject = _subjects.get(getattr(obj, "__tablename__", ""))
        if subject is None or not session.is_modified(obj, include_collections=False):
            continue
        changed = _changed_fields(obj)
        if not changed:
            continue
        obj.updated_at = utcnow()
        pending.append(Change("updated", subject, obj, changed))
    for obj in session.deleted:
        subject = _subjects.get(getattr(obj, "__tablename__", ""))
        if subject is not None:  # rendered now: after the flush the row is gone
            pending.append(Change("deleted", subject, obj, data=subject.render(obj)))


def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    changes: list[Change] = session.info.pop(_PENDING, [])
    for ch in changes:
        if ch.kind != "deleted":
            ch.data = ch.subject.render(ch.obj)
    _hand_over(session.connection(), changes)


def _hand_over(conn: Connection, changes: list[Change]) -> None:
    """Resolve whose record each change is, and give the changes to the sinks, once the SQL has run."""
    if not changes:
        return
    unresolved: set[uuid.UUID] = set()
    for ch in changes:
        ch.candidate_id = ch.subject.candidate_of(conn, ch.obj)
        ch.organization_id = ch.subject.organization_of(ch.obj)
        if ch.organization_id is None and ch.candidate_id is not None:
            unresolved.add(ch.candidate_id)
    if unresolved and _org_resolver:
        orgs = _org_resolver[0](conn, unresolved)
        for ch in changes:
            if ch.organization_id is None and ch.candidate_id is not None:
                ch.organization_id = orgs.get(ch.candidate_id)
    for _, sink in _sinks:
        sink(conn, changes)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


# The one bulk write the hook lets by: a retention purge of rows past their expiry (`execution_options(
# retention_purge=True)` on a DELETE), which changes no one's record and so makes no event and no audit row; the
# README's retention list says what goes when.
RETENTION_PURGE = {"retention_purge": True}


def _bulk_writes(state: ORMExecuteState) -> Any:
    """Statements a session executes on a described table without the unit of work: an ORM bulk INSERT
    (`session.execute(insert(Model), rows)`, each row made by `app.core.models.new_row`) is run here and its rows
    handed to the sinks as created, like a flush's; a bulk UPDATE or DELETE is refused."""
    if not (state.is_insert or state.is_update or state.is_delete):
        return None  # a read
    table = getattr(getattr(state.statement, "table", None), "name", None)
    subject = _subjects.get(table) if table else None
    if subject is None:
        return None
    if state.is_insert:
        rows = state.parameters
        if isinstance(rows, dict):
            rows = [rows]
        stmt = state.statement
        if not rows or not isinstance(rows, list) or getattr(stmt, "_values", None) \
                or getattr(stmt, "_multi_values", None) or getattr(stmt, "select", None) is not None:
            raise RuntimeError(f"an INSERT on {table} must pass its rows as parameters (one dict each, from "
                               "app.core.models.new_row), so that the write hook sees them")
        result = state.invoke_statement()
        changes = []
        for row in rows:
            obj = SimpleNamespace(**row)
            changes.append(Change("created", subject, obj, data=subject.render(obj)))
        _hand_over(state.session.connection(), changes)
        return result
    if state.is_delete and state.execution_options.get("retention_purge"):
        return None
    raise RuntimeError(f"bulk {'UPDATE' if state.is_update else 'DELETE'} on {table} bypasses the write hook; "
                       "change the rows through the ORM (load, set attributes or session.delete, flush)")


def install() -> None:
    """Idempotent: listens on every Session (AsyncSession runs a Session underneath)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_soft_rollback", lambda s, _t: _after_rollback(s))
        event.listen(Session, "do_orm_execute", _bulk_writes)


install()
