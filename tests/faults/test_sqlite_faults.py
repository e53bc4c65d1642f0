"""SQLite faults answer 503 with Retry-After, never 500: a database locked by another process (the ORM session path
and the Idempotency-Key path, which opens sessions of its own outside the app's handlers), and a database file that
cannot be opened (the fast read path, which uses the sqlite3 module directly)."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from app.core.config import get_settings
from app.core.db import db
from tests.api.helpers import candidate_body
from tests.conftest import PG_URL, SQLITE_PATH, assert_problem

pytestmark = pytest.mark.skipif(bool(PG_URL), reason="SQLite only (the PostgreSQL outage has tests/faults/"
                                                      "test_database_outage.py)")


def assert_unavailable(resp, elapsed: float, bound: float) -> None:  # type: ignore[no-untyped-def]
    assert_problem(resp, 503, "service-unavailable")
    assert int(resp.headers["Retry-After"]) >= 1
    assert elapsed <= bound, f"503 after {elapsed:.2f} s, bound {bound} s"


def timed(call):  # type: ignore[no-untyped-def]
    t0 = time.monotonic()
    resp = call()
    return resp, time.monotonic() - t0


@pytest.fixture
def write_lock() -> Iterator[sqlite3.Connection]:
    """Another process's write transaction, holding the database's write lock."""
    holder = sqlite3.connect(SQLITE_PATH, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield holder
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_locked_database_answers_503_on_writes_then_recovers(client, world, write_lock) -> None:  # type: ignore[no-untyped-def]
    bound = get_settings().db_lock_timeout + 1.0
    url = f"/v1/candidates/{world.north.candidate_id}"
    headers = world.north.advisor_headers

    resp, elapsed = timed(lambda: client.patch(url, json={"full_name": "Locked Out"},
                                               headers={**headers, "If-Match": '"v1"'}))
    assert_unavailable(resp, elapsed, bound)

    key = {"Idempotency-Key": f"locked-{uuid.uuid4()}"}
    resp, elapsed = timed(lambda: client.post("/v1/candidates", json=candidate_body(), headers={**headers, **key}))
    assert_unavailable(resp, elapsed, bound)

    # Reads need no lock in WAL mode: they keep working while a writer holds it.
    assert client.get(url, headers=headers).status_code == 200

    write_lock.execute("ROLLBACK")
    write_lock.execute("BEGIN")  # for the fixture's ROLLBACK
    assert client.patch(url, json={"full_name": "Back In"}, headers={**headers, "If-Match": '"v1"'}).status_code == 200
    # The same key again: the failed attempt left nothing behind, so the request now runs.
    assert client.post("/v1/candidates", json=candidate_body(), headers={**headers, **key}).status_code == 201


def test_unopenable_database_file_answers_503_on_the_fast_read_path(client, world, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url = f"/v1/candidates/{world.north.candidate_id}"
    headers = world.north.advisor_headers
    assert client.get(url, headers=headers).status_code == 200

    # As if the file went away or became unreadable: each thread's read connection is opened afresh and fails.
    monkeypatch.setattr(db, "_sqlite_path", str(tmp_path / "gone" / "matchready.db"))
    monkeypatch.setattr(db, "_readers", threading.local())
    for path in (url, "/v1/candidates?limit=5"):
        resp, elapsed = timed(lambda p=path: client.get(p, headers=headers))  # type: ignore[misc]
        assert_unavailable(resp, elapsed, 1.0)

    monkeypatch.undo()
    assert client.get(url, headers=headers).status_code == 200


def test_sqlite_errors_are_told_apart() -> None:
    """Unavailable (503): locked, busy, cannot open, disk I/O, not a database. A faulty statement stays a 500."""
    from app.core.errors import database_unavailable

    def error_of(call) -> sqlite3.Error:  # type: ignore[no-untyped-def]
        try:
            call()
        except sqlite3.Error as exc:
            return exc
        raise AssertionError("no error")

    conn = sqlite3.connect(":memory:")
    assert database_unavailable(error_of(lambda: sqlite3.connect("/nonexistent-dir/x.db")))
    assert not database_unavailable(error_of(lambda: conn.execute("SELECT * FROM no_such_table")))
    assert not database_unavailable(error_of(lambda: conn.execute("SELEC 1")))
