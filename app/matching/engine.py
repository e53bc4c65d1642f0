"""Applicant-proposing deferred acceptance with couples, after Roth and Peranson (1999).

Singles apply down their lists; each program tentatively holds its most preferred acceptable
applicants up to its number of positions (a heap of ranks, worst on top). Without couples this is
Gale-Shapley deferred acceptance and gives the applicant-optimal stable matching.

Couples apply to pairs of programs in the order of their joint list and hold a pair only if both
programs accept (a program ranked for both partners must have room for both). When either partner
is displaced the couple withdraws from both programs and goes on down its list. A withdrawal leaves a
position open that an applicant rejected earlier may now want; such programs are revisited once the
applicant stack is empty and the applicants (or couples) who would now be accepted there and prefer
it are sent back to apply again, as in Roth-Peranson.

With couples this process need not settle (a stable matching may not exist). Two bounds make sure
it ends, and either one being reached is reported as ``cycle_detected``:

* a couple sent back ``max_couple_reentries`` times is not sent back again. Only re-entries move a
  couple up its list, so once every couple is capped the run can only go down lists and must end;
  in practice this stops a cycle after a few dozen rounds and leaves the rest of the Match settled;
* a cap on proposals (``work_factor`` x total rank-list length), a backstop: after it couples stay
  where they are and the singles settle around them.

The stability of the result is then checked independently (see ``stability``).
"""

from __future__ import annotations

from dataclasses import dataclass
from heapq import heapify, heappush, heapreplace

from . import limits as L
from ._gc import gc_paused
from .instance import NO_PROGRAM, MatchInstance
from .result import Counts, CoupleResult, MatchResult, ProgramResult, StabilityReport, Status, Work
from .stability import check_stability
from .trace import Tracer


@dataclass(frozen=True, slots=True)
class MatchOptions:
    """Tuning of a run. ``max_proposals`` overrides ``work_factor`` when given."""

    work_factor: int = L.WORK_FACTOR
    max_proposals: int | None = None
    max_couple_reentries: int = L.MAX_COUPLE_REENTRIES


_OPEN = 1 << 62  # threshold of a program with an unfilled position: any rank is accepted


