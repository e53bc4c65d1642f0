"""Remembered responses to POSTs sent with an Idempotency-Key (scoped to the caller, kept at least 24 h).

A remembered response is personal data (a candidate's name, e-mail, date of birth): it is stored encrypted (Fernet,
a key derived from SECRET_KEY, as for webhook secrets), and the request it answered is known only by an HMAC of it.
Responses that carry a secret shown once (`Cache-Control: no-store`) are not kept at all (app.core.http). Expired
records are purged by the worker (`idempotency.purge`); `forget_idempotency_for` erases a person's.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import JSON, Column, LargeBinary, String, UniqueConstraint, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from app.core.config import get_settings
from app.core.crud import rows_changed
from app.core.crypto import derive_key, fernet_for
from app.core.db import UtcDateTime, db, utcnow
from app.core.models import table_of
from app.worker import job


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("scope_key", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope_key: str = Field(max_length=120)
    key: str = Field(max_length=255)
    fingerprint: str = Field(max_length=64)
    state: str = Field(max_length=16)
    response_status: int | None = None
    response_headers: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False, index=True))


_BODY_PURPOSE = b"matchready idempotent responses v1"
_FINGERPRINT_PURPOSE = b"matchready idempotent request fingerprints v1"
_SEALED = b"f1:"  # the mark of an encrypted body (rows written before encryption hold plaintext; they expire)


def seal(body: bytes) -> bytes:
    return _SEALED + fernet_for(_BODY_PURPOSE).encrypt(body)


class Unreadable(Exception):
    """A remembered body that cannot be decrypted: SECRET_KEY changed since it was stored."""


def unseal(stored: bytes | None) -> bytes:
    if not stored:
        return b""
    if not stored.startswith(_SEALED):
        return stored  # written before bodies were encrypted; purged within the TTL
    try:
        return fernet_for(_BODY_PURPOSE).decrypt(stored[len(_SEALED):])
    except InvalidToken as exc:
        raise Unreadable("the remembered response cannot be decrypted (SECRET_KEY changed)") from exc


def fingerprints(method: str, path: str, query: bytes, body: bytes) -> tuple[str, str]:
    """(the fingerprint to store, the one rows written before it may hold): an HMAC, so that a small body (a name
    and an e-mail) cannot be found again by hashing guesses; and the plain SHA-256 it replaces."""
    message = b"\0".join([method.encode(), path.encode(), query, body])
    key = derive_key(get_settings().secret_key, _FINGERPRINT_PURPOSE)
    return hmac.new(key, message, hashlib.sha256).hexdigest(), hashlib.sha256(message).hexdigest()


def expired_before() -> datetime:
    return utcnow() - timedelta(hours=get_settings().idempotency_ttl_hours)


_T = table_of(IdempotencyRecord)
_BATCH = 5000


@job("idempotency.purge", idle_seconds=600)
async def purge_expired_idempotency_records() -> int:
    """Deletes at most one batch of expired records; the worker calls again at once while there are more."""
    async with db.session() as session:
        oldest = select(_T.c.id).where(_T.c.created_at < expired_before()).order_by(_T.c.id).limit(_BATCH)
        result = await session.execute(delete(_T).where(_T.c.id.in_(oldest.scalar_subquery())))
        await session.commit()
        return rows_changed(result)


async def forget_idempotency_for(session: AsyncSession, *, user_id: uuid.UUID | None = None,
                                 api_key_hash: str | None = None, candidate_id: uuid.UUID | None = None) -> int:
    """Delete the remembered responses of a person, in the caller's transaction (the caller commits): those of
    requests a user (`user_id`) or an API key (`api_key_hash`, as stored) made, and those of any caller that
    created or changed a candidate's record (`candidate_id`: the candidate and what lies under it, whose
    `Location` names it). Returns how many were deleted."""
    conditions: list[Any] = []
    if user_id is not None:
        conditions.append(_T.c.scope_key == f"user:{user_id}")
    if api_key_hash is not None:
        conditions.append(_T.c.scope_key == f"keyhash:{api_key_hash}")
    if candidate_id is not None:
        conditions.append(cast(_T.c.response_headers, String).contains(f"/candidates/{candidate_id}"))
    if not conditions:
        return 0
    result = await session.execute(delete(_T).where(or_(*conditions)))
    return rows_changed(result)
