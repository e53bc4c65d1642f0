from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Column, text
from sqlmodel import Field

from app.core.db import UtcDateTime
from app.core.models import ResourceBase

DEFAULT_DEADLINE_LEAD_DAYS = (30, 14, 3)


class Organization(ResourceBase, table=True):
    __tablename__ = "organization"

    name: str = Field(max_length=200, unique=True)
    # Days before a step's latest safe date on which `deadline.approaching` is sent (largest first).
    deadline_lead_days: list[int] = Field(
        default_factory=lambda: list(DEFAULT_DEADLINE_LEAD_DAYS),
        sa_column=Column(JSON, nullable=False, server_default=text("'[30, 14, 3]'")))
    # Whether a candidate may erase their own record and account (advisors and admins always may).
    candidates_may_erase: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})


class User(ResourceBase, table=True):
    __tablename__ = "user_account"

    email: str = Field(max_length=254, unique=True)
    full_name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    organization_id: uuid.UUID | None = Field(default=None, foreign_key="organization.id", index=True,
                                              ondelete="RESTRICT")
    candidate_id: uuid.UUID | None = Field(default=None, foreign_key="candidate.id", unique=True,
                                           ondelete="CASCADE")
    is_active: bool = Field(default=True)


class ApiKey(ResourceBase, table=True):
    __tablename__ = "api_key"

    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)  # type: ignore[call-overload]
