"""A PostgreSQL outage, end to end: the service answers 503 (problem+json, Retry-After) to every kind of request
within DOWN_BOUND seconds while the server is down, and serves again within BACK_BOUND seconds of its return.

The test runs its own PostgreSQL server (initdb into a temporary directory) and the app under uvicorn, and talks
HTTP to it: the fast read path (a bearer read, a list), the ORM session path (a computed view, a PATCH, an X-API-Key
read), the Idempotency-Key path and /readyz. It runs in the PostgreSQL pass (TEST_DATABASE_URL set) and needs the
server binaries (initdb, pg_ctl); without them it is skipped, or fails under CI=true.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.helpers import candidate_body
from tests.conftest import PG_URL, ROOT, bearer

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL pass only (set TEST_DATABASE_URL)")

DOWN_BOUND = 3.0  # seconds to a 503 while the database is down (DB_POOL_TIMEOUT 2 s, DB_CONNECT_TIMEOUT 2 s)
BACK_BOUND = 2.0  # seconds from the server accepting connections again until every request succeeds
OUTAGE = 9.0  # seconds the server stays down


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
    candidate_id: str
    advisor: dict[str, str]
    api_key: dict[str, str]


def _seed(url: str) -> Seeded:
    from app.core.db import sync_url
    from app.core.migrate import upgrade_head
    from app.core.security import hash_api_key

    upgrade_head(url)
    org, adv, cand, key_id = (str(uuid.uuid4()) for _ in range(4))
    secret = f"mrk_test_outage_{uuid.uuid4().hex}"
    now = "2026-01-01 00:00:00+00"
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO organization (id, created_at, updated_at, version, name) "
                          "VALUES (:id, :now, :now, 1, 'outage')"), {"id": org, "now": now})
        conn.execute(text("INSERT INTO user_account (id, created_at, updated_at, version, email, full_name, "
                          "password_hash, role, organization_id, is_active) VALUES (:id, :now, :now, 1, "
                          "'advisor@outage.test', 'Advisor', 'x', 'advisor', :org, true)"),
                     {"id": adv, "now": now, "org": org})
        conn.execute(text("INSERT INTO candidate (id, created_at, updated_at, version, organization_id, full_name, "
                          "us_status, target_specialties, visa_need, target_match_year, graduation_on) VALUES "
                          "(:id, :now, :now, 1, :org, 'Outage Candidate', 'none', '[\"internal_medicine\"]', 'j1', "
                          "2027, '2024-06-30')"), {"id": cand, "now": now, "org": org})
        conn.execute(text("INSERT INTO api_key (id, created_at, updated_at, version, organization_id, name, prefix, "
                          "key_hash) VALUES (:id, :now, :now, 1, :org, 'sync', :prefix, :hash)"),
                     {"id": key_id, "now": now, "org": org, "prefix": secret[:10], "hash": hash_api_key(secret)})
    engine.dispose()
    return Seeded(cand, bearer(uuid.UUID(adv), "advisor", org), {"X-API-Key": secret})


@pytest.fixture(scope="module")
def service(pg_server: PgServer) -> Iterator[tuple[str, Seeded]]:
    seeded = _seed(pg_server.url)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": pg_server.url, "ENVIRONMENT": "production",
           "SMTP_HOST": "smtp.invalid", "WORKERS": "1",
           "SECRET_KEY": os.environ["SECRET_KEY"], "WORKER_IN_PROCESS": "false",
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


def _requests(s: Seeded) -> dict[str, tuple[str, str, dict[str, str], Any]]:
    """Each kind of request: name -> (method, path, headers, JSON body)."""
    cand = f"/v1/candidates/{s.candidate_id}"
    return {
        "bearer read (fast path)": ("GET", cand, s.advisor, None),
        "list (fast path)": ("GET", "/v1/candidates?limit=10", s.advisor, None),
        "computed view": ("GET", f"{cand}/next-step?as_of=2026-11-25", s.advisor, None),
        "PATCH": ("PATCH", cand, {**s.advisor, "If-Match": "*"}, {"school_name": f"School {uuid.uuid4().hex[:6]}"}),
        "POST with Idempotency-Key": ("POST", "/v1/candidates", s.advisor, candidate_body()),
        "X-API-Key read": ("GET", cand, s.api_key, None),
        "readyz": ("GET", "/readyz", {}, None),
    }


_http = httpx.Client(timeout=60)  # one client: making one per request costs the test more than the server


def _send(base: str, spec: tuple[str, str, dict[str, str], Any]) -> tuple[httpx.Response, float]:
    method, path, headers, body = spec
    if method == "POST":
        headers = {**headers, "Idempotency-Key": f"outage-{uuid.uuid4()}"}
    t0 = time.monotonic()
    resp = _http.request(method, base + path, headers=headers, json=body)
    return resp, time.monotonic() - t0


def _round(base: str, seeded: Seeded) -> dict[str, tuple[httpx.Response, float]]:
    """Every kind of request at once (each timed on its own)."""
    specs = _requests(seeded)
    with ThreadPoolExecutor(len(specs)) as pool:
        futures = {name: pool.submit(_send, base, spec) for name, spec in specs.items()}
        return {name: f.result() for name, f in futures.items()}


def test_outage_answers_503_quickly_and_recovery_is_prompt(pg_server: PgServer, service) -> None:  # type: ignore[no-untyped-def]
    base, seeded = service
    t_start = time.monotonic()
    for _ in range(3):  # warm the pools: connections that the outage will leave stale
        for name, (resp, _elapsed) in _round(base, seeded).items():
            assert resp.status_code < 300, (name, resp.status_code, resp.text)

    pg_server.stop()
    down_since = time.monotonic()
    rounds = 0
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
    print(f"outage test body took {time.monotonic() - t_start:.1f} s")
    print(f"recovered after: {', '.join(f'{k} {v:.2f} s' for k, v in recovered.items())}")


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
