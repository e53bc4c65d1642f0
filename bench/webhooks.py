"""Webhook delivery: one worker process, one local receiver, 10,000 events.

    python bench/webhooks.py [--events 10000] [--rate 500] [--postgres URL]

Builds a scratch database (SQLite in a temporary directory; with `--postgres`, the schema `bench_webhooks` of that
database, dropped and made again), adds one organization with one endpoint, starts a receiver (a small asyncio
HTTP server in a process of its own, answering 204) and one worker (`python -m app worker`). Then:

* baseline: the receiver's own capacity, measured by POSTing the same number of event-sized bodies to it directly
  from a lean asyncio client over 50 keep-alive connections (the worker's concurrency);
* burst: the events committed as fast as possible (transactions of 100): deliveries/s from the first commit to
  the last delivery, and each event's time from its commit to its arrival at the receiver;
* steady: the events committed at `--rate` per second (transactions of 10): commit-to-delivery p50 and p99.

Events are written straight into the change feed's table, as the write hook writes them. Targets: >= 500
deliveries/s, p99 commit-to-delivery <= 2 s at 500 events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._scratch import free_port, scratch_database  # noqa: E402

SCHEMA = "bench_webhooks"
CONCURRENCY = 50


# ---- the receiver (its own process) ------------------------------------------------------------------------------

def _receiver(port: int) -> None:
    received: dict[str, float] = {}
    total = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal total
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                now = time.time()
                length, webhook_id, stats, reset = 0, None, head.startswith(b"GET /stats"), head.startswith(
                    b"POST /reset")
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"webhook-id":
                        webhook_id = value.strip().decode()
                if length:
                    await reader.readexactly(length)
                if stats:
                    body = json.dumps({"total": total, "received": received}).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                                 + str(len(body)).encode() + b"\r\n\r\n" + body)
                else:
                    if reset:
                        received.clear()
                        total = 0
                    else:
                        total += 1
                        if webhook_id is not None:
                            received.setdefault(webhook_id, now)
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def setup(url: str, receiver_url: str) -> tuple[Any, uuid.UUID, uuid.UUID]:
    """Migrate; one organization with one endpoint (created an hour ago); the events' candidate id."""
    from sqlalchemy import create_engine, insert

    from app.accounts.models import Organization
    from app.core.db import sync_url
    from app.core.migrate import upgrade_head
    from app.webhooks.models import WebhookEndpoint
    from app.webhooks.signing import encrypt_secret, new_secret

    upgrade_head(url)
    engine = create_engine(sync_url(url))
    then = datetime.now(UTC) - timedelta(hours=1)
    org, cand = uuid.uuid4(), uuid.uuid4()
    stamps = {"created_at": then, "updated_at": then, "version": 1}
    with engine.begin() as conn:
        conn.execute(insert(Organization.__table__).values(id=org, name="Bench", **stamps))  # type: ignore[attr-defined]
        conn.execute(insert(WebhookEndpoint.__table__).values(  # type: ignore[attr-defined]
            id=uuid.uuid4(), organization_id=org, url=receiver_url, event_types=[], enabled=True,
            secret_encrypted=encrypt_secret(new_secret()), **stamps))
    return engine, org, cand


def event_rows(n: int, org: uuid.UUID, cand: uuid.UUID) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        sid = uuid.uuid4()
        out.append({"id": uuid.uuid4(), "type": "milestone.updated", "occurred_at": now, "organization_id": org,
                    "candidate_id": cand, "subject_type": "milestone", "subject_id": sid,
                    "subject_external_id": f"SIS-M-{i}", "subject_version": 2,
                    "data": {"object": {"id": str(sid), "candidate_id": str(cand), "external_id": f"SIS-M-{i}",
                                        "type_code": "usmle_step2ck", "status": "passed", "attempt": 1,
                                        "scheduled_on": None, "completed_on": "2026-08-01",
                                        "result": {"score": 250}, "notes": "Bench event", "version": 2,
                                        "created_at": now.isoformat(), "updated_at": now.isoformat()},
                             "changed_fields": ["completed_on", "status"]}})
    return out


def produce(engine: Any, rows: list[dict[str, Any]], per_tx: int, rate: float | None) -> dict[str, float]:
    """Commit the events, `per_tx` a transaction, at `rate` per second (None: as fast as possible); each event's
    commit time."""
    from sqlalchemy import insert

    from app.events.models import Event

    table = Event.__table__  # type: ignore[attr-defined]
    committed: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(0, len(rows), per_tx):
        chunk = rows[i:i + per_tx]
        if rate is not None:
            due = start + i / rate
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
        with engine.begin() as conn:
            conn.execute(insert(table), chunk)
        at = time.time()
        for r in chunk:
            committed[str(r["id"])] = at
    return committed


