"""The change feed's rows: a transactional outbox, written by the write hook in the transaction of the change."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer
from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime, utcnow

# SQLite numbers rows only through an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_SEQ = BigInteger().with_variant(Integer(), "sqlite")


class Event(SQLModel, table=True):
    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_org_position", "organization_id", "txid", "seq"),
        Index("ix_event_position", "txid", "seq"),
        Index("ix_event_candidate", "candidate_id"),
    )

    # The feed's order is (txid, seq): on PostgreSQL txid is the writing transaction's id and readers only see
    # transactions older than every one still running (see app.events.service), so no event can appear behind
    # a cursor once it was handed out. SQLite has one writer at a time: txid is 0 and seq is commit order.
    seq: int | None = Field(default=None, sa_column=Column(_SEQ, primary_key=True, autoincrement=True))
    txid: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    id: uuid.UUID = Field(unique=True)
    type: str = Field(max_length=64)
    occurred_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False, index=True))
    organization_id: uuid.UUID | None = Field(default=None)
    candidate_id: uuid.UUID | None = Field(default=None)
    subject_type: str = Field(max_length=32)
    subject_id: uuid.UUID
    subject_external_id: str | None = Field(default=None, max_length=100)
    subject_version: int | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class FeedConsumer(SQLModel, table=True):
    """One row per consumer of the change feed (the computed events, the webhook fan-out): the position it has
    read up to, (txid, seq) as in app.events.service, advanced in the transaction of what it wrote for those
    events. A sweep keeps its progress here too (the day and the last candidate done)."""

    __tablename__ = "feed_consumer"

    name: str = Field(primary_key=True, max_length=64)
    txid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    swept_on: date | None = None
    swept_after: uuid.UUID | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
