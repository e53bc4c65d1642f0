"""Benchmark of the Match engine at NRMP scale, and against the `matching` package.

    python bench/match_engine.py            # full run, about 3 minutes (the package is slow at 20,000)
    python bench/match_engine.py --quick    # compares with the package at 5,000 applicants only

Prints, with targets, and exits 1 if one is missed:
  * the same-run comparison with the `matching` package (resident-optimal) on singles-only instances
    of 5,000 and 20,000 applicants, with a check that the matchings are identical, applicant for
    applicant. The target ratio is against the package's documented use,
    ``HospitalResident.create_from_dictionaries(...).solve(optimal="resident")``, timed whole like
    the engine's validate + run + stability check. The ratio of the package's algorithm alone (on
    players built outside the timer) to the engine's run alone is printed too: it is the stricter one;
  * engine time (validate + run + stability check) at NRMP scale, median over >= 5 runs;
  * peak memory of a child process that loads the JSON and runs the engine (max RSS),
    and the tracemalloc peak of validation and run;
  * end-to-end time of the HTTP path without the server, as a FastAPI route with request and response
    models would do it, and a leaner variant.

Instances are generated with a seeded RNG: program popularity is skewed (log-normal), applicants rank
10-15 programs drawn by popularity and ordered by popularity plus personal noise, and programs rank the
applicants who applied to them by a noisy common score (each program leaves a few out). Couples rank
40-80 pairs built from both partners' lists, then a few pairs with one partner unmatched.
Timings are wall-clock on a shared machine: expect some spread between runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import warnings
from bisect import bisect_left
from itertools import accumulate
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.matching import parse_instance, run_from_dict, run_match  # noqa: E402

# NRMP Main Residency Match, roughly (2025: 47,208 active applicants, 43,237 positions).
NRMP_APPLICANTS = 48_000
NRMP_PROGRAMS = 6_400
NRMP_POSITIONS = 43_000
NRMP_COUPLES = 2_000

TARGET_ENGINE_S = 1.0
TARGET_MEMORY_MB = 500
TARGET_END_TO_END_S = 5.0
TARGET_RATIO = 20.0


def generate(
    n_applicants: int,
    n_programs: int,
    n_positions: int,
    n_couples: int,
    seed: int,
    ranks: tuple[int, int] = (10, 15),
) -> dict[str, Any]:
    """A random Match in the endpoint's JSON format."""
    rng = random.Random(seed)
    pids = [f"P{p:05d}" for p in range(n_programs)]
    aids = [f"A{a:06d}" for a in range(n_applicants)]
    log_pop = [rng.gauss(0.0, 0.8) for _ in range(n_programs)]
    raw_size = [rng.lognormvariate(0.0, 0.7) for _ in range(n_programs)]
    scale = n_positions / sum(raw_size)
    positions = [max(1, round(s * scale)) for s in raw_size]
    # Larger and more popular programs attract more applications.
    cum = list(accumulate(math.exp(log_pop[p]) * math.sqrt(positions[p]) for p in range(n_programs)))
    total = cum[-1]
    quality = [rng.gauss(0.0, 1.0) for _ in range(n_applicants)]

    def pick(k: int) -> list[int]:
        chosen: dict[int, float] = {}
        while len(chosen) < k:
            p = bisect_left(cum, rng.random() * total)
            if p not in chosen:
                chosen[p] = log_pop[p] + rng.gauss(0.0, 1.0)
        return sorted(chosen, key=lambda q: -chosen[q])

    applied: list[list[int]] = [[] for _ in range(n_programs)]
    applicants: list[dict[str, Any]] = []
    n_single = n_applicants - 2 * n_couples
    for a in range(n_single):
        lst = pick(rng.randint(*ranks))
        for p in lst:
            applied[p].append(a)
        applicants.append({"id": aids[a], "rank_order_list": [pids[p] for p in lst]})

    couples: list[dict[str, Any]] = []
    for c in range(n_couples):
        x, y = n_single + 2 * c, n_single + 2 * c + 1
        lx = pick(rng.randint(*ranks))
        ly = pick(rng.randint(*ranks))
        ux = {p: -i for i, p in enumerate(lx)}
        uy = {p: -i for i, p in enumerate(ly)}
        combos = sorted(
            ((ux[p] + uy[q] + (2 if p == q else 0) + rng.gauss(0.0, 1.0), p, q) for p in lx for q in ly),
            reverse=True,
        )
        pairs: list[tuple[int | None, int | None]] = [(p, q) for _, p, q in combos[: rng.randint(40, 80)]]
        # Last resorts: one partner matched, the other not.
        pairs += [(p, None) for p in lx[:3]] + [(None, q) for q in ly[:3]]
        seen_x = {p for p, _ in pairs if p is not None}
        seen_y = {q for _, q in pairs if q is not None}
        for p in seen_x:
            applied[p].append(x)
        for q in seen_y:
            applied[q].append(y)
        applicants.append({"id": aids[x], "rank_order_list": []})
        applicants.append({"id": aids[y], "rank_order_list": []})
        couples.append(
            {
                "members": [aids[x], aids[y]],
                "rank_order_list": [
                    [pids[p] if p is not None else None, pids[q] if q is not None else None] for p, q in pairs
                ],
            }
        )

    programs: list[dict[str, Any]] = []
    for p in range(n_programs):
        scored = [(quality[a] + rng.gauss(0.0, 0.5), a) for a in applied[p] if rng.random() < 0.95]
        scored.sort(reverse=True)
        programs.append(
            {"id": pids[p], "positions": positions[p], "rank_order_list": [aids[a] for _, a in scored[:5000]]}
        )
    return {"programs": programs, "applicants": applicants, "couples": couples}


