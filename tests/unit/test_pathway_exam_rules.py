"""Exam rules added after the first release (domain notes, section G), table-driven.

Expected values are worked out by hand from ../shared/domain.md and the rule files (2027.1 and 2028.1):
- Passing standard by exam date: Step 2 CK 209 from 2014-07-01, 214 from 2022-07-01, 218 from 2025-07-01
  (section 1); Step 3 198, then 200 from 2024-01-01 (section G).
- Attempt limit: four unpassed attempts at any Step, Step 2 CS included, bar every Step (section G, ECFMG 2024
  Information Booklet, reexamination-and-reapplication).
- Retake spacing: at most 3 attempts at the same exam within 12 months; the 4th and later attempts at least 12
  months after the first and 6 months after the most recent (section G, same page; in force since 2012-01-01).
- 2027 cycle: Step 1 / Step 2 CK latest safe sitting 2027-01-20 (ROL deadline 2027-03-03 less 14 days of ECFMG
  verification less 28 days of score release), see test_pathway_situations.
"""

from __future__ import annotations

from datetime import date

import pytest

from app.pathway import MilestoneFact, UsceFact, next_step, readiness, screen, timeline
from app.pathway.dates import add_months
from app.pathway.next_step import why
from app.pathway.road import Profile, earliest_retake, evaluate

from .test_pathway_situations import (
    AS_OF,
    BOOK,
    CERTIFIED,
    ID,
    OET,
    PATHWAY,
    STEP1,
    STEP2,
    USCE_FULL,
    entry,
    facts,
    failed,
    full,
    passed,
    program,
    scheduled,
    sponsoring_list,
)

SPACING = BOOK.cycle(2027).usmle.retake_spacing


def factor(result: object, key: str):  # type: ignore[no-untyped-def]
    return {f.key: f for f in result.factors}[key]  # type: ignore[attr-defined]


# --- Passing standard at the exam date -------------------------------------------------------------------------

@pytest.mark.parametrize(("step", "on", "expected"), [
    ("usmle_step2ck", date(2014, 7, 1), 209),   # section 1: 209 from July 2014
    ("usmle_step2ck", date(2022, 6, 30), 209),  # the day before the 214 standard
    ("usmle_step2ck", date(2022, 7, 1), 214),   # 214 from 2022-07-01
    ("usmle_step2ck", date(2024, 5, 1), 214),   # the example: a 2024 exam is judged against 214
    ("usmle_step2ck", date(2025, 6, 30), 214),
    ("usmle_step2ck", date(2025, 7, 1), 218),   # 218 from 2025-07-01
    ("usmle_step3", date(2023, 12, 31), 198),   # section G: 198 before 2024-01-01
    ("usmle_step3", date(2024, 1, 1), 200),     # 200 from 2024-01-01
    ("usmle_step3", date(2026, 11, 25), 200),
])
def test_passing_standard_on_the_exam_date(step: str, on: date, expected: int) -> None:
    for year in BOOK.years:
        entry_ = BOOK.cycle(year).usmle.passing_score(step, on)
        assert entry_ is not None and entry_.score == expected, year
        assert entry_.provenance.source and entry_.provenance.verified_on


@pytest.mark.parametrize(("score", "on", "passing", "text"), [
    # A 216 from 2024 passed against 214: 2 points above passing, not 2 below today's 218.
    (216, date(2024, 5, 1), 214, "216 (passing 214 on 2024-05-01; 218 today)"),
    (212, date(2020, 3, 1), 209, "212 (passing 209 on 2020-03-01; 218 today)"),
    (215, date(2022, 6, 30), 209, "215 (passing 209 on 2022-06-30; 218 today)"),
    (240, date(2025, 7, 1), 218, "240 (passing 218)"),
])
def test_step2ck_factor_uses_the_standard_of_the_exam_date(score: int, on: date, passing: int, text: str) -> None:
    candidate = full(passed("usmle_step2ck", on, score=score), drop=("usmle_step2ck",))
    f = factor(readiness(candidate, BOOK, 2027, AS_OF), "step2ck")
    assert f.value_text == text
    # No reference for IMGs: credit is the margin above passing over 32 points (full credit margin).
    assert f.credit == pytest.approx(min(1.0, (score - passing) / 32), abs=1e-3)


