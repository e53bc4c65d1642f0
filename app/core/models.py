"""Columns every stored resource has: a UUID id, UTC timestamps and a version counter behind its ETag."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime, new_id, utcnow


class ResourceBase(SQLModel):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
    version: int = Field(default=1, nullable=False)
