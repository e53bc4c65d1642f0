from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from app.core.types import ExternalId, InputModel, LongText, Name, PublicModel, SaneDate
from app.pathway.catalogue import MILESTONE_CODES

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
