"""Prometheus metrics: requests and latency per route template and status, server errors, the database pools, and
the worker's backlog; served at `/metrics` (app.health) to a scraper holding METRICS_TOKEN.

Several uvicorn workers are one service to a scraper, which reaches one of them per scrape: each worker writes its
samples to files in a directory they share (prometheus_client's multiprocess mode), and the scraped one sums them.
The mode is on when PROMETHEUS_MULTIPROC_DIR is set, or when this process is a worker started by a supervising
process (`uvicorn --workers N`): then the directory is `$TMPDIR/matchready-metrics-<supervisor pid>-<its start>`,
named by the supervisor's pid and when it started (the kernel's boot id and clock ticks since boot, from /proc), so
each start of the server has a directory of its own: in a container the supervisor is always pid 1, and a directory
named by the pid alone would hand a restarted server the samples of the workers that ran before. Each worker removes
the directories of supervisors no longer running as it starts (so servers in different PID namespaces, containers,
must not share a TMPDIR: each would take the other's for gone). Without /proc the name is the pid alone.
prometheus_client reads the variable when it is first imported, so this module sets it before importing it, and is
the only importer.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

_SHARED = re.compile(r"^matchready-metrics-(\d+)-([0-9a-f]{8}-\d+)$")


def started(pid: int) -> str | None:
    """When process `pid` started: the kernel's boot id (its first 8 characters) and the clock ticks from that boot
    to the process's start; the pair names one process across restarts and reboots, where a pid does not. None when
    there is no such process, or no /proc."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:
        return None
    return f"{boot[:8]}-{stat.rsplit(')', 1)[1].split()[19]}"  # field 22, starttime (fields after the name: 3 on)


def shared_dir(tmp: str, supervisor: int) -> str:
    """The directory the workers of this start of the supervisor share."""
    start = started(supervisor)
    return os.path.join(tmp, f"matchready-metrics-{supervisor}" + (f"-{start}" if start else ""))


def remove_stale(tmp: str, keep: str) -> None:
    """Remove the directories left by supervisors no longer running (their pid now names another process, or none);
    those of running ones stay, whoever they are."""
    if started(os.getpid()) is None:  # no /proc: nothing can be told apart
        return
    with os.scandir(tmp) as entries:
        for entry in entries:
            found = _SHARED.match(entry.name)
            if found and entry.path != keep and started(int(found[1])) != found[2]:
                shutil.rmtree(entry.path, ignore_errors=True)


def _multiprocess_dir() -> str | None:
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        os.makedirs(given, exist_ok=True)
        return given
    if multiprocessing.parent_process() is None:  # a single process: the samples live in its memory
        return None
    tmp = tempfile.gettempdir()
    shared = shared_dir(tmp, os.getppid())
    remove_stale(tmp, keep=shared)
    os.makedirs(shared, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
    return shared


MULTIPROCESS_DIR = _multiprocess_dir()

from prometheus_client import (  # noqa: E402 (after the variable that selects the mode)
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily  # noqa: E402
from prometheus_client.registry import Collector  # noqa: E402

CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter("matchready_http_requests_total", "HTTP requests answered, by method, route template and status.",
                   ["method", "route", "status"])
LATENCY = Histogram("matchready_http_request_duration_seconds",
                    "Time to answer an HTTP request, by method, route template and status.",
                    ["method", "route", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
ERRORS = Counter("matchready_http_errors_total",
                 "HTTP requests answered with a server error (5xx), or failed by an unhandled exception.",
                 ["method", "route", "status"])
POOL = Gauge("matchready_db_pool_connections", "Database connections per pool: `size` open, `checked_out` in use.",
             ["pool", "state"], multiprocess_mode="livesum")

_POOL_EVERY = 1.0  # seconds between two readings of the pools by one process
_pool_read_at = 0.0


def observe_request(method: str, route: str, status: int, duration: float, *, failed: bool = False) -> None:
    s = str(status)
    REQUESTS.labels(method, route, s).inc()
    LATENCY.labels(method, route, s).observe(duration)
    if status >= 500 or failed:
        ERRORS.labels(method, route, s).inc()
    global _pool_read_at
    now = time.monotonic()
    if now - _pool_read_at >= _POOL_EVERY:
        _pool_read_at = now
        read_pools()


def read_pools() -> None:
    """Record this process's pool occupancy (each request does, at most once a second)."""
    from app.core.db import db

    for name, (size, checked_out) in db.pool_stats().items():
        POOL.labels(name, "size").set(size)
        POOL.labels(name, "checked_out").set(checked_out)


# ---- the worker's backlog: counted from the database at each scrape -------------------------------------------

BacklogCounter = Callable[[Any], Awaitable[int]]  # (AsyncSession) -> how many units wait
_BACKLOGS: dict[str, BacklogCounter] = {}


def backlog(queue: str) -> Callable[[BacklogCounter], BacklogCounter]:
    """Register a count of work waiting for the worker (a domain's queue), reported as `matchready_worker_backlog`."""

    def register(fn: BacklogCounter) -> BacklogCounter:
        _BACKLOGS[queue] = fn
        return fn

    return register


class _Backlog(Collector):
    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def collect(self) -> Any:
        family = GaugeMetricFamily("matchready_worker_backlog", "Work waiting for the background worker, by queue.",
                                   labels=["queue"])
        for queue, n in sorted(self.counts.items()):
            family.add_metric([queue], n)
        yield family


async def _backlog_counts() -> dict[str, int]:
    from app.core.db import db
    from app.core.logs import get_logger

    counts: dict[str, int] = {}
    if not _BACKLOGS:
        return counts
    try:
        async with db.session() as session:
            for queue, count in _BACKLOGS.items():
                counts[queue] = await count(session)
    except Exception as exc:  # the database is down: the scrape still reports the rest
        get_logger("matchready.metrics").warning("metrics.backlog_unavailable", error=exc.__class__.__name__)
    return counts


async def exposition() -> bytes:
    """The text a scraper reads: this process's samples, or every worker's in multiprocess mode."""
    from prometheus_client import REGISTRY

    read_pools()
    counts = await _backlog_counts()
    if MULTIPROCESS_DIR is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Registry(REGISTRY))
    registry.register(_Backlog(counts))
    return generate_latest(registry)


class _Registry(Collector):
    """The process's default registry, as one collector of a per-scrape registry."""

    def __init__(self, inner: CollectorRegistry) -> None:
        self.inner = inner

    def collect(self) -> Any:
        return self.inner.collect()


def process_exiting() -> None:
    """A worker stops: its live gauges (the pools) no longer count."""
    if MULTIPROCESS_DIR is not None:
        multiprocess.mark_process_dead(os.getpid())
