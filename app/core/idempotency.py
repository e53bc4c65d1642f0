"""Remembered responses to POSTs sent with an Idempotency-Key (scoped to the caller, kept at least 24 h).

A remembered response is personal data (a candidate's name, e-mail, date of birth): it is stored encrypted (Fernet,
a key derived from SECRET_KEY, as for webhook secrets), and the request it answered is known only by an HMAC of it.
Each record names the people whose data it carries (`candidate_id`, `user_id`: the candidate and the user account
whose rows the request wrote, as the write hook saw them), so that erasing or deleting them forgets it, whoever
made the request (`forget_idempotency_for`). Deleting them leaves a tombstone (`FORGOTTEN`): the key, its scope and
the request's fingerprint without the answer, so that a retry of the request is refused (409
`idempotency-replay-forgotten`) rather than run again to create the record anew; erasing them leaves nothing. A
response that carries a secret shown once (an API key, a signing secret, a calendar address) is kept without it
(app.core.http, `shown_once`). Expired records, tombstones included, are purged by the worker
(`idempotency.purge`).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy import JSON, Column, LargeBinary, String, UniqueConstraint, cast, delete, null, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from app.core.changes import Change, add_sink
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
    state: str = Field(max_length=16)  # IN_FLIGHT, DONE or FORGOTTEN
    response_status: int | None = None
    response_headers: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    created_at: datetime = Field(sa_column=Column(UtcDateTime, nullable=False, index=True))
    # Whose data the response carries (None: no one's, or a row written before they were recorded).
    candidate_id: uuid.UUID | None = Field(default=None, index=True)
    user_id: uuid.UUID | None = Field(default=None, index=True)


# The states of a record: the first request is running; it is answered and its answer kept for replay; it was
# answered, but the record it created (or the person whose data the answer carried) has since been deleted, so the
# answer is no longer kept and a retry is refused, not run again (a tombstone, until the TTL).
IN_FLIGHT = "in_flight"
DONE = "done"
FORGOTTEN = "forgotten"

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


# ---- whose data a response carries -----------------------------------------------------------------------------

_USER = "user"  # the write hook's subject type of user accounts (app.accounts)


@dataclass
class Subjects:
    """The candidates and user accounts whose rows a request wrote (created, changed or deleted)."""

    candidates: set[uuid.UUID] = field(default_factory=set)
    users: set[uuid.UUID] = field(default_factory=set)

    def single(self) -> tuple[uuid.UUID | None, uuid.UUID | None] | None:
        """(candidate_id, user_id) to keep on the record; None when the request wrote more than one person's
        rows, whom one record cannot name (such a response is not kept)."""
        if len(self.candidates) > 1 or len(self.users) > 1:
            return None
        return next(iter(self.candidates), None), next(iter(self.users), None)


_subjects: ContextVar[Subjects | None] = ContextVar("idempotency_subjects", default=None)


@contextmanager
def noting_subjects() -> Iterator[Subjects]:
    """Around a request sent with an Idempotency-Key: the people whose rows it writes, as the write hook sees
    them (its flushes run in the request's context, so the sink below finds this request's collection)."""
    seen = Subjects()
    token = _subjects.set(seen)
    try:
        yield seen
    finally:
        _subjects.reset(token)


def _note_subjects(_conn: Connection, changes: list[Change]) -> None:
    seen = _subjects.get()
    if seen is None:  # not a request with an Idempotency-Key (or the worker)
        return
    for ch in changes:
        if ch.candidate_id is not None:
            seen.candidates.add(ch.candidate_id)
        if ch.subject.type == _USER:
            seen.users.add(ch.obj.id)


add_sink(_note_subjects, order=10)


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


async def forget_idempotency_for(session: AsyncSession, *, candidate_id: uuid.UUID | None = None,
                                 user_ids: Collection[uuid.UUID] = (), api_key_hash: str | None = None,
                                 tombstones: bool = False) -> int:
    """Forget the remembered responses that carry a person's data, in the caller's transaction (the caller
    commits): whoever made the request, those that name the candidate (`candidate_id`: their record and what lies
    under it, their invitation, their account) or a user account (`user_ids`); and the requests those users or an
    API key (`api_key_hash`, as stored) made, which no one can replay once they are gone. Rows written before
    records named their people are found by the `Location` they answered with (they expire within the TTL).

    By default (erasure) the records are deleted: nothing of the person remains. With `tombstones` (a plain
    deletion) the records of requests made by anyone but those users and that key keep their scope, key and
    fingerprint and lose the answer and the people it named (state FORGOTTEN), so that a retry of the request that
    created the record is refused instead of creating it again; the requests of the deleted users and of the API
    key are deleted all the same (no one can send them again). Returns how many records were deleted or made
    tombstones."""
    carrying: list[Any] = []
    if candidate_id is not None:
        carrying.append(_T.c.candidate_id == candidate_id)
        carrying.append(cast(_T.c.response_headers, String).contains(f"/candidates/{candidate_id}"))
    if user_ids:
        carrying.append(_T.c.user_id.in_(list(user_ids)))
    own: list[Any] = []
    if user_ids:
        own.append(_T.c.scope_key.in_([f"user:{u}" for u in user_ids]))
    if api_key_hash is not None:
        own.append(_T.c.scope_key == f"keyhash:{api_key_hash}")
    if not tombstones:
        carrying, own = [], carrying + own
    n = 0
    if own:
        n += rows_changed(await session.execute(delete(_T).where(or_(*own))))
    if carrying:
        n += rows_changed(await session.execute(
            update(_T).where(or_(*carrying), _T.c.state == DONE).values(
                state=FORGOTTEN, response_status=None, response_headers=null(), response_body=None,
                candidate_id=None, user_id=None)))
    return n
