from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints

from app.core.types import (
    ExternalId,
    InputModel,
    LongText,
    Name,
    NamedByPath,
    PublicModel,
    SaneDate,
    ShortText,
    Specialty,
    StateCode,
    Url,
    described,
)

Track = Literal["categorical", "preliminary", "advanced", "transitional"]
CertBy = Literal["application", "rank_deadline", "start"]
Step3By = Literal["application", "rank_deadline", "match_day"]
AcgmeId = Annotated[str, StringConstraints(pattern=described(r"^[0-9]{10}$", "must be 10 digits"))]
NrmpCode = Annotated[str, StringConstraints(pattern=described(
    r"^[0-9]{7}[A-Z][0-9]$", "must be an NRMP program code: 7 digits, a capital letter and a digit, e.g. 1234567C0"))]
EntryStatus = Literal["considering", "applied", "interview_invited", "interviewed", "ranked", "withdrawn",
                      "rejected"]
Signal = Literal["gold", "silver"]

_PROGRAM_EXAMPLE: dict[str, Any] = {
    "acgme_id": "1400000001", "nrmp_code": "1234140C0", "name": "Riverbend Internal Medicine (fictional)",
    "institution": "Riverbend Teaching Hospital (fictional)", "specialty": "internal_medicine",
    "track": "categorical", "state": "NY", "city": "Riverbend", "positions": 12, "sponsors_j1": True,
    "sponsors_h1b": False, "img_share_percent": 60, "max_years_since_graduation": 5, "min_step2ck": 225,
    "first_attempt_only": True, "max_attempts": None, "usce_required": True, "usce_min_weeks": 8,
    "usce_hands_on_only": True, "usce_recency_months": 24, "min_letters": 3, "us_letters_required": True,
    "ecfmg_cert_required_by": "rank_deadline", "step3_required_by": None,
    "source": "https://example.org/riverbend-im/requirements", "facts_as_of": "2026-09-01",
}


class _ProgramFields(InputModel):
    name: Name
    institution: Name
    specialty: Specialty
    track: Track
    state: StateCode | None = None
    city: ShortText | None = None
    positions: int | None = Field(default=None, ge=0, le=500)
    sponsors_j1: bool | None = Field(default=None, description="null: not published.")
    sponsors_h1b: bool | None = None
    img_share_percent: int | None = Field(default=None, ge=0, le=100)
    max_years_since_graduation: int | None = Field(default=None, ge=0, le=60)
    min_step2ck: int | None = Field(default=None, ge=1, le=300)
    first_attempt_only: bool | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=10)
    usce_required: bool | None = None
    usce_min_weeks: int | None = Field(default=None, ge=0, le=520)
    usce_hands_on_only: bool | None = None
    usce_recency_months: int | None = Field(default=None, ge=1, le=240)
    min_letters: int | None = Field(default=None, ge=0, le=10)
    us_letters_required: bool | None = None
    ecfmg_cert_required_by: CertBy | None = None
    step3_required_by: Step3By | None = Field(default=None, description="Step 3 deadline for H-1B sponsorship.")


class ProgramCreate(_ProgramFields):
    model_config = ConfigDict(json_schema_extra={"example": _PROGRAM_EXAMPLE})
    acgme_id: AcgmeId = Field(description="ACGME program id, 10 digits.")
    nrmp_code: NrmpCode | None = None
    source: Url = Field(description="Where these facts come from.")
    facts_as_of: SaneDate = Field(description="When the facts were read from the source.")


class ProgramUpdate(InputModel):
    not_nullable = ("acgme_id", "name", "institution", "specialty", "track", "source", "facts_as_of")
    model_config = ConfigDict(json_schema_extra={"example": {"min_step2ck": 230, "facts_as_of": "2026-10-01"}})
    acgme_id: AcgmeId | None = None
    nrmp_code: NrmpCode | None = None
    name: Name | None = None
    institution: Name | None = None
    specialty: Specialty | None = None
    track: Track | None = None
    state: StateCode | None = None
    city: ShortText | None = None
    positions: int | None = Field(default=None, ge=0, le=500)
    sponsors_j1: bool | None = None
    sponsors_h1b: bool | None = None
    img_share_percent: int | None = Field(default=None, ge=0, le=100)
    max_years_since_graduation: int | None = Field(default=None, ge=0, le=60)
    min_step2ck: int | None = Field(default=None, ge=1, le=300)
    first_attempt_only: bool | None = None
    max_attempts: int | None = Field(default=None, ge=1, le=10)
    usce_required: bool | None = None
    usce_min_weeks: int | None = Field(default=None, ge=0, le=520)
    usce_hands_on_only: bool | None = None
    usce_recency_months: int | None = Field(default=None, ge=1, le=240)
    min_letters: int | None = Field(default=None, ge=0, le=10)
    us_letters_required: bool | None = None
    ecfmg_cert_required_by: CertBy | None = None
    step3_required_by: Step3By | None = None
    source: Url | None = None
    facts_as_of: SaneDate | None = None


