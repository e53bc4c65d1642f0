"""What each per-request feature costs a read: the service as served, against the same service with one feature
switched off (bench/ablated_app.py), and the bare endpoint, in one run.

    python bench/read_costs.py [--duration 3] [--repeats 3] [--connections 32] [--path single|readiness]

One worker per server, all servers started side by side on one scratch SQLite database seeded as
bench/http_reads.py seeds it, runs interleaved (full, each ablation, bare) so drift hits all alike. Prints the
median requests/s of each, what switching the feature off gains (off/full - 1), and each figure's ratio to the bare
endpoint. Needs `wrk`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ablated_app import FEATURES  # noqa: E402
from bench.http_reads import free_port, run_wrk, seed, serve, server_env, wait_ready  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--path", choices=["single", "readiness"], default="single")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="mr-costs-"))
    db_url = f"sqlite:///{tmp}/bench.db"
    cand_id, token = seed(db_url, 200)
    env = server_env(db_url)
    path = (f"/v1/candidates/{cand_id}" if args.path == "single"
            else f"/v1/candidates/{cand_id}/readiness?as_of=2026-11-25")
    variants = {"full": "", **{f"no {name}": name for name in FEATURES}, "no all of them": ",".join(FEATURES)}
    ports = {v: free_port() for v in [*variants, "bare"]}
    procs = [serve("bench.ablated_app:app", ports[v], 1, {**env, "ABLATE": ablate}, ROOT)
             for v, ablate in variants.items()]
    procs.append(serve("bench.bare_app:app", ports["bare"], 1, env, ROOT))
    results: dict[str, list[float]] = {v: [] for v in ports}
    try:
        for v, port in ports.items():
            wait_ready(port, "/bare" if v == "bare" else "/livez", timeout=120)  # nine servers start at once
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
    print(f"GET {'/v1/candidates/{id}' if args.path == 'single' else '/v1/candidates/{id}/readiness'}; "
          f"wrk -t1 -c{args.connections} -d{args.duration}s; median of {args.repeats}; 1 worker each")
    print(f"  {'server':<22}{'req/s':>9}{'off/full-1':>12}{'vs bare':>9}")
    for v, rps in med.items():
        gain = "" if v in ("full", "bare") else f"{rps / full - 1:+.1%}"
        print(f"  {v:<22}{rps:>9.0f}{gain:>12}{rps / bare:>9.1%}")
    for name, (what, _) in FEATURES.items():
        print(f"  {name}: {what}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
