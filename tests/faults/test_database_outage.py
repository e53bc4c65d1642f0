"""A PostgreSQL outage, end to end: the service answers 503 (problem+json, Retry-After) to every kind of request
within DOWN_BOUND seconds while the server is down, /livez stays 200, it serves again within BACK_BOUND seconds of
the server's return, and no write it acknowledged is lost.

The test runs its own PostgreSQL server (initdb into a temporary directory) and the app under uvicorn, and talks
HTTP to it: the fast read path (a bearer read, a list), the ORM session path (a computed view, a PATCH, an X-API-Key
read, sign-in), the Idempotency-Key path and /readyz, while a writer creates candidates and readers read without a
pause from before the outage until after it (more of them than the pool has connections). It runs in the
PostgreSQL pass (TEST_DATABASE_URL set) and needs the server binaries (initdb, pg_ctl); without them it is skipped,
or fails under CI=true.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.helpers import candidate_body
from tests.conftest import PG_URL, ROOT, bearer, insert_rows

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL pass only (set TEST_DATABASE_URL)")

DOWN_BOUND = 2.0  # seconds to a 503 while the database is down (the bound)
BACK_BOUND = 2.0  # seconds from the server accepting connections again until every request succeeds
OUTAGE = 9.0  # seconds the server stays down
PASSWORD = "outage-password-0123"


def _bindir() -> str | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True):
        if os.path.exists(os.path.join(d, "pg_ctl")) and os.path.exists(os.path.join(d, "initdb")):
            return d
    found = shutil.which("pg_ctl")
    return os.path.dirname(found) if found and shutil.which("initdb") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A throwaway PostgreSQL cluster. As root it runs as the `postgres` user (PostgreSQL refuses to run as root)."""

    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.tmp = Path(tempfile.mkdtemp(prefix="mr-outage-"))
        self.data = self.tmp / "data"
        self.port = _free_port()
        self.user: str | None = None
        if os.geteuid() == 0:
            self.user = "postgres"
            shutil.chown(self.tmp, user=self.user)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        cmd = [os.path.join(self.bindir, tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{tool} failed:\n{done.stdout}\n{done.stderr}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.tmp / "server.log"), "-o", opts, "-w", "-t", "30",
                  "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def cleanup(self) -> None:
        try:
            self.stop()
        except AssertionError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PgServer]:
    bindir = _bindir()
    if bindir is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the PostgreSQL server binaries (initdb, pg_ctl) are missing and CI=true")
        pytest.skip("the PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    server = PgServer(bindir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()


@dataclass
class Seeded:
    url: str
    candidate_id: str
    advisor: dict[str, str]
    api_key: dict[str, str]


def _seed(url: str) -> Seeded:
    from app.core.db import sync_url
    from app.core.migrate import upgrade_head
    from app.core.security import hash_api_key, hash_password

    upgrade_head(url)
    from app.accounts.models import ApiKey, Organization, User
    from app.candidates.models import Candidate

    org, adv, cand = (uuid.uuid4() for _ in range(3))
    secret = f"mrk_test_outage_{uuid.uuid4().hex}"
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        insert_rows(conn, Organization, dict(id=org, name="outage"))
        insert_rows(conn, User, dict(id=adv, email="advisor@outage.test", full_name="Advisor",
                                     password_hash=hash_password(PASSWORD), role="advisor", organization_id=org))
        insert_rows(conn, Candidate, dict(id=cand, organization_id=org, full_name="Outage Candidate",
                                          target_specialties=["internal_medicine"], visa_need="j1",
                                          target_match_year=2027, graduation_on=date(2024, 6, 30)))
        insert_rows(conn, ApiKey, dict(organization_id=org, name="sync", prefix=secret[:10],
                                       key_hash=hash_api_key(secret)))
    engine.dispose()
    return Seeded(url, str(cand), bearer(adv, "advisor", str(org)), {"X-API-Key": secret})


@pytest.fixture(scope="module")
def service(pg_server: PgServer) -> Iterator[tuple[str, Seeded]]:
    seeded = _seed(pg_server.url)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": pg_server.url, "ENVIRONMENT": "production",
           "SMTP_HOST": "smtp.invalid", "WORKERS": "1",
           "SECRET_KEY": os.environ["SECRET_KEY"], "WORKER_IN_PROCESS": "false",
           "RATE_LIMIT_PER_PRINCIPAL": "100000/minute",  # the load and the rounds spend one advisor's budget
           "DB_POOL_SIZE": "2",  # fewer connections than requests in flight: some wait for one when the server stops
           "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p)}
    log = open(pg_server.tmp / "app.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port",
                             str(port), "--workers", "1", "--no-access-log"], env=env, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # start-up is not what is measured; a loaded machine is slow at it
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the app did not start"
            time.sleep(0.2)
        yield base, seeded
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()
        sys.stdout.write((pg_server.tmp / "app.log").read_text(errors="replace")[-4000:])


Spec = tuple[str, str, dict[str, str], dict[str, Any]]  # method, path, headers, httpx.request's body arguments


def _requests(s: Seeded) -> dict[str, Spec]:
    """Each kind of request: name -> spec."""
    cand = f"/v1/candidates/{s.candidate_id}"
    return {
        "bearer read (fast path)": ("GET", cand, s.advisor, {}),
        "list (fast path)": ("GET", "/v1/candidates?limit=10", s.advisor, {}),
        "computed view": ("GET", f"{cand}/next-step?as_of=2026-11-25", s.advisor, {}),
        "PATCH": ("PATCH", cand, {**s.advisor, "If-Match": "*"}, {"json": {"school_name": "School"}}),
        "POST with Idempotency-Key": ("POST", "/v1/candidates", s.advisor, {"json": candidate_body()}),
        "X-API-Key read": ("GET", cand, s.api_key, {}),
        "sign-in": ("POST", "/v1/auth/token", {}, {"data": {"username": "advisor@outage.test",
                                                            "password": PASSWORD}}),
        "readyz": ("GET", "/readyz", {}, {}),
    }


_http = httpx.Client(timeout=60)  # one client: making one per request costs the test more than the server


class Acknowledged:
    """The writes the service answered 2xx (what must survive the outage), and the PATCHes it refused since the last
    acknowledged one (a refused write may have been applied all the same, when the server died as it committed)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.created: list[str] = []
        self.school = "(seeded)"
        self.refused_since: list[str] = []

    def note(self, spec: Spec, resp: httpx.Response) -> None:
        method, path, _headers, body = spec
        with self.lock:
            if method == "POST" and path == "/v1/candidates" and resp.status_code == 201:
                self.created.append(resp.json()["id"])
            elif method == "PATCH":
                if resp.status_code < 300:
                    self.school, self.refused_since = body["json"]["school_name"], []
                else:
                    self.refused_since.append(body["json"]["school_name"])


acknowledged = Acknowledged()


def _send(base: str, spec: Spec) -> tuple[httpx.Response, float]:
    method, path, headers, body = spec
    if method == "POST" and path == "/v1/candidates":  # a new candidate each time, with a key of its own
        headers = {**headers, "Idempotency-Key": f"outage-{uuid.uuid4()}"}
        body = {"json": candidate_body()}
    elif method == "PATCH":
        body = {"json": {"school_name": f"School {uuid.uuid4().hex[:8]}"}}
    spec = (method, path, headers, body)
    t0 = time.monotonic()
    resp = _http.request(method, base + path, headers=headers, **body)
    elapsed = time.monotonic() - t0
    acknowledged.note(spec, resp)
    return resp, elapsed


def _round(base: str, seeded: Seeded) -> dict[str, tuple[httpx.Response, float]]:
    """Every kind of request at once (each timed on its own)."""
    specs = _requests(seeded)
    with ThreadPoolExecutor(len(specs)) as pool:
        futures = {name: pool.submit(_send, base, spec) for name, spec in specs.items()}
        return {name: f.result() for name, f in futures.items()}


class Writer(threading.Thread):
    """Creates candidates one after another, without a pause, whatever the answers: writes in flight when the
    server stops and when it returns."""

    def __init__(self, base: str, seeded: Seeded) -> None:
        super().__init__(daemon=True)
        self.spec = _requests(seeded)["POST with Idempotency-Key"]
        self.base = base
        self.stop = threading.Event()
        self.statuses: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.statuses.append(_send(self.base, self.spec)[0].status_code)
            except httpx.HTTPError:
                self.statuses.append(0)
            self.stop.wait(0.02)


class Readers:
    """Fast-path reads from several threads at once, without a pause, whatever the answers: reads waiting for a
    pooled connection when the server stops (the service runs with DB_POOL_SIZE=2)."""

    def __init__(self, base: str, seeded: Seeded, threads: int = 6) -> None:
        self.spec = _requests(seeded)["bearer read (fast path)"]
        self.base = base
        self.stop = threading.Event()
        self.answers: list[tuple[int, float]] = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                resp, elapsed = _send(self.base, self.spec)
                self.answers.append((resp.status_code, elapsed))
            except httpx.HTTPError:
                self.answers.append((0, 0.0))
            self.stop.wait(0.01)

    def __enter__(self) -> Readers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)


def test_outage_answers_503_quickly_and_recovery_is_prompt(pg_server: PgServer, service) -> None:  # type: ignore[no-untyped-def]
    base, seeded = service
    with Readers(base, seeded) as readers:
        _outage(pg_server, base, seeded)
    statuses = {status for status, _ in readers.answers}
    assert statuses == {200, 503}, statuses
    slowest = max(elapsed for status, elapsed in readers.answers if status == 503)
    assert slowest <= DOWN_BOUND, f"a read under load answered 503 after {slowest:.2f} s (bound {DOWN_BOUND} s)"
    print(f"load: {len(readers.answers)} reads, slowest 503 after {slowest * 1000:.0f} ms")


def _outage(pg_server: PgServer, base: str, seeded: Seeded) -> None:
    t_start = time.monotonic()
    writer = Writer(base, seeded)
    writer.start()
    for _ in range(3):  # warm the pools: connections that the outage will leave stale
        for name, (resp, _elapsed) in _round(base, seeded).items():
            assert resp.status_code < 300, (name, resp.status_code, resp.text)

    pg_server.stop()
    down_since = time.monotonic()
    rounds = 0
    latencies: list[float] = []
    # Long enough for a pool's reconnection attempts to back off (psycopg_pool's default: 1, 2, 4, 8 s apart), so
    # that a pool that backs off is caught still waiting when the server returns.
    while rounds < 2 or time.monotonic() - down_since < OUTAGE:
        results = _round(base, seeded)
        print(f"round {rounds}: {', '.join(f'{k} {r.status_code} {e:.2f} s' for k, (r, e) in results.items())}")
        for name, (resp, elapsed) in results.items():
            assert resp.status_code == 503, (name, resp.status_code, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json"), name
            assert resp.json()["type"] == "/problems/service-unavailable", name
            assert int(resp.headers["Retry-After"]) >= 1, name
            assert elapsed <= DOWN_BOUND, f"{name}: 503 after {elapsed:.2f} s (bound {DOWN_BOUND} s)"
            latencies.append(elapsed)
        live = _http.get(f"{base}/livez")
        assert live.status_code == 200, live.text  # the process is alive: nothing restarts it
        rounds += 1

    pg_server.start()
    back_at = time.monotonic()
    pending = dict(_requests(seeded))
    recovered: dict[str, float] = {}
    last: dict[str, str] = {}
    while pending and time.monotonic() - back_at <= BACK_BOUND:
        for name, spec in list(pending.items()):
            resp, _elapsed = _send(base, spec)
            if resp.status_code < 300:
                recovered[name] = time.monotonic() - back_at
                del pending[name]
            else:
                last[name] = f"{resp.status_code} {resp.text[:200]}"
        time.sleep(0.05)
    assert not pending, f"still failing {BACK_BOUND} s after the database came back: {last}"
    # and they keep succeeding
    for name, (resp, _elapsed) in _round(base, seeded).items():
        assert resp.status_code < 300, (name, resp.status_code, resp.text)
    writer.stop.set()
    writer.join(timeout=30)

    # No acknowledged write is lost: every candidate answered 201 is there, and the last acknowledged PATCH holds
    # (or one refused after it, which the server may have committed as it went down).
    assert 503 in writer.statuses and writer.statuses[-1] == 201, sorted(set(writer.statuses))
    assert set(writer.statuses) <= {201, 503}, sorted(set(writer.statuses))
    from app.core.db import sync_url

    engine = create_engine(sync_url(seeded.url))
    with engine.connect() as conn:
        stored = {str(r[0]) for r in conn.execute(text("SELECT id FROM candidate"))}
        school = conn.execute(text("SELECT school_name FROM candidate WHERE id = :id"),
                              {"id": seeded.candidate_id}).scalar_one()
    engine.dispose()
    lost = [cid for cid in acknowledged.created if cid not in stored]
    assert not lost, f"{len(lost)} of {len(acknowledged.created)} acknowledged creations lost"
    assert school in [acknowledged.school, *acknowledged.refused_since], (school, acknowledged.school)

    print(f"outage test body took {time.monotonic() - t_start:.1f} s")
    print(f"503 latency over {len(latencies)} answers: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms (bound {DOWN_BOUND:.1f} s)")
    print(f"recovered after: {', '.join(f'{k} {v:.2f} s' for k, v in recovered.items())}")
    print(f"writer: {writer.statuses.count(201)} created, {writer.statuses.count(503)} refused; "
          f"{len(acknowledged.created)} acknowledged creations all present")


def test_restart_leaves_no_stale_connection_in_use(pg_server: PgServer, service) -> None:  # type: ignore[no-untyped-def]
    """A restart with no request in between leaves every pooled connection dead; none is handed to a request."""
    base, seeded = service
    for _ in range(3):  # several connections in each pool
        for name, (resp, _elapsed) in _round(base, seeded).items():
            assert resp.status_code < 300, (name, resp.status_code, resp.text)
    pg_server.stop()
    pg_server.start()
    for _ in range(2):
        for name, (resp, _elapsed) in _round(base, seeded).items():
            assert resp.status_code < 300, (name, resp.status_code, resp.text)


def test_a_read_waiting_for_a_pooled_connection_stops_waiting_when_connecting_fails(pg_server: PgServer) -> None:
    """The pool's one connection is lent out when the server stops; a read waiting for it would wait DB_POOL_TIMEOUT
    (no connection will come): it answers as soon as the pool's attempt to replace the broken one is refused."""
    import asyncio

    import psycopg

    from app.core.config import get_settings
    from app.core.db import Database
    from app.core.errors import database_unavailable

    async def scenario() -> tuple[BaseException | None, float]:
        d = Database()
        d.configure(get_settings().model_copy(update={
            "database_url": pg_server.url, "environment": "development", "db_pool_size": 1, "db_pool_timeout": 4.0}))
        await d.open_read_pool()
        outcome: list[BaseException | None] = []

        async def waiting_read() -> None:
            try:
                async with d.pg_read() as conn:
                    await conn.execute("SELECT 1")
                outcome.append(None)
            except psycopg.Error as exc:
                outcome.append(exc)

        try:
            async with d.pg_read() as held:
                waiter = asyncio.create_task(waiting_read())
                await asyncio.sleep(0.2)  # queued for the pool's only connection
                await asyncio.to_thread(pg_server.stop)
                with pytest.raises(psycopg.OperationalError):
                    await held.execute("SELECT 1")  # found broken: the pool will replace it, and fail to
            released = time.monotonic()
            await waiter
            return outcome[0], time.monotonic() - released
        finally:
            await d.dispose()
            await asyncio.to_thread(pg_server.start)

    error, took = asyncio.run(scenario())
    assert error is not None and database_unavailable(error), error
    assert took < 1.0, f"the waiting read answered {took:.2f} s after the server went away (pool timeout 4 s)"
