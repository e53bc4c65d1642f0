"""The audit trail is append-only in the database (migration b2e4f6a80002): a direct DELETE is refused, and so is
an UPDATE, except erasure clearing a row's client address. (That no route writes to it: tests/api/test_audit.py.)"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, insert, inspect, select, update
from sqlalchemy.exc import IntegrityError

from app.audit.models import AuditRecord
from app.core.models import table_of
from tests.conftest import count_rows, sync_engine

T = table_of(AuditRecord)
WHEN = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def _row(n: int) -> dict[str, Any]:
    """A row whose every column differs from the other `n`'s."""
    return {"id": uuid.uuid4(), "occurred_at": WHEN + timedelta(minutes=n), "organization_id": uuid.uuid4(),
            "candidate_id": uuid.uuid4(), "actor_type": ("user", "api_key")[n], "actor_id": uuid.uuid4(),
            "actor_role": ("advisor", "admin")[n], "action": ("read", "update")[n],
            "subject_type": ("candidate", "milestone")[n], "subject_id": uuid.uuid4(),
            "changed_fields": [[], ["notes"]][n], "request_id": f"req-{n}", "client_address": f"10.0.0.{n + 1}",
            "coalesce_key": f"key-{n}"}


@pytest.fixture
def rows(clean_db: None) -> tuple[dict[str, Any], dict[str, Any]]:
    a, b = _row(0), _row(1)
    with sync_engine().begin() as conn:
        conn.execute(insert(T), [a, b])
    return a, b


def _stored(row_id: uuid.UUID) -> dict[str, Any]:
    with sync_engine().connect() as conn:
        return dict(conn.execute(select(T).where(T.c.id == row_id)).mappings().one())


def _refused(stmt: Any) -> None:
    with pytest.raises(IntegrityError, match="append-only"), sync_engine().begin() as conn:
        conn.execute(stmt)


def test_the_tests_know_every_column():
    """A new column must be frozen by the SQLite trigger too (migrations/versions/20261203_audit_append_only.py)."""
    with sync_engine().connect() as conn:
        assert {c["name"] for c in inspect(conn).get_columns("audit_record")} == set(_row(0))


@pytest.mark.parametrize("clearing", [False, True], ids=["alone", "with the client address cleared"])
@pytest.mark.parametrize("column", sorted(set(_row(0)) - {"client_address"}))
def test_no_column_of_a_row_can_be_changed(rows, column, clearing):
    a, b = rows
    _refused(update(T).where(T.c.id == a["id"]).values({column: b[column], **({"client_address": None} if clearing
                                                                               else {})}))
    assert _stored(a["id"]) == a


def test_the_client_address_can_be_cleared_but_not_changed(rows):
    a, _ = rows
    _refused(update(T).where(T.c.id == a["id"]).values(client_address="10.9.9.9"))
    assert _stored(a["id"]) == a


def test_erasure_may_clear_the_client_address(rows):
    """What erasure does to the erased candidate's rows (app.privacy.erasure): the one change allowed."""
    a, b = rows
    with sync_engine().begin() as conn:
        conn.execute(update(T).where(T.c.candidate_id == a["candidate_id"]).values(client_address=None))
    assert _stored(a["id"]) == {**a, "client_address": None}
    assert _stored(b["id"]) == b
    with sync_engine().begin() as conn:  # and again: nothing left to clear, still allowed
        conn.execute(update(T).where(T.c.id == a["id"]).values(client_address=None))


@pytest.mark.parametrize("where", ["one row", "every row"])
def test_no_row_can_be_deleted(rows, where):
    a, _ = rows
    stmt = delete(T).where(T.c.id == a["id"]) if where == "one row" else delete(T)
    _refused(stmt)
    assert count_rows("audit_record") == 2


def test_an_upsert_cannot_overwrite_a_coalesced_row(rows):
    """Coalesced rows are inserted with ON CONFLICT DO NOTHING (app.audit.writer); DO UPDATE would be refused."""
    from sqlalchemy.dialects import postgresql, sqlite

    a, _ = rows
    again = {**_row(0), "coalesce_key": a["coalesce_key"]}
    with sync_engine().connect() as conn:
        dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    nothing = dialect_insert(T).values(again).on_conflict_do_nothing(index_elements=["coalesce_key"])
    with sync_engine().begin() as conn:
        conn.execute(nothing)
    assert count_rows("audit_record") == 2
    overwrite = dialect_insert(T).values(again).on_conflict_do_update(index_elements=["coalesce_key"],
                                                                      set_={"occurred_at": again["occurred_at"]})
    _refused(overwrite)
    assert _stored(a["id"])["occurred_at"] == a["occurred_at"]