def time_engine(data: dict[str, Any]) -> tuple[float, float, float, Any]:
    """Seconds for validation, for the run (including the stability check), and the result."""
    t0 = time.perf_counter()
    inst = parse_instance(data)
    t1 = time.perf_counter()
    result = run_match(inst)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, t2 - t0, result


def child_run(path: str, runs: int) -> None:
    """In a fresh process: load the JSON, time the engine ``runs`` times, then measure memory."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    parse_t, run_t, total_t = [], [], []
    result = None
    for _ in range(runs):
        p, r, t, result = time_engine(data)
        parse_t.append(p)
        run_t.append(r)
        total_t.append(t)
    assert result is not None
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    run_match(parse_instance(data))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    c, s, w = result.counts, result.stability, result.work
    summary = {
        "parse": parse_t,
        "run": run_t,
        "total": total_t,
        "rss_kb": rss,
        "rss_loaded_kb": rss_loaded,
        "tracemalloc_peak": peak,
        "status": result.status,
        "counts": [c.matched, c.unmatched, c.filled, c.positions, c.couples_matched, c.couples],
        "stability": [s.stable, s.blocking_pairs_total, s.blocking_couples_total],
        "work": [w.proposals, w.rejections, w.displacements, w.withdrawals, w.reentries, w.couples_stopped],
    }
    print(json.dumps(summary))


def end_to_end(data: dict[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """The HTTP path without the server, two ways. Seconds per step for each.

    "framework": what a FastAPI route with a ``MatchRequest`` body and a ``MatchResponse``
    response_model does: json.loads, model validation, the engine, response-model validation and
    serialisation, json.dumps. "lean": ``parse_request_json`` (pydantic parses the bytes itself), and
    the result dict is dumped directly.
    """
    from app.matching.schemas import MatchRequest, MatchResponse, parse_request_json

    body = json.dumps(data).encode()
    t0 = time.perf_counter()
    obj = json.loads(body)
    t1 = time.perf_counter()
    req = MatchRequest.model_validate(obj)
    t2 = time.perf_counter()
    out = run_from_dict(req.engine_input())
    t3 = time.perf_counter()
    payload = json.dumps(MatchResponse.model_validate(out).model_dump(mode="json")).encode()
    t4 = time.perf_counter()
    framework = {
        "total": t4 - t0,
        "json_loads": t1 - t0,
        "request_model": t2 - t1,
        "engine": t3 - t2,
        "response_model_and_dump": t4 - t3,
    }
    del obj, req, out, payload

    t0 = time.perf_counter()
    req = parse_request_json(body)
    t1 = time.perf_counter()
    out = run_from_dict(req.engine_input())
    t2 = time.perf_counter()
    payload = json.dumps(out).encode()
    t3 = time.perf_counter()
    lean = {
        "total": t3 - t0,
        "validate_json": t1 - t0,
        "engine": t2 - t1,
        "json_dump": t3 - t2,
        "response_mb": len(payload) / 1e6,
    }
    return framework, lean


def oracle_inputs(data: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, int]]:
    """The same singles-only instance as the `matching` package needs it: mutually consistent lists.

    Only mutually ranked pairs can match, so dropping the others (and programs without positions,
    and applicants left with empty lists) does not change the applicant-optimal stable matching.
    """
    ranked_by = {p["id"]: set(p["rank_order_list"]) for p in data["programs"] if p["positions"] > 0}
    resident_prefs = {}
    for a in data["applicants"]:
        lst = [p for p in a["rank_order_list"] if a["id"] in ranked_by.get(p, ())]
        if lst:
            resident_prefs[a["id"]] = lst
    ranks = {a: set(lst) for a, lst in resident_prefs.items()}
    hospital_prefs = {}
    capacities = {}
    for p in data["programs"]:
        if p["positions"] <= 0:
            continue
        lst = [a for a in p["rank_order_list"] if p["id"] in ranks.get(a, ())]
        if lst:
            hospital_prefs[p["id"]] = lst
            capacities[p["id"]] = p["positions"]
    return resident_prefs, hospital_prefs, capacities


def _named(data: dict[str, Any], matching: Any) -> dict[str, str | None]:
    out: dict[str, str | None] = {a["id"]: None for a in data["applicants"]}
    for hospital, matched in matching.items():
        for resident in matched:
            out[resident.name] = hospital.name
    return out


def package_algorithm(data: dict[str, Any]) -> tuple[float, dict[str, str | None]]:
    """The package's resident-optimal algorithm alone, on players built outside the timer."""
    from matching.algorithms.hospital_resident import hospital_resident
    from matching.games.hospital_resident import _make_players

    rp, hp, caps = oracle_inputs(data)
    residents, hospitals = _make_players(rp, hp, caps)
    t0 = time.perf_counter()
    matching = hospital_resident(residents, hospitals, optimal="resident")
    return time.perf_counter() - t0, _named(data, matching)


