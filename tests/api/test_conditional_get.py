"""Every GET carries a strong ETag and answers If-None-Match with 304; HEAD answers wherever GET does."""

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi.routing import APIRoute
from starlette.types import Message, Receive, Scope, Send

from app.core.http import ConditionalGet, body_etag, none_match
from app.main import create_app
from tests.api.helpers import candidate_body, create, north_objects, problem

PASSWORD = "conditional get passphrase 1"
ADMIN_PREFIXES = ("/v1/organizations", "/v1/users")
BODY_HEADERS = {"content-type", "content-length", "content-disposition"}
# Each export of a candidate's data is recorded in the access log the export contains: no two are the same, so
# they are tagged but never revalidate (and say no-store).
NEVER_THE_SAME = {"/v1/candidates/{candidate_id}/export"}


def _get_paths() -> list[str]:
    return sorted(route.path_format for route in create_app().routes
                  if isinstance(route, APIRoute) and "GET" in route.methods and route.include_in_schema)


def _url(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([a-z_]+)\}", lambda m: {**ids, "year": "2027"}[m.group(1)], path)


def _headers(path: str, world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    admin = path.startswith(ADMIN_PREFIXES) and not path.endswith("/readiness")
    return dict(world.admin_headers if admin else world.north.advisor_headers)


def _check_304(r, etag: str) -> None:  # type: ignore[no-untyped-def]
    assert r.status_code == 304, r.text
    assert r.content == b""
    assert r.headers["etag"] == etag
    assert BODY_HEADERS.isdisjoint(r.headers), r.headers


def test_every_get_has_a_strong_etag_a_304_and_a_head(client, world):
    """Resources, lists, computed views (next step, readiness, screening, timeline and its iCalendar form), the
    cohort view, the catalogue and the Match cycles, health and the problem pages alike."""
    objects = north_objects(client, world, external_id="SIS-ETAG-1", password=PASSWORD)
    ids = objects.ids
    paths = [*_get_paths(), "/problems/not-found"]
    assert {"/v1/candidates/{candidate_id}/timeline.ics", "/v1/organizations/{organization_id}/readiness",
            "/v1/milestone-types", "/v1/match-cycles", "/livez"} <= set(paths), paths
    for path in paths:
        url = _url(path, ids)
        headers = objects.session_headers if path.startswith("/v1/auth/sessions") else _headers(path, world)
        r = client.get(url, headers=headers)
        assert r.status_code == 200, (url, r.text)
        etag = r.headers.get("etag", "")
        assert re.fullmatch(r'"[\x21\x23-\x7e]+"', etag), (url, etag)  # strong: no W/ prefix
        if path in NEVER_THE_SAME:
            assert r.headers["cache-control"] == "no-store"
            assert client.get(url, headers={**headers, "If-None-Match": etag}).status_code == 200
            continue
        _check_304(client.get(url, headers={**headers, "If-None-Match": etag}), etag)
        head = client.head(url, headers=headers)
        assert head.status_code == 200 and head.content == b"", url
        # less the fields that differ from one request to the next: the date, the request id, the budget left
        varying = ("date", "x-request-id", "ratelimit")
        same = {k: v for k, v in r.headers.items() if k not in varying}
        assert {k: v for k, v in head.headers.items() if k not in varying} == same, url
        assert head.headers.get("ratelimit-policy") == r.headers.get("ratelimit-policy"), url
        _check_304(client.head(url, headers={**headers, "If-None-Match": etag}), etag)


def test_a_resource_keeps_its_version_etag(client, world):
    url = f"/v1/candidates/{world.north.candidate_id}"
    h = world.north.advisor_headers
    r = client.get(url, headers=h)
    assert r.headers["etag"] == '"v1"'
    _check_304(client.get(url, headers={**h, "If-None-Match": '"v1"'}), '"v1"')
    p = client.patch(url, json={"full_name": "Renamed"}, headers={**h, "If-Match": '"v1"'})
    assert p.status_code == 200 and p.headers["etag"] == '"v2"'
    r = client.get(url, headers={**h, "If-None-Match": '"v1"'})  # the old tag no longer matches
    assert r.status_code == 200 and r.json()["full_name"] == "Renamed" and r.headers["etag"] == '"v2"'


@pytest.mark.parametrize("header,modified", [
    ('"v1"', False),
    ('"v0", "v1"', False),
    ('"v0","v1"', False),
    ('W/"v1"', False),  # If-None-Match compares weakly (RFC 9110 13.1.2)
    ("*", False),
    ('"v0"', True),
    ('"v10"', True),
    ("v1", True),  # not an entity tag
    ("", True),
])
def test_if_none_match_forms(client, world, header, modified):
    r = client.get(f"/v1/candidates/{world.north.candidate_id}",
                   headers={**world.north.advisor_headers, "If-None-Match": header})
    assert r.status_code == (200 if modified else 304), r.text


def test_a_derived_etag_follows_the_body(client, world):
    h = world.north.advisor_headers
    first = client.get("/v1/candidates", headers=h)
    assert first.headers["etag"] == body_etag(first.content)
    assert client.get("/v1/candidates", headers=h).headers["etag"] == first.headers["etag"]  # same bytes, same tag
    create(client, "/v1/candidates", candidate_body(), h)
    second = client.get("/v1/candidates", headers={**h, "If-None-Match": first.headers["etag"]})
    assert second.status_code == 200 and second.json()["total"] == first.json()["total"] + 1
    assert second.headers["etag"] != first.headers["etag"]
    # another page of the same list, another representation of the timeline: other tags
    assert client.get("/v1/candidates?limit=1", headers=h).headers["etag"] != second.headers["etag"]
    timeline = f"/v1/candidates/{world.north.candidate_id}/timeline?as_of=2026-11-25"
    as_json = client.get(timeline, headers=h)
    as_ics = client.get(timeline, headers={**h, "Accept": "text/calendar"})
    assert as_ics.headers["content-type"].startswith("text/calendar")
    assert as_json.headers["etag"] != as_ics.headers["etag"]
    _check_304(client.get(timeline, headers={**h, "Accept": "text/calendar",
                                              "If-None-Match": as_ics.headers["etag"]}), as_ics.headers["etag"])


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_problems_never_answer_304(client, world, method):
    missing = "/v1/candidates/6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10"
    for url, headers, status in ((missing, world.north.advisor_headers, 404), (missing, {}, 401),
                                 ("/v1/candidates?limit=1000", world.north.advisor_headers, 422)):
        r = client.request(method, url, headers={**headers, "If-None-Match": "*"})
        assert r.status_code == status, r.text
        assert "etag" not in r.headers
        assert r.headers["content-type"] == "application/problem+json"
        if method == "GET":
            problem(r, status)
        else:
            assert r.content == b""


def test_head_where_there_is_no_get_is_405(client):
    r = client.head("/v1/auth/token")
    assert r.status_code == 405 and r.content == b""
    assert r.headers["allow"] == "POST"
    assert r.headers["content-type"] == "application/problem+json"


def _through_middleware(method: str, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None,
                        request_headers: list[tuple[bytes, bytes]] | None = None) -> tuple[list[str], list[Message]]:
    """The middleware on its own, around an app that answers in two chunks: what the server would be sent.
    (The test client drops HEAD bodies itself, as servers do, so it cannot show what the middleware sends.)"""
    seen: list[str] = []
    sent: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["method"])
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"10"), *(headers or [])]})
        await send({"type": "http.response.body", "body": b"hello", "more_body": True})
        await send({"type": "http.response.body", "body": b"world"})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": "/", "headers": request_headers or []}
    asyncio.run(ConditionalGet(app)(scope, receive, send))
    return seen, sent


