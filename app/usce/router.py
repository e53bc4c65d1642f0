from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.candidates.deps import CandidateDep
from app.core.db import SessionDep
from app.core.errors import DELETE, LIST, READ, UPDATE, WRITE_BODY, problem_responses
from app.core.http import (
    ExternalIdPath,
    IdempotencyKeyHeader,
    IfMatchHeader,
    json_response,
    upsert_responses,
    upserted,
)
from app.core.pagination import Page, PageDep, page_response
from app.usce import service
from app.usce.models import UsceRecord
from app.usce.schemas import UsceCreate, UsceKind, UscePublic, UsceSort, UsceUpdate, UsceUpsert

router = APIRouter(prefix="/candidates/{candidate_id}/usce-records", tags=["usce"])


def _one(rec: UsceRecord, status_code: int = 200, location: bool = False) -> Response:
    return json_response(UscePublic.model_validate(rec), status_code=status_code, etag_version=rec.version,
                         location=f"/v1/candidates/{rec.candidate_id}/usce-records/{rec.id}" if location else None)


@router.get("", response_model=Page[UscePublic], responses=problem_responses(*LIST, 404))
async def list_usce_records(
    session: SessionDep, cand: CandidateDep, page: PageDep,
    kind: Annotated[UsceKind | None, Query()] = None,
    hands_on: Annotated[bool | None, Query()] = None,
    sort: Annotated[UsceSort, Query()] = "start_on",
) -> Response:
    """US clinical experience records, by start date unless sorted otherwise."""
    items, total = await service.list_records(session, cand, page, kind=kind, hands_on=hands_on, sort=sort)
    return page_response(UscePublic, items, total, page)


@router.post("", status_code=201, response_model=UscePublic, responses=problem_responses(*WRITE_BODY))
async def create_usce_record(session: SessionDep, cand: CandidateDep, body: UsceCreate,
                             idempotency_key: IdempotencyKeyHeader = None) -> Response:
    """Record a period of US clinical experience (USCE): an elective, sub-internship, externship or
    observership (`kind`), where and when, and whether a US letter came from it. Readiness and screening count it."""
    return _one(await service.create_record(session, cand, body), 201, location=True)


@router.put("/by-external-id/{external_id}", response_model=UscePublic, responses=upsert_responses(UscePublic))
async def upsert_usce_record_by_external_id(session: SessionDep, cand: CandidateDep, external_id: ExternalIdPath,
                                            body: UsceUpsert, if_match: IfMatchHeader = None) -> Response:
    """Idempotent upsert for your system: the same body twice is one record, the second answer `unchanged`
    (header `Upsert-Result`). A full replacement."""
    rec, outcome = await service.upsert_record(session, cand, external_id, body, if_match)
    return upserted(_one(rec), outcome, f"/v1/candidates/{rec.candidate_id}/usce-records/{rec.id}")


@router.get("/by-external-id/{external_id}", response_model=UscePublic, responses=problem_responses(*READ))
async def get_usce_record_by_external_id(session: SessionDep, cand: CandidateDep, external_id: ExternalIdPath
                                         ) -> Response:
    """The USCE record your system knows as `external_id` (see the `PUT` of the same path)."""
    return _one(await service.get_record_by_external_id(session, cand, external_id))


@router.get("/{usce_record_id}", response_model=UscePublic, responses=problem_responses(*READ))
async def get_usce_record(session: SessionDep, cand: CandidateDep, usce_record_id: uuid.UUID) -> Response:
    """One USCE record, with its `ETag`."""
    return _one(await service.get_record(session, cand, usce_record_id))


@router.patch("/{usce_record_id}", response_model=UscePublic, responses=problem_responses(*UPDATE))
async def update_usce_record(session: SessionDep, cand: CandidateDep, usce_record_id: uuid.UUID,
                             body: UsceUpdate, if_match: IfMatchHeader = None) -> Response:
    """Change some of a USCE record's fields. Send the `ETag` you read as `If-Match`: 412 when the record
    changed since, 428 without it. One date sent that does not go with the other date as stored is a 409
    `date_order`; both dates sent out of order, a 422."""
    rec = await service.get_record(session, cand, usce_record_id)
    return _one(await service.update_record(session, rec, body, if_match))


@router.delete("/{usce_record_id}", status_code=204, responses=problem_responses(*DELETE))
async def delete_usce_record(session: SessionDep, cand: CandidateDep, usce_record_id: uuid.UUID,
                             if_match: IfMatchHeader = None) -> Response:
    """Delete a USCE record (`If-Match` required, as for updates)."""
    rec = await service.get_record(session, cand, usce_record_id)
    await service.delete_record(session, rec, if_match)
    return Response(status_code=204)
