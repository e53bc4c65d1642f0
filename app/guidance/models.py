"""What the computed events job keeps between runs: each candidate's last computed state (what is compared to
decide whether an event is due). Its place in the feed is a `FeedConsumer` row (app.events.models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime, utcnow


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
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
