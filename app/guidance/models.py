"""What the computed events job keeps between runs: its place in the feed and each candidate's last computed
state (what is compared to decide whether an event is due)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime, utcnow


class FeedConsumer(SQLModel, table=True):
    """One row per consumer of the change feed: the position it has read up to, advanced in the transaction of
    what it wrote for those events. A sweep keeps its progress here too (the day and the last candidate done)."""

    __tablename__ = "feed_consumer"

    name: str = Field(primary_key=True, max_length=64)
    txid: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    seq: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    swept_on: date | None = None
    swept_after: uuid.UUID | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]


class ComputedState(SQLModel, table=True):
    """A candidate's readiness as last computed, and the deadline notices already sent ([step, date, lead days])."""

    __tablename__ = "computed_state"

    candidate_id: uuid.UUID = Field(primary_key=True, foreign_key="candidate.id", ondelete="CASCADE")
    cycle: int
    status: str = Field(max_length=16)
    next_step: str | None = Field(default=None, max_length=64)
    earliest_feasible_cycle: int | None = None
    deadline_notices: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    computed_on: date
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)  # type: ignore[call-overload]
