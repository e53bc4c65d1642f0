"""Append-only audit rows: who changed which record, which fields (names, never values), when and from where."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime, new_id


class AuditRecord(SQLModel, table=True):
    __tablename__ = "audit_record"
    __table_args__ = (
        Index("ix_audit_record_org_time", "organization_id", "occurred_at"),
        Index("ix_audit_record_candidate", "candidate_id", "occurred_at"),
        Index("ux_audit_record_coalesce_key", "coalesce_key", unique=True),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    occurred_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False))
    organization_id: uuid.UUID | None = None
    candidate_id: uuid.UUID | None = None
    actor_type: str = Field(max_length=16)  # user, api_key, system (the worker, sign-in)
    actor_id: uuid.UUID | None = None
    actor_role: str | None = Field(default=None, max_length=16)
    action: str = Field(max_length=16)  # see app.audit.schemas.AuditAction
    subject_type: str = Field(max_length=32)
    subject_id: uuid.UUID
    changed_fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    request_id: str | None = Field(default=None, max_length=64)
    client_address: str | None = Field(default=None, max_length=64)
    # Reads, exports and disclosures of a candidate's record are one row per principal, candidate and hour: the
    # key they are coalesced by (null for the rows of writes, which are never coalesced).
    coalesce_key: str | None = Field(default=None, max_length=160)
