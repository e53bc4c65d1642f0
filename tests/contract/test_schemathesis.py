"""Contract tests: schemathesis drives the ASGI app from its own OpenAPI document.

* `test_operations`: every operation, positive and negative data, all default checks, sent with valid credentials
  (an admin for organizations and users, north's advisor for the rest). `CONTRACT_MAX_EXAMPLES` examples per
  operation in the fuzzing phase (default 100; `make contract` sets 500), plus schemathesis' examples and coverage
  phases. Every other schema-valid case is aimed at north's real objects (path ids, ids in the body, `If-Match: *`)
  so updates, deletes and conflicts are reached, not only 404 and 412.
* `test_stateful`: sequences that follow the links between operations (create → read → update → delete), with the
  `ETag` of one response as the `If-Match` of the next. The links are added to the document here (`add_links`);
  the report of issue 2 says what to add to app/main.py so the served document carries them itself.
* tests/contract/conftest.py prints how many requests each operation got and the statuses they met.

Generation is derandomized with a fixed seed: the same cases on every run, in CI and locally.

Deviations from schemathesis' defaults, each kept narrow:
* `positive_data_acceptance` also accepts 412/428 (the documented optimistic-concurrency preconditions: a generated
  `If-Match` is almost never the current ETag) and 422 — but a 422 to a schema-valid request must pass
  `positive_data_refused_only_by_rules` below, which fails when the refusal is one the schema could have stated (a
  type, bound, pattern or unknown field): i.e. when the OpenAPI document and the validation disagree. Refusals by
  rules the document cannot state (cross-field rules, dates in the past, unique items, unknown ids,
  domain rules with a `code`) stay allowed.
* A generated `Idempotency-Key` is made unique per case, so two examples with different bodies do not collide on
  the same key (a 422 `idempotency-key-reused` is correct; tests/api/test_http_semantics.py covers it).
* Positive `format: date` values are drawn from 1900-01-01..2100-12-31, the range the service accepts.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections import Counter
from datetime import date
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.feedback import NO_FEEDBACK

from app.main import create_app
from tests.api.helpers import north_objects, undeclared_headers
from tests.conftest import _insert_world, truncate_all
from tests.contract.external_run import SCHEMA_EXPRESSIBLE

MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "100"))
STATEFUL_SCENARIOS = int(os.environ.get("CONTRACT_STATEFUL_SCENARIOS", str(max(20, MAX_EXAMPLES // 2))))
SEED = 20261125
PASSWORD = "contract passphrase 1"

# ---- the document under test, with links for stateful testing --------------------------------------------------

APP = create_app()
from app.core.links import PATH_PARAM, add_links  # noqa: E402,F401


def count_links(doc: dict[str, Any]) -> int:
    return sum(len(r.get("links", {})) for item in doc["paths"].values() for spec in item.values()
               for r in spec.get("responses", {}).values())


DOCUMENT = APP.openapi()  # the served document carries the links (app.core.links)

# ---- configuration ----------------------------------------------------------------------------------------------

CONFIG = SchemathesisConfig.from_dict({
    "seed": SEED,
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    "checks": {
        "positive_data_acceptance": {"expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "412",
                                                           "422", "428", "429", "5xx"]},
        # a missing If-Match is the documented 428 (the header is required where it is)
        "missing_required_header": {"expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]},
    },
    # Only the links of the document (see add_links): the links schemathesis would infer from field names also lead
    # to PATCH and DELETE, but without the ETag, so those steps could only ever meet 412/428.
    "phases": {"stateful": {"max-steps": 12, "inference": {"algorithms": []}}},
})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
schema.app = APP
# A schema object of its own for the stateful test: schemathesis learns from responses as it goes, and the
# scenarios should not depend on whether the per-operation tests ran first.
stateful_schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
stateful_schema.app = APP

# Dates the service accepts are 1900-01-01..2100-12-31 (a range JSON Schema cannot state for `format: date`):
# positive cases stay inside it so they reach the service logic; negative cases still send malformed dates.
# (A global registration: it holds for every schema loaded in this process.)
schemathesis.openapi.format("date", st.dates(date(1900, 1, 1), date(2100, 12, 31)).map(date.isoformat))



@schemathesis.check
def positive_data_refused_only_by_rules(ctx, response, case):  # type: ignore[no-untyped-def]
    """A schema-valid request may be refused with 422 only by a rule the schema cannot express."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    if any(info.mode.is_negative for info in meta.components.values()):
        return None
    body = json.loads(response.content or b"{}")
    if body.get("type") == "/problems/idempotency-key-reused":
        return None
    bad = [e for e in body.get("errors") or [] if e.get("code") in SCHEMA_EXPRESSIBLE]
    if bad:
        raise AssertionError(f"schema-valid request refused for a reason the schema could state: {bad}")
    return None


