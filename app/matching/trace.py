"""Step-by-step trace of a run, worded the way the NRMP explains its algorithm."""

from __future__ import annotations

from . import limits as L
from .instance import NO_PROGRAM, MatchInstance
from .result import TraceEvent


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class Tracer:
    """Collects events; only created for small instances, so clarity beats speed here."""

    def __init__(self, inst: MatchInstance) -> None:
        self.inst = inst
        self.events: list[TraceEvent] = []
        self.truncated = False

    # Names -----------------------------------------------------------------------------

    def _a(self, a: int) -> str:
        return self.inst.applicant_ids[a]

    def _p(self, p: int) -> str:
        return self.inst.program_ids[p]

    def _pair(self, pair: tuple[int, int]) -> tuple[str | None, str | None]:
        return (
            None if pair[0] == NO_PROGRAM else self._p(pair[0]),
            None if pair[1] == NO_PROGRAM else self._p(pair[1]),
        )

    def _couple(self, c: int) -> tuple[str, str]:
        a1, a2 = self.inst.couple_members[c]
        return (self._a(a1), self._a(a2))

    def _pair_text(self, pair: tuple[int, int]) -> str:
        names = self._pair(pair)
        return "(" + ", ".join(n if n is not None else "no match" for n in names) + ")"

    def _filled(self, p: int, held: int) -> str:
        return f"{held} of {self.inst.positions[p]} position{'s' if self.inst.positions[p] != 1 else ''} filled"

    def _add(self, event: str, text: str, *, force: bool = False, **kw: object) -> None:
        if len(self.events) >= L.TRACE_MAX_EVENTS and not force:
            self.truncated = True
            return
        self.events.append(TraceEvent(step=len(self.events) + 1, event=event, text=text, **kw))  # type: ignore[arg-type]

    # Singles ---------------------------------------------------------------------------

    def propose(self, a: int, p: int, choice: int) -> None:
        self._add(
            "propose",
            f"{self._a(a)} applies to {self._p(p)} ({self._a(a)}'s {_ordinal(choice)} choice).",
            applicant=self._a(a),
            program=self._p(p),
        )

    def reject_unranked(self, a: int, p: int) -> None:
        self._add(
            "reject",
            f"{self._p(p)} did not rank {self._a(a)}, so {self._a(a)} is rejected.",
            applicant=self._a(a),
            program=self._p(p),
        )

    def reject_full(self, a: int, p: int) -> None:
        n = self.inst.positions[p]
        if n == 0:
            why = f"{self._p(p)} has no positions"
        else:
            why = f"{self._p(p)}'s {n} position{'s are' if n != 1 else ' is'} held by applicants it prefers"
        self._add(
            "reject",
            f"{why}, so {self._a(a)} is rejected.",
            applicant=self._a(a),
            program=self._p(p),
        )

    def hold(self, a: int, p: int, held: int) -> None:
        self._add(
            "hold",
            f"{self._p(p)} tentatively holds {self._a(a)} ({self._filled(p, held)}).",
            applicant=self._a(a),
            program=self._p(p),
        )

    def displace(self, a: int, p: int, d: int) -> None:
        self._add(
            "displace",
            f"{self._p(p)} prefers {self._a(a)} to {self._a(d)}: {self._a(d)} is removed and "
            f"{self._a(a)} is tentatively held.",
            applicant=self._a(a),
            program=self._p(p),
            displaced=self._a(d),
        )

    def leave(self, a: int, p: int) -> None:
        self._add(
            "leave",
            f"{self._a(a)} gives up the tentative place at {self._p(p)} for a program ranked higher.",
            applicant=self._a(a),
            program=self._p(p),
        )

    def exhausted(self, a: int) -> None:
        self._add(
            "unmatched",
            f"{self._a(a)} has no more programs to try and is unmatched for now.",
            applicant=self._a(a),
        )

    def reenter(self, a: int, p: int) -> None:
        self._add(
            "reenter",
            f"A position at {self._p(p)} opened up; {self._a(a)}, who ranked it higher than the current "
            f"result, applies there again.",
            applicant=self._a(a),
            program=self._p(p),
        )

    # Couples ---------------------------------------------------------------------------

    def couple_propose(self, c: int, pair: tuple[int, int], choice: int) -> None:
        a1, a2 = self._couple(c)
        self._add(
            "couple_propose",
            f"Couple {a1} & {a2} apply to {self._pair_text(pair)} (their {_ordinal(choice)} choice).",
            couple=(a1, a2),
            programs=self._pair(pair),
        )

    def couple_reject(self, c: int, pair: tuple[int, int], reason: str) -> None:
        a1, a2 = self._couple(c)
        self._add(
            "couple_reject",
            f"Couple {a1} & {a2} cannot hold {self._pair_text(pair)}: {reason}.",
            couple=(a1, a2),
            programs=self._pair(pair),
        )

    def couple_hold(self, c: int, pair: tuple[int, int]) -> None:
        a1, a2 = self._couple(c)
        both = pair[0] != NO_PROGRAM and pair[1] != NO_PROGRAM and pair[0] != pair[1]
        head = "Both programs accept" if both else f"{self._p(max(pair))} accepts"
        self._add(
            "couple_hold",
            f"{head}: couple {a1} & {a2} tentatively hold {self._pair_text(pair)}.",
            couple=(a1, a2),
            programs=self._pair(pair),
        )

    def couple_withdraw(self, c: int, displaced: int, pair: tuple[int, int]) -> None:
        a1, a2 = self._couple(c)
        self._add(
            "couple_withdraw",
            f"{self._a(displaced)} was displaced, so couple {a1} & {a2} withdraw from "
            f"{self._pair_text(pair)} and will try their next pair.",
            couple=(a1, a2),
            programs=self._pair(pair),
            displaced=self._a(displaced),
        )

    def couple_exhausted(self, c: int) -> None:
        a1, a2 = self._couple(c)
        self._add(
            "couple_unmatched",
            f"Couple {a1} & {a2} have no more pairs to try and are unmatched for now.",
            couple=(a1, a2),
        )

    def couple_reenter(self, c: int, p: int, pair: tuple[int, int]) -> None:
        a1, a2 = self._couple(c)
        self._add(
            "couple_reenter",
            f"A position at {self._p(p)} opened up; couple {a1} & {a2} apply again from {self._pair_text(pair)}.",
            couple=(a1, a2),
            program=self._p(p),
            programs=self._pair(pair),
        )

    def couple_stopped(self, c: int, times: int) -> None:
        a1, a2 = self._couple(c)
        self._add(
            "couple_stopped",
            f"Couple {a1} & {a2} have been sent back {times} times: they are cycling with other "
            f"applicants, so they will not be sent back again.",
            couple=(a1, a2),
        )

    def stopped(self, proposals: int) -> None:
        self._add(
            "stopped",
            f"The work bound of {proposals} proposals was reached: couples keep displacing one another "
            f"(a cycle), so the algorithm stops here.",
            force=True,
        )
