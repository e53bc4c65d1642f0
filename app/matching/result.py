"""Result types of a Match run and their plain-dict form (the endpoint's JSON)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Status = Literal["complete", "cycle_detected"]


@dataclass(frozen=True, slots=True)
class ProgramResult:
    id: str
    positions: int
    matched: tuple[str, ...]  # in the program's order of preference
    unfilled: int


@dataclass(frozen=True, slots=True)
class CoupleResult:
    members: tuple[str, str]
    # The pair the couple matched to (either side may be None = no match for that partner),
    # or None if the couple is unmatched.
    matched_pair: tuple[str | None, str | None] | None
    rank: int | None  # 1-based position of that pair on the couple's list


@dataclass(frozen=True, slots=True)
class Counts:
    """Totals; ``couples_matched`` counts couples holding a pair (one side may be "no match")."""

    applicants: int
    matched: int
    unmatched: int
    programs: int
    positions: int
    filled: int
    unfilled: int
    couples: int
    couples_matched: int


@dataclass(frozen=True, slots=True)
class BlockingPair:
    """A single applicant and a program who both prefer each other to what they got."""

    applicant: str
    program: str


@dataclass(frozen=True, slots=True)
class BlockingCouple:
    """A couple and a pair on its list that it prefers, which both programs would accept."""

    members: tuple[str, str]
    programs: tuple[str | None, str | None]


@dataclass(frozen=True, slots=True)
class StabilityReport:
    stable: bool
    blocking_pairs: tuple[BlockingPair, ...]  # at most MAX_REPORTED_BLOCKING listed
    blocking_pairs_total: int
    blocking_couples: tuple[BlockingCouple, ...]
    blocking_couples_total: int
    message: str


@dataclass(frozen=True, slots=True)
class Work:
    proposals: int  # an applicant applying to a program, or a couple applying to a pair
    rejections: int
    displacements: int  # a tentatively held applicant removed for a preferred one
    withdrawals: int  # a couple partner withdrawn because the other partner was displaced
    reentries: int  # applicants or couples sent back to a program where a position opened up
    couples_stopped: int  # couples no longer sent back because they kept cycling
    iterations: int  # turns taken by applicants and couples
    max_proposals: int  # the work bound


@dataclass(frozen=True, slots=True)
class TraceEvent:
    step: int
    event: str
    text: str
    applicant: str | None = None
    program: str | None = None
    displaced: str | None = None
    couple: tuple[str, str] | None = None
    programs: tuple[str | None, str | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"step": self.step, "event": self.event}
        if self.applicant is not None:
            out["applicant"] = self.applicant
        if self.program is not None:
            out["program"] = self.program
        if self.displaced is not None:
            out["displaced"] = self.displaced
        if self.couple is not None:
            out["couple"] = list(self.couple)
        if self.programs is not None:
            out["programs"] = list(self.programs)
        out["text"] = self.text
        return out


@dataclass(frozen=True, slots=True)
class MatchResult:
    status: Status
    # Every applicant in input order -> program id, or None when unmatched.
    assignments: dict[str, str | None]
    programs: tuple[ProgramResult, ...]
    couples: tuple[CoupleResult, ...]
    counts: Counts
    stability: StabilityReport
    work: Work
    trace: tuple[TraceEvent, ...] | None
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return result_to_dict(self)


def result_to_dict(result: MatchResult) -> dict[str, Any]:
    """The JSON-ready form of a result. Key order is fixed, so the same input gives the same bytes."""
    c = result.counts
    s = result.stability
    w = result.work
    return {
        "status": result.status,
        "assignments": dict(result.assignments),
        "programs": [
            {"id": p.id, "positions": p.positions, "matched": list(p.matched), "unfilled": p.unfilled}
            for p in result.programs
        ],
        "couples": [
            {
                "members": list(cr.members),
                "matched_pair": list(cr.matched_pair) if cr.matched_pair is not None else None,
                "rank": cr.rank,
            }
            for cr in result.couples
        ],
        "counts": {
            "applicants": c.applicants,
            "matched": c.matched,
            "unmatched": c.unmatched,
            "programs": c.programs,
            "positions": c.positions,
            "filled": c.filled,
            "unfilled": c.unfilled,
            "couples": c.couples,
            "couples_matched": c.couples_matched,
        },
        "stability": {
            "stable": s.stable,
            "blocking_pairs": [{"applicant": b.applicant, "program": b.program} for b in s.blocking_pairs],
            "blocking_pairs_total": s.blocking_pairs_total,
            "blocking_couples": [
                {"members": list(b.members), "programs": list(b.programs)} for b in s.blocking_couples
            ],
            "blocking_couples_total": s.blocking_couples_total,
            "message": s.message,
        },
        "work": {
            "proposals": w.proposals,
            "rejections": w.rejections,
            "displacements": w.displacements,
            "withdrawals": w.withdrawals,
            "reentries": w.reentries,
            "couples_stopped": w.couples_stopped,
            "iterations": w.iterations,
            "max_proposals": w.max_proposals,
        },
        "trace": [e.to_dict() for e in result.trace] if result.trace is not None else None,
        "notes": list(result.notes),
    }
