"""Generated facts of every shape: the engines never fail, agree with each other and stay deterministic."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.pathway import (
    CandidateFacts,
    ListEntryFact,
    MilestoneFact,
    OetScores,
    ProgramFact,
    UsceFact,
    cohort_summary,
    load_rulebook,
    next_step,
    readiness,
    screen,
    timeline,
    to_icalendar,
)
from app.pathway.catalogue import MILESTONE_CODES
from app.pathway.facts import MILESTONE_STATUSES, USCE_KINDS

BOOK = load_rulebook()
SPECIALTIES = ("internal_medicine", "family_medicine", "pediatrics", "psychiatry", "neurology")


def days(lo: date, hi: date) -> st.SearchStrategy[date]:
    return st.dates(min_value=lo, max_value=hi)


maybe_day = st.none() | days(date(2012, 1, 1), date(2031, 12, 31))
oet_scores = st.builds(OetScores, *(st.integers(0, 500) for _ in range(4)))
milestones = st.builds(
    MilestoneFact,
    code=st.sampled_from(MILESTONE_CODES),
    status=st.sampled_from(MILESTONE_STATUSES),
    attempt=st.none() | st.integers(1, 6),
    scheduled_on=maybe_day,
    completed_on=maybe_day,
    score=st.none() | st.integers(150, 300),
    oet=st.none() | oet_scores,
    pathway=st.none() | st.sampled_from(("1", "2", "3", "4", "5", "6")),
    match_outcome=st.none() | st.sampled_from(("matched", "unmatched")),
    visa_type=st.none() | st.sampled_from(("j1", "h1b")),
)


@st.composite
def usce_facts(draw: st.DrawFn) -> UsceFact:
    start = draw(days(date(2018, 1, 1), date(2031, 1, 1)))
    return UsceFact(draw(st.sampled_from(USCE_KINDS)), draw(st.booleans()),
                    draw(st.none() | st.sampled_from(SPECIALTIES)), start,
                    start + timedelta(days=draw(st.integers(-5, 200))), draw(st.booleans()))


opt_bool = st.none() | st.booleans()
programs = st.builds(
    ProgramFact,
    program_id=st.text("abc123", min_size=1, max_size=6),
    name=st.text(min_size=1, max_size=12),
    specialty=st.sampled_from(SPECIALTIES),
    track=st.sampled_from(("categorical", "preliminary", "advanced", "transitional")),
    sponsors_j1=opt_bool,
    sponsors_h1b=opt_bool,
    max_years_since_graduation=st.none() | st.integers(0, 20),
    min_step2ck=st.none() | st.integers(200, 260),
    first_attempt_only=opt_bool,
    max_attempts=st.none() | st.integers(1, 4),
    usce_required=opt_bool,
    usce_min_weeks=st.none() | st.integers(0, 24),
    usce_hands_on_only=opt_bool,
    usce_recency_months=st.none() | st.integers(1, 36),
    min_letters=st.none() | st.integers(0, 4),
    ecfmg_cert_required_by=st.none() | st.sampled_from(("application", "rank_deadline", "start")),
    step3_required_by=st.none() | st.sampled_from(("application", "rank_deadline", "match_day")),
)
entries = st.builds(ListEntryFact, program=programs,
                    status=st.sampled_from(("considering", "applied", "interview", "ranked", "withdrawn")),
                    signal=st.none() | st.sampled_from(("gold", "silver")),
                    rank_position=st.none() | st.integers(1, 40), list_id=st.none() | st.just("l1"))
candidates = st.builds(
    CandidateFacts,
    us_status=st.sampled_from(("citizen", "permanent_resident", "none")),
    graduation_on=maybe_day,
    target_specialties=st.lists(st.sampled_from(SPECIALTIES), max_size=2).map(tuple),
    target_match_year=st.none() | st.integers(2026, 2031),
    visa_need=st.sampled_from(("none", "j1", "h1b", "either")),
    milestones=st.lists(milestones, max_size=14).map(tuple),
    usce=st.lists(usce_facts(), max_size=4).map(tuple),
    entries=st.lists(entries, max_size=8).map(tuple),
    other_us_letters=st.integers(0, 3),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(facts=candidates, cycle=st.sampled_from(BOOK.years), as_of=days(date(2025, 1, 1), date(2031, 8, 1)))
def test_engines_hold_together(facts: CandidateFacts, cycle: int, as_of: date) -> None:
    step = next_step(facts, BOOK, cycle, as_of)
    ready = readiness(facts, BOOK, cycle, as_of)
    screening = screen(facts, facts.entries, BOOK, cycle, as_of)
    line = timeline(facts, BOOK, cycle, as_of)
    row = cohort_summary(facts, BOOK, cycle, as_of)

    assert step == next_step(facts, BOOK, cycle, as_of)
    assert ready == readiness(facts, BOOK, cycle, as_of)
    assert 0 <= ready.score <= 100
    assert (ready.status == "not_ready") == bool(ready.blockers)
    assert step.blockers == ready.blockers
    assert step.cycle_reachable == (not any(b.blocks_cycle for b in step.blockers))
    if step.cycle_reachable:
        assert step.planning_cycle == cycle
        assert step.earliest_feasible_cycle is not None and step.earliest_feasible_cycle <= cycle
    else:
        assert step.earliest_feasible_cycle != cycle
    if step.next_step is not None:
        assert step.next_step.code not in {c.code for c in step.completed}
    summary = screening.summary
    assert summary.eligible + summary.excluded + summary.unknown == summary.total == len(facts.entries)
    keys = [(i.on, i.code, i.kind) for i in line.items]
    assert keys == sorted(keys)
    assert all(len(x.encode()) <= 75 for x in to_icalendar(line, "c").split("\r\n"))
    assert (row.status, row.score) == (ready.status, ready.score)