# --- Attempt limit: Step 2 CS counts, any Step bars every Step ------------------------------------------------

CS_FAILS = tuple(failed("usmle_step2cs", date(2017 + i, 3, 1), i + 1) for i in range(4))


@pytest.mark.parametrize(("case", "milestones", "visa", "barred", "needed"), [
    # Four failed Step 2 CS attempts (before it ended): counted, so Step 2 CK can no longer be taken.
    ("four_step2cs_failures", (ID, STEP1, *CS_FAILS), "j1", True, ("usmle_step2ck",)),
    # Three are below the limit.
    ("three_step2cs_failures", (ID, STEP1, *CS_FAILS[:3]), "j1", False, ()),
    # Four failed Step 1 attempts bar Step 2 CK too, not only Step 1.
    ("four_step1_failures", (ID, *(failed("usmle_step1", date(2022 + i, 2, 1), i + 1) for i in range(4))), "j1",
     True, ("usmle_step1", "usmle_step2ck")),
    # Four failed Step 3 attempts of an H-1B seeker: Step 3, which H-1B needs, can no longer be passed.
    ("four_step3_failures_h1b", (*CERTIFIED, *(failed("usmle_step3", date(2026, 1 + 3 * i, 5), i + 1)
                                              for i in range(4))), "h1b", True, ("usmle_step3",)),
])
def test_attempt_limit(case: str, milestones: tuple[MilestoneFact, ...], visa: str, barred: bool,
                       needed: tuple[str, ...]) -> None:
    candidate = facts(*milestones, visa=visa, entries=sponsoring_list(sponsors_h1b=True))
    step = next_step(candidate, BOOK, 2027, AS_OF)
    ready = readiness(candidate, BOOK, 2027, AS_OF)
    blocker = next((b for b in step.blockers if b.code == "attempt_limit_reached"), None)
    if not barred:
        assert blocker is None
        return
    assert blocker is not None and blocker.permanent and blocker.blocks_cycle
    for code in needed:
        assert code in blocker.milestones
        assert title_of(code) in blocker.detail
    assert step.next_step is None and step.earliest_feasible_cycle is None
    assert ready.status == "not_ready"
    if case == "four_step2cs_failures":
        assert "former Step 2 CS count toward the limit" in blocker.detail


def title_of(code: str) -> str:
    return {"usmle_step1": "Step 1", "usmle_step2ck": "Step 2 CK", "usmle_step3": "Step 3"}[code]


def test_attempt_limit_counts_come_from_the_rule_file() -> None:
    counts = BOOK.cycle(2027).usmle.attempt_limit_counts
    assert "usmle_step2cs" in (counts.value or ())
    assert counts.provenance.source == "https://ecfmg.org/2024ib/reexamination-and-reapplication.html"


# --- Retake spacing ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("attempts", "expected"), [
    ((), None),
    ((date(2026, 1, 10), date(2026, 3, 10)), None),  # a third attempt is not limited
    # Fourth attempt: 12 months after the first (2027-01-10) and 6 after the latest (2026-11-10).
    ((date(2026, 1, 10), date(2026, 3, 10), date(2026, 5, 10)), date(2027, 1, 10)),
    # Six months after the latest decides when the third came late.
    ((date(2025, 1, 10), date(2025, 3, 10), date(2025, 12, 1)), date(2026, 6, 1)),
    # Fifth attempt: at most three in any 12 months (2nd + 12 = 2025-03-10); 6 after the latest (2025-08-01) wins.
    ((date(2024, 1, 10), date(2024, 3, 10), date(2024, 5, 10), date(2025, 2, 1)), date(2025, 8, 1)),
    # Fifth attempt, window decides: 2nd + 12 months = 2026-06-01 > latest + 6 = 2026-03-15.
    ((date(2025, 1, 5), date(2025, 6, 1), date(2025, 7, 1), date(2025, 9, 15)), date(2026, 6, 1)),
    # Month-end clamp: 2025-08-31 + 6 months = 2026-02-28.
    ((date(2025, 1, 31), date(2025, 4, 30), date(2025, 8, 31)), date(2026, 2, 28)),
    # Attempts before the rule came into force (2012-01-01) are not spaced by it.
    ((date(2009, 1, 5), date(2009, 3, 5), date(2009, 6, 5)), None),
])
def test_earliest_retake(attempts: tuple[date, ...], expected: date | None) -> None:
    assert earliest_retake(attempts, SPACING) == expected


