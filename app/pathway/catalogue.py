"""The milestone-type catalogue: data in catalogue.toml, loaded once, validated at import.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

CATALOGUE_FILE = Path(__file__).with_name("catalogue.toml")

RESULT_KINDS = ("step_score", "oet", "pathway", "match", "visa")
KINDS = ("exam", "task")


class CatalogueError(ValueError):
    """The catalogue file is malformed; raised at start-up with the offending entry."""


@dataclass(frozen=True, slots=True)
class AttemptLimit:
    max_attempts_per_step: int
    effective_from: date
    steps: tuple[str, ...]
    source: str
    verified_on: date


@dataclass(frozen=True, slots=True)
class MilestoneType:
    code: str
    title: str
    description: str
    kind: str
    requires: tuple[str, ...]
    result: str | None = None
    legacy: bool = False
    score_reported_before: date | None = None
    discontinued_on: date | None = None
    source: str | None = None

    @property
    def has_score(self) -> bool:
        return self.result in ("step_score", "oet")


def _parse_limit(raw: dict[str, Any]) -> AttemptLimit:
    try:
        entry = dict(raw["usmle_attempt_limit"])
        entry["steps"] = tuple(entry["steps"])
        return AttemptLimit(**entry)
    except (KeyError, TypeError) as exc:
        raise CatalogueError(f"catalogue.toml [usmle_attempt_limit]: {exc}") from exc


def _parse(raw: dict[str, Any]) -> tuple[str, tuple[MilestoneType, ...]]:
    version = raw.get("catalogue_version")
    if not isinstance(version, str):
        raise CatalogueError("catalogue.toml: catalogue_version must be a string")
    types: list[MilestoneType] = []
    seen: set[str] = set()
    allowed = set(MilestoneType.__dataclass_fields__)
    for i, entry in enumerate(raw.get("types", [])):
        where = f"catalogue.toml types[{i}]"
        unknown = set(entry) - allowed
        if unknown:
            raise CatalogueError(f"{where}: unknown keys {sorted(unknown)}")
        try:
            mt = MilestoneType(**{**entry, "requires": tuple(entry.get("requires", ()))})
        except TypeError as exc:
            raise CatalogueError(f"{where}: {exc}") from exc
        if mt.code in seen:
            raise CatalogueError(f"{where}: duplicate code {mt.code!r}")
        if mt.kind not in KINDS:
            raise CatalogueError(f"{where}: kind must be one of {KINDS}")
        if mt.result is not None and mt.result not in RESULT_KINDS:
            raise CatalogueError(f"{where}: result must be one of {RESULT_KINDS}")
        seen.add(mt.code)
        types.append(mt)
    for mt in types:
        missing = [r for r in mt.requires if r not in seen]
        if missing:
            raise CatalogueError(f"catalogue.toml {mt.code}: requires unknown codes {missing}")
    return version, tuple(types)


@cache
def load_catalogue() -> tuple[str, tuple[MilestoneType, ...]]:
    with CATALOGUE_FILE.open("rb") as fh:
        return _parse(tomllib.load(fh))


@cache
def attempt_limit() -> AttemptLimit:
    with CATALOGUE_FILE.open("rb") as fh:
        return _parse_limit(tomllib.load(fh))


def milestone_types() -> tuple[MilestoneType, ...]:
    return load_catalogue()[1]


def catalogue_version() -> str:
    return load_catalogue()[0]


@cache
def by_code() -> dict[str, MilestoneType]:
    return {mt.code: mt for mt in milestone_types()}


MILESTONE_CODES: tuple[str, ...] = tuple(mt.code for mt in milestone_types())
attempt_limit()  # fail at import, not on a request, when the file is malformed
