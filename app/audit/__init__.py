"""The audit trail (FERPA's record of access and disclosure). Importing the package registers its writer with the
write hook (app.core.changes)."""

from app.audit import writer as _writer  # noqa: F401
