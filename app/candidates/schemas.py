from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from app.core.types import (
    CountryCode,
    Email,
    InputModel,
    MatchYear,
    Name,
    PublicModel,
    SaneDate,
    Specialty,
    described,
)

UsStatus = Literal["citizen", "permanent_resident", "none"]
VisaNeed = Literal["none", "j1", "h1b", "either"]
UsmleId = Annotated[str, StringConstraints(pattern=described(r"^[0-9]{8}$", "must be 8 digits"))]
# A candidate's id in the organization's system: longer than other records' (app.core.types.EXTERNAL_ID_PATTERN).
CANDIDATE_EXTERNAL_ID_PATTERN = described(r"^[A-Za-z0-9._:\-]{1,100}$", "must be 1-100 letters, digits or . _ : -")
ExternalId = Annotated[str, StringConstraints(pattern=CANDIDATE_EXTERNAL_ID_PATTERN)]
Specialties = Annotated[list[Specialty], Field(max_length=5, json_schema_extra={"uniqueItems": True})]

# The visa rule within one body, stated for generic clients (app.candidates.service checks it, and answers a change
# that breaks it only with the stored record with a 409): a US citizen or permanent resident needs no visa.
VISA_RULE: dict[str, Any] = {
    "if": {"properties": {"us_status": {"enum": ["citizen", "permanent_resident"]}}, "required": ["us_status"]},
    "then": {"properties": {"visa_need": {"const": "none"}}},
}

_EXAMPLE: dict[str, Any] = {
    "full_name": "Amina Okafor",
    "email": "amina@example.org",
    "citizenship_country": "NG",
    "us_status": "none",
    "school_name": "University of Example Medicine",
    "school_country": "NG",
    "graduation_on": "2024-07-15",
    "usmle_id": "12345678",
    "target_specialties": ["internal_medicine"],
    "target_match_year": 2027,
    "visa_need": "j1",
}


class _CandidateFields(InputModel):
    full_name: Name
    email: Email | None = None
    date_of_birth: SaneDate | None = None
    citizenship_country: CountryCode | None = None
    us_status: UsStatus = "none"
    school_name: Name | None = None
    school_country: CountryCode | None = None
    graduation_on: SaneDate | None = Field(default=None, description="Diploma date, past or expected.")
    usmle_id: UsmleId | None = Field(default=None, description="USMLE/ECFMG identification number, 8 digits.")
    target_specialties: Specialties = Field(default_factory=list)
    target_match_year: MatchYear | None = None
    visa_need: VisaNeed = "none"

    @field_validator("date_of_birth")
    @classmethod
    def _born_in_past(cls, v: date | None) -> date | None:
        if v is not None and v >= date.today():
            raise PydanticCustomError("date_past", "date_of_birth must be in the past")
        return v

    @field_validator("target_specialties")
    @classmethod
    def _unique(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(set(v)) != len(v):  # None: a PATCH clearing it, refused by the service
            raise PydanticCustomError("not_unique", "specialties must be unique")
        return v


class CandidateCreate(_CandidateFields):
    model_config = ConfigDict(json_schema_extra={"example": {**_EXAMPLE, "external_id": "SIS-000123"}, **VISA_RULE})
    organization_id: uuid.UUID | None = Field(
        default=None, description="Required for admins; advisors and API keys create in their own organization.")
    external_id: ExternalId | None = Field(default=None, description="Your system's id; unique per organization.")


class CandidateUpsert(_CandidateFields):
    """The full candidate as kept by an external system; fields left out take their defaults."""

    model_config = ConfigDict(json_schema_extra={"example": _EXAMPLE, **VISA_RULE})


class CandidateUpdate(InputModel):
    not_nullable = ("full_name", "us_status", "target_specialties", "visa_need")
    model_config = ConfigDict(json_schema_extra={"example": {"target_match_year": 2028, "visa_need": "either"},
                                                 **VISA_RULE})
    full_name: Name | None = None
    email: Email | None = None
    date_of_birth: SaneDate | None = None
    citizenship_country: CountryCode | None = None
    us_status: UsStatus | None = None
    school_name: Name | None = None
    school_country: CountryCode | None = None
    graduation_on: SaneDate | None = None
    usmle_id: UsmleId | None = None
    target_specialties: Specialties | None = None
    target_match_year: MatchYear | None = None
    visa_need: VisaNeed | None = None
    external_id: ExternalId | None = None

    _born = field_validator("date_of_birth")(_CandidateFields._born_in_past.__func__)  # type: ignore[attr-defined]
    _uniq = field_validator("target_specialties")(_CandidateFields._unique.__func__)  # type: ignore[attr-defined]


NOT_NULLABLE = ("full_name", "us_status", "target_specialties", "visa_need")


class CandidatePublic(PublicModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": {
        **_EXAMPLE, "id": "0b9f5e1c-6f7e-4a8e-9a59-3c2f8f0d7c11",
        "organization_id": "6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10", "external_id": "SIS-000123",
        "date_of_birth": None, "created_at": "2026-11-25T10:00:00Z", "updated_at": "2026-11-25T10:00:00Z"}})
    id: uuid.UUID
    organization_id: uuid.UUID
    external_id: str | None
    full_name: str
    email: str | None
    date_of_birth: date | None
    citizenship_country: str | None
    us_status: UsStatus
    school_name: str | None
    school_country: str | None
    graduation_on: date | None
    usmle_id: str | None
    target_specialties: list[str]
    target_match_year: int | None
    visa_need: VisaNeed
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`), so "
                                     "an item read from a list can be sent back with `If-Match`.")
    created_at: datetime
    updated_at: datetime


CandidateSort = Literal["created_at", "-created_at", "full_name", "-full_name", "target_match_year",
                        "-target_match_year", "updated_at", "-updated_at"]
