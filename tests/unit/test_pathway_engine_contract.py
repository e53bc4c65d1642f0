"""Cross-cutting guarantees: determinism, input-order independence, response schemas, cohort rows."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import pytest
from pydantic import ValidationError

from app.pathway import (
    UnknownCycle,
    WhatIf,
    cohort_summary,
    next_step,
    readiness,
    screen,
    timeline,
)
from app.pathway.schemas import (
    CohortRowPublic,
    MatchCycleList,
    MatchCyclePublic,
    NextStepPublic,
    ReadinessPublic,
    ScreeningPublic,
    TimelinePublic,
    WhatIfParams,
)

from .test_pathway_situations import AS_OF, BOOK, CASES, Case, full

# Purity (no framework, ORM or settings imports) is checked on the import graph: tests/unit/test_import_graph.py.


def _all(case: Case) -> tuple[object, ...]:
    return (
        next_step(case.facts, BOOK, case.cycle, case.as_of),
        readiness(case.facts, BOOK, case.cycle, case.as_of, what_if=WhatIf(extra_programs=3)),
        screen(case.facts, case.facts.entries, BOOK, case.cycle, case.as_of),
        timeline(case.facts, BOOK, case.cycle, case.as_of),
        cohort_summary(case.facts, BOOK, case.cycle, case.as_of),
    )


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_deterministic_and_independent_of_input_order(case: Case) -> None:
    first = _all(case)
    assert _all(case) == first
    shuffled = replace(case.facts, milestones=case.facts.milestones[::-1], usce=case.facts.usce[::-1],
                       entries=case.facts.entries[::-1])
    assert _all(replace(case, facts=shuffled)) == first


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_public_schemas_convert_every_result(case: Case) -> None:
    step, ready, screening, line, row = _all(case)
    dumped = [
        NextStepPublic.from_result(step).model_dump(mode="json"),  # type: ignore[arg-type]
        ReadinessPublic.from_result(ready).model_dump(mode="json"),  # type: ignore[arg-type]
        ScreeningPublic.from_result(screening).model_dump(mode="json"),  # type: ignore[arg-type]
        TimelinePublic.from_result(line).model_dump(mode="json"),  # type: ignore[arg-type]
        CohortRowPublic.from_result(row).model_dump(mode="json"),  # type: ignore[arg-type]
    ]
    for body in dumped:
        assert body["rules_version"].startswith(str(body["cycle"] if "planning_cycle" not in body else case.cycle))
        assert body["as_of"] == case.as_of.isoformat()
        json.dumps(body)
    assert dumped[1]["model_version"] == "readiness-1.0"
    assert dumped[1]["delta"] == dumped[1]["score"] - dumped[1]["baseline_score"]


def test_cohort_row_matches_the_engines() -> None:
    for case in CASES:
        row = cohort_summary(case.facts, BOOK, case.cycle, case.as_of)
        step = next_step(case.facts, BOOK, case.cycle, case.as_of)
        ready = readiness(case.facts, BOOK, case.cycle, case.as_of)
        assert (row.status, row.score, row.earliest_feasible_cycle) == (
            ready.status, ready.score, ready.earliest_feasible_cycle), case.id
        assert row.next_step_code == (step.next_step.code if step.next_step else None), case.id
        assert row.next_step_due_by == (step.next_step.due_by if step.next_step else None), case.id
        assert row.blocker_code == (step.blockers[0].code if step.blockers else None), case.id


def test_unknown_cycle_is_refused_by_every_engine() -> None:
    facts = full()
    for call in (next_step, readiness, timeline, cohort_summary):
        with pytest.raises(UnknownCycle):
            call(facts, BOOK, 2040, AS_OF)  # type: ignore[operator]
    with pytest.raises(UnknownCycle):
        screen(facts, facts.entries, BOOK, 2025, AS_OF)


def test_match_cycle_schemas_carry_sources_and_estimated_flags() -> None:
    listing = MatchCycleList.from_rulebook(BOOK)
    assert (listing.total, listing.limit, listing.offset) == (6, 20, 0)
    assert [c.year for c in listing.items] == [2026, 2027, 2028, 2029, 2030, 2031]
    c2026 = MatchCyclePublic.from_rules(BOOK.cycle(2026))
    dates = {d.name: d for d in c2026.dates}
    assert dates["match_day"].on == date(2026, 3, 20) and not dates["match_day"].estimated
    assert dates["ranking_open"].estimated and dates["ranking_open"].pattern
    assert dates["rol_deadline"].time == "21:00" and dates["rol_deadline"].time_zone == "America/New_York"
    assert all(d.source and d.verified_on for d in c2026.dates)
    assert MatchCyclePublic.from_rules(BOOK.cycle(2029)).pathways_available_estimated
    assert MatchCycleList.from_rulebook(BOOK, limit=2, offset=4).model_dump()["total"] == 6


def test_what_if_params_forbid_extra_and_bound_values() -> None:
    params = WhatIfParams(extra_usce_weeks_hands_on=8, step2ck_score=240)
    assert params.to_what_if() == WhatIf(extra_usce_weeks_hands_on=8, step2ck_score=240)
    for bad in ({"extra_programs": -1}, {"step2ck_score": 301}, {"extra_us_letters": 11}, {"hours": 3},
                {"extra_usce_weeks_hands_on": 105}):
        with pytest.raises(ValidationError):
            WhatIfParams(**bad)  # type: ignore[arg-type]
