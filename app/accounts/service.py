"""Organizations, users, API keys and sign-in. Each write use case commits once, at its end."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.models import ApiKey, Organization, User
from app.accounts.principal import forget_sessions
from app.accounts.schemas import (
    ApiKeyCreate,
    OrganizationCreate,
    OrganizationUpdate,
    UserCreate,
    UserUpdate,
)
from app.accounts.sessions import end_sessions
from app.core.changes import Subject, register_subject
from app.core.crud import commit_or_conflict, delete_versioned, fetch_page, update_versioned
from app.core.db import utcnow
from app.core.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from app.core.http import check_if_match
from app.core.idempotency import forget_idempotency_for
from app.core.pagination import PageParams
from app.core.security import Principal, Role, hash_api_key, hash_password, new_api_key

ORG_CONFLICTS = {"name": ("organization_name_taken", "An organization with this name exists.")}


def _ids(obj: Any) -> dict[str, Any]:
    return {"id": str(obj.id)}


# Accounts are not in the change feed, but the write hook audits their changes (role, password, revocation).
register_subject(Subject(table="organization", type="organization", render=_ids, emits=False,
                         candidate_of=lambda _c, _o: None, organization_of=lambda o: o.id))
register_subject(Subject(table="user_account", type="user", render=_ids, emits=False,
                         candidate_of=lambda _c, u: u.candidate_id, organization_of=lambda u: u.organization_id))
register_subject(Subject(table="api_key", type="api_key", render=_ids, emits=False,
                         candidate_of=lambda _c, _k: None, organization_of=lambda k: k.organization_id))
# Sign-in sessions, their refresh tokens, password resets and invitations: audited (never their secrets, which are
# stored only as hashes and whose column names are all an audit row holds).
for _table in ("auth_session", "refresh_token", "password_reset"):
    register_subject(Subject(table=_table, type=_table, render=_ids, emits=False,
                             candidate_of=lambda _c, _r: None, organization_of=lambda r: r.organization_id))
register_subject(Subject(table="invitation", type="invitation", render=_ids, emits=False,
                         candidate_of=lambda _c, i: i.candidate_id, organization_of=lambda i: i.organization_id))


# ---- what accounts know of candidate records ------------------------------------------------------------------
# The candidates domain builds on this one (a candidate belongs to an organization). Accounts need two answers about
# its records, and get them from the directory app.candidates.service sets when it is imported, so that the
# dependency runs one way.

@dataclass(frozen=True)
class CandidateDirectory:
    organization_of: Callable[[AsyncSession, uuid.UUID], Awaitable[uuid.UUID | None]]  # None: no such candidate
    count_in: Callable[[AsyncSession, uuid.UUID], Awaitable[int]]  # the candidates of an organization


_directory: list[CandidateDirectory] = []


def set_candidate_directory(directory: CandidateDirectory) -> None:
    _directory[:] = [directory]


def _candidates() -> CandidateDirectory:
    if not _directory:
        raise RuntimeError("app.candidates.service has not been imported: no candidate directory")
    return _directory[0]


USER_CONFLICTS = {
    "email": ("email_taken", "A user with this email exists."),
    "candidate_id": ("candidate_has_user", "This candidate already has a user account."),
}


# ---- organizations -------------------------------------------------------------------------------------------

async def get_organization(session: AsyncSession, principal: Principal, organization_id: uuid.UUID) -> Organization:
    org = await session.get(Organization, organization_id)
    if org is None or not principal.can_see_org(org.id):
        raise NotFound("Organization not found.")
    return org


async def list_organizations(session: AsyncSession, principal: Principal, page: PageParams
                             ) -> tuple[list[Organization], int]:
    where = [] if principal.is_admin else [col(Organization.id) == principal.organization_id]
    return await fetch_page(session, Organization, where, [col(Organization.created_at), col(Organization.id)], page)


async def create_organization(session: AsyncSession, data: OrganizationCreate) -> Organization:
    org = Organization(name=data.name, deadline_lead_days=data.deadline_lead_days)
    session.add(org)
    await commit_or_conflict(session, ORG_CONFLICTS)
    return org


async def update_organization(session: AsyncSession, org: Organization, data: OrganizationUpdate,
                              if_match: str | None) -> Organization:
    changes = data.model_dump(exclude_unset=True)
    for name in ("name", "deadline_lead_days", "candidates_may_erase"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.",
                                   errors=[field_error(f"body.{name}", "may not be null", "not_nullable")])
    await update_versioned(session, org, changes, if_match, ORG_CONFLICTS)
    await commit_or_conflict(session, ORG_CONFLICTS)
    return org


async def delete_organization(session: AsyncSession, org: Organization, if_match: str | None) -> None:
    check_if_match(if_match, org.version)
    in_use = await _candidates().count_in(session, org.id)
    users = (await session.execute(select(func.count()).select_from(User)
                                   .where(col(User.organization_id) == org.id))).scalar_one()
    if in_use or users:
        raise Conflict("The organization still has candidates or users; remove them first.",
                       code="organization_not_empty")
    await delete_versioned(session, org, if_match)
    await session.commit()


# ---- users ---------------------------------------------------------------------------------------------------

def _user_visible(principal: Principal, user: User) -> bool:
    if principal.is_admin:
        return True
    if principal.role is Role.advisor:
        return user.organization_id == principal.organization_id
    return principal.user_id == user.id


async def get_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None or not _user_visible(principal, user):
        raise NotFound("User not found.")
    return user


async def list_users(session: AsyncSession, principal: Principal, page: PageParams,
                     organization_id: uuid.UUID | None, role: str | None) -> tuple[list[User], int]:
    where: list[ColumnElement[bool]] = []
    if not principal.is_admin:
        where.append(col(User.organization_id) == principal.organization_id)
    elif organization_id is not None:
        where.append(col(User.organization_id) == organization_id)
    if role is not None:
        where.append(col(User.role) == role)
    return await fetch_page(session, User, where, [col(User.created_at), col(User.id)], page)


async def create_user(session: AsyncSession, principal: Principal, data: UserCreate) -> User:
    org_id, candidate_id = await account_placement(session, principal, data.role, data.organization_id,
                                                   data.candidate_id)
    user = User(email=data.email, full_name=data.full_name, password_hash=hash_password(data.password),
                role=data.role, organization_id=org_id, candidate_id=candidate_id)
    session.add(user)
    await commit_or_conflict(session, USER_CONFLICTS)
    return user


async def account_placement(session: AsyncSession, principal: Principal, role: str, org_id: uuid.UUID | None,
                            requested_candidate: uuid.UUID | None) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """Who may make an account of `role`, and its organization and candidate record (for users and
    invitations alike): admins any, advisors only their candidates'."""
    candidate_id = None
    if principal.role is Role.advisor and role != "candidate":
        raise Forbidden("Advisors may create candidate accounts only.")
    if role == "admin":
        if org_id or requested_candidate:
            raise ValidationFailed("Admins belong to no organization or candidate.", errors=[
                field_error("body.organization_id", "must be empty for admins", "not_allowed")])
    elif role == "advisor":
        if org_id is None or requested_candidate:
            raise ValidationFailed("An advisor needs an organization_id and no candidate_id.", errors=[
                field_error("body.organization_id", "required for advisors", "missing")])
        if await session.get(Organization, org_id) is None:
            raise NotFound("No such organization.", errors=[
                field_error("body.organization_id", "unknown organization", "unknown")])
    else:
        if requested_candidate is None:
            raise ValidationFailed("A candidate account needs candidate_id.", errors=[
                field_error("body.candidate_id", "required for the candidate role", "missing")])
        cand_org = await _candidates().organization_of(session, requested_candidate)
        if cand_org is None or not principal.can_see_org(cand_org):
            raise NotFound("No such candidate.", errors=[
                field_error("body.candidate_id", "unknown candidate", "unknown")])
        if org_id is not None and org_id != cand_org:
            raise ValidationFailed("organization_id does not match the candidate's organization.", errors=[
                field_error("body.organization_id", "differs from the candidate's", "mismatch")])
        org_id, candidate_id = cand_org, requested_candidate
    return org_id, candidate_id


