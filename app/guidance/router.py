"""Thin endpoints over the pathway engines: calendars, next step, readiness, screening, timeline, cohort."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from app.accounts.principal import STAFF, PrincipalDep
from app.candidates.deps import CandidateDep
from app.core.db import SessionDep
from app.core.errors import NotFound, problem_responses
from app.core.http import json_response
from app.core.pagination import Page, PageDep, page_response
from app.core.types import SaneDate
from app.guidance import service
from app.guidance.cohort import CohortEntryPublic, cohort_page
from app.pathway.schemas import (
    MatchCycleList,
    MatchCyclePublic,
    NextStepPublic,
    ReadinessPublic,
    ReadinessStatus,
    ScreeningPublic,
    TimelinePublic,
    WhatIfParams,
)
from app.programs.deps import ProgramListDep

cycles_router = APIRouter(prefix="/match-cycles", tags=["match-cycles"])
candidate_router = APIRouter(prefix="/candidates/{candidate_id}", tags=["pathway"])
cohort_router = APIRouter(prefix="/organizations/{organization_id}", tags=["pathway"])

AsOf = Annotated[SaneDate | None, Query(description="Compute as of this date (default: today, UTC). Same data "
                                                    "and as_of give the same answer.")]
Cycle = Annotated[int | None, Query(ge=2000, le=2100, description="Match year (default: the candidate's target).")]
COMPUTED = problem_responses(401, 404, 422, 503)


def _disposition(when: str) -> dict[str, Any]:
    return {"Content-Disposition": {"description": f"{when}: the file name to save it as.",
                                    "schema": {"type": "string"}}}
CALENDAR = "text/calendar"


@cycles_router.get("", response_model=MatchCycleList, responses=problem_responses(401, 422, 503))
async def list_match_cycles(_: PrincipalDep, page: PageDep) -> Response:
    """The supported Match cycles with their calendars; each date says whether it is published or estimated."""
    return json_response(MatchCycleList.from_rulebook(service.rulebook(), limit=page.limit, offset=page.offset))


@cycles_router.get("/{year}", response_model=MatchCyclePublic, responses=problem_responses(401, 404, 422, 503))
async def get_match_cycle(_: PrincipalDep, year: Annotated[int, Path(ge=1, le=9999)]) -> Response:
    """The rule set of one Match cycle: its dates, each with its source and whether it is an estimate, and
    the pathways available. 404 for a year without a rule set; the answer says which years have one."""
    book = service.rulebook()
    if not book.has(year):
        lo, hi = book.supported_range
        raise NotFound(f"No rule set for the {year} Match; supported cycles are {lo}-{hi}.")
    return json_response(MatchCyclePublic.from_rules(book.cycle(year)))


@candidate_router.get("/next-step", response_model=NextStepPublic, responses=COMPUTED)
async def get_next_step(cand: CandidateDep, as_of: AsOf = None, cycle: Cycle = None) -> Response:
    """The one step to work on now, why, and by when; what else is open, what waits, and the hard blockers."""
    return _json(await service.next_step_json(cand, as_of=as_of, cycle=cycle))


@candidate_router.get("/readiness", response_model=ReadinessPublic, responses=COMPUTED)
async def get_readiness(
    cand: CandidateDep,
    as_of: AsOf = None,
    cycle: Cycle = None,
    what_if_usce_weeks: Annotated[int, Query(ge=0, le=104, description="What if: extra hands-on USCE weeks.")] = 0,
    what_if_step2ck: Annotated[int | None, Query(ge=1, le=300, description="What if: a Step 2 CK pass "
                                                                          "with this score.")] = None,
    what_if_programs: Annotated[int, Query(ge=0, le=300, description="What if: more programs on the list.")] = 0,
    what_if_us_letters: Annotated[int, Query(ge=0, le=10, description="What if: more US letters.")] = 0,
) -> Response:
    """Projected Match readiness: an explained checklist score with gates, factors and the published base rate.
    It is a projection, never a promise. `what_if_*` parameters show the effect of hypothetical changes."""
    what_if = WhatIfParams(extra_usce_weeks_hands_on=what_if_usce_weeks, step2ck_score=what_if_step2ck,
                           extra_programs=what_if_programs, extra_us_letters=what_if_us_letters).to_what_if()
    return _json(await service.readiness_json(cand, as_of=as_of, cycle=cycle, what_if=what_if))


@candidate_router.get("/program-lists/{list_id}/screening", response_model=ScreeningPublic, responses=COMPUTED)
async def get_screening(cand: CandidateDep, plist: ProgramListDep, as_of: AsOf = None,
                        cycle: Cycle = None) -> Response:
    """Which programs on the list screen the candidate out, and why: eligible, excluded or unknown per entry."""
    return _json(await service.screening_json(cand, plist, as_of=as_of, cycle=cycle))


@candidate_router.get(
    "/timeline",
    response_model=TimelinePublic,
    responses={200: {"content": {CALENDAR: {"schema": {"type": "string"}}},
                     "description": "JSON, or an iCalendar feed with `Accept: text/calendar`.",
                     "headers": _disposition("iCalendar only")}, **COMPUTED},
)
async def get_timeline(request: Request, cand: CandidateDep, as_of: AsOf = None,
                       cycle: Cycle = None) -> Response:
    """Every remaining step with its latest safe date, computed backwards from the cycle's deadlines."""
    if CALENDAR in request.headers.get("accept", ""):
        return _ics(*await service.timeline_ics(cand, as_of=as_of, cycle=cycle))
    return _json(await service.timeline_json(cand, as_of=as_of, cycle=cycle))


