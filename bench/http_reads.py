"""Read throughput of the real service against a bare FastAPI endpoint, measured in the same run.

    python bench/http_reads.py [--duration 8] [--repeats 3] [--connections 32] [--database-url URL]

Starts uvicorn (1 worker, then 2) on a scratch database seeded with 1 organization and 200 candidates, and drives
it with `wrk` (install it with your package manager, e.g. `apt-get install wrk`). Prints requests/s and p99 for
GET /v1/candidates/{id} (bearer token), a 50-item candidate page, GET /v1/candidates/{id}/readiness and the bare
endpoint, as medians of the repeats, and the ratios to the bare endpoint. Targets with 1 worker: single read >= 25 %,
50-item page >= 10 %, readiness >= 15 % of the bare endpoint.

Readiness is measured twice: as served (repeated requests for an unchanged record are answered from the worker's
cache of computed answers) and by a second server started with COMPUTED_CACHE_ENTRIES=0, which computes every
request afresh: the cost of the first request after each change to the record.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-" + "x" * 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, path: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


def seed(database_url: str, candidates: int) -> tuple[str, str]:
    """Migrate a scratch database and insert the bench data; returns (candidate id, bearer token).

    The first candidate has a realistic record for the readiness request: exams, OET, a Pathway, USCE and a list
    of 10 programs."""
    os.environ.update(DATABASE_URL=database_url, SECRET_KEY=SECRET, ENVIRONMENT="production",
                      SMTP_HOST="smtp.invalid")  # no mail is sent
    from app.core.config import get_settings

    get_settings.cache_clear()
    from app.accounts.models import Organization, User
    from app.candidates.models import Candidate
    from app.core.db import db
    from app.core.migrate import upgrade_head
    from app.core.security import Role, create_access_token

    upgrade_head(database_url)

    async def _insert() -> str:
        async with db.session() as s:
            org = Organization(name=f"Bench {uuid.uuid4().hex[:6]}")
            s.add(org)
            await s.flush()
            first = None
            for i in range(candidates):
                c = Candidate(organization_id=org.id, full_name=f"Bench Candidate {i:04d}", email=f"c{i}@bench.test",
                              us_status="none", target_specialties=["internal_medicine"], target_match_year=2027,
                              visa_need="j1", citizenship_country="IN", school_name="Bench School",
                              school_country="IN", external_id=f"B{i:05d}")
                s.add(c)
                first = first or c
            # a token speaks only for an account that exists (app.core.security)
            advisor = User(email=f"advisor-{uuid.uuid4().hex[:6]}@bench.test", full_name="Bench Advisor",
                           password_hash="!", role="advisor", organization_id=org.id)
            s.add(advisor)
            await s.flush()
            assert first is not None
            await _record(s, first.id)
            await s.commit()
            return f"{first.id}|{org.id}|{advisor.id}"

    ids = asyncio.run(_insert())
    asyncio.run(db.dispose())
    cand_id, org_id, advisor_id = ids.split("|")
    token, _ = create_access_token(user_id=uuid.UUID(advisor_id), role=Role.advisor,
                                   organization_id=uuid.UUID(org_id), candidate_id=None)
    return cand_id, token


async def _record(s: Any, cand_id: uuid.UUID) -> None:
    from datetime import date

    from app.milestones.models import Milestone
    from app.programs.models import Program, ProgramList, ProgramListEntry
    from app.usce.models import UsceRecord

    for code, status, on, result in (
        ("usmle_id_registered", "completed", date(2023, 1, 10), None),
        ("usmle_step1", "passed", date(2023, 6, 1), None),
        ("usmle_step2ck", "passed", date(2025, 11, 3), {"score": 241}),
        ("oet_medicine", "passed", date(2025, 5, 17),
         {"listening": 380, "reading": 370, "writing": 330, "speaking": 400}),
        ("ecfmg_pathway", "completed", date(2025, 9, 30), {"pathway": "1"}),
    ):
        s.add(Milestone(candidate_id=cand_id, type_code=code, status=status, completed_on=on, result=result))
    s.add(UsceRecord(candidate_id=cand_id, kind="externship", hands_on=True, institution="Bench Hospital",
                     specialty="internal_medicine", start_on=date(2026, 4, 6), end_on=date(2026, 5, 29),
                     us_letter=True))
    plist = ProgramList(candidate_id=cand_id, name="IM 2027", cycle=2027)
    s.add(plist)
    await s.flush()
    base = 1_000_000_000 + secrets.randbelow(8_000_000_000)  # unique per run: a database may be reused
    for i in range(10):
        p = Program(acgme_id=f"{base + i:010d}", name=f"Bench Program {i}", institution="Bench",
                    specialty="internal_medicine", track="categorical", state="NY", sponsors_j1=True,
                    min_step2ck=220 + i * 3, max_years_since_graduation=5, source="bench",
                    facts_as_of=date(2026, 9, 1))
        s.add(p)
        await s.flush()
        s.add(ProgramListEntry(list_id=plist.id, program_id=p.id, rank_position=i + 1))


def run_wrk(url: str, token: str | None, duration: int, connections: int) -> tuple[float, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    m = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert m, out
    p99 = float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx responses from {url}:\n{out}")
    return rps, p99


SERVERS = {  # name: (ASGI app, extra environment)
    "bare": ("bench.bare_app:app", {}),
    "app": ("app.main:app", {}),
    "app-uncached": ("app.main:app", {"COMPUTED_CACHE_ENTRIES": "0"}),
}


def serve(app_path: str, port: int, workers: int, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "uvicorn", app_path, "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    return subprocess.Popen(cmd, env=env, cwd=cwd)


def server_env(db_url: str) -> dict[str, str]:
    """The environment of the servers under test: production settings on the scratch database."""
    return {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": SECRET, "ENVIRONMENT": "production",
            "SMTP_HOST": "smtp.invalid",
            "PYTHONPATH": os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(ROOT)) if p),
            # One token drives thousands of requests a second: the request budget is counted (its cost is part
            # of the figures) but set too high to throttle.
            "RATE_LIMIT_PER_PRINCIPAL": "1000000000/minute"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--database-url", default=None, help="default: a scratch SQLite file")
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="mr-bench-"))
    db_url = args.database_url or f"sqlite:///{tmp}/bench.db"
    cand_id, token = seed(db_url, 200)
    env = server_env(db_url)
    readiness = f"/v1/candidates/{cand_id}/readiness?as_of=2026-11-25"
    targets = {  # name: (server, path, token)
        "bare": ("bare", "/bare", None),
        "candidate": ("app", f"/v1/candidates/{cand_id}", token),
        "page50": ("app", "/v1/candidates?limit=50", token),
        "readiness": ("app", readiness, token),
        "readiness_uncached": ("app-uncached", readiness, token),
    }
    print(f"database: {db_url.split('://')[0]}; wrk -t1 -c{args.connections} -d{args.duration}s; "
          f"median of {args.repeats}")
    for workers in [int(w) for w in args.workers.split(",")]:
        results: dict[str, list[tuple[float, float]]] = {k: [] for k in targets}
        procs = {}
        ports = {}
        for server, (app_path, extra) in SERVERS.items():
            ports[server] = free_port()
            procs[server] = serve(app_path, ports[server], workers, {**env, **extra}, ROOT)
        try:
            for server, port in ports.items():
                wait_ready(port, "/bare" if server == "bare" else "/livez")
            for _ in range(args.repeats):  # interleave targets so drift hits all alike
                for name, (server, path, tok) in targets.items():
                    url = f"http://127.0.0.1:{ports[server]}{path}"
                    run_wrk(url, tok, 2, args.connections)  # warm-up
                    results[name].append(run_wrk(url, tok, args.duration, args.connections))
        finally:
            for p in procs.values():
                p.terminate()
            for p in procs.values():
                p.wait(timeout=10)
        med = {k: (statistics.median(r for r, _ in v), statistics.median(p for _, p in v)) for k, v in results.items()}
        base = med["bare"][0]
        print(f"\nuvicorn --workers {workers}")
        print(f"  {'endpoint':<34}{'req/s':>10}{'p99 ms':>10}{'vs bare':>10}")
        labels = {"bare": "GET /bare (baseline)", "candidate": "GET /v1/candidates/{id}",
                  "page50": "GET /v1/candidates?limit=50", "readiness": "GET /v1/candidates/{id}/readiness",
                  "readiness_uncached": "  same, computed every time"}
        for k, (rps, p99) in med.items():
            print(f"  {labels[k]:<34}{rps:>10.0f}{p99:>10.2f}{rps / base:>10.1%}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
