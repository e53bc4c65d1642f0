"""The background worker: `python -m app worker` (or `make worker`), or inside the server process under `make run`.

It runs the jobs the domains register (`job`): each is an async function that does one bounded batch of work and
says how much it did; the worker calls it again at once while there is work, and after `idle_seconds` when there
was none. Any number of worker processes can run side by side: the jobs share their work through the database
(rows claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has one writer at a time), so the worker itself
holds no state. On SIGTERM or SIGINT each job finishes the batch in hand and the process exits.

A job that fails (the database is down, say) is logged and retried after a growing pause, up to a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger("matchready.worker")

# The modules that register jobs; imported when a worker starts.
JOB_MODULES: tuple[str, ...] = ("app.core.idempotency", "app.accounts.purge", "app.events.jobs",
                                "app.guidance.computed", "app.webhooks.jobs", "app.imports.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    run: JobFn
    idle_seconds: float
    parallel: int = 1


_jobs: dict[str, Job] = {}


JobFn = Callable[[], Awaitable[int]]


def job(name: str, *, idle_seconds: float = 1.0, parallel: int = 1) -> Callable[[JobFn], JobFn]:
    """Register `fn` as a job: it does one batch and returns how many units it handled (0: nothing to do).
    With `parallel` > 1 the worker runs that many loops of it side by side, so one batch's database work overlaps
    another's waiting (the job must claim its batches, so that two loops never take the same work)."""

    def register(fn: JobFn) -> JobFn:
        _jobs[name] = Job(name, fn, idle_seconds, parallel)
        return fn

    return register


def jobs() -> dict[str, Job]:
    for module in JOB_MODULES:
        importlib.import_module(module)
    return dict(_jobs)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def _loop(j: Job, stop: asyncio.Event) -> None:
    failures = 0
    while not stop.is_set():
        try:
            done = await j.run()
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception:  # a job must not take the worker down; its next batch retries
            failures += 1
            pause = min(60.0, 0.5 * 2 ** min(failures, 7))
            log.exception("job %s failed (%d in a row); retrying in %.1f s", j.name, failures, pause)
            await _sleep_or_stop(stop, pause)
            continue
        if not done:
            await _sleep_or_stop(stop, j.idle_seconds)


def _wanted(name: str, patterns: list[str]) -> bool:
    return not patterns or any(name == p or (p.endswith(".*") and name.startswith(p[:-1])) for p in patterns)


async def run_worker(stop: asyncio.Event) -> None:
    """Run the registered jobs (all, or those WORKER_JOBS names) until `stop` is set."""
    from app.core.config import get_settings

    patterns = [p.strip() for p in get_settings().worker_jobs.split(",") if p.strip()]
    selected = [j for name, j in jobs().items() if _wanted(name, patterns)]
    if patterns and not selected:
        raise SystemExit(f"WORKER_JOBS={get_settings().worker_jobs!r} names no job; jobs: {', '.join(jobs())}")
    log.info("worker started: %s", ", ".join(j.name for j in selected))
    await asyncio.gather(*(_loop(j, stop) for j in selected for _ in range(j.parallel)))
    log.info("worker stopped")


def main() -> int:
    """`python -m app worker`: a worker process of its own, stopped gracefully by SIGTERM or SIGINT."""
    from app.core.config import get_settings
    from app.core.db import db
    from app.core.logs import configure_logging
    from app.main import create_app

    configure_logging(get_settings())  # JSON lines (console in development), as the server's
    create_app()  # every table and every sink of the write hook, as in the server

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await db.open_read_pool()
        from app.audit.writer import flush_coalesced_every

        flusher = asyncio.create_task(flush_coalesced_every(get_settings().audit_flush_seconds, stop))
        try:
            await run_worker(stop)
        finally:
            stop.set()
            await flusher  # the disclosures noted last
            await db.dispose()

    asyncio.run(run())
    return 0