@candidate_router.get(
    "/timeline.ics",
    response_class=Response,
    responses={200: {"content": {CALENDAR: {"schema": {"type": "string"}}}, "description": "iCalendar feed.",
                     "headers": _disposition("The feed")}, **COMPUTED},
)
async def get_timeline_ics(cand: CandidateDep, as_of: AsOf = None,
                           cycle: Cycle = None) -> Response:
    """The timeline as an iCalendar feed for calendar apps."""
    return _ics(*await service.timeline_ics(cand, as_of=as_of, cycle=cycle))


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def _ics(body: bytes, cycle: int) -> Response:
    return Response(body, media_type=CALENDAR,
                    headers={"Content-Disposition": f'inline; filename="matchready-{cycle}.ics"'})


CohortSort = Literal["full_name", "-full_name", "score", "-score", "due", "-due"]


_CSV_COLUMNS = list(CohortEntryPublic.model_fields)


def _wants_csv(request: Request) -> bool:
    """`Accept: text/csv` (before any JSON type, if both are named) asks for the spreadsheet form."""
    accept = request.headers.get("accept", "").lower()
    csv_at, json_at = accept.find("text/csv"), accept.find("application/json")
    return csv_at >= 0 and (json_at < 0 or csv_at < json_at)


def _csv(rows: list[Any]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_CSV_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(CohortEntryPublic.model_validate(row).model_dump(mode="json"))
    return out.getvalue().encode("utf-8")


@cohort_router.get("/readiness", response_model=Page[CohortEntryPublic],
                   responses={200: {"description": "The page of the cohort; with `Accept: text/csv`, the same rows "
                                                   "as CSV (RFC 4180, a header row, one candidate a line; the "
                                                   "`X-Total-Count` header gives the total to page through).",
                                    "content": {"text/csv": {"schema": {"type": "string"}}},
                                    "headers": {"X-Total-Count": {"description": "CSV only: candidates in all.",
                                                                  "schema": {"type": "integer"}},
                                                "Vary": {"description": "`Accept`.",
                                                         "schema": {"type": "string"}},
                                                **_disposition("CSV only")}},
                              **problem_responses(401, 403, 404, 422, 503)}, dependencies=[STAFF])
async def get_cohort_readiness(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    organization_id: uuid.UUID,
    page: PageDep,
    as_of: AsOf = None,
    cycle: Cycle = None,
    status: Annotated[ReadinessStatus | None, Query()] = None,
    sort: Annotated[CohortSort, Query(description="`due`: next step's due date.")] = "full_name",
) -> Response:
    """The advisor's cohort view: every candidate of the organization with status, score, next step and the most
    urgent blocker. Without `cycle`, each candidate is computed for their own target Match year. Send
    `Accept: text/csv` for the page as a spreadsheet."""
    rows, total = await cohort_page(session, principal, organization_id, page=page, as_of=as_of,
                                    cycle=cycle, status=status, sort=sort)
    if _wants_csv(request):
        return Response(_csv(rows), media_type="text/csv; charset=utf-8", headers={
            "X-Total-Count": str(total), "Vary": "Accept",
            "Content-Disposition": f'attachment; filename="cohort-{organization_id}.csv"'})
    resp = page_response(CohortEntryPublic, rows, total, page)
    resp.headers["Vary"] = "Accept"
    return resp