def test_spacing_is_sourced_data() -> None:
    assert (SPACING.max_attempts_in_window, SPACING.window_months, SPACING.later_after_first_months,
            SPACING.later_after_latest_months) == (3, 12, 12, 6)
    assert SPACING.effective_from == date(2012, 1, 1)
    assert SPACING.provenance.source == "https://ecfmg.org/2024ib/reexamination-and-reapplication.html"
    assert add_months(date(2026, 2, 1), 12) == date(2027, 2, 1)


# Three Step 2 CK failures in 2026: the fourth attempt is allowed from 2027-02-01 (12 months after the first),
# after the last safe sitting for 2027 (2027-01-20), so the 2027 cycle is out of reach; 2028 is the earliest.
CK_FAILS_2026 = (failed("usmle_step2ck", date(2026, 2, 1), 1), failed("usmle_step2ck", date(2026, 5, 1), 2),
                 failed("usmle_step2ck", date(2026, 8, 1), 3))
# Three failures in 2025: the fourth attempt was allowed from 2026-06-01, before as_of; no effect.
CK_FAILS_2025 = (failed("usmle_step2ck", date(2025, 6, 1), 1), failed("usmle_step2ck", date(2025, 8, 1), 2),
                 failed("usmle_step2ck", date(2025, 10, 1), 3))


@pytest.mark.parametrize(("case", "milestones", "reachable", "earliest", "blockers", "status"), [
    ("spacing_rules_out_2027", (ID, STEP1, OET, PATHWAY, *CK_FAILS_2026), False, 2028,
     ("match_requirements_not_verifiable",), "not_ready"),
    # Booked for 2026-12-15, before the allowed 2027-02-01: the booking cannot stand, and 2027 is still lost.
    ("booked_too_soon", (ID, STEP1, OET, PATHWAY, *CK_FAILS_2026, scheduled("usmle_step2ck", date(2026, 12, 15))),
     False, 2028, ("match_requirements_not_verifiable", "retake_too_soon"), "not_ready"),
    ("spacing_already_elapsed", (ID, STEP1, OET, PATHWAY, *CK_FAILS_2025), True, 2027, (), "at_risk"),
    # Booked on 2027-01-15 while the next attempt is allowed from 2026-06-01: the booking stands.
    ("booked_after_allowed", (ID, STEP1, OET, PATHWAY, *CK_FAILS_2025, scheduled("usmle_step2ck", date(2027, 1, 15))),
     True, 2027, (), "at_risk"),
])
def test_retake_spacing_on_the_road(case: str, milestones: tuple[MilestoneFact, ...], reachable: bool,
                                    earliest: int, blockers: tuple[str, ...], status: str) -> None:
    candidate = facts(*milestones, usce=USCE_FULL, entries=sponsoring_list(), letters=1)
    step = next_step(candidate, BOOK, 2027, AS_OF)
    ready = readiness(candidate, BOOK, 2027, AS_OF)
    assert step.cycle_reachable is reachable
    assert step.earliest_feasible_cycle == earliest == ready.earliest_feasible_cycle
    assert tuple(b.code for b in step.blockers) == blockers
    assert ready.status == status
    lost = next((b for b in step.blockers if b.code == "match_requirements_not_verifiable"), None)
    if lost is not None:
        # Rebooking cannot help: no date saves the cycle.
        assert lost.resolvable_by is None and lost.blocks_cycle
        assert "next attempt allowed from 2027-02-01 (retake spacing)" in lost.detail
    # No view proposes an attempt before the allowed date.
    views = [v for v in (step.next_step, *step.also_available) if v is not None and v.code == "usmle_step2ck"]
    waiting = [b for b in step.blocked if b.code == "usmle_step2ck"]
    if case in ("spacing_rules_out_2027", "booked_too_soon"):
        assert not views
        assert waiting and "retake_spacing" in waiting[0].waits_on and waiting[0].opens_on == date(2027, 2, 1)
        items = [i for i in timeline(candidate, BOOK, 2027, AS_OF).items if i.code == "usmle_step2ck"]
        assert items and items[0].on == date(2027, 2, 1) and items[0].severity == "blocks_cycle"
        assert items[0].note is not None and "after the latest safe date 2027-01-20" in items[0].note
    else:
        assert not waiting or "retake_spacing" not in waiting[0].waits_on