@schemathesis.check
def response_headers_declared(ctx, response, case):  # type: ignore[no-untyped-def]
    """Every header of the answer is declared for its operation and status (a link may then follow it, as
    `$response.header.ETag`); and the ETag a success declares is sent."""
    responses = case.operation.definition.raw.get("responses", {})
    declared = responses.get(str(response.status_code)) or responses.get("default")
    if declared is None:
        return None  # an undeclared status: schemathesis' own status_code_conformance says so
    names = {name.lower() for name in declared.get("headers", {})}
    sent = {name.lower() for name in response.headers}
    undeclared = undeclared_headers(declared, response.headers)
    if undeclared:
        raise AssertionError(f"{case.operation.label} {response.status_code} sends undeclared headers: {undeclared}")
    if 200 <= response.status_code < 300 and "etag" in names and "etag" not in sent:
        raise AssertionError(f"{case.operation.label} {response.status_code} declares an ETag it does not send")
    return None


# ---- per-test state ---------------------------------------------------------------------------------------------

RUN: Counter[str] = Counter()
STATUS: dict[str, Counter[int]] = {}
ADMIN_TAGS = {"organizations", "users"}


@pytest.fixture
def north(client, world):  # type: ignore[no-untyped-def]
    objects = north_objects(client, world, external_id="SIS-CONTRACT-1", password=PASSWORD)
    return world, objects


def _headers_for(case: Any, world: Any) -> dict[str, str]:
    tags = set(case.operation.tags or [])
    return dict(world.admin_headers if tags & ADMIN_TAGS else world.north.advisor_headers)


_TURN: Counter[str] = Counter()
BODY_REFERENCES = ("program_id", "organization_id", "candidate_id")


def _real_ids(case: Any, ids: dict[str, str]) -> None:
    """On every other schema-valid case, aim at north's real objects: path ids, ids the body refers to, and
    `If-Match: *` (generated UUIDs name nothing and generated ETags match nothing, so without this updates, deletes
    and entries would only ever meet 404, 412 or an unknown program)."""
    meta = case.meta
    if meta is None:
        return
    _TURN[case.operation.label] += 1
    if _TURN[case.operation.label] % 2 == 0:
        return
    if case.path_parameters and not meta.is_negative_at(ParameterLocation.PATH):
        for name in case.path_parameters:
            if name in ids:
                case.path_parameters[name] = ids[name]
        if case.headers and "If-Match" in case.headers and not meta.is_negative_at(ParameterLocation.HEADER):
            case.headers["If-Match"] = "*"
    if isinstance(case.body, dict) and not meta.is_negative_at(ParameterLocation.BODY):
        for name in BODY_REFERENCES:
            if isinstance(case.body.get(name), str):
                case.body[name] = ids[name]


def _unique_idempotency_key(case: Any) -> None:
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(r"[\x21-\x7e]{1,255}", key):
        headers["Idempotency-Key"] = (key + "-" + uuid.uuid4().hex)[-255:]


# ---- the tests --------------------------------------------------------------------------------------------------

def test_document_has_links_for_stateful_testing():
    assert count_links(DOCUMENT) >= 60, count_links(DOCUMENT)
    create = DOCUMENT["paths"]["/v1/candidates"]["post"]["responses"]["201"]["links"]
    update = create["candidates-update-candidate"]
    assert update["parameters"] == {"candidate_id": "$response.body#/id", "header.If-Match": "$response.header.ETag"}
    assert "milestones-create-milestone" in create
    # a page leads to its first item's reads, sub-collections and actions (not its writes: a page's ETag is the
    # page's, not the item's)
    page = DOCUMENT["paths"]["/v1/candidates/{candidate_id}/milestones"]["get"]["responses"]["200"]["links"]
    assert page["milestones-get-milestone"]["parameters"] == {"candidate_id": "$request.path.candidate_id",
                                                             "milestone_id": "$response.body#/items/0/id"}
    assert "milestones-update-milestone" not in page
    cycles = DOCUMENT["paths"]["/v1/match-cycles"]["get"]["responses"]["200"]["links"]
    assert cycles["match-cycles-get-match-cycle"]["parameters"] == {"year": "$response.body#/items/0/year"}
    # a record named by the client's id leads to the record's operations by the service's id
    upsert = DOCUMENT["paths"]["/v1/candidates/{candidate_id}/usce-records/by-external-id/{external_id}"]["put"]
    for status in ("200", "201"):
        assert upsert["responses"][status]["links"]["usce-update-usce-record"]["parameters"] == {
            "candidate_id": "$request.path.candidate_id", "usce_record_id": "$response.body#/id",
            "header.If-Match": "$response.header.ETag"}
    accepted = DOCUMENT["paths"]["/v1/imports"]["post"]["responses"]["202"]["links"]
    assert accepted["imports-get-import"]["parameters"] == {"import_id": "$response.body#/id"}
    # no link leads from an item's read to the same read
    item = DOCUMENT["paths"]["/v1/programs/{program_id}"]["get"]["responses"]["200"]["links"]
    assert sorted(item) == ["programs-delete-program", "programs-update-program"]