@pytest.mark.parametrize("status,etag", [(200, None), (200, b'"v3"'), (404, None)])
def test_head_runs_the_get_and_sends_no_body(status, etag):
    extra = [(b"etag", etag)] if etag else []
    _, as_get = _through_middleware("GET", status, extra)
    seen, as_head = _through_middleware("HEAD", status, extra)
    assert seen == ["GET"]
    assert as_head[0] == as_get[0]  # the same status and headers, Content-Length of the GET included
    assert b"".join(m.get("body", b"") for m in as_get[1:]) == b"helloworld"
    assert [m.get("body", b"") for m in as_head[1:]] == [b""]
    assert not as_head[-1].get("more_body", False)


def test_a_body_in_chunks_is_tagged_whole():
    _, sent = _through_middleware("GET")
    assert (b"etag", body_etag(b"helloworld").encode()) in sent[0]["headers"]
    _, sent = _through_middleware("GET", request_headers=[(b"if-none-match", body_etag(b"helloworld").encode())])
    assert sent[0]["status"] == 304 and [m.get("body", b"") for m in sent[1:]] == [b""]


def test_writes_are_not_conditional_reads(client, world):
    """If-None-Match means nothing to a write: it neither answers 304 nor gets in the way."""
    r = client.post("/v1/candidates", json=candidate_body(),
                    headers={**world.north.advisor_headers, "If-None-Match": "*"})
    assert r.status_code == 201, r.text


def test_none_match_rules():
    assert none_match('"a", W/"b"', '"b"') and none_match(' * ', '"x"') and none_match('"a"', 'W/"a"')
    assert not none_match('"a,b"', '"a"') and not none_match("", '"a"') and not none_match('W/"ab"', '"a"')
    assert body_etag(b"x") == body_etag(b"x") != body_etag(b"y")


def test_the_document_declares_conditional_get_on_every_get():
    doc = create_app().openapi()
    gets = [(path, ops["get"]) for path, ops in doc["paths"].items() if "get" in ops]
    assert len(gets) == len(_get_paths())
    for path, op in gets:
        not_modified = op["responses"]["304"]
        assert "content" not in not_modified and "ETag" in not_modified["headers"], path  # no body, the same tag
        assert "ETag" in op["responses"]["200"]["headers"], path
        assert [p["in"] for p in op["parameters"] if p["name"] == "If-None-Match"] == ["header"], path
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if method != "get":
                assert "304" not in op["responses"], (method, path)
