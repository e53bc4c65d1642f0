from __future__ import annotations

import math
import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import ConfigDict, Field, ValidationInfo, computed_field, field_validator
from pydantic_core import PydanticCustomError

from app.core.types import (
    ExternalId,
    InputModel,
    Name,
    NamedByPath,
    PublicModel,
    SaneDate,
    ShortText,
    Specialty,
    StateCode,
)

UsceKind = Literal["elective", "sub_internship", "externship", "observership", "research", "volunteer"]
HANDS_ON_BY_DEFAULT = {"elective": True, "sub_internship": True, "externship": True, "observership": False,
                       "research": False, "volunteer": False}
MAX_DAYS = 5 * 366


def weeks_between(start: date, end: date) -> int:
    """Whole weeks, rounding a part week up: a Monday-to-Friday four-week rotation counts as 4."""
    return math.ceil(((end - start).days + 1) / 7)


class _Dates(InputModel):
    @field_validator("end_on", check_fields=False)
    @classmethod
    def _order(cls, end: date | None, info: ValidationInfo) -> date | None:
        """Both dates in the body: `end_on` on or after `start_on`, within 5 years (code `date_order`, at
        `body.end_on`, as a PATCH of one date that does not go with the other as stored gets in its 409)."""
        start = info.data.get("start_on")
        if start is not None and end is not None:
            if end < start:
                raise PydanticCustomError("date_order", "end_on must be on or after start_on")
            if (end - start).days > MAX_DAYS:
                raise PydanticCustomError("date_order", "a single USCE record cannot span more than 5 years")
        return end


class UsceCreate(_Dates):
    model_config = ConfigDict(json_schema_extra={"example": {
        "kind": "sub_internship", "institution": "Lakeside Teaching Hospital (fictional)", "city": "Springfield",
        "state": "IL", "specialty": "internal_medicine", "start_on": "2026-06-01", "end_on": "2026-06-26",
        "supervisor": "Dr. Example Attending", "us_letter": True}})
    external_id: ExternalId | None = Field(default=None, description="Your system's id; unique per candidate. "
                                                                     "`PUT .../by-external-id/{external_id}` "
                                                                     "upserts by it.")
    kind: UsceKind
    hands_on: bool | None = Field(default=None, description="Defaults from the kind (electives, sub-internships "
                                                            "and externships are hands-on).")
    institution: Name
    city: ShortText | None = None
    state: StateCode | None = None
    specialty: Specialty | None = None
    start_on: SaneDate
    end_on: SaneDate
    supervisor: Name | None = None
    us_letter: bool = Field(default=False, description="A US letter of recommendation came from it.")


class UsceUpsert(UsceCreate):
    """The body of `PUT .../by-external-id/{external_id}`: the path names the external id."""

    external_id: NamedByPath = None


class UsceUpdate(_Dates):
    not_nullable = ("kind", "hands_on", "institution", "start_on", "end_on", "us_letter")
    external_id: ExternalId | None = Field(default=None, description="null clears it.")
    kind: UsceKind | None = None
    hands_on: bool | None = None
    institution: Name | None = None
    city: ShortText | None = None
    state: StateCode | None = None
    specialty: Specialty | None = None
    start_on: SaneDate | None = None
    end_on: SaneDate | None = None
    supervisor: Name | None = None
    us_letter: bool | None = None


NOT_NULLABLE = ("kind", "hands_on", "institution", "start_on", "end_on", "us_letter")


class UscePublic(PublicModel):
    id: uuid.UUID
    candidate_id: uuid.UUID
    external_id: str | None
    kind: UsceKind
    hands_on: bool
    institution: str
    city: str | None
    state: str | None
    specialty: str | None
    start_on: date
    end_on: date
    supervisor: str | None
    us_letter: bool
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`), so "
                                     "an item read from a list can be sent back with `If-Match`.")
    created_at: datetime
    updated_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def weeks(self) -> int:
        return weeks_between(self.start_on, self.end_on)


UsceSort = Literal["start_on", "-start_on", "created_at", "-created_at", "end_on", "-end_on"]
