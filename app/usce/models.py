from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from app.core.models import ResourceBase


class UsceRecord(ResourceBase, table=True):
    __tablename__ = "usce_record"
    __table_args__ = (UniqueConstraint("candidate_id", "external_id"),)

    candidate_id: uuid.UUID = Field(foreign_key="candidate.id", index=True, ondelete="CASCADE")
    external_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=24)
    hands_on: bool
    institution: str = Field(max_length=200)
    city: str | None = Field(default=None, max_length=120)
    state: str | None = Field(default=None, max_length=2)
    specialty: str | None = Field(default=None, max_length=60)
    start_on: date
    end_on: date
    supervisor: str | None = Field(default=None, max_length=200)
    us_letter: bool = False