class _Run:
    """Mutable state of one run. Everything is an int index; per-program heaps hold negated ranks."""

    def __init__(
        self, inst: MatchInstance, max_proposals: int, tracer: Tracer | None, max_couple_reentries: int = 1 << 62
    ) -> None:
        n = len(inst.applicant_ids)
        m = len(inst.program_ids)
        nc = len(inst.couple_members)
        self.inst = inst
        self.tracer = tracer
        self.max_proposals = max_proposals
        self.assign = [-1] * n  # program index held by each applicant, -1 if none
        self.apos = [-1] * n  # position of that program on a single's list
        self.nxt = [0] * n  # next position a single will apply to
        self.on_stack = bytearray(n)
        self.chold = [-1] * nc  # pair index held by each couple, -1 if none
        self.c_reentries = [0] * nc
        self.max_couple_reentries = max_couple_reentries
        self.stopped_couples: list[int] = []
        self.cnext = [0] * nc
        self.c_on_stack = bytearray(nc)
        self.heaps: list[list[int]] = [[] for _ in range(m)]
        # thr[p]: p accepts an applicant whose rank is below this (its worst held rank when full).
        self.thr = [_OPEN if cap > 0 else -1 for cap in inst.positions]
        self.dirty: list[int] = []  # programs that lost an applicant without a replacement
        self.dirty_flag = bytearray(m)
        self.stack: list[int] = []  # >= 0: single applicant; < 0: ~couple
        self.proposals = 0
        self.rejections = 0
        self.displacements = 0
        self.withdrawals = 0
        self.reentries = 0
        self.iterations = 0
        self.status: Status = "complete"
        self.winding_down = False
        self.hit_bound = False

    # Driver ----------------------------------------------------------------------------

    def run(self) -> None:
        inst = self.inst
        couple_of = inst.couple_of
        order: list[int] = [a for a in range(len(couple_of)) if couple_of[a] < 0]
        order.extend(~c for c in range(len(inst.couple_members)))
        for x in order:
            if x >= 0:
                self.on_stack[x] = 1
            else:
                self.c_on_stack[~x] = 1
        order.reverse()  # the stack pops from the end: first applicant in input order goes first
        self.stack.extend(order)
        while True:
            self._drain()
            if self.status != "complete":
                self._wind_down()
                return
            if not self.dirty:
                return
            p = self.dirty.pop()
            self.dirty_flag[p] = 0
            self._repair(p)

    def _wind_down(self) -> None:
        """After the work bound: couples stop where they are, and the singles settle around them.

        Couples keep the pair they hold (a couple waiting for its turn stays unmatched); singles
        still waiting take their turn, and singles go back to programs that lost someone, as
        before. Without couples moving this settles quickly; it gets a second bound of the same
        size all the same. Stopping without it would leave singles displaced in the middle of the
        cycle unplaced, and positions freed by the last withdrawals unoffered.
        """
        if self.tracer is not None:
            self.tracer.stopped(self.max_proposals)
        self.hit_bound = True
        self.winding_down = True
        bound = self.max_proposals
        self.max_proposals = self.proposals + bound
        self.status = "complete"
        while True:
            self._drain()
            if self.status != "complete" or not self.dirty:
                break
            p = self.dirty.pop()
            self.dirty_flag[p] = 0
            self._repair(p)
        self.status = "cycle_detected"
        self.max_proposals = bound

    def _drain(self) -> None:
        if self.tracer is None:
            self._drain_fast()
        else:
            self._drain_traced()

    def _drain_fast(self) -> None:
        """``_drain_traced`` without the trace: the singles' turn is the hot loop at NRMP scale.

        Same steps, fewer operations: counters are derived from positions instead of being
        incremented per proposal, and the work bound is checked once per turn.
        """
        inst = self.inst
        aprefs = inst.applicant_prefs
        prank = inst.program_rank
        plist = inst.program_prefs
        cap = inst.positions
        couple_of = inst.couple_of
        heaps = self.heaps
        thr = self.thr
        assign = self.assign
        apos = self.apos
        nxt = self.nxt
        on_stack = self.on_stack
        stack = self.stack
        pop = stack.pop
        push = stack.append
        open_ = _OPEN
        proposals = holds = displacements = iterations = 0
        budget = self.max_proposals - self.proposals
        while stack:
            if proposals > budget:
                self.status = "cycle_detected"
                break
            x = pop()
            iterations += 1
            if x < 0:
                if self.winding_down:
                    self.c_on_stack[~x] = 0
                    continue
                before = self.proposals
                self._couple_turn(~x)
                budget -= self.proposals - before
                continue
            on_stack[x] = 0
            cur = assign[x]
            i = start = nxt[x]
            lst = aprefs[x]
            for p in lst[start : apos[x] if cur >= 0 else len(lst)]:
                i += 1
                r = prank[p].get(x, open_)
                if r < thr[p]:
                    h = heaps[p]
                    if len(h) < cap[p]:
                        heappush(h, -r)
                        if len(h) == cap[p]:
                            thr[p] = -h[0]
                    else:
                        d = plist[p][-heapreplace(h, -r)]
                        thr[p] = -h[0]
                        displacements += 1
                        if couple_of[d] < 0:
                            assign[d] = -1
                            if not on_stack[d]:
                                on_stack[d] = 1
                                push(d)
                        else:
                            self._member_displaced(d)
                    holds += 1
                    if cur >= 0:
                        self._leave(x, cur)
                    assign[x] = p
                    apos[x] = i - 1
                    nxt[x] = i
                    break
            else:
                nxt[x] = apos[x] + 1 if cur >= 0 else i
            proposals += i - start
        self.proposals += proposals
        self.rejections += proposals - holds
        self.displacements += displacements
        self.iterations += iterations

    def _drain_traced(self) -> None:
        """Process the applicant stack until it is empty or the work bound is hit, recording a trace."""
        inst = self.inst
        aprefs = inst.applicant_prefs
        prank = inst.program_rank
        plist = inst.program_prefs
        cap = inst.positions
        couple_of = inst.couple_of
        heaps = self.heaps
        thr = self.thr
        assign = self.assign
        apos = self.apos
        nxt = self.nxt
        on_stack = self.on_stack
        stack = self.stack
        pop = stack.pop
        push = stack.append
        tr = self.tracer
        maxp = self.max_proposals
        proposals = rejections = displacements = iterations = 0
        while stack:
            if proposals + self.proposals > maxp:
                self.status = "cycle_detected"
                break
            x = pop()
            iterations += 1
            if x < 0:
                if self.winding_down:
                    self.c_on_stack[~x] = 0
                    continue
                self._couple_turn(~x)
                continue
            on_stack[x] = 0
            lst = aprefs[x]
            cur = assign[x]
            end = apos[x] if cur >= 0 else len(lst)
            i = nxt[x]
            moved = -1
            while i < end:
                p = lst[i]
                i += 1
                proposals += 1
                if tr is not None:
                    tr.propose(x, p, i)
                r = prank[p].get(x, _OPEN)
                if r >= thr[p]:
                    rejections += 1
                    if tr is not None:
                        if r == _OPEN:
                            tr.reject_unranked(x, p)
                        else:
                            tr.reject_full(x, p)
                    continue
                h = heaps[p]
                if len(h) < cap[p]:
                    heappush(h, -r)
                    if len(h) == cap[p]:
                        thr[p] = -h[0]
                    if tr is not None:
                        tr.hold(x, p, len(h))
                else:
                    d = plist[p][-heapreplace(h, -r)]
                    thr[p] = -h[0]
                    displacements += 1
                    if tr is not None:
                        tr.displace(x, p, d)
                    if couple_of[d] < 0:
                        assign[d] = -1
                        if not on_stack[d]:
                            on_stack[d] = 1
                            push(d)
                    else:
                        self._member_displaced(d)
                moved = p
                break
            if moved >= 0:
                if cur >= 0:
                    self._leave(x, cur)
                assign[x] = moved
                apos[x] = i - 1
                nxt[x] = i
            elif cur >= 0:
                nxt[x] = end + 1
            else:
                nxt[x] = i
                if tr is not None:
                    tr.exhausted(x)
        self.proposals += proposals
        self.rejections += rejections
        self.displacements += displacements
        self.iterations += iterations

    # Shared helpers --------------------------------------------------------------------

    def _mark_dirty(self, p: int) -> None:
        if not self.dirty_flag[p]:
            self.dirty_flag[p] = 1
            self.dirty.append(p)

    def _sync(self, p: int) -> None:
        h = self.heaps[p]
        capacity = self.inst.positions[p]
        self.thr[p] = -h[0] if len(h) >= capacity > 0 else (_OPEN if capacity > 0 else -1)

    def _heap_remove(self, p: int, a: int) -> None:
        h = self.heaps[p]
        h.remove(-self.inst.program_rank[p][a])
        heapify(h)
        self._sync(p)

    def _leave(self, a: int, p: int) -> None:
        """Single ``a`` gives up its place at ``p`` for a program it prefers."""
        self._heap_remove(p, a)
        if self.tracer is not None:
            self.tracer.leave(a, p)
        self._mark_dirty(p)

    def _member_displaced(self, d: int) -> None:
        """A couple member lost its place: the couple withdraws its partner and goes back on the stack."""
        inst = self.inst
        c = inst.couple_of[d]
        a1, a2 = inst.couple_members[c]
        partner = a2 if d == a1 else a1
        pair = inst.couple_prefs[c][self.chold[c]]
        self.assign[d] = -1
        q = self.assign[partner]
        if q >= 0:
            self._heap_remove(q, partner)
            self.assign[partner] = -1
            self._mark_dirty(q)
        self.withdrawals += 1
        self.chold[c] = -1
        if self.tracer is not None:
            self.tracer.couple_withdraw(c, d, pair)
        if not self.c_on_stack[c]:
            self.c_on_stack[c] = 1
            self.stack.append(~c)

    def _evict_into(self, p: int, a: int, r: int) -> None:
        """Insert ``a`` (rank ``r``) at ``p``, displacing the worst held applicant if full."""
        h = self.heaps[p]
        if len(h) < self.inst.positions[p]:
            heappush(h, -r)
            self._sync(p)
            return
        d = self.inst.program_prefs[p][-heapreplace(h, -r)]
        self._sync(p)
        self.displacements += 1
        if self.tracer is not None:
            self.tracer.displace(a, p, d)
        if self.inst.couple_of[d] < 0:
            self.assign[d] = -1
            if not self.on_stack[d]:
                self.on_stack[d] = 1
                self.stack.append(d)
        else:
            self._member_displaced(d)

    def _room(self, p: int, ranks: tuple[int, ...]) -> bool:
        """Would ``p`` accept new applicants with these ranks (all of them) given what it holds?"""
        h = self.heaps[p]
        capacity = self.inst.positions[p]
        need = len(ranks)
        if len(h) + need <= capacity:
            return True
        if need > capacity:
            return False
        worst_new = max(ranks)
        better = sum(1 for v in h if -v < worst_new)
        return better + need <= capacity

    # Couples ---------------------------------------------------------------------------

    def _couple_turn(self, c: int) -> None:
        self.c_on_stack[c] = 0
        inst = self.inst
        pairs = inst.couple_prefs[c]
        hold = self.chold[c]
        end = hold if hold >= 0 else len(pairs)
        j = start = self.cnext[c]
        if hold < 0 and self.tracer is None:
            # Most pairs are refused by one side: test that cheaply and try a pair in full only
            # when each program named would take its partner on its own.
            a1, a2 = inst.couple_members[c]
            prank = inst.program_rank
            thr = self.thr
            open_ = _OPEN
            accepted = False
            while j < end:
                p1, p2 = pairs[j]
                if (p1 == NO_PROGRAM or prank[p1].get(a1, open_) < thr[p1]) and (
                    p2 == NO_PROGRAM or prank[p2].get(a2, open_) < thr[p2]
                ):
                    if self._try_pair(c, j):
                        accepted = True
                        break
                j += 1
            self.proposals += j - start + accepted
            self.rejections += j - start
            if not accepted:
                self.cnext[c] = j
            return
        while j < end:
            self.proposals += 1
            if self._try_pair(c, j):
                return
            self.rejections += 1
            j += 1
        if hold >= 0:
            self.cnext[c] = hold + 1
        else:
            self.cnext[c] = j
            if self.tracer is not None:
                self.tracer.couple_exhausted(c)

    def _try_pair(self, c: int, j: int) -> bool:
        inst = self.inst
        tr = self.tracer
        a1, a2 = inst.couple_members[c]
        pair = inst.couple_prefs[c][j]
        p1, p2 = pair
        if tr is not None:
            tr.couple_propose(c, pair, j + 1)
        r1 = r2 = -1
        if p1 != NO_PROGRAM:
            got = inst.program_rank[p1].get(a1)
            if got is None:
                if tr is not None:
                    tr.couple_reject(c, pair, f"{inst.program_ids[p1]} did not rank {inst.applicant_ids[a1]}")
                return False
            r1 = got
        if p2 != NO_PROGRAM:
            got = inst.program_rank[p2].get(a2)
            if got is None:
                if tr is not None:
                    tr.couple_reject(c, pair, f"{inst.program_ids[p2]} did not rank {inst.applicant_ids[a2]}")
                return False
            r2 = got

        # A couple already holding a pair (sent back by a re-entry) keeps it while it tries better
        # pairs: take its own places out for the test, and put them back if the new pair fails.
        hold = self.chold[c]
        q1 = self.assign[a1] if hold >= 0 else NO_PROGRAM
        q2 = self.assign[a2] if hold >= 0 else NO_PROGRAM
        if q1 != NO_PROGRAM:
            self._heap_remove(q1, a1)
        if q2 != NO_PROGRAM:
            self._heap_remove(q2, a2)

        if p1 != NO_PROGRAM and p1 == p2:
            ok = self._room(p1, (r1, r2))
            failed = p1
        else:
            ok = True
            failed = NO_PROGRAM
            if p1 != NO_PROGRAM and r1 >= self.thr[p1]:
                ok, failed = False, p1
            elif p2 != NO_PROGRAM and r2 >= self.thr[p2]:
                ok, failed = False, p2
        if not ok:
            if q1 != NO_PROGRAM:
                heappush(self.heaps[q1], -inst.program_rank[q1][a1])
                self._sync(q1)
            if q2 != NO_PROGRAM:
                heappush(self.heaps[q2], -inst.program_rank[q2][a2])
                self._sync(q2)
            if tr is not None:
                name = inst.program_ids[failed]
                if p1 == p2:
                    reason = f"{name} does not have room for both partners"
                else:
                    who = inst.applicant_ids[a1 if failed == p1 else a2]
                    reason = f"{name}'s positions are held by applicants it prefers to {who}"
                tr.couple_reject(c, pair, reason)
            return False

        self.assign[a1] = p1
        self.assign[a2] = p2
        self.chold[c] = j
        self.cnext[c] = j + 1
        if p1 != NO_PROGRAM and p1 == p2:
            # The better-ranked partner goes in first so the second never displaces the first.
            first, second = ((a1, r1), (a2, r2)) if r1 < r2 else ((a2, r2), (a1, r1))
            self._evict_into(p1, *first)
            self._evict_into(p1, *second)
        else:
            if p1 != NO_PROGRAM:
                self._evict_into(p1, a1, r1)
            if p2 != NO_PROGRAM:
                self._evict_into(p2, a2, r2)
        # Places the couple left may now take someone refused earlier; so may a program where one
        # partner took the other's place (the newcomer may rank lower).
        for q in (q1, q2):
            if q != NO_PROGRAM:
                self._mark_dirty(q)
        if tr is not None:
            tr.couple_hold(c, pair)
        return True

    # Re-entry after a withdrawal -------------------------------------------------------

    def _repair(self, p: int) -> None:
        """Send back those who prefer ``p`` to their current result and whom ``p`` would now take.

        Only programs that lost someone without a replacement get here (couple withdrawals, a single
        moving up after a re-entry, a partner taking the other's place); never in a singles-only Match.
        Singles are sent back only as far down ``p``'s list as it has places: the stack is empty
        now, so each one applies to ``p`` first and the ones further down would be refused.
        """
        inst = self.inst
        capacity = inst.positions[p]
        if capacity == 0:
            return
        plist = inst.program_prefs[p]
        tr = self.tracer
        assign = self.assign
        singles: list[int] = []
        couples: list[tuple[int, int]] = []
        taken = 0  # places at p that held applicants and single candidates above this rank fill
        for x in plist:
            if taken >= capacity:
                break
            if assign[x] == p:
                taken += 1
                continue
            c = inst.couple_of[x]
            if c >= 0 and self.winding_down:
                continue
            if c < 0:
                prefs = inst.applicant_prefs[x]
                try:
                    pos = prefs.index(p)
                except ValueError:
                    continue
                if assign[x] >= 0 and self.apos[x] < pos:
                    continue  # prefers where it is
                if self.nxt[x] <= pos:
                    continue  # has not applied there yet and will
                self.nxt[x] = pos
                singles.append(x)
                taken += 1
            else:
                if self.c_reentries[c] >= self.max_couple_reentries:
                    continue  # stopped: this couple keeps cycling
                a1, _a2 = inst.couple_members[c]
                side = 0 if x == a1 else 1
                pairs = inst.couple_prefs[c]
                hold = self.chold[c]
                stop = min(self.cnext[c], hold if hold >= 0 else len(pairs))
                for j in range(stop):
                    if pairs[j][side] == p:
                        self.cnext[c] = j
                        couples.append((c, j))
                        self.c_reentries[c] += 1
                        if self.c_reentries[c] == self.max_couple_reentries:
                            self.stopped_couples.append(c)
                            if tr is not None:
                                tr.couple_stopped(c, self.max_couple_reentries)
                        break
        # Push so that the program's most preferred candidate applies first.
        for c, j in reversed(couples):
            self.reentries += 1
            if tr is not None:
                tr.couple_reenter(c, p, inst.couple_prefs[c][j])
            if not self.c_on_stack[c]:
                self.c_on_stack[c] = 1
                self.stack.append(~c)
        for x in reversed(singles):
            self.reentries += 1
            if tr is not None:
                tr.reenter(x, p)
            if not self.on_stack[x]:
                self.on_stack[x] = 1
                self.stack.append(x)


