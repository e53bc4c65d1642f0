"""Exit 0 when the PostgreSQL server at the given URL answers, 1 otherwise (used by `make test`)."""

import sys

import psycopg
from sqlalchemy.engine import make_url


def main() -> int:
    url = make_url(sys.argv[1])
    try:
        with psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username,
                             password=url.password, dbname=url.database, connect_timeout=3) as conn:
            conn.execute("select 1")
        return 0
    except psycopg.Error as exc:
        print(f"PostgreSQL check failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
