"""CORS from the CORS_ORIGINS setting: preflights, exposed headers, and error responses a page can read."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.core.config import Settings, get_settings
from app.main import create_app
from tests.api.helpers import candidate_body, problem

PAGE = "http://app.example.test:8080"
OTHER = "http://other.example.test"
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
REQUEST_HEADERS = ["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key", "X-API-Key"]
EXPOSED = {"etag", "location", "retry-after", "idempotent-replayed", "secret-withheld", "link", "ratelimit",
           "ratelimit-policy", "x-request-id"}


@pytest.fixture
def cors(client, monkeypatch) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The app as create_app() builds it with CORS_ORIGINS set (the session's app has CORS off)."""
    monkeypatch.setenv("CORS_ORIGINS", f" {PAGE} ,https://second.example.test")
    get_settings.cache_clear()
    try:
        yield TestClient(create_app(), raise_server_exceptions=False)
    finally:
        monkeypatch.delenv("CORS_ORIGINS")
        get_settings.cache_clear()


def _preflight(c: TestClient, url: str, method: str, headers: str | None = None, origin: str = PAGE):  # type: ignore[no-untyped-def]
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return c.options(url, headers=h)


def _split(value: str) -> set[str]:
    return {v.strip() for v in value.split(",")}


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_preflight_from_an_allowed_origin_is_200(cors, world, method):
    url = f"/v1/candidates/{world.north.candidate_id}"
    r = _preflight(cors, url, method, ", ".join(h.lower() for h in REQUEST_HEADERS))
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == PAGE
    assert _split(r.headers["access-control-allow-methods"]) == METHODS
    allowed = {h.lower() for h in _split(r.headers["access-control-allow-headers"])}
    assert {h.lower() for h in REQUEST_HEADERS} <= allowed
    assert int(r.headers["access-control-max-age"]) > 0
    assert "Origin" in _split(r.headers["vary"])
    assert "access-control-allow-credentials" not in r.headers  # credentials are headers, never cookies


def test_a_preflight_needs_no_credentials_and_reaches_no_route(cors):
    # a path that needs a body (RequestGuard buffers POST bodies) and one that does not exist
    for url in ("/v1/auth/token", "/v1/candidates", "/v1/nothing-here"):
        assert _preflight(cors, url, "POST", "content-type, idempotency-key").status_code == 200, url


@pytest.mark.parametrize("origin,method,headers,failed", [
    (OTHER, "GET", "authorization", "origin"),
    (PAGE + "/", "GET", None, "origin"),
    (PAGE, "GET", "authorization, x-custom", "headers"),
    (PAGE, "TRACE", None, "method"),
])
def test_a_refused_preflight_is_a_problem(cors, origin, method, headers, failed):
    r = _preflight(cors, "/v1/candidates", method, headers, origin=origin)
    b = problem(r, 403, "cors-refused")
    assert failed in b["detail"]
    if failed == "origin":
        assert "access-control-allow-origin" not in r.headers
    assert cors.get("/problems/cors-refused").status_code == 200


def test_responses_to_an_allowed_origin_expose_the_protocol_headers(cors, world):
    h = {**world.north.advisor_headers, "Origin": PAGE}
    r = cors.get(f"/v1/candidates/{world.north.candidate_id}", headers=h)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == PAGE
    assert {x.lower() for x in _split(r.headers["access-control-expose-headers"])} == EXPOSED
    assert "Origin" in _split(r.headers["vary"])
    created = cors.post("/v1/candidates", json=candidate_body(), headers={**h, "Idempotency-Key": "cors-1"})
    assert created.status_code == 201 and created.headers["access-control-allow-origin"] == PAGE
    again = cors.get(f"/v1/candidates/{world.north.candidate_id}", headers={**h, "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and again.headers["access-control-allow-origin"] == PAGE


def test_error_responses_carry_the_cors_headers_too(cors, world):
    """A page can read why it was refused: handled errors and the middlewares' own problems alike."""
    h = {**world.north.advisor_headers, "Origin": PAGE}
    missing = "/v1/candidates/6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10"
    cases = [
        (cors.get("/v1/candidates", headers={"Origin": PAGE}), 401),
        (cors.get(missing, headers=h), 404),
        (cors.get("/v1/candidates?nope=1", headers=h), 422),
        (cors.patch(f"/v1/candidates/{world.north.candidate_id}", json={"full_name": "X"}, headers=h), 428),
        (cors.post("/v1/candidates", content=b"x=1", headers={**h, "Content-Type": "text/plain"}), 415),
        (cors.post("/v1/candidates", content=b"{" * (get_settings().max_body_bytes + 1),
                   headers={**h, "Content-Type": "application/json"}), 413),
        (cors.put("/v1/candidates", headers=h), 405),
    ]
    for r, status in cases:
        problem(r, status)
        assert r.headers.get("access-control-allow-origin") == PAGE, (status, r.headers)
        assert "etag" in _split(r.headers["access-control-expose-headers"].lower())


def test_another_origin_gets_no_cors_headers(cors, world):
    r = cors.get(f"/v1/candidates/{world.north.candidate_id}", headers={**world.north.advisor_headers,
                                                                        "Origin": OTHER})
    assert r.status_code == 200  # the browser, not the server, withholds the answer from the page
    assert "access-control-allow-origin" not in r.headers


def test_without_cors_origins_cors_is_off(client, world):
    assert get_settings().cors_origins == []
    r = _preflight(client, "/v1/candidates", "GET", "authorization")
    problem(r, 405, "method-not-allowed")
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/livez", headers={"Origin": PAGE})
    assert "access-control-allow-origin" not in r.headers


def test_the_setting_is_a_comma_separated_list_of_origins():
    assert Settings(cors_origins="").cors_origins == []
    assert Settings(cors_origins="https://A.example.org, http://127.0.0.1:5173").cors_origins == [
        "https://a.example.org", "http://127.0.0.1:5173"]
    for bad in ("https://a.example.org/", "a.example.org", "*", "https://a.example.org/app"):
        with pytest.raises(ValidationError, match="CORS_ORIGINS"):
            Settings(cors_origins=bad)
