"""The milestone-type catalogue and the road's prerequisite graph: data in catalogue.toml, loaded once,
validated at import. The pathway engine builds its graph from the same entries that GET /v1/milestone-types
serves, so the two cannot disagree.

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
    # The road (see catalogue.toml): a type with a gate is a step the engine walks.
    gate: str | None = None
    lead_time: str | None = None
    opens: str | None = None
    event: bool = False
    needs_graduation: bool = False
    needs_match: bool = False

    @property
    def has_score(self) -> bool:
        return self.result in ("step_score", "oet")

    @property
    def on_road(self) -> bool:
        return self.gate is not None


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    types: tuple[MilestoneType, ...]
    blocker_priority: tuple[str, ...]


def _parse(raw: dict[str, Any]) -> Catalogue:
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
        if mt.legacy and not isinstance(mt.discontinued_on, date):
            raise CatalogueError(f"{where}: a legacy type needs discontinued_on, a date")
        seen.add(mt.code)
        types.append(mt)
    earlier: set[str] = set()
    for mt in types:
        missing = [r for r in mt.requires if r not in seen]
        if missing:
            raise CatalogueError(f"catalogue.toml {mt.code}: requires unknown codes {missing}")
        if mt.on_road:
            # The engine walks the road in file order, backwards for latest safe dates: prerequisites first.
            later = [r for r in mt.requires if r not in earlier]
            if later:
                raise CatalogueError(f"catalogue.toml {mt.code}: requires {later}, which must be road steps listed "
                                     "before it")
            earlier.add(mt.code)
        elif mt.event or mt.lead_time or mt.opens or mt.needs_graduation or mt.needs_match:
            raise CatalogueError(f"catalogue.toml {mt.code}: road keys need a gate")
    road = raw.get("road")
    priority = road.get("blocker_priority") if isinstance(road, dict) else None
    if not isinstance(priority, list) or not all(isinstance(c, str) for c in priority) or (
        len(set(priority)) != len(priority)
    ):
        raise CatalogueError("catalogue.toml [road] blocker_priority must be a list of distinct reason codes")
    return Catalogue(version, tuple(types), tuple(priority))


@cache
def load_catalogue() -> Catalogue:
    with CATALOGUE_FILE.open("rb") as fh:
        return _parse(tomllib.load(fh))


def milestone_types() -> tuple[MilestoneType, ...]:
    return load_catalogue().types


def road_types() -> tuple[MilestoneType, ...]:
    """The steps of the road in topological order: the graph the engine walks."""
    return tuple(mt for mt in milestone_types() if mt.on_road)


def discontinued_on(code: str) -> date:
    """The date a legacy exam ended (the catalogue refuses a legacy type without one)."""
    ended = by_code()[code].discontinued_on
    if ended is None:
        raise CatalogueError(f"catalogue.toml {code}: not a legacy type")
    return ended


def catalogue_version() -> str:
    return load_catalogue().version


@cache
def by_code() -> dict[str, MilestoneType]:
    return {mt.code: mt for mt in milestone_types()}


MILESTONE_CODES: tuple[str, ...] = tuple(mt.code for mt in milestone_types())  # fails at import when malformed
