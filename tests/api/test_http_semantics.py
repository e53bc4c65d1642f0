"""HTTP mechanics every resource shares: Idempotency-Key, input hygiene, body limits, media types, the error format,
problem pages and health probes."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

import pytest

from app.core.errors import PROBLEM_TYPES
from app.core.idempotency import IdempotencyRecord
from tests.api.helpers import candidate_body, field_names, problem, snapshot, undeclared_headers
from tests.conftest import count_rows, insert_rows, sync_engine

URL = "/v1/candidates"


def _post(client, body, headers, key=None, url=URL):  # type: ignore[no-untyped-def]
    h = dict(headers)
    if key is not None:
        h["Idempotency-Key"] = key
    return client.post(url, json=body, headers=h)


# ---- Idempotency-Key -------------------------------------------------------------------------------------------

def test_same_key_same_body_replays_the_first_response(client, world):
    body = candidate_body()
    first = _post(client, body, world.north.advisor_headers, "key-1")
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    rows = count_rows("candidate")
    second = _post(client, body, world.north.advisor_headers, "key-1")
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    for h in ("location", "etag"):
        assert second.headers[h] == first.headers[h], h
    assert second.headers["content-type"].startswith("application/json")
    assert count_rows("candidate") == rows, "the replay created another row"
    # without the key the same body is a new request
    assert _post(client, body, world.north.advisor_headers).status_code == 201
    assert count_rows("candidate") == rows + 1


def test_a_replay_sends_only_headers_the_document_declares(client, world):
    """The replay's `Idempotent-Replayed` is declared, like the first answer's `ETag` and `Location`."""
    from app.main import create_app

    declared = create_app().openapi()["paths"][URL]["post"]["responses"]["201"]
    body = candidate_body()
    first = _post(client, body, world.north.advisor_headers, "key-declared")
    replay = _post(client, body, world.north.advisor_headers, "key-declared")
    assert replay.headers["idempotent-replayed"] == "true"
    for answer in (first, replay):
        assert answer.status_code == 201 and {"etag", "location"} <= set(answer.headers), answer.headers
        assert undeclared_headers(declared, answer.headers) == [], answer.headers


def test_same_key_other_body_is_422(client, world):
    assert _post(client, candidate_body(), world.north.advisor_headers, "key-2").status_code == 201
    before = snapshot()
    r = _post(client, candidate_body(), world.north.advisor_headers, "key-2")
    b = problem(r, 422, "idempotency-key-reused")
    assert "Idempotency-Key" in b["detail"]
    assert "idempotent-replayed" not in r.headers
    assert snapshot() == before


def test_same_key_on_another_path_is_422(client, world):
    assert _post(client, candidate_body(), world.north.advisor_headers, "key-3").status_code == 201
    before = snapshot()
    problem(_post(client, {"name": "Main"}, world.north.advisor_headers, "key-3",
                  url=f"{URL}/{world.north.candidate_id}/program-lists"), 422, "idempotency-key-reused")
    assert snapshot() == before


def test_keys_are_scoped_per_caller(client, world):
    body = candidate_body()
    a = _post(client, body, world.north.advisor_headers, "shared-key")
    b = _post(client, body, world.north.api_key_headers, "shared-key")  # same organization, another caller
    c = _post(client, body, world.south.advisor_headers, "shared-key")
    assert (a.status_code, b.status_code, c.status_code) == (201, 201, 201)
    assert "idempotent-replayed" not in b.headers and "idempotent-replayed" not in c.headers
    assert len({a.json()["id"], b.json()["id"], c.json()["id"]}) == 3
    assert c.json()["organization_id"] == world.south.org_id
    assert count_rows("candidate") == 4 + 3
    assert count_rows("idempotency_record") == 3


def test_a_failed_first_attempt_is_not_remembered(client, world):
    bad = candidate_body(usmle_id="123")
    problem(_post(client, bad, world.north.advisor_headers, "key-4"), 422, "validation-error")
    assert count_rows("idempotency_record") == 0
    # the client fixes the body and retries with the same key: a fresh request, not "key reused"
    good = candidate_body(usmle_id="12312312")
    r = _post(client, good, world.north.advisor_headers, "key-4")
    assert r.status_code == 201, r.text
    assert "idempotent-replayed" not in r.headers
    # domain refusals are not remembered either
    problem(_post(client, candidate_body(usmle_id="12312312"), world.north.advisor_headers, "key-5"), 409,
            code="usmle_id_taken")
    assert _post(client, candidate_body(), world.north.advisor_headers, "key-5").status_code == 201


def _forgotten(r):  # type: ignore[no-untyped-def]
    """The answer to a retry whose record was deleted since: a 409 of its own, without the first answer."""
    b = problem(r, 409, "idempotency-replay-forgotten")
    assert b["title"] == PROBLEM_TYPES["idempotency-replay-forgotten"].title
    assert "deleted" in b["detail"] and "new Idempotency-Key" in b["detail"]
    assert "idempotent-replayed" not in r.headers and "location" not in r.headers and "etag" not in r.headers
    return b


def test_a_retry_after_the_record_is_deleted_is_refused_not_run_again(client, world):
    h = world.north.advisor_headers
    body = candidate_body()
    first = _post(client, body, h, "key-6")
    assert first.status_code == 201, first.text
    cid = first.json()["id"]
    assert client.delete(f"{URL}/{cid}", headers={**h, "If-Match": first.headers["etag"]}).status_code == 204
    rows = count_rows("candidate")
    again = _post(client, body, h, "key-6")
    b = _forgotten(again)
    assert body["full_name"] not in again.text and cid not in again.text  # nothing of the deleted record
    assert count_rows("candidate") == rows, "the retry created the deleted record again"
    problem(client.get(f"{URL}/{cid}", headers=h), 404)
    assert _forgotten(_post(client, body, h, "key-6")) == b  # and so on, until the key expires
    problem(_post(client, candidate_body(), h, "key-6"), 422, "idempotency-key-reused")
    assert count_rows("candidate") == rows
    fresh = _post(client, body, h, "key-6-new")  # a new key makes it again
    assert fresh.status_code == 201, fresh.text
    assert "idempotent-replayed" not in fresh.headers and fresh.json()["id"] != cid
    assert count_rows("candidate") == rows + 1


def test_a_retry_after_the_user_is_deleted_is_refused_not_run_again(client, world):
    admin = world.admin_headers
    body = {"email": f"deleted-{uuid.uuid4().hex[:8]}@example.org", "full_name": "Deleted Advisor",
            "password": "a long passphrase 7731", "role": "advisor", "organization_id": world.north.org_id}
    first = _post(client, body, admin, "user-1", url="/v1/users")
    assert first.status_code == 201, first.text
    uid = first.json()["id"]
    assert client.delete(f"/v1/users/{uid}", headers={**admin, "If-Match": first.headers["etag"]}).status_code \
        == 204
    rows = count_rows("user_account")
    again = _post(client, body, admin, "user-1", url="/v1/users")
    _forgotten(again)
    assert body["email"] not in again.text and uid not in again.text
    assert count_rows("user_account") == rows, "the retry created the deleted account again"
    problem(_post(client, {**body, "full_name": "Another"}, admin, "user-1", url="/v1/users"), 422,
            "idempotency-key-reused")
    fresh = _post(client, body, admin, "user-1-new", url="/v1/users")
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["id"] != uid and count_rows("user_account") == rows + 1


def test_the_contract_says_what_a_retry_after_a_deletion_gets(app):  # type: ignore[no-untyped-def]
    doc = app.openapi()
    forgotten = PROBLEM_TYPES["idempotency-replay-forgotten"]
    assert forgotten.status == 409 and doc["components"]["examples"][forgotten.slug]["value"]["type"] == forgotten.uri
    seen = 0
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            keys = [p for p in op.get("parameters", []) if p["name"] == "Idempotency-Key"]
            if not keys:
                continue
            seen += 1
            assert forgotten.uri in keys[0]["description"], (method, path)
            conflict = op["responses"]["409"]
            assert "no longer kept" in conflict["description"], (method, path)
            assert forgotten.slug in conflict["content"]["application/problem+json"]["examples"], (method, path)
    assert seen >= 10, seen


def test_key_still_in_flight_is_409(client, world):
    me = client.get("/v1/auth/me", headers=world.north.advisor_headers).json()
    body = candidate_body()
    raw = json.dumps(body).encode()
    fingerprint = hashlib.sha256(b"\0".join([b"POST", URL.encode(), b"", raw])).hexdigest()
    with sync_engine().begin() as conn:
        insert_rows(conn, IdempotencyRecord, dict(scope_key=f"user:{me['user_id']}", key="key-7",
                                                  fingerprint=fingerprint, state="in_flight",
                                                  created_at=datetime.now(UTC)))
    before = snapshot()
    r = client.post(URL, content=raw, headers={**world.north.advisor_headers, "Idempotency-Key": "key-7",
                                                "Content-Type": "application/json"})
    problem(r, 409, "idempotency-in-flight")
    assert "retry-after" in r.headers
    assert snapshot() == before


@pytest.mark.parametrize("key", [b"has space", b"k" * 256, "é".encode()])
def test_malformed_keys_are_422(client, world, key):
    before = snapshot()
    r = client.post(URL, json=candidate_body(), headers={**world.north.advisor_headers, "Idempotency-Key": key})
    b = problem(r, 422, "validation-error")
    assert "header.Idempotency-Key" in field_names(b)
    assert snapshot() == before


# ---- input hygiene ---------------------------------------------------------------------------------------------

def test_unknown_field_is_422_naming_it(client, world):
    before = snapshot()
    b = problem(_post(client, {**candidate_body(), "shoe_size": 44}, world.north.advisor_headers), 422,
                "validation-error")
    assert "body.shoe_size" in field_names(b)
    assert all({"field", "message", "code"} <= set(e) for e in b["errors"])
    b = problem(client.patch(f"{URL}/{world.north.candidate_id}", json={"nickname": "x"},
                             headers={**world.north.advisor_headers, "If-Match": '"v1"'}), 422)
    assert "body.nickname" in field_names(b)
    assert snapshot() == before


@pytest.mark.parametrize("url,body,field", [
    (URL, {"full_name": "Ami\x00na"}, "body.full_name"),
    (URL, {"full_name": "Amina", "school_name": "\x00"}, "body.school_name"),
    (URL, {"full_name": "Amina", "email": "a\x00@b.example"}, "body.email"),
    (URL, {"full_name": "Amina", "external_id": "SIS\x00"}, "body.external_id"),
    ("/v1/programs", None, "body.source"),
    ("{milestones}", {"type_code": "specialty_decided", "notes": "a\x00b"}, "body.notes"),
    ("{lists}", {"name": "IM\x00"}, "body.name"),
])
def test_nul_byte_in_a_string_is_422_and_nothing_stored(client, world, url, body, field):
    from tests.api.helpers import program_body

    url = url.format(milestones=f"{URL}/{world.north.candidate_id}/milestones",
                     lists=f"{URL}/{world.north.candidate_id}/program-lists")
    body = body or program_body(source="https://example.org/\x00")
    before = snapshot()
    b = problem(client.post(url, json=body, headers=world.north.advisor_headers), 422, "validation-error")
    assert field in field_names(b), b
    assert snapshot() == before


def test_nul_byte_in_patch_and_query_is_422(client, world):
    before = snapshot()
    problem(client.patch(f"{URL}/{world.north.candidate_id}", json={"full_name": "x\x00"},
                         headers={**world.north.advisor_headers, "If-Match": '"v1"'}), 422, "validation-error")
    problem(client.get(URL, params={"q": "a\x00"}, headers=world.north.advisor_headers), 422, "validation-error")
    problem(client.get("/v1/programs", params={"q": "\x00"}, headers=world.north.advisor_headers), 422)
    assert snapshot() == before


def test_body_over_one_mebibyte_is_413(client, world):
    before = snapshot()
    big = candidate_body(school_name="x" * 100)
    big["notes_padding"] = "y" * (1024 * 1024)
    r = client.post(URL, content=json.dumps(big).encode(), headers={**world.north.advisor_headers,
                                                                      "Content-Type": "application/json"})
    problem(r, 413, "payload-too-large")
    # the limit holds for PATCH too, whatever the If-Match
    r = client.patch(f"{URL}/{world.north.candidate_id}", content=b'{"full_name": "' + b"z" * (1024 * 1024) + b'"}',
                     headers={**world.north.advisor_headers, "If-Match": '"v1"', "Content-Type": "application/json"})
    problem(r, 413, "payload-too-large")
    assert snapshot() == before


def test_body_just_under_the_limit_is_read(client, world):
    body = json.dumps({"full_name": "Amina", "padding": "p" * (1024 * 1024 - 100)}).encode()
    assert len(body) <= 1024 * 1024
    b = problem(client.post(URL, content=body, headers={**world.north.advisor_headers,
                                                         "Content-Type": "application/json"}), 422)
    assert "body.padding" in field_names(b)  # it got as far as validation


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client, world, ctype):
    headers = dict(world.north.advisor_headers)
    if ctype:
        headers["Content-Type"] = ctype
    before = snapshot()
    r = client.post(URL, content=json.dumps(candidate_body()).encode(), headers=headers)
    problem(r, 415, "unsupported-media-type")
    assert snapshot() == before


def test_json_variants_are_accepted(client, world):
    r = client.post(URL, content=json.dumps(candidate_body()).encode(),
                    headers={**world.north.advisor_headers, "Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text
    r = client.patch(f"{URL}/{world.north.candidate_id}", content=b'{"school_name": "Merge"}',
                     headers={**world.north.advisor_headers, "If-Match": '"v1"',
                              "Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["school_name"] == "Merge"


@pytest.mark.parametrize("raw", [b'{"full_name": "x",}', b'{"full_name": ', b"\xff\xfe{}", b"{'full_name': 'x'}"])
def test_malformed_json_is_400(client, world, raw):
    before = snapshot()
    r = client.post(URL, content=raw, headers={**world.north.advisor_headers, "Content-Type": "application/json"})
    problem(r, 400, "bad-request")
    assert snapshot() == before


def test_json_of_the_wrong_shape_is_422(client, world):
    for raw in (b"[1, 2]", b'"a string"', b"null", b"", b'{"full_name": 12}'):
        problem(client.post(URL, content=raw, headers={**world.north.advisor_headers,
                                                       "Content-Type": "application/json"}), 422, "validation-error")


# ---- routing errors and the error format -----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/nope", "/v1/nope", "/v1/candidates/by-external-id/a/b", "/v2/candidates"])
def test_unknown_path_is_404_problem(client, world, path):
    b = problem(client.get(path, headers=world.north.advisor_headers), 404, "not-found")
    assert b["instance"] == path


@pytest.mark.parametrize("method,path,allow", [
    ("DELETE", "/livez", {"GET", "HEAD"}),
    ("PUT", "/v1/candidates", {"GET", "HEAD", "POST"}),
    ("OPTIONS", "/v1/candidates", {"GET", "HEAD", "POST"}),
    ("POST", "/v1/milestone-types", {"GET", "HEAD"}),
    ("PATCH", "/v1/programs", {"GET", "HEAD", "POST"}),
    ("PUT", "/v1/candidates/6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10", {"GET", "HEAD", "PATCH", "DELETE"}),
    ("POST", "/v1/candidates/by-external-id/SIS-1", {"GET", "HEAD", "PUT"}),
])
def test_wrong_method_is_405_problem_with_allow(client, world, method, path, allow):
    r = client.request(method, path, headers=world.north.advisor_headers)
    problem(r, 405, "method-not-allowed")
    # Allow names every method of the resource, not just the first route that matched
    assert {m.strip() for m in r.headers["allow"].split(",")} == allow


def test_every_error_kind_is_a_problem_document(client, world):
    """One request per kind of error; each answers application/problem+json with type, title and status, and the
    type page exists."""
    h = world.north.advisor_headers
    cand = f"{URL}/{world.north.candidate_id}"
    responses = [
        client.post(URL, content=b"{", headers={**h, "Content-Type": "application/json"}),  # 400
        client.get(URL),  # 401
        client.post(URL, json=candidate_body(), headers=world.north.candidate_headers),  # 403
        client.get(f"{URL}/6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10", headers=h),  # 404
        client.delete(URL, headers=h),  # 405
        client.post("/v1/organizations", json={"name": "north"}, headers=world.admin_headers),  # 409
        client.patch(cand, json={"full_name": "x"}, headers={**h, "If-Match": '"v9"'}),  # 412
        client.post(URL, content=b"x" * (1024 * 1024 + 1), headers={**h, "Content-Type": "application/json"}),
        client.post(URL, content=b"{}", headers={**h, "Content-Type": "text/csv"}),  # 415
        client.post(URL, json={}, headers=h),  # 422
        client.patch(cand, json={"full_name": "x"}, headers=h),  # 428
    ]
    statuses = []
    for r in responses:
        assert r.headers["content-type"] == "application/problem+json", (r.status_code, r.headers)
        body = r.json()
        assert {"type", "title", "status"} <= set(body), body
        assert body["status"] == r.status_code
        slug = body["type"].removeprefix("/problems/")
        assert slug in PROBLEM_TYPES and PROBLEM_TYPES[slug].status == r.status_code, body
        assert PROBLEM_TYPES[slug].title == body["title"]
        assert client.get(body["type"]).status_code == 200
        statuses.append(r.status_code)
    assert statuses == [400, 401, 403, 404, 405, 409, 412, 413, 415, 422, 428]


@pytest.mark.parametrize("slug", sorted(PROBLEM_TYPES))
def test_problem_type_pages_answer(client, slug):
    r = client.get(f"/problems/{slug}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    pt = PROBLEM_TYPES[slug]
    assert pt.title in r.text and str(pt.status) in r.text


def test_unknown_problem_page_is_404(client):
    problem(client.get("/problems/no-such-problem"), 404, "not-found")


def test_errors_never_echo_credentials(client, world):
    token = world.north.advisor_headers["Authorization"].split()[1]
    r = client.get(f"{URL}/6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10", headers=world.north.advisor_headers)
    assert token not in r.text
    secret = world.north.api_key_headers["X-API-Key"]
    r = client.get(URL, headers={"X-API-Key": secret + "x"})
    problem(r, 401)
    assert secret not in r.text


# ---- health ----------------------------------------------------------------------------------------------------

def test_livez(client):
    r = client.get("/livez")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_readyz_reports_the_migrated_database(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    from app.core.migrate import head_revisions

    for rev in head_revisions():
        assert rev in body["detail"]


# ---- JSON types are taken as documented: no silent coercion ----------------------------------------------------

@pytest.mark.parametrize("url,body,field", [
    (URL, {"full_name": "A", "target_match_year": "2027"}, "body.target_match_year"),
    (URL, {"full_name": "A", "target_match_year": True}, "body.target_match_year"),
    (URL, {"full_name": "A", "target_match_year": 2027.5}, "body.target_match_year"),
    (URL, {"full_name": "A", "graduation_on": 0}, "body.graduation_on"),
    (URL, {"full_name": "A", "graduation_on": "0"}, "body.graduation_on"),
    (URL, {"full_name": "A", "graduation_on": "2024-07-15T00:00:00"}, "body.graduation_on"),
    ("{usce}", {"kind": "elective", "institution": "H", "start_on": "2026-01-05", "end_on": "2026-01-30",
                "hands_on": 0}, "body.hands_on"),
    ("{usce}", {"kind": "elective", "institution": "H", "start_on": "2026-01-05", "end_on": "2026-01-30",
                "us_letter": "yes"}, "body.us_letter"),
    ("{milestones}", {"type_code": "usmle_step2ck", "status": "passed", "completed_on": "2025-01-01",
                      "result": {"score": "240"}}, "body.result.score"),
    ("{lists}", {"name": "L", "cycle": "2028"}, "body.cycle"),
    ("/v1/programs", {"positions": "12"}, "body.positions"),
    ("/v1/programs", {"sponsors_j1": 1}, "body.sponsors_j1"),
])
def test_values_of_the_wrong_json_type_are_422(client, world, url, body, field):
    from tests.api.helpers import program_body

    url = url.format(usce=f"{URL}/{world.north.candidate_id}/usce-records",
                     milestones=f"{URL}/{world.north.candidate_id}/milestones",
                     lists=f"{URL}/{world.north.candidate_id}/program-lists")
    if url == "/v1/programs":
        body = program_body(**body)
    before = snapshot()
    b = problem(client.post(url, json=body, headers=world.north.advisor_headers), 422, "validation-error")
    assert field in field_names(b), b
    assert snapshot() == before


def test_is_active_must_be_a_boolean(client, world):
    me = client.get("/v1/auth/me", headers=world.north.candidate_headers).json()["user_id"]
    b = problem(client.patch(f"/v1/users/{me}", json={"is_active": 0},
                             headers={**world.admin_headers, "If-Match": '"v1"'}), 422, "validation-error")
    assert "body.is_active" in field_names(b)


@pytest.mark.parametrize("value", ["0", "20240101", "2024-01-01T00:00:00", "1e3"])
def test_dates_in_queries_are_yyyy_mm_dd(client, world, value):
    url = f"{URL}/{world.north.candidate_id}/next-step"
    assert client.get(url, params={"as_of": "2026-01-15"}, headers=world.north.advisor_headers).status_code == 200
    b = problem(client.get(url, params={"as_of": value}, headers=world.north.advisor_headers), 422,
                "validation-error")
    assert "query.as_of" in field_names(b)
