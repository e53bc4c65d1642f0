"""Structured logs: one configuration (structlog) for the server and the worker, with the standard library's loggers
(uvicorn's, SQLAlchemy's, ours) rendered by the same processors, as JSON lines or for a console.

What may reach a log line: method, route template, status, duration, ids (request, principal, resource), counts,
exception classes. Never a raw path (the calendar URL carries its token), a query string, a body, a header value,
or a person's name, e-mail or date of birth. Libraries that log such things at INFO or DEBUG (SQLAlchemy's SQL and
parameters, httpx's URLs, uvicorn's own access log) are held at WARNING, whatever LOG_LEVEL says.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.types import Processor

from app.core.config import Settings

# Loggers whose INFO/DEBUG lines carry request data (SQL parameters, URLs with their query, raw request paths).
QUIET_LOGGERS = ("sqlalchemy", "httpx", "httpcore", "aiosqlite", "psycopg", "hpack", "multipart", "python_multipart",
                 "asyncio", "hypothesis", "schemathesis", "urllib3", "selenium")
# Uvicorn's access log prints the raw path and query: ours (app.core.observe) replaces it in every mode.
SILENCED_LOGGERS = ("uvicorn.access",)
# Uvicorn installs handlers of its own on these; they are removed so that their records reach ours.
ROUTED_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "gunicorn.error")

_configured: tuple[str, str] | None = None


class _Stdout(logging.StreamHandler):
    """Writes to the current `sys.stdout` (looked up at every record, so a replaced stdout is honoured)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns it
        pass


def _drop_color_message(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's copy of the message with terminal colours
    return event


def _processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,  # request_id (and whatever else a request binds)
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def _formatter(fmt: str) -> logging.Formatter:
    renderer: Processor = (structlog.processors.JSONRenderer() if fmt == "json"
                           else structlog.dev.ConsoleRenderer(colors=False))
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *([structlog.processors.format_exc_info] if fmt == "json" else []), renderer],
    )


def uvicorn_formatter() -> logging.Formatter:
    """The formatter of `app/logging.json`, uvicorn's `--log-config`: under `--workers` the supervising process
    never imports the app, and logs its own lines (start, stop, restarted workers) with this."""
    from app.core.config import get_settings

    return _formatter(get_settings().resolved_log_format)


def configure_logging(settings: Settings, *, force: bool = False) -> None:
    """Configure logging once per process (the app at start-up, the worker at its start); `force` redoes it."""
    global _configured
    fmt = settings.resolved_log_format
    key = (settings.log_level, fmt)
    if _configured == key and not force:
        return
    shared = _processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.PositionalArgumentsFormatter(),
                    structlog.processors.StackInfoRenderer(), structlog.processors.format_exc_info,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _Stdout()
    handler.set_name("matchready")
    handler.setFormatter(_formatter(fmt))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "matchready"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ROUTED_LOGGERS:
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
        lg.setLevel(logging.NOTSET)
    quiet = max(logging.WARNING, logging.getLevelName(settings.log_level))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(quiet)
    for name in SILENCED_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    _configured = key


def get_logger(name: str) -> Any:
    """A structlog logger: `log.info("event.name", key=value, ...)`."""
    return structlog.stdlib.get_logger(name)
