"""Imports: accepted by the API (parsed and validated item by item, stored), applied by the worker.

Each item is applied in a transaction of its own that also records its result, so a candidate's rows are all
written or none, a rejected item stops no other, and after a crash the items still `pending` are exactly those
not applied. The worker claims an item by moving it out of `pending` inside that transaction (on PostgreSQL
after `FOR UPDATE SKIP LOCKED`, so two workers share an import without waiting on each other): no item is
applied twice. A dry run applies each item the same way and rolls it back, so its counts are what a real run
would do, database checks included.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.candidates.models import Candidate
from app.candidates.schemas import CandidateUpsert
from app.candidates.service import CONFLICTS as CANDIDATE_CONFLICTS
from app.candidates.service import apply_by_external_id, candidate_row
from app.core.config import get_settings
from app.core.crud import conflict_from, flush_or_conflict, rows_changed
from app.core.db import db, utcnow
from app.core.errors import (
    AppError,
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ValidationFailed,
    field_error,
)
from app.core.models import table_of
from app.core.pagination import PageParams
from app.core.security import Actor, Principal, Role, current_actor
from app.events.models import Event
from app.imports.models import ImportItem, ImportJob
from app.imports.schemas import ImportCandidate, ImportCounts, ImportPublic
from app.milestones.models import Milestone
from app.milestones.service import CONFLICTS as MILESTONE_CONFLICTS
from app.milestones.service import milestone_row, upsert_milestone
from app.programs.models import ProgramList
from app.programs.service import LIST_CONFLICTS, list_row, upsert_list
from app.usce.models import UsceRecord
from app.usce.service import CONFLICTS as USCE_CONFLICTS
from app.usce.service import record_row, upsert_record

NDJSON = "application/x-ndjson"
# One flush writes the whole item; a unique violation then names the candidate's constraint where it can.
_CONFLICTS = {**MILESTONE_CONFLICTS, **USCE_CONFLICTS, **LIST_CONFLICTS, **CANDIDATE_CONFLICTS}
_CANDIDATE_FIELDS = set(CandidateUpsert.model_fields)
GROUP = 100  # items applied in one transaction (one by one when any of them is refused)
_ITEMS = table_of(ImportItem)
_JOBS = table_of(ImportJob)
_EVENTS = table_of(Event)
_CANDIDATES = table_of(Candidate)



# ---- accepting ------------------------------------------------------------------------------------------------

def _problem(exc: AppError, prefix: str = "") -> dict[str, Any]:
    pt = exc.problem_type
    errors = [{**e, "field": prefix + e["field"].removeprefix("body.")} for e in exc.errors or []]
    out: dict[str, Any] = {"type": pt.uri, "title": pt.title, "status": pt.status, "detail": exc.detail}
    if exc.code:
        out["code"] = exc.code
    if errors:
        out["errors"] = errors
    return out


def _invalid(exc: ValidationError) -> dict[str, Any]:
    errors = [field_error(".".join(str(p) for p in err["loc"]) or "item", err["msg"], err["type"])
              for err in exc.errors(include_url=False)]
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return _problem(ValidationFailed(f"Invalid item: {fields}.", errors=errors))


def _raw_items(body: bytes, content_type: str) -> tuple[int, Iterator[Any]]:
    """How many items the body has, and the items before validation, one at a time (a large import is never
    held parsed all at once): a JSON object's `candidates`, or one NDJSON line each (a line that is not JSON
    comes as bytes, to be rejected as an item of its own)."""
    if content_type == NDJSON:
        lines = [line for line in body.split(b"\n") if line.strip()]
        if not lines:
            raise ValidationFailed("The import has no candidates.", errors=[
                field_error("body", "send one candidate a line", "empty")])

        lines.reverse()  # handed out from the end (O(1) each), each line dropped once parsed

        def parsed() -> Iterator[Any]:
            while lines:
                line = lines.pop()
                try:
                    yield json.loads(line)
                except ValueError:
                    yield line
        return len(lines), parsed()
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise BadRequest("The body is not valid JSON.") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("candidates"), list):
        raise ValidationFailed("Send {\"candidates\": [...]}.", errors=[
            field_error("body.candidates", "a list of candidates is required", "missing")])
    extra = sorted(set(doc) - {"candidates"})
    if extra:
        raise ValidationFailed(f"Unknown fields: {', '.join(extra)}.", errors=[
            field_error(f"body.{k}", "unknown field", "extra_forbidden") for k in extra])
    items: list[Any] = doc.pop("candidates")
    if not items:
        raise ValidationFailed("The import has no candidates.", errors=[
            field_error("body.candidates", "at least one candidate", "too_short")])
    items.reverse()  # as for lines

    def taken() -> Iterator[Any]:
        while items:
            yield items.pop()
    return len(items), taken()


def _check_role(principal: Principal) -> uuid.UUID:
    """The caller's organization; the routes take an organization's advisors and systems only."""
    if principal.organization_id is None:
        raise Forbidden("Imports are for an organization's systems (API keys) and advisors.")
    return principal.organization_id


async def create_import(session: AsyncSession, principal: Principal, body: bytes, content_type: str,
                        dry_run: bool) -> ImportJob:
    """Check the envelope and each item, and store them in chunks: the parsed import is never held whole."""
    org_id = _check_role(principal)
    total, raw = _raw_items(body, content_type)
    limit = get_settings().import_max_items
    if total > limit:
        raise PayloadTooLarge(f"An import takes at most {limit} candidates; this one has {total}. "
                              "Split it into several imports.", code="too_many_items")
    actor = current_actor.get()
    job = ImportJob(organization_id=org_id, dry_run=dry_run, total=total,
                    actor_type="api_key" if principal.api_key_id else "user",
                    actor_id=principal.api_key_id or principal.user_id, actor_role=principal.role.value,
                    request_id=actor.request_id if actor else None)
    session.add(job)
    await session.flush()
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for position, item in enumerate(raw):
        row: dict[str, Any] = {"import_id": job.id, "position": position, "external_id": None, "status": "pending",
                               "candidate_id": None, "payload": None, "problem": None}
        ext = item.get("external_id") if isinstance(item, dict) else None
        if isinstance(ext, str) and len(ext) <= 100:
            row["external_id"] = ext
        if isinstance(item, bytes):
            row["status"], row["problem"] = "rejected", _problem(ValidationFailed(
                "This line is not a JSON object.", errors=[field_error("item", "not valid JSON", "json_invalid")]))
        else:
            try:
                parsed = ImportCandidate.model_validate(item)
            except ValidationError as exc:
                row["status"], row["problem"] = "rejected", _invalid(exc)
            else:
                if parsed.external_id in seen:
                    row["status"], row["problem"] = "rejected", _problem(ValidationFailed(
                        "An earlier item of this import has the same external_id.", code="duplicate_external_id",
                        errors=[field_error("external_id", "repeated in this import", "duplicate")]))
                else:
                    seen.add(parsed.external_id)
                    row["payload"] = item  # as sent (it validates; the worker validates it again)
        rows.append(row)
        if len(rows) == 500:
            await session.execute(insert(_ITEMS), rows)
            rows = []
    if rows:
        await session.execute(insert(_ITEMS), rows)
    await session.commit()
    return job


# ---- reading --------------------------------------------------------------------------------------------------

async def get_import(session: AsyncSession, principal: Principal, import_id: uuid.UUID) -> ImportJob:
    job = await session.get(ImportJob, import_id)
    if job is None or principal.role is Role.candidate or not principal.can_see_org(job.organization_id):
        raise NotFound("Import not found.")
    return job


async def counts_of(session: AsyncSession, job_ids: list[uuid.UUID]) -> dict[uuid.UUID, Counter[str]]:
    rows = (await session.execute(select(_ITEMS.c.import_id, _ITEMS.c.status, func.count())
                                  .where(_ITEMS.c.import_id.in_(job_ids))
                                  .group_by(_ITEMS.c.import_id, _ITEMS.c.status))).all()
    out: dict[uuid.UUID, Counter[str]] = {j: Counter() for j in job_ids}
    for import_id, status, n in rows:
        out[import_id][status] += n
    return out


def public(job: ImportJob, counts: Counter[str]) -> ImportPublic:
    pending = counts["pending"] + counts["applying"]
    return ImportPublic(
        id=job.id, organization_id=job.organization_id, status=job.status, dry_run=job.dry_run,
        total=job.total, processed=job.total - pending,
        counts=ImportCounts(created=counts["created"], updated=counts["updated"], unchanged=counts["unchanged"],
                            rejected=counts["rejected"], pending=pending),
        created_at=job.created_at, started_at=job.started_at, finished_at=job.finished_at,
        items_url=f"/v1/imports/{job.id}/items")


async def list_imports(session: AsyncSession, principal: Principal, page: PageParams
                       ) -> tuple[list[ImportJob], int]:
    org_id = _check_role(principal)
    where = _JOBS.c.organization_id == org_id
    total = (await session.execute(select(func.count()).select_from(_JOBS).where(where))).scalar_one()
    jobs = (await session.execute(select(ImportJob).where(col(ImportJob.organization_id) == org_id)
                                  .order_by(col(ImportJob.created_at).desc(), col(ImportJob.id))
                                  .limit(page.limit).offset(page.offset))).scalars().all()
    return list(jobs), int(total)


async def list_items(session: AsyncSession, job: ImportJob, page: PageParams, status: str | None
                     ) -> tuple[list[Any], int]:
    where = [_ITEMS.c.import_id == job.id]
    if status is not None:
        where.append(_ITEMS.c.status == status)
    total = (await session.execute(select(func.count()).select_from(_ITEMS).where(*where))).scalar_one()
    rows = (await session.execute(select(_ITEMS.c.position, _ITEMS.c.external_id, _ITEMS.c.status,
                                         _ITEMS.c.candidate_id, _ITEMS.c.problem).where(*where)
                                  .order_by(_ITEMS.c.position).limit(page.limit).offset(page.offset))).all()
    return list(rows), int(total)


# ---- applying (the worker) ------------------------------------------------------------------------------------

@contextmanager
def _child(name: str, i: int) -> Iterator[None]:
    """A refusal of an item's `name[i]` names its fields as the item's."""
    try:
        yield
    except AppError as exc:
        exc.errors = [{**e, "field": f"{name}.{i}." + e["field"].removeprefix("body.")}
                      for e in exc.errors or []] or [field_error(f"{name}.{i}", exc.detail or "",
                                                                 exc.code or "refused")]
        raise


async def _apply(session: AsyncSession, org_id: uuid.UUID, item: ImportCandidate, *, flush: bool = True
                 ) -> tuple[str, uuid.UUID]:
    """Write one candidate and its rows into the session's transaction; the item's outcome.

    The services are composed with `commit=None`: nothing is flushed until the item is complete, and then once,
    so the write hook runs once per candidate (its events, audit rows and facts bump in a few statements). The
    candidate's existing rows are read once, up front, and the milestone rules see the item's new milestones
    in memory."""
    data = CandidateUpsert.model_validate(item.model_dump(include=_CANDIDATE_FIELDS))
    with session.no_autoflush:
        cand, outcome = await apply_by_external_id(session, org_id, item.external_id, data, None, commit=None)
        changed = outcome != "unchanged"
        fresh = outcome == "created"
        others: dict[uuid.UUID, Any] = {}
        known: dict[str, dict[str, Any]] = {"milestones": {}, "usce_records": {}, "program_lists": {}}
        if not fresh:
            models: tuple[tuple[str, Any], ...] = (("milestones", Milestone), ("usce_records", UsceRecord),
                                                   ("program_lists", ProgramList))
            for name, model in models:
                rows = (await session.execute(select(model).where(model.candidate_id == cand.id))).scalars().all()
                known[name] = {r.external_id: r for r in rows if r.external_id is not None}
                if model is Milestone:
                    others = {r.id: (r.type_code, r.status, r.completed_on) for r in rows}
        groups: list[tuple[str, list[Any], Any, dict[str, Any]]] = [
            ("milestones", item.milestones, upsert_milestone, {"others": others}),
            ("usce_records", item.usce_records, upsert_record, {}),
            ("program_lists", item.program_lists, upsert_list, {}),
        ]
        for name, children, upsert_one, extra in groups:
            by_ext = known[name]
            for i, child in enumerate(children):
                with _child(name, i):
                    row, child_outcome = await upsert_one(session, cand, child.external_id, child, None,
                                                          commit=None, known=by_ext, **extra)
                by_ext[child.external_id] = row
                changed = changed or child_outcome != "unchanged"
    if flush:
        await flush_or_conflict(session, _CONFLICTS)
    return ("created" if fresh else "updated" if changed else "unchanged"), cand.id


def _distinct_children(item: ImportCandidate) -> bool:
    return all(len({c.external_id for c in children}) == len(children)
               for children in (item.milestones, item.usce_records, item.program_lists))


def _new_rows(org_id: uuid.UUID, item: ImportCandidate, rows: dict[type[Any], list[dict[str, Any]]]) -> uuid.UUID:
    """A new candidate's rows, each made and checked by its service as a create is (the milestone rules see the
    item's earlier milestones), added to `rows` by model; the new candidate's id."""
    data = CandidateUpsert.model_validate(item.model_dump(include=_CANDIDATE_FIELDS))
    cand = candidate_row(org_id, item.external_id, data)
    rows[Candidate].append(cand)
    cid = cand["id"]
    rest: list[tuple[str, str, Any]] = []
    for i, m in enumerate(item.milestones):
        with _child("milestones", i):
            row = milestone_row(cid, m, rest)
        rest.append((row["type_code"], row["status"], row["completed_on"]))
        rows[Milestone].append(row)
    for i, u in enumerate(item.usce_records):
        with _child("usce_records", i):
            rows[UsceRecord].append(record_row(cid, u))
    for i, pl in enumerate(item.program_lists):
        with _child("program_lists", i):
            rows[ProgramList].append(list_row(cid, pl))
    return cid


async def _apply_all(session: AsyncSession, org_id: uuid.UUID, items: list[tuple[int, ImportCandidate]]
                     ) -> list[tuple[int, str, uuid.UUID]]:
    """Write a group of items into the session's transaction; each item's position, outcome and candidate.

    A candidate the organization does not have yet is written in bulk: its rows, made and checked by the
    services, go in one ORM bulk INSERT per table for the whole group, which the write hook sees as it sees a
    flush (app.core.changes). A candidate that exists is upserted row by row through the services (`_apply`)."""
    exts = [item.external_id for _, item in items]
    existing = set((await session.execute(select(_CANDIDATES.c.external_id).where(
        _CANDIDATES.c.organization_id == org_id, _CANDIDATES.c.external_id.in_(exts)))).scalars())
    rows: dict[type[Any], list[dict[str, Any]]] = {Candidate: [], Milestone: [], UsceRecord: [], ProgramList: []}
    results: list[tuple[int, str, uuid.UUID]] = []
    for position, item in items:
        if item.external_id in existing or not _distinct_children(item):
            results.append((position, *await _apply(session, org_id, item, flush=False)))
        else:
            results.append((position, "created", _new_rows(org_id, item, rows)))
    await flush_or_conflict(session, _CONFLICTS)
    try:
        for model, batch in rows.items():  # candidates first: the other rows refer to them
            if batch:
                # every row names every column (new_row), so NULLs are sent as such and the group goes in one
                # executemany, not one per pattern of missing values
                await session.execute(insert(model).execution_options(render_nulls=True), batch)
    except IntegrityError as exc:
        await session.rollback()
        raise conflict_from(exc, _CONFLICTS) from exc
    return results


def _actor(job: Any) -> Actor:
    role = Role(job.actor_role)
    principal = Principal(role=role, organization_id=job.organization_id,
                          api_key_id=job.actor_id if job.actor_type == "api_key" else None,
                          user_id=job.actor_id if job.actor_type == "user" else None)
    return Actor(principal, None, job.request_id)


async def _apply_item(job: Any, position: int) -> bool:
    """Apply one item in a transaction of its own; False when another worker has it."""
    pg = db.dialect_name == "postgresql"
    key = (_ITEMS.c.import_id == job.id) & (_ITEMS.c.position == position)
    async with db.session() as session:
        claim = select(_ITEMS.c.payload).where(key, _ITEMS.c.status == "pending")
        if pg:
            claim = claim.with_for_update(skip_locked=True)
        payload = (await session.execute(claim)).scalar_one_or_none()
        if payload is None:
            return False
        taken = await session.execute(update(_ITEMS).where(key, _ITEMS.c.status == "pending")
                                      .values(status="applying"))
        if rows_changed(taken) != 1:
            await session.rollback()
            return False
        result: dict[str, Any]
        try:
            outcome, candidate_id = await _apply(session, job.organization_id,
                                                 ImportCandidate.model_validate(payload))
        except AppError as exc:
            await session.rollback()
            result = {"status": "rejected", "problem": _problem(exc)}
        else:
            result = {"status": outcome, "candidate_id": candidate_id}
            if job.dry_run:
                await session.rollback()
        if result["status"] != "rejected" and not job.dry_run:
            await session.execute(update(_ITEMS).where(key).values(payload=None, **result))
            await session.commit()
            return True
        # Rolled back (a rejection or a dry run): record the result alone. Nothing of the item was applied, so
        # another worker repeating it in the gap could only reach the same result.
        await session.execute(update(_ITEMS).where(key, _ITEMS.c.status == "pending")
                              .values(payload=None, **result))
        await session.commit()
        return True


async def _apply_group(job: Any, positions: list[int]) -> None:
    """Apply several items in one transaction, flushed once (the write hook then writes all their events and
    audit rows in a few statements). Any refusal rolls the whole group back, and its items are then applied one
    by one, so a rejected item still stops no other and every applied item is whole."""
    pg = db.dialect_name == "postgresql"
    mine = (_ITEMS.c.import_id == job.id) & _ITEMS.c.position.in_(positions)
    async with db.session() as session:
        claim = select(_ITEMS.c.position, _ITEMS.c.payload).where(mine, _ITEMS.c.status == "pending")
        if pg:
            claim = claim.with_for_update(skip_locked=True)
        claimed = (await session.execute(claim.order_by(_ITEMS.c.position))).all()
        if not claimed:
            return
        taken = [c.position for c in claimed]
        moved = await session.execute(update(_ITEMS).where(_ITEMS.c.import_id == job.id,
                                                           _ITEMS.c.position.in_(taken),
                                                           _ITEMS.c.status == "pending").values(status="applying"))
        if rows_changed(moved) != len(taken):
            await session.rollback()  # another worker got some of them: one by one sorts it out
        else:
            try:
                results = await _apply_all(session, job.organization_id, [
                    (c.position, ImportCandidate.model_validate(c.payload)) for c in claimed])
            except AppError:
                await session.rollback()
            else:
                where: tuple[Any, ...]
                if job.dry_run:
                    await session.rollback()
                    where = (_ITEMS.c.import_id == job.id, _ITEMS.c.status == "pending")
                else:
                    where = (_ITEMS.c.import_id == job.id,)
                await session.execute(
                    update(_ITEMS).where(*where, _ITEMS.c.position == bindparam("p"))
                    .values(status=bindparam("s"), candidate_id=bindparam("c"), payload=None),
                    [{"p": pos, "s": outcome, "c": cid} for pos, outcome, cid in results])
                await session.commit()
                return
    for position in taken:
        await _apply_item(job, position)


async def _finish(job: Any) -> None:
    """Close the import once nothing is pending, and write `import.completed` with it (once: the UPDATE is
    conditional, so of two workers finishing together one writes it)."""
    async with db.session() as session:
        left = (await session.execute(select(func.count()).select_from(_ITEMS).where(
            _ITEMS.c.import_id == job.id, _ITEMS.c.status.in_(("pending", "applying"))))).scalar_one()
        if left:
            return
        now = utcnow()
        done = await session.execute(update(_JOBS).where(_JOBS.c.id == job.id, _JOBS.c.status != "succeeded")
                                     .values(status="succeeded", finished_at=now))
        if rows_changed(done) != 1:
            await session.rollback()
            return
        counts = (await counts_of(session, [job.id]))[job.id]
        await session.execute(insert(_EVENTS).values(
            id=uuid.uuid4(), type="import.completed", occurred_at=now, organization_id=job.organization_id,
            candidate_id=None, subject_type="import", subject_id=job.id, subject_external_id=None,
            subject_version=None, data={"dry_run": job.dry_run, "total": job.total, "counts": {
                k: counts[k] for k in ("created", "updated", "unchanged", "rejected")}}))
        await session.commit()


async def run_batch(batch: int = 200) -> int:
    """One batch of the oldest unfinished import: up to `batch` items; returns how many were handled."""
    async with db.session() as session:
        job = (await session.execute(select(_JOBS).where(_JOBS.c.status.in_(("queued", "running")))
                                     .order_by(_JOBS.c.created_at).limit(1))).first()
        if job is None:
            return 0
        if job.status == "queued":
            await session.execute(update(_JOBS).where(_JOBS.c.id == job.id, _JOBS.c.status == "queued")
                                  .values(status="running", started_at=utcnow()))
            await session.commit()
        positions = (await session.execute(select(_ITEMS.c.position).where(
            _ITEMS.c.import_id == job.id, _ITEMS.c.status == "pending").order_by(_ITEMS.c.position)
            .limit(batch))).scalars().all()
    if not positions:
        await _finish(job)
        return 1
    token = current_actor.set(_actor(job))
    try:
        for start in range(0, len(positions), GROUP):
            await _apply_group(job, list(positions[start:start + GROUP]))
    finally:
        current_actor.reset(token)
    return len(positions)

