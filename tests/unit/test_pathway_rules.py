"""The per-cycle rule files: loaded and validated at start-up, every value sourced, patterns honoured."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from app.pathway.dates import FRIDAY, add_years, first_weekday_on_or_after, nth_weekday
from app.pathway.rules import (
    CALENDAR_KEYS,
    RULES_DIR,
    RulesError,
    UnknownCycle,
    load_rulebook,
)

BOOK = load_rulebook()


def test_supported_cycles_2026_to_2031() -> None:
    assert BOOK.years == (2026, 2027, 2028, 2029, 2030, 2031)
    assert BOOK.supported_range == (2026, 2031)
    assert [BOOK.cycle(y).rules_version for y in BOOK.years] == [f"{y}.1" for y in BOOK.years]


def test_default_rulebook_is_cached() -> None:
    assert load_rulebook() is load_rulebook()


@pytest.mark.parametrize("year", [2019, 2025, 2032])
def test_unknown_cycle(year: int) -> None:
    with pytest.raises(UnknownCycle) as info:
        BOOK.cycle(year)
    assert str(year) in str(info.value) and "2026-2031" in str(info.value)
    assert info.value.supported == (2026, 2031)


def test_2026_published_dates() -> None:
    cal = BOOK.cycle(2026).calendar
    assert cal.eras_open.on == date(2025, 6, 4) and cal.eras_open.time == "09:00"
    assert cal.eras_submit_open.on == date(2025, 9, 3)
    assert cal.eras_program_review_open.on == date(2025, 9, 24)
    assert cal.eras_season_end.on == date(2026, 5, 31)
    assert cal.nrmp_registration_open.on == date(2025, 9, 15)
    assert cal.rol_deadline.on == date(2026, 3, 4)
    assert (cal.rol_deadline.time, cal.rol_deadline.time_zone) == ("21:00", "America/New_York")
    assert (cal.match_week_start.on, cal.match_week_end.on) == (date(2026, 3, 16), date(2026, 3, 20))
    assert cal.match_day.on == date(2026, 3, 20)
    assert cal.residency_start.on == date(2026, 7, 1)
    assert not cal.match_day.provenance.estimated
    assert cal.rol_deadline.provenance.confidence == "third_party"
    # Not published for 2026: computed from the 2024/2025 pattern and marked so.
    assert cal.nrmp_standard_reg_deadline.provenance.estimated
    assert cal.ranking_open.provenance.estimated and cal.ranking_open.on == date(2026, 2, 2)


@pytest.mark.parametrize("year", range(2026, 2032))
def test_every_value_is_sourced_and_patterns_hold(year: int) -> None:
    rules = BOOK.cycle(year)
    cal = rules.calendar
    for item in cal.items():
        assert item.provenance.source.strip()
        assert isinstance(item.provenance.verified_on, date)
        if item.provenance.estimated:
            assert item.provenance.pattern
    match_day = nth_weekday(year, 3, FRIDAY, 3)
    assert cal.match_day.on == match_day  # third Friday of March
    assert cal.residency_start.on == date(year, 7, 1)
    assert cal.eras_open.on.year == year - 1 and cal.eras_open.on.month == 6 and cal.eras_open.on.day <= 7
    assert cal.soap_end.on == date.fromordinal(match_day.toordinal() - 1)
    assert cal.rol_deadline.time == "21:00" and cal.rol_deadline.time_zone == "America/New_York"
    assert rules.ecfmg.oet_earliest_test_date.value == date(year - 2, 1, 1)
    assert rules.ecfmg.oet_minimum.value is not None
    assert (rules.ecfmg.oet_minimum.value.listening, rules.ecfmg.oet_minimum.value.writing) == (350, 300)
    assert rules.ecfmg.exam_window_years.value == 7
    assert rules.ecfmg.required_exams.value == ("usmle_step1", "usmle_step2ck")
    assert rules.nrmp.rol_max_ranks.value == 300
    assert rules.match_rate.year <= year - 1
    assert (rules.match_rate.us_img, rules.match_rate.non_us_img) == (0.678, 0.580)
    if year >= 2028:
        assert all(i.provenance.estimated for i in cal.items())
    if year >= 2027:
        assert rules.ecfmg.pathways_available.provenance.estimated
        assert cal.rol_deadline.on == date.fromordinal(match_day.toordinal() - 16)
        assert cal.ranking_open.on == first_weekday_on_or_after(date(year, 2, 1))


def test_usmle_rules_by_effective_date() -> None:
    usmle = BOOK.cycle(2027).usmle
    assert usmle.attempt_limit.value == 4 and usmle.attempt_limit_from == date(2021, 7, 1)
    assert usmle.attempt_limit_on(date(2021, 6, 30)) == 6
    assert usmle.step1_pass_fail_from.value == date(2022, 1, 26)

    def step2ck(on: date) -> int | None:
        entry = usmle.passing_score("usmle_step2ck", on)
        return entry.score if entry else None

    assert step2ck(date(2014, 7, 1)) == 209
    assert step2ck(date(2022, 6, 30)) == 209
    assert step2ck(date(2022, 7, 1)) == 214
    assert step2ck(date(2025, 6, 30)) == 214
    assert step2ck(date(2025, 7, 1)) == 218
    # Step 3: 198 -> 200 from 2024-01-01 (domain notes, section G; third-party, to be verified).
    step3 = usmle.passing_score("usmle_step3", date(2026, 1, 1))
    assert step3 is not None and step3.score == 200 and step3.provenance.confidence == "third_party"
    before = usmle.passing_score("usmle_step3", date(2023, 12, 31))
    assert before is not None and before.score == 198


def test_gaps_are_null_with_a_note_and_heuristics_are_labelled() -> None:
    rules = BOOK.cycle(2027)
    ref = rules.readiness.step2ck_reference("internal_medicine")
    assert ref.value is None and ref.provenance.gap and "Charting Outcomes" in (ref.provenance.note or "")
    assert rules.ecfmg.pathways_application_deadline.value is None
    assert rules.readiness.model_version == "readiness-1.0"
    assert all(f.provenance.heuristic for f in rules.readiness.factors)
    assert rules.readiness.factor("contiguous_ranks").weight == 0
    assert not rules.lead_times.step3_graduation_verification.provenance.heuristic  # FSMB: up to 12 weeks
    assert rules.lead_times.days("step3_graduation_verification") == 84
    assert rules.lead_times.pathway_processing.provenance.heuristic


# --- Malformed files ------------------------------------------------------------------------------------------


def _copy(tmp_path: Path, years: tuple[int, ...] = (2027,)) -> Path:
    for year in years:
        shutil.copy(RULES_DIR / f"{year}.toml", tmp_path / f"{year}.toml")
    return tmp_path


def _edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def test_a_copied_directory_loads(tmp_path: Path) -> None:
    book = load_rulebook(_copy(tmp_path, (2027, 2028)))
    assert book.years == (2027, 2028)
    # 2027 extends 2026, which the folder does not hold: it comes from the packaged set.
    assert book.cycle(2027).source == "folder" and book.cycle(2027).extends == 2026
    assert replace(book.cycle(2027), source="package") == BOOK.cycle(2027)


MALFORMED = [
    # (description, old text, new text, key named in the error)
    ("missing source", 'value = 2026-06-03\nconfidence = "third_party"\nnote = "ERAS 2027 season; third-party figure"\n'
     'source = "https://www.quantaprep.com/blog/eras-2026-guide ; https://mededits.com/mededits-blog/complete-guide-'
     'to-the-2026-2027-residency-application-timeline"\n',
     'value = 2026-06-03\nconfidence = "third_party"\n', "calendar.eras_open.source"),
    ("date as text", "[calendar.match_day]\nvalue = 2027-03-19", '[calendar.match_day]\nvalue = "19 March"',
     "calendar.match_day.value"),
    ("dates out of order", "[calendar.ranking_open]\nvalue = 2027-02-01", "[calendar.ranking_open]\nvalue = 2027-03-10",
     "calendar.rol_deadline"),
    ("integer as text", "[nrmp.rol_max_ranks]\nvalue = 300", '[nrmp.rol_max_ranks]\nvalue = "300"',
     "nrmp.rol_max_ranks.value"),
    ("unknown key", "[nrmp.rol_max_ranks]\nvalue = 300", "[nrmp.rol_max_ranks]\nvalue = 300\nmaximum = 300",
     "nrmp.rol_max_ranks"),
    ("gap with a value", "[readiness.references.step2ck]\n", "[readiness.references.step2ck]\nvalue = 240\n",
     "readiness.references.step2ck.value"),
    ("estimated without pattern", 'value = 2027-03-19\nconfidence = "derived"\nestimated = true\n'
     'pattern = "third Friday of March of the Match year"\nsource',
     'value = 2027-03-19\nconfidence = "derived"\nestimated = true\nsource', "calendar.match_week_end.pattern"),
    ("bad rate", "us_img = 0.678", "us_img = 67.8", "match_rate.value.us_img"),
    ("negative weight", "weight = 25", "weight = -25", "readiness.factors.step2ck.weight"),
    ("missing factor param", "params = { full_credit_margin = 32 }", "params = {}",
     "readiness.factors.step2ck.params.full_credit_margin"),
    ("ROL deadline without time", '[calendar.rol_deadline]\nvalue = 2027-03-03\ntime = "21:00"\n'
     'time_zone = "America/New_York"\n', "[calendar.rol_deadline]\nvalue = 2027-03-03\n", "calendar.rol_deadline.time"),
    ("bad step 3 default", 'value = "rank_deadline"', 'value = "whenever"', "h1b.default_step3_deadline.value"),
    ("version", 'rules_version = "2027.1"', 'rules_version = "v1"', "rules_version"),
]


@pytest.mark.parametrize(("old", "new", "key"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_file_names_file_and_key(tmp_path: Path, old: str, new: str, key: str) -> None:
    _copy(tmp_path, (2026, 2027))
    # 2027 states only what differs from 2026: a value it inherits is edited where it is stated.
    name = "2027.toml" if old in (tmp_path / "2027.toml").read_text() else "2026.toml"
    _edit(tmp_path / name, old, new)
    with pytest.raises(RulesError) as info:
        load_rulebook(tmp_path)
    message = str(info.value)
    assert message.startswith(f"rules/{name}: ")
    assert key in message


def test_cycle_must_match_file_name(tmp_path: Path) -> None:
    _copy(tmp_path)
    (tmp_path / "2027.toml").rename(tmp_path / "2029.toml")
    with pytest.raises(RulesError, match=r"rules/2029.toml: cycle: 2027 does not match the file name"):
        load_rulebook(tmp_path)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "2027.toml").write_text("cycle = = 2027\n")
    with pytest.raises(RulesError, match=r"rules/2027.toml: not valid TOML"):
        load_rulebook(tmp_path)


def test_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no rule files"):
        load_rulebook(tmp_path)


def test_missing_calendar_key(tmp_path: Path) -> None:
    _copy(tmp_path, (2026,))  # 2026 extends nothing: every key must be stated
    text = (tmp_path / "2026.toml").read_text()
    text = re.sub(r"\[calendar\.soap_end\]\n(?:[^\[].*\n)+", "", text)
    (tmp_path / "2026.toml").write_text(text)
    with pytest.raises(RulesError, match=r"rules/2026.toml: calendar.soap_end: missing table"):
        load_rulebook(tmp_path)


def test_calendar_keys_are_complete_and_ordered() -> None:
    cal = BOOK.cycle(2026).calendar
    dates = {item.name: item.on for item in cal.items()}
    assert tuple(dates) == CALENDAR_KEYS
    assert dates["eras_open"] < dates["nrmp_registration_open"] < dates["rol_deadline"] < dates["match_day"]
    assert add_years(date(2024, 2, 29), 7) == date(2031, 2, 28)
