"""An aiosqlite-compatible connection that runs each SQLite call directly on the event loop.

aiosqlite hands every call to a helper thread and back, which costs far more than the call itself: a primary-key
read takes microseconds in SQLite but several thread round trips through aiosqlite. SQLite is an in-process
library, so for the embedded database we run the calls inline (they block the loop only for their own duration)
while keeping SQLAlchemy's async API, so the application code is the same for SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any


class InlineCursor:
    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, operation: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(operation, parameters)
        return self

    async def executemany(self, operation: str, seq: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(operation, seq)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> Sequence[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None


class InlineConnection:
    """The subset of `aiosqlite.Connection` SQLAlchemy's aiosqlite dialect uses."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection = conn  # the dialect checks this attribute to know the connection is open

    def cursor(self, *args: Any, **kwargs: Any) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        self._conn.close()
        self._connection = None  # type: ignore[assignment]

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    def stop(self) -> None:
        self._conn.close()


def inline_creator(path: str, **connect_args: Any):
    async def create() -> InlineConnection:
        # check_same_thread=False: a pooled connection may be used by a later event loop in another thread
        # (test clients); it is never used by two tasks at once.
        conn = sqlite3.connect(path, check_same_thread=False, **connect_args)
        return InlineConnection(conn)

    return create