def run_match(inst: MatchInstance, *, trace: bool = False, options: MatchOptions | None = None) -> MatchResult:
    """Run the Match on a validated instance and check the stability of the result."""
    opts = options or MatchOptions()
    if opts.max_proposals is not None:
        max_proposals = opts.max_proposals
    else:
        max_proposals = opts.work_factor * inst.total_ranks + L.WORK_SLACK
    n = len(inst.applicant_ids)
    notes: list[str] = []
    tracer: Tracer | None = None
    if trace:
        if n <= L.TRACE_MAX_APPLICANTS:
            tracer = Tracer(inst)
        else:
            notes.append(
                f"A step-by-step trace is only produced for up to {L.TRACE_MAX_APPLICANTS} applicants "
                f"(this Match has {n})."
            )
    with gc_paused():
        state = _Run(inst, max_proposals, tracer, opts.max_couple_reentries)
        state.run()
        if state.hit_bound:
            notes.append(
                f"The work bound of {state.max_proposals} proposals was reached: couples kept displacing "
                "one another. Couples were then left where they were and the singles settled around them."
            )
        if state.stopped_couples:
            state.status = "cycle_detected"
            names = [
                " & ".join(inst.applicant_ids[a] for a in inst.couple_members[c]) for c in state.stopped_couples[:10]
            ]
            more = len(state.stopped_couples) - len(names)
            notes.append(
                f"{len(state.stopped_couples)} couple(s) kept being displaced and re-applying in a cycle and were "
                f"not sent back again after {opts.max_couple_reentries} re-entries: {', '.join(names)}"
                + (f" and {more} more" if more > 0 else "")
                + "."
            )
        if tracer is not None and tracer.truncated:
            notes.append(f"The trace was cut after {L.TRACE_MAX_EVENTS} events.")
        stability = check_stability(inst, state.assign, state.apos, state.chold, state.heaps, status=state.status)
        return _build_result(inst, state, stability, tracer, notes)


