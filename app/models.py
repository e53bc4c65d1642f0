"""Imports every table module so SQLModel's metadata is complete (for Alembic and the test database)."""


def import_all_models() -> None:
    import app.accounts.models  # noqa: F401
    import app.audit.models  # noqa: F401
    import app.calendars.models  # noqa: F401
    import app.candidates.models  # noqa: F401
    import app.core.idempotency  # noqa: F401
    import app.events.models  # noqa: F401
    import app.guidance.models  # noqa: F401
    import app.imports.models  # noqa: F401
    import app.milestones.models  # noqa: F401
    import app.programs.models  # noqa: F401
    import app.usce.models  # noqa: F401
    import app.webhooks.models  # noqa: F401
