"""Readiness by stage of the road and one meaning per status (issue 8, sections 1 and 2), table-driven.

Dates from the rule files: 2027 cycle ERAS opens 2026-06-03, programs review from 2026-09-23, ROL deadline
2027-03-03, SOAP ends 2027-03-18, residency 2027-07-01; 2028 cycle ERAS submission opens 2027-09-01. Readiness
model (data): due_soon_days 30, competitiveness_window_days 120, thresholds on_track 50 / ready 75. The fixtures
(full(), CERTIFIED, ...) are worked out in test_pathway_situations.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.pathway import CandidateFacts, readiness
from app.pathway.results import STAGES

from .test_pathway_situations import (
    AS_OF,
    BOOK,
    CERTIFIED,
    ROL27,
    SON,
    done,
    facts,
    full,
    scheduled,
)

MATCHED = done("match_result", date(2027, 3, 19), match_outcome="matched")
UNMATCHED = done("match_result", date(2027, 3, 15), match_outcome="unmatched")
SOAP_UNMATCHED = done("soap", date(2027, 3, 18), match_outcome="unmatched")
VISA = done("visa", date(2027, 5, 15), visa_type="j1")
STARTED = done("residency_start", date(2027, 7, 1))


@pytest.mark.parametrize(("case", "candidate", "as_of", "stage"), [
    # Calendar boundaries of the 2027 cycle for the fully prepared J-1 candidate.
    ("day_before_eras_opens", full(), date(2026, 6, 2), "before_application_season"),
    ("eras_opens", full(), date(2026, 6, 3), "application_season"),
    ("day_before_review", full(), date(2026, 9, 22), "application_season"),
    ("programs_review", full(), date(2026, 9, 23), "interviews_and_ranking"),
    ("rol_deadline_day", full(ROL27), date(2027, 3, 3), "interviews_and_ranking"),
    ("after_rol_deadline", full(ROL27), date(2027, 3, 4), "match_week"),
    # Recorded outcomes decide over the calendar.
    ("unmatched_in_soap", full(ROL27, UNMATCHED), date(2027, 3, 16), "match_week"),
    ("unmatched_after_soap", full(ROL27, UNMATCHED, SOAP_UNMATCHED), date(2027, 3, 22), "unmatched"),
    ("matched", full(ROL27, MATCHED), date(2027, 3, 25), "matched"),
    ("in_residency", full(ROL27, MATCHED, VISA, STARTED), date(2027, 7, 10), "in_residency"),
    ("matched_past_start", full(ROL27, MATCHED, VISA), date(2027, 7, 2), "in_residency"),
])
def test_stage(case: str, candidate: CandidateFacts, as_of: date, stage: str) -> None:
    result = readiness(candidate, BOOK, 2027, as_of)
    assert result.stage == stage
    assert result.stage in STAGES and result.stage_advice


@pytest.mark.parametrize(("stage_case", "candidate", "as_of", "scored"), [
    ("before", full(), date(2026, 5, 1), True),
    ("ranking", full(), date(2026, 12, 1), True),
    ("match_week", full(ROL27), date(2027, 3, 10), False),
    ("matched", full(ROL27, MATCHED, entries=()), date(2027, 3, 25), False),
    ("in_residency", full(ROL27, MATCHED, VISA, STARTED), date(2027, 7, 10), False),
])
def test_factors_after_ranking_are_not_scored(stage_case: str, candidate: CandidateFacts, as_of: date,
                                              scored: bool) -> None:
    result = readiness(candidate, BOOK, 2027, as_of)
    credits = [f.credit for f in result.factors if f.weight > 0]
    if scored:
        assert all(c is not None for c in credits)
        return
    assert all(c is None for c in credits)
    assert all(f.note and "No longer applies" in f.note for f in result.factors)
    # A matched candidate is not told to build a list of 40 programs.
    assert not any("Build a list" in f.advice for f in result.factors)


@pytest.mark.parametrize(("case", "candidate", "as_of", "status", "score"), [
    # not_ready: Step 2 CK booked after the last safe sitting (2027-01-20); act by that date (resolvable_by).
    ("not_ready_resolvable", facts(*CERTIFIED[:2], scheduled("usmle_step2ck", date(2027, 3, 10)),
                                   *CERTIFIED[3:5]), AS_OF, "not_ready", None),
    # at_risk: NRMP registration's standard deadline 2027-01-31 is 30 days away on 2027-01-01 (due_soon_days 30).
    ("due_soon_30_days", full(drop=("nrmp_registration",)), date(2027, 1, 1), "at_risk", 96),
    # ... 31 days away: outside due_soon; everything else is met and the score 96 >= 75: ready.
    ("due_in_31_days", full(drop=("nrmp_registration",)), date(2026, 12, 31), "ready", 96),
    # Weak score (41 < 50) 120 days before ERAS submission (2027-09-01): close to the application, at_risk.
    ("weak_score_120_days", facts(*CERTIFIED, year=2028), date(2027, 5, 4), "at_risk", 41),
    # ... 121 days before: early; a low score is expected, every step fits: on_track.
    ("weak_score_121_days", facts(*CERTIFIED, year=2028), date(2027, 5, 3), "on_track", 41),
    # A student two years out (graduating 2029-06-30, 2030 Match) with nothing recorded: on_track, low score.
    ("student_two_years_out", facts(grad=date(2029, 6, 30), year=2030), AS_OF, "on_track", 22),
    # ready before ranking: hard gates met, score 96 >= 75, nothing due soon.
    ("ready_before_ranking", full(), AS_OF, "ready", 96),
    # Matched, certified, J-1 visa not yet issued but due only by 2027-05-02: on_track; checklist 1 of 2 -> 50.
    ("matched_visa_pending", full(ROL27, MATCHED, SON), date(2027, 3, 25), "on_track", 50),
    # Matched, visa not in hand 2027-04-10 with the latest safe date 2027-05-02 within 30 days: at_risk.
    ("matched_visa_due_soon", full(ROL27, MATCHED, SON), date(2027, 4, 10), "at_risk", 50),
    # Matched with certification and visa: everything this stage needs is done.
    ("matched_all_done", full(ROL27, MATCHED, VISA), date(2027, 5, 20), "ready", 100),
    # Unmatched during SOAP: reachable through SOAP, at_risk; checklist: eligibility and ROL met, outcome not: 67.
    ("unmatched_in_soap", full(ROL27, UNMATCHED), date(2027, 3, 16), "at_risk", 67),
    # Match Week before results, ROL certified: everything this stage needs is done.
    ("match_week_waiting", full(ROL27), date(2027, 3, 10), "ready", 100),
    # Unmatched after SOAP: the cycle is closed (blocker cycle_closed_unmatched).
    ("unmatched_after_soap", full(ROL27, UNMATCHED, SOAP_UNMATCHED), date(2027, 3, 22), "not_ready", 0),
])
def test_status_boundaries(case: str, candidate: CandidateFacts, as_of: date, status: str, score: int | None) -> None:
    cycle = candidate.target_match_year or 2027
    result = readiness(candidate, BOOK, cycle, as_of)
    assert result.status == status
    if score is not None:
        assert result.score == score
    if status == "not_ready":
        assert result.blockers
    if case == "not_ready_resolvable":
        assert result.blockers[0].resolvable_by == date(2027, 1, 20)
    if case == "student_two_years_out":
        assert result.stage == "before_application_season" and "Early stage" in result.stage_advice


def test_window_and_due_soon_are_data() -> None:
    model = BOOK.cycle(2028).readiness
    assert model.competitiveness_window_days == 120 and model.due_soon_days == 30
    submit = BOOK.cycle(2028).calendar.eras_submit_open.on
    assert submit - timedelta(days=120) == date(2027, 5, 4)


@pytest.mark.parametrize(("visa", "milestones", "says"), [
    ("j1", (), "complete the J-1 visa through ECFMG"),
    ("j1", (VISA,), "everything needed before residency is done"),
    ("h1b", (), "Step 3 (for the H-1B petition), the H-1B visa through the program"),
])
def test_matched_advice_lists_what_is_left(visa: str, milestones: tuple[object, ...], says: str) -> None:
    candidate = full(ROL27, MATCHED, *milestones, visa=visa)  # type: ignore[arg-type]
    result = readiness(candidate, BOOK, 2027, date(2027, 3, 25))
    assert result.stage == "matched" and says in result.stage_advice
    assert "ECFMG certification" not in result.stage_advice  # already certified
