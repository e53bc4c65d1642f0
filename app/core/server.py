"""The HTTP protocol the server runs: uvicorn's h11, with a deadline for each request's head.

uvicorn times out an idle keep-alive connection, but not a client that connects and sends nothing, nor one that
sends its request line and headers a byte at a time: each byte cancels the keep-alive timer, and the application
is not called until the head is complete, so no middleware can see it. This protocol gives each request head
HEADER_READ_TIMEOUT_SECONDS from the connection (or, on a kept-alive connection, from the first byte of the next
request); past it the answer is 408 and the connection is closed. The body's pace is RequestGuard's
(BODY_READ_TIMEOUT_SECONDS). Used with `uvicorn --http app.core.server:HeadTimeoutH11Protocol` (the Makefile and
the image do).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from app.core.config import get_settings


def _answer_408(seconds: float) -> bytes:
    body = json.dumps({"type": "/problems/request-timeout", "title": "Request timeout", "status": 408,
                       "detail": f"The request head did not arrive within {seconds:g} seconds."}).encode()
    return (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/problem+json\r\nConnection: close\r\n"
            b"X-Content-Type-Options: nosniff\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


class HeadTimeoutH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_seconds = get_settings().header_read_timeout_seconds
        self._head_timer: asyncio.TimerHandle | None = None
        self._waiting_after: object | None = None  # the cycle before the head being waited for

    def _arm(self) -> None:
        self._waiting_after = self.cycle
        self._head_timer = self.loop.call_later(self._head_seconds, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a request is closed too

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()  # the first byte of the next request on a kept-alive connection
        super().data_received(data)
        if self._head_timer is not None and self.cycle is not self._waiting_after:
            self._disarm()  # the head is in: a new request-response cycle began

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.cycle is not self._waiting_after:
            return
        self.transport.write(_answer_408(self._head_seconds))
        self.transport.close()
