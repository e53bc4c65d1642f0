"""Program screening, one criterion at a time: eligible, excluded (naming both sides) or unknown.

The reference candidate (2027 cycle, 2026-11-25, so criteria are measured at 2026-11-25): graduated 2024-06-30
(2.4 years), Step 2 CK 245 first attempt, ECFMG-certified 2025-10-15, 16 weeks of hands-on internal medicine
USCE (latest ended 2026-04-26), 3 US letters, needs a J-1.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from app.pathway import CandidateFacts, UsceFact, screen
from app.pathway.facts import ListEntryFact

from .test_pathway_situations import (
    AS_OF,
    BOOK,
    CERTIFIED,
    EXAMS,
    USCE_FULL,
    entry,
    facts,
    failed,
    full,
    passed,
    program,
    scheduled,
)

BASE = full()
NOT_CERTIFIED = facts(*EXAMS, usce=USCE_FULL, letters=3)  # credentials pending: earliest certificate 2027-01-20
NO_STEP2 = facts(*(m for m in CERTIFIED if m.code not in ("usmle_step2ck", "ecfmg_certification")),
                 scheduled("usmle_step2ck", date(2026, 12, 15)), usce=USCE_FULL, letters=3)
FAILED_STEP2 = facts(*(m for m in CERTIFIED if m.code != "usmle_step2ck"),
                     failed("usmle_step2ck", date(2025, 3, 1), 1, 210), usce=USCE_FULL, letters=3)
RETAKEN_STEP2 = facts(*(m for m in CERTIFIED if m.code != "usmle_step2ck"),
                      failed("usmle_step2ck", date(2025, 3, 1), 1, 205),
                      passed("usmle_step2ck", date(2025, 8, 20), 245, attempt=2), usce=USCE_FULL, letters=3)
OBSERVER_ONLY = replace(BASE, usce=(UsceFact("observership", False, "internal_medicine", date(2026, 6, 1),
                                             date(2026, 7, 26), True),))
H1B = replace(BASE, visa_need="h1b")
H1B_STEP3 = replace(H1B, milestones=(*H1B.milestones, passed("usmle_step3", date(2026, 10, 1), 230)))
EITHER = replace(BASE, visa_need="either")
CITIZEN = replace(BASE, us_status="citizen", visa_need="none")
NO_GRAD = replace(BASE, graduation_on=None)

J1 = {"sponsors_j1": True}

CRITERIA: list[tuple[str, CandidateFacts, dict[str, Any], str, tuple[str, ...], tuple[str, ...]]] = [
    # (id, candidate, program filters, expected status, failed criteria, pending criteria)
    ("nothing_published_needs_visa", BASE, {}, "unknown", (), ("visa_sponsorship",)),
    ("sponsors_j1_only_published", BASE, J1, "eligible", (), ()),
    ("does_not_sponsor_j1", BASE, {"sponsors_j1": False, "sponsors_h1b": True}, "excluded",
     ("visa_sponsorship",), ()),
    ("citizen_needs_no_sponsorship", CITIZEN, {"sponsors_j1": False, "sponsors_h1b": False}, "eligible", (), ()),
    ("yog_within_3", BASE, {**J1, "max_years_since_graduation": 3}, "eligible", (), ()),
    ("yog_over_2", BASE, {**J1, "max_years_since_graduation": 2}, "excluded", ("years_since_graduation",), ()),
    ("yog_without_graduation_date", NO_GRAD, {**J1, "max_years_since_graduation": 3}, "unknown", (),
     ("years_since_graduation",)),
    ("step2ck_above_minimum", BASE, {**J1, "min_step2ck": 240}, "eligible", (), ()),
    ("step2ck_below_minimum", BASE, {**J1, "min_step2ck": 250}, "excluded", ("step2ck_minimum",), ()),
    ("step2ck_not_taken_yet", NO_STEP2, {**J1, "min_step2ck": 220}, "unknown", (), ("step2ck_minimum",)),
    ("step2ck_failed_only", FAILED_STEP2, {**J1, "min_step2ck": 200}, "excluded", ("step2ck_minimum",), ()),
    ("first_attempt_required_and_met", BASE, {**J1, "first_attempt_only": True}, "eligible", (), ()),
    ("first_attempt_required_not_met", RETAKEN_STEP2, {**J1, "first_attempt_only": True}, "excluded",
     ("first_attempt_only",), ()),
    ("first_attempt_not_required", RETAKEN_STEP2, {**J1, "first_attempt_only": False}, "eligible", (), ()),
    ("max_attempts_exceeded", RETAKEN_STEP2, {**J1, "max_attempts": 1}, "excluded", ("max_attempts",), ()),
    ("max_attempts_within", RETAKEN_STEP2, {**J1, "max_attempts": 2}, "eligible", (), ()),
    ("usce_required_none", facts(*CERTIFIED, letters=3), {**J1, "usce_required": True}, "excluded",
     ("usce_required",), ()),
    ("usce_required_met", BASE, {**J1, "usce_required": True}, "eligible", (), ()),
    ("hands_on_only_observer", OBSERVER_ONLY, {**J1, "usce_hands_on_only": True}, "excluded",
     ("usce_hands_on_only",), ()),
    ("min_weeks_met", BASE, {**J1, "usce_min_weeks": 12}, "eligible", (), ()),
    ("min_weeks_short", BASE, {**J1, "usce_min_weeks": 20}, "excluded", ("usce_min_weeks",), ()),
    ("min_hands_on_weeks_observer", OBSERVER_ONLY, {**J1, "usce_min_weeks": 4, "usce_hands_on_only": True},
     "excluded", ("usce_hands_on_only", "usce_min_weeks"), ()),
    # Recency 6 months before 2026-11-25 = since 2026-05-25; the latest USCE ended 2026-04-26.
    ("recent_weeks_short", BASE, {**J1, "usce_min_weeks": 4, "usce_recency_months": 6}, "excluded",
     ("usce_min_weeks", "usce_recency"), ()),
    ("recency_met", BASE, {**J1, "usce_recency_months": 12}, "eligible", (), ()),
    ("letters_short", BASE, {**J1, "min_letters": 4}, "excluded", ("min_letters",), ()),
    ("letters_met", BASE, {**J1, "min_letters": 3}, "eligible", (), ()),
    ("certified_before_application", BASE, {**J1, "ecfmg_cert_required_by": "application"}, "eligible", (), ()),
    # Not certified: credentials take 56 days, so the earliest certificate is 2027-01-20.
    ("not_certified_by_application", NOT_CERTIFIED, {**J1, "ecfmg_cert_required_by": "application"}, "excluded",
     ("ecfmg_certification_timing",), ()),
    ("not_certified_yet_by_rank_deadline", NOT_CERTIFIED, {**J1, "ecfmg_cert_required_by": "rank_deadline"},
     "unknown", (), ("ecfmg_certification_timing",)),
    # H-1B, Step 3 not taken: earliest result 2026-11-25 + 84 + 28 = 2027-03-17; Match Day 2027-03-19 (possible),
    # ROL deadline 2027-03-03 (too late).
    ("h1b_step3_by_match_day_possible", H1B, {"sponsors_h1b": True, "step3_required_by": "match_day"}, "unknown",
     (), ("step3_for_h1b",)),
    ("h1b_step3_by_rank_deadline_too_late", H1B, {"sponsors_h1b": True, "step3_required_by": "rank_deadline"},
     "excluded", ("step3_for_h1b",), ()),
    ("h1b_step3_passed", H1B_STEP3, {"sponsors_h1b": True, "step3_required_by": "rank_deadline"}, "eligible", (),
     ()),
    ("h1b_program_j1_only", H1B, {**J1, "sponsors_h1b": False}, "excluded", ("visa_sponsorship",), ()),
    ("h1b_sponsorship_unpublished", H1B, J1, "unknown", (), ("visa_sponsorship",)),
    ("either_uses_j1_when_offered", EITHER, {**J1, "sponsors_h1b": True, "step3_required_by": "rank_deadline"},
     "eligible", (), ()),
    ("either_h1b_only_program", EITHER, {"sponsors_j1": False, "sponsors_h1b": True,
                                         "step3_required_by": "rank_deadline"}, "excluded", ("step3_for_h1b",), ()),
]


@pytest.mark.parametrize(
    ("candidate", "filters", "status", "failed_criteria", "pending_criteria"),
    [c[1:] for c in CRITERIA],
    ids=[c[0] for c in CRITERIA],
)
def test_criterion(
    candidate: CandidateFacts,
    filters: dict[str, Any],
    status: str,
    failed_criteria: tuple[str, ...],
    pending_criteria: tuple[str, ...],
) -> None:
    result = screen(candidate, (entry(program(1, **filters)),), BOOK, 2027, AS_OF)
    [screened] = result.entries
    assert screened.status == status
    assert tuple(c.criterion for c in screened.failed) == failed_criteria
    assert tuple(c.criterion for c in screened.pending) == pending_criteria
    for check in screened.failed:
        assert check.outcome == "fail" and check.candidate_value and check.requirement
    for name in filters:
        assert name not in screened.unpublished


def test_failed_criteria_name_both_sides() -> None:
    result = screen(BASE, (entry(program(1, **J1, max_years_since_graduation=2, min_step2ck=250,
                                         usce_min_weeks=20, min_letters=4)),), BOOK, 2027, AS_OF)
    checks = {c.criterion: c for c in result.entries[0].failed}
    assert checks["years_since_graduation"].candidate_value == "graduated 2024-06-30, 2.4 years before 2026-11-25"
    assert checks["years_since_graduation"].requirement == "graduated within 2 years of applying (2026-11-25)"
    assert (checks["step2ck_minimum"].candidate_value, checks["step2ck_minimum"].requirement) == (
        "Step 2 CK 245", "Step 2 CK 250 or higher")
    assert checks["usce_min_weeks"].candidate_value == "16 weeks of USCE"
    assert checks["min_letters"].candidate_value == "3 US letters"


def test_unpublished_criteria_are_listed() -> None:
    [screened] = screen(BASE, (entry(program(1, **J1)),), BOOK, 2027, AS_OF).entries
    assert set(screened.unpublished) >= {"years_since_graduation", "step2ck_minimum", "usce_required",
                                        "min_letters", "ecfmg_certification_timing"}


def test_graduate_2015_in_2028_measured_at_application() -> None:
    old = replace(BASE, graduation_on=date(2015, 6, 30), target_match_year=2028)
    entries = tuple(entry(program(i, **J1, max_years_since_graduation=n)) for i, n in enumerate((3, 5, 10, 15)))
    result = screen(old, entries, BOOK, 2028, AS_OF)
    assert result.application_on == date(2027, 9, 1)  # ERAS 2028 submission opens
    assert [e.status for e in result.entries] == ["excluded", "excluded", "excluded", "eligible"]
    assert "12.2 years" in result.entries[0].failed[0].candidate_value


def test_summary_counts_and_order() -> None:
    entries: tuple[ListEntryFact, ...] = (
        entry(program(5, **J1, min_step2ck=250), rank=2),
        entry(program(4, **J1), rank=1),
        entry(program(3)),  # visa sponsorship unpublished -> unknown
        entry(program(2, **J1, max_years_since_graduation=2, min_letters=4)),
        entry(program(1, sponsors_j1=False)),
    )
    result = screen(BASE, entries, BOOK, 2027, AS_OF)
    assert [e.program_id for e in result.entries] == ["p004", "p005", "p001", "p002", "p003"]
    summary = result.summary
    assert (summary.total, summary.eligible, summary.excluded, summary.unknown) == (5, 1, 3, 1)
    assert [(c.criterion, c.programs) for c in summary.excluded_by] == [
        ("years_since_graduation", 1), ("step2ck_minimum", 1), ("visa_sponsorship", 1), ("min_letters", 1)]
    assert result.rules_version == "2027.1" and result.as_of == AS_OF and result.cycle == 2027


def test_screening_ignores_input_order() -> None:
    entries = tuple(entry(program(i, **J1, min_step2ck=240 + i)) for i in range(8))
    assert screen(BASE, entries, BOOK, 2027, AS_OF) == screen(BASE, entries[::-1], BOOK, 2027, AS_OF)
