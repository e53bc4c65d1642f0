from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, JsonValue
from pydantic_core import PydanticCustomError

from app.accounts.models import DEFAULT_DEADLINE_LEAD_DAYS
from app.core.types import Email, InputModel, Name, Password, PublicModel, ShortText


def _json_integer(value: object) -> object:
    if isinstance(value, (bool, str, bytes)):  # lax mode would take "7" or true for an integer
        raise PydanticCustomError("int_type", "must be a JSON integer")
    return value


def _distinct_largest_first(days: list[int]) -> list[int]:
    if len(set(days)) != len(days):
        raise PydanticCustomError("not_unique", "lead days must be distinct")
    return sorted(days, reverse=True)


LeadDays = Annotated[
    list[Annotated[int, Field(ge=1, le=365), BeforeValidator(_json_integer)]],
    Field(min_length=1, max_length=10, description="Days before a step's latest safe date on which a "
                                                   "`deadline.approaching` event is sent: 1-10 distinct values in "
                                                   "1..365, kept largest first.",
          json_schema_extra={"uniqueItems": True}),
    AfterValidator(_distinct_largest_first),
]


class OrganizationCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"name": "North University Advising Office",
                                                             "deadline_lead_days": [30, 14, 3]}})
    name: Name
    deadline_lead_days: LeadDays = Field(default_factory=lambda: list(DEFAULT_DEADLINE_LEAD_DAYS))
    candidates_may_erase: bool = Field(default=False, description="Let candidates erase their own record and "
                                                                  "account (`POST /v1/candidates/{id}/erasure`).")


class OrganizationUpdate(InputModel):
    not_nullable = ("name", "deadline_lead_days", "candidates_may_erase")
    name: Name | None = None
    deadline_lead_days: LeadDays | None = None
    candidates_may_erase: bool | None = Field(default=None, description="Let candidates erase their own record "
                                                                        "and account.")


class OrganizationPublic(PublicModel):
    id: uuid.UUID
    name: str
    deadline_lead_days: list[int] = Field(description="Days before a step's latest safe date on which a "
                                                      "`deadline.approaching` event is sent, largest first.")
    candidates_may_erase: bool
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`), so "
                                     "an item read from a list can be sent back with `If-Match`.")
    created_at: datetime
    updated_at: datetime


UserRole = Literal["admin", "advisor", "candidate"]

_UUID: JsonValue = {"type": "string", "format": "uuid"}
_ABSENT: JsonValue = {"type": "null"}
# What each role takes (app.accounts.service refuses the rest with 422): an admin belongs to no organization or
# candidate; an advisor needs an organization and no candidate; a candidate account needs its candidate record.
ROLE_RULES: list[JsonValue] = [
    {"if": {"properties": {"role": {"const": "admin"}}},
     "then": {"properties": {"organization_id": _ABSENT, "candidate_id": _ABSENT}}},
    {"if": {"properties": {"role": {"const": "advisor"}}},
     "then": {"required": ["organization_id"], "properties": {"organization_id": _UUID, "candidate_id": _ABSENT}}},
    {"if": {"properties": {"role": {"const": "candidate"}}},
     "then": {"required": ["candidate_id"], "properties": {"candidate_id": _UUID}}},
]


class UserCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"allOf": ROLE_RULES, "example": {
        "email": "advisor@north.example", "full_name": "Ada Advisor", "password": "a long passphrase",
        "role": "advisor", "organization_id": "6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10"}})
    email: Email
    full_name: Name
    password: Password
    role: UserRole
    organization_id: uuid.UUID | None = Field(
        default=None, description="Required for advisors; for candidates it is taken from the candidate record.")
    candidate_id: uuid.UUID | None = Field(default=None, description="Required for the candidate role.")


class UserUpdate(InputModel):
    not_nullable = ("full_name", "is_active", "password")
    full_name: Name | None = None
    password: Password | None = None
    is_active: bool | None = None


class UserPublic(PublicModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: UserRole
    organization_id: uuid.UUID | None
    candidate_id: uuid.UUID | None
    is_active: bool
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`), so "
                                     "an item read from a list can be sent back with `If-Match`.")
    created_at: datetime
    updated_at: datetime


class ApiKeyCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"name": "SIS nightly sync"}})
    name: ShortText


class ApiKeyPublic(PublicModel):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`), so "
                                     "an item read from a list can be sent back with `If-Match`.")
    created_at: datetime
    revoked_at: datetime | None


class SignInSessionPublic(PublicModel):
    """One of your sign-in sessions: a sign-in and the tokens renewed from it."""

    id: uuid.UUID
    created_at: datetime = Field(description="When you signed in.")
    expires_at: datetime = Field(description="When the session ends at the latest: its refresh token stops "
                                             "renewing then.")
    current: bool = Field(description="True for the session of the credentials this request was sent with.")
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`): send it "
                                     "as `If-Match` to end the session.")


class SessionsEnded(PublicModel):
    ended: int = Field(description="How many sessions were ended (0 when there were no others).")


class ApiKeyCreated(ApiKeyPublic):
    key: str | None = Field(description="The secret key. Shown only once: store it now. Null in the replay of this "
                                        "response to a retry with the same `Idempotency-Key` (`Secret-Withheld`).")


class Token(PublicModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str = Field(description="Opaque, single-use: send it with `grant_type=refresh_token` for the next "
                                           "access token and refresh token. Presenting a used one again ends the "
                                           "sign-in session.")
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires.")


class Me(PublicModel):
    role: Literal["admin", "advisor", "candidate", "system"]
    user_id: uuid.UUID | None
    organization_id: uuid.UUID | None
    candidate_id: uuid.UUID | None
    api_key_id: uuid.UUID | None


OneTimeToken = Annotated[str, Field(min_length=16, max_length=128, description="The token from the mail.")]


class PasswordChange(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"current_password": "the old passphrase",
                                                             "new_password": "a new long passphrase"}})
    current_password: Annotated[str, Field(min_length=1, max_length=128)]
    new_password: Password


class PasswordResetRequest(InputModel):
    model_config = ConfigDict(json_schema_extra={"example": {"email": "advisor@north.example"}})
    email: Email


class PasswordResetConfirm(InputModel):
    token: OneTimeToken
    new_password: Password


class InvitationCreate(InputModel):
    model_config = ConfigDict(json_schema_extra={"allOf": ROLE_RULES[1:], "example": {
        "email": "amina@example.org", "full_name": "Amina Okafor", "role": "candidate",
        "candidate_id": "0b9f5e1c-6f7e-4a8e-9a59-3c2f8f0d7c11"}})
    email: Email
    full_name: Name
    role: Literal["advisor", "candidate"]
    organization_id: uuid.UUID | None = Field(
        default=None, description="Required for advisors; for candidates it is taken from the candidate record.")
    candidate_id: uuid.UUID | None = Field(default=None, description="Required for the candidate role: the "
                                                                     "record the account will be linked to.")


class InvitationPublic(PublicModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Literal["advisor", "candidate"]
    organization_id: uuid.UUID
    candidate_id: uuid.UUID | None
    expires_at: datetime
    accepted_at: datetime | None
    user_id: uuid.UUID | None = Field(description="The account made by accepting it.")
    version: int = Field(description="Bumped by every change; the value of the `ETag` (`\"v<version>\"`).")
    created_at: datetime


class InvitationAccept(InputModel):
    token: OneTimeToken
    password: Password
