"""Calendar subscriptions: create (the token is returned once and stored as its SHA-256 hash), list, revoke, and
the feed itself, found by the token's hash. Each write use case commits once, at its end."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.calendars.models import CalendarSubscription
from app.calendars.schemas import CalendarSubscriptionCreate
from app.candidates.models import Candidate, CandidateRecord
from app.core.changes import Subject, register_subject
from app.core.crud import delete_versioned, fetch_page
from app.core.errors import AppError, NotFound
from app.core.models import table_of
from app.core.pagination import PageParams
from app.core.reads import TypedRead, read
from app.guidance import service as pathway

# What a problem answer on the feed names as its `instance`: never the path itself, which holds the token.
FEED_PATH = "/v1/calendar/{token}.ics"

# A read-only credential, not part of the candidate's record: not in the change feed, but audited (who gave out or
# revoked access to a candidate's timeline is a disclosure record).
register_subject(Subject(table="calendar_subscription", type="calendar_subscription", emits=False,
                         render=lambda s: {"id": str(s.id)}, candidate_of=lambda _c, s: s.candidate_id))
_T = table_of(CalendarSubscription)
_C = table_of(Candidate)
_BY_TOKEN = TypedRead(select(*_C.c).select_from(_C.join(_T, _T.c.candidate_id == _C.c.id))
                      .where(_T.c.token_hash == bindparam("h")))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def feed_path(token: str) -> str:
    return FEED_PATH.format(token=token)


async def create_subscription(session: AsyncSession, cand: CandidateRecord, data: CalendarSubscriptionCreate
                              ) -> tuple[CalendarSubscription, str]:
    token = secrets.token_urlsafe(32)
    sub = CalendarSubscription(candidate_id=cand.id, name=data.name, token_hash=hash_token(token))
    session.add(sub)
    await session.commit()
    return sub, token


async def list_subscriptions(session: AsyncSession, cand: CandidateRecord, page: PageParams
                             ) -> tuple[list[CalendarSubscription], int]:
    return await fetch_page(session, CalendarSubscription, [col(CalendarSubscription.candidate_id) == cand.id],
                            [CalendarSubscription.created_at, CalendarSubscription.id], page)


async def get_subscription(session: AsyncSession, cand: CandidateRecord, subscription_id: uuid.UUID
                           ) -> CalendarSubscription:
    sub = await session.get(CalendarSubscription, subscription_id)
    if sub is None or sub.candidate_id != cand.id:
        raise NotFound("Calendar subscription not found.")
    return sub


async def revoke_subscription(session: AsyncSession, sub: CalendarSubscription, if_match: str | None) -> None:
    """The token stops working at once: the row, and with it the token's hash, is gone."""
    await delete_versioned(session, sub, if_match)
    await session.commit()


async def feed(token: str) -> tuple[bytes, int]:
    """The subscribed candidate's timeline as iCalendar (as `/timeline.ics` answers it) and its cycle; 404 for a
    revoked or unknown token. A problem answer names the route, not the path with the token, as its instance."""
    try:
        rows = (await read((_BY_TOKEN, {"h": hash_token(token)})))[0] if len(token) <= 128 else []
        if not rows:
            raise NotFound("No such calendar feed; it may have been revoked.")
        return await pathway.timeline_ics(rows[0], as_of=None, cycle=None)
    except AppError as exc:
        exc.instance = FEED_PATH
        raise