def test_retake_too_soon_names_the_allowed_date() -> None:
    candidate = facts(ID, STEP1, OET, PATHWAY, *CK_FAILS_2026, scheduled("usmle_step2ck", date(2026, 12, 15)))
    blocker = next(b for b in next_step(candidate, BOOK, 2027, AS_OF).blockers if b.code == "retake_too_soon")
    assert "booked for 2026-12-15" in blocker.detail and "allowed from 2027-02-01" in blocker.detail


# --- The visa factor agrees with screening on Step 3 for H-1B ---------------------------------------------------

H1B_PROGRAMS = tuple(entry(program(i, sponsors_h1b=True, sponsors_j1=False, step3_required_by="rank_deadline"))
                     for i in range(5))


@pytest.mark.parametrize(("as_of", "step3", "screening", "sponsoring", "text_part"), [
    # Certified 2025-10-15; from 2026-06-01 Step 3 (84 days FSMB verification + 28 days score release) gives a
    # result about 2026-09-21, before the ROL deadline 2027-03-03: screening says pending; the factor agrees.
    (date(2026, 6, 1), (), "pending", 0, "5 only once Step 3 is passed"),
    # From 2026-11-25 the earliest result is about 2027-03-17, after 2027-03-03: screening excludes them.
    (AS_OF, (), "fail", 0, "5 not for you this cycle"),
    # Step 3 passed 2026-10-01: all five sponsor the candidate.
    (AS_OF, (passed("usmle_step3", date(2026, 10, 1), score=225),), None, 5, "5 of 5 programs sponsor it"),
])
def test_h1b_visa_factor_agrees_with_screening(as_of: date, step3: tuple[MilestoneFact, ...], screening: str | None,
                                               sponsoring: int, text_part: str) -> None:
    candidate = facts(*CERTIFIED, *step3, visa="h1b", entries=H1B_PROGRAMS)
    f = factor(readiness(candidate, BOOK, 2027, as_of), "visa_sponsorship")
    assert f.value_text.startswith(f"needs H-1B: {sponsoring} of 5 programs sponsor it")
    assert text_part in f.value_text
    result = screen(candidate, H1B_PROGRAMS, BOOK, 2027, as_of)
    outcomes = {c.outcome for e in result.entries for c in (*e.failed, *e.pending) if c.criterion == "step3_for_h1b"}
    assert outcomes == ({screening} if screening else set())
    assert len(result.entries) == 5
    if screening:
        assert "Step 3" in f.advice


# --- Small but visible ------------------------------------------------------------------------------------------

def test_completed_steps_keep_their_dates() -> None:
    done = {c.code: c.completed_on for c in next_step(full(), BOOK, 2027, AS_OF).completed}
    assert done["usmle_id_registered"] == date(2023, 1, 10)
    assert done["credentials_verified"] == date(2025, 10, 1)
    assert done["usmle_step2ck"] == STEP2.completed_on


@pytest.mark.parametrize(("n", "text"), [(1, "1 program;"), (2, "2 programs;")])
def test_program_counts_are_pluralised(n: int, text: str) -> None:
    f = factor(readiness(full(entries=sponsoring_list(n)), BOOK, 2027, AS_OF), "program_list")
    assert f.value_text.startswith(text)
    assert "1 programs" not in f.value_text + f.advice


