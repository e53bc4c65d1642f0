"""Stability check of a finished matching, independent of how the engine got there.

A single applicant and a program block the matching when both ranked each other, the applicant
prefers the program to the result, and the program has an unfilled position or prefers the
applicant to one it got. A couple blocks with a pair on its list that it prefers to its result when
each program named in the pair would take the partner(s) sent to it, counting the places the couple
itself gives up (a program named for both partners must take both).
"""

from __future__ import annotations

from . import limits as L
from .instance import NO_PROGRAM, MatchInstance
from .result import BlockingCouple, BlockingPair, StabilityReport, Status

_NEVER = 1 << 62  # a rank worse than any real rank


def check_stability(
    inst: MatchInstance,
    assign: list[int],
    apos: list[int],
    chold: list[int],
    heaps: list[list[int]],
    *,
    status: Status = "complete",
) -> StabilityReport:
    """Find blocking pairs of a matching given as the engine's index structures.

    ``heaps[p]`` holds the negated ranks of the applicants matched to program ``p``; ``apos[a]`` is
    the position of a single's program on its own list; ``chold[c]`` the index of a couple's pair.
    """
    positions = inst.positions
    prank = inst.program_rank
    # worst[p]: an applicant with a rank better (lower) than this would be accepted by p.
    worst = [0] * len(positions)
    for p, h in enumerate(heaps):
        capacity = positions[p]
        if capacity == 0:
            worst[p] = -1
        elif len(h) < capacity:
            worst[p] = _NEVER
        else:
            worst[p] = -h[0]

    blocking: list[BlockingPair] = []
    blocking_total = 0
    aids = inst.applicant_ids
    pids = inst.program_ids
    couple_of = inst.couple_of
    never = _NEVER
    for a, lst in enumerate(inst.applicant_prefs):
        # Only programs ranked above the result can block with a single applicant.
        k = apos[a] if assign[a] >= 0 else len(lst)
        if not k or couple_of[a] >= 0:
            continue
        for p in lst[:k]:
            if prank[p].get(a, never) < worst[p]:
                blocking_total += 1
                if len(blocking) < L.MAX_REPORTED_BLOCKING:
                    blocking.append(BlockingPair(applicant=aids[a], program=pids[p]))

    blocking_couples: list[BlockingCouple] = []
    couples_total = 0
    for c, (a1, a2) in enumerate(inst.couple_members):
        pairs = inst.couple_prefs[c]
        hold = chold[c]
        q1 = assign[a1] if hold >= 0 else NO_PROGRAM
        q2 = assign[a2] if hold >= 0 else NO_PROGRAM
        for p1, p2 in pairs[:hold] if hold >= 0 else pairs:
            # Quick refusal (exact when neither program is one the couple holds now, and a
            # necessary condition otherwise); the full test counts the places the couple gives up.
            if (p1 != NO_PROGRAM and prank[p1].get(a1, _NEVER) >= worst[p1] and p1 != q1 and p1 != q2) or (
                p2 != NO_PROGRAM and prank[p2].get(a2, _NEVER) >= worst[p2] and p2 != q1 and p2 != q2
            ):
                continue
            if couple_blocks(inst, heaps, worst, a1, a2, q1, q2, p1, p2):
                couples_total += 1
                if len(blocking_couples) < L.MAX_REPORTED_BLOCKING:
                    blocking_couples.append(
                        BlockingCouple(
                            members=(aids[a1], aids[a2]),
                            programs=(
                                pids[p1] if p1 != NO_PROGRAM else None,
                                pids[p2] if p2 != NO_PROGRAM else None,
                            ),
                        )
                    )

    stable = blocking_total == 0 and couples_total == 0
    return StabilityReport(
        stable=stable,
        blocking_pairs=tuple(blocking),
        blocking_pairs_total=blocking_total,
        blocking_couples=tuple(blocking_couples),
        blocking_couples_total=couples_total,
        message=_message(stable, status, blocking_total, couples_total, bool(inst.couple_members)),
    )


def couple_blocks(
    inst: MatchInstance,
    heaps: list[list[int]],
    worst: list[int],
    a1: int,
    a2: int,
    q1: int,
    q2: int,
    p1: int,
    p2: int,
) -> bool:
    """Would the couple (a1, a2), now at (q1, q2), be taken by programs (p1, p2)?

    ``worst[p]``: a rank below this is accepted at ``p`` (it is full and that is its worst rank,
    or it has room and any rank is accepted, or it has no positions: -1).
    """
    prank = inst.program_rank
    r1 = prank[p1].get(a1) if p1 != NO_PROGRAM else -1
    r2 = prank[p2].get(a2) if p2 != NO_PROGRAM else -1
    if r1 is None or r2 is None:
        return False
    if p1 != NO_PROGRAM and p1 == p2:
        return _takes(inst, heaps, p1, (r1, r2), a1, a2, q1, q2)
    if p1 != NO_PROGRAM:
        if p1 == q1 or p1 == q2:
            if not _takes(inst, heaps, p1, (r1,), a1, a2, q1, q2):
                return False
        elif r1 >= worst[p1]:
            return False
    if p2 != NO_PROGRAM:
        if p2 == q1 or p2 == q2:
            if not _takes(inst, heaps, p2, (r2,), a1, a2, q1, q2):
                return False
        elif r2 >= worst[p2]:
            return False
    return True


def _takes(
    inst: MatchInstance,
    heaps: list[list[int]],
    p: int,
    ranks: tuple[int, ...],
    a1: int,
    a2: int,
    q1: int,
    q2: int,
) -> bool:
    """Would ``p`` take applicants of these ranks, not counting the couple's own places at ``p``?"""
    capacity = inst.positions[p]
    if len(ranks) > capacity:
        return False
    own: set[int] = set()
    if q1 == p:
        own.add(inst.program_rank[p][a1])
    if q2 == p:
        own.add(inst.program_rank[p][a2])
    worst_new = max(ranks)
    others = [-v for v in heaps[p] if -v not in own]
    better = sum(1 for r in others if r < worst_new)
    return better + len(ranks) <= capacity


def _message(stable: bool, status: Status, singles: int, couples: int, has_couples: bool) -> str:
    found = f"{singles} blocking pair(s) and {couples} blocking couple pair(s)"
    if status == "cycle_detected":
        head = "Couples kept displacing one another in a cycle and the algorithm stopped them (see notes)."
        if stable:
            return f"{head} The matching reached is nevertheless stable."
        return f"{head} The matching is not stable: {found}. With couples a stable matching may not exist."
    if stable:
        if has_couples:
            return "The matching is stable: no applicant, couple and program would all rather be matched together."
        return "The matching is stable: no applicant and program would both rather be matched to each other."
    return (
        f"The matching is not stable: {found} were found. With couples a stable matching may not exist, "
        "and the algorithm does not always find one when it does."
    )
