"""Remembered responses to POSTs sent with an Idempotency-Key (scoped to the caller, kept at least 24 h)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("scope_key", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope_key: str = Field(max_length=120)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=16)
    response_status: int | None = None
    response_headers: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False, index=True))
