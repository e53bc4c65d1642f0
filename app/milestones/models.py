from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field

from app.core.models import ResourceBase


class Milestone(ResourceBase, table=True):
    __tablename__ = "milestone"
    __table_args__ = (UniqueConstraint("candidate_id", "external_id"),)

    candidate_id: uuid.UUID = Field(foreign_key="candidate.id", index=True, ondelete="CASCADE")
    external_id: str | None = Field(default=None, max_length=64)
    type_code: str = Field(max_length=40)
    status: str = Field(max_length=16)
    attempt: int | None = None
    scheduled_on: date | None = None
    completed_on: date | None = None
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    notes: str | None = Field(default=None, max_length=4000)
