"""The schema is made only by Alembic: the migrations go down and up again cleanly, and what they build is exactly
what the models declare (columns, types, nullability, indexes, constraints), on the database under test."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import app.models  # noqa: F401  (every table on the metadata)
from app.core.db import metadata
from app.core.migrate import downgrade_base, upgrade_head
from tests.conftest import sync_engine


def test_migrations_round_trip_and_build_what_the_models_declare(migrated_database):  # type: ignore[no-untyped-def]
    downgrade_base(migrated_database)
    upgrade_head(migrated_database)
    with sync_engine().connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diffs == []
