"""Reads outside SQLAlchemy's result machinery, for the busiest requests: rows decoded by their columns' types,
and rows that leave the database already written as JSON.

Every candidate-scoped request starts by loading the candidate, and the candidate pages are the most common lists;
for such short reads the statement, its connection checkout and SQLAlchemy's per-value result processing cost more
than the query itself. Here the statements are plain SQL built once per shape and dialect, run on the driver's own
connection (SQLite: the thread's read connection; PostgreSQL: an autocommit one from a pool of its own), with
values adapted and decoded by the columns' types, exactly as the ORM would (tests hold the two equal on both
databases).

JSON rows. For a flat public model (strings, integers, booleans, UUIDs, dates, UTC timestamps, JSON lists) the
database can write each row's JSON itself, SQLite with `json_object` and PostgreSQL with `row_to_json`, in exactly
the form the model renders: UUIDs with hyphens, dates as `YYYY-MM-DD`, timestamps in UTC with `Z` and microseconds
only when there are some. The service then skips turning every value into a Python object and back again, which is
most of the cost of a page of 50. A test holds the text equal to the model's rendering, byte for byte.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections import namedtuple
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from time import monotonic
from typing import Any, TypeVar

import orjson
import psycopg
from pydantic import BaseModel
from sqlalchemy import JSON, Boolean, Date, Integer, Select, String, Table, Uuid
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.dialects.sqlite import pysqlite as sqlite_dialect
from sqlmodel.sql.sqltypes import AutoString

from app.core.db import UtcDateTime, db

T = TypeVar("T")

SQLITE = "sqlite"
POSTGRESQL = "postgresql"


def placeholder(dialect: str, name: str) -> str:
    return f":{name}" if dialect == SQLITE else f"%({name})s"


def _sqlite_value(col: Any, ref: str) -> str:
    t = col.type
    if isinstance(t, Uuid):
        return (f"substr({ref},1,8)||'-'||substr({ref},9,4)||'-'||substr({ref},13,4)||'-'||substr({ref},17,4)"
                f"||'-'||substr({ref},21,12)")
    if isinstance(t, UtcDateTime):  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC; '.' appears only there
        return f"replace(replace({ref},' ','T'),'.000000','')||'Z'"
    if isinstance(t, JSON):
        return f"json({ref})"
    if isinstance(t, Boolean):
        return f"CASE WHEN {ref} IS NULL THEN NULL WHEN {ref} THEN json('true') ELSE json('false') END"
    return ref


def _postgresql_value(col: Any, ref: str) -> str:
    if isinstance(col.type, UtcDateTime):
        utc = f"({ref} AT TIME ZONE 'UTC')"
        return (f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
                f"CASE WHEN to_char({utc}, 'US') = '000000' THEN 'Z' ELSE to_char({utc}, '.US') || 'Z' END")
    return ref  # row_to_json writes uuid, date, json, boolean, integer and text as the model does


_SUPPORTED = (Uuid, UtcDateTime, JSON, Boolean, Date, Integer, String, AutoString)


@dataclass(frozen=True)
class JsonProjection:
    """One SQL expression per dialect that yields a row of `table` as the JSON text of `model`."""

    table: Table
    fields: tuple[str, ...]

    @classmethod
    def of(cls, table: Table, model: type[BaseModel]) -> JsonProjection:
        fields = tuple(model.model_fields)
        for name in fields:
            col = table.c[name]
            if not isinstance(col.type, _SUPPORTED):
                raise TypeError(f"{table.name}.{name}: no JSON projection for {col.type!r}")
        return cls(table, fields)

    def expression(self, dialect: str) -> str:
        ref = {f: f"{self.table.name}.{f}" for f in self.fields}
        if dialect == SQLITE:
            pairs = ", ".join(f"'{f}', {_sqlite_value(self.table.c[f], ref[f])}" for f in self.fields)
            return f"json_object({pairs})"
        cols = ", ".join(f'{_postgresql_value(self.table.c[f], ref[f])} AS "{f}"' for f in self.fields)
        return f"(SELECT row_to_json(_j)::text FROM (SELECT {cols}) AS _j)"


def as_uuid(value: Any) -> uuid.UUID:
    """A UUID column's value as the driver returned it (SQLite: 32 hex digits)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(hex=value)


