from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import ConfigDict, Field

from app.core.types import ExternalId, InputModel, LongText, Name, NamedByPath, PublicModel, SaneDate
from app.milestones.validation import ATTEMPTING, DONE, RESULT_FIELDS, STATUS_REFUSED
from app.pathway.catalogue import MILESTONE_CODES, milestone_types

MilestoneCode = StrEnum("MilestoneCode", {c: c for c in MILESTONE_CODES})  # type: ignore[misc]
MilestoneStatus = Literal["planned", "scheduled", "in_progress", "passed", "failed", "completed", "not_applicable"]
SubScore = Annotated[int, Field(ge=0, le=500)]


class MilestoneResult(InputModel):
    """Fields depend on the milestone type (see `GET /v1/milestone-types`); others are refused."""

    score: int | None = Field(default=None, ge=1, le=300, description="Step 2 CK / Step 3 (and Step 1 before "
                                                                       "2022-01-26) three-digit score.")
    listening: SubScore | None = None
    reading: SubScore | None = None
    writing: SubScore | None = None
    speaking: SubScore | None = None
    pathway: Literal["1", "2", "3", "4", "5", "6"] | None = None
    outcome: Literal["matched", "unmatched"] | None = None
    program_id: uuid.UUID | None = None
    program_name: Name | None = None
    visa_type: Literal["j1", "h1b"] | None = None


class MilestoneCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "type_code": "usmle_step2ck", "status": "passed", "attempt": 1, "completed_on": "2026-08-14",
        "result": {"score": 241}}})
    external_id: ExternalId | None = Field(default=None, description="Your system's id; unique per candidate. "
                                                                     "`PUT .../by-external-id/{external_id}` "
                                                                     "upserts by it.")
    type_code: MilestoneCode
    status: MilestoneStatus = "planned"
    attempt: int | None = Field(default=None, ge=1, le=20, description="Exam attempt number; defaults to the next.")
    scheduled_on: SaneDate | None = None
    completed_on: SaneDate | None = Field(default=None, description="When it was passed, failed or completed; "
                                                                    "never in the future.")
    result: MilestoneResult | None = None
    notes: LongText | None = None


class MilestoneUpsert(MilestoneCreate):
    """The body of `PUT .../by-external-id/{external_id}`: the path names the external id."""

    external_id: NamedByPath = None


class MilestoneUpdate(InputModel):
    not_nullable = ("status",)
    model_config = ConfigDict(json_schema_extra={"example": {"status": "passed", "completed_on": "2026-08-14",
                                                             "result": {"score": 241}}})
    external_id: ExternalId | None = Field(default=None, description="null clears it.")
    status: MilestoneStatus | None = None
    attempt: int | None = Field(default=None, ge=1, le=20)
    scheduled_on: SaneDate | None = None
    completed_on: SaneDate | None = None
    result: MilestoneResult | None = None
    notes: LongText | None = None


class MilestoneResultPublic(PublicModel):
    score: int | None = None
    listening: int | None = None
    reading: int | None = None
    writing: int | None = None
    speaking: int | None = None
    pathway: str | None = None
    outcome: str | None = None
    program_id: uuid.UUID | None = None
    program_name: str | None = None
    visa_type: str | None = None


