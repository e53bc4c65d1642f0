"""Property tests on random singles-only instances, with the `matching` package as the oracle."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matching.games import HospitalResident

from app.matching import run_from_dict


@st.composite
def singles_instances(draw: st.DrawFn) -> dict[str, Any]:
    n_app = draw(st.integers(0, 14))
    n_prog = draw(st.integers(1, 6))
    aids = [f"a{i}" for i in range(n_app)]
    pids = [f"p{j}" for j in range(n_prog)]

    def some(ids: list[str]) -> list[str]:
        order = draw(st.permutations(ids))
        return list(order[: draw(st.integers(0, len(ids)))])

    programs = [{"id": p, "positions": draw(st.integers(0, 3)), "rank_order_list": some(aids)} for p in pids]
    applicants = [{"id": a, "rank_order_list": some(pids)} for a in aids]
    return {"programs": programs, "applicants": applicants}


def oracle(data: dict[str, Any]) -> dict[str, str | None]:
    """Resident-optimal matching from the `matching` package.

    The package wants mutually consistent lists (a hospital ranks exactly the residents that rank it),
    non-empty lists and capacities of at least one. Only mutually ranked pairs can match, so removing
    every other entry (and programs without positions) leaves an equivalent instance.
    """
    ranked_by = {p["id"]: set(p["rank_order_list"]) for p in data["programs"] if p["positions"] > 0}
    resident_prefs = {}
    for a in data["applicants"]:
        lst = [p for p in a["rank_order_list"] if a["id"] in ranked_by.get(p, set())]
        if lst:
            resident_prefs[a["id"]] = lst
    ranks = {a: set(lst) for a, lst in resident_prefs.items()}
    hospital_prefs = {}
    capacities = {}
    for p in data["programs"]:
        lst = [a for a in p["rank_order_list"] if p["id"] in ranks.get(a, set())]
        if p["positions"] > 0 and lst:
            hospital_prefs[p["id"]] = lst
            capacities[p["id"]] = p["positions"]
    out: dict[str, str | None] = {a["id"]: None for a in data["applicants"]}
    if not resident_prefs:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the cleaned instance must not need any cleaning by the package
        game = HospitalResident.create_from_dictionaries(resident_prefs, hospital_prefs, capacities)
        matching = game.solve(optimal="resident")
    assert game.check_validity() and game.check_stability()
    for hospital, residents in matching.items():
        for resident in residents:
            out[resident.name] = hospital.name
    return out


def independent_blocking_pairs(data: dict[str, Any], assignments: dict[str, str | None]) -> list[tuple[str, str]]:
    cap = {p["id"]: p["positions"] for p in data["programs"]}
    prank = {p["id"]: {a: i for i, a in enumerate(p["rank_order_list"])} for p in data["programs"]}
    held: dict[str, list[str]] = {p: [] for p in cap}
    for a, p in assignments.items():
        if p is not None:
            held[p].append(a)
    found = []
    for a in data["applicants"]:
        lst = a["rank_order_list"]
        cur = assignments[a["id"]]
        better = lst[: lst.index(cur)] if cur is not None else lst
        for p in better:
            if a["id"] not in prank[p] or cap[p] == 0:
                continue
            if len(held[p]) < cap[p] or any(prank[p][a["id"]] < prank[p][b] for b in held[p]):
                found.append((a["id"], p))
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(singles_instances())
def test_singles_equal_the_resident_optimal_oracle(data: dict[str, Any]) -> None:
    out = run_from_dict(data)
    assert out["status"] == "complete"
    assert out["assignments"] == oracle(data)


@settings(max_examples=400, deadline=None)
@given(singles_instances())
def test_singles_result_is_a_stable_matching(data: dict[str, Any]) -> None:
    out = run_from_dict(data)
    assignments = out["assignments"]
    cap = {p["id"]: p["positions"] for p in data["programs"]}
    prank = {p["id"]: p["rank_order_list"] for p in data["programs"]}
    arank = {a["id"]: a["rank_order_list"] for a in data["applicants"]}
    # Every applicant appears, in input order.
    assert list(assignments) == [a["id"] for a in data["applicants"]]
    # Only mutually ranked pairs.
    for a, p in assignments.items():
        if p is not None:
            assert p in arank[a] and a in prank[p]
    # Capacities respected, program lists consistent with the assignments and in preference order.
    for pr in out["programs"]:
        assert len(pr["matched"]) <= cap[pr["id"]]
        assert pr["unfilled"] == cap[pr["id"]] - len(pr["matched"])
        assert sorted(pr["matched"], key=prank[pr["id"]].index) == pr["matched"]
        assert {a for a, p in assignments.items() if p == pr["id"]} == set(pr["matched"])
    # Stable, by an independent check, and the engine's own report agrees.
    assert independent_blocking_pairs(data, assignments) == []
    assert out["stability"]["stable"] is True
    counts = out["counts"]
    assert counts["matched"] + counts["unmatched"] == counts["applicants"] == len(assignments)
    assert counts["filled"] + counts["unfilled"] == counts["positions"] == sum(cap.values())
    assert counts["matched"] == counts["filled"]
    # Singles-only deferred acceptance applies at most once to each program on each list.
    assert out["work"]["proposals"] <= sum(len(lst) for lst in arank.values())
    assert out["work"]["withdrawals"] == 0 and out["work"]["reentries"] == 0


@settings(max_examples=150, deadline=None)
@given(singles_instances(), st.randoms(use_true_random=False))
def test_stability_checker_finds_blocking_pairs_of_a_perturbed_matching(data: dict[str, Any], rnd: Any) -> None:
    """Feed the checker a matching that is not the engine's: it must agree with the independent check."""
    from app.matching import parse_instance
    from app.matching.stability import check_stability

    inst = parse_instance(data)
    n = len(inst.applicant_ids)
    assign = [-1] * n
    apos = [-1] * n
    heaps: list[list[int]] = [[] for _ in inst.program_ids]
    for a in rnd.sample(range(n), n):
        options = [p for p in inst.applicant_prefs[a] if a in inst.program_rank[p]]
        rnd.shuffle(options)
        for p in options:
            if len(heaps[p]) < inst.positions[p]:
                heaps[p].append(-inst.program_rank[p][a])
                assign[a] = p
                apos[a] = inst.applicant_prefs[a].index(p)
                break
    import heapq

    for h in heaps:
        heapq.heapify(h)
    report = check_stability(inst, assign, apos, [], heaps)
    named = {inst.applicant_ids[a]: (inst.program_ids[p] if p >= 0 else None) for a, p in enumerate(assign)}
    expected = independent_blocking_pairs(data, named)
    assert report.blocking_pairs_total == len(expected)
    assert report.stable == (not expected)
    listed = {(b.applicant, b.program) for b in report.blocking_pairs}
    assert listed <= set(expected)
