"""Readiness factors, weights from the data file, the unavailable Step 2 CK reference, and what-if deltas.

Weights (readiness-1.0): Step 2 CK 25, first attempt 10, years since graduation 10, USCE 20, US letters 10,
program list 15, visa sponsorship 10, contiguous ranks 0 (count only). Step 2 CK without a reference: credit
(score - 218) / 32. The fully ready candidate (245) scores 25 * 27/32 + 75 = 96.1 -> 96.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from app.pathway import WhatIf, load_rulebook, readiness
from app.pathway.rules import RULES_DIR

from .test_pathway_situations import (
    APPLIED27,
    AS_OF,
    BOOK,
    CERTIFIED,
    USCE_FULL,
    entry,
    facts,
    full,
    passed,
    program,
    sponsoring_list,
)


def factor(result: object, key: str):  # type: ignore[no-untyped-def]
    return {f.key: f for f in result.factors}[key]  # type: ignore[attr-defined]


def test_fully_ready_breakdown() -> None:
    result = readiness(full(), BOOK, 2027, AS_OF)
    assert result.score == 96 and result.status == "ready"
    assert factor(result, "step2ck").credit == pytest.approx(27 / 32, abs=1e-3)
    assert factor(result, "step2ck").contribution == pytest.approx(21.1)
    assert sum(f.effective_weight for f in result.factors) == pytest.approx(100.0)
    for key in ("first_attempt", "years_since_graduation", "usce", "us_letters", "program_list", "visa_sponsorship"):
        assert factor(result, key).credit == 1.0
    contiguous = factor(result, "contiguous_ranks")
    assert contiguous.credit is None and contiguous.contribution == 0 and contiguous.weight == 0


def test_step2ck_reference_is_unavailable_and_says_so() -> None:
    f = factor(readiness(full(), BOOK, 2027, AS_OF), "step2ck")
    assert f.reference_available is False and f.heuristic is True
    assert f.note is not None
    assert "No published Step 2 CK reference for matched IMGs in internal medicine" in f.note
    assert "passing score (218)" in f.note and "250" in f.note
    assert f.value == 245.0 and f.value_text == "245 (passing 218)"


def test_step2ck_reference_from_data_is_used(tmp_path: Path) -> None:
    # A reference added to the data file (with its source) replaces the margin heuristic: no code change.
    shutil.copy(RULES_DIR / "2027.toml", tmp_path / "2027.toml")
    path = tmp_path / "2027.toml"
    path.write_text(path.read_text() + (
        '\n[readiness.references.step2ck_by_specialty.internal_medicine]\nvalue = 240\nconfidence = "official"\n'
        'source = "test fixture"\nverified_on = 2026-11-25\n'
    ))
    book = load_rulebook(tmp_path)
    f = factor(readiness(full(), book, 2027, AS_OF), "step2ck")
    assert f.reference_available is True and f.credit == 1.0
    assert f.value_text == "245 (passing 218, reference 240)"


def test_inapplicable_factors_share_out_their_weight() -> None:
    # No list: visa sponsorship is not scored; the remaining 90 points of weight are scaled to 100.
    result = readiness(facts(*CERTIFIED, *APPLIED27, usce=USCE_FULL, letters=1), BOOK, 2027, AS_OF)
    visa = factor(result, "visa_sponsorship")
    assert visa.credit is None and visa.effective_weight == 0
    assert factor(result, "usce").effective_weight == pytest.approx(22.2)
    assert sum(f.effective_weight for f in result.factors) == pytest.approx(100.0, abs=0.2)
    # (21.09 + 10 + 10 + 20 + 10 + 0) / 90 = 79.0
    assert result.score == 79


def test_contiguous_ranks_are_counted_not_scored() -> None:
    ranked = (
        entry(program(1, sponsors_j1=True), rank=1),
        entry(program(2, sponsors_j1=True), rank=2),
        entry(program(3, sponsors_j1=True), rank=3),
        entry(replace(program(4, sponsors_j1=True), specialty="family_medicine"), rank=4),
        entry(program(5, sponsors_j1=True), rank=5),
    )
    result = readiness(full(entries=ranked), BOOK, 2027, AS_OF)
    f = factor(result, "contiguous_ranks")
    assert f.value == 3.0 and f.credit is None and f.reference_available is False
    assert "curve" in (f.note or "")


def test_years_since_graduation_counts_programs_that_exclude() -> None:
    old = full(grad=date(2015, 6, 30), entries=tuple(
        entry(program(i, sponsors_j1=True, max_years_since_graduation=5 if i < 3 else None)) for i in range(10)))
    f = factor(readiness(old, BOOK, 2027, AS_OF), "years_since_graduation")
    assert f.credit == 0.0 and "3 of 10 programs on the list exclude it" in f.value_text
    program_list = factor(readiness(old, BOOK, 2027, AS_OF), "program_list")
    assert "3 screen you out" in program_list.value_text


def test_visa_share_with_unpublished_sponsorship() -> None:
    entries = (*sponsoring_list(6), *(entry(program(10 + i)) for i in range(2)),
               *(entry(program(20 + i, sponsors_j1=False)) for i in range(2)))
    f = factor(readiness(full(entries=entries), BOOK, 2027, AS_OF), "visa_sponsorship")
    assert f.value == pytest.approx((6 + 0.5 * 2) / 10)
    assert "6 of 10 programs sponsor it, 2 have not published" in f.value_text


WHAT_IFS = [
    # (id, candidate, what-if, baseline, new score)
    # No USCE: 25*27/32 + 10+10 + 0 + 10 + 15 + 10 = 76.1 -> 76; 12 hands-on weeks in IM ending today: +20 -> 96.
    ("usce_weeks", facts(*CERTIFIED, *APPLIED27, entries=sponsoring_list(), letters=3),
     WhatIf(extra_usce_weeks_hands_on=12), 76, 96),
    # Step 2 CK 225: 25*7/32 = 5.5 + 75 = 80.5 -> 80; with 250: 25 + 75 = 100.
    ("step2ck_score", full(passed("usmle_step2ck", date(2025, 8, 20), 225), drop=("usmle_step2ck",)),
     WhatIf(step2ck_score=250), 80, 100),
    # 10 programs: 15 * 10/40 = 3.75 -> 84.8 -> 85; 30 more -> 96.
    ("extra_programs", full(entries=sponsoring_list(10)), WhatIf(extra_programs=30), 85, 96),
    # 2 US letters: 10 * 2/3 = 6.7 -> 92.8 -> 93; one more -> 96.
    ("extra_letters", full(letters=0), WhatIf(extra_us_letters=1), 93, 96),
    # A failing score (210 < 218) in a what-if is a failed attempt: Step 2 CK credit 0 (-21.1) and the
    # first-attempt credit halves (-5): 70.
    ("step2ck_failing", full(), WhatIf(step2ck_score=210), 96, 70),
]


@pytest.mark.parametrize(("candidate", "what_if", "baseline", "score"), [w[1:] for w in WHAT_IFS],
                         ids=[w[0] for w in WHAT_IFS])
def test_what_if_delta(candidate, what_if, baseline, score) -> None:  # type: ignore[no-untyped-def]
    plain = readiness(candidate, BOOK, 2027, AS_OF)
    result = readiness(candidate, BOOK, 2027, AS_OF, what_if=what_if)
    assert plain.score == baseline and plain.what_if is None and plain.delta is None
    assert (result.baseline_score, result.score, result.delta) == (baseline, score, score - baseline)
    assert result.what_if == what_if and result.baseline_status == plain.status


def test_what_if_does_not_touch_the_facts() -> None:
    candidate = full(entries=sponsoring_list(10))
    before = repr(candidate)
    readiness(candidate, BOOK, 2027, AS_OF, what_if=WhatIf(extra_programs=5, extra_usce_weeks_hands_on=4,
                                                           extra_us_letters=2, step2ck_score=260))
    assert repr(candidate) == before


def test_empty_what_if_has_zero_delta() -> None:
    result = readiness(full(), BOOK, 2027, AS_OF, what_if=WhatIf())
    assert result.delta == 0 and result.baseline_score == result.score == 96


def test_base_rate_is_sourced_and_over_active_applicants() -> None:
    rate = readiness(full(), BOOK, 2027, AS_OF).base_match_rate
    assert (rate.applicant_type, rate.rate, rate.year) == ("non_us_img", 0.58, 2025)
    assert "active applicants" in rate.population and rate.source
    assert "2026 figures by applicant type not found" in (rate.note or "")
