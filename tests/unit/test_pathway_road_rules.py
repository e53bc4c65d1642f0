"""Rules added to the road from the domain notes' section G and the issue's section 3: the J-1 Statement of Need,
Pathway validity, deadlines on a weekend, SOAP's closing time and the match-rate year. Each expected value is traced
to the domain notes or to the rule file value it comes from."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from types import MappingProxyType

import pytest

from app.pathway import next_step, readiness
from app.pathway.rules import Provenance, RuleBook, Sourced

from .test_pathway_situations import (
    AS_OF,
    BOOK,
    CERTIFIED,
    EXAMS,
    ID,
    OET,
    ROL27,
    SON,
    STEP1,
    STEP2,
    done,
    facts,
    failed,
    full,
)

MATCHED = done("match_result", date(2027, 3, 19), match_outcome="matched")
UNMATCHED = done("match_result", date(2027, 3, 15), match_outcome="unmatched")
NRMP27 = done("nrmp_registration", date(2026, 9, 20))
ERAS27 = done("eras_application", date(2026, 9, 2))


def _codes(items) -> list[str]:  # type: ignore[no-untyped-def]
    return [i.code for i in items]


def _book_with(year: int, **ecfmg_or_nrmp: Sourced[object]) -> RuleBook:
    rules = BOOK.cycle(year)
    ecfmg = {k: v for k, v in ecfmg_or_nrmp.items() if hasattr(rules.ecfmg, k)}
    nrmp = {k: v for k, v in ecfmg_or_nrmp.items() if hasattr(rules.nrmp, k)}
    changed = replace(rules, ecfmg=replace(rules.ecfmg, **ecfmg), nrmp=replace(rules.nrmp, **nrmp))
    return RuleBook(cycles=MappingProxyType({**BOOK.cycles, year: changed}), directory="test")


PROV = Provenance("test rule set", date(2026, 12, 2))


def _says(warnings, code, milestone, texts):  # type: ignore[no-untyped-def]
    """The warnings of `code` on `milestone`: none when `texts` is None, else exactly one holding each text."""
    found = [w for w in warnings if w.code == code and w.milestone == milestone]
    if texts is None:
        assert found == []
    else:
        assert len(found) == 1
        for text in texts:
            assert text in found[0].detail, (text, found[0].detail)
    return found


# ---- the J-1 Statement of Need ----------------------------------------------------------------------------------
# Domain notes, section A: VISA_J1_ELIGIBLE -> ECFMG_CERTIFIED (+ statement of need, ECFMG sponsorship).
# Lead times of the 2027 rule file: visa_processing 60 days, statement_of_need 90 days (heuristic), so the Statement
# must be in hand by 2027-07-01 - 60 - 90 = 2027-02-01.

SON_CASES = [
    # (id, facts, as_of, next step, Statement of Need: applicable, required, in also_available; blocker codes)
    # Matched J-1 with no Statement of Need: it comes before the visa, and 2027-02-01 has passed -> visa late.
    ("matched_j1_without_it", full(ROL27, MATCHED), date(2027, 3, 25), "j1_statement_of_need",
     (True, True), ("visa_not_in_time",)),
    # Matched J-1 holding it: the visa is next (domain notes section 6: J-1 sponsored by ECFMG).
    ("matched_j1_with_it", full(ROL27, MATCHED, SON), date(2027, 3, 25), "visa", (True, True), ()),
    # Before the match: advised, not required, so it never displaces the rank order list.
    ("j1_before_the_match", full(), date(2027, 2, 5), "rank_order_list", (True, False), ()),
    # A J-1 visa in hand implies the Statement of Need it was issued with.
    ("visa_implies_it", full(ROL27, MATCHED, done("visa", date(2027, 5, 15), visa_type="j1")), date(2027, 5, 20),
     None, (True, True), ()),
    # H-1B: no Statement of Need (it belongs to the J-1 application).
    ("h1b_matched", full(ROL27, MATCHED, visa="h1b"), date(2027, 3, 25), None, (False, False), None),
    # J-1 or H-1B: open to the candidate, not required.
    ("either_matched", full(ROL27, MATCHED, visa="either"), date(2027, 3, 25), None, (True, False), None),
    # A US citizen needs no visa.
    ("citizen", full(ROL27, MATCHED, visa="none", us_status="citizen"), date(2027, 3, 25), None, (False, False),
     None),
]


@pytest.mark.parametrize(("candidate", "as_of", "expected_next", "son", "blockers"),
                         [c[1:] for c in SON_CASES], ids=[c[0] for c in SON_CASES])
def test_statement_of_need(candidate, as_of, expected_next, son, blockers) -> None:  # type: ignore[no-untyped-def]
    result = next_step(candidate, BOOK, 2027, as_of)
    if expected_next is not None:
        assert result.next_step is not None and result.next_step.code == expected_next
    applicable, required = son
    listed = [s for s in (*( [result.next_step] if result.next_step else []), *result.also_available)
              if s.code == "j1_statement_of_need"]
    assert bool(listed) == (applicable and not any(c.code == "j1_statement_of_need" for c in result.completed))
    if listed:
        assert listed[0].required is required
        assert listed[0].recommended_by == date(2027, 2, 1)
        assert listed[0].due_by == date(2027, 2, 1)  # the latest safe date when required, else the advised one
    if blockers is not None:
        assert tuple(b.code for b in result.blockers) == blockers


def test_statement_of_need_is_explained() -> None:
    result = next_step(full(ROL27, MATCHED), BOOK, 2027, date(2027, 3, 25))
    assert result.next_step is not None and result.next_step.code == "j1_statement_of_need"
    assert "ministry of health" in result.next_step.why and "90 days" in result.next_step.why


# ---- Pathway validity ----------------------------------------------------------------------------------------------
# Domain notes G: an accepted Pathway counts for the Match cycles its rules name; after that, revalidation. The
# packaged cycles hold no list (a gap); a rule set that names one (as ECFMG did for the 2024 Match) is simulated.

PATHWAY_FROM_2026 = Sourced(date(2026, 1, 1), PROV)

PATHWAY_CASES = [
    # (id, facts, book, blocker codes, warning codes, ecfmg_pathway done)
    # Packaged 2027 rules: validity is a gap -> counted, with a warning that says so.
    ("gap_warns", facts(*EXAMS), BOOK, (), ("pathway_validity_unverified",), True),
    # Certified: the certificate settles the Pathway; nothing to say.
    ("certified", facts(*CERTIFIED), BOOK, (), (), True),
    # Accepted 2025-09-01, the cycle counts Pathways from 2026-01-01 -> expired: revalidate.
    ("expired", facts(*EXAMS), _book_with(2027, pathway_valid_from=PATHWAY_FROM_2026), ("pathway_expired",), (),
     False),
    # Accepted 2026-02-01, after the cycle's date -> valid.
    ("valid", facts(ID, STEP1, STEP2, done("oet_medicine", date(2025, 5, 10)),
                    done("ecfmg_pathway", date(2026, 2, 1), pathway="1")),
     _book_with(2027, pathway_valid_from=PATHWAY_FROM_2026), (), (), True),
]


@pytest.mark.parametrize(("candidate", "book", "blockers", "warnings", "pathway_done"),
                         [c[1:] for c in PATHWAY_CASES], ids=[c[0] for c in PATHWAY_CASES])
def test_pathway_validity(candidate, book, blockers, warnings, pathway_done) -> None:  # type: ignore[no-untyped-def]
    result = next_step(candidate, book, 2027, AS_OF)
    got_blockers = tuple(b.code for b in result.blockers if b.code == "pathway_expired")
    got_warnings = tuple(w.code for w in result.warnings if w.code.startswith("pathway_validity"))
    assert (got_blockers, got_warnings) == (blockers, warnings)
    assert ("ecfmg_pathway" in _codes(result.completed)) is pathway_done


def test_an_expired_pathway_makes_revalidation_the_step() -> None:
    result = next_step(facts(*EXAMS), _book_with(2027, pathway_valid_from=PATHWAY_FROM_2026), 2027, AS_OF)
    expired = next(b for b in result.blockers if b.code == "pathway_expired")
    assert "Revalidation" in expired.detail and "2026-01-01" in expired.detail
    # Revalidation is planned like the Pathway: 56 days of processing (lead_times.pathway_processing) before the
    # verification buffer (14 days) ahead of the rank order list deadline (2027-03-03): 2027-03-03 - 14 - 56.
    steps = {s.code: s for s in ((result.next_step,) if result.next_step else ()) + result.also_available}
    assert steps["ecfmg_pathway"].due_by == date(2026, 12, 23)


# ---- Deadlines on a weekend ------------------------------------------------------------------------------------------
# 2027 rule file: the standard NRMP registration deadline is 2027-01-31, a Sunday (31 January pattern); the rules
# hold no source on whether it moves (nrmp.weekend_deadlines is a gap), and the response says so.

WEEKEND_CASES = [
    # (id, facts, book, expected texts in the warning, or None for no warning)
    ("not_registered_gap", facts(*CERTIFIED, ERAS27), BOOK, ("2027-01-31", "Sunday", "gap", "2027-01-29")),
    ("registered", facts(*CERTIFIED, ERAS27, NRMP27), BOOK, None),
    ("policy_as_published", facts(*CERTIFIED, ERAS27),
     _book_with(2027, weekend_deadlines=Sourced("as_published", PROV)), ("does not move", "2027-01-29")),
    ("policy_next_business_day", facts(*CERTIFIED, ERAS27),
     _book_with(2027, weekend_deadlines=Sourced("next_business_day", PROV)), ("moves to the next business day",)),
]


@pytest.mark.parametrize(("candidate", "book", "texts"), [c[1:] for c in WEEKEND_CASES],
                         ids=[c[0] for c in WEEKEND_CASES])
def test_weekend_deadlines(candidate, book, texts) -> None:  # type: ignore[no-untyped-def]
    result = next_step(candidate, book, 2027, AS_OF)
    _says(result.warnings, "deadline_on_weekend", "nrmp_registration", texts)


def test_a_weekday_deadline_says_nothing() -> None:
    # The 2027 rank order list deadline, 2027-03-03, is a Wednesday.
    assert date(2027, 3, 3).weekday() == 2
    result = next_step(facts(*CERTIFIED, ERAS27, NRMP27), BOOK, 2027, AS_OF)
    assert not [w for w in result.warnings if w.code == "deadline_on_weekend"]


def _book_with_calendar(year: int, rules_nrmp: Sourced[object] | None = None, **dates: date) -> RuleBook:
    rules = BOOK.cycle(year)
    calendar = replace(rules.calendar, **{k: replace(getattr(rules.calendar, k), on=v) for k, v in dates.items()})
    nrmp = rules.nrmp if rules_nrmp is None else replace(rules.nrmp, weekend_deadlines=rules_nrmp)
    return RuleBook(cycles=MappingProxyType({**BOOK.cycles, year: replace(rules, calendar=calendar, nrmp=nrmp)}),
                    directory="test")


# The weekend policy in the rules (nrmp.weekend_deadlines) is the NRMP's; the AAMC sets ERAS dates and no source on
# whether they move was found (a gap), so an ERAS date on a weekend is reported as a gap whatever the NRMP policy.
# 2026-09-26 is a Saturday; the Friday before is 2026-09-25.
ERAS_SATURDAY = date(2026, 9, 26)
ERAS_WEEKEND_CASES = [
    # (id, facts, NRMP policy, expected texts in the warning on eras_application, or None for no warning)
    ("not_applied_gap", facts(*CERTIFIED), None, ("2026-09-26", "Saturday", "AAMC", "gap", "2026-09-25")),
    ("nrmp_policy_does_not_move_eras", facts(*CERTIFIED), Sourced("next_business_day", PROV),
     ("AAMC", "gap", "2026-09-25")),
    ("applied", facts(*CERTIFIED, done("eras_application", date(2026, 9, 2))), None, None),
]


@pytest.mark.parametrize(("candidate", "policy", "texts"), [c[1:] for c in ERAS_WEEKEND_CASES],
                         ids=[c[0] for c in ERAS_WEEKEND_CASES])
def test_eras_deadlines_on_a_weekend(candidate, policy, texts) -> None:  # type: ignore[no-untyped-def]
    assert ERAS_SATURDAY.weekday() == 5
    book = _book_with_calendar(2027, policy, eras_program_review_open=ERAS_SATURDAY)
    result = next_step(candidate, book, 2027, date(2026, 9, 1))
    found = _says(result.warnings, "deadline_on_weekend", "eras_application", texts)
    assert all("moves to the next business day" not in w.detail for w in found)


# ---- Pathways after a Step 2 CS failure ------------------------------------------------------------------------------
# Domain notes, "What the Pathways are": those who had ever failed Step 2 CS had to use Pathway 6 (2024-era page). The
# 2026 rule file carries it forward as estimated (ecfmg.pathways_after_step2cs_failure = ["6"]); 2027 extends 2026.
CS_FAILED = failed("usmle_step2cs", date(2020, 2, 10), attempt=1)


def _pathway(p: str) -> object:
    return done("ecfmg_pathway", date(2025, 9, 1), pathway=p)


CS_FAILURE_CASES = [
    # (id, facts, book, expected texts in the warning, or None for no warning)
    ("failed_cs_pathway_1", facts(ID, STEP1, STEP2, OET, CS_FAILED, _pathway("1")), BOOK,
     ("only Pathway 6", "2027 Match", "estimated", "recorded Pathway 1")),
    ("failed_cs_pathway_6", facts(ID, STEP1, STEP2, OET, CS_FAILED, _pathway("6")), BOOK, None),
    ("never_failed_cs_pathway_1", facts(*EXAMS), BOOK, None),
    ("rules_allow_more", facts(ID, STEP1, STEP2, OET, CS_FAILED, _pathway("1")),
     _book_with(2027, pathways_after_step2cs_failure=Sourced(("1", "6"), PROV)), None),
    ("rule_is_a_gap", facts(ID, STEP1, STEP2, OET, CS_FAILED, _pathway("6")),
     _book_with(2027, pathways_after_step2cs_failure=Sourced(None, PROV)), ("not found", "gap", "confirm with ECFMG")),
]


@pytest.mark.parametrize(("candidate", "book", "texts"), [c[1:] for c in CS_FAILURE_CASES],
                         ids=[c[0] for c in CS_FAILURE_CASES])
def test_pathways_after_a_step2cs_failure(candidate, book, texts) -> None:  # type: ignore[no-untyped-def]
    result = next_step(candidate, book, 2027, AS_OF)
    _says(result.warnings, "pathway_after_step2cs_failure", "ecfmg_pathway", texts)


def test_the_packaged_rules_name_pathway_6_with_their_source() -> None:
    rule = BOOK.cycle(2027).ecfmg.pathways_after_step2cs_failure
    assert rule.value == ("6",)
    assert rule.provenance.estimated and "pathways-3-5" in rule.provenance.source


# ---- SOAP's closing time --------------------------------------------------------------------------------------------
# Domain notes section 5: SOAP closes Thursday, 17:00 ET in the 2026 calendar; section G: 21:00 ET in 2022 and 2024.
# The 2026 rule file follows the 2026 calendar; 2027 is estimated from it and says so.

SOAP_CASES = [
    (2026, date(2026, 3, 16), "2026-03-19 17:00 America/New_York", False),
    (2027, date(2027, 3, 15), "2027-03-18 17:00 America/New_York", True),
]


@pytest.mark.parametrize(("cycle", "as_of", "close", "estimated"), SOAP_CASES, ids=["2026", "2027"])
def test_soap_closing_time_is_in_the_step(cycle: int, as_of: date, close: str, estimated: bool) -> None:
    unmatched = done("match_result", as_of, match_outcome="unmatched")
    rol = done("rank_order_list", date(cycle, 2, 20))
    eras = done("eras_application", date(cycle - 1, 9, 10))
    nrmp = done("nrmp_registration", date(cycle - 1, 9, 20))
    result = next_step(facts(*CERTIFIED, eras, nrmp, rol, unmatched, year=cycle), BOOK, cycle, as_of)
    assert result.next_step is not None and result.next_step.code == "soap"
    assert close in result.next_step.why
    assert ("verify" in result.next_step.why) is estimated
    soap_end = BOOK.cycle(cycle).calendar.soap_end
    assert "21:00" in (soap_end.provenance.note or "") or "21:00" in (soap_end.provenance.pattern or "") or (
        cycle == 2026 and "21:00" in (soap_end.provenance.note or ""))


# ---- The match-rate year ---------------------------------------------------------------------------------------------
# Appendix: the latest published rates by applicant type are the 2025 Match's (US IMG 67.8 %, non-US IMG 58.0 %);
# 2026 results by applicant type are a gap. Every cycle from 2026 uses them and the response says which year.

@pytest.mark.parametrize(("cycle", "us_status", "rate"), [(2026, "none", 0.580), (2027, "citizen", 0.678),
                                                          (2031, "permanent_resident", 0.580)])
def test_match_rate_year_is_said(cycle: int, us_status: str, rate: float) -> None:
    result = readiness(facts(*CERTIFIED, year=cycle, us_status=us_status,
                             visa="none" if us_status != "none" else "j1"), BOOK, cycle, AS_OF)
    base = result.base_match_rate
    assert (base.year, base.rate) == (2025, pytest.approx(rate))
    assert base.note is not None and base.note.startswith(f"rates of the 2025 Match, the latest published by "
                                                          f"applicant type in the {cycle} rule set")
