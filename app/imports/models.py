"""An import is a job and one row per candidate in it. An item's rows and its result commit together, so after a
crash the pending items are exactly those not applied; the item's payload is dropped once it is applied."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index
from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime, utcnow


class ImportJob(SQLModel, table=True):
    __tablename__ = "import_job"
    __table_args__ = (Index("ix_import_job_org_created", "organization_id", "created_at"),
                      Index("ix_import_job_status", "status"))

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(sa_column=Column(ForeignKey("organization.id", ondelete="CASCADE"),
                                                        nullable=False))
    status: str = Field(default="queued", max_length=16)  # queued | running | succeeded
    dry_run: bool = False
    total: int = 0
    # Who asked for it: the worker applies the items in their name, so the audit trail names them.
    actor_type: str = Field(max_length=16)
    actor_id: uuid.UUID | None = None
    actor_role: str = Field(max_length=16)
    request_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UtcDateTime, nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=Column(UtcDateTime, nullable=True))


class ImportItem(SQLModel, table=True):
    __tablename__ = "import_item"
    __table_args__ = (Index("ix_import_item_status", "import_id", "status", "position"),)

    import_id: uuid.UUID = Field(sa_column=Column(ForeignKey("import_job.id", ondelete="CASCADE"),
                                                  primary_key=True))
    position: int = Field(primary_key=True)
    external_id: str | None = Field(default=None, max_length=100)
    status: str = Field(default="pending", max_length=16)  # pending | created | updated | unchanged | rejected
    candidate_id: uuid.UUID | None = None
    payload: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    problem: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
