"""PostgreSQL statement and lock timeouts (DB_STATEMENT_TIMEOUT, DB_LOCK_TIMEOUT): every connection the service
opens, the sessions' and the fast read path's, carries them, and a statement they cut answers 503 with Retry-After
(never 500, never a request hanging on a lock or a runaway statement). A server that accepts connections but never
answers has them fail within DB_CONNECT_TIMEOUT, on both paths too."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from app.core.config import get_settings
from app.core.db import db
from tests.conftest import PG_URL, assert_problem, sync_engine

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only (SQLite has no statement or lock timeout; "
                                                   "its locks are tests/faults/test_sqlite_faults.py)")


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """`configure(NAME=value, ...)`: settings for the service's database connections (the engine is built afresh);
    the suite's own afterwards."""

    def apply(**env: str) -> None:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        db.configure(get_settings())

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
    db.configure(get_settings())


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.monotonic()
    resp = call()
    return resp, time.monotonic() - t0


def assert_unavailable(resp: Any, elapsed: float, bound: float) -> dict[str, Any]:
    body = assert_problem(resp, 503, "service-unavailable")
    assert int(resp.headers["Retry-After"]) >= 1
    assert elapsed <= bound, f"503 after {elapsed:.2f} s, bound {bound} s"
    return body


def test_both_connection_paths_carry_the_timeouts_and_pg_sleep_past_them_is_cut(configure) -> None:  # type: ignore[no-untyped-def]
    from app.core import reads
    from app.core.errors import database_unavailable

    configure(DB_STATEMENT_TIMEOUT="0.3", DB_LOCK_TIMEOUT="0.2", DB_IDLE_IN_TRANSACTION_TIMEOUT="0.4")
    names = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")

    async def scenario() -> list[BaseException]:
        async with db.session() as session:
            shown = [(await session.execute(text(f"SHOW {name}"))).scalar_one() for name in names]
        assert shown == ["300ms", "200ms", "400ms"]
        assert [(await reads.fetch_all(f"SHOW {name}", {}))[0][0] for name in names] == ["300ms", "200ms", "400ms"]
        errors: list[BaseException] = []
        async with db.session() as session:
            started = time.monotonic()
            try:
                await session.execute(text("SELECT pg_sleep(3)"))
            except Exception as exc:  # noqa: BLE001 (the error is what is asserted)
                errors.append(exc)
            assert time.monotonic() - started < 2
        started = time.monotonic()
        try:
            await reads.fetch_all("SELECT pg_sleep(3)", {})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        assert time.monotonic() - started < 2
        return errors

    errors = asyncio.run(scenario())
    assert len(errors) == 2, errors
    assert all("statement timeout" in str(exc) for exc in errors), errors
    assert all(database_unavailable(exc) for exc in errors), errors  # answered 503


@pytest.fixture
def row_lock(world) -> Iterator[Callable[[str], None]]:  # type: ignore[no-untyped-def]
    """`row_lock(sql)`: another connection runs `sql` in a transaction it keeps open until the test ends."""
    conns: list[Any] = []

    def hold(sql: str) -> None:
        conn = sync_engine().connect()
        conns.append(conn)
        conn.execute(text(sql))  # SQLAlchemy began a transaction: the lock is held until the rollback

    yield hold
    for conn in conns:
        conn.rollback()
        conn.close()


def test_a_write_waiting_on_a_row_lock_answers_503_at_the_lock_timeout(client, world, configure, row_lock) -> None:  # type: ignore[no-untyped-def]
    configure(DB_LOCK_TIMEOUT="0.3", DB_STATEMENT_TIMEOUT="10")
    cid = world.north.candidate_id
    url = f"/v1/candidates/{cid}"
    headers = {**world.north.advisor_headers, "If-Match": "*"}
    row_lock(f"SELECT id FROM candidate WHERE id = '{cid}' FOR UPDATE")

    resp, elapsed = timed(lambda: client.patch(url, json={"full_name": "Locked Out"}, headers=headers))
    body = assert_unavailable(resp, elapsed, 2.0)
    assert "lock" in body["detail"].lower(), body
    # reads take no row lock: they go on
    assert client.get(url, headers=world.north.advisor_headers).status_code == 200


