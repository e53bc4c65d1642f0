from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from app.core.models import ResourceBase


class Program(ResourceBase, table=True):
    __tablename__ = "program"

    organization_id: uuid.UUID | None = Field(default=None, foreign_key="organization.id", index=True,
                                              ondelete="SET NULL")
    acgme_id: str = Field(max_length=10, unique=True)
    nrmp_code: str | None = Field(default=None, max_length=12, unique=True)
    name: str = Field(max_length=200)
    institution: str = Field(max_length=200)
    specialty: str = Field(max_length=60, index=True)
    track: str = Field(max_length=16)
    state: str | None = Field(default=None, max_length=2)
    city: str | None = Field(default=None, max_length=120)
    positions: int | None = None
    sponsors_j1: bool | None = None
    sponsors_h1b: bool | None = None
    img_share_percent: int | None = None
    max_years_since_graduation: int | None = None
    min_step2ck: int | None = None
    first_attempt_only: bool | None = None
    max_attempts: int | None = None
    usce_required: bool | None = None
    usce_min_weeks: int | None = None
    usce_hands_on_only: bool | None = None
    usce_recency_months: int | None = None
    min_letters: int | None = None
    us_letters_required: bool | None = None
    ecfmg_cert_required_by: str | None = Field(default=None, max_length=16)
    step3_required_by: str | None = Field(default=None, max_length=16)
    source: str = Field(max_length=500)
    facts_as_of: date


class ProgramList(ResourceBase, table=True):
    __tablename__ = "program_list"
    __table_args__ = (UniqueConstraint("candidate_id", "name"), UniqueConstraint("candidate_id", "external_id"))

    candidate_id: uuid.UUID = Field(foreign_key="candidate.id", index=True, ondelete="CASCADE")
    external_id: str | None = Field(default=None, max_length=64)
    name: str = Field(max_length=120)
    cycle: int | None = None


class ProgramListEntry(ResourceBase, table=True):
    __tablename__ = "program_list_entry"
    __table_args__ = (
        UniqueConstraint("list_id", "program_id"),
        UniqueConstraint("list_id", "rank_position"),
    )

    list_id: uuid.UUID = Field(foreign_key="program_list.id", index=True, ondelete="CASCADE")
    program_id: uuid.UUID = Field(foreign_key="program.id", index=True, ondelete="RESTRICT")
    status: str = Field(default="considering", max_length=24)
    signal: str | None = Field(default=None, max_length=8)
    rank_position: int | None = None
    notes: str | None = Field(default=None, max_length=4000)
