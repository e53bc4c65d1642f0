"""Rule files as validated data: `extends`, the RULES_DIR override and `python -m app rules check`."""

from __future__ import annotations

import shutil
import tomllib
from datetime import date
from pathlib import Path

import pytest

from app.__main__ import main
from app.pathway.rule_files import merge
from app.pathway.rules import RULES_DIR, RulesError, active_rulebook, differences, load_rulebook

BOOK = load_rulebook()


def _raw(year: int) -> dict[str, object]:
    with (RULES_DIR / f"{year}.toml").open("rb") as fh:
        return tomllib.load(fh)


# ---- the packaged files ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("year", "parent"), [(2026, None), (2027, 2026), (2028, 2027), (2029, 2027),
                                              (2030, 2027), (2031, 2027)])
def test_each_cycle_extends_the_one_it_follows(year: int, parent: int | None) -> None:
    assert _raw(year).get("extends") == parent
    assert BOOK.cycle(year).extends == parent
    if parent is not None:
        # A file that extends states only what differs: a third of a complete one.
        lines = len((RULES_DIR / f"{year}.toml").read_text().splitlines())
        full = len((RULES_DIR / "2026.toml").read_text().splitlines())
        assert lines < full / 2, (year, lines, full)


@pytest.mark.parametrize("table", ["[usmle.attempt_limit]", "[usmle.retake_spacing]", "[ecfmg.exam_window_years]"])
def test_a_rule_that_does_not_change_is_stated_once(table: str) -> None:
    holders = [p.name for p in sorted(RULES_DIR.glob("*.toml")) if table in p.read_text()]
    assert holders == ["2026.toml"]


# The attempt limit: 4 per Step from 2021-07-01, counting Step 2 CS (usmle.org attempt-limit FAQ; ECFMG 2024
# Information Booklet) - one value read by every cycle and by milestone validation.
@pytest.mark.parametrize("year", [2026, 2027, 2028, 2029, 2030, 2031])
def test_every_cycle_reads_the_one_attempt_limit(year: int) -> None:
    usmle = BOOK.cycle(year).usmle
    assert (usmle.attempt_limit.value, usmle.attempt_limit_from) == (4, date(2021, 7, 1))
    assert "usmle_step2cs" in (usmle.attempt_limit_counts.value or ())
    assert BOOK.attempt_limit().max_attempts_per_step == 4


# ---- merge ------------------------------------------------------------------------------------------------------

VALUE_A = {"value": 1, "source": "a", "verified_on": date(2026, 1, 1), "estimated": True, "pattern": "p"}
VALUE_B = {"value": 2, "source": "b", "verified_on": date(2026, 2, 1)}
MERGES = [
    ("a table merges key by key", {"t": {"x": VALUE_A, "y": VALUE_A}}, {"t": {"y": VALUE_B}},
     {"t": {"x": VALUE_A, "y": VALUE_B}}),
    # A value replaces as a whole: the older value's `estimated` and `pattern` must not survive.
    ("a value table replaces", {"t": VALUE_A}, {"t": VALUE_B}, {"t": VALUE_B}),
    ("an array replaces", {"s": [VALUE_A, VALUE_A]}, {"s": [VALUE_B]}, {"s": [VALUE_B]}),
    ("a new key is added", {"t": {"x": VALUE_A}}, {"u": {"x": VALUE_B}}, {"t": {"x": VALUE_A}, "u": {"x": VALUE_B}}),
    ("a top-level scalar replaces", {"cycle": 2027}, {"cycle": 2028}, {"cycle": 2028}),
]


@pytest.mark.parametrize(("base", "override", "expected"), [m[1:] for m in MERGES], ids=[m[0] for m in MERGES])
def test_merge(base: dict[str, object], override: dict[str, object], expected: dict[str, object]) -> None:
    assert merge(base, override) == expected


# ---- extends: errors name the file and key ---------------------------------------------------------------------

def _copy(tmp_path: Path, years: tuple[int, ...]) -> Path:
    for year in years:
        shutil.copy(RULES_DIR / f"{year}.toml", tmp_path / f"{year}.toml")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


EXTENDS_ERRORS = [
    ("a later year", "extends = 2027", "extends = 2029", "rules/2028.toml: extends: must name an earlier Match year"),
    ("not a year", "extends = 2027", 'extends = "2027"', "rules/2028.toml: extends: must name an earlier"),
    ("no such file", "extends = 2027", "extends = 2020", "rules/2028.toml: extends: no rule file for 2020"),
    ("no own version", 'rules_version = "2028.1"\n', "", "rules/2028.toml: rules_version: a file that extends"),
    ("an unknown table", "[calendar.soap_end]\n", "[calendar.soap_end_removed]\n",
     "rules/2028.toml: calendar.soap_end_removed: unknown key"),
    # Statement of Need lead time cannot be a gap: the engine needs a number of days to plan the step.
    ("a lead time as a gap", "[match_rate]\n", "[lead_times.statement_of_need]\nconfidence = \"gap\"\ngap = true\n"
     "note = \"unknown\"\nsource = \"x\"\nverified_on = 2026-12-02\n\n[match_rate]\n",
     "rules/2028.toml: lead_times.statement_of_need.value: this value cannot be a gap"),
]


