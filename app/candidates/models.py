from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Protocol

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field

from app.core.models import ResourceBase


class Candidate(ResourceBase, table=True):
    __tablename__ = "candidate"
    __table_args__ = (
        UniqueConstraint("organization_id", "external_id"),
        # An organization's pages in their usual orders, read from the index instead of sorting the organization.
        Index("ix_candidate_org_created", "organization_id", "created_at", "id"),
        Index("ix_candidate_org_name", "organization_id", "full_name", "id"),
    )

    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True, ondelete="RESTRICT")
    external_id: str | None = Field(default=None, max_length=100)
    full_name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=254)
    date_of_birth: date | None = None
    citizenship_country: str | None = Field(default=None, max_length=2)
    us_status: str = Field(default="none", max_length=24)
    school_name: str | None = Field(default=None, max_length=200)
    school_country: str | None = Field(default=None, max_length=2)
    graduation_on: date | None = None
    usmle_id: str | None = Field(default=None, max_length=8, unique=True)
    target_specialties: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    target_match_year: int | None = None
    visa_need: str = Field(default="none", max_length=8)
    # Bumped with every change to what the computed views read besides this row (milestones, USCE, program lists
    # and their programs): with `version` it keys their cached answers. Not part of the public representation.
    facts_version: int = Field(default=0, nullable=False, sa_column_kwargs={"server_default": "0"})


class CandidateRecord(Protocol):
    """A candidate as read: the ORM object, or the read-only row a route's dependency loads (app.candidates.deps).
    Code that only reads a candidate takes this; code that writes loads the ORM object in its own session."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def version(self) -> int: ...
    @property
    def organization_id(self) -> uuid.UUID: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def full_name(self) -> str: ...
    @property
    def email(self) -> str | None: ...
    @property
    def date_of_birth(self) -> date | None: ...
    @property
    def citizenship_country(self) -> str | None: ...
    @property
    def us_status(self) -> str: ...
    @property
    def school_name(self) -> str | None: ...
    @property
    def school_country(self) -> str | None: ...
    @property
    def graduation_on(self) -> date | None: ...
    @property
    def usmle_id(self) -> str | None: ...
    @property
    def target_specialties(self) -> list[str]: ...
    @property
    def target_match_year(self) -> int | None: ...
    @property
    def visa_need(self) -> str: ...
    @property
    def facts_version(self) -> int: ...
