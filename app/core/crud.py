"""Small helpers services share: loading by id, optimistic-concurrency updates, list queries, unique conflicts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, Result, Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import SQLModel

from app.core.errors import Conflict, PreconditionFailed
from app.core.http import UpsertOutcome, check_if_match
from app.core.models import table_of
from app.core.pagination import PageParams

M = TypeVar("M", bound=SQLModel)


async def update_versioned(
    session: AsyncSession, obj: Any, changes: dict[str, Any], if_match: str | None,
    conflicts: dict[str, tuple[str, str]] | None = None, *, flush: bool = True,
) -> bool:
    """Apply `changes` only if the caller saw the current version; returns whether anything changed.

    The ORM writes it (`UPDATE ... WHERE id = :id AND version = :read`, see app.core.models), so the write hook
    sees it; a concurrent writer makes it a 412, and a change that sets every field to its current value writes
    nothing and keeps the version. The UPDATE runs here, not at commit, so a unique violation is a 409 here."""
    check_if_match(if_match, obj.version)
    for key, value in changes.items():
        setattr(obj, key, value)
    if not session.is_modified(obj, include_collections=False):
        return False
    if flush:
        await flush_or_conflict(session, conflicts or {})
    return True


async def delete_versioned(session: AsyncSession, obj: Any, if_match: str | None) -> None:
    check_if_match(if_match, obj.version)
    await session.delete(obj)
    await flush_or_conflict(session, {})


async def flush_or_conflict(session: AsyncSession, conflicts: dict[str, tuple[str, str]]) -> None:
    """Flush; a row changed by someone else since it was read is a 412, a unique violation a 409."""
    try:
        await session.flush()
    except StaleDataError as exc:
        await session.rollback()
        raise PreconditionFailed("The resource was changed by another request; read it again and retry.") from exc
    except IntegrityError as exc:
        await session.rollback()
        raise conflict_from(exc, conflicts) from exc


async def fetch_page(
    session: AsyncSession,
    model: type[M],
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    page: PageParams,
) -> tuple[list[Any], int]:
    """One page of rows (plain rows, not ORM objects: lists are read-only and this is several times cheaper)."""
    table = table_of(model)
    stmt: Select[Any] = select(table).where(*where).order_by(*order_by).limit(page.limit).offset(page.offset)
    conn = await session.connection()  # Core execution: no ORM identity map or instance loading for reads
    items = list((await conn.execute(stmt)).all())
    if (items or page.offset == 0) and len(items) < page.limit:
        total = page.offset + len(items)  # this page reaches the end: the total is known without a COUNT
    else:  # (a window count in the same statement measured slower than a separate indexed COUNT)
        total = (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
    return items, int(total)


def order_clause(model: type[SQLModel], sort: str, allowed: Sequence[str]) -> list[Any]:
    """`sort` is a field name from the allow-list, `-` for descending; ties broken by id for a stable order."""
    desc = sort.startswith("-")
    name = sort.lstrip("-")
    if name not in allowed:  # guarded by the route's Literal type too
        name = allowed[0]
    cols = table_of(model).c
    col, pk = cols[name], cols["id"]
    return [col.desc(), pk.desc()] if desc else [col.asc(), pk.asc()]


async def commit_or_conflict(session: AsyncSession, conflicts: dict[str, tuple[str, str]]) -> None:
    """Commit; a unique-constraint violation becomes a 409 naming the field (constraint names are stable)."""
    try:
        await session.commit()
    except StaleDataError as exc:
        await session.rollback()
        raise PreconditionFailed("The resource was changed by another request; read it again and retry.") from exc
    except IntegrityError as exc:
        await session.rollback()
        raise conflict_from(exc, conflicts) from exc


async def finish(session: AsyncSession, conflicts: dict[str, tuple[str, str]], *, commit: bool | None) -> None:
    """End a write use case: commit it (True); or, for a caller composing several into one transaction, such as
    an import item that must be all or nothing, flush it (False) or leave even that to the caller (None: the
    caller flushes once for all of them, so the write hook runs once)."""
    if commit:
        await commit_or_conflict(session, conflicts)
    elif commit is not None:
        await flush_or_conflict(session, conflicts)


def conflict_from(exc: IntegrityError, conflicts: dict[str, tuple[str, str]]) -> Conflict:
    message = str(exc.orig)
    for needle, (code, detail) in conflicts.items():
        if needle in message:
            return Conflict(detail, code=code)
    return Conflict("The change conflicts with existing data.", code="conflict")


async def upsert(
    session: AsyncSession, *, if_match: str | None,
    find: Callable[[], Awaitable[Any | None]],
    create: Callable[[], Awaitable[Any]],
    replace: Callable[[Any], Awaitable[bool]],
) -> tuple[Any, UpsertOutcome]:
    """The idempotent `PUT .../by-external-id/{external_id}`: create the row, or replace the one found; the same
    body twice is one row, and the second answer is `unchanged` with the same version. `If-Match` is optional
    here; when sent it must match (and cannot, when there is nothing yet). `create` and `replace` commit; a
    concurrent upsert that created the row first makes this one a replace."""
    if if_match is not None and not if_match.strip():
        if_match = None  # an empty If-Match is no precondition (not a 428)
    for attempt in range(2):
        existing = await find()
        if existing is not None:
            if if_match is not None:
                check_if_match(if_match, existing.version)
            return existing, ("updated" if await replace(existing) else "unchanged")
        if if_match is not None:
            raise PreconditionFailed("Nothing has this external_id yet; If-Match cannot match.")
        try:
            return await create(), "created"
        except Conflict as exc:
            if exc.code != "external_id_taken" or attempt:
                raise
    raise AssertionError("unreachable")


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched (a session's `execute` is typed `Result`; the DML's is a
    `CursorResult`, which has the count)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)
