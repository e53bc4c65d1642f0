from __future__ import annotations

import uuid

from sqlmodel import Field

from app.core.models import ResourceBase


class CalendarSubscription(ResourceBase, table=True):
    __tablename__ = "calendar_subscription"

    candidate_id: uuid.UUID = Field(foreign_key="candidate.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    token_hash: str = Field(max_length=64, unique=True)
