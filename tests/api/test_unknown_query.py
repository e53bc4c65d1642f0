"""An unknown query parameter is a 422 that names it, on every operation: nothing a client sends is ignored."""

from __future__ import annotations

import re
from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from app.core import http
from app.core.errors import install_error_handlers
from app.main import create_app
from tests.api.helpers import candidate_body, problem, snapshot

UNKNOWN = {"field": "query.zz_unknown", "message": "unknown query parameter", "code": "unknown_parameter"}


def _operations() -> list[tuple[str, str]]:
    app = create_app()
    ops = [(method, route.path) for route in app.routes if isinstance(route, APIRoute)
           for method in sorted(route.methods)]
    assert len(ops) > 50, ops  # the whole API, health and problem pages included
    return ops


@pytest.mark.parametrize("method,path", _operations())
def test_every_operation_refuses_an_unknown_query_parameter(client, method, path):
    # the check comes before the path is parsed and the caller known (a UUID where the route itself says uuid)
    url = re.sub(r"\{[^}]+\}", lambda m: "0" * 8 + "-0000-0000-0000-" + "0" * 12 if m.group(0).endswith(":uuid}")
                 else "x", path)
    b = problem(client.request(method, url, params={"zz_unknown": "1"}), 422, "validation-error")
    assert b["errors"] == [UNKNOWN]
    assert "zz_unknown" in b["detail"]


def test_a_write_with_an_unknown_parameter_changes_nothing(client, world):
    before = snapshot()
    r = client.post("/v1/candidates?dry_run=true", json=candidate_body(), headers=world.north.advisor_headers)
    assert problem(r, 422, "validation-error")["errors"][0]["field"] == "query.dry_run"
    r = client.patch(f"/v1/candidates/{world.north.candidate_id}?notify=1", json={"full_name": "Changed"},
                     headers={**world.north.advisor_headers, "If-Match": '"v1"'})
    problem(r, 422, "validation-error")
    assert snapshot() == before


def test_the_sign_in_form_refuses_unknown_query_parameters(client, world):
    r = client.post("/v1/auth/token?remember=1", data={"username": "advisor@north.test", "password": "x"})
    assert problem(r, 422, "validation-error")["errors"][0]["field"] == "query.remember"


def test_all_unknown_names_are_listed_once_each_and_decoded(client, world):
    r = client.get("/v1/candidates?limit=5&f%6Fo=1&bar&foo=2&&q=x&a+b=&%C3%A9t%C3%A9=1",
                   headers=world.north.advisor_headers)
    b = problem(r, 422, "validation-error")
    assert [e["field"] for e in b["errors"]] == ["query.a b", "query.bar", "query.foo", "query.été"]
    assert b["detail"] == "Unknown query parameters: a b, bar, foo, été."
    # a declared name, encoded: the route sees it, so it is not unknown
    r = client.get("/v1/candidates?%6Cimit=1", headers=world.north.advisor_headers)
    assert r.status_code == 200 and r.json()["limit"] == 1, r.text


def test_declared_parameters_of_route_and_dependencies_pass(client, world):
    # `limit` and `offset` come from the page dependency, the others from the route itself
    r = client.get("/v1/candidates", headers=world.north.advisor_headers,
                   params={"limit": 5, "offset": 0, "q": "north", "sort": "-created_at", "target_match_year": 2027})
    assert r.status_code == 200, r.text
    r = client.get(f"/v1/candidates/{world.north.candidate_id}/readiness", headers=world.north.advisor_headers,
                   params={"as_of": "2026-11-25", "what_if_usce_weeks": 4})
    assert r.status_code == 200, r.text


class Filters(BaseModel):
    status: str | None = None
    sort: str = "name"


def paging(cursor: Annotated[str | None, Query()] = None) -> None:
    return None


def audit(trace: Annotated[str | None, Query(alias="trace-id")] = None) -> None:
    return None


def things(_: Annotated[None, Depends(paging)], q: str | None = None) -> dict[str, bool]:
    return {"ok": True}


def filtered(f: Annotated[Filters, Query()]) -> dict[str, bool]:
    return {"ok": True}


def test_the_names_come_from_whatever_a_route_declares():
    """Route parameters, aliases, dependencies, the router's dependencies and query-parameter models all count."""
    router = APIRouter(dependencies=[Depends(audit)])
    router.add_api_route("/things", things)
    router.add_api_route("/filtered", filtered)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    http.reject_unknown_query_parameters(app)
    c = TestClient(app)
    assert c.get("/things?q=a&cursor=b&trace-id=c").status_code == 200
    assert c.get("/filtered?status=a&sort=b&trace-id=c").status_code == 200
    r = c.get("/things?trace=c&status=a")
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["query.status", "query.trace"]
    assert c.get("/filtered?q=a").status_code == 422


def test_the_names_are_computed_once_per_route_not_per_request(client, world, monkeypatch):
    def per_request(*_: object, **__: object) -> None:
        raise AssertionError("declared query parameters computed during a request")

    monkeypatch.setattr(http, "get_flat_dependant", per_request)
    monkeypatch.setattr(http, "declared_query_names", per_request)
    r = client.get("/v1/candidates?limit=1", headers=world.north.advisor_headers)
    assert r.status_code == 200, r.text
    problem(client.get("/v1/candidates?nope=1", headers=world.north.advisor_headers), 422, "validation-error")