def package_public_api(data: dict[str, Any]) -> tuple[float, dict[str, str | None]]:
    """``HospitalResident.create_from_dictionaries(...).solve(optimal="resident")``, timed whole.

    The game class deep-copies its players recursively, which overflows Python's default recursion
    limit from a few thousand applicants on; it runs in a thread with a large stack and a raised limit.
    """
    from matching.games import HospitalResident

    rp, hp, caps = oracle_inputs(data)
    box: dict[str, Any] = {}

    def work() -> None:
        t0 = time.perf_counter()
        game = HospitalResident.create_from_dictionaries(rp, hp, caps)
        matching = game.solve(optimal="resident")
        box["elapsed"] = time.perf_counter() - t0
        box["matching"] = _named(data, matching)

    old_limit = sys.getrecursionlimit()
    old_stack = threading.stack_size()
    sys.setrecursionlimit(1_000_000)
    threading.stack_size(1024 * 1024 * 1024)
    try:
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
    return box["elapsed"], box["matching"]


def compare_with_package(n: int, seed: int) -> dict[str, Any]:
    from app.matching.engine import _Run

    scale = n / NRMP_APPLICANTS
    data = generate(n, max(1, round(NRMP_PROGRAMS * scale)), round(NRMP_POSITIONS * scale), 0, seed)
    full, run_only = [], []
    result = None
    for _ in range(5):
        _, _, total, result = time_engine(data)
        full.append(total)
        inst = parse_instance(data)
        t0 = time.perf_counter()
        _Run(inst, 1 << 62, None).run()
        run_only.append(time.perf_counter() - t0)
    assert result is not None
    algo = []
    algo_match: dict[str, str | None] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(3):
            elapsed, algo_match = package_algorithm(data)
            algo.append(elapsed)
        api_s, api_match = package_public_api(data)
    mine = dict(result.assignments)
    return {
        "n": n,
        "ranks": sum(len(a["rank_order_list"]) for a in data["applicants"]),
        "matched": result.counts.matched,
        "engine_s": statistics.median(full),
        "engine_run_s": statistics.median(run_only),
        "algo_s": statistics.median(algo),
        "api_s": api_s,
        "identical_algo": mine == algo_match,
        "identical_api": mine == api_match,
        "differences": sum(1 for a in mine if mine[a] != algo_match.get(a))
        + sum(1 for a in mine if mine[a] != api_match.get(a)),
    }