@pytest.mark.parametrize(("visa", "says", "not_says"), [
    ("j1", "J-1 visa (sponsored by ECFMG", "H-1B"),
    ("h1b", "H-1B visa (petitioned by the program", "J-1"),
    ("either", "A J-1 (sponsored by ECFMG) or H-1B", None),
])
def test_visa_reason_describes_the_candidates_visa(visa: str, says: str, not_says: str | None) -> None:
    ev = evaluate(Profile(facts(*CERTIFIED, visa=visa), AS_OF, 2027), BOOK.cycle(2027))
    text = why("visa", ev)
    assert says in text
    if not_says:
        assert not_says not in text


# --- H-1B proclamation payment for applicants abroad (domain notes, section G) ---------------------------------

@pytest.mark.parametrize(("visa", "us_status", "as_of", "warned", "verify_text"), [
    # An H-1B seeker without US status: warned; before the stated end (2026-09-21) "verify before relying on it".
    ("h1b", "none", date(2026, 6, 1), True, "verify before relying on it."),
    # After the stated end: flagged for re-checking, the extension being a gap.
    ("h1b", "none", AS_OF, True, "that date has passed and no extension was found"),
    ("either", "none", AS_OF, True, "that date has passed"),
    ("j1", "none", AS_OF, False, None),  # J-1 only: the payment does not concern the candidate
    ("none", "citizen", AS_OF, False, None),
])
def test_h1b_payment_warning(visa: str, us_status: str, as_of: date, warned: bool, verify_text: str | None) -> None:
    candidate = facts(*CERTIFIED, visa=visa, us_status=us_status)
    notices = [w for w in next_step(candidate, BOOK, 2027, as_of).warnings if w.code == "h1b_payment_abroad"]
    assert bool(notices) is warned
    if notices:
        text = notices[0].detail
        assert "USD 100,000" in text and "from 2025-09-21" in text and "expire on 2026-09-21" in text
        assert verify_text is not None and verify_text in text
        assert "mondaq.com" in text


def test_h1b_payment_is_sourced_data() -> None:
    payment = BOOK.cycle(2027).h1b_payment
    assert payment is not None and payment.amount_usd == 100000
    assert (payment.effective_from, payment.expires_on) == (date(2025, 9, 21), date(2026, 9, 21))
    assert payment.provenance.verified_on == date(2026, 12, 1)


# --- Screening criteria interplay: USCE quality criteria only bind when USCE is required ------------------------

OLD_OBSERVERSHIP = (UsceFact("observership", False, "internal_medicine", date(2020, 1, 6), date(2020, 2, 28), False),)


@pytest.mark.parametrize(("required", "usce", "kw", "excluded_by"), [
    # Not required: a 12-month recency window, 8 weeks or hands-on only cannot exclude (no USCE, or old observing).
    (False, (), {"usce_recency_months": 12}, ()),
    (False, OLD_OBSERVERSHIP, {"usce_recency_months": 12, "usce_min_weeks": 8, "usce_hands_on_only": True}, ()),
    # Required: the same criteria exclude.
    (True, (), {"usce_recency_months": 12}, ("usce_required", "usce_recency")),
    (True, OLD_OBSERVERSHIP, {"usce_recency_months": 12, "usce_min_weeks": 8, "usce_hands_on_only": True},
     ("usce_hands_on_only", "usce_min_weeks", "usce_recency")),
    # Unpublished requirement: a published recency window still applies (the program values recent USCE).
    (None, (), {"usce_recency_months": 12}, ("usce_recency",)),
])
def test_usce_criteria_bind_only_when_required(required: bool | None, usce: tuple[UsceFact, ...],
                                               kw: dict[str, object], excluded_by: tuple[str, ...]) -> None:
    p = program(1, sponsors_j1=True, usce_required=required, **kw)
    result = screen(facts(*CERTIFIED, usce=usce), (entry(p),), BOOK, 2027, AS_OF)
    got = tuple(sorted(c.criterion for c in result.entries[0].failed if c.criterion.startswith("usce")))
    assert got == tuple(sorted(excluded_by))