def _build_result(
    inst: MatchInstance,
    state: _Run,
    stability: StabilityReport,
    tracer: Tracer | None,
    notes: list[str],
) -> MatchResult:
    aids = inst.applicant_ids
    pids = inst.program_ids
    assign = state.assign
    named: list[str | None] = [*pids, None]  # index -1 (unmatched) reads None
    assignments: dict[str, str | None] = {aid: named[p] for aid, p in zip(aids, assign, strict=True)}
    matched = len(assign) - assign.count(-1)
    programs = []
    filled = 0
    for p, pid in enumerate(pids):
        plist = inst.program_prefs[p]
        held = [-v for v in state.heaps[p]]
        held.sort()
        filled += len(held)
        programs.append(
            ProgramResult(
                id=pid,
                positions=inst.positions[p],
                matched=tuple([aids[plist[r]] for r in held]),
                unfilled=inst.positions[p] - len(held),
            )
        )
    total_positions = sum(inst.positions)
    couples = []
    couples_matched = 0
    for c, (a1, a2) in enumerate(inst.couple_members):
        j = state.chold[c]
        if j >= 0:
            couples_matched += 1
            q1, q2 = inst.couple_prefs[c][j]
            pair = (pids[q1] if q1 != NO_PROGRAM else None, pids[q2] if q2 != NO_PROGRAM else None)
            couples.append(CoupleResult(members=(aids[a1], aids[a2]), matched_pair=pair, rank=j + 1))
        else:
            couples.append(CoupleResult(members=(aids[a1], aids[a2]), matched_pair=None, rank=None))
    counts = Counts(
        applicants=len(aids),
        matched=matched,
        unmatched=len(aids) - matched,
        programs=len(pids),
        positions=total_positions,
        filled=filled,
        unfilled=total_positions - filled,
        couples=len(inst.couple_members),
        couples_matched=couples_matched,
    )
    work = Work(
        proposals=state.proposals,
        rejections=state.rejections,
        displacements=state.displacements,
        withdrawals=state.withdrawals,
        reentries=state.reentries,
        couples_stopped=len(state.stopped_couples),
        iterations=state.iterations,
        max_proposals=state.max_proposals,
    )
    return MatchResult(
        status=state.status,
        assignments=assignments,
        programs=tuple(programs),
        couples=tuple(couples),
        counts=counts,
        stability=stability,
        work=work,
        trace=tuple(tracer.events) if tracer is not None else None,
        notes=tuple(notes),
    )
