from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.accounts.principal import PrincipalDep
from app.core.db import SessionDep
from app.core.errors import LIST, READ, problem_responses
from app.core.http import json_response
from app.events import service
from app.events.schemas import TYPES_PATTERN, EventPage, EventPublic

router = APIRouter(prefix="/events", tags=["events"])


@router.get("", response_model=EventPage, responses=problem_responses(*LIST))
async def list_events(
    session: SessionDep,
    principal: PrincipalDep,
    after: Annotated[str | None, Query(
        # declared, and checked by the feed (app.events.service.decode_cursor), which also reads the earlier form
        json_schema_extra={"pattern": service.CURSOR_PATTERN, "maxLength": 37},
        description="A cursor from `next_cursor` or an event's `cursor`: a position in the feed, read on from. "
                    "Cursors of the earlier, base64 form (handed out before cursors were positions) are still "
                    "read; absent: from the oldest event kept.")] = None,
    types: Annotated[str | None, Query(
        max_length=1000, json_schema_extra={"pattern": TYPES_PATTERN},  # checked as declared by the feed
        description="Comma-separated event types; `noun.*` for all of a noun's, e.g. `milestone.*`; empty or "
                    "absent: every type.")] = None,
    candidate_id: Annotated[uuid.UUID | None, Query(description="One candidate's events only.")] = None,
    organization_id: Annotated[uuid.UUID | None, Query(description="Admins: one organization only.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Events per page (max 1000).")] = 100,
) -> Response:
    """The change feed: your organization's events in commit order, for systems that pull (kept at least
    30 days). Poll with `after` = the last `next_cursor`; no event is skipped or repeated. A candidate sees the
    events of their own record."""
    page = await service.list_events(session, principal, after=after, types=types, candidate_id=candidate_id,
                                     organization_id=organization_id, limit=limit)
    return json_response(EventPage.model_validate(page))


@router.get("/{event_id}", response_model=EventPublic, responses=problem_responses(*READ))
async def get_event(session: SessionDep, principal: PrincipalDep, event_id: uuid.UUID) -> Response:
    """One event of the change feed you can see (your organization's, or any for admins)."""
    return json_response(EventPublic.model_validate(await service.get_event(session, principal, event_id)))
