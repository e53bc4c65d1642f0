"""Authentication is declared on the routers: every /v1 route requires a principal unless it is on one of the public
routers (app.api), and the OpenAPI document says so for each operation. Roles are checked one way: a route's
`dependencies=[Roles(...)]` (or its router's), never a parameter of the endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.accounts.principal import get_principal
from app.api import public_routers
from app.main import create_app

APP = create_app()
PUBLIC = {("POST", "/v1/auth/token"), ("POST", "/v1/auth/password-reset"), ("POST", "/v1/auth/password-reset/confirm"),
          ("POST", "/v1/invitations/accept"), ("GET", "/v1/calendar/{token}.ics")}


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _v1_routes() -> list[APIRoute]:
    return [r for r in APP.routes if isinstance(r, APIRoute) and r.path.startswith("/v1/")]


def _is_role_check(call: Any) -> bool:
    return getattr(call, "__qualname__", "").startswith("require_roles.")


def test_every_route_requires_a_principal_unless_its_router_is_public() -> None:
    public_endpoints = {r.endpoint for router in public_routers for r in router.routes if isinstance(r, APIRoute)}
    seen_public = set()
    routes = _v1_routes()
    assert len(routes) > 50
    for route in routes:
        requires = get_principal in set(_calls(route.dependant))
        assert requires is (route.endpoint not in public_endpoints), route.path
        if not requires:
            seen_public.update((m, route.path) for m in route.methods)
    assert seen_public == PUBLIC  # a new public route is a decision: add it here


def test_the_document_declares_the_same_security() -> None:
    paths = APP.openapi()["paths"]
    for route in _v1_routes():
        for method in route.methods - {"HEAD"}:
            op = paths[route.path_format][method.lower()]
            public = (method, route.path) in PUBLIC
            assert (op.get("security") in (None, [])) is public, (method, route.path)


def test_roles_are_checked_by_the_route_declaration_only() -> None:
    gated = 0
    for route in _v1_routes():
        params = [d.call for d in route.dependant.dependencies[len(route.dependencies):]]
        declared = [d.dependency for d in route.dependencies]
        assert not any(_is_role_check(c) for c in params), f"{route.path}: a role check as a parameter"
        for param in route.dependant.dependencies:  # nor hidden in a parameter's own dependencies
            if param.call not in declared:
                assert not any(_is_role_check(c) for c in _calls(param)), route.path
        gated += any(_is_role_check(c) for c in declared)
    assert gated >= 20
