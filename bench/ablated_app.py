"""The service with per-request features switched off, for bench/read_costs.py only: `ABLATE` names them, comma
separated (see FEATURES). Nothing here is importable by the service; it exists to price each feature on a read."""

from __future__ import annotations

import os
from typing import Any

from app.main import app  # noqa: F401  (served)


async def _none_async(*_: Any, **__: Any) -> None:
    return None


def _none(*_: Any, **__: Any) -> None:
    return None


def _replace(owner: Any, name: str, value: Any) -> None:
    """Switch a feature off by replacing what does it; a name the service no longer has is an error, not a
    silently added attribute that switches nothing off (tests/unit/test_bench_ablations.py runs every one)."""
    if not hasattr(owner, name):
        raise AttributeError(f"{getattr(owner, '__name__', owner)} has no {name}: update bench/ablated_app.py")
    setattr(owner, name, value)


def _access_log() -> None:
    from app.core import observe

    _replace(observe, "access_line", _none)


def _metrics() -> None:
    from app.core import metrics

    _replace(metrics, "observe_request", _none)


def _audit() -> None:
    from app.core.coalesced import Coalescer

    _replace(Coalescer, "note", _none)


def _budget() -> None:
    from app.core.throttle import Throttle

    _replace(Throttle, "spend_principal", _none_async)


def _session_check() -> None:
    from app.accounts import principal

    _replace(principal, "_check_session", _none_async)


async def _passthrough(self: Any, scope: Any, receive: Any, send: Any) -> None:
    await self.app(scope, receive, send)


def _observe() -> None:
    from app.core.observe import Observe

    _replace(Observe, "__call__", _passthrough)


def _guard() -> None:
    from app.core.http import RequestGuard

    _replace(RequestGuard, "__call__", _passthrough)


def _conditional() -> None:
    from app.core.http import ConditionalGet

    _replace(ConditionalGet, "__call__", _passthrough)


def _rate_headers() -> None:
    from app.core.throttle import RateLimitHeaders

    _replace(RateLimitHeaders, "__call__", _passthrough)


def _middlewares() -> None:
    _observe()
    _guard()
    _conditional()
    _rate_headers()


# ---- the read fast path (app.core.reads), each part replaced by the ordinary path --------------------------------
# The ordinary path: statements run through SQLAlchemy's engine and result machinery, rows rendered by the public
# model with pydantic and orjson (lean serialization: no ORM objects, no response_model round trip).


def _driver_reads() -> None:
    """Statements run on a connection of SQLAlchemy's engine instead of the driver's own read connection."""
    from app.core import reads
    from app.core.db import db

    async def run(work: Any) -> Any:
        d = reads.dialect()
        assert db.engine is not None
        async with db.engine.connect() as conn:

            async def execute(sql: str, params: dict[str, Any]) -> Any:
                return (await conn.exec_driver_sql(sql, reads.adapt(d, params))).fetchall()

            return await work(execute)

    _replace(reads, "run", run)


async def _orm_read(*queries: Any) -> list[list[Any]]:
    from app.core.db import db

    assert db.engine is not None
    async with db.engine.connect() as conn:
        return [[q.row_type._make(r) for r in (await conn.execute(q.stmt, params)).all()] for q, params in queries]


def _typed_reads() -> None:
    """TypedRead statements run and decoded by SQLAlchemy (its compiled cache and result processing)."""
    from app.accounts import principal
    from app.calendars import service as calendars
    from app.candidates import service as candidates
    from app.guidance import service as guidance

    for module in (principal, calendars, candidates, guidance):
        _replace(module, "read", _orm_read)


def _json_rows() -> None:
    """Rows read and decoded as TypedRead decodes them, rendered by the public model with pydantic and orjson,
    instead of JSON written by the database; on the same connections (the driver's), so only the rendering
    differs."""
    import orjson
    from sqlalchemy import select

    from app.candidates import service as candidates
    from app.core import reads
    from app.core.reads import JsonLister, TypedRead

    table, model = candidates._TABLE, candidates.CandidatePublic
    columns = TypedRead(select(table))  # decodes a row of every column, in the table's order
    names = ", ".join(f"candidate.{c.name}" for c in table.columns)

    def render(row: Any) -> bytes:
        return orjson.dumps(model.model_validate(row, from_attributes=True).model_dump(mode="json"))

    async def page_with_ids(self: Any, where: Any, order: Any, params: Any, limit: int, offset: int) -> Any:
        d = reads.dialect()
        cond = f" WHERE {' AND '.join(where)}" if where else ""
        sql = (f"SELECT {names} FROM candidate{cond} ORDER BY {order} LIMIT {reads.placeholder(d, 'limit')} "
               f"OFFSET {reads.placeholder(d, 'offset')}")

        async def work(execute: Any) -> Any:
            raw = await execute(sql, {**params, "limit": limit, "offset": offset})
            if (raw or offset == 0) and len(raw) < limit:
                return raw, offset + len(raw)
            return raw, int((await execute(f"SELECT count(*) FROM candidate{cond}", params))[0][0])

        raw, total = await reads.run(work)
        rows = columns.decode(d, raw)
        return b"[" + b",".join(render(r) for r in rows) + b"]", total, [r.id for r in rows]

    async def page(self: Any, *args: Any) -> Any:
        body, total, _ = await page_with_ids(self, *args)
        return body, total

    _replace(JsonLister, "page_with_ids", page_with_ids)
    _replace(JsonLister, "page", page)


def _sqlite_inline() -> None:
    """SQLite calls through aiosqlite's helper thread, as SQLAlchemy's aiosqlite dialect makes them, instead of
    inline on the event loop (app.core.sqlite_inline); the pragmas are set by the same listener."""
    import aiosqlite

    from app.core import sqlite_inline

    def creator(path: str, **connect_args: Any) -> Any:
        async def create() -> Any:
            return await aiosqlite.connect(path, check_same_thread=False, **connect_args)

        return create

    _replace(sqlite_inline, "inline_creator", creator)


def _fast_path() -> None:
    _driver_reads()
    _typed_reads()
    _json_rows()
    _sqlite_inline()


FEATURES = {  # name: (what it is, how it is switched off)
    "access_log": ("the access log line", _access_log),
    "metrics": ("the request metrics", _metrics),
    "audit": ("the read's audit note", _audit),
    "budget": ("the per-principal request budget", _budget),
    "session_check": ("the check that the token's session still stands", _session_check),
    "observe": ("request id, security headers, access log and metrics (the whole Observe middleware)", _observe),
    "guard": ("body limits, content types and idempotency keys (the RequestGuard middleware)", _guard),
    "conditional": ("ETag and If-None-Match on every GET (the ConditionalGet middleware)", _conditional),
    "rate_headers": ("the RateLimit headers (the RateLimitHeaders middleware)", _rate_headers),
    "middlewares": ("all four: Observe, RequestGuard, ConditionalGet, RateLimitHeaders", _middlewares),
    # the read fast path: "no X" is the service with X replaced by the ordinary path
    "driver_reads": ("the driver's own read connections (app.core.reads.run)", _driver_reads),
    "typed_reads": ("TypedRead's compile-once SQL and decoding", _typed_reads),
    "json_rows": ("JSON rows written by the database (candidate pages)", _json_rows),
    "sqlite_inline": ("SQLite calls inline on the event loop, for SQLAlchemy's engine", _sqlite_inline),
    "fast_path": ("the whole read fast path: driver reads, typed reads, JSON rows, inline SQLite", _fast_path),
}

for _name in filter(None, os.environ.get("ABLATE", "").split(",")):
    FEATURES[_name][1]()