PROGRAM_NOT_NULLABLE = ("acgme_id", "name", "institution", "specialty", "track", "source", "facts_as_of")


class ProgramPublic(PublicModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"example": {
        **_PROGRAM_EXAMPLE, "id": "9a7c1f8e-44d2-4c55-8f0e-1d2e3f4a5b6c", "organization_id": None,
        "created_at": "2026-11-25T10:00:00Z", "updated_at": "2026-11-25T10:00:00Z"}})
    id: uuid.UUID
    organization_id: uuid.UUID | None = Field(description="Who added it; null for the platform catalogue.")
    acgme_id: str
    nrmp_code: str | None
    name: str
    institution: str
    specialty: str
    track: Track
    state: str | None
    city: str | None
    positions: int | None
    sponsors_j1: bool | None
    sponsors_h1b: bool | None
    img_share_percent: int | None
    max_years_since_graduation: int | None
    min_step2ck: int | None
    first_attempt_only: bool | None
    max_attempts: int | None
    usce_required: bool | None
    usce_min_weeks: int | None
    usce_hands_on_only: bool | None
    usce_recency_months: int | None
    min_letters: int | None
    us_letters_required: bool | None
    ecfmg_cert_required_by: CertBy | None
    step3_required_by: Step3By | None
    source: str
    facts_as_of: date
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`), so "
                                     "an item read from a list can be sent back with `If-Match`.")
    created_at: datetime
    updated_at: datetime


ProgramSort = Literal["name", "-name", "created_at", "-created_at", "state", "-state", "specialty", "-specialty"]


# ---- program lists -------------------------------------------------------------------------------------------

class ProgramListCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"name": "IM 2028", "cycle": 2028}})
    external_id: ExternalId | None = Field(default=None, description="Your system's id; unique per candidate. "
                                                                     "`PUT .../by-external-id/{external_id}` "
                                                                     "upserts by it.")
    name: ShortText
    cycle: int | None = Field(default=None, ge=2000, le=2100, description="The Match year this list is for.")


class ProgramListUpsert(ProgramListCreate):
    """The body of `PUT .../by-external-id/{external_id}`: the path names the external id."""

    external_id: NamedByPath = None


class ProgramListUpdate(InputModel):
    not_nullable = ("name",)
    external_id: ExternalId | None = Field(default=None, description="null clears it.")
    name: ShortText | None = None
    cycle: int | None = Field(default=None, ge=2000, le=2100)


class ProgramListPublic(PublicModel):
    id: uuid.UUID
    candidate_id: uuid.UUID
    external_id: str | None
    name: str
    cycle: int | None
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`), so "
                                     "an item read from a list can be sent back with `If-Match`.")
    created_at: datetime
    updated_at: datetime


class EntryCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "program_id": "9a7c1f8e-44d2-4c55-8f0e-1d2e3f4a5b6c", "status": "applied", "signal": "gold",
        "rank_position": None, "notes": "Strong IMG history."}})
    program_id: uuid.UUID
    status: EntryStatus = "considering"
    signal: Signal | None = None
    rank_position: int | None = Field(default=None, ge=1, le=300, description="Unique within the list.")
    notes: LongText | None = None


class EntryUpdate(InputModel):
    not_nullable = ("status",)
    status: EntryStatus | None = None
    signal: Signal | None = None
    rank_position: int | None = Field(default=None, ge=1, le=300)
    notes: LongText | None = None


class EntryPublic(PublicModel):
    id: uuid.UUID
    list_id: uuid.UUID
    program_id: uuid.UUID
    status: EntryStatus
    signal: Signal | None
    rank_position: int | None
    notes: str | None
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`), so "
                                     "an item read from a list can be sent back with `If-Match`.")
    created_at: datetime
    updated_at: datetime


EntrySort = Literal["created_at", "-created_at", "rank_position", "-rank_position", "status", "-status"]
