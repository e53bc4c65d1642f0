"""Small helpers services share: loading by id, optimistic-concurrency updates, list queries, unique conflicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from app.core.db import utcnow
from app.core.errors import Conflict, PreconditionFailed
from app.core.http import check_if_match
from app.core.pagination import PageParams

M = TypeVar("M", bound=SQLModel)


async def update_versioned(
    session: AsyncSession, obj: Any, changes: dict[str, Any], if_match: str | None,
    conflicts: dict[str, tuple[str, str]] | None = None,
) -> None:
    """Apply `changes` only if the caller saw the current version; a concurrent writer makes this a 412.
    The UPDATE runs here, not at commit, so a unique violation surfaces here: a 409 from `conflicts`."""
    check_if_match(if_match, obj.version)
    table = type(obj)
    new_version = obj.version + 1
    values = {**changes, "version": new_version, "updated_at": utcnow()}
    try:
        result = await session.execute(
            update(table).where(table.id == obj.id, table.version == obj.version).values(**values)  # type: ignore[attr-defined]
            .execution_options(synchronize_session=False)
        )
    except IntegrityError as exc:
        await session.rollback()
        raise conflict_from(exc, conflicts or {}) from exc
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed("The resource was changed by another request; read it again and retry.")
    for key, value in values.items():
        setattr(obj, key, value)


async def delete_versioned(session: AsyncSession, obj: Any, if_match: str | None) -> None:
    from sqlalchemy import delete

    check_if_match(if_match, obj.version)
    table = type(obj)
    result = await session.execute(
        delete(table).where(table.id == obj.id, table.version == obj.version)  # type: ignore[attr-defined]
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise PreconditionFailed("The resource was changed by another request; read it again and retry.")


async def fetch_page(
    session: AsyncSession,
    model: type[M],
    where: Sequence[ColumnElement[bool]],
    order_by: Sequence[Any],
    page: PageParams,
) -> tuple[list[Any], int]:
    """One page of rows (plain rows, not ORM objects: lists are read-only and this is several times cheaper)."""
    table = model.__table__  # type: ignore[attr-defined]
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
    cols = model.__table__.c  # type: ignore[attr-defined]
    col, pk = cols[name], cols["id"]
    return [col.desc(), pk.desc()] if desc else [col.asc(), pk.asc()]


async def commit_or_conflict(session: AsyncSession, conflicts: dict[str, tuple[str, str]]) -> None:
    """Commit; a unique-constraint violation becomes a 409 naming the field (constraint names are stable)."""
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise conflict_from(exc, conflicts) from exc


def conflict_from(exc: IntegrityError, conflicts: dict[str, tuple[str, str]]) -> Conflict:
    message = str(exc.orig)
    for needle, (code, detail) in conflicts.items():
        if needle in message:
            return Conflict(detail, code=code)
    return Conflict("The change conflicts with existing data.", code="conflict")
