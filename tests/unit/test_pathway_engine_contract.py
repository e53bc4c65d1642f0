"""Cross-cutting guarantees: determinism, input-order independence, response schemas, cohort rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import fields, is_dataclass, replace
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any

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

PUBLIC: tuple[Any, ...] = (NextStepPublic, ReadinessPublic, ScreeningPublic, TimelinePublic, CohortRowPublic)

# Purity (no framework, ORM or settings imports) is checked on the import graph: tests/unit/test_import_graph.py.


def _all(case: Case) -> tuple[object, ...]:
    return (
        next_step(case.facts, BOOK, case.cycle, case.as_of),
        readiness(case.facts, BOOK, case.cycle, case.as_of, what_if=WhatIf(extra_programs=3)),
        screen(case.facts, case.facts.entries, BOOK, case.cycle, case.as_of),
        timeline(case.facts, BOOK, case.cycle, case.as_of),
        cohort_summary(case.facts, BOOK, case.cycle, case.as_of),
    )


def _answers(cases: list[Case]) -> list[str]:
    """What a client would receive for each case: the public JSON of every engine's answer."""
    return [json.dumps([m.from_result(r).model_dump(mode="json") for m, r in zip(PUBLIC, _all(c), strict=True)])
            for c in cases]


_ANSWERS_IN_A_FRESH_PROCESS = (
    "import json, sys\n"
    "from tests.unit.test_pathway_engine_contract import _answers\n"
    "from tests.unit.test_pathway_situations import CASES\n"
    "json.dump(_answers(CASES), sys.stdout)\n"
)


def test_deterministic_across_processes() -> None:
    """Same facts and as_of, same answer, in any process: no set or dict iteration order, no id, no clock leaks in
    (each process hashes strings with its own seed, so an order taken from a set of codes differs between them)."""
    here = _answers(CASES)
    root = Path(__file__).resolve().parents[2]
    for seed in ("1", "2", "3"):
        out = subprocess.run([sys.executable, "-c", _ANSWERS_IN_A_FRESH_PROCESS], cwd=root, capture_output=True,
                             text=True, timeout=300, check=True, env={**os.environ, "PYTHONHASHSEED": seed})
        differ = [c.id for c, a, b in zip(CASES, here, json.loads(out.stdout), strict=True) if a != b]
        assert differ == [], f"PYTHONHASHSEED={seed}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_independent_of_input_order(case: Case) -> None:
    shuffled = replace(case.facts, milestones=case.facts.milestones[::-1], usce=case.facts.usce[::-1],
                       entries=case.facts.entries[::-1])
    assert _all(replace(case, facts=shuffled)) == _all(case)


def _plain(value: Any) -> Any:
    """A result as the JSON a faithful conversion makes of it: dataclasses as objects of all their fields."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _lost(result: Any, body: Any, path: str) -> list[str]:
    """Where the public body drops or changes what the result says (it may add fields of its own)."""
    if isinstance(result, dict) and isinstance(body, dict):
        return [lost for k, v in result.items()
                for lost in ([f"{path}.{k} is missing"] if k not in body else _lost(v, body[k], f"{path}.{k}"))]
    if isinstance(result, list) and isinstance(body, list) and len(result) == len(body):
        return [lost for i, (r, b) in enumerate(zip(result, body, strict=True)) for lost in _lost(r, b, f"{path}[{i}]")]
    return [] if result == body else [f"{path}: {result!r} became {body!r}"]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_public_schemas_convert_every_result(case: Case) -> None:
    """Every field of every engine result reaches the client unchanged: a field the engine adds and the schema
    forgets, or one it renames or converts wrongly, fails here."""
    results = _all(case)
    dumped = [m.from_result(r).model_dump(mode="json") for m, r in zip(PUBLIC, results, strict=True)]
    for model, result, body in zip(PUBLIC, results, dumped, strict=True):
        assert _lost(_plain(result), body, model.__name__) == []
        assert body["rules_version"].startswith(str(body["cycle"] if "planning_cycle" not in body else case.cycle))
        assert body["as_of"] == case.as_of.isoformat()
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
