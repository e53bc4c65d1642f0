"""Webhook endpoints, their deliveries and each delivery's attempts; and the fan-out's position in the change feed.

Endpoints are not subjects of the write hook (app.core.changes): changing one is no change of a candidate's
record. The one event about them, `webhook_endpoint.disabled`, is written by app.webhooks.delivery.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from app.core.db import UtcDateTime, new_id, utcnow
from app.core.models import ResourceBase


class WebhookEndpoint(ResourceBase, table=True):
    __tablename__ = "webhook_endpoint"

    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    url: str = Field(max_length=500)
    description: str | None = Field(default=None, max_length=500)
    # As given (types and `noun.*`); empty: every type.
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    enabled: bool = Field(default=True)
    disabled_reason: str | None = Field(default=None, max_length=16)
    disabled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The signing secret, encrypted (app.webhooks.signing); after a rotation the previous one signs too, until
    # `previous_secret_expires_at`, so receivers can switch over without losing a delivery.
    secret_encrypted: str = Field(max_length=500)
    previous_secret_encrypted: str | None = Field(default=None, max_length=500)
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint. `next_attempt_at` is set while the delivery is waiting (pending or failed) and
    cleared once it is settled (succeeded or dead); `locked_until` is the lease of the worker sending it."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "next_attempt_at"),
        Index("ix_webhook_delivery_log", "endpoint_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    endpoint_id: uuid.UUID = Field(foreign_key="webhook_endpoint.id", ondelete="CASCADE")
    event_id: uuid.UUID
    event_type: str = Field(max_length=64)
    # Only for events that are not in the change feed (the `webhook.test` ping): the JSON sent. Feed events are
    # rendered from their row at each attempt.
    payload: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(max_length=16)
    attempt_count: int = Field(default=0)
    # Attempts since the delivery was (re)queued: the position in the retry schedule.
    schedule_step: int = Field(default=0)
    next_attempt_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UtcDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, nullable=False)
    version: int = Field(default=1)


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"

    id: uuid.UUID = Field(default_factory=new_id, primary_key=True)
    delivery_id: uuid.UUID = Field(foreign_key="webhook_delivery.id", index=True, ondelete="CASCADE")
    attempted_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
    status_code: int | None = None
    duration_ms: int
    error: str | None = Field(default=None, max_length=500)
