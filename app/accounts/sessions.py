"""Sign-in sessions: the password and refresh-token grants, logout, a person's own sessions (listed, ended one by
one or all but the current one), and ending a user's sessions.

A sign-in makes an `auth_session` (the refresh token *family*) and its first refresh token. Each use of a refresh
token spends it and issues the next one of the family with a new access token; presenting a spent one again means
two parties hold the family (a stolen token), so the whole session is revoked. Access tokens carry their session
(`sid`) and the user's `token_version` (`tv`); app.core.security refuses them once either is no longer current, on
every worker within SESSION_CHECK_SECONDS. Refresh tokens are random and kept only as SHA-256.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col

from app.accounts.models import AuthSession, RefreshToken, User
from app.accounts.principal import forget_sessions
from app.core.config import get_settings
from app.core.crud import fetch_page, update_versioned
from app.core.db import utcnow
from app.core.errors import InvalidGrant, NotFound, Unauthorized, ValidationFailed, field_error
from app.core.observe import current_origin
from app.core.pagination import PageParams
from app.core.security import (
    Actor,
    Principal,
    Role,
    create_access_token,
    current_actor,
    hash_token,
    new_secret_token,
    verify_password,
)


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


def _refresh_ttl() -> timedelta:
    return timedelta(days=get_settings().refresh_token_days)


def _mint(session: AsyncSession, user: User, auth: AuthSession, now: datetime) -> IssuedTokens:
    """A new refresh token of the family (added to the session, not committed) and an access token for it."""
    secret = new_secret_token()
    expires_at = now + _refresh_ttl()
    auth.expires_at = expires_at
    session.add(RefreshToken(session_id=auth.id, organization_id=auth.organization_id, token_hash=hash_token(secret),
                             expires_at=expires_at))
    access, ttl = create_access_token(user_id=user.id, role=Role(user.role), organization_id=user.organization_id,
                                      candidate_id=user.candidate_id, token_version=user.token_version,
                                      session_id=auth.id)
    return IssuedTokens(access, ttl, secret, int(_refresh_ttl().total_seconds()))


async def sign_in(session: AsyncSession, *, email: str, password: str) -> IssuedTokens:
    email = email.strip().lower()
    # A NUL byte can be in no stored e-mail, and PostgreSQL refuses it in a query parameter (was a 500).
    user = None if "\x00" in email else \
        (await session.execute(select(User).where(col(User.email) == email))).scalars().first()
    ok = verify_password(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        raise Unauthorized("Email or password is incorrect.")
    now = utcnow()
    auth = AuthSession(user_id=user.id, organization_id=user.organization_id, expires_at=now + _refresh_ttl())
    session.add(auth)
    issued = _mint(session, user, auth, now)
    # From here the request acts as the user: the write hook's audit row of the new session (action `sign_in`)
    # and of its refresh token name them, with the request's id and address.
    origin = current_origin.get()
    current_actor.set(Actor(Principal(role=Role(user.role), user_id=user.id, organization_id=user.organization_id,
                                      candidate_id=user.candidate_id, session_id=auth.id),
                            origin.client_address, origin.request_id))
    await session.commit()
    return issued


async def grant(session: AsyncSession, grant_type: str, *, username: str | None, password: str | None,
                refresh_token: str | None) -> IssuedTokens:
    """The token endpoint's two grants; each needs its own fields."""
    needed = {"password": (("username", username), ("password", password)),
              "refresh_token": (("refresh_token", refresh_token),)}[grant_type]
    missing = [name for name, value in needed if value is None]
    if missing:
        raise ValidationFailed(f"The {grant_type} grant needs {' and '.join(missing)}.",
                               errors=[field_error(f"body.{name}", "required for this grant_type", "missing")
                                       for name in missing])
    if grant_type == "refresh_token":
        assert refresh_token is not None
        return await refresh(session, refresh_token=refresh_token)
    assert username is not None and password is not None
    return await sign_in(session, email=username, password=password)