def adapt(dialect: str, params: dict[str, Any]) -> dict[str, Any]:
    if dialect != SQLITE:
        return params
    return {k: (v.hex if isinstance(v, uuid.UUID) else
                _sqlite_timestamp(v) if isinstance(v, datetime) else v) for k, v in params.items()}


def _sqlite_timestamp(value: datetime) -> str:
    """As SQLAlchemy stores a UtcDateTime in SQLite (UTC, microseconds always written), so text compares in order."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


Rows = Sequence[tuple[Any, ...]]


# Called with each statement run here (SQLAlchemy's events do not see these reads); tests count statements.
observers: list[Callable[[str], None]] = []


def _observe(sql: str) -> None:
    for observe in observers:
        observe(sql)


Execute = Callable[[str, dict[str, Any]], Awaitable[Rows]]


async def run(work: Callable[[Execute], Awaitable[T]]) -> T:
    """Run `work`'s reads on one connection: SQLite, the thread's read connection; PostgreSQL, an autocommit
    connection from the read pool. `work` gets `execute(sql, params)`, which answers the rows as the driver returns
    them. A PostgreSQL connection found broken (the server restarted, say) is dropped by the pool, with every idle
    one that fails a check, and the work tried once more on another: these are reads, safe to repeat. Nothing is
    retried when no connection came (the pool waits DB_POOL_TIMEOUT for one): the error (psycopg's or sqlite3's)
    answers 503 (app.core.errors.database_unavailable)."""
    reader = db.sqlite_reader()
    if reader is not None:

        async def on_sqlite(sql: str, params: dict[str, Any]) -> Rows:
            if observers:
                _observe(sql)
            return reader.execute(sql, adapt(SQLITE, params)).fetchall()

        try:
            return await work(on_sqlite)
        except sqlite3.DatabaseError:  # the file went away or became unreadable: reopen at the next read
            db.discard_sqlite_reader()
            raise

    used: list[Any] = []
    started = monotonic()

    async def attempt(timeout: float | None = None) -> T:
        async with db.pg_read(timeout) as conn:
            used.append(conn)

            async def on_postgresql(sql: str, params: dict[str, Any]) -> Rows:
                if observers:
                    _observe(sql)
                return await (await conn.execute(sql, params)).fetchall()

            return await work(on_postgresql)

    try:
        return await attempt()
    except psycopg.OperationalError:
        if not used or not used[-1].broken:  # no connection (PoolTimeout, refused), or a failing statement
            raise
        await db.discard_broken_reads()
        # Both attempts together wait at most DB_POOL_TIMEOUT for a connection.
        return await attempt(max(0.001, db.pool_timeout - (monotonic() - started)))


async def fetch_all(sql: str, params: dict[str, Any]) -> Rows:
    """One read statement's rows, as the driver returns them."""
    return await run(lambda execute: execute(sql, params))


def dialect() -> str:
    return db.dialect_name


def _sqlite_decoder(col: Any) -> Callable[[Any], Any] | None:
    t = col.type
    if isinstance(t, Uuid):
        return lambda v: uuid.UUID(hex=v)
    if isinstance(t, UtcDateTime):
        return lambda v: datetime.fromisoformat(v).replace(tzinfo=UTC)
    if isinstance(t, Date):
        return date.fromisoformat
    if isinstance(t, JSON):
        return orjson.loads
    if isinstance(t, Boolean):
        return bool
    return None


def _postgresql_decoder(col: Any) -> Callable[[Any], Any] | None:
    t = col.type
    if isinstance(t, UtcDateTime):
        return lambda v: v.astimezone(UTC)
    if isinstance(t, JSON):
        return lambda v: orjson.loads(v) if isinstance(v, str | bytes) else v
    return None


