"""What each per-request feature costs a read: the service as served, against the same service with one feature
switched off (bench/ablated_app.py), and the bare endpoint, in one run.

    python bench/read_costs.py [--duration 3] [--repeats 3] [--connections 32]
                               [--path single|page50|readiness|milestones] [--features access_log,metrics,...]

One worker per server, all servers started side by side on one scratch SQLite database seeded as
bench/http_reads.py seeds it, runs interleaved (full, each ablation, bare) so drift hits all alike. Prints the
median requests/s of each, what switching the feature off gains (off/full - 1), and each figure's ratio to the bare
endpoint. Before timing, each variant's answer is compared with the full service's: a switched-off feature
(or the ordinary path standing in for the read fast path) must not change the body. Needs `wrk`.

The read fast path (app.core.reads, app.core.sqlite_inline) is priced the same way: `--features driver_reads,
typed_reads,json_rows,sqlite_inline,fast_path` replaces each part, or all of it, with the ordinary path
(SQLAlchemy's engine and results, aiosqlite, rows rendered by the public model).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# This process only reads the table of features (importing the app builds it, with settings); the servers it
# starts run with production settings (server_env).
os.environ.setdefault("ENVIRONMENT", "development")

from bench.ablated_app import FEATURES  # noqa: E402
from bench.http_reads import free_port, run_wrk, seed, serve, server_env, wait_ready  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--path", choices=["single", "page50", "readiness", "milestones"], default="single")
    ap.add_argument("--features", default=",".join(FEATURES), help="comma-separated names of bench/ablated_app.py")
    args = ap.parse_args()
    chosen = [f for f in args.features.split(",") if f]
    unknown = sorted(set(chosen) - set(FEATURES))
    if unknown:
        ap.error(f"unknown features {unknown}; known: {', '.join(FEATURES)}")
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="mr-costs-"))
    db_url = f"sqlite:///{tmp}/bench.db"
    cand_id, token = seed(db_url, 200)
    env = server_env(db_url)
    path = {"single": f"/v1/candidates/{cand_id}", "page50": "/v1/candidates?limit=50",
            "readiness": f"/v1/candidates/{cand_id}/readiness?as_of=2026-11-25",
            "milestones": f"/v1/candidates/{cand_id}/milestones"}[args.path]
    variants = {"full": "", **{f"no {name}": name for name in chosen}}
    if len(chosen) > 1:
        variants["no all of them"] = ",".join(chosen)
    ports = {v: free_port() for v in [*variants, "bare"]}
    procs = [serve("bench.ablated_app:app", ports[v], 1, {**env, "ABLATE": ablate}, ROOT)
             for v, ablate in variants.items()]
    procs.append(serve("bench.bare_app:app", ports["bare"], 1, env, ROOT))
    results: dict[str, list[float]] = {v: [] for v in ports}
    try:
        for v, port in ports.items():
            wait_ready(port, "/bare" if v == "bare" else "/livez", timeout=120)  # many servers start at once
        expected = _answer(ports["full"], path, token)
        for v, port in ports.items():
            if v not in ("full", "bare") and _answer(port, path, token) != expected:
                print(f"{v} answers differently from the full service: its figure would mean nothing",
                      file=sys.stderr)
                return 1
        for _ in range(args.repeats):
            for v, port in ports.items():
                url = f"http://127.0.0.1:{port}{'/bare' if v == 'bare' else path}"
                tok = None if v == "bare" else token
                run_wrk(url, tok, 1, args.connections)  # warm-up
                results[v].append(run_wrk(url, tok, args.duration, args.connections)[0])
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
    med = {v: statistics.median(r) for v, r in results.items()}
    full, bare = med["full"], med["bare"]
    print(f"GET {path.replace(cand_id, '{id}')}; "
          f"wrk -t1 -c{args.connections} -d{args.duration}s; median of {args.repeats}; 1 worker each")
    print(f"  {'server':<22}{'req/s':>9}{'off/full-1':>12}{'vs bare':>9}")
    for v, rps in med.items():
        gain = "" if v in ("full", "bare") else f"{rps / full - 1:+.1%}"
        print(f"  {v:<22}{rps:>9.0f}{gain:>12}{rps / bare:>9.1%}")
    for name, (what, _) in ((n, FEATURES[n]) for n in chosen):
        print(f"  {name}: {what}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _answer(port: int, path: str, token: str) -> tuple[int, object]:
    r = httpx.get(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return r.status_code, r.json()


if __name__ == "__main__":
    sys.exit(main())
