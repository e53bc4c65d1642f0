"""A client that sends its body too slowly gets a 408 problem and the connection closed; it does not hold a
worker (BODY_READ_TIMEOUT_SECONDS)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.served import wait_live


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


# ---- the request head: a real server (uvicorn with the project's protocol), raw sockets -----------------------

HEAD_TIMEOUT = 0.6


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    import os
    import subprocess
    import sys

    from bench._scratch import free_port

    tmp = tmp_path_factory.mktemp("slow-clients")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DATABASE_URL=f"sqlite:///{tmp}/slow.db", ENVIRONMENT="test", SECRET_KEY="slow-test-" + "k" * 40,
               HEADER_READ_TIMEOUT_SECONDS=str(HEAD_TIMEOUT))
    subprocess.run([sys.executable, "-m", "app", "migrate"], env=env, cwd=tmp, check=True, capture_output=True)
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), "--http",
                             "app.core.server:HeadTimeoutH11Protocol", "--log-level", "warning"], env=env, cwd=tmp)
    try:
        wait_live(proc, f"http://127.0.0.1:{port}", timeout=30)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _answer(sock: Any, wait: float = 5.0) -> tuple[bytes, float]:
    """Everything the server sends until it closes (or `wait` passes), and when it closed."""
    sock.settimeout(wait)
    started, got = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            got += chunk
    except TimeoutError:
        pass
    return got, time.monotonic() - started


def _connect(port: int) -> Any:
    import socket

    return socket.create_connection(("127.0.0.1", port))


def test_a_connection_that_sends_nothing_is_closed_with_408(server):
    with _connect(server) as sock:
        got, took = _answer(sock)
    assert got.startswith(b"HTTP/1.1 408 ") and b"application/problem+json" in got
    assert took < HEAD_TIMEOUT + 2


def test_a_head_sent_a_byte_at_a_time_is_cut_off(server):
    head = b"GET /livez HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 40 + b"\r\n\r\n"
    with _connect(server) as sock:
        started = time.monotonic()
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)  # 3 s in all: far past the deadline
        except OSError:
            pass  # closed on us, as it should
        got, _ = _answer(sock)
    assert got.startswith(b"HTTP/1.1 408 "), got[:80]
    assert time.monotonic() - started < len(head) * 0.05  # cut off before the head was done


def test_prompt_requests_are_served_and_a_kept_alive_connection_gets_its_own_deadline(server):
    with _connect(server) as sock:
        sock.sendall(b"GET /livez HTTP/1.1\r\nHost: localhost\r\n\r\n")
        sock.settimeout(5)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /livez HTTP/1.1\r\n")  # the next request's head, never finished
        got, took = _answer(sock)
    # (what arrives first may be the rest of the first answer: its body)
    assert b"HTTP/1.1 408 " in got and took < HEAD_TIMEOUT + 2


# ---- a request the server cannot parse: the same problem document as every other error ------------------------

def _parse_answer(got: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = got.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ")[1]), headers, body


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",  # no method, target or version
    b"GET /livez HTTP/1.1\r\nHost: localhost\r\nBad Header Name: x\r\n\r\n",  # a space in a field name
    b"GET /livez HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\x00b\r\n\r\n",  # a NUL in a field value
    b"GET /livez HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc",  # two lengths
])
def test_a_malformed_request_is_a_400_problem_with_the_security_headers(server, request_bytes):
    with _connect(server) as sock:
        sock.sendall(request_bytes)
        got, took = _answer(sock)
    assert took < HEAD_TIMEOUT, "the connection is closed at once, not left to the head timeout"
    status, headers, body = _parse_answer(got)
    assert status == 400, got[:200]
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY" and "content-security-policy" in headers
    assert len(headers["x-request-id"]) == 36
    assert int(headers["content-length"]) == len(body)
    problem = json.loads(body)
    assert problem == {"type": "/problems/bad-request", "title": "Malformed request", "status": 400,
                       "detail": "The request line or headers are not valid HTTP/1.1."}


def test_the_head_timeout_answer_carries_the_same_headers(server):
    with _connect(server) as sock:
        got, _ = _answer(sock)
    status, headers, body = _parse_answer(got)
    assert status == 408 and headers["connection"] == "close" and len(headers["x-request-id"]) == 36
    assert headers["x-content-type-options"] == "nosniff" and int(headers["content-length"]) == len(body)
    assert json.loads(body)["type"] == "/problems/request-timeout"
