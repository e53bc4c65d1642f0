"""Who may do what: every operation of the OpenAPI document × every kind of caller.

For each operation the path is filled with ids of NORTH's objects (created fresh for the test) and a valid body is
sent, so a refusal can only come from access control. Then:

* anonymous callers get 401 everywhere under /v1 (except signing in);
* SOUTH's callers never get a 2xx on north's candidate-scoped resources, and get 404 (not 403) for north's objects
  unless their role may not use the function at all (then 403, which tells nothing about the object);
* a north candidate cannot reach north's *other* candidate (404);
* role-forbidden functions answer 403;
* every allowed caller succeeds (the positive control that keeps the denials honest);
* a denied call changes nothing: row counts and version sums of every table, and north's candidate ETag.

`OPERATIONS` is keyed by operationId. An operation in the app's OpenAPI document that neither has an entry nor
matches one of the generic rules for the computed endpoints being added (`GENERIC`) fails the suite, so the matrix
cannot silently go stale.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pytest

from tests.api.helpers import CLOSED_URL, milestone_body, north_objects, program_body, snapshot, usce_body
from tests.conftest import World, _insert_world, delete_all, sync_engine

ANON, ADMIN = "anonymous", "admin"
N_ADV, N_CAND, N_KEY = "north_advisor", "north_candidate", "north_api_key"
S_ADV, S_CAND, S_KEY = "south_advisor", "south_candidate", "south_api_key"
N_CAND_OTHER = "north_candidate_on_other_candidate"  # north's candidate, path pointing at north's other candidate
PRINCIPALS = [ANON, ADMIN, N_ADV, N_CAND, N_KEY, S_ADV, S_CAND, S_KEY]
SIGNED_IN = [p for p in PRINCIPALS if p != ANON]
NORTH_STAFF = [ADMIN, N_ADV, N_KEY]
CANDIDATES = [N_CAND, S_CAND]
SOUTH = [S_ADV, S_CAND, S_KEY]
KNOWN_PASSWORD = "matrix passphrase 1"
EXTERNAL_ID = "NORTH-EXT-1"


# ---- expectations ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """`ok`: callers that succeed (2xx declared by the operation, unless `ok_status` says otherwise);
    `forbidden`: 403; `other`: explicit statuses; everyone else signed in: 404; anonymous: 401 unless in `ok`."""

    ok: tuple[str, ...]
    forbidden: tuple[str, ...] = ()
    other: dict[str, int | frozenset[int]] = field(default_factory=dict)
    ok_status: dict[str, int] = field(default_factory=dict)
    body: Callable[[Ctx, str], Any] | None = None
    form: bool = False
    if_match: str | None = None  # sent as it is, for a resource only its owner may read (no ETag to fetch)

    def expected(self, principal: str, success: frozenset[int]) -> frozenset[int]:
        if principal in self.other:
            v = self.other[principal]
            return v if isinstance(v, frozenset) else frozenset({v})
        if principal in self.ok:
            return frozenset({self.ok_status[principal]}) if principal in self.ok_status else success
        if principal == ANON:
            return frozenset({401})
        if principal in self.forbidden:
            return frozenset({403})
        return frozenset({404})


def candidate_scoped(**kw: Any) -> Rule:
    """Under /v1/candidates/{candidate_id}: north staff and the candidate themself; south and the other one 404."""
    return Rule(ok=(ADMIN, N_ADV, N_KEY, N_CAND), **kw)


EVERYONE = Rule(ok=tuple(SIGNED_IN))
WEBHOOKS = Rule(ok=tuple(NORTH_STAFF), forbidden=tuple(CANDIDATES))
PW_BODY = {"email": "matrix-user@example.org", "full_name": "Matrix User", "password": "a long passphrase",
           "role": "candidate"}


@dataclass
class Ctx:
    world: World
    ids: dict[str, str]
    other_ids: dict[str, str]
    known_email: str


OPERATIONS: dict[str, Rule] = {
    # health: not under /v1, open to all
    "health-livez": Rule(ok=tuple(PRINCIPALS)),
    "health-readyz": Rule(ok=tuple(PRINCIPALS)),
    # auth
    "auth-issue-token": Rule(ok=tuple(PRINCIPALS), form=True,
                             body=lambda c, p: {"username": c.known_email, "password": KNOWN_PASSWORD}),
    "auth-who-am-i": EVERYONE,
    # a bearer token ends its own session; API keys do not sign in
    "auth-logout": Rule(ok=(ADMIN, N_ADV, N_CAND, S_ADV, S_CAND), forbidden=(N_KEY, S_KEY)),
    # one's own sessions; the session in the path is another person's (north's second advisor's): 404 to everyone
    "auth-list-sessions": Rule(ok=(ADMIN, N_ADV, N_CAND, S_ADV, S_CAND), forbidden=(N_KEY, S_KEY)),
    "auth-end-other-sessions": Rule(ok=(ADMIN, N_ADV, N_CAND, S_ADV, S_CAND), forbidden=(N_KEY, S_KEY)),
    "auth-get-session": Rule(ok=(ADMIN, N_ADV, N_CAND, S_ADV, S_CAND), forbidden=(N_KEY, S_KEY),
                             ok_status={p: 404 for p in (ADMIN, N_ADV, N_CAND, S_ADV, S_CAND)}),
    "auth-end-session": Rule(ok=(ADMIN, N_ADV, N_CAND, S_ADV, S_CAND), forbidden=(N_KEY, S_KEY),
                             ok_status={p: 404 for p in (ADMIN, N_ADV, N_CAND, S_ADV, S_CAND)}, if_match="*"),
    # the world's people sign in with a password the matrix does not know: past access control, the 403 of a
    # wrong current password (`current_password_incorrect`), not an API key's 403 for a function it may not use
    "auth-change-password": Rule(ok=(ADMIN, N_ADV, N_CAND, S_ADV, S_CAND), forbidden=(N_KEY, S_KEY),
                                 ok_status={p: 403 for p in (ADMIN, N_ADV, N_CAND, S_ADV, S_CAND)},
                                 body=lambda c, p: {"current_password": "not the one", "new_password": "x" * 12}),
    # open to all; the answer never says whether the account exists, and a token that names nothing is a 404
    "auth-request-password-reset": Rule(ok=tuple(PRINCIPALS), body=lambda c, p: {"email": "nobody@example.org"}),
    "auth-confirm-password-reset": Rule(ok=tuple(PRINCIPALS), ok_status={p: 404 for p in PRINCIPALS},
                                        body=lambda c, p: {"token": "t" * 43, "new_password": "x" * 12}),
    # organizations and their API keys
    "organizations-list-organizations": Rule(ok=(ADMIN, N_ADV, N_KEY, S_ADV, S_KEY), forbidden=tuple(CANDIDATES)),
    "organizations-create-organization": Rule(ok=(ADMIN,), forbidden=tuple(p for p in SIGNED_IN if p != ADMIN),
                                              body=lambda c, p: {"name": "Matrix Office"}),
    "organizations-get-organization": Rule(ok=tuple(NORTH_STAFF)),
    "organizations-update-organization": Rule(ok=(ADMIN,), forbidden=tuple(p for p in SIGNED_IN if p != ADMIN),
                                              body=lambda c, p: {"name": "north renamed"}),
    # north still has candidates and users: the admin passes access control and meets the domain rule
    "organizations-delete-organization": Rule(ok=(ADMIN,), forbidden=tuple(p for p in SIGNED_IN if p != ADMIN),
                                              ok_status={ADMIN: 409}),
    "organizations-list-api-keys": Rule(ok=(ADMIN, N_ADV), forbidden=(N_KEY, N_CAND, S_KEY, S_CAND)),
    "organizations-create-api-key": Rule(ok=(ADMIN,), forbidden=tuple(p for p in SIGNED_IN if p != ADMIN),
                                         body=lambda c, p: {"name": "matrix key"}),
    "organizations-get-api-key": Rule(ok=(ADMIN, N_ADV), forbidden=(N_KEY, N_CAND, S_KEY, S_CAND)),
    "organizations-revoke-api-key": Rule(ok=(ADMIN,), forbidden=tuple(p for p in SIGNED_IN if p != ADMIN)),
    # users
    "users-list-users": Rule(ok=(ADMIN, N_ADV, S_ADV), forbidden=(N_CAND, N_KEY, S_CAND, S_KEY)),
    # an account for north's other candidate: south's advisor is told there is no such candidate
    "users-create-user": Rule(ok=(ADMIN, N_ADV), forbidden=(N_CAND, N_KEY, S_CAND, S_KEY), other={S_ADV: 404},
                              body=lambda c, p: {**PW_BODY, "candidate_id": c.world.north.other_candidate_id}),
    "users-get-user": Rule(ok=(ADMIN, N_ADV)),
    "users-update-user": Rule(ok=(ADMIN, N_ADV), body=lambda c, p: {"full_name": "Renamed By Matrix"}),
    "users-delete-user": Rule(ok=(ADMIN, N_ADV), forbidden=(*CANDIDATES, N_KEY, S_KEY)),
    # invitations: like creating users; accepting is open to all (a token that names nothing is a 404)
    "invitations-create-invitation": Rule(
        ok=(ADMIN, N_ADV), forbidden=(N_CAND, N_KEY, S_CAND, S_KEY), other={S_ADV: 404},
        body=lambda c, p: {"email": "matrix-invitee@example.org", "full_name": "Matrix Invitee", "role": "candidate",
                           "candidate_id": c.world.north.other_candidate_id}),
    "invitations-get-invitation": Rule(ok=(ADMIN, N_ADV), forbidden=(N_CAND, N_KEY, S_CAND, S_KEY)),
    "invitations-accept-invitation": Rule(ok=tuple(PRINCIPALS), ok_status={p: 404 for p in PRINCIPALS},
                                          body=lambda c, p: {"token": "t" * 43, "password": "x" * 12}),
    # candidates
    "candidates-list-candidates": EVERYONE,
    "candidates-create-candidate": Rule(
        ok=(ADMIN, N_ADV, N_KEY, S_ADV, S_KEY), forbidden=tuple(CANDIDATES),
        body=lambda c, p: {"full_name": "Matrix Candidate",
                           **({"organization_id": c.world.north.org_id} if p == ADMIN else {})}),
    # external ids are per organization: south's callers create their own candidate, north's replace theirs
    "candidates-upsert-candidate-by-external-id": Rule(
        ok=(N_ADV, N_KEY, S_ADV, S_KEY), forbidden=(ADMIN, N_CAND, S_CAND),
        body=lambda c, p: {"full_name": "Upserted By Matrix", "target_specialties": ["internal_medicine"]}),
    # by the organization's own ids: a candidate or an admin has none to look up
    "candidates-get-candidate-by-external-id": Rule(ok=(N_ADV, N_KEY)),
    "candidates-get-candidate": candidate_scoped(),
    "candidates-update-candidate": candidate_scoped(body=lambda c, p: {"school_name": "Matrix School"}),
    "candidates-delete-candidate": Rule(ok=tuple(NORTH_STAFF), forbidden=(*CANDIDATES, N_CAND_OTHER)),
    # milestones
    "milestones-list-milestone-types": EVERYONE,
    "milestones-list-milestones": candidate_scoped(),
    "milestones-create-milestone": candidate_scoped(body=lambda c, p: milestone_body()),
    "milestones-get-milestone": candidate_scoped(),
    "milestones-update-milestone": candidate_scoped(body=lambda c, p: {"notes": "matrix"}),
    "milestones-delete-milestone": candidate_scoped(),
    "milestones-upsert-milestone-by-external-id": candidate_scoped(body=lambda c, p: milestone_body()),
    "milestones-get-milestone-by-external-id": candidate_scoped(),
    # USCE
    "usce-list-usce-records": candidate_scoped(),
    "usce-create-usce-record": candidate_scoped(body=lambda c, p: usce_body()),
    "usce-get-usce-record": candidate_scoped(),
    "usce-update-usce-record": candidate_scoped(body=lambda c, p: {"supervisor": "Dr. Matrix"}),
    "usce-delete-usce-record": candidate_scoped(),
    "usce-upsert-usce-record-by-external-id": candidate_scoped(body=lambda c, p: usce_body()),
    "usce-get-usce-record-by-external-id": candidate_scoped(),
    # programs: a shared catalogue, read by all; changed by admins and the organization that added the program
    "programs-list-programs": EVERYONE,
    "programs-create-program": Rule(ok=(ADMIN, N_ADV, N_KEY, S_ADV, S_KEY), forbidden=tuple(CANDIDATES),
                                    body=lambda c, p: program_body()),
    "programs-get-program": EVERYONE,
    "programs-update-program": Rule(ok=tuple(NORTH_STAFF), forbidden=(N_CAND, S_ADV, S_CAND, S_KEY),
                                    body=lambda c, p: {"min_step2ck": 231}),
    "programs-delete-program": Rule(ok=tuple(NORTH_STAFF), forbidden=(N_CAND, S_ADV, S_CAND, S_KEY)),
    # program lists and entries
    "program-lists-list-program-lists": candidate_scoped(),
    "program-lists-create-program-list": candidate_scoped(body=lambda c, p: {"name": "Matrix list"}),
    "program-lists-get-program-list": candidate_scoped(),
    "program-lists-update-program-list": candidate_scoped(body=lambda c, p: {"name": "Matrix renamed"}),
    "program-lists-delete-program-list": candidate_scoped(),
    "program-lists-upsert-program-list-by-external-id": candidate_scoped(body=lambda c, p: {"name": "Main"}),
    "program-lists-get-program-list-by-external-id": candidate_scoped(),
    # the change feed: each caller sees their own organization's (a candidate: their own record's)
    "events-list-events": EVERYONE,
    "events-get-event": candidate_scoped(),  # an event of north's candidate's record
    # the audit trail: the organization's advisors and admins
    "audit-list-audit-records": Rule(ok=(ADMIN, N_ADV), forbidden=(N_KEY, S_KEY, N_CAND, S_CAND)),
    "program-lists-list-entries": candidate_scoped(),
    "program-lists-create-entry": candidate_scoped(body=lambda c, p: {"program_id": c.ids["program_id"]}),
    "program-lists-get-entry": candidate_scoped(),
    "program-lists-update-entry": candidate_scoped(body=lambda c, p: {"status": "applied"}),
    "program-lists-delete-entry": candidate_scoped(),
    # calendar subscriptions, and the feed they point at: the address is the credential, so everyone holding it
    # (even without signing in) reads it, and no one's credentials make another's address work (see
    # tests/api/test_computed_events.py for revoked and unknown tokens)
    "calendar-subscriptions-create-calendar-subscription": candidate_scoped(body=lambda c, p: {"name": "Matrix"}),
    "calendar-subscriptions-list-calendar-subscriptions": candidate_scoped(),
    "calendar-subscriptions-get-calendar-subscription": candidate_scoped(),
    "calendar-subscriptions-revoke-calendar-subscription": candidate_scoped(),
    "calendar-get-calendar-feed": Rule(ok=tuple(PRINCIPALS)),
    # webhooks: the organization's staff and systems; candidates may not; other organizations see nothing
    "webhooks-list-webhook-endpoints": WEBHOOKS,
    "webhooks-create-webhook-endpoint": Rule(ok=tuple(NORTH_STAFF), forbidden=tuple(CANDIDATES),
                                             body=lambda c, p: {"url": CLOSED_URL}),
    "webhooks-get-webhook-endpoint": WEBHOOKS,
    "webhooks-update-webhook-endpoint": Rule(ok=tuple(NORTH_STAFF), forbidden=tuple(CANDIDATES),
                                             body=lambda c, p: {"description": "matrix"}),
    "webhooks-delete-webhook-endpoint": WEBHOOKS,
    "webhooks-rotate-webhook-secret": WEBHOOKS,
    "webhooks-test-webhook-endpoint": WEBHOOKS,
    "webhooks-list-webhook-deliveries": WEBHOOKS,
    "webhooks-get-webhook-delivery": WEBHOOKS,
    "webhooks-retry-webhook-delivery": WEBHOOKS,
    # imports: into the caller's own organization, by its advisors and API keys (admins have none; candidates no)
    "imports-create-import": Rule(ok=(N_ADV, N_KEY, S_ADV, S_KEY), forbidden=(ADMIN, *CANDIDATES),
                                  body=lambda c, p: {"candidates": [{"external_id": f"MATRIX-{p}",
                                                                     "full_name": "Matrix Import"}]}),
    "imports-list-imports": Rule(ok=(N_ADV, N_KEY, S_ADV, S_KEY), forbidden=(ADMIN, *CANDIDATES)),
    "imports-get-import": Rule(ok=tuple(NORTH_STAFF)),
    # erasure: people only (the advisor, an admin; the candidate when the organization allows, which north does not)
    "privacy-erase-candidate": Rule(ok=(ADMIN, N_ADV), forbidden=(N_KEY, S_KEY, N_CAND)),
    "imports-list-import-items": Rule(ok=tuple(NORTH_STAFF)),
}

# Computed endpoints other engineers are adding; matched by method and path so they are covered the day they land.
# The body of a POST comes from the example in its OpenAPI schema.
GENERIC: list[tuple[str, re.Pattern[str], Rule]] = [
    ("get", re.compile(r"^/v1/candidates/\{candidate_id\}/(program-lists/\{list_id\}/)?[a-z.-]+$"),
     candidate_scoped()),
    ("post", re.compile(r"^/v1/match-simulations$"), EVERYONE),
    ("get", re.compile(r"^/v1/match-cycles(/\{[a-z_]+\})?$"), EVERYONE),
    ("get", re.compile(r"^/v1/organizations/\{organization_id\}/[a-z-]+$"),
     Rule(ok=tuple(NORTH_STAFF), other={N_CAND: frozenset({403, 404}), S_CAND: frozenset({403, 404})})),
]


# ---- the operations of the document ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Op:
    method: str
    path: str
    operation_id: str
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"{self.operation_id} {self.method.upper()} {self.path}"


@cache
def openapi() -> dict[str, Any]:
    from app.main import create_app

    return create_app().openapi()


def all_operations() -> list[Op]:
    ops = []
    for path, item in openapi()["paths"].items():
        for method, spec in item.items():
            if method in ("get", "put", "post", "patch", "delete"):
                ops.append(Op(method, path, spec.get("operationId", f"{method} {path}"), spec))
    return ops


def rule_for(op: Op) -> Rule | None:
    if op.operation_id in OPERATIONS:
        return OPERATIONS[op.operation_id]
    for method, pattern, rule in GENERIC:
        if op.method == method and pattern.match(op.path):
            return rule
    return None


def success_statuses(op: Op) -> frozenset[int]:
    return frozenset(int(s) for s in op.spec.get("responses", {}) if s.isdigit() and 200 <= int(s) < 300)


def test_every_operation_has_an_expectation():
    missing = [op.label for op in all_operations() if rule_for(op) is None]
    assert not missing, ("operations without an entry in OPERATIONS (tests/api/test_access_matrix.py); add one "
                         "saying who may call them and with what body:\n  " + "\n  ".join(missing))
    stale = set(OPERATIONS) - {op.operation_id for op in all_operations()}
    assert not stale, f"entries for operations that no longer exist: {sorted(stale)}"
    assert len(all_operations()) >= 50


# ---- north's objects -------------------------------------------------------------------------------------------

def _reset() -> None:
    """Empty every table (children before parents)."""
    with sync_engine().begin() as conn:
        delete_all(conn)


def build(client: Any) -> Ctx:
    _reset()
    world = _insert_world()
    objects = north_objects(client, world, external_id=EXTERNAL_ID, password=KNOWN_PASSWORD)
    return Ctx(world=world, ids=objects.ids, other_ids=objects.other_ids, known_email=objects.known_email)


def headers_of(ctx: Ctx, principal: str) -> dict[str, str]:
    w = ctx.world
    return {
        ANON: {}, ADMIN: w.admin_headers,
        N_ADV: w.north.advisor_headers, N_CAND: w.north.candidate_headers, N_KEY: w.north.api_key_headers,
        S_ADV: w.south.advisor_headers, S_CAND: w.south.candidate_headers, S_KEY: w.south.api_key_headers,
        N_CAND_OTHER: w.north.candidate_headers,
    }[principal]


# ---- requests --------------------------------------------------------------------------------------------------

def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = openapi()["components"]["schemas"][name]
    return schema


def _value_for(schema: dict[str, Any]) -> Any:
    schema = _resolve(schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _value_for(next(s for s in schema[key] if s.get("type") != "null"))
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if schema.get("format") == "date":
        return datetime.now(UTC).date().isoformat()
    if kind == "integer":
        lo, hi = schema.get("minimum", 2027), schema.get("maximum", 2027)
        return min(max(2027, lo), hi)
    if kind == "boolean":
        return False
    if kind == "string":
        return "x"
    raise AssertionError(f"cannot make a value for {schema}")


def _example_body(op: Op) -> Any:
    content = op.spec.get("requestBody", {}).get("content", {})
    media = content.get("application/json")
    if media is None:
        raise AssertionError(f"{op.label}: add a body to OPERATIONS")
    if "example" in media:
        return media["example"]
    schema = _resolve(media["schema"])
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    raise AssertionError(f"{op.label}: its schema has no example; add a body to OPERATIONS")


def request_for(client: Any, op: Op, rule: Rule, ctx: Ctx, principal: str) -> Any:
    ids = ctx.other_ids if principal == N_CAND_OTHER else ctx.ids
    values = {}
    for param in op.spec.get("parameters", []):
        if param["in"] != "path":
            continue
        name = param["name"]
        if name in ids:
            values[name] = ids[name]
        else:  # not an object id (e.g. a Match year): any valid value
            assert param["schema"].get("format") != "uuid", \
                f"{op.label}: no north object for path parameter {name}; add one in build()"
            values[name] = _value_for(param["schema"])
    path = op.path.format(**values)
    params = {p["name"]: _value_for(p["schema"]) for p in op.spec.get("parameters", [])
              if p["in"] == "query" and p.get("required")}
    headers = dict(headers_of(ctx, principal))
    if op.method in ("patch", "delete") and rule.if_match is not None:
        headers["If-Match"] = rule.if_match
    elif op.method in ("patch", "delete"):
        # the current ETag, so that only access control can refuse the call
        r = client.get(path, headers=ctx.world.admin_headers)
        assert r.status_code == 200, f"{op.label}: cannot read {path} as admin: {r.text}"
        headers["If-Match"] = r.headers["etag"]
    kwargs: dict[str, Any] = {"headers": headers, "params": params}
    if "requestBody" in op.spec:
        body = rule.body(ctx, principal) if rule.body else _example_body(op)
        kwargs["data" if rule.form else "json"] = body
    return client.request(op.method.upper(), path, **kwargs)


def north_etag(client: Any, ctx: Ctx) -> str | None:
    r = client.get(f"/v1/candidates/{ctx.world.north.candidate_id}", headers=ctx.world.admin_headers)
    return r.headers.get("etag") if r.status_code == 200 else None


# ---- the matrix ------------------------------------------------------------------------------------------------

OPS = all_operations()


@pytest.mark.parametrize("op", OPS, ids=[op.label for op in OPS])
def test_access(client, op):  # type: ignore[no-untyped-def]
    rule = rule_for(op)
    assert rule is not None, f"{op.label} has no entry in OPERATIONS: say who may call it"
    success = success_statuses(op)
    assert success, f"{op.label} declares no 2xx response"
    principals = list(PRINCIPALS)
    if "{candidate_id}" in op.path:
        principals.append(N_CAND_OTHER)
    expectations = {p: rule.expected(p, success) for p in principals}
    if op.path.startswith("/v1/") and op.operation_id != "auth-issue-token" and op.spec.get("security") != []:
        assert expectations[ANON] == {401}, f"{op.label}: anonymous callers must get 401"
    # run the refusals first (they must change nothing, so one set of objects serves them all), then each allowed
    # caller on fresh objects when the previous one may have changed them
    allowed = [p for p in principals if p in rule.ok]
    denied = [p for p in principals if p not in allowed]
    assert allowed, f"{op.label}: nobody may call it? (no positive control)"
    failures: list[str] = []
    ctx = build(client)
    dirty = False
    for p in denied + allowed:
        if dirty:
            ctx = build(client)
        before, etag = snapshot(), north_etag(client, ctx)
        r = request_for(client, op, rule, ctx, p)
        dirty = op.method != "get"
        if r.status_code not in expectations[p]:
            failures.append(f"{p}: expected {sorted(expectations[p])}, got {r.status_code} {r.text[:200]}")
            continue
        if r.status_code >= 400:
            dirty = False
            if not r.headers.get("content-type", "").startswith("application/problem+json"):
                failures.append(f"{p}: a refusal must be application/problem+json, got "
                                f"{r.headers.get('content-type')}")
            if snapshot() != before or north_etag(client, ctx) != etag:
                failures.append(f"{p}: the refused call ({r.status_code}) changed stored data")
                dirty = True
        elif p in SOUTH and north_etag(client, ctx) != etag:
            failures.append(f"{p}: a south caller changed north's candidate")
    assert not failures, f"{op.label}:\n  " + "\n  ".join(failures)