async def update_user(session: AsyncSession, principal: Principal, user: User, data: UserUpdate,
                      if_match: str | None) -> User:
    changes = data.model_dump(exclude_unset=True)
    for name in ("full_name", "is_active", "password"):
        if name in changes and changes[name] is None:
            raise ValidationFailed(f"{name} cannot be cleared.",
                                   errors=[field_error(f"body.{name}", "may not be null", "not_nullable")])
    if principal.user_id == user.id and "is_active" in changes and not principal.is_admin:
        raise Forbidden("You may not deactivate your own account.")
    if principal.role is Role.candidate and set(changes) - {"password", "full_name"}:
        raise Forbidden("Candidates may change only their name and password.")
    if "password" in changes:
        changes["password_hash"] = hash_password(changes.pop("password"))
    ends_sessions = "password_hash" in changes or (changes.get("is_active") is False and user.is_active)
    if ends_sessions:
        changes["token_version"] = user.token_version + 1  # every token issued before now stops working
    await update_versioned(session, user, changes, if_match)
    if ends_sessions:
        await end_sessions(session, user.id)  # and no refresh token mints a new one
    await session.commit()
    if ends_sessions:
        forget_sessions([user.id])
    return user


async def delete_user(session: AsyncSession, principal: Principal, user: User, if_match: str | None) -> None:
    if principal.user_id == user.id:
        raise Forbidden("You may not delete your own account.")
    await delete_versioned(session, user, if_match)
    # The replays that carry their account, each leaving a tombstone (retrying the request that created the account
    # is refused, not run again to create it anew), and those of their own requests, which no one can send any more.
    await forget_idempotency_for(session, user_ids=[user.id], tombstones=True)
    await session.commit()
    forget_sessions([user.id])


# ---- API keys ------------------------------------------------------------------------------------------------

async def list_api_keys(session: AsyncSession, org: Organization, page: PageParams) -> tuple[list[ApiKey], int]:
    return await fetch_page(session, ApiKey, [col(ApiKey.organization_id) == org.id, col(ApiKey.revoked_at).is_(None)],
                            [ApiKey.created_at, ApiKey.id], page)


async def create_api_key(session: AsyncSession, org: Organization, data: ApiKeyCreate) -> tuple[ApiKey, str]:
    secret = new_api_key()
    key = ApiKey(organization_id=org.id, name=data.name, prefix=secret[:10], key_hash=hash_api_key(secret))
    session.add(key)
    await session.commit()
    return key, secret


async def get_api_key(session: AsyncSession, org: Organization, api_key_id: uuid.UUID) -> ApiKey:
    key = await session.get(ApiKey, api_key_id)
    if key is None or key.organization_id != org.id or key.revoked_at is not None:
        raise NotFound("API key not found.")  # a revoked key is gone for clients; its row stays for audit
    return key


async def revoke_api_key(session: AsyncSession, key: ApiKey, if_match: str | None) -> None:
    """Revoking stops the key at once; the row stays (with `revoked_at`) for audit but is no longer served."""
    await update_versioned(session, key, {"revoked_at": utcnow()}, if_match)
    await session.commit()
