"""The road as a graph: its steps, prerequisites, gates and lead-time keys come from catalogue.toml (the data
GET /v1/milestone-types serves), with the anchors latest safe dates are computed back from and the blockers'
order of urgency.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .catalogue import CatalogueError, by_code, load_catalogue, road_types
from .results import Blocker
from .rules import CALENDAR_KEYS, LEAD_TIME_KEYS


@dataclass(frozen=True, slots=True)
class Node:
    code: str
    kind: str  # exam | task | event
    requires: tuple[str, ...]
    gate: str
    duration: str | None = None  # lead-time key: days from taking the step to a usable result
    opens: str | None = None  # calendar key before which the step cannot start
    needs_graduation: bool = False
    needs_match: bool = False


NODES: tuple[Node, ...] = tuple(
    Node(mt.code, "event" if mt.event else mt.kind, mt.requires, mt.gate or "", mt.lead_time, mt.opens,
         mt.needs_graduation, mt.needs_match)
    for mt in road_types()
)
_unknown_keys = [(n.code, key) for n in NODES for key in (n.duration, n.opens)
                 if key is not None and key not in LEAD_TIME_KEYS and key not in CALENDAR_KEYS]
if _unknown_keys:
    raise CatalogueError(f"catalogue.toml: lead_time/opens keys unknown to the rule files: {_unknown_keys}")
NODE = {node.code: node for node in NODES}
ROAD_INDEX = {node.code: i for i, node in enumerate(NODES)}
DEPENDENTS: dict[str, tuple[str, ...]] = {
    node.code: tuple(n.code for n in NODES if node.code in n.requires) for node in NODES
}

# A remaining step is late for an anchor when it cannot start by the anchor's limit. Each anchor names the
# cycle date it comes from, the gate it protects and the blocker raised when it is missed.
ANCHOR_ORDER = ("ecfmg_exam_window", "pathways_application_deadline", "match_gate", "step3_deadline",
                "rol_deadline", "soap_end", "residency_start")
ANCHOR_BLOCKER = {
    "match_gate": "match_requirements_not_verifiable",
    "pathways_application_deadline": "match_requirements_not_verifiable",
    "ecfmg_exam_window": "ecfmg_window_broken",
    "step3_deadline": "h1b_without_step3",
    "rol_deadline": "rol_deadline_passed",
    "soap_end": "cycle_closed_unmatched",
    "residency_start": "certification_not_in_time",
    "visa": "visa_not_in_time",
}
BLOCKER_PRIORITY = {code: i for i, code in enumerate(load_catalogue().blocker_priority)}


def title(code: str) -> str:
    found = by_code().get(code)
    if found is not None:
        return found.title
    return {"graduation": "Graduation", "match": "A match (Main Match or SOAP)"}.get(code, code)


def blocker_key(blocker: Blocker) -> tuple[int, int, int, date, str]:
    """Most urgent first: permanent, then cycle-losing, then by reason, date and milestone."""
    return (
        0 if blocker.permanent else 1,
        0 if blocker.blocks_cycle else 1,
        BLOCKER_PRIORITY.get(blocker.code, len(BLOCKER_PRIORITY)),
        blocker.resolvable_by or date.min,
        blocker.milestone or "",
    )


