"""The access log's direct JSON line (app.core.logs.access_line) says what the ordinary structlog chain says.

The direct line is taken only when the configured JSON handler is the root logger's one handler, which pytest's own
log capture never leaves it; so this test puts it there, writes one line each way and compares them."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import structlog

from app.core.config import Settings
from app.core.logs import ACCESS_LOGGER, access_line, configure_logging, get_logger


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging(Settings(log_format="json", log_level="INFO"), force=True)  # type: ignore[call-arg]
    yield
    configure_logging(Settings(), force=True)  # type: ignore[call-arg]


@contextmanager
def only_our_handler() -> Iterator[None]:
    """pytest adds its capture handlers to the root logger for each phase; inside this block only ours is there."""
    saved = logging.root.handlers
    logging.root.handlers = [h for h in saved if h.get_name() == "matchready"]
    try:
        yield
    finally:
        logging.root.handlers = saved


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("level", [logging.INFO, logging.ERROR])
def test_the_direct_line_has_the_keys_values_and_order_of_the_ordinary_one(json_logs, capsys, level):
    fields = {"method": "GET", "route": "/v1/candidates/{candidate_id}", "status": 200 if level == logging.INFO
              else 503, "duration_ms": 1.25, "principal_id": "7f1c0e4e-5a07-4a52-9d2b-0c8c2f3a5b61"}
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="rid-1")
    with only_our_handler():
        getattr(get_logger(ACCESS_LOGGER), logging.getLevelName(level).lower())("request", **fields)
        access_line(level, "rid-1", **dict(fields))
    structlog.contextvars.clear_contextvars()
    ordinary, direct = _lines(capsys.readouterr().out)
    assert list(direct) == list(ordinary)
    assert {k: v for k, v in direct.items() if k != "timestamp"} == {k: v for k, v in ordinary.items()
                                                                     if k != "timestamp"}
    assert str(direct["timestamp"]).endswith("Z") and str(direct["timestamp"])[:16] == str(ordinary["timestamp"])[:16]


def test_a_level_the_logger_is_not_enabled_for_writes_nothing(json_logs, capsys):
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
    try:
        with only_our_handler():
            access_line(logging.INFO, "rid-2", method="GET", route="/x", status=200, duration_ms=0.1,
                        principal_id=None)
    finally:
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET)
    assert _lines(capsys.readouterr().out) == []


def test_generated_request_ids_are_version_4_uuids_in_their_text_form():
    import uuid

    from app.core.observe import new_request_id

    ids = [new_request_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for rid in ids:
        u = uuid.UUID(rid)
        assert str(u) == rid and u.version == 4 and u.variant == uuid.RFC_4122


def test_lines_written_in_an_event_loop_are_flushed_together_soon_and_errors_at_once(json_logs, monkeypatch):
    import asyncio
    import io

    from app.core import logs

    class Out(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            Out.flushes += 1

    out = Out()
    monkeypatch.setattr("sys.stdout", out)

    async def requests() -> tuple[int, int, int]:
        with only_our_handler():
            for i in range(50):
                access_line(logging.INFO, f"r{i}", method="GET", route="/x", status=200, duration_ms=0.1,
                            principal_id=None)
            before = Out.flushes
            await asyncio.sleep(logs.ACCESS_FLUSH_SECONDS * 3)
            after = Out.flushes
            access_line(logging.ERROR, "r-err", method="GET", route="/x", status=503, duration_ms=0.1,
                        principal_id=None)
            return before, after, Out.flushes

    assert asyncio.run(requests()) == (0, 1, 2)
    assert len(out.getvalue().splitlines()) == 51