class MilestonePublic(PublicModel):
    id: uuid.UUID
    candidate_id: uuid.UUID
    external_id: str | None
    type_code: str
    status: MilestoneStatus
    attempt: int | None
    scheduled_on: date | None
    completed_on: date | None
    result: MilestoneResultPublic | None
    notes: str | None
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`), so "
                                     "an item read from a list can be sent back with `If-Match`.")
    created_at: datetime
    updated_at: datetime


class MilestoneTypePublic(PublicModel):
    code: str
    title: str
    description: str
    kind: Literal["exam", "task"]
    requires: list[str]
    legacy: bool
    has_score: bool
    result_schema: dict[str, object] | None = Field(description="JSON Schema of the `result` for this type.")
    source: str | None
    gate: str | None = Field(description="The hard gate this step serves on the road to residency; null: not a "
                                         "step of the road (legacy or after residency starts).")
    lead_time: str | None = Field(description="Rule-file lead-time key: days from taking the step to a usable "
                                              "result, per Match cycle.")
    opens: str | None = Field(description="Rule-file calendar key before which the step cannot start.")


MilestoneSort = Literal["created_at", "-created_at", "completed_on", "-completed_on", "scheduled_on",
                        "-scheduled_on", "type_code", "-type_code"]


# ---- the document: a milestone's fields per type ------------------------------------------------------------------

# What validation.py allows per kind of milestone type (an exam is passed or failed, a task completed).
KIND_STATUSES: dict[str, tuple[str, ...]] = {
    kind: tuple(s for s in get_args(MilestoneStatus) if s not in STATUS_REFUSED[kind]) for kind in STATUS_REFUSED}


def _pascal(word: str) -> str:
    return "".join(part.capitalize() for part in word.split("_"))


def _group_name(kind: str, result: str | None) -> str:
    """`StepScoreExam`, `MatchTask`, `Task`: the name of a group of milestone types documented alike."""
    return f"{_pascal(result or '')}{_pascal(kind)}"


def _status_is(statuses: Iterable[str]) -> dict[str, Any]:
    return {"properties": {"status": {"enum": list(statuses)}}, "required": ["status"]}


def _given(*fields: str) -> dict[str, Any]:
    """Each field present and not null (a null counts as left out)."""
    return {"required": list(fields), "properties": {f: {"not": {"type": "null"}} for f in fields}}


_LEFT_OUT = {"type": "null"}  # under `properties`: absent or null


def _result_with(*fields: str) -> dict[str, Any]:
    return {"required": ["result"], "properties": {"result": {"type": "object", **_given(*fields)}}}


def status_rules(kind: str, result: str | None) -> list[dict[str, Any]]:
    """The rules of app.milestones.validation that tie a new milestone's fields to its status, as JSON Schema
    (`if`/`then`), so a client's validator refuses what the service refuses. (The status left out is `planned`.)
    The catalogue's dates per type are in `date_rules`; what depends on today's date or on the candidate's other
    milestones (a completion in the future, the attempt limit) cannot be said here: those refusals carry a `code`."""
    statuses = KIND_STATUSES[kind]
    done = [st for st in statuses if st in DONE]
    dated = [*done, "not_applicable"]
    rules: list[dict[str, Any]] = [
        {"if": _status_is(done), "then": _given("completed_on")},
        {"if": {"not": _status_is(dated)}, "then": {"properties": {"completed_on": _LEFT_OUT}}},
        {"if": _status_is(["scheduled"]), "then": _given("scheduled_on")},
    ]
    if result == "step_score":
        rules.append({"if": {"not": _status_is(["passed", "failed"])},
                      "then": {"properties": {"result": {"anyOf": [
                          {"type": "null"}, {"type": "object", "properties": {"score": _LEFT_OUT}}]}}}})
    elif result == "oet":
        rules.append({"if": _status_is(["passed", "failed"]),
                      "then": _result_with(*sorted(RESULT_FIELDS["oet"]))})
    elif result == "pathway":
        rules.append({"if": _status_is(["completed"]),
                      "then": _result_with("pathway")})
    elif result == "match":
        rules.append({"if": _status_is(["completed"]),
                      "then": _result_with("outcome")})
        not_matched = {"not": {"properties": {"outcome": {"const": "matched"}}, "required": ["outcome"]}}
        rules.append({"properties": {"result": {"anyOf": [
            {"type": "null"},
            {"if": not_matched, "then": {"properties": {"program_id": _LEFT_OUT, "program_name": _LEFT_OUT}}}]}}})
    return rules


def dates_before(day: date) -> str:
    """A pattern for `YYYY-MM-DD` dates before `day`. ISO dates sort as text, so one alternative per digit of
    `day`: its digits before that one, then a smaller digit, then any digits."""
    text = day.isoformat()
    alternatives = []
    for i, c in enumerate(text):
        if c != "-" and c != "0":
            rest = "".join("-" if x == "-" else "[0-9]" for x in text[i + 1:])
            alternatives.append(f"{text[:i]}[0-{int(c) - 1}]{rest}")
    return "^(?:" + "|".join(alternatives) + ")$"


def _before(day: date) -> dict[str, Any]:
    """Under `properties`: absent, null, or a date before `day`."""
    return {"anyOf": [{"type": "null"}, {"type": "string", "pattern": dates_before(day)}]}


def date_rules(codes: Iterable[str]) -> list[dict[str, Any]]:
    """The rules of app.milestones.validation that tie a type's milestone to the dates of the catalogue (data, per
    type): a discontinued exam takes no new attempt (no planned, scheduled or in-progress status; its date before
    the end), a score-reported-before exam takes a score only when taken before that date."""
    rules: list[dict[str, Any]] = []
    wanted = set(codes)
    for mt in (t for t in milestone_types() if t.code in wanted):
        this_type = {"properties": {"type_code": {"const": mt.code}}, "required": ["type_code"]}
        if mt.discontinued_on is not None:
            ended = mt.discontinued_on
            rules.append({"if": this_type, "then": {
                "required": ["status"],
                "properties": {"status": {"not": {"enum": sorted(ATTEMPTING - DONE)}}, "completed_on": _before(ended)},
                # the date judged is `completed_on`, or `scheduled_on` when there is none
                "anyOf": [{"required": ["completed_on"], "properties": {"completed_on": {"type": "string"}}},
                          {"properties": {"scheduled_on": _before(ended)}}]}})
        if mt.score_reported_before is not None:
            scored = {"required": ["result"], "properties": {"result": {
                "type": "object", "required": ["score"], "properties": {"score": {"not": {"type": "null"}}}}}}
            rules.append({"if": {"allOf": [this_type, scored]},
                          "then": {"properties": {"completed_on": _before(mt.score_reported_before)}}})
    return rules


def per_type_documentation(components: dict[str, Any]) -> None:
    """Rewrites the milestone schemas of the OpenAPI document so each milestone type says what it takes.

    `MilestoneCreate` and `MilestonePublic` become a `oneOf` selected by `type_code` (with a `discriminator`): one
    variant per group of types alike in kind and result, whose `status` holds the statuses the kind allows and whose
    `result` names only the fields the type takes. `MilestoneUpdate` (which cannot change the type) takes the result
    of any type. Built from the catalogue and from the rules of `app.milestones.validation`, so it cannot drift."""
    groups: dict[tuple[str, str | None], list[str]] = {}
    for mt in milestone_types():
        groups.setdefault((mt.kind, mt.result), []).append(mt.code)
    full_result = components["MilestoneResult"]["properties"]
    public_result = components["MilestoneResultPublic"]["properties"]
    for kind_of_result in sorted({r for _, r in groups if r is not None}):
        title = _pascal(kind_of_result)
        keep = RESULT_FIELDS[kind_of_result]
        components[f"MilestoneResult{title}"] = {
            "type": "object", "title": f"MilestoneResult{title}", "additionalProperties": False,
            "description": f"The `result` of a milestone of a type whose result is `{kind_of_result}`.",
            "properties": {k: v for k, v in full_result.items() if k in keep}}
        # a milestone read back names every result field; those its type does not take are null
        components[f"MilestoneResultPublic{title}"] = {
            "type": "object", "title": f"MilestoneResultPublic{title}",
            "properties": {k: (v if k in keep else {"type": "null"}) for k, v in public_result.items()}}

    def result_of(result: str | None, public: bool) -> dict[str, Any]:
        if result is None:
            return {"type": "null", "description": "This type takes no result."} if public else {
                "anyOf": [{"type": "object", "additionalProperties": False, "maxProperties": 0}, {"type": "null"}],
                "description": "This type takes no result."}
        name = f"MilestoneResult{'Public' if public else ''}{_pascal(result)}"
        return {"anyOf": [{"$ref": f"#/components/schemas/{name}"}, {"type": "null"}]}

    for base, public in (("MilestoneCreate", False), ("MilestoneUpsert", False), ("MilestonePublic", True)):
        generic = components[base]
        variants: list[dict[str, str]] = []
        mapping: dict[str, str] = {}
        for (kind, result), codes in sorted(groups.items(), key=lambda g: _group_name(*g[0])):
            name = base + _group_name(kind, result)
            ref = f"#/components/schemas/{name}"
            props = dict(generic["properties"])
            props["type_code"] = {"type": "string", "enum": codes, "title": "Type Code"}
            props["status"] = {**props["status"], "enum": list(KIND_STATUSES[kind])}
            props["result"] = result_of(result, public)
            variant = {**generic, "title": name, "properties": props,
                       "description": f"A milestone of type {', '.join(f'`{c}`' for c in codes)} ({kind})."}
            if not public:
                variant["allOf"] = status_rules(kind, result) + date_rules(codes)
            if "example" in generic and generic["example"]["type_code"] not in codes:
                variant.pop("example")
            components[name] = variant
            variants.append({"$ref": ref})
            mapping.update({code: ref for code in codes})
        components[base] = {
            "title": base, "oneOf": variants, "discriminator": {"propertyName": "type_code", "mapping": mapping},
            "description": "What a milestone holds depends on its `type_code` (see `GET /v1/milestone-types`): "
                           "its statuses and the fields of its `result`."}
    update_result = components["MilestoneUpdate"]["properties"]["result"]
    update_result["anyOf"] = [{"$ref": f"#/components/schemas/MilestoneResult{_pascal(r)}"}
                              for r in sorted({r for _, r in groups if r is not None})] + [{"type": "null"}]
    update_result["description"] = "The result fields the milestone's type takes (see `GET /v1/milestone-types`)."
