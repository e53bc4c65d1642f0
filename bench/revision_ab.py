"""A/B of the read fast path: this tree against an earlier revision, two servers side by side, runs interleaved.

    python bench/revision_ab.py REVISION [--repeats 10] [--duration 3] [--connections 32]

On a busy machine the ratio of paired runs (after/before, taken seconds apart, in alternating order) is steadier
than two separate runs of bench/http_reads.py. Both servers read one scratch SQLite database seeded as that benchmark
seeds it; the request budget is counted but set too high to throttle the benchmark's single token. Needs `wrk`.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_reads import SECRET, free_port, run_wrk, seed, serve, wait_ready  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("revision", help="the git revision to compare against, e.g. main or a commit")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="mr-ab-"))
    before = tmp / "before"
    archive = subprocess.run(["git", "archive", args.revision], cwd=ROOT, capture_output=True, check=True).stdout
    # links out of the tree (an old revision may hold one) are left out; the rest as tarfile's "data" filter says
    tarfile.open(fileobj=io.BytesIO(archive)).extractall(before, filter=lambda member, dest: (
        None if member.issym() and member.linkname.startswith("/") else tarfile.data_filter(member, dest)))
    db_url = f"sqlite:///{tmp}/bench.db"
    cand, token = seed(db_url, 200)
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": SECRET, "ENVIRONMENT": "production",
           "SMTP_HOST": "smtp.invalid",
           "RATE_LIMIT_PER_PRINCIPAL": "1000000000/minute"}
    trees = {"before": before, "after": ROOT}
    paths = {"GET /v1/candidates/{id}": f"/v1/candidates/{cand}",
             "GET /v1/candidates/{id}/readiness": f"/v1/candidates/{cand}/readiness?as_of=2026-11-25"}
    ports = {name: free_port() for name in trees}
    procs = {name: serve("app.main:app", ports[name], 1, {**env, "PYTHONPATH": str(root)}, root)
             for name, root in trees.items()}
    results: dict[tuple[str, str], list[float]] = {(n, p): [] for n in trees for p in paths}
    try:
        for port in ports.values():
            wait_ready(port, "/livez")
            for path in paths.values():
                run_wrk(f"http://127.0.0.1:{port}{path}", token, 2, args.connections)  # warm-up
        for i in range(args.repeats):
            order = list(trees) if i % 2 == 0 else list(reversed(trees))
            for label, path in paths.items():
                for name in order:
                    url = f"http://127.0.0.1:{ports[name]}{path}"
                    results[(name, label)].append(run_wrk(url, token, args.duration, args.connections)[0])
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            p.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{args.revision} (before) vs this tree (after); wrk -t1 -c{args.connections} -d{args.duration}s, "
          f"{args.repeats} interleaved pairs, 1 worker")
    print(f"  {'endpoint':<36}{'before req/s':>13}{'after req/s':>13}{'after/before':>14}")
    for label in paths:
        b, a = results[("before", label)], results[("after", label)]
        ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
        print(f"  {label:<36}{statistics.median(b):>13.0f}{statistics.median(a):>13.0f}{ratio:>14.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