def test_a_session_left_idle_in_a_transaction_is_ended_and_its_row_locks_freed(client, world, configure) -> None:  # type: ignore[no-untyped-def]
    """A connection of the service that stops inside a transaction holding a row lock (a process stopped, a bug)
    keeps it only DB_IDLE_IN_TRANSACTION_TIMEOUT: the server ends it, and the write waiting on the row goes
    through instead of answering 503 until the connection is closed."""
    configure(DB_LOCK_TIMEOUT="0.5", DB_IDLE_IN_TRANSACTION_TIMEOUT="0.5")
    cid = world.north.candidate_id
    url = f"/v1/candidates/{cid}"
    headers = {**world.north.advisor_headers, "If-Match": "*"}

    async def stalled() -> Any:
        """Lock the row in a session of the service and sit idle inside the transaction; past the timeout, while
        it still holds the connection, another request writes the row."""
        async with db.session() as session:
            await session.execute(text(f"SELECT id FROM candidate WHERE id = '{cid}' FOR UPDATE"))
            await asyncio.sleep(0.9)
            resp = await asyncio.to_thread(client.patch, url, json={"full_name": "Unlocked"}, headers=headers)
            with pytest.raises(Exception, match="idle-in-transaction|terminat|closed"):
                await session.execute(text("SELECT 1"))
        return resp

    resp = asyncio.run(stalled())
    assert resp.status_code == 200, resp.text
    configure(DB_IDLE_IN_TRANSACTION_TIMEOUT="0")  # 0: no limit

    async def shown() -> str:
        async with db.session() as session:
            return str((await session.execute(text("SHOW idle_in_transaction_session_timeout"))).scalar_one())
    assert asyncio.run(shown()) == "0"


def test_a_read_waiting_on_a_table_lock_answers_503_at_the_statement_timeout(client, world, configure,
                                                                               row_lock) -> None:  # type: ignore[no-untyped-def]
    """A statement that waits past DB_STATEMENT_TIMEOUT is cut even when the lock timeout is longer; on the fast
    read path (its own connections) as on the sessions' (a computed view)."""
    configure(DB_LOCK_TIMEOUT="10", DB_STATEMENT_TIMEOUT="0.3")
    cid = world.north.candidate_id
    headers = world.north.advisor_headers
    row_lock("LOCK TABLE candidate IN ACCESS EXCLUSIVE MODE")
    for path in (f"/v1/candidates/{cid}", "/v1/candidates?limit=5", f"/v1/candidates/{cid}/next-step"):
        resp, elapsed = timed(lambda p=path: client.get(p, headers=headers))  # type: ignore[misc]
        body = assert_unavailable(resp, elapsed, 2.0)
        assert "in time" in body["detail"], (path, body)


def test_a_statement_running_past_the_timeout_answers_503(client, world, configure) -> None:  # type: ignore[no-untyped-def]
    """pg_sleep in a trigger: the PATCH's UPDATE runs for 3 s, past DB_STATEMENT_TIMEOUT; nothing is written."""
    configure(DB_STATEMENT_TIMEOUT="0.3")
    cid = world.north.candidate_id
    url = f"/v1/candidates/{cid}"
    with sync_engine().begin() as conn:
        conn.execute(text("CREATE FUNCTION mr_test_slow() RETURNS trigger LANGUAGE plpgsql AS "
                          "$$ BEGIN PERFORM pg_sleep(3); RETURN NEW; END $$"))
        conn.execute(text("CREATE TRIGGER mr_test_slow BEFORE UPDATE ON candidate FOR EACH ROW "
                          "EXECUTE FUNCTION mr_test_slow()"))
    try:
        resp, elapsed = timed(lambda: client.patch(url, json={"full_name": "Too Slow"},
                                                   headers={**world.north.advisor_headers, "If-Match": "*"}))
        assert_unavailable(resp, elapsed, 2.0)
    finally:
        with sync_engine().begin() as conn:
            conn.execute(text("DROP TRIGGER mr_test_slow ON candidate"))
            conn.execute(text("DROP FUNCTION mr_test_slow()"))
    got = client.get(url, headers=world.north.advisor_headers)
    assert got.status_code == 200 and got.json()["full_name"] != "Too Slow"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel completes them) and never says a word: a hung server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in accepted:
            conn.close()
        sock.close()


def test_a_server_that_never_answers_fails_each_connection_within_the_connect_timeout(client, world, configure,
                                                                                      silent_server) -> None:  # type: ignore[no-untyped-def]
    """libpq's own connect timeout counts whole seconds and is at least 2; the service's is DB_CONNECT_TIMEOUT."""
    configure(DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{silent_server}/postgres",
              DB_CONNECT_TIMEOUT="0.5")
    cid = world.north.candidate_id
    headers = world.north.advisor_headers
    paths = {"fast read": ("GET", f"/v1/candidates/{cid}", {}),
             "session write": ("POST", "/v1/candidates", {"json": {"full_name": "Nobody Home"}}),
             "sign-in": ("POST", "/v1/auth/token", {"data": {"username": "advisor@north.test", "password": "x"}})}
    for name, (method, path, body) in paths.items():
        resp, elapsed = timed(lambda m=method, p=path, b=body: client.request(m, p, headers=headers, **b))  # type: ignore[misc]
        assert resp.status_code == 503, (name, resp.status_code, resp.text)
        assert_unavailable(resp, elapsed, 1.5)
