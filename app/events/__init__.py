"""The change feed. Importing the package registers its writer with the write hook (app.core.changes)."""

from app.events import outbox as _outbox  # noqa: F401