# ---- measuring -----------------------------------------------------------------------------------------------------

def stats(base: str) -> dict[str, Any]:
    import httpx

    return dict(httpx.get(f"{base}/stats", timeout=30).json())


def reset(base: str) -> None:
    import httpx

    httpx.post(f"{base}/reset", timeout=30)


def wait_for(base: str, ids: set[str], timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        received = stats(base)["received"]
        if ids <= received.keys():
            return {i: received[i] for i in ids}
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(ids & received.keys())} of {len(ids)} events arrived in {timeout:.0f} s")
        time.sleep(0.2)


def baseline(base: str, n: int, body: bytes) -> float:
    """The receiver's capacity: the same number of POSTs sent with a lean client of plain asyncio streams,
    CONCURRENCY keep-alive connections each sending one request after another. (httpx itself peaks near
    400 requests/s on this kind of machine, so a baseline sent with it measures the client, not the receiver.)"""
    host, port = base.removeprefix("http://").split(":")

    async def connection(ids: range) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in ids:
                writer.write(b"POST /hooks HTTP/1.1\r\nHost: " + host.encode() + b"\r\ncontent-type: "
                             b"application/json\r\nwebhook-id: baseline-" + str(i).encode()
                             + b"\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 2"):
                    raise SystemExit(f"the receiver answered {head.splitlines()[0]!r}")
        finally:
            writer.close()

    async def run() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(connection(range(k, n, CONCURRENCY)) for k in range(CONCURRENCY)))
        return n / (time.perf_counter() - start)

    return asyncio.run(run())


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1] if len(values) > 1 else values[0]


def report(label: str, committed: dict[str, float], received: dict[str, float]) -> tuple[float, float, float]:
    lat = [received[i] - committed[i] for i in committed]
    rate = len(committed) / (max(received.values()) - min(committed.values()))
    p50, p99 = statistics.median(lat), pct(lat, 99)
    print(f"  {label:<34} {rate:8.0f} deliveries/s   commit-to-delivery p50 {p50 * 1000:7.0f} ms   "
          f"p99 {p99 * 1000:7.0f} ms   max {max(lat) * 1000:7.0f} ms")
    return rate, p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=500.0, help="events per second in the steady phase")
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL (schema bench_webhooks of this DB)")
    args = parser.parse_args()

    url = scratch_database(args.postgres, SCHEMA)
    os.environ.update({"DATABASE_URL": url, "WEBHOOK_ALLOW_PRIVATE_URLS": "true", "ENVIRONMENT": "development"})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver = multiprocessing.get_context("spawn").Process(target=_receiver, args=(port,), daemon=True)
    receiver.start()
    engine, org, cand = setup(url, f"{base}/hooks")
    worker = subprocess.Popen([sys.executable, "-m", "app", "worker"], cwd=ROOT, env=dict(os.environ),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        print(f"webhooks: {args.events} events, one worker (concurrency {CONCURRENCY}), receiver on loopback, "
              f"{'PostgreSQL' if args.postgres else 'SQLite'}")
        warm = event_rows(50, org, cand)  # the worker is up and has connections open
        wait_for(base, set(produce(engine, warm, 10, None)), 60)
        body = json.dumps({"id": str(uuid.uuid4()), "type": "milestone.updated", **warm[0]["data"]}).encode()
        reset(base)
        capacity = baseline(base, args.events, body)
        print(f"  {'baseline: lean client -> receiver':<34} {capacity:8.0f} requests/s (the receiver's capacity)")
        reset(base)

        rows = event_rows(args.events, org, cand)
        committed = produce(engine, rows, 100, None)
        burst = report("burst (all at once)", committed, wait_for(base, set(committed), 300))
        reset(base)
        rows = event_rows(args.events, org, cand)
        committed = produce(engine, rows, 10, args.rate)
        steady = report(f"steady ({args.rate:.0f} events/s)", committed, wait_for(base, set(committed), 300))
        print(f"  deliveries/s vs the receiver's capacity: {burst[0] / capacity:.2f}; "
              f"targets: >= 500/s ({'met' if burst[0] >= 500 else 'MISSED'}), p99 <= 2 s at "
              f"{args.rate:.0f}/s ({'met' if steady[2] <= 2 else 'MISSED'})")
    finally:
        worker.terminate()
        worker.wait(30)
        receiver.terminate()
        engine.dispose()


if __name__ == "__main__":
    main()
