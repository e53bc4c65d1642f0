"""Database plumbing: URL handling, the async engine, the session dependency, portable column types.

The application talks to the database through async SQLAlchemy sessions (aiosqlite for the embedded SQLite file,
psycopg 3 for PostgreSQL); Alembic uses the matching sync drivers. The schema is created only by Alembic.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Self

import psycopg
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.config import Settings, get_settings

log = logging.getLogger("matchready.db")

# Constraint names are stable across SQLite and PostgreSQL so migrations can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps are stored in UTC and always come back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sync_url(url: str) -> str:
    """The URL Alembic and scripts use (sync drivers)."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"):
        return u.set(drivername="sqlite").render_as_string(hide_password=False)
    if u.drivername.startswith("postgres"):
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def async_url(url: str) -> str:
    u = make_url(url)
    if u.drivername.startswith("sqlite"):
        return u.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if u.drivername.startswith("postgres"):
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL scheme {u.drivername!r}")


def _sqlite_pragmas(busy_ms: int) -> Any:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return on_connect


def compact_json(value: Any) -> str:
    """JSON columns are stored compact, as responses write them, so the database can hand them out as they are."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def pg_connect_kwargs(settings: Settings, url: str) -> dict[str, Any]:
    """The psycopg connection parameters every PostgreSQL connection of the service gets (the sessions' and the read
    pool's): libpq's connect timeout (a backstop: it counts whole seconds, at least 2; see `Reachability.connect`),
    and the server-side `statement_timeout` and `lock_timeout` (a statement cut by either fails with QueryCanceled
    or LockNotAvailable, answered 503), and `idle_in_transaction_session_timeout`: a connection left idle inside a
    transaction (a process stopped while it held it, a bug) is ended by the server, which frees the rows it had
    locked, rather than keep every request that needs them at its lock timeout. `options` given in DATABASE_URL are
    kept, ours after them."""
    given = make_url(url).query.get("options")
    ours = (f"-c statement_timeout={round(settings.db_statement_timeout * 1000)} "
            f"-c lock_timeout={round(settings.db_lock_timeout * 1000)} "
            f"-c idle_in_transaction_session_timeout={round(settings.db_idle_in_transaction_timeout * 1000)}")
    return {"connect_timeout": max(2, math.ceil(settings.db_connect_timeout)),
            "options": f"{given} {ours}" if isinstance(given, str) and given else ours}


class Reachability:
    """Whether PostgreSQL answers, as the last attempt to open a connection to it found (an attempt of the read
    pool's, of a read's own, or of the sessions' engine): each attempt is bounded by DB_CONNECT_TIMEOUT and says how
    it went. While the last one failed, reads open a connection of their own rather than wait on the pool (see
    `Database.pg_read`): a server that is down refuses it at once, so the answer is a 503 in milliseconds rather
    than after DB_POOL_TIMEOUT, and the first attempt that succeeds ends the outage for every path."""

    def __init__(self, connect_timeout: float) -> None:
        self.connect_timeout = connect_timeout
        self.failing = False
        self._failed = asyncio.Event()

    async def connect(self, conninfo: str = "", **kwargs: Any) -> psycopg.AsyncConnection[Any]:
        return await self.connecting(psycopg.AsyncConnection.connect(conninfo, **kwargs))

    async def connecting(self, attempt: Any) -> Any:
        """Await a connection attempt (a coroutine), bounded by DB_CONNECT_TIMEOUT, and note how it went."""
        try:
            async with asyncio.timeout(self.connect_timeout):
                conn = await attempt
        except TimeoutError:  # libpq's own bound counts whole seconds, at least 2
            self.failed()
            raise psycopg.errors.ConnectionTimeout("connection timeout expired (DB_CONNECT_TIMEOUT)") from None
        except psycopg.OperationalError:
            self.failed()
            raise
        self.failing = False
        self._failed.clear()
        return conn

    def failed(self) -> None:
        self.failing = True
        self._failed.set()

    async def wait_failure(self) -> None:
        await self._failed.wait()


def _read_connection_class(reach: Reachability) -> type[psycopg.AsyncConnection[Any]]:
    """The read pool's connection class: each attempt the pool makes to connect tells `reach` how it went."""

    class ReadConnection(psycopg.AsyncConnection[Any]):
        @classmethod
        async def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
            connected: Self = await reach.connecting(super().connect(conninfo, **kwargs))
            return connected

    return ReadConnection


def build_engine(settings: Settings, reach: Reachability | None = None) -> AsyncEngine:
    url = async_url(settings.database_url)
    # Statement parameters (names, e-mails) stay out of error messages, hence out of logs, unless DB_ECHO is on.
    kwargs: dict[str, Any] = {"echo": settings.db_echo, "json_serializer": compact_json,
                              "hide_parameters": not settings.db_echo}
    if url.startswith("sqlite"):
        from sqlalchemy.pool import AsyncAdaptedQueuePool

        from app.core.sqlite_inline import inline_creator

        database = make_url(url).database or ":memory:"
        kwargs["async_creator"] = inline_creator(database)
        kwargs["poolclass"] = AsyncAdaptedQueuePool
        kwargs["pool_size"] = settings.db_pool_size
        kwargs["max_overflow"] = 0
        kwargs["pool_timeout"] = settings.db_pool_timeout
    else:
        # Each connection carries the statement and lock timeouts, and each attempt to open one fails within
        # DB_CONNECT_TIMEOUT when the server is down or does not answer, and tells the read path how it went.
        # (`async_creator_fn` is how SQLAlchemy's psycopg dialect takes a connect function in place of psycopg's,
        # still given the dialect's parameters; its public `async_creator` would lose them, the JSON serializer too.)
        reach = reach or Reachability(settings.db_connect_timeout)
        kwargs["connect_args"] = {**pg_connect_kwargs(settings, settings.database_url),
                                  "async_creator_fn": reach.connect}
        if settings.environment == "test":
            kwargs["poolclass"] = NullPool
        else:  # at most 2 x DB_POOL_SIZE here, plus the read pool's DB_POOL_SIZE (README: Configuration)
            kwargs["pool_size"] = settings.db_pool_size
            kwargs["max_overflow"] = settings.db_pool_size
            kwargs["pool_timeout"] = settings.db_pool_timeout
            # Each checkout pings its connection: one found dead (the server restarted) is replaced, and with it
            # every connection pooled before it, so no request after an outage is handed a stale connection.
            kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(sqlite_busy_ms(settings)))
    return engine


def sqlite_busy_ms(settings: Settings) -> int:
    """How long a SQLite statement waits on another process's lock before failing with "database is locked"
    (answered 503). SQLite calls run inline on the event loop, so this is also how long such a wait can stall it."""
    return int(settings.db_lock_timeout * 1000)


def _give_back(pool: Any, getting: asyncio.Future[Any]) -> None:
    if getting.cancelled() or getting.exception() is not None:
        return
    _returning.add(task := asyncio.ensure_future(pool.putconn(getting.result())))
    task.add_done_callback(_returning.discard)


_returning: set[asyncio.Future[None]] = set()  # connections on their way back to the read pool


class Database:
    """The process's engine and session factory, created lazily so settings can change in tests."""

    def __init__(self) -> None:
        self.engine: AsyncEngine | None = None
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._sqlite_path: str | None = None
        self._readers = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._pg_conninfo: str | None = None
        self._pg_reads: Any = None  # psycopg_pool.AsyncConnectionPool, opened by the app's lifespan
        self._read_pool_wanted = False
        self._pool_size = 1
        self._settings: Settings | None = None
        self._reach = Reachability(2.0)
        self._pg_kwargs: dict[str, Any] = {}

    def configure(self, settings: Settings) -> None:
        self._reach = Reachability(settings.db_connect_timeout)
        self.engine = build_engine(settings, self._reach)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        url = make_url(settings.database_url)
        self._sqlite_path = (url.database or ":memory:") if url.drivername.startswith("sqlite") else None
        self._readers = threading.local()
        self._pg_conninfo = (url.set(drivername="postgresql").render_as_string(hide_password=False)
                             if url.drivername.startswith("postgres") else None)
        self._pg_kwargs = {**pg_connect_kwargs(settings, settings.database_url), "autocommit": True} \
            if self._pg_conninfo is not None else {}
        self._pool_size = settings.db_pool_size
        self._settings = settings
        # As for the engine (NullPool): tests drive the app from several event loops, and a pool belongs to one.
        self._read_pool_wanted = settings.environment != "test"

    async def open_read_pool(self) -> None:
        """PostgreSQL: open the pool of autocommit connections for single-statement reads (see `pg_read`).
        Called by the app's lifespan; without it (scripts, tests) each read opens a connection of its own."""
        if self.engine is None:
            self.configure(get_settings())
        if self._pg_conninfo is None or self._pg_reads is not None or not self._read_pool_wanted:
            return
        from psycopg_pool import AsyncConnectionPool, PoolTimeout

        settings = self._settings or get_settings()
        # Bounds for an outage (README: Configuration): a read waits at most DB_POOL_TIMEOUT for a connection, then
        # fails with PoolTimeout (answered 503), and no longer than it takes an attempt to connect to fail (see
        # `pg_read`). A failed connection attempt is retried after about a second and abandoned after
        # DB_POOL_TIMEOUT; the next read starts a fresh attempt at once. (The pool's default backoff doubles its
        # delay up to 5 minutes, so reads kept failing for seconds after the server was back.)
        def new_pool() -> AsyncConnectionPool[Any]:
            return AsyncConnectionPool(
                self._pg_conninfo or "", min_size=1, max_size=self._pool_size, open=False, max_idle=300,
                kwargs=self._pg_kwargs, connection_class=_read_connection_class(self._reach),
                timeout=settings.db_pool_timeout, reconnect_timeout=settings.db_pool_timeout)

        pool = new_pool()
        try:
            await pool.open(wait=True, timeout=settings.db_connect_timeout + settings.db_pool_timeout)
        except PoolTimeout:  # start all the same: reads answer 503 until the database answers (see /readyz)
            log.warning("database unreachable at start-up; the read pool keeps trying")
            pool = new_pool()  # a pool that gave up waiting is closed for good
            await pool.open(wait=False)
        self._pg_reads = pool

    async def discard_broken_reads(self) -> None:
        """After a read found its connection broken (the server went away or restarted): test the read pool's idle
        connections and drop those that no longer work, and let the next reads find out for themselves whether the
        server answers (see `pg_read`), rather than wait on a pool that may have nothing to give."""
        self._reach.failed()
        if self._pg_reads is not None:
            await self._pg_reads.check()

    def pool_stats(self) -> dict[str, tuple[int, int]]:
        """`{pool: (open connections, checked out)}` for the pools this process holds (for the metrics)."""
        out: dict[str, tuple[int, int]] = {}
        pool: Any = self.engine.sync_engine.pool if self.engine is not None else None
        if pool is not None and hasattr(pool, "checkedout"):  # a QueuePool (not the tests' NullPool)
            checked_out = int(pool.checkedout())
            out["sessions"] = (checked_out + int(pool.checkedin()), checked_out)
        if self._pg_reads is not None:
            stats = self._pg_reads.get_stats()
            size = int(stats.get("pool_size", 0))
            out["reads"] = (size, size - int(stats.get("pool_available", 0)))
        return out

    @property
    def pool_timeout(self) -> float:
        return (self._settings or get_settings()).db_pool_timeout

    @asynccontextmanager
    async def pg_read(self, timeout: float | None = None) -> AsyncIterator[Any]:
        """PostgreSQL: an autocommit connection for reads. Autocommit spares each read the BEGIN and ROLLBACK round
        trips of a pooled SQLAlchemy connection, and nothing pings it before lending it out: a connection found
        broken is dropped by the pool and the read retried (see app.core.reads). `timeout`: how long to wait for a
        pooled connection (default DB_POOL_TIMEOUT).

        While the last attempt to connect failed (`Reachability`), the read opens a connection of its own, which
        fails at once while the server is down (or within DB_CONNECT_TIMEOUT when it does not answer) and, once it
        is back, succeeds and lets the reads after it use the pool again. A read that must wait for a pooled
        connection stops waiting when an attempt to connect fails meanwhile, and opens its own too."""
        pool = self._pg_reads
        if pool is not None and not self._reach.failing:
            if pool.get_stats().get("pool_available"):  # one is idle: no waiting (the common case)
                async with pool.connection(timeout) as conn:
                    yield conn
                return
            waited = await self._wait_for_pooled(pool, timeout)
            if waited is not None:
                try:
                    async with waited:  # as `pool.connection()` lends it: rolled back on an error
                        yield waited
                finally:
                    await pool.putconn(waited)
                return
        assert self._pg_conninfo is not None
        conn = await self._reach.connect(self._pg_conninfo, **self._pg_kwargs)
        try:
            yield conn
        finally:
            await conn.close()

    async def _wait_for_pooled(self, pool: Any, timeout: float | None) -> Any:
        """A connection from the read pool, waited for as `pool.getconn(timeout)` does; None as soon as an attempt to
        connect fails meanwhile (the pool's, or another request's): the server is down, and no connection will come
        before the timeout. PoolTimeout when the timeout passes (all connections busy)."""
        getting = asyncio.ensure_future(pool.getconn(timeout))
        failure = asyncio.ensure_future(self._reach.wait_failure())
        try:
            await asyncio.wait((getting, failure), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # this request is cancelled: a connection that came all the same goes back
            getting.add_done_callback(lambda done: _give_back(pool, done))
            raise
        finally:
            failure.cancel()
            if not getting.done():
                getting.cancel()  # the pool takes back a connection handed over meanwhile
        try:
            return await getting
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():  # this request itself is being cancelled
                raise
            return None

    def sqlite_reader(self) -> sqlite3.Connection | None:
        """For SQLite, this thread's autocommit connection for single-statement reads; None for PostgreSQL.

        SQLite calls run inline on the event loop (see app.core.sqlite_inline), so a statement and its fetch
        finish before any other task runs: one connection per thread serves every such read without a pool
        checkout, and each read is its own snapshot (WAL mode: readers never wait for the writer)."""
        if self.engine is None:
            self.configure(get_settings())
        if self._sqlite_path is None:
            return None
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._sqlite_path, check_same_thread=False, isolation_level=None)
            try:
                conn.execute(f"PRAGMA busy_timeout={sqlite_busy_ms(self._settings or get_settings())}")
                conn.execute("PRAGMA query_only=ON")
            except sqlite3.Error:
                conn.close()
                raise
            self._readers.conn = conn
            self._opened.append(conn)
        return conn

    def discard_sqlite_reader(self) -> None:
        """Forget this thread's read connection after it failed (file gone, unreadable): the next read reopens."""
        conn: sqlite3.Connection | None = getattr(self._readers, "conn", None)
        if conn is not None:
            self._readers.conn = None
            if conn in self._opened:
                self._opened.remove(conn)
            conn.close()

    def session(self) -> AsyncSession:
        if self.sessionmaker is None:
            self.configure(get_settings())
        assert self.sessionmaker is not None
        return self.sessionmaker()

    @property
    def dialect_name(self) -> str:
        if self.engine is None:
            self.configure(get_settings())
        assert self.engine is not None
        return self.engine.dialect.name

    async def dispose(self) -> None:
        for conn in self._opened:
            conn.close()
        self._opened.clear()
        self._readers = threading.local()
        if self._pg_reads is not None:
            pool, self._pg_reads = self._pg_reads, None
            await pool.close()
        if self.engine is not None:
            await self.engine.dispose()
        self.engine = None
        self.sessionmaker = None


db = Database()


class SessionMiddleware:
    """One session per HTTP request, closed (rolled back unless committed) after the response.

    A pure ASGI middleware rather than a `yield` dependency: it does the same job for a fraction of the per-request
    cost, and the session connects to the database only when first used.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder: list[AsyncSession] = []
        scope.setdefault("state", {})["db_session"] = holder
        try:
            await self.app(scope, receive, send)
        finally:
            if holder:
                await holder[0].close()


async def get_session(request: Request) -> AsyncSession:
    holder = request.scope.get("state", {}).get("db_session")
    if holder is None:  # the app is used without its middleware stack (never in the service)
        raise RuntimeError("SessionMiddleware is not installed")
    if not holder:
        holder.append(db.session())
    return holder[0]


SessionDep = Annotated[AsyncSession, Depends(get_session)]