@pytest.mark.parametrize(("old", "new", "message"), [e[1:] for e in EXTENDS_ERRORS], ids=[e[0] for e in EXTENDS_ERRORS])
def test_extends_errors(tmp_path: Path, old: str, new: str, message: str) -> None:
    _copy(tmp_path, (2028,))
    _edit(tmp_path / "2028.toml", old, new)
    with pytest.raises(RulesError) as info:
        load_rulebook(tmp_path)
    assert str(info.value).startswith(message), str(info.value)


def test_a_pathway_validity_value_is_a_date(tmp_path: Path) -> None:
    # A cycle whose rules name the accepted Pathways that still count (as ECFMG did for the 2024 Match: approvals
    # from 2021-2023) states the earliest acceptance date; the packaged cycles mark it a gap.
    _copy(tmp_path, (2028,))
    _edit(tmp_path / "2028.toml", "[match_rate]\n", "[ecfmg.pathway_validity]\n"
          "value = { accepted_on_or_after = 2025-06-01 }\nsource = \"x\"\nverified_on = 2026-12-02\n\n[match_rate]\n")
    rules = load_rulebook(tmp_path).cycle(2028)
    assert rules.ecfmg.pathway_valid_from.value == date(2025, 6, 1)
    assert BOOK.cycle(2028).ecfmg.pathway_valid_from.value is None
    assert BOOK.cycle(2028).ecfmg.pathway_valid_from.provenance.gap


# ---- RULES_DIR: a folder overriding the packaged set -----------------------------------------------------------

def _official_2027(tmp_path: Path) -> Path:
    """The operator's edit when the NRMP publishes the 2027 calendar: one file, one value, a new version."""
    folder = _copy(tmp_path, (2027,))
    _edit(folder / "2027.toml", 'rules_version = "2027.1"', 'rules_version = "2027.2"')
    text = (folder / "2027.toml").read_text()
    start = text.index("[calendar.rol_deadline]")
    end = text.index("[calendar.match_week_start]")
    (folder / "2027.toml").write_text(text[:start] + '[calendar.rol_deadline]\nvalue = 2027-03-03\ntime = "21:00"\n'
                                      'time_zone = "America/New_York"\nsource = "https://www.nrmp.org/ (2027 calendar)"'
                                      "\nverified_on = 2026-12-02\n\n" + text[end:])
    return folder


def test_a_folder_overrides_its_cycles_and_the_cycles_extending_them(tmp_path: Path) -> None:
    book = active_rulebook(str(_official_2027(tmp_path)))
    assert book.years == BOOK.years
    sources = {year: book.cycle(year).source for year in book.years}
    # 2027 is the folder's file; 2028-2031 extend 2027, so they read the folder's values too; 2026 does not.
    assert sources == {2026: "package", 2027: "folder", 2028: "folder", 2029: "folder", 2030: "folder",
                       2031: "folder"}
    assert book.cycle(2027).rules_version == "2027.2"
    assert not book.cycle(2027).calendar.rol_deadline.provenance.estimated
    assert BOOK.cycle(2027).calendar.rol_deadline.provenance.estimated
    assert book.cycle(2028).calendar == BOOK.cycle(2028).calendar  # 2028 states its own calendar
    assert active_rulebook(str(tmp_path)) is book  # loaded once per folder
    assert active_rulebook("") is BOOK and active_rulebook(None) is BOOK


def test_differences_name_each_changed_value(tmp_path: Path) -> None:
    lines = differences(BOOK, active_rulebook(str(_official_2027(tmp_path))))
    assert "2027: rules_version: 2027.1 -> 2027.2" in lines
    assert "2027: calendar.rol_deadline.provenance.estimated: True -> False" in lines
    assert all(line.startswith("2027: ") for line in lines)  # nothing else changed
    assert differences(BOOK, BOOK) == []


def test_rules_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _official_2027(tmp_path)
    assert main(["rules", "check", str(folder)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("valid: 2027.toml (2027.2); cycles 2028, 2029, 2030, 2031 extend them")
    assert "2027: rules_version: 2027.1 -> 2027.2" in out
    _edit(folder / "2027.toml", 'time = "21:00"', 'time = "9 pm"')
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(folder / "2027.toml", bad / "2027.toml")
    assert main(["rules", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("invalid: rules/2027.toml: calendar.rol_deadline.time: ")


def test_rules_check_of_an_empty_folder_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(tmp_path)]) == 1
    assert "no rule files" in capsys.readouterr().err
