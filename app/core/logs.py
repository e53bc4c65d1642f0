"""Structured logs: one configuration (structlog) for the server and the worker, with the standard library's loggers
(uvicorn's, SQLAlchemy's, ours) rendered by the same processors, as JSON lines or for a console.

What may reach a log line: method, route template, status, duration, ids (request, principal, resource), counts,
exception classes. Never a raw path (the calendar URL carries its token), a query string, a body, a header value,
or a person's name, e-mail or date of birth. Libraries that log such things at INFO or DEBUG (SQLAlchemy's SQL and
parameters, httpx's URLs, uvicorn's own access log) are held at WARNING, whatever LOG_LEVEL says.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
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


ACCESS_LOGGER = "matchready.access"
ACCESS_FLUSH_SECONDS = 0.1
_access = logging.getLogger(ACCESS_LOGGER)


def access_line(level: int, request_id: str | None, **fields: Any) -> None:
    """The access log's line for one request: what `get_logger(ACCESS_LOGGER).info("request", ...)` writes, the same
    keys in the same order, without the standard library's record and the processor chain on every request.

    Only the JSON lines of the configured handler are written directly (one `orjson` dump and one write to the
    current stdout), because that chain cost a fifth of a plain read's time; the console format, a logger not
    configured by `configure_logging`, or other handlers on the way (a test's log capture) take the ordinary way.
    The request's id is the only value bound for a request (app.core.observe), so it is passed, not looked up."""
    if not _access.isEnabledFor(level):
        return
    name = logging.getLevelName(level).lower()
    if _configured is None or _configured[1] != "json" or _access.handlers or len(logging.root.handlers) != 1:
        getattr(get_logger(ACCESS_LOGGER), name)("request", **fields)
        return
    fields["event"] = "request"
    fields["request_id"] = request_id
    fields["level"] = name
    fields["logger"] = ACCESS_LOGGER
    fields["timestamp"] = datetime.now(UTC)
    sys.stdout.write(orjson.dumps(fields, option=orjson.OPT_UTC_Z).decode() + "\n")
    _flush_soon(level)


_flush_scheduled = False


def _flush() -> None:
    global _flush_scheduled
    _flush_scheduled = False
    sys.stdout.flush()


def _flush_soon(level: int) -> None:
    """Flush stdout within `ACCESS_FLUSH_SECONDS` rather than after every line: one write to the log's pipe for the
    lines of many requests instead of one each (the standard handler's flush per record was a tenth of a plain
    read's time). Errors, and lines written outside an event loop, are flushed at once. A process killed with
    SIGKILL can lose the lines of that last fraction of a second; an ordinary exit flushes them."""
    global _flush_scheduled
    if level >= logging.ERROR:
        sys.stdout.flush()
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        sys.stdout.flush()
        return
    if not _flush_scheduled:
        _flush_scheduled = True
        loop.call_later(ACCESS_FLUSH_SECONDS, _flush)


def get_logger(name: str) -> Any:
    """A structlog logger: `log.info("event.name", key=value, ...)`."""
    return structlog.stdlib.get_logger(name)
