"""Accesses to candidates' records that the audit trail records off the request path, coalesced.

A request that reads a candidate's record (or exports it, or the worker that discloses it to a webhook endpoint)
notes it here with `note`: a set lookup and an append, no I/O. Each process remembers the keys it noted in the
current hour and drops repeats, so a principal who opens one record a thousand times in an hour leaves one row.
The audit writer drains the new ones every few seconds (app.audit.writer.flush_coalesced) and inserts them with
`ON CONFLICT DO NOTHING` on their key, so several processes noting the same access still leave one row.

What a process has noted but not yet flushed is lost if it is killed (SIGKILL) in those seconds; a graceful
shutdown flushes it. While the database is down the notes wait, up to `MAX_PENDING`, and the oldest are dropped
beyond (counted in `dropped`, logged by the writer).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from app.core.db import utcnow
from app.core.security import Actor, Role, current_actor

MAX_PENDING = 100_000


@dataclass(frozen=True, slots=True)
class Access:
    """One coalesced audit row, before the database adds the candidate's organization."""

    key: str
    action: str
    candidate_id: uuid.UUID
    subject_type: str
    subject_id: uuid.UUID
    occurred_at: datetime
    actor_type: str
    actor_id: uuid.UUID | None
    actor_role: str | None
    request_id: str | None
    client_address: str | None


class Coalescer:
    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self.max_pending = max_pending
        self.dropped = 0
        self._hour: datetime | None = None
        self._stamp = ""
        # What was noted this hour, as tuples of ids (cheap to hash); the row's text key is built only for new ones.
        self._seen: set[tuple[object, ...]] = set()
        self._pending: list[Access] = []

    def note(self, action: str, candidate_ids: Iterable[uuid.UUID], *, subject_type: str = "candidate",
             subject_id: uuid.UUID | None = None, actor: Actor | None = None) -> None:
        """Record that the current principal (the request's, or `actor`; nobody: the service itself) did `action`
        to these candidates' records, once per hour. The subject is the candidate unless one is named (e.g. the
        webhook endpoint a record was disclosed to). A candidate's reads of their own record are not recorded."""
        now = utcnow()
        hour = now.replace(minute=0, second=0, microsecond=0)
        if hour != self._hour:
            self._hour, self._seen, self._stamp = hour, set(), f"{hour:%Y%m%dT%H}"
        actor = actor if actor is not None else current_actor.get()
        p = actor.principal if actor is not None else None
        if p is None:
            actor_type, actor_id, role = "system", None, None
        elif p.api_key_id is not None:
            actor_type, actor_id, role = "api_key", p.api_key_id, p.role.value
        else:
            actor_type, actor_id, role = "user", p.user_id, p.role.value
        for cid in candidate_ids:
            if p is not None and p.role is Role.candidate and p.candidate_id == cid:
                continue
            subject = subject_id or cid
            seen = (action, actor_type, actor_id, subject, cid)
            if seen in self._seen:
                continue
            self._seen.add(seen)
            key = f"{action}:{actor_type}:{actor_id or '-'}:{subject}:{cid}:{self._stamp}"
            self._pending.append(Access(
                key, action, cid, subject_type, subject, now, actor_type, actor_id, role,
                actor.request_id if actor is not None else None, actor.client_address if actor is not None else None))
        if len(self._pending) > self.max_pending:
            excess = len(self._pending) - self.max_pending
            del self._pending[:excess]
            self.dropped += excess

    def drain(self) -> list[Access]:
        """What was noted since the last drain (the caller writes it, or gives it back with `restore`)."""
        pending, self._pending = self._pending, []
        return pending

    def restore(self, accesses: list[Access]) -> None:
        """Put back what could not be written (the database is down), ahead of what was noted since."""
        self._pending[:0] = accesses
        if len(self._pending) > self.max_pending:
            excess = len(self._pending) - self.max_pending
            del self._pending[:excess]
            self.dropped += excess

    def clear(self) -> None:
        """Forget everything (between tests)."""
        self._hour, self._stamp, self._seen, self._pending, self.dropped = None, "", set(), [], 0

    def __len__(self) -> int:
        return len(self._pending)


accesses = Coalescer()
