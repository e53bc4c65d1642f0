"""HTTP request and response models of the Match simulation endpoint.

The request model checks shape, types and sizes; cross-references (unknown ids, duplicates, couples)
are checked by the engine's own validation, which reports each problem with a precise field path.
The response model mirrors ``result_to_dict``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints, ValidationError

from . import limits as L
from ._gc import gc_paused
from .errors import MatchInputError, Problem

Id = Annotated[str, StringConstraints(min_length=1, max_length=L.MAX_ID_LENGTH, pattern=r"^[^\x00]+$")]

_EXAMPLE: dict[str, Any] = {
    "programs": [
        {"id": "mercy", "positions": 2, "rank_order_list": ["chen", "ford", "davis"]},
        {"id": "city", "positions": 2, "rank_order_list": ["eastman", "anderson", "chen", "davis", "ford"]},
        {"id": "general", "positions": 2, "rank_order_list": ["eastman", "anderson", "ford", "davis"]},
    ],
    "applicants": [
        {"id": "anderson", "rank_order_list": ["city"]},
        {"id": "chen", "rank_order_list": ["city", "mercy"]},
        {"id": "ford", "rank_order_list": ["city", "general", "mercy"]},
        {"id": "davis", "rank_order_list": []},
        {"id": "eastman", "rank_order_list": []},
    ],
    "couples": [
        {
            "members": ["davis", "eastman"],
            "rank_order_list": [["mercy", "city"], ["general", "general"], ["general", None]],
        },
    ],
    "trace": False,
}


class ProgramIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    positions: StrictInt = Field(ge=0, le=L.MAX_POSITIONS)
    rank_order_list: list[Id] = Field(
        default_factory=list,
        max_length=L.MAX_PROGRAM_RANKS,
        description="Applicant ids, most preferred first.",
    )


class ApplicantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    rank_order_list: list[Id] = Field(
        default_factory=list,
        max_length=L.MAX_APPLICANT_RANKS,
        description="Program ids, most preferred first. Ignored while the applicant is in a couple.",
    )


class CoupleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    members: tuple[Id, Id] = Field(description="Two applicant ids, each also listed in `applicants`.")
    rank_order_list: list[tuple[Id | None, Id | None]] = Field(
        default_factory=list,
        max_length=L.MAX_COUPLE_RANKS,
        description="Pairs of program ids, most preferred first; null means no match for that partner.",
    )


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    programs: list[ProgramIn] = Field(max_length=L.MAX_PROGRAMS)
    applicants: list[ApplicantIn] = Field(max_length=L.MAX_APPLICANTS)
    couples: list[CoupleIn] = Field(default_factory=list, max_length=L.MAX_COUPLES)
    trace: StrictBool = Field(
        default=False,
        description=f"Include a step-by-step trace (only for up to {L.TRACE_MAX_APPLICANTS} applicants).",
    )

    def engine_input(self) -> dict[str, Any]:
        """The dict form ``run_from_dict`` takes (built without a generic ``model_dump`` for speed)."""
        with gc_paused():
            return self._engine_input()

    def _engine_input(self) -> dict[str, Any]:
        return {
            "programs": [
                {"id": p.id, "positions": p.positions, "rank_order_list": p.rank_order_list} for p in self.programs
            ],
            "applicants": [{"id": a.id, "rank_order_list": a.rank_order_list} for a in self.applicants],
            "couples": [
                {"members": list(c.members), "rank_order_list": [list(pair) for pair in c.rank_order_list]}
                for c in self.couples
            ],
            "trace": self.trace,
        }


def parse_request_json(body: bytes | str) -> MatchRequest:
    """Validate a raw request body; shape problems raise ``MatchInputError`` like the engine's own.

    pydantic parses the JSON itself (faster than ``json.loads`` and then validating), and its
    errors are reported with the engine's field paths and codes, so a client sees one format.
    """
    try:
        with gc_paused():
            return MatchRequest.model_validate_json(body)
    except ValidationError as exc:
        raise MatchInputError(problems_from_validation_error(exc)) from None


_ID_ERRORS = {"string_too_short", "string_too_long", "string_pattern_mismatch", "string_type"}
_TYPE_ERRORS = {
    "int_type",
    "int_parsing",
    "int_from_float",
    "bool_type",
    "bool_parsing",
    "list_type",
    "tuple_type",
    "model_type",
    "model_attributes_type",
    "dict_type",
}


def problems_from_validation_error(exc: ValidationError) -> list[Problem]:
    """pydantic errors as engine problems: ``programs[3].id`` paths and the engine's codes."""
    problems: list[Problem] = []
    for err in exc.errors(include_url=False)[: L.MAX_PROBLEMS]:
        loc = err.get("loc", ())
        field = ""
        for part in loc:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
        kind = err.get("type", "invalid")
        last = next((str(p) for p in reversed(loc) if not isinstance(p, int)), "")
        if kind == "json_invalid":
            code = "invalid_json"
        elif kind == "missing":
            code = "missing_field"
        elif kind == "extra_forbidden":
            code = "unknown_field"
        elif kind in _ID_ERRORS:
            code = "invalid_id"
        elif kind == "too_long":
            code = "too_many_ranks" if last == "rank_order_list" else "too_many_items"
        elif kind == "too_short" and last == "members":
            code = "invalid_members"
        elif kind == "greater_than_equal" and last == "positions":
            code = "negative_positions"
        elif kind == "less_than_equal" and last == "positions":
            code = "too_large"
        elif kind in _TYPE_ERRORS:
            code = "invalid_type"
        else:
            code = kind
        problems.append({"field": field, "message": err.get("msg", "invalid"), "code": code})
    return problems