class TypedRead:
    """A fixed SELECT built with SQLAlchemy, compiled once per dialect, whose rows come back decoded as the ORM
    decodes them: named tuples with the selected columns' keys."""

    def __init__(self, stmt: Select[Any]) -> None:
        self.stmt = stmt
        cols = list(stmt.selected_columns)
        keys = [str(c.key) for c in cols]
        if len(set(keys)) != len(keys):
            raise ValueError(f"duplicate column keys in {keys}")
        self.row_type: Any = namedtuple("Row", keys)  # type: ignore[misc]
        self._decoders = {SQLITE: tuple(_sqlite_decoder(c) for c in cols),
                          POSTGRESQL: tuple(_postgresql_decoder(c) for c in cols)}
        self._sql: dict[str, str] = {}

    def sql(self, d: str) -> str:
        found = self._sql.get(d)
        if found is None:
            found = self._sql[d] = str(self.stmt.compile(dialect=_COMPILERS[d]))
        return found

    def decode(self, d: str, rows: Rows) -> list[Any]:
        decoders, make = self._decoders[d], self.row_type._make
        return [make([v if f is None or v is None else f(v) for f, v in zip(decoders, raw, strict=True)])
                for raw in rows]


# Named placeholders on both, as the statements of this module use them.
_COMPILERS = {SQLITE: sqlite_dialect.dialect(paramstyle="named"), POSTGRESQL: psycopg_dialect.dialect()}


async def read(*queries: tuple[TypedRead, dict[str, Any]]) -> list[list[Any]]:
    """Run typed reads on one connection, in order; each one's decoded rows."""
    d = dialect()

    async def work(execute: Execute) -> list[list[Any]]:
        return [q.decode(d, await execute(q.sql(d), params)) for q, params in queries]

    return await run(work)


@dataclass(frozen=True)
class JsonPage:
    """The SQL of one list shape: the page's JSON rows, and the count for when the page is full."""

    page: str
    count: str


class JsonLister:
    """Pages of one table as JSON text; statements built once per (filters, order) shape and dialect."""

    def __init__(self, table: Table, model: type[BaseModel]) -> None:
        self.table = table
        self.projection = JsonProjection.of(table, model)
        self._cache: dict[tuple[str, tuple[str, ...], str, bool], JsonPage] = {}

    def statements(self, dialect: str, where: tuple[str, ...], order: str, with_ids: bool = False) -> JsonPage:
        key = (dialect, where, order, with_ids)
        found = self._cache.get(key)
        if found is None:
            name = self.table.name
            cond = f" WHERE {' AND '.join(where)}" if where else ""
            ids = f", {name}.id" if with_ids else ""
            found = JsonPage(
                page=(f"SELECT {self.projection.expression(dialect)}{ids} FROM {name}{cond} ORDER BY {order} "
                      f"LIMIT {placeholder(dialect, 'limit')} OFFSET {placeholder(dialect, 'offset')}"),
                count=f"SELECT count(*) FROM {name}{cond}")
            self._cache[key] = found
        return found

    async def page(self, where: tuple[str, ...], order: str, params: dict[str, Any], limit: int, offset: int
                   ) -> tuple[bytes, int]:
        """The items as one JSON array and the total number matching, counted only when the page is full."""
        rows, total = await self._rows(self.statements(dialect(), where, order), params, limit, offset)
        return _array(rows), total

    async def page_with_ids(self, where: tuple[str, ...], order: str, params: dict[str, Any], limit: int,
                            offset: int) -> tuple[bytes, int, list[uuid.UUID]]:
        """As `page`, and the ids of the items (e.g. for the audit trail's record of reads)."""
        rows, total = await self._rows(self.statements(dialect(), where, order, with_ids=True), params, limit,
                                       offset)
        return _array(rows), total, [as_uuid(r[1]) for r in rows]

    @staticmethod
    async def _rows(sql: JsonPage, params: dict[str, Any], limit: int, offset: int) -> tuple[Rows, int]:
        async def work(execute: Execute) -> tuple[Rows, int]:
            rows = await execute(sql.page, {**params, "limit": limit, "offset": offset})
            if (rows or offset == 0) and len(rows) < limit:
                return rows, offset + len(rows)  # this page reaches the end: the total is known without a COUNT
            return rows, int((await execute(sql.count, params))[0][0])

        return await run(work)


def _array(rows: Rows) -> bytes:
    return ("[" + ",".join([r[0] for r in rows]) + "]").encode()
