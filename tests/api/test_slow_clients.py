"""A client that sends its body too slowly gets a 408 problem and the connection closed; it does not hold a
worker (BODY_READ_TIMEOUT_SECONDS)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest


def _call(app: Any, method: str, path: str, chunks: list[bytes], *, stall: bool, headers: dict[str, str]
          ) -> tuple[int, dict[str, str], bytes, float]:
    """The app driven as a server drives it: the body in parts, then (stall) nothing more, ever."""

    async def go() -> tuple[int, dict[str, str], bytes, float]:
        parts = list(chunks)
        forever = asyncio.Event()

        async def receive() -> dict[str, Any]:
            if parts:
                part = parts.pop(0)
                return {"type": "http.request", "body": part, "more_body": bool(parts) or stall}
            await forever.wait()  # the client went quiet
            return {"type": "http.disconnect"}

        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
                 "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
                 "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
        started = time.monotonic()
        await app(scope, receive, send)
        took = time.monotonic() - started
        start = next(m for m in sent if m["type"] == "http.response.start")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, took

    return asyncio.run(go())


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_stalled_body_is_408_with_the_connection_closed(app, client, world, settings, method):
    settings(BODY_READ_TIMEOUT_SECONDS="0.3")
    cid = world.north.candidate_id
    path = "/v1/candidates" if method == "POST" else f"/v1/candidates/{cid}"
    status, headers, body, took = _call(
        app, method, path, [b'{"full_name": "Slow'], stall=True,
        headers={**world.north.advisor_headers, "Content-Type": "application/json", "Content-Length": "400",
                 "If-Match": '"v1"'})
    assert status == 408 and headers["connection"] == "close"
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["type"].endswith("/request-timeout") and "0.3 seconds" in problem["detail"]
    assert 0.3 <= took < 3


def test_a_body_that_arrives_in_parts_in_time_is_served(app, client, world, settings):
    settings(BODY_READ_TIMEOUT_SECONDS="5")
    doc = json.dumps({"full_name": "Quick Candidate", "target_match_year": 2027}).encode()
    status, _, body, _ = _call(app, "POST", "/v1/candidates", [doc[:10], doc[10:]], stall=False,
                               headers={**world.north.advisor_headers, "Content-Type": "application/json"})
    assert status == 201, body


def test_408_is_declared_on_every_operation_with_a_body(app):
    doc = app.openapi()
    missing = [f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m, op in ops.items()
               if m in ("post", "put", "patch") and "408" not in op["responses"]]
    assert missing == []
