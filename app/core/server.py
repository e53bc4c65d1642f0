"""The HTTP protocol the server runs: uvicorn's h11, with a deadline for each request's head.

uvicorn times out an idle keep-alive connection, but not a client that connects and sends nothing, nor one that
sends its request line and headers a byte at a time: each byte cancels the keep-alive timer, and the application
is not called until the head is complete, so no middleware can see it. This protocol gives each request head
HEADER_READ_TIMEOUT_SECONDS from the connection (or, on a kept-alive connection, from the first byte of the next
request); past it the answer is 408 and the connection is closed. The body's pace is RequestGuard's
(BODY_READ_TIMEOUT_SECONDS). Used with `uvicorn --http app.core.server:HeadTimeoutH11Protocol` (the Makefile and
the image do).

A request uvicorn cannot parse (a malformed request line, an invalid header) is answered here too, as every other
error of the service: a 400 `application/problem+json` with the security headers and a request id, and the
connection closed (uvicorn's own is a bare text/plain 400).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from app.core.config import get_settings
from app.core.errors import PROBLEM_JSON, PROBLEM_TYPES
from app.core.observe import answer_headers, new_request_id
from app.core.serialization import dumps

_REASONS = {400: b"Bad Request", 408: b"Request Timeout"}


def _problem_answer(status: int, slug: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer, for a request the application never saw: a problem document, the headers the app's
    answers carry (request id, security headers), and `Connection: close`."""
    pt = PROBLEM_TYPES[slug]
    body = dumps({"type": pt.uri, "title": pt.title, "status": status, "detail": detail})
    scope = {"type": "http", "headers": [], "state": {"request_id": new_request_id()}}
    headers = answer_headers(scope, [(b"content-type", PROBLEM_JSON.encode()), (b"connection", b"close"),
                                     (b"content-length", str(len(body)).encode())])
    head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return b"HTTP/1.1 %d %s\r\n%s\r\n%s" % (status, _REASONS[status], head, body)


def _answer_408(seconds: float) -> bytes:
    return _problem_answer(408, "request-timeout", f"The request head did not arrive within {seconds:g} seconds.")


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

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request h11 refused to parse (`msg` is uvicorn's own, logged by it)."""
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(_problem_answer(400, "bad-request", "The request line or headers are not valid "
                                                                     "HTTP/1.1."))
            self.transport.close()

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self.cycle is not self._waiting_after:
            return
        self.transport.write(_answer_408(self._head_seconds))
        self.transport.close()