# Response --------------------------------------------------------------------------------


class ProgramOut(BaseModel):
    id: str
    positions: int
    matched: list[str] = Field(description="Matched applicants in the program's order of preference.")
    unfilled: int


class CoupleOut(BaseModel):
    members: tuple[str, str]
    matched_pair: tuple[str | None, str | None] | None = Field(
        description="The pair matched (null side = no match for that partner), or null when unmatched."
    )
    rank: int | None = Field(description="1-based position of that pair on the couple's list.")


class CountsOut(BaseModel):
    applicants: int
    matched: int
    unmatched: int
    programs: int
    positions: int
    filled: int
    unfilled: int
    couples: int
    couples_matched: int


class BlockingPairOut(BaseModel):
    applicant: str
    program: str


class BlockingCoupleOut(BaseModel):
    members: tuple[str, str]
    programs: tuple[str | None, str | None]


class StabilityOut(BaseModel):
    stable: bool
    blocking_pairs: list[BlockingPairOut] = Field(
        description=f"At most {L.MAX_REPORTED_BLOCKING} listed; see blocking_pairs_total."
    )
    blocking_pairs_total: int
    blocking_couples: list[BlockingCoupleOut]
    blocking_couples_total: int
    message: str


class WorkOut(BaseModel):
    proposals: int
    rejections: int
    displacements: int
    withdrawals: int
    reentries: int
    couples_stopped: int
    iterations: int
    max_proposals: int


class TraceEventOut(BaseModel):
    step: int
    event: str
    applicant: str | None = None
    program: str | None = None
    displaced: str | None = None
    couple: tuple[str, str] | None = None
    programs: tuple[str | None, str | None] | None = None
    text: str


class MatchResponse(BaseModel):
    status: Literal["complete", "cycle_detected"]
    assignments: dict[str, str | None] = Field(
        description="Every applicant, in input order: the program matched, or null."
    )
    programs: list[ProgramOut]
    couples: list[CoupleOut]
    counts: CountsOut
    stability: StabilityOut
    work: WorkOut
    trace: list[TraceEventOut] | None
    notes: list[str]