async def refresh(session: AsyncSession, *, refresh_token: str) -> IssuedTokens:
    """Rotate: spend the token, issue the next of its family. Every refusal is the same `invalid_grant`."""
    now = utcnow()
    found = (await session.execute(select(RefreshToken).where(col(RefreshToken.token_hash) == hash_token(refresh_token))
                                   )).scalars().first()
    if found is None:
        raise InvalidGrant()
    auth = await session.get(AuthSession, found.session_id)
    user = await session.get(User, auth.user_id) if auth is not None else None
    if auth is None or user is None or auth.revoked_at is not None or not user.is_active:
        raise InvalidGrant()
    if found.spent_at is not None:  # reuse: someone else holds this family; end it for both
        auth.revoked_at = now
        await session.commit()
        forget_sessions([user.id])
        raise InvalidGrant()
    if found.expires_at <= now:
        raise InvalidGrant()
    found.spent_at = now
    session_id, user_id = auth.id, user.id
    try:
        await session.flush()  # `WHERE version = <read>`: of two concurrent uses of one token, one spends it
    except StaleDataError:
        # the same token spent by another request at the same instant is a reuse too: end the family for both
        await session.rollback()
        await _revoke(session, session_id, now)
        forget_sessions([user_id])
        raise InvalidGrant() from None
    issued = _mint(session, user, auth, now)
    await session.commit()
    return issued


async def _revoke(session: AsyncSession, session_id: uuid.UUID, now: datetime) -> None:
    auth = await session.get(AuthSession, session_id)
    if auth is not None and auth.revoked_at is None:
        auth.revoked_at = now
        await session.commit()


async def logout(session: AsyncSession, principal: Principal) -> None:
    """End the caller's session: its refresh tokens at once, its access tokens within SESSION_CHECK_SECONDS. (API
    keys do not sign in: the route takes people only.)"""
    if principal.session_id is None:
        return
    auth = await session.get(AuthSession, principal.session_id)
    if auth is not None and auth.revoked_at is None:
        auth.revoked_at = utcnow()
        await session.commit()
    if principal.user_id is not None:
        forget_sessions([principal.user_id])


async def end_sessions(session: AsyncSession, user_id: uuid.UUID, *, keep: uuid.UUID | None = None) -> int:
    """Revoke the user's live sessions but `keep` (flushed, not committed; the caller commits and then calls
    `forget_sessions`). Their refresh tokens stop at once; their access tokens within SESSION_CHECK_SECONDS.
    Returns how many were ended."""
    now = utcnow()
    live = (await session.execute(select(AuthSession).where(col(AuthSession.user_id) == user_id,
                                                            col(AuthSession.revoked_at).is_(None)))).scalars().all()
    ended = 0
    for auth in live:
        if auth.id != keep and auth.expires_at > now:
            auth.revoked_at = now
            ended += 1
        elif auth.id != keep:
            auth.revoked_at = now  # expired already: marked all the same, not counted
    await session.flush()
    return ended


# ---- a person's own sessions ---------------------------------------------------------------------------------

def _own_live(principal: Principal) -> list[Any]:
    """The caller's sessions that still work: not ended, not expired."""
    return [col(AuthSession.user_id) == principal.user_id, col(AuthSession.revoked_at).is_(None),
            col(AuthSession.expires_at) > utcnow()]


async def list_own_sessions(session: AsyncSession, principal: Principal, page: PageParams) -> tuple[list[Any], int]:
    """The caller's live sessions, the newest sign-in first."""
    return await fetch_page(session, AuthSession, _own_live(principal),
                            [col(AuthSession.created_at).desc(), col(AuthSession.id).desc()], page)


async def get_own_session(session: AsyncSession, principal: Principal, session_id: uuid.UUID) -> AuthSession:
    """One of the caller's live sessions; 404 for anyone else's, and for one that has ended."""
    auth = (await session.execute(select(AuthSession).where(col(AuthSession.id) == session_id,
                                                            *_own_live(principal)))).scalars().first()
    if auth is None:
        raise NotFound("No live session of yours has this id.")
    return auth


async def end_own_session(session: AsyncSession, principal: Principal, auth: AuthSession,
                          if_match: str | None) -> None:
    """End one of the caller's sessions (the current one too: that is a logout): its refresh tokens stop at once,
    its access tokens within SESSION_CHECK_SECONDS."""
    await update_versioned(session, auth, {"revoked_at": utcnow()}, if_match)
    await session.commit()
    forget_sessions([auth.user_id])


async def end_other_sessions(session: AsyncSession, principal: Principal) -> int:
    """End every live session of the caller's but the one these credentials belong to; how many were ended."""
    assert principal.user_id is not None  # people only (the route says so)
    ended = await end_sessions(session, principal.user_id, keep=principal.session_id)
    await session.commit()
    forget_sessions([principal.user_id])
    return ended
