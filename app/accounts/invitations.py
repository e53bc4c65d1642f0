"""Invitations: an admin invites an advisor, an advisor (or an admin) invites a candidate to an account linked to
their record. The invitee gets a one-time token by mail (kept only as SHA-256, good for INVITATION_DAYS) and sets
their password with it, which creates the account."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.models import Invitation, User
from app.accounts.passwords import InvalidToken
from app.accounts.schemas import InvitationAccept, InvitationCreate
from app.accounts.service import USER_CONFLICTS, account_placement
from app.core.config import get_settings
from app.core.crud import commit_or_conflict, flush_or_conflict
from app.core.db import utcnow
from app.core.errors import Conflict, NotFound
from app.core.mail import Mail
from app.core.security import Principal, hash_password, hash_token, new_secret_token


async def invite(session: AsyncSession, principal: Principal, data: InvitationCreate) -> tuple[Invitation, Mail]:
    org_id, candidate_id = await account_placement(session, principal, data.role, data.organization_id,
                                                   data.candidate_id)
    assert org_id is not None  # advisors and candidates belong to an organization
    if (await session.execute(select(col(User.id)).where(col(User.email) == data.email))).first() is not None:
        raise Conflict(USER_CONFLICTS["email"][1], code=USER_CONFLICTS["email"][0])
    if candidate_id is not None and (await session.execute(
            select(col(User.id)).where(col(User.candidate_id) == candidate_id))).first() is not None:
        raise Conflict(USER_CONFLICTS["candidate_id"][1], code=USER_CONFLICTS["candidate_id"][0])
    token = new_secret_token()
    days = get_settings().invitation_days
    invitation = Invitation(email=data.email, full_name=data.full_name, role=data.role, organization_id=org_id,
                            candidate_id=candidate_id, invited_by_id=principal.user_id, token_hash=hash_token(token),
                            expires_at=utcnow() + timedelta(days=days))
    session.add(invitation)
    await session.commit()
    return invitation, Mail(to=data.email, subject="You are invited to MatchReady", body=(
        f"Hello {data.full_name},\n\nyou are invited to a MatchReady {data.role} account for {data.email}.\n"
        f"Your invitation token, good for {days} days and once:\n\n    {token}\n\n"
        "Send it with the password you choose to POST /v1/invitations/accept; then sign in with this address.\n"))


async def get_invitation(session: AsyncSession, principal: Principal, invitation_id: uuid.UUID) -> Invitation:
    found = await session.get(Invitation, invitation_id)
    if found is None or not principal.can_see_org(found.organization_id) or \
            (not principal.is_admin and found.role != "candidate"):
        raise NotFound("Invitation not found.")
    return found


async def accept(session: AsyncSession, data: InvitationAccept) -> User:
    now = utcnow()
    found = (await session.execute(select(Invitation).where(
        col(Invitation.token_hash) == hash_token(data.token)))).scalars().first()
    if found is None or found.accepted_at is not None or found.revoked_at is not None or found.expires_at <= now:
        raise InvalidToken()
    user = User(email=found.email, full_name=found.full_name, password_hash=hash_password(data.password),
                role=found.role, organization_id=found.organization_id, candidate_id=found.candidate_id)
    session.add(user)
    await flush_or_conflict(session, USER_CONFLICTS)  # the row first: the invitation names it (a foreign key)
    found.accepted_at = now
    found.user_id = user.id
    await commit_or_conflict(session, USER_CONFLICTS)
    return user
