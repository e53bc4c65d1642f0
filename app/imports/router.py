"""Bulk import (`/v1/imports`) and the organization's export, which an import takes back."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from app.accounts.deps import OrganizationDep
from app.accounts.principal import ORGANIZATION_WRITERS, STAFF, PrincipalDep
from app.core.db import SessionDep
from app.core.errors import LIST, READ, WRITE_BODY, problem_responses
from app.core.http import JSON, NDJSON, IdempotencyKeyHeader, accepts, json_response, none_match
from app.core.pagination import Page, PageDep, page_json_response
from app.imports import export, service
from app.imports.schemas import ImportCandidate, ImportItemPublic, ImportPublic, ImportRequest, ItemStatus

router = APIRouter(prefix="/imports", tags=["imports"])
export_router = APIRouter(prefix="/organizations/{organization_id}", tags=["imports"])

_LOCATION = {"Location": {"description": "The import's URL: poll it for progress.", "schema": {"type": "string"}}}
_BODY = {
    "required": True,
    "description": "The candidates, as a JSON object `{\"candidates\": [...]}` or as NDJSON, one candidate a line. "
                   "At most `IMPORT_MAX_ITEMS` candidates (10,000 by default) and `MAX_IMPORT_BODY_BYTES` "
                   "(50 MiB by default); over either, 413 names the limit.",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/ImportRequest"}},
        "application/x-ndjson": {"schema": {"type": "string", "description": "One `ImportCandidate` JSON object a "
                                            "line; a line that is not one is a rejected item."}},
    },
}


async def _job(session: SessionDep, principal: PrincipalDep, import_id: uuid.UUID) -> Any:
    return await service.get_import(session, principal, import_id)


@router.post("", status_code=202, response_model=ImportPublic,
             responses={202: {"description": "Accepted: the worker applies the items; poll `Location`.",
                              "headers": _LOCATION},
                        **problem_responses(*WRITE_BODY)},
             openapi_extra={"requestBody": _BODY}, dependencies=[ORGANIZATION_WRITERS])
@accepts(JSON, NDJSON, limit_setting="max_import_body_bytes")
async def create_import(request: Request, session: SessionDep, principal: PrincipalDep,
                        dry_run: Annotated[bool, Query(description="Validate and try each item, then roll it "
                                                                   "back: nothing changes, and the counts say "
                                                                   "what a real run would do.")] = False,
                        idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Create or update many candidates at once, each with its milestones, USCE records and program lists, all
    keyed by your system's ids, so running the same import twice changes nothing the second time (every item
    comes back `unchanged`). Each candidate is applied as a whole or not at all; a rejected item (its problem
    is in the item list, with field errors) stops no other. Items are checked as they arrive, so a malformed
    item is rejected at once; the rest are applied by the worker. For an organization's API keys and advisors."""
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    job = await service.create_import(session, principal, await request.body(), ctype, dry_run)
    counts = (await service.counts_of(session, [job.id]))[job.id]
    return json_response(service.public(job, counts), status_code=202, location=f"/v1/imports/{job.id}")


@router.get("", response_model=Page[ImportPublic], responses=problem_responses(*LIST),
            dependencies=[ORGANIZATION_WRITERS])
async def list_imports(session: SessionDep, principal: PrincipalDep, page: PageDep) -> Response:
    """Your organization's imports, newest first."""
    jobs, total = await service.list_imports(session, principal, page)
    counts = await service.counts_of(session, [j.id for j in jobs]) if jobs else {}
    items = b"[" + b",".join(service.public(j, counts[j.id]).model_dump_json().encode() for j in jobs) + b"]"
    return page_json_response(items, total, page)


@router.get("/{import_id}", response_model=ImportPublic, responses=problem_responses(*READ))
async def get_import(session: SessionDep, principal: PrincipalDep, import_id: uuid.UUID) -> Response:
    """An import's status, progress and counts (created, updated, unchanged, rejected, pending)."""
    job = await _job(session, principal, import_id)
    counts = (await service.counts_of(session, [job.id]))[job.id]
    return json_response(service.public(job, counts))


@router.get("/{import_id}/items", response_model=Page[ImportItemPublic], responses=problem_responses(*READ))
async def list_import_items(session: SessionDep, principal: PrincipalDep, import_id: uuid.UUID, page: PageDep,
                            status: Annotated[ItemStatus | None, Query(description="Only items with this "
                                                                                   "result.")] = None) -> Response:
    """The result of each item, in the import's order; `?status=rejected` lists the problems to fix."""
    job = await _job(session, principal, import_id)
    rows, total = await service.list_items(session, job, page, status)
    items = b"[" + b",".join(ImportItemPublic.of(r).model_dump_json().encode() for r in rows) + b"]"
    return page_json_response(items, total, page)


@export_router.get(
    "/export", response_class=StreamingResponse,
    responses={200: {"description": "One `ImportCandidate` a line, ordered by external id.",
                     "content": {"application/x-ndjson": {"schema": {"$ref": "#/components/schemas/ImportCandidate"}}},
                     "headers": {"ETag": {"description": "Changes whenever the organization's records change.",
                                          "schema": {"type": "string"}}}},
               304: {"description": "Not modified since the `If-None-Match` ETag."},
               **problem_responses(*READ, 403)}, dependencies=[STAFF])
async def export_organization(request: Request, session: SessionDep, org: OrganizationDep) -> Response:
    """The organization's records as NDJSON, in the shape `POST /v1/imports` takes: one candidate a line with
    its milestones, USCE records and program lists, so an export imported again yields the same state.
    Streamed, so any size of organization fits. Rows without an external id are exported with
    `"external_id": null`; an import refuses those, so give them one (PATCH) before moving records by export.
    Program list entries are not part of an import, nor of the export."""
    etag = await export.etag(session, org.id)
    inm = request.headers.get("if-none-match")
    if inm is not None and none_match(inm, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return StreamingResponse(export.lines(org.id), media_type=service.NDJSON, headers={"ETag": etag})


SCHEMAS = (ImportRequest, ImportCandidate)  # the request body is read raw (two media types), documented by these
