"""A route's body policy (media types, size limit, Idempotency-Key) is declared on the route, so it follows the route:
RequestGuard finds it through the app's routes, not through a list of paths."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from app.accounts.router import issue_token
from app.core.config import get_settings
from app.core.http import DEFAULT_BODY, FORM, JSON, NDJSON, BodyPolicy, RequestGuard, accepts, body_policy
from app.imports.router import create_import
from app.main import create_app
from app.matching.router import run_match_simulation


@accepts(NDJSON, limit_setting="max_import_body_bytes")
async def bulk(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


async def plain(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


def _app(routes: dict[str, Any]) -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestGuard)
    for path, endpoint in routes.items():
        app.add_api_route(path, endpoint, methods=["POST"])
    return app


def _scope(app: FastAPI, path: str, method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "app": app, "path": path, "method": method}


def test_a_renamed_route_keeps_its_limit_and_media_type() -> None:
    over_default = get_settings().max_body_bytes + 1
    body = b'{"a": 1}\n' * (over_default // 9 + 1)
    client = TestClient(_app({"/v1/renamed/{name}/bulk": bulk, "/v1/plain": plain}))
    ndjson = {"Content-Type": NDJSON}

    r = client.post("/v1/renamed/x/bulk", content=body, headers=ndjson)
    assert r.status_code == 200 and r.json() == {"size": len(body)}
    assert client.post("/v1/plain", content=body, headers=ndjson).status_code == 413  # the default limit
    assert client.post("/v1/bulk", content=body, headers=ndjson).status_code == 413  # no route: the default
    r = client.post("/v1/renamed/x/bulk", content=b"{}", headers={"Content-Type": "text/csv"})
    assert r.status_code == 415 and NDJSON in r.json()["detail"]
    assert client.post("/v1/plain", content=b"{}", headers=ndjson).status_code == 415  # JSON unless declared


def test_the_service_routes_declare_their_policies() -> None:
    app = create_app()
    assert body_policy(_scope(app, "/v1/imports")) == BodyPolicy((JSON, NDJSON), "max_import_body_bytes")
    assert body_policy(_scope(app, "/v1/match-simulations")) == BodyPolicy((JSON,), "max_simulation_body_bytes")
    assert body_policy(_scope(app, "/v1/auth/token")) == BodyPolicy(FORM, idempotent=False)
    assert body_policy(_scope(app, "/v1/candidates")) == DEFAULT_BODY
    assert body_policy(_scope(app, "/v1/imports", "PUT")) == body_policy(_scope(app, "/v1/imports"))  # 405 follows


def test_a_method_no_route_takes_gets_its_405_not_a_415() -> None:
    client = TestClient(_app({"/v1/bulk": bulk}))
    assert client.put("/v1/bulk", content=b"{}", headers={"Content-Type": NDJSON}).status_code == 405
    assert client.put("/v1/bulk", content=b"{}", headers={"Content-Type": "text/csv"}).status_code == 415


@pytest.mark.parametrize("endpoint", [create_import, run_match_simulation, issue_token])
def test_the_service_policies_follow_their_endpoints(endpoint: Any) -> None:
    declared = body_policy(_scope(create_app(), {create_import: "/v1/imports", issue_token: "/v1/auth/token",
                                                 run_match_simulation: "/v1/match-simulations"}[endpoint]))
    assert declared != DEFAULT_BODY
    renamed = _app({"/v2/elsewhere/{id}": endpoint})
    assert body_policy(_scope(renamed, "/v2/elsewhere/1")) == declared
    assert body_policy(_scope(renamed, "/v1/imports")) == DEFAULT_BODY


def test_a_policy_names_a_setting_that_exists() -> None:
    with pytest.raises(ValueError, match="max_upload_bytes"):
        accepts(JSON, limit_setting="max_upload_bytes")
