"""Cohort summary: one cheap row per candidate for an adviser's dashboard.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

from datetime import date

from .facts import CandidateFacts
from .next_step import due_and_deadline, pick
from .readiness import assess_scan
from .results import CohortRow
from .road import Profile, scan, title
from .rules import RuleBook


def cohort_summary(facts: CandidateFacts, book: RuleBook, cycle: int, as_of: date) -> CohortRow:
    """Status, score, next step and the most urgent blocker, from one evaluation of the road."""
    sc = scan(Profile(facts, as_of, cycle), book, cycle)
    assessed = assess_scan(sc, cycle, as_of)
    next_state, _, _ = pick(sc.planning)
    due_by = due_and_deadline(sc.planning, next_state)[0] if next_state is not None else None
    top = assessed.blockers[0] if assessed.blockers else None
    return CohortRow(
        cycle=cycle,
        as_of=as_of,
        rules_version=assessed.rules_version,
        rules_source=assessed.rules_source,
        status=assessed.status,
        score=assessed.score,
        earliest_feasible_cycle=sc.earliest,
        next_step_code=next_state.code if next_state else None,
        next_step_title=title(next_state.code) if next_state else None,
        next_step_due_by=due_by,
        blocker_code=top.code if top else None,
        blocker_detail=top.detail if top else None,
    )
