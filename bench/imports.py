"""Bulk import against the same records sent one request each.

    python bench/imports.py [--candidates 10000] [--baseline 500] [--postgres URL] [--workers 1]

Builds a scratch database (SQLite in a temporary directory; with `--postgres`, the schema `bench_imports` of that
database, dropped and made again) with one organization and one API key, and starts the service (uvicorn, one
process) and `--workers` workers (`python -m app worker`, imports only; on PostgreSQL several share an import).
Each candidate has 10 milestones and 2 USCE records, all keyed by external ids: 13 rows.

* baseline: `--baseline` candidates sent the way a sync without imports sends them, one upsert request per row
  (`PUT .../by-external-id/...`, 13 per candidate, one at a time): rows/s;
* import: `--candidates` other candidates in one NDJSON `POST /v1/imports`, polled until it succeeds: the time from
  the POST to the end, rows/s, and the peak resident memory (VmHWM) of the worker and of the server.

Targets (issue: integrations): the import of 10,000 candidates within 60 s, peak memory <= 300 MB, and >= 20x the
baseline's rows/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._scratch import free_port, scratch_database  # noqa: E402

SCHEMA = "bench_imports"
TYPES = ("specialty_decided", "mentor_contact", "usmle_id_registered", "usmle_step1", "usmle_step2ck",
         "oet_medicine", "ecfmg_pathway", "credentials_verified", "eras_application", "nrmp_registration")


def setup(url: str) -> str:
    """Migrate; one organization and an API key for it; returns the key."""
    from sqlalchemy import create_engine, insert

    from app.accounts.models import ApiKey, Organization
    from app.core.db import sync_url
    from app.core.migrate import upgrade_head
    from app.core.security import hash_api_key, new_api_key

    upgrade_head(url)
    engine = create_engine(sync_url(url))
    now = datetime.now(UTC)
    org, key = uuid.uuid4(), new_api_key()
    stamps = {"created_at": now, "updated_at": now, "version": 1}
    with engine.begin() as conn:
        conn.execute(insert(Organization.__table__).values(id=org, name="Bench", **stamps))  # type: ignore[attr-defined]
        conn.execute(insert(ApiKey.__table__).values(  # type: ignore[attr-defined]
            id=uuid.uuid4(), organization_id=org, name="bench", key_hash=hash_api_key(key), prefix=key[:8],
            **stamps))
    engine.dispose()
    return key


def candidate(prefix: str, n: int) -> dict[str, Any]:
    ext = f"{prefix}-{n}"
    return {
        "external_id": ext, "full_name": f"Bench Candidate {n}", "email": f"{ext.lower()}@example.org",
        "citizenship_country": "NG", "school_country": "NG", "graduation_on": "2024-07-15",
        "target_specialties": ["internal_medicine"], "target_match_year": 2028, "visa_need": "j1",
        "milestones": [{"external_id": f"{ext}-M{i}", "type_code": t, "status": "planned"}
                       for i, t in enumerate(TYPES)],
        "usce_records": [{"external_id": f"{ext}-U{i}", "kind": "observership", "institution": "Lakeside Hospital",
                          "city": "Springfield", "state": "IL", "specialty": "internal_medicine",
                          "start_on": f"2026-0{1 + 3 * i}-01", "end_on": f"2026-0{1 + 3 * i}-28"}
                         for i in range(2)],
    }


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_ready(base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/livez", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def baseline(client: httpx.Client, n: int) -> float:
    started = time.perf_counter()
    rows = 0
    for i in range(n):
        c = candidate("ONE", i)
        ms, usce = c.pop("milestones"), c.pop("usce_records")
        ext = c.pop("external_id")
        r = client.put(f"/v1/candidates/by-external-id/{ext}", json=c)
        r.raise_for_status()
        cid = r.json()["id"]
        for m in ms:
            client.put(f"/v1/candidates/{cid}/milestones/by-external-id/{m.pop('external_id')}",
                       json=m).raise_for_status()
        for u in usce:
            client.put(f"/v1/candidates/{cid}/usce-records/by-external-id/{u.pop('external_id')}",
                       json=u).raise_for_status()
        rows += 1 + len(ms) + len(usce)
    return rows / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--baseline", type=int, default=500)
    ap.add_argument("--postgres")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    url = scratch_database(args.postgres, SCHEMA)
    key = setup(url)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "ENVIRONMENT": "development", "WORKER_JOBS": "imports.*",
           "IMPORT_MAX_ITEMS": str(max(10_000, args.candidates)),
           # the baseline is one client sending as fast as it can: above any sensible per-caller budget
           "RATE_LIMIT_PER_PRINCIPAL": "1000000/minute", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port),
                               "--no-access-log", "--log-level", "warning"], cwd=ROOT, env=env)
    workers = [subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=ROOT, env=env)
               for _ in range(args.workers)]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base)
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=120) as client:
            base_rate = baseline(client, args.baseline)
            body = b"".join(json.dumps(candidate("BULK", i)).encode() + b"\n" for i in range(args.candidates))
            started = time.perf_counter()
            r = client.post("/v1/imports", content=body, headers={"Content-Type": "application/x-ndjson"})
            r.raise_for_status()
            accepted = time.perf_counter() - started
            location = r.headers["location"]
            while True:
                job = client.get(location).json()
                if job["status"] == "succeeded":
                    break
                time.sleep(0.2)
            took = time.perf_counter() - started
    finally:
        worker_mb, server_mb = max(vm_hwm_mb(w.pid) for w in workers), vm_hwm_mb(server.pid)
        for p in (*workers, server):
            p.terminate()
            p.wait(30)
    rows = args.candidates * (1 + len(TYPES) + 2)
    rate = rows / took
    print(f"database: {'postgresql' if args.postgres else 'sqlite'}; {args.workers} worker(s)")
    print(f"baseline: {args.baseline} candidates one request per row: {base_rate:,.0f} rows/s")
    print(f"import:   {args.candidates} candidates x 13 rows = {rows:,} rows in {took:.1f} s "
          f"(accepted in {accepted:.1f} s): {rate:,.0f} rows/s; counts {job['counts']}")
    print(f"ratio:    {rate / base_rate:.1f}x the baseline (target >= 20x); target <= 60 s: "
          f"{'met' if took <= 60 else 'MISSED'}")
    print(f"memory:   peak RSS per worker {worker_mb:.0f} MB, server {server_mb:.0f} MB (target <= 300 MB)")


if __name__ == "__main__":
    main()