@hypothesis.settings(deadline=None, derandomize=True, suppress_health_check=list(hypothesis.HealthCheck))
@schema.parametrize()
def test_operations(case, north):  # type: ignore[no-untyped-def]
    world, objects = north
    _real_ids(case, objects.ids)
    _unique_idempotency_key(case)
    label = case.operation.label
    RUN[label] += 1
    response = case.call(headers=_headers_for(case, world))
    STATUS.setdefault(label, Counter())[response.status_code] += 1
    case.validate_response(response)


# Scenario starters. schemathesis picks roots itself and skips creates whose bodies hold fields it takes for foreign
# keys to resources nothing produces (`acgme_id`, `usmle_id`, `external_id`, `organization_id`): so the candidate and
# program chains would never start. These root rules are built the way schemathesis builds its own (internals of
# schemathesis 4.32: if they move, this fails loudly at the import below, not silently).
EXTRA_ROOTS = [("POST", "/v1/candidates"), ("PUT", "/v1/candidates/by-external-id/{external_id}"),
               ("POST", "/v1/programs"), ("GET", "/v1/candidates"), ("POST", "/v1/users")]


def _workflow_class() -> type:
    from hypothesis.stateful import Bundle
    from schemathesis.generation.stateful.state_machine import StepInput, normalize_name
    from schemathesis.specs.openapi.stateful import _step_case_strategy, is_root_allowed, transition

    base = stateful_schema.as_state_machine()
    extra: dict[str, Any] = {}
    labels = set()
    for method, path in EXTRA_ROOTS:
        operation = stateful_schema[path][method]
        name = normalize_name(f"ROOT -> {operation.label}")
        modes = stateful_schema.config.generation_for(operation=operation, phase="stateful").modes
        strategy = _step_case_strategy(operation, modes, feedback=NO_FEEDBACK)
        extra[name] = transition(name=name, target=Bundle("catch_all"), precondition=is_root_allowed(operation.label),
                                 input=strategy.map(StepInput.initial))
        labels.add(operation.label)
    return type("Workflow", (base,), {**extra, "root_rules": base.root_rules | frozenset(extra),
                                      "_root_labels": base._root_labels | frozenset(labels)})


def test_stateful(client):  # type: ignore[no-untyped-def]
    """Each scenario starts from the same data (so Hypothesis can replay a failing one) and follows links."""

    class Workflow(_workflow_class()):  # type: ignore[misc]
        def setup(self) -> None:
            truncate_all()
            self.world = _insert_world()
            north_objects(client, self.world, external_id="SIS-CONTRACT-1", password=PASSWORD)

        def get_call_kwargs(self, case):  # type: ignore[no-untyped-def]
            _unique_idempotency_key(case)
            return {"headers": _headers_for(case, self.world)}

        def after_call(self, response, case):  # type: ignore[no-untyped-def]
            super().after_call(response, case)
            label = "stateful " + case.operation.label
            RUN[label] += 1
            STATUS.setdefault(label, Counter())[response.status_code] += 1

    Workflow.run(settings=hypothesis.settings(
        max_examples=STATEFUL_SCENARIOS, stateful_step_count=12, deadline=None, derandomize=True,
        database=None, suppress_health_check=list(hypothesis.HealthCheck), phases=[hypothesis.Phase.generate]))
    stateful = {k: v for k, v in RUN.items() if k.startswith("stateful ")}
    assert sum(stateful.values()) >= STATEFUL_SCENARIOS, stateful
    # the sequences reached real resources through the links: something was created, then read, updated with the
    # ETag of an earlier response as If-Match, and deleted the same way
    # (a 304 is a read that reached the resource: its current ETag is the one the client sent, or `*`)
    ok = {k.removeprefix("stateful ") for k, c in STATUS.items()
          if k.startswith("stateful ") and any(200 <= s < 300 or (s == 304 and k.startswith("stateful GET "))
                                               for s in c)}
    for method in ("POST", "GET", "PATCH", "DELETE"):
        assert any(k.startswith(method + " ") and k.endswith("}") == (method != "POST") for k in ok), (method, ok)
    # a candidate created, and something of a candidate read through a link (which read the derandomized run
    # takes depends on the document: any of them shows the path from a creation to a read)
    assert "POST /v1/candidates" in ok, ok
    assert any(k.startswith("GET /v1/candidates/{candidate_id}") for k in ok), ok
