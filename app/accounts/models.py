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
    # Bumped when every session of the user must end (deactivation, a password set by someone else, a reset, a
    # role change); access tokens carry the value they were issued under (app.core.security, SESSION_CHECK_SECONDS).
    token_version: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})


class ApiKey(ResourceBase, table=True):
    __tablename__ = "api_key"

    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    name: str = Field(max_length=120)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class AuthSession(ResourceBase, table=True):
    """One sign-in: the family of its rotating refresh tokens and the access tokens issued from them (`sid`)."""

    __tablename__ = "auth_session"

    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    organization_id: uuid.UUID | None = Field(default=None)  # the user's, for the audit trail
    expires_at: datetime = Field(sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class RefreshToken(ResourceBase, table=True):
    """A refresh token, stored as its SHA-256 only. Spent when rotated; presenting a spent one ends its session."""

    __tablename__ = "refresh_token"

    session_id: uuid.UUID = Field(foreign_key="auth_session.id", index=True, ondelete="CASCADE")
    organization_id: uuid.UUID | None = Field(default=None)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    spent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class PasswordReset(ResourceBase, table=True):
    """A one-time password reset token (its SHA-256), mailed to the user."""

    __tablename__ = "password_reset"

    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    organization_id: uuid.UUID | None = Field(default=None)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Invitation(ResourceBase, table=True):
    """An invitation to an account (an advisor, or a candidate linked to their record); its one-time token (the
    SHA-256 is kept) is mailed to the invitee, who sets a password with it."""

    __tablename__ = "invitation"

    email: str = Field(max_length=254, index=True)
    full_name: str = Field(max_length=200)
    role: str = Field(max_length=16)
    organization_id: uuid.UUID = Field(foreign_key="organization.id", index=True, ondelete="CASCADE")
    candidate_id: uuid.UUID | None = Field(default=None, foreign_key="candidate.id", ondelete="CASCADE")
    invited_by_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