def _ok(flag: bool) -> str:
    return "OK" if flag else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="compare with the package at 5,000 applicants only (skips a ~1 min step)"
    )
    parser.add_argument("--runs", type=int, default=7, help="engine runs at NRMP scale (median; at least 5)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--child-run", nargs=2, metavar=("JSON", "RUNS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_run:
        child_run(args.child_run[0], int(args.child_run[1]))
        return 0
    runs = max(5, args.runs)
    ok = True
    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} CPU(s); figures are wall-clock medians")

    print("\nSame-run comparison with the `matching` package (resident-optimal), singles only:")
    for n in [5_000] if args.quick else [5_000, 20_000]:
        cmp = compare_with_package(n, seed=args.seed + n)
        api_ratio = cmp["api_s"] / cmp["engine_s"]
        algo_ratio = cmp["algo_s"] / cmp["engine_run_s"]
        strict_ratio = cmp["algo_s"] / cmp["engine_s"]
        identical = bool(cmp["identical_algo"] and cmp["identical_api"])
        good = identical and api_ratio >= TARGET_RATIO
        ok &= good
        print(
            f"  {n:,} applicants ({cmp['ranks']:,} ranks, {cmp['matched']:,} matched): identical matchings "
            f"(package API and package algorithm): {identical} ({cmp['differences']} differences)"
        )
        print(
            f"    engine: validate + run + stability check {cmp['engine_s'] * 1000:.1f} ms, "
            f"run alone {cmp['engine_run_s'] * 1000:.1f} ms (medians of 5)"
        )
        print(
            f"    package: create_from_dictionaries + solve {cmp['api_s'] * 1000:,.0f} ms; "
            f"its algorithm alone on pre-built players {cmp['algo_s'] * 1000:.1f} ms (median of 3)"
        )
        print(
            f"    ratio, package API / engine (validate + run + check): {api_ratio:,.1f}x  "
            f"target >= {TARGET_RATIO:.0f}x: {_ok(good)}"
        )
        print(f"    ratio, package algorithm alone / engine run alone: {algo_ratio:,.1f}x  (stricter, for reference)")
        print(f"    ratio, package algorithm alone / engine validate + run + check: {strict_ratio:,.1f}x")

    t0 = time.perf_counter()
    data = generate(NRMP_APPLICANTS, NRMP_PROGRAMS, NRMP_POSITIONS, NRMP_COUPLES, args.seed)
    gen_s = time.perf_counter() - t0
    n_ranks = sum(len(a["rank_order_list"]) for a in data["applicants"])
    n_pairs = sum(len(c["rank_order_list"]) for c in data["couples"])
    n_prog_ranks = sum(len(p["rank_order_list"]) for p in data["programs"])
    longest = max(len(p["rank_order_list"]) for p in data["programs"])
    print(
        f"\nNRMP-scale instance (seed {args.seed}, generated in {gen_s:.1f} s): "
        f"{len(data['applicants']):,} applicants ({2 * len(data['couples']):,} in {len(data['couples']):,} couples), "
        f"{len(data['programs']):,} programs, {sum(p['positions'] for p in data['programs']):,} positions; "
        f"{n_ranks:,} single ranks, {n_pairs:,} couple pairs, {n_prog_ranks:,} program ranks "
        f"(longest program list {longest:,})"
    )

    # Timed in a fresh interpreter, as a server process would run it, and away from what the
    # comparison above left in this one's heap.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "nrmp.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        size_mb = os.path.getsize(path) / 1e6
        proc = subprocess.run(
            [sys.executable, __file__, "--child-run", path, str(runs)], capture_output=True, text=True, check=True
        )
        child = json.loads(proc.stdout.strip().splitlines()[-1])
    matched, unmatched, filled, positions, couples_matched, couples = child["counts"]
    stable, blocking, blocking_couples = child["stability"]
    proposals, rejections, displacements, withdrawals, reentries, stopped = child["work"]
    print(
        f"  result: {child['status']}; {matched:,} matched, {unmatched:,} unmatched; "
        f"{filled:,}/{positions:,} positions filled; {couples_matched:,}/{couples:,} couples matched; "
        f"stable={stable} ({blocking} blocking pairs, {blocking_couples} blocking couple pairs)"
    )
    print(
        f"  work: {proposals:,} proposals, {rejections:,} rejections, {displacements:,} displacements, "
        f"{withdrawals:,} withdrawals, {reentries:,} re-entries, {stopped} couples stopped"
    )
    med = statistics.median(child["total"])
    ok &= med <= TARGET_ENGINE_S
    print(
        f"  engine (validate + run + stability check), fresh process, median of {runs}: {med:.3f} s "
        f"[validate {statistics.median(child['parse']):.3f} s, run + check {statistics.median(child['run']):.3f} s; "
        f"min {min(child['total']):.3f}, max {max(child['total']):.3f}]  target <= {TARGET_ENGINE_S:.1f} s: "
        f"{_ok(med <= TARGET_ENGINE_S)}"
    )
    rss_mb = child["rss_kb"] / 1024
    ok &= rss_mb <= TARGET_MEMORY_MB
    print(
        f"  memory (that process, {size_mb:.1f} MB JSON file): max RSS {rss_mb:.0f} MB "
        f"(after loading the JSON {child['rss_loaded_kb'] / 1024:.0f} MB); tracemalloc peak of "
        f"validate + run {child['tracemalloc_peak'] / 1e6:.0f} MB  "
        f"target <= {TARGET_MEMORY_MB} MB: {_ok(rss_mb <= TARGET_MEMORY_MB)}"
    )

    frameworks, leans = [], []
    for _ in range(3):
        framework, lean = end_to_end(data)
        frameworks.append(framework)
        leans.append(lean)

    def describe(rows: list[dict[str, float]]) -> str:
        keys = [k for k in rows[0] if k not in ("total", "response_mb")]
        return ", ".join(f"{k} {statistics.median(r[k] for r in rows):.3f} s" for k in keys)

    fw = statistics.median(r["total"] for r in frameworks)
    ln = statistics.median(r["total"] for r in leans)
    ok &= fw <= TARGET_END_TO_END_S
    print(
        f"  end to end, framework path (json.loads, MatchRequest, run_from_dict, MatchResponse, json.dumps), "
        f"median of 3: {fw:.3f} s [{describe(frameworks)}]  target <= {TARGET_END_TO_END_S:.1f} s: "
        f"{_ok(fw <= TARGET_END_TO_END_S)}"
    )
    print(
        f"  end to end, lean path (parse_request_json, run_from_dict, json.dumps), median of 3: "
        f"{ln:.3f} s [{describe(leans)}; response {leans[-1]['response_mb']:.1f} MB]"
    )

    print(f"\nall targets met: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
