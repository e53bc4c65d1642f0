"""Calendar subscriptions of a candidate's timeline, and the public feed they point at."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request, Response

from app.calendars import service
from app.calendars.schemas import CalendarSubscriptionCreate, CalendarSubscriptionCreated, CalendarSubscriptionPublic
from app.candidates.deps import CandidateDep
from app.core.db import SessionDep
from app.core.errors import DELETE, LIST, READ, WRITE_BODY, problem_responses
from app.core.http import (
    IdempotencyKeyShownOnceHeader,
    IfMatchHeader,
    json_response,
    shown_once,
    shown_once_replay_headers,
)
from app.core.pagination import Page, PageDep, page_response
from app.core.throttle import address_budget

router = APIRouter(prefix="/candidates/{candidate_id}/calendar-subscriptions", tags=["calendar-subscriptions"])
feed_router = APIRouter(prefix="/calendar", tags=["calendar"])
CALENDAR = "text/calendar"


def _location(sub: CalendarSubscriptionPublic) -> str:
    return f"/v1/candidates/{sub.candidate_id}/calendar-subscriptions/{sub.id}"


@router.post("", status_code=201, response_model=CalendarSubscriptionCreated,
             responses={201: {"description": "Created; the `url` is in this response only.",
                              "headers": shown_once_replay_headers("url")}, **problem_responses(*WRITE_BODY)})
@shown_once("url")
async def create_calendar_subscription(request: Request, session: SessionDep, cand: CandidateDep,
                                       body: CalendarSubscriptionCreate,
                                       idempotency_key: IdempotencyKeyShownOnceHeader = None) -> Response:
    """A read-only address of the candidate's timeline for calendar apps (which cannot send credentials). The
    `url` is in this response only: a retry with the same `Idempotency-Key` replays it with `url` null
    (`Secret-Withheld: url`) and makes no second subscription. Revoke the subscription to stop it."""
    sub, token = await service.create_subscription(session, cand, body)
    public = CalendarSubscriptionPublic.model_validate(sub)
    url = str(request.base_url).rstrip("/") + service.feed_path(token)
    resp = json_response(CalendarSubscriptionCreated(**public.model_dump(), url=url), status_code=201,
                         etag_version=sub.version, location=_location(public))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("", response_model=Page[CalendarSubscriptionPublic], responses=problem_responses(*LIST, 404))
async def list_calendar_subscriptions(session: SessionDep, cand: CandidateDep, page: PageDep) -> Response:
    """The candidate's subscriptions (without their addresses), oldest first."""
    items, total = await service.list_subscriptions(session, cand, page)
    return page_response(CalendarSubscriptionPublic, items, total, page)


@router.get("/{subscription_id}", response_model=CalendarSubscriptionPublic, responses=problem_responses(*READ))
async def get_calendar_subscription(session: SessionDep, cand: CandidateDep, subscription_id: uuid.UUID) -> Response:
    """One of the candidate's calendar subscriptions (its feed URL is shown only when it is created)."""
    sub = await service.get_subscription(session, cand, subscription_id)
    return json_response(CalendarSubscriptionPublic.model_validate(sub), etag_version=sub.version)


@router.delete("/{subscription_id}", status_code=204, responses=problem_responses(*DELETE))
async def revoke_calendar_subscription(session: SessionDep, cand: CandidateDep, subscription_id: uuid.UUID,
                                       if_match: IfMatchHeader = None) -> Response:
    """Revoke the subscription: its address stops working at once."""
    sub = await service.get_subscription(session, cand, subscription_id)
    await service.revoke_subscription(session, sub, if_match)
    return Response(status_code=204)


@feed_router.get(
    "/{token}.ics",
    response_class=Response,
    openapi_extra={"security": []},
    dependencies=[Depends(address_budget)],  # no credentials: the client address's request budget
    responses={200: {"content": {CALENDAR: {"schema": {"type": "string"}}}, "description": "iCalendar feed.",
                     "headers": {"ETag": {"schema": {"type": "string"}},
                                 "Content-Disposition": {"description": "The file name to save the feed as.",
                                                         "schema": {"type": "string"}}}},
               304: {"description": "Not modified since the `ETag` in `If-None-Match`."},
               **problem_responses(404, 503)},
)
async def get_calendar_feed(
    token: Annotated[str, Path(description="The token of a calendar subscription's address.")],
    # unbounded on purpose: a 422 here would echo the path, token and all (an over-long value just never matches)
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    """A candidate's timeline as iCalendar, for calendar apps: no credentials, the address is the key. The same
    feed as `/v1/candidates/{candidate_id}/timeline.ics`; 404 once the subscription is revoked."""
    body, cycle = await service.feed(token)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=300"}
    if if_none_match is not None and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = f'inline; filename="matchready-{cycle}.ics"'
    return Response(body, media_type=CALENDAR, headers=headers)
