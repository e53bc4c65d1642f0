"""A real webhook receiver for the tests: a small threaded HTTP server on a free loopback port.

It records every request (headers, body, when it came and whether it was answered) and how many requests for the
same `webhook-id` were in progress at once. `mode` says how it answers: `ok` (204), a status code such as 500 or
410, `slow` (answers after `delay` seconds),
`trickle` (a byte of body every `delay` seconds), or `stall` (holds the request until `release()`)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float
    answered: bool = False


@dataclass
class Receiver:
    mode: str | int = "ok"
    delay: float = 0.0
    redirect_to: str = "http://127.0.0.1:9/elsewhere"
    requests: list[Received] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight_per_id: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def release(self) -> None:
        self._released.set()

    def answered(self) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if r.answered]

    def ids(self, answered_only: bool = True) -> list[str]:
        with self.lock:
            return [r.headers["webhook-id"] for r in self.requests if r.answered or not answered_only]

    def wait_for(self, n: int, timeout: float = 10.0, answered_only: bool = False) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                got = [r for r in self.requests if r.answered or not answered_only]
            if len(got) >= n:
                return got
            time.sleep(0.02)
        raise AssertionError(f"the receiver got {len(got)} requests, expected {n}")

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("content-length") or 0)
        body = handler.rfile.read(length)
        item = Received({k.lower(): v for k, v in handler.headers.items()}, body, time.time())
        webhook_id = item.headers.get("webhook-id", "")
        with self.lock:
            self.requests.append(item)
            self.in_flight[webhook_id] += 1
            self.max_in_flight_per_id = max(self.max_in_flight_per_id, self.in_flight[webhook_id])
            self.max_in_flight = max(self.max_in_flight, sum(self.in_flight.values()))
        try:
            mode = self.mode
            if mode == "trickle":  # a status line at once, then one byte of body at a time, forever
                handler.send_response(200)
                handler.send_header("Content-Length", "1000")
                handler.end_headers()
                for _ in range(1000):
                    handler.wfile.write(b".")
                    handler.wfile.flush()
                    time.sleep(self.delay)
                item.answered = True
                return
            if mode == "stall":
                self._released.wait(30)
                mode = "ok"
            elif mode == "slow":
                time.sleep(self.delay)
                mode = "ok"
            elif self.delay:
                time.sleep(self.delay)
            status = 204 if mode == "ok" else int(mode)
            handler.send_response(status)
            if 300 <= status < 400:
                handler.send_header("Location", self.redirect_to)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            item.answered = True
        except OSError:  # the sender went away (timed out, or its process was killed)
            pass
        finally:
            with self.lock:
                self.in_flight[webhook_id] -= 1


def start_receiver(**kwargs: Any) -> Receiver:
    receiver = Receiver(**kwargs)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            receiver._handle(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.server = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def stop_receiver(receiver: Receiver) -> None:
    receiver.release()
    if receiver.server is not None:
        receiver.server.shutdown()
        receiver.server.server_close()
