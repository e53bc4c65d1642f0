"""Changing a password (with the current one) and resetting it by a one-time token sent by mail.

A reset request answers the same whether or not the account exists; the token is random, kept only as SHA-256,
good for PASSWORD_RESET_MINUTES and once. Confirming sets the password and ends every session of the user; a change
with the current password ends every session but the caller's.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.accounts.models import PasswordReset, User
from app.accounts.principal import forget_sessions
from app.accounts.schemas import PasswordChange, PasswordResetConfirm
from app.accounts.sessions import end_sessions
from app.core.config import get_settings
from app.core.db import utcnow
from app.core.errors import Forbidden, NotFound, field_error
from app.core.mail import Mail
from app.core.security import Principal, hash_password, hash_token, new_secret_token, verify_password
from app.core.throttle import Throttle


class InvalidToken(NotFound):
    """A reset or invitation token that cannot be used: unknown, expired or used, all alike. The token names the
    reset or invitation, as a calendar feed's token names its feed: one that names nothing live is a 404."""

    def __init__(self) -> None:
        super().__init__("The token is invalid, expired or already used.", code="invalid_token")


class WrongCurrentPassword(Forbidden):
    """A password change without the proof it needs: the caller is signed in, but the current password they gave
    is not the account's (403, not 422: the request is well formed, the credential in it is wrong; not 401: the
    session itself is good and must not be dropped by the client)."""

    def __init__(self) -> None:
        super().__init__("The current password is incorrect.", code="current_password_incorrect", errors=[
            field_error("body.current_password", "incorrect", "incorrect")])


async def change_password(session: AsyncSession, principal: Principal, data: PasswordChange, *,
                          throttle: Throttle, address: str) -> None:
    """A wrong current password is a failed sign-in of the account (and of the address): the same counters, so a
    stolen access token cannot guess the password here any faster than at sign-in, and a throttled account is
    429 here too, before the password is checked."""
    assert principal.user_id is not None  # the route takes people only: API keys have no password
    user = await session.get(User, principal.user_id)
    if user is None:
        raise WrongCurrentPassword()
    await throttle.check_sign_in(user.email, address)
    if not verify_password(data.current_password, user.password_hash):
        await throttle.sign_in_failed(user.email, address)
        raise WrongCurrentPassword()
    await throttle.sign_in_succeeded(user.email)
    user.password_hash = hash_password(data.new_password)
    await end_sessions(session, user.id, keep=principal.session_id)
    await session.commit()
    forget_sessions([user.id])


async def request_reset(session: AsyncSession, email: str) -> Mail | None:
    """The mail to send (None when there is no such active account: the caller answers the same)."""
    user = None if "\x00" in email else \
        (await session.execute(select(User).where(col(User.email) == email))).scalars().first()
    if user is None or not user.is_active:
        return None
    token = new_secret_token()
    minutes = get_settings().password_reset_minutes
    session.add(PasswordReset(user_id=user.id, organization_id=user.organization_id, token_hash=hash_token(token),
                              expires_at=utcnow() + timedelta(minutes=minutes)))
    await session.commit()
    return Mail(to=user.email, subject="Reset your MatchReady password", body=(
        f"Hello {user.full_name},\n\nsomeone (we hope you) asked to reset the password of your MatchReady account.\n"
        f"Your reset token, good for {minutes} minutes and once:\n\n    {token}\n\n"
        "Send it with your new password to POST /v1/auth/password-reset/confirm. If you did not ask, ignore this "
        "mail: your password stays as it is.\n"))


async def confirm_reset(session: AsyncSession, data: PasswordResetConfirm) -> None:
    now = utcnow()
    reset = (await session.execute(select(PasswordReset).where(
        col(PasswordReset.token_hash) == hash_token(data.token)))).scalars().first()
    user = await session.get(User, reset.user_id) if reset is not None else None
    if reset is None or user is None or reset.used_at is not None or reset.expires_at <= now or not user.is_active:
        raise InvalidToken()
    # every outstanding reset token of the user is used up with this one
    for other in (await session.execute(select(PasswordReset).where(
            col(PasswordReset.user_id) == user.id, col(PasswordReset.used_at).is_(None)))).scalars().all():
        other.used_at = now
    user.password_hash = hash_password(data.new_password)
    user.token_version += 1
    await end_sessions(session, user.id)
    await session.commit()
    forget_sessions([user.id])
