"""The document states what the service enforces: the supported Match cycles, each milestone type's fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema_rs import Draft202012Validator

import app.pathway
from app.main import create_app
from app.pathway.catalogue import milestone_types

DOCUMENT = create_app().openapi()
RULE_YEARS = sorted(int(p.stem) for p in (Path(app.pathway.__file__).parent / "rules").glob("*.toml"))


def validator(component: str) -> Draft202012Validator:
    return Draft202012Validator({"$ref": f"#/components/schemas/{component}", "components": DOCUMENT["components"]})


def cycle_parameters() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{method.upper()} {path}", param) for path, ops in DOCUMENT["paths"].items()
            for method, op in ops.items() for param in op.get("parameters", []) if param["name"] == "cycle"]


def test_cycle_parameters_take_the_years_with_rule_sets():
    params = cycle_parameters()
    assert len(params) >= 5, params
    for label, param in params:
        (integer,) = [s for s in param["schema"]["anyOf"] if s.get("type") == "integer"]
        assert (integer["minimum"], integer["maximum"]) == (RULE_YEARS[0], RULE_YEARS[-1]), label


def test_a_cycle_outside_the_bounds_is_refused_and_inside_accepted(client, world):
    path = f"/v1/candidates/{world.north.candidate_id}/readiness"
    h = world.north.advisor_headers
    for year in (RULE_YEARS[0] - 1, RULE_YEARS[-1] + 1):
        r = client.get(path, params={"cycle": year}, headers=h)
        assert r.status_code == 422 and r.json()["code"] == "unknown_cycle", r.text
    for year in (RULE_YEARS[0], RULE_YEARS[-1]):
        assert client.get(path, params={"cycle": year}, headers=h).status_code == 200


# A complete result for each kind of result a type takes (the values a client would send).
RESULTS: dict[str | None, dict[str, Any]] = {
    "step_score": {"score": 231},
    "oet": {"listening": 350, "reading": 360, "writing": 340, "speaking": 370},
    "pathway": {"pathway": "1"},
    "match": {"outcome": "matched", "program_name": "General Hospital IM"},
    "visa": {"visa_type": "j1"},
    None: {},
}


def body_for(mt: Any, result: dict[str, Any] | None) -> dict[str, Any]:
    # before Step 1 went pass/fail and before Step 2 CS was discontinued: every type takes its result then
    return {"type_code": mt.code, "status": "passed" if mt.kind == "exam" else "completed",
            "completed_on": "2020-06-01", "result": result}


@pytest.mark.parametrize("mt", milestone_types(), ids=lambda mt: mt.code)
def test_each_type_documents_the_result_it_takes(mt):
    create = validator("MilestoneCreate")
    assert create.is_valid(body_for(mt, RESULTS[mt.result]))
    for kind, result in RESULTS.items():
        if kind != mt.result and result:
            assert not create.is_valid(body_for(mt, result)), (mt.code, kind)
    wrong = "completed" if mt.kind == "exam" else "passed"
    assert not create.is_valid({**body_for(mt, None), "status": wrong})
    mapping = DOCUMENT["components"]["schemas"]["MilestoneCreate"]["discriminator"]["mapping"]
    assert mapping[mt.code].startswith("#/components/schemas/MilestoneCreate")


def test_a_client_following_the_document_is_accepted_for_every_type(client, world):
    """Per type: the body the document calls valid is created (and its read matches the read schema); the result of
    another type, which the document refuses, is refused."""
    path = f"/v1/candidates/{world.north.candidate_id}/milestones"
    h = world.north.advisor_headers
    read = validator("MilestonePublic")
    for mt in milestone_types():
        r = client.post(path, json=body_for(mt, RESULTS[mt.result] or None), headers=h)
        assert r.status_code == 201, (mt.code, r.text)
        assert read.is_valid(r.json()), (mt.code, [str(e) for e in read.iter_errors(r.json())])
        for kind, result in RESULTS.items():
            if kind != mt.result and result:
                r = client.post(path, json=body_for(mt, result), headers=h)
                assert r.status_code == 422 and r.json()["code"] == "result_not_applicable", (mt.code, r.text)


def test_update_takes_a_result_of_some_type():
    update = validator("MilestoneUpdate")
    for result in RESULTS.values():
        assert update.is_valid({"result": result})
    assert not update.is_valid({"result": {"score": 231, "pathway": "1"}})


def test_every_503_declares_the_retry_after_it_sends():
    """The service's 503s (a database fault, /readyz) always carry Retry-After (tests/faults check the answers);
    the document says so wherever it declares a 503."""
    declared = [(f"{method.upper()} {path}", op["responses"]["503"]) for path, ops in DOCUMENT["paths"].items()
                for method, op in ops.items() if "503" in op["responses"]]
    assert len(declared) >= 90, len(declared)
    missing = [label for label, response in declared if "Retry-After" not in response.get("headers", {})]
    assert missing == []


@pytest.mark.parametrize("day", ["2021-01-26", "2022-01-26", "2000-01-01", "1999-12-31", "2100-12-31", "1900-01-02"])
def test_a_date_pattern_takes_exactly_the_days_before(day):
    """`dates_before` (the catalogue's dates in the milestone schemas), read as a client's validator reads it,
    against every day the service takes (1900-01-01 to 2100-12-31)."""
    from datetime import date, timedelta

    from app.milestones.schemas import dates_before

    bound = date.fromisoformat(day)
    check = Draft202012Validator({"type": "string", "pattern": dates_before(bound)})
    d, wrong = date(1900, 1, 1), []
    while d <= date(2100, 12, 31):
        if check.is_valid(d.isoformat()) != (d < bound):
            wrong.append(d.isoformat())
        d += timedelta(days=1)
    assert not wrong, wrong[:5]


def test_every_link_reads_only_headers_its_response_declares():
    """A generic client following a link takes `$response.header.ETag` from the answer: the answer declares it."""
    followed = 0
    for path, ops in DOCUMENT["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                declared = {name.lower() for name in response.get("headers", {})}
                for name, link in response.get("links", {}).items():
                    for value in link["parameters"].values():
                        if isinstance(value, str) and value.startswith("$response.header."):
                            followed += 1
                            header = value.removeprefix("$response.header.").lower()
                            assert header in declared, (method, path, status, name, value)
    assert followed > 50, followed


def test_every_post_that_honours_an_idempotency_key_declares_it():
    """RequestGuard keys every signed-in POST whose route does not say otherwise (`accepts(idempotent=False)`):
    each declares the header, whose replay answers `Idempotent-Replayed`."""
    from fastapi.routing import APIRoute

    from app.core.http import DEFAULT_BODY

    app = create_app()
    keyed = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or "POST" not in route.methods or not route.path.startswith("/v1/"):
            continue
        op = DOCUMENT["paths"][route.path_format]["post"]
        if op.get("security") == [] or not getattr(route.endpoint, "__body_policy__", DEFAULT_BODY).idempotent:
            continue  # public (no caller to key by), or not keyed
        keyed.append(route.path_format)
        assert any(p["name"] == "Idempotency-Key" for p in op.get("parameters", [])), route.path_format
        assert all("Idempotent-Replayed" in r["headers"] for s, r in op["responses"].items() if s.startswith("2"))
    assert len(keyed) > 20, keyed
