"""Candidate situations across the whole road, each worked out by hand from the domain notes and rule files.

Dates used in the reasoning (rule files 2027.1 and 2028.1, lead times in days: score release 28, ECFMG->NRMP
verification 14, OET results 14, Pathway processing 56, credential verification 56, FSMB Step 3 graduation
verification 84, exam booking 42, visa processing 60; due soon = 30):

2027 cycle: ERAS submit 2026-09-02, programs review 2026-09-23, NRMP opens 2026-09-15, standard registration
2027-01-31, ranking opens 2027-02-01, ROL deadline 2027-03-03 21:00 ET, Match Week 2027-03-15..19, SOAP ends
2027-03-18, residency 2027-07-01, OET valid from 2025-01-01. Derived: verification cut-off 2027-02-17;
Step 1 / Step 2 CK latest sitting 2027-01-20; Pathway application 2026-12-23; OET 2026-12-09; ID registration
2026-10-28; visa 2027-05-02; certification (J-1) 2027-05-02; credentials 2027-03-07 (2027-05-06 without a visa).
2028 cycle: ERAS submit 2027-09-01, ROL deadline 2028-03-01, residency 2028-07-01, OET valid from 2026-01-01.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

import pytest

from app.pathway import (
    CandidateFacts,
    ListEntryFact,
    MilestoneFact,
    OetScores,
    ProgramFact,
    UsceFact,
    load_rulebook,
    next_step,
    readiness,
)
from app.pathway.results import NextStepResult, ReadinessResult

BOOK = load_rulebook()
AS_OF = date(2026, 11, 25)
GOOD_OET = OetScores(listening=380, reading=370, writing=330, speaking=360)


def done(code: str, on: date, **kw: object) -> MilestoneFact:
    return MilestoneFact(code, "completed", completed_on=on, **kw)  # type: ignore[arg-type]


def passed(code: str, on: date, score: int | None = None, attempt: int = 1) -> MilestoneFact:
    return MilestoneFact(code, "passed", attempt=attempt, completed_on=on, score=score)


def failed(code: str, on: date, attempt: int, score: int | None = None) -> MilestoneFact:
    return MilestoneFact(code, "failed", attempt=attempt, completed_on=on, score=score)


def scheduled(code: str, on: date, status: str = "scheduled") -> MilestoneFact:
    return MilestoneFact(code, status, scheduled_on=on)


def oet(on: date, scores: OetScores = GOOD_OET, status: str = "passed") -> MilestoneFact:
    return MilestoneFact("oet_medicine", status, completed_on=on, oet=scores)


ID = done("usmle_id_registered", date(2023, 1, 10))
STEP1 = passed("usmle_step1", date(2024, 3, 10))
STEP2 = passed("usmle_step2ck", date(2025, 8, 20), score=245)
OET = oet(date(2025, 5, 10))
PATHWAY = done("ecfmg_pathway", date(2025, 9, 1), pathway="1")
CREDS = done("credentials_verified", date(2025, 10, 1))
CERT = done("ecfmg_certification", date(2025, 10, 15))
ERAS27 = done("eras_application", date(2026, 9, 2))
NRMP27 = done("nrmp_registration", date(2026, 9, 20))
ROL27 = done("rank_order_list", date(2027, 2, 20))
# The J-1 Statement of Need from the home ministry of health (domain notes, section A: VISA_J1_ELIGIBLE needs it),
# held before the J-1 application.
SON = done("j1_statement_of_need", date(2027, 1, 15))
EXAMS = (ID, STEP1, STEP2, OET, PATHWAY)
CERTIFIED = (*EXAMS, CREDS, CERT)
APPLIED27 = (ERAS27, NRMP27)

# 16 weeks of hands-on internal medicine USCE, the latest ending 2026-04-26, two US letters (+1 other).
USCE_FULL = (
    UsceFact("elective", True, "internal_medicine", date(2025, 1, 6), date(2025, 3, 2), True),
    UsceFact("externship", True, "internal_medicine", date(2026, 3, 2), date(2026, 4, 26), True),
)


def program(i: int, **kw: object) -> ProgramFact:
    return ProgramFact(f"p{i:03d}", f"Program {i:03d}", "internal_medicine", "categorical", **kw)  # type: ignore[arg-type]


def entry(p: ProgramFact, rank: int | None = None, status: str = "applied") -> ListEntryFact:
    return ListEntryFact(program=p, status=status, signal=None, rank_position=rank)


def sponsoring_list(n: int = 40, **kw: object) -> tuple[ListEntryFact, ...]:
    kw = {"sponsors_j1": True, **kw}
    return tuple(entry(program(i, **kw)) for i in range(n))


def facts(
    *milestones: MilestoneFact,
    us_status: str = "none",
    grad: date | None = date(2024, 6, 30),
    targets: tuple[str, ...] = ("internal_medicine",),
    year: int | None = 2027,
    visa: str = "j1",
    usce: tuple[UsceFact, ...] = (),
    entries: tuple[ListEntryFact, ...] = (),
    letters: int = 0,
) -> CandidateFacts:
    return CandidateFacts(us_status, grad, targets, year, visa, tuple(milestones), usce, entries, letters)


def full(*extra: MilestoneFact, drop: tuple[str, ...] = (), **kw: object) -> CandidateFacts:
    """Certified, applied and registered for 2027, 16 weeks of hands-on USCE, 3 US letters, 40 J-1 programs."""
    base = tuple(m for m in (*CERTIFIED, *APPLIED27) if m.code not in drop)
    defaults: dict[str, object] = {"usce": USCE_FULL, "entries": sponsoring_list(), "letters": 1}
    defaults.update(kw)
    return facts(*base, *extra, **defaults)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    id: str
    facts: CandidateFacts
    next_step: str | None
    blockers: tuple[str, ...]
    status: str
    earliest: int | None
    reachable: bool
    cycle: int = 2027
    as_of: date = AS_OF
    extra: dict[str, object] = field(default_factory=dict)


CASES = [
    # A second-year student (graduating 2029-06-30) with nothing done, aiming at 2030. 2027 needs ID registration
    # by 2026-10-28 (passed); 2028 and 2029 fail on graduation (credentials must start by ~March before a July
    # start). In 2030 the first step is ID registration (latest 2029-10-24: OET 2029-12-05 minus 42 days).
    # No blockers for 2030, score 22 (two full factors of 90 scored weight) -> at_risk.
    # Status (issue 8 section 2): every remaining step fits and ERAS is years away, so on_track despite the low score.
    Case("student_year2_nothing_done", facts(grad=date(2029, 6, 30), year=2030), "usmle_id_registered", (),
         "on_track", 2030, True, cycle=2030,
         extra={"deciding": "graduation_too_late", "score": 22, "due_by": date(2029, 10, 24)}),
    # Step 2 CK booked on 2027-03-10, after the last safe sitting (2027-01-20): the score would not be verified
    # before the ROL deadline. It is still 2026-11-25, so rebooking saves the cycle: a blocker resolvable by
    # 2027-01-20, the cycle still reachable, and Step 2 CK is the next step, marked blocks_cycle.
    Case("step2ck_scheduled_after_rol_deadline",
         facts(ID, STEP1, scheduled("usmle_step2ck", date(2027, 3, 10)), OET, PATHWAY, CREDS, *APPLIED27),
         "usmle_step2ck", ("match_requirements_not_verifiable",), "not_ready", 2027, True,
         extra={"resolvable_by": date(2027, 1, 20), "severity": "blocks_cycle"}),
    # The same on 2027-01-25: too late to rebook. 2027 is lost; in 2028 the booked date (2027-03-10) is well
    # before 2028-01-19, so 2028 is the earliest cycle and Step 2 CK stays the next step (for 2028).
    Case("step2ck_late_and_too_late_to_rebook",
         facts(ID, STEP1, scheduled("usmle_step2ck", date(2027, 3, 10)), OET, PATHWAY, CREDS, *APPLIED27),
         "usmle_step2ck", ("match_requirements_not_verifiable",), "not_ready", 2028, False,
         as_of=date(2027, 1, 25), extra={"planning_cycle": 2028, "deciding": "match_requirements_not_verifiable"}),
    # Four failed Step 1 attempts and no pass: the USMLE limit (4, since 2021-07-01) bars every Step for good.
    # No cycle is feasible and no step is offered.
    Case("four_failed_step1_attempts",
         facts(ID, *(failed("usmle_step1", d, i + 1) for i, d in enumerate(
             (date(2023, 2, 1), date(2023, 8, 1), date(2024, 3, 1), date(2025, 1, 15)))), OET, PATHWAY),
         None, ("attempt_limit_reached",), "not_ready", None, False, extra={"deciding": "attempt_limit_reached"}),
    # Step 2 CS passed in 2019 is history, not a blocker, and it does not meet today's clinical-skills
    # requirement: OET (latest 2026-12-09, 14 days away: due soon) then a Pathway are still needed.
    Case("step2cs_passed_2019_is_history",
         facts(passed("usmle_step1", date(2019, 3, 1)), passed("usmle_step2ck", date(2019, 8, 1), 235),
               passed("usmle_step2cs", date(2019, 10, 1)), *APPLIED27, grad=date(2019, 6, 30)),
         "oet_medicine", (), "at_risk", 2027, True,
         extra={"warning": "step2cs_history", "severity": "due_soon", "gate": ("oet_requirement", "pending")}),
    # OET Writing 290 < 300 (recorded as "passed" by the candidate): below the ECFMG minimum, retake all four.
    Case("oet_writing_290",
         facts(ID, STEP1, STEP2, oet(date(2026, 5, 1), OetScores(360, 350, 290, 370)), CREDS, *APPLIED27),
         "oet_medicine", ("oet_below_minimum",), "not_ready", 2027, True,
         extra={"detail": "Writing 290 < 300", "gate": ("oet_requirement", "unmet")}),
    # OET on 2024-06-01 is before 2025-01-01, the earliest date for the 2027 Pathways: retake.
    Case("oet_before_earliest_date",
         facts(ID, STEP1, STEP2, oet(date(2024, 6, 1)), CREDS, *APPLIED27),
         "oet_medicine", ("oet_before_earliest_date",), "not_ready", 2027, True),
    # The same OET is valid for the 2026 cycle (earliest 2024-01-01). On 2025-07-01 the next step is the
    # Pathway (latest 2025-12-24 = 2026-03-04 - 14 - 56). Score 46 (no USCE, letters or list) -> at_risk.
    Case("oet_2024_valid_for_2026_cycle",
         facts(ID, STEP1, STEP2, oet(date(2024, 6, 1)), CREDS, year=2026),
         "ecfmg_pathway", (), "at_risk", 2026, True, cycle=2026, as_of=date(2025, 7, 1),
         extra={"due_by": date(2025, 12, 24), "score": 46}),
    # Graduated 2015, certified, applying in 2028: 12.2 years since graduation at application (2027-09-01).
    # Three programs cap it at 5 years; one at 15 and one unpublished remain. The ERAS 2028 application opens
    # 2027-09-01: next step, waiting for that date. 2027 is still open (registration until 2027-03-03), so the
    # earliest feasible cycle is 2027. Step 2 CK 230 from 2022-03-15 is judged against that date's standard
    # (209, domain notes section 1 / G): credit (230-209)/32 instead of (230-218)/32, +7 -> score 37 -> at_risk.
    # Status: ERAS 2028 submission (2027-09-01) is more than 120 days away, so a weak score alone is not at_risk.
    Case("graduate_2015_applying_2028",
         facts(ID, passed("usmle_step1", date(2021, 5, 10)), passed("usmle_step2ck", date(2022, 3, 15), 230),
               oet(date(2026, 3, 1)), done("ecfmg_pathway", date(2026, 8, 1)), done("credentials_verified",
               date(2026, 8, 15)), done("ecfmg_certification", date(2026, 9, 1)), grad=date(2015, 6, 30),
               year=2028, entries=(*(entry(program(i, sponsors_j1=True, max_years_since_graduation=5))
                                     for i in range(3)),
                                   entry(program(3, sponsors_j1=True, max_years_since_graduation=15)),
                                   entry(program(4, sponsors_j1=True)))),
         "eras_application", (), "on_track", 2027, True, cycle=2028,
         extra={"available_from": date(2027, 9, 1), "score": 37}),
    # H-1B need, certified, Step 3 not taken. No program publishes a Step 3 deadline, so the rule file's default
    # (ROL deadline 2027-03-03) applies: sit Step 3 by 2027-02-03. Still possible -> pending, next step Step 3.
    Case("h1b_certified_step3_not_taken", facts(*CERTIFIED, *APPLIED27, visa="h1b"),
         "usmle_step3", (), "at_risk", 2027, True,
         extra={"due_by": date(2027, 2, 3), "gate": ("step3_for_h1b", "pending")}),
    # The same on 2027-02-10: Step 3 can no longer be passed by 2027-03-03 -> h1b_without_step3, 2027 lost.
    # 2028: Step 3 by 2028-02-02.
    Case("h1b_step3_deadline_missed", facts(*CERTIFIED, *APPLIED27, visa="h1b"),
         "usmle_step3", ("h1b_without_step3",), "not_ready", 2028, False, as_of=date(2027, 2, 10),
         extra={"planning_cycle": 2028, "due_by": date(2028, 2, 2)}),
    # H-1B need, not yet certified: Step 3 by 2027-02-03 needs certification by 2026-11-11 (84 days of FSMB
    # verification earlier) -- already past, so H-1B is out for 2027. In 2028 the first step is credential
    # verification (certification by 2027-11-10, credentials by 2027-09-15).
    Case("h1b_not_certified", facts(*EXAMS, *APPLIED27, visa="h1b"),
         "credentials_verified", ("h1b_without_step3",), "not_ready", 2028, False,
         extra={"deciding": "h1b_without_step3", "due_by": date(2027, 9, 15)}),
    # The same candidate with visa need "either": Step 3 is optional, J-1 stays open; a warning only.
    # Next: credentials (by 2027-03-07, for a J-1 by 2027-05-02).
    Case("either_visa_not_certified", facts(*EXAMS, *APPLIED27, visa="either"),
         "credentials_verified", (), "at_risk", 2027, True,
         extra={"warning": "h1b_needs_step3", "due_by": date(2027, 3, 7)}),
    # US-citizen IMG: no visa; everything in place; ranking opens 2027-02-01. Score 96 -> ready; US-IMG base rate.
    Case("us_citizen_img", full(us_status="citizen", visa="none"), "rank_order_list", (), "ready", 2027, True,
         extra={"applicant_type": "us_img", "rate": 0.678, "score": 96, "available_from": date(2027, 2, 1)}),
    # Permanent resident: no visa either, but a non-US IMG for the NRMP base rate.
    Case("permanent_resident_img", full(us_status="permanent_resident", visa="none"), "rank_order_list", (),
         "ready", 2027, True, extra={"applicant_type": "non_us_img", "rate": 0.58, "score": 96}),
    # Fully ready J-1 candidate: Step 2 CK 245 = 27/32 of the margin (21.1 of 25), every other factor full:
    # 96 -> ready. Nothing to do until ranking opens.
    Case("fully_ready_j1", full(), "rank_order_list", (), "ready", 2027, True,
         extra={"score": 96, "due_by": date(2027, 3, 3), "available_from": date(2027, 2, 1)}),
    # Matched on 2027-03-19, certified: the J-1 visa is next, by 2027-05-02 (38 days: on track).
    # Stage matched: the visa is still to come and fits before its latest safe date -> on_track, not ready.
    Case("matched_awaiting_visa", full(ROL27, SON, done("match_result", date(2027, 3, 19), match_outcome="matched")),
         "visa", (), "on_track", 2027, True, as_of=date(2027, 3, 25),
         extra={"due_by": date(2027, 5, 2), "severity": "on_track"}),
    # Matched, but no visa on 2027-05-10, past the latest safe date (2027-05-02): the start may slip; the match
    # stands, so the cycle is not lost. Not ready until the visa is in hand.
    Case("matched_visa_late", full(ROL27, SON, done("match_result", date(2027, 3, 19), match_outcome="matched")),
         "visa", ("visa_not_in_time",), "not_ready", 2027, True, as_of=date(2027, 5, 10),
         extra={"severity": "blocks_cycle"}),
    # Unmatched on Monday of Match Week, SOAP-eligible: SOAP runs until 2027-03-18 -> next step, at_risk.
    Case("unmatched_going_into_soap",
         full(ROL27, done("match_result", date(2027, 3, 15), match_outcome="unmatched")),
         "soap", (), "at_risk", 2027, True, as_of=date(2027, 3, 15),
         extra={"due_by": date(2027, 3, 18), "severity": "due_soon", "gate": ("match_outcome", "pending")}),
    # Unmatched and SOAP over without a position: the cycle is closed; 2028 is next (ERAS opens 2027-09-01).
    Case("unmatched_after_soap",
         full(ROL27, done("match_result", date(2027, 3, 15), match_outcome="unmatched"),
              done("soap", date(2027, 3, 18), match_outcome="unmatched")),
         "eras_application", ("cycle_closed_unmatched",), "not_ready", 2028, False, as_of=date(2027, 3, 22),
         extra={"planning_cycle": 2028}),
    # Matched through SOAP: a match all the same; the visa is next.
    # Stage matched: the visa is still to come -> on_track.
    Case("matched_in_soap",
         full(ROL27, SON, done("match_result", date(2027, 3, 15), match_outcome="unmatched"),
              done("soap", date(2027, 3, 17), match_outcome="matched")),
         "visa", (), "on_track", 2027, True, as_of=date(2027, 3, 20)),
    # Step 1 (2016-05-01) and Step 2 CK (2024-06-01) more than 7 years apart: the Step 1 pass stops counting;
    # it must be passed again by 2027-01-20 for the Match (window until 2031-06-01). Not a lost cycle.
    Case("ecfmg_window_broken",
         facts(ID, passed("usmle_step1", date(2016, 5, 1)), passed("usmle_step2ck", date(2024, 6, 1), 240), OET,
               PATHWAY, *APPLIED27, grad=date(2016, 6, 30)),
         "usmle_step1", ("ecfmg_window_broken",), "not_ready", 2027, True,
         extra={"resolvable_by": date(2031, 6, 1), "due_by": date(2027, 1, 20),
                "gate": ("ecfmg_exam_window", "unmet")}),
    # Step 1 passed 2018-01-10 and no Step 2 CK by 2025-01-10: the window has closed, Step 1 no longer counts.
    # Both exams are due by 2027-01-20; at equal dates and lead times the road order puts Step 1 first.
    Case("ecfmg_window_expired_single_pass",
         facts(ID, passed("usmle_step1", date(2018, 1, 10)), OET, PATHWAY, *APPLIED27, grad=date(2017, 6, 30)),
         "usmle_step1", ("ecfmg_window_broken",), "not_ready", 2027, True),
    # Step 1 passed 2019-12-15: Step 2 CK must be passed by 2026-12-15 (window), earlier than the Match limit
    # (2027-01-20), 20 days away. Severity "overdue" outranks "due soon": the advisory date for having the score
    # on the application (programs review 2026-09-23, minus 28 days = 2026-08-26) has passed.
    Case("ecfmg_window_closing",
         facts(ID, passed("usmle_step1", date(2019, 12, 15)), OET, PATHWAY, *APPLIED27, grad=date(2019, 6, 30)),
         "usmle_step2ck", (), "at_risk", 2027, True,
         extra={"due_by": date(2026, 12, 15), "deadline": "ecfmg_exam_window", "severity": "overdue",
                "gate": ("ecfmg_exam_window", "pending")}),
    # Step 3 passed on 2025-06-01, before certification (2025-10-15): FSMB would not have admitted it; the
    # attempt does not count. Not needed for a J-1, so the cycle is unaffected, but readiness is not_ready.
    Case("step3_before_certification", full(passed("usmle_step3", date(2025, 6, 1), 225)),
         "rank_order_list", ("step3_before_ecfmg_certification",), "not_ready", 2027, True,
         extra={"gate": ("step3_eligibility", "unmet")}),
    # 2027-03-05, after the ROL deadline, never registered: the 2027 Main Match is closed. 2028 next.
    Case("after_rol_deadline_not_registered", full(drop=("nrmp_registration",)),
         "eras_application", ("rol_deadline_passed",), "not_ready", 2028, False, as_of=date(2027, 3, 5),
         extra={"deciding": "rol_deadline_passed", "planning_cycle": 2028}),
    # 2027-03-05 with a certified list and the Match requirements met: wait for Match Week (2027-03-15).
    Case("after_rol_deadline_list_certified", full(ROL27), "match_result", (), "ready", 2027, True,
         as_of=date(2027, 3, 5), extra={"available_from": date(2027, 3, 15)}),
    # A Step 2 CS sitting booked in June 2021: the exam ended 2021-01-26. Explain; plan OET + Pathway instead.
    Case("step2cs_after_discontinuation",
         facts(ID, STEP1, STEP2, scheduled("usmle_step2cs", date(2021, 6, 1)), *APPLIED27),
         "oet_medicine", ("step2cs_after_discontinuation",), "not_ready", 2027, True,
         extra={"gate": ("step2cs_discontinued", "unmet")}),
    # OET: 2026-01-10 W 290; 2026-04-10 L 340. Together every minimum is met, but ECFMG needs one sitting.
    Case("oet_not_one_sitting",
         facts(ID, STEP1, STEP2, oet(date(2026, 1, 10), OetScores(360, 360, 290, 360), "failed"),
               oet(date(2026, 4, 10), OetScores(340, 360, 310, 360), "failed"), CREDS, *APPLIED27),
         "oet_medicine", ("oet_not_one_sitting",), "not_ready", 2027, True),
    # Final-year student graduating 2027-06-15: credentials cannot be verified before a 2027-07-01 start
    # (they must start by 2027-03-07). 2028: credential verification opens at graduation (2027-06-15).
    Case("final_year_graduating_june_2027", facts(*EXAMS, *APPLIED27, grad=date(2027, 6, 15)),
         "credentials_verified", ("graduation_too_late",), "not_ready", 2028, False,
         extra={"deciding": "graduation_too_late", "available_from": date(2027, 6, 15)}),
    # Graduating 2027-01-15 is in time for 2027: credential verification starts at graduation, before ranking.
    Case("final_year_graduating_january_2027", facts(*EXAMS, *APPLIED27, grad=date(2027, 1, 15)),
         "credentials_verified", (), "at_risk", 2027, True, extra={"available_from": date(2027, 1, 15)}),
    # No specialty chosen, certified, aiming at 2028: decide by ERAS submission (2027-09-01). 2027 is still
    # reachable (registration open until 2027-03-03).
    # Status: the decision is due 2027-09-01, far off, and ERAS is more than 120 days away -> on_track.
    Case("no_specialty_yet", facts(*CERTIFIED, targets=(), year=2028), "specialty_decided", (), "on_track", 2027,
         True, cycle=2028, extra={"due_by": date(2027, 9, 1)}),
    # Graduate with nothing done on 2026-11-25: the ID registration was due by 2026-10-28 for 2027.
    # 2028: ID registration by 2027-10-27.
    Case("no_id_too_late_for_2027", facts(), "usmle_id_registered", ("match_requirements_not_verifiable",),
         "not_ready", 2028, False, extra={"planning_cycle": 2028, "due_by": date(2027, 10, 27)}),
    # Step 2 CK failed once then passed: first-attempt credit 0.5 (-5 points): 91, still ready.
    Case("step2ck_failed_once_then_passed",
         full(failed("usmle_step2ck", date(2025, 3, 1), 1, 205),
              passed("usmle_step2ck", date(2025, 8, 20), 245, attempt=2), drop=("usmle_step2ck",)),
         "rank_order_list", (), "ready", 2027, True, extra={"score": 91}),
    # Three failed Step 2 CK attempts: one more is allowed (limit 4). Next: Step 2 CK by 2027-01-20.
    Case("three_failed_step2ck",
         facts(ID, STEP1, *(failed("usmle_step2ck", date(2024 + i // 2, 3 + 6 * (i % 2), 1), i + 1)
                            for i in range(3)), OET, PATHWAY, *APPLIED27),
         "usmle_step2ck", (), "at_risk", 2027, True),
    # Four failed Step 3 attempts after certification, J-1: barred from Steps, but none is still needed for the
    # Match -> a warning, no blocker. First-attempt credit 0 (-10): 86, ready.
    Case("four_failed_step3_j1",
         full(*(failed("usmle_step3", date(2026, 1 + 2 * i, 5), i + 1) for i in range(4))),
         "rank_order_list", (), "ready", 2027, True, extra={"warning": "attempt_limit_reached", "score": 86}),
    # ERAS not submitted on 2026-11-25: programs have been reviewing since 2026-09-23 -> overdue, not a gate.
    Case("eras_not_submitted", full(drop=("eras_application",)), "eras_application", (), "at_risk", 2027, True,
         extra={"severity": "overdue"}),
    # 2027-02-05, not registered: after the standard deadline (2027-01-31), before the late deadline -> overdue.
    Case("nrmp_after_standard_deadline", full(drop=("nrmp_registration",)), "nrmp_registration", (), "at_risk",
         2027, True, as_of=date(2027, 2, 5), extra={"severity": "overdue", "due_by": date(2027, 3, 3)}),
    # Ranking open on 2027-02-20, list not certified: due 2027-03-03, 11 days -> due soon. A required step within
    # due_soon_days of its latest safe date is at_risk (issue 8, section 2), whatever the score.
    Case("ranking_open_list_not_certified", full(), "rank_order_list", (), "at_risk", 2027, True,
         as_of=date(2027, 2, 20), extra={"severity": "due_soon"}),
    # Step 2 CK booked on 2026-12-15, in time; no score yet (0 of 25): 75 points, but the Match requirements are
    # still pending -> on_track.
    Case("step2ck_scheduled_in_time",
         full(scheduled("usmle_step2ck", date(2026, 12, 15)), drop=("usmle_step2ck", "ecfmg_certification")),
         "usmle_step2ck", (), "on_track", 2027, True, extra={"severity": "on_track", "score": 75}),
    # H-1B, certified 2025-10-15, Step 3 passed 2026-10-01; programs sponsor H-1B with Step 3 by Match Day.
    Case("h1b_step3_passed",
         full(passed("usmle_step3", date(2026, 10, 1), 230), visa="h1b",
              entries=sponsoring_list(sponsors_h1b=True, step3_required_by="match_day")),
         "rank_order_list", (), "ready", 2027, True, extra={"gate": ("step3_for_h1b", "met")}),
    # Asking about 2026 on 2026-11-25: that Match is over and the candidate never registered for it.
    # The records dated Sept 2026 belong to 2027, which is reachable.
    Case("past_cycle_requested", full(), "rank_order_list", ("rol_deadline_passed",), "not_ready", 2027, False,
         cycle=2026, extra={"planning_cycle": 2027, "deciding": "rol_deadline_passed"}),
    # Residency started 2027-07-01: the road is complete.
    Case("residency_started",
         full(ROL27, done("match_result", date(2027, 3, 19), match_outcome="matched"),
              done("visa", date(2027, 5, 15), visa_type="j1"), done("residency_start", date(2027, 7, 1))),
         None, (), "ready", 2027, True, as_of=date(2027, 7, 10)),
    # H-1B, not certified, Step 3 booked for 2027-01-10: an invalid booking (certification first) and H-1B out of
    # reach for 2027 (certification was due by 2026-11-11). 2028: the certificate itself is next (all parts
    # done), by 2027-11-10.
    Case("step3_booked_before_certification_h1b",
         facts(*EXAMS, CREDS, *APPLIED27, scheduled("usmle_step3", date(2027, 1, 10)), visa="h1b"),
         "ecfmg_certification", ("h1b_without_step3", "step3_before_ecfmg_certification"), "not_ready", 2028,
         False, extra={"due_by": date(2027, 11, 10)}),
    # Pathway submitted 2026-11-01, before its latest safe date (2026-12-23): in progress, on track.
    Case("pathway_submitted_in_time",
         facts(ID, STEP1, STEP2, OET, scheduled("ecfmg_pathway", date(2026, 11, 1), "in_progress"), CREDS,
               *APPLIED27),
         "ecfmg_pathway", (), "at_risk", 2027, True, extra={"severity": "on_track"}),
    # Pathway planned for 2027-01-05, after 2026-12-23: ECFMG could not accept it in time; resolvable by
    # submitting by 2026-12-23.
    Case("pathway_planned_too_late",
         facts(ID, STEP1, STEP2, OET, scheduled("ecfmg_pathway", date(2027, 1, 5), "in_progress"), CREDS,
               *APPLIED27),
         "ecfmg_pathway", ("match_requirements_not_verifiable",), "not_ready", 2027, True,
         extra={"resolvable_by": date(2026, 12, 23), "severity": "blocks_cycle"}),
    # 2026-12-28, ERAS not submitted (advisory date 2026-09-23 long past) and Step 2 CK not booked, due
    # 2027-01-20 (23 days): the exam's chain is at risk, so the exam comes before the overdue application.
    Case("exam_at_risk_before_overdue_application",
         full(drop=("usmle_step2ck", "ecfmg_certification", "eras_application")),
         "usmle_step2ck", (), "at_risk", 2027, True, as_of=date(2026, 12, 28),
         extra={"severity": "overdue", "due_by": date(2027, 1, 20)}),
    # The application goes through another service (ERAS marked not applicable): not a step at all.
    Case("eras_not_applicable", full(MilestoneFact("eras_application", "not_applicable"),
                                     drop=("eras_application",)),
         "rank_order_list", (), "ready", 2027, True),
    # Neither citizen nor resident but "no visa needed": flagged for review, otherwise ready.
    Case("visa_need_inconsistent", full(visa="none"), "rank_order_list", (), "ready", 2027, True,
         extra={"warning": "visa_need_inconsistent"}),
    # Unmatched on 2027-03-15 without a Pathway: the ROL was not usable (OET was due 2026-12-09, the Pathway
    # 2026-12-23) and SOAP is closed to the candidate. 2028: OET by 2027-12-08.
    Case("unmatched_not_soap_eligible",
         facts(ID, STEP1, STEP2, CREDS, *APPLIED27, ROL27,
               done("match_result", date(2027, 3, 15), match_outcome="unmatched")),
         "oet_medicine", ("not_soap_eligible", "match_requirements_not_verifiable"),
         "not_ready", 2028, False, as_of=date(2027, 3, 15), extra={"due_by": date(2027, 12, 8)}),
]


def run(case: Case) -> tuple[NextStepResult, ReadinessResult]:
    return (
        next_step(case.facts, BOOK, case.cycle, case.as_of),
        readiness(case.facts, BOOK, case.cycle, case.as_of),
    )


def test_there_are_at_least_40_situations() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_situation(case: Case) -> None:
    step, ready = run(case)
    assert (step.next_step.code if step.next_step else None) == case.next_step
    assert tuple(b.code for b in step.blockers) == case.blockers
    assert step.cycle_reachable is case.reachable
    assert step.earliest_feasible_cycle == case.earliest
    assert ready.status == case.status
    assert ready.earliest_feasible_cycle == case.earliest
    assert tuple(b.code for b in ready.blockers) == case.blockers
    extra = case.extra
    nxt = step.next_step
    if "deciding" in extra:
        assert step.deciding_gate is not None and step.deciding_gate.code == extra["deciding"]
    # The next step is planned for the requested cycle, or for the earliest feasible one when it is lost.
    lost = not case.reachable and case.earliest is not None
    assert step.planning_cycle == extra.get("planning_cycle", case.earliest if lost else case.cycle)
    if "due_by" in extra:
        assert nxt is not None and nxt.due_by == extra["due_by"]
    if "severity" in extra:
        assert nxt is not None and nxt.severity == extra["severity"]
    if "available_from" in extra:
        assert nxt is not None and nxt.available_from == extra["available_from"]
    if "deadline" in extra:
        assert nxt is not None and nxt.deadline is not None and nxt.deadline.name == extra["deadline"]
    if "resolvable_by" in extra:
        assert step.blockers[0].resolvable_by == extra["resolvable_by"]
    if "score" in extra:
        assert ready.score == extra["score"]
    if "warning" in extra:
        assert extra["warning"] in {w.code for w in step.warnings}
    if "detail" in extra:
        assert str(extra["detail"]) in step.blockers[0].detail
    if "gate" in extra:
        code, status = extra["gate"]  # type: ignore[misc]
        assert {g.code: g.status for g in ready.gates}[code] == status
    if "applicant_type" in extra:
        assert ready.base_match_rate.applicant_type == extra["applicant_type"]
        assert ready.base_match_rate.rate == extra["rate"]
        assert ready.base_match_rate.year == 2025


def test_blocker_details_name_the_cycle_dates() -> None:
    step, _ = run(CASES[1])
    blocker = step.blockers[0]
    assert blocker.milestone == "usmle_step2ck"
    assert "2027-03-03 21:00 America/New_York" in blocker.detail
    assert blocker.blocks_cycle is False


def test_h1b_blocker_lists_what_is_late() -> None:
    case = next(c for c in CASES if c.id == "h1b_not_certified")
    step, ready = run(case)
    blocker = step.blockers[0]
    assert "ecfmg_certification" in blocker.milestones and "credentials_verified" in blocker.milestones
    assert {g.code: g.status for g in ready.gates}["step3_for_h1b"] == "unmet"


def test_permanent_resident_note_mentions_non_us_img() -> None:
    case = next(c for c in CASES if c.id == "permanent_resident_img")
    _, ready = run(case)
    assert "non-US IMG" in (ready.base_match_rate.note or "")
    assert "active applicants" in ready.base_match_rate.population


def test_completed_lists_legacy_step2cs_as_history() -> None:
    case = next(c for c in CASES if c.id == "step2cs_passed_2019_is_history")
    step, ready = run(case)
    legacy = [c for c in step.completed if c.code == "usmle_step2cs"]
    assert legacy and "history" in (legacy[0].note or "")
    assert {g.code: g.status for g in ready.gates}["step2cs_discontinued"] == "met"


def test_permanent_blocker_offers_no_step_and_lists_the_rest_blocked() -> None:
    case = next(c for c in CASES if c.id == "four_failed_step1_attempts")
    step, _ = run(case)
    assert step.next_step is None and step.also_available == ()
    assert step.blockers[0].permanent
    waiting = {b.code: b.waits_on for b in step.blocked}
    assert "attempt_limit" in waiting["usmle_step1"]


def test_rank_list_over_the_nrmp_limit_is_flagged() -> None:
    ranked = tuple(entry(program(i, sponsors_j1=True), rank=i + 1) for i in range(301))
    step = next_step(full(entries=ranked), BOOK, 2027, AS_OF)
    assert "rank_list_over_limit" in {w.code for w in step.warnings}
    assert "rank_list_over_limit" not in {w.code for w in next_step(full(entries=ranked[:300]), BOOK, 2027,
                                                                      AS_OF).warnings}


def test_as_of_is_echoed_and_rules_version_matches_cycle() -> None:
    step, ready = run(replace(CASES[0]))
    assert step.as_of == AS_OF and ready.as_of == AS_OF
    assert step.rules_version == "2030.1" and ready.rules_version == "2030.1"
    assert ready.model_version == "readiness-1.0"
