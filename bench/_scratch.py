"""What the benchmarks that start servers share: a free port, and a scratch database of their own."""

from __future__ import annotations

import socket
import tempfile


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scratch_database(postgres: str | None, schema: str) -> str:
    """SQLite in a temporary directory; with `postgres`, the schema `schema` of that database, dropped and made
    again, as the URL's search path."""
    if postgres is None:
        return f"sqlite:///{tempfile.mkdtemp(prefix=schema.replace('_', '-') + '-')}/bench.db"
    from sqlalchemy import create_engine, text

    from app.core.db import sync_url

    engine = create_engine(sync_url(postgres), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    sep = "&" if "?" in postgres else "?"
    return f"{postgres}{sep}options=-csearch_path%3D{schema}"
