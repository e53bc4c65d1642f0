"""Columns every stored resource has: a UUID id, UTC timestamps and a version counter behind its ETag."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime, new_id, utcnow


class ResourceBase(SQLModel):
    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    version: int = Field(default=1, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:  # noqa: N805
        # Optimistic concurrency by the ORM: every UPDATE and DELETE of a row carries `WHERE version = <read>`
        # and bumps it, so a concurrent writer's change is never overwritten (StaleDataError -> 412). A flush
        # that changes nothing emits no UPDATE, so the version (the ETag) stays.
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]
