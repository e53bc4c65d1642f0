"""The milestone-type catalogue (catalogue.toml) is checked when it is loaded: each malformed entry is refused with
the entry named, so a bad edit fails at start-up rather than as a wrong next step."""

from __future__ import annotations

import copy
import tomllib
from datetime import date
from typing import Any

import pytest

from app.pathway.catalogue import CATALOGUE_FILE, CatalogueError, _parse, discontinued_on, load_catalogue

with CATALOGUE_FILE.open("rb") as fh:
    RAW: dict[str, Any] = tomllib.load(fh)


def _type(raw: dict[str, Any], code: str) -> dict[str, Any]:
    return next(t for t in raw["types"] if t["code"] == code)


def _edit_unknown_key(raw: dict[str, Any]) -> None:
    _type(raw, "usmle_step1")["pass_mark"] = 196


def _edit_duplicate(raw: dict[str, Any]) -> None:
    raw["types"].append(copy.deepcopy(_type(raw, "usmle_step1")))


def _edit_unknown_requirement(raw: dict[str, Any]) -> None:
    _type(raw, "usmle_step1")["requires"] = ["usmle_step0"]


def _edit_legacy_without_end(raw: dict[str, Any]) -> None:
    del _type(raw, "usmle_step2cs")["discontinued_on"]


def _edit_legacy_end_as_text(raw: dict[str, Any]) -> None:
    _type(raw, "usmle_step2cs")["discontinued_on"] = "2021-01-26"


def _edit_bad_kind(raw: dict[str, Any]) -> None:
    _type(raw, "usmle_step1")["kind"] = "quiz"


def _edit_road_out_of_order(raw: dict[str, Any]) -> None:
    # Step 1 is a road step; making it require the Match result (listed after it) breaks the topological order.
    _type(raw, "usmle_step1")["requires"] = ["match_result"]


def _edit_priority_repeats(raw: dict[str, Any]) -> None:
    raw["road"]["blocker_priority"].append(raw["road"]["blocker_priority"][0])


BROKEN = [
    ("unknown_key", _edit_unknown_key, "unknown keys ['pass_mark']"),
    ("duplicate_code", _edit_duplicate, "duplicate code 'usmle_step1'"),
    ("unknown_requirement", _edit_unknown_requirement, "requires unknown codes ['usmle_step0']"),
    ("legacy_without_end", _edit_legacy_without_end, "legacy type needs discontinued_on"),
    ("legacy_end_as_text", _edit_legacy_end_as_text, "legacy type needs discontinued_on"),
    ("bad_kind", _edit_bad_kind, "kind must be one of"),
    ("road_out_of_order", _edit_road_out_of_order, "must be road steps listed before it"),
    ("priority_repeats", _edit_priority_repeats, "distinct reason codes"),
]


@pytest.mark.parametrize(("edit", "says"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_a_malformed_catalogue_is_refused_with_the_entry_named(edit, says) -> None:  # type: ignore[no-untyped-def]
    raw = copy.deepcopy(RAW)
    edit(raw)
    with pytest.raises(CatalogueError) as exc:
        _parse(raw)
    assert says in str(exc.value)


def test_the_packaged_catalogue_parses_as_loaded() -> None:
    assert _parse(copy.deepcopy(RAW)) == load_catalogue()


def test_step2cs_ended_on_the_date_the_catalogue_gives() -> None:
    # Domain notes: Step 2 CS was permanently discontinued on 2021-01-26 (USMLE announcement).
    assert discontinued_on("usmle_step2cs") == date(2021, 1, 26)
    with pytest.raises(CatalogueError):
        discontinued_on("usmle_step1")
