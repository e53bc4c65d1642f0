"""Candidates: CRUD, tenancy, filters, and the upsert by external id that university systems use."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from tests.api.helpers import (
    candidate_body,
    check_list_contract,
    check_write_contract,
    create,
    field_names,
    get_ok,
    milestone_body,
    page,
    problem,
    snapshot,
    usce_body,
)
from tests.conftest import count_rows

URL = "/v1/candidates"


def test_advisor_creates_a_candidate_in_their_organization(client, world):
    body = candidate_body(usmle_id="12345678", external_id="SIS-000123")
    cand, etag = create(client, URL, body, world.north.advisor_headers)
    assert etag == '"v1"'
    assert cand["organization_id"] == world.north.org_id
    for key, value in body.items():
        assert cand[key] == value, key
    assert cand["date_of_birth"] is None
    assert cand["created_at"].endswith("Z") and cand["updated_at"].endswith("Z")
    assert get_ok(client, f"{URL}/{cand['id']}", world.north.advisor_headers) == (cand, etag)


def test_defaults(client, world):
    cand, _ = create(client, URL, {"full_name": "Only A Name"}, world.north.advisor_headers)
    assert cand["us_status"] == "none" and cand["visa_need"] == "none" and cand["target_specialties"] == []
    assert cand["email"] is None and cand["external_id"] is None


def test_api_key_creates_in_its_organization(client, world):
    cand, _ = create(client, URL, candidate_body(), world.south.api_key_headers)
    assert cand["organization_id"] == world.south.org_id


def test_admin_names_the_organization(client, world):
    before = snapshot()
    b = problem(client.post(URL, json=candidate_body(), headers=world.admin_headers), 422)
    assert "body.organization_id" in field_names(b)
    b = problem(client.post(URL, json=candidate_body(organization_id="6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10"),
                            headers=world.admin_headers), 404)  # names no organization
    assert "body.organization_id" in field_names(b)
    assert snapshot() == before
    cand, _ = create(client, URL, candidate_body(organization_id=world.south.org_id), world.admin_headers)
    assert cand["organization_id"] == world.south.org_id


@pytest.mark.parametrize("org", ["south", "none"])
def test_advisor_cannot_create_in_another_organization(client, world, org):
    """Another organization and one that does not exist get the same 403: the answer tells nothing of others."""
    before = snapshot()
    org_id = world.south.org_id if org == "south" else "6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10"
    for headers in (world.north.advisor_headers, world.north.api_key_headers):
        b = problem(client.post(URL, json=candidate_body(organization_id=org_id), headers=headers), 403, "forbidden")
        assert b["code"] == "other_organization"
        assert "body.organization_id" in field_names(b)
    assert snapshot() == before
    cand, _ = create(client, URL, candidate_body(organization_id=world.north.org_id), world.north.advisor_headers)
    assert cand["organization_id"] == world.north.org_id


def test_candidates_cannot_create_candidates(client, world):
    before = snapshot()
    problem(client.post(URL, json=candidate_body(), headers=world.north.candidate_headers), 403, "forbidden")
    assert snapshot() == before


@pytest.mark.parametrize("over,field", [
    ({"usmle_id": "1234567"}, "body.usmle_id"),
    ({"usmle_id": "1234567a"}, "body.usmle_id"),
    ({"target_specialties": ["internal_medicine", "internal_medicine"]}, "body.target_specialties"),
    ({"target_specialties": [f"s{i}x" for i in range(6)]}, "body.target_specialties"),
    ({"target_specialties": ["Internal Medicine"]}, "body.target_specialties.0"),
    ({"date_of_birth": (date.today() + timedelta(days=1)).isoformat()}, "body.date_of_birth"),
    ({"date_of_birth": "1899-12-31"}, "body.date_of_birth"),
    ({"target_match_year": 1999}, "body.target_match_year"),
    ({"target_match_year": 2101}, "body.target_match_year"),
    ({"citizenship_country": "NGA"}, "body.citizenship_country"),
    ({"email": "nobody"}, "body.email"),
    ({"full_name": ""}, "body.full_name"),
    ({"full_name": "   "}, "body.full_name"),
    ({"full_name": None}, "body.full_name"),
    ({"us_status": "tourist"}, "body.us_status"),
    ({"visa_need": "o1"}, "body.visa_need"),
    ({"graduation_on": "2024-02-30"}, "body.graduation_on"),
    ({"external_id": "has space"}, "body.external_id"),
])
def test_invalid_fields_are_422_by_field(client, world, over, field):
    before = snapshot()
    b = problem(client.post(URL, json=candidate_body(**over), headers=world.north.advisor_headers), 422,
                "validation-error")
    assert field in field_names(b), b
    assert snapshot() == before


def test_a_nul_character_is_refused_as_the_document_says(client, world):
    field, value, message = "full_name", "Ada\x00Lovelace", "must hold a visible character and no NUL characters"
    # PostgreSQL cannot store NUL; the document's pattern refuses it too, so a client's validator agrees.
    import re

    before = snapshot()
    b = problem(client.post(URL, json=candidate_body(**{field: value}), headers=world.north.advisor_headers), 422,
                "validation-error")
    found = [e for e in b["errors"] if e["field"] == f"body.{field}"]
    assert found and found[0]["message"] == message, b
    assert snapshot() == before
    doc = client.get("/openapi.json").json()["components"]["schemas"]["CandidateCreate"]["properties"][field]
    pattern = next(s["pattern"] for s in doc.get("anyOf", [doc]) if s.get("type") == "string")
    assert re.search(pattern, value) is None and re.search(pattern, value.replace("\x00", " ")) is not None


@pytest.mark.parametrize("status", ["citizen", "permanent_resident"])
def test_us_citizens_and_residents_need_no_visa(client, world, status):
    b = problem(client.post(URL, json=candidate_body(us_status=status, visa_need="j1"),
                            headers=world.north.advisor_headers), 422, "domain-rule", code="visa_not_needed")
    assert "body.visa_need" in field_names(b) and "visa" in b["detail"]
    cand, etag = create(client, URL, candidate_body(us_status=status, visa_need="none"),
                        world.north.advisor_headers)
    # the document states the rule within one body ...
    rule = client.get("/openapi.json").json()["components"]["schemas"]["CandidateUpdate"]
    assert rule["if"]["properties"]["us_status"]["enum"] == ["citizen", "permanent_resident"]
    assert rule["then"]["properties"]["visa_need"] == {"const": "none"}
    h = {**world.north.advisor_headers, "If-Match": etag}
    for sent in (h, world.north.advisor_headers, {**h, "If-Match": '"v99"'}):  # the body's own fault comes first
        problem(client.patch(f"{URL}/{cand['id']}", json={"us_status": status, "visa_need": "h1b"}, headers=sent),
                422, "domain-rule", code="visa_not_needed")
    # the precondition before the record as stored is judged
    problem(client.patch(f"{URL}/{cand['id']}", json={"visa_need": "h1b"}, headers=world.north.advisor_headers), 428)
    problem(client.patch(f"{URL}/{cand['id']}", json={"visa_need": "h1b"},
                         headers={**h, "If-Match": '"v99"'}), 412)
    # ... and a change of one side that breaks it with the stored other side conflicts with the record's state
    b = problem(client.patch(f"{URL}/{cand['id']}", json={"visa_need": "h1b"}, headers=h), 409, "conflict",
                code="visa_not_needed")
    assert field_names(b) == {"body.visa_need"} and status.replace("_", " ") in b["detail"]
    other, other_etag = create(client, URL, candidate_body(us_status="none", visa_need="j1"),
                               world.north.advisor_headers)
    b = problem(client.patch(f"{URL}/{other['id']}", json={"us_status": status},
                             headers={**world.north.advisor_headers, "If-Match": other_etag}), 409, "conflict",
                code="visa_not_needed")
    assert field_names(b) == {"body.us_status"} and "j1" in b["detail"]
    assert client.get(f"{URL}/{cand['id']}", headers=world.north.advisor_headers).json()["visa_need"] == "none"
    # an unrelated change of a record is not held to it
    assert client.patch(f"{URL}/{other['id']}", json={"full_name": "Renamed"},
                        headers={**world.north.advisor_headers, "If-Match": other_etag}).status_code == 200


def test_usmle_id_is_unique_across_organizations(client, world):
    create(client, URL, candidate_body(usmle_id="87654321"), world.north.advisor_headers)
    before = snapshot()
    problem(client.post(URL, json=candidate_body(usmle_id="87654321"), headers=world.south.advisor_headers), 409,
            "conflict", code="usmle_id_taken")
    url = f"{URL}/{world.north.candidate_id}"
    problem(client.patch(url, json={"usmle_id": "87654321"}, headers={**world.north.advisor_headers,
                                                                      "If-Match": '"v1"'}),
            409, "conflict", code="usmle_id_taken")
    assert snapshot() == before


def test_external_id_is_unique_within_an_organization(client, world):
    create(client, URL, candidate_body(external_id="SIS-1"), world.north.advisor_headers)
    problem(client.post(URL, json=candidate_body(external_id="SIS-1"), headers=world.north.advisor_headers), 409,
            code="external_id_taken")
    problem(client.patch(f"{URL}/{world.north.candidate_id}", json={"external_id": "SIS-1"},
                         headers={**world.north.advisor_headers, "If-Match": '"v1"'}), 409, code="external_id_taken")
    create(client, URL, candidate_body(external_id="SIS-1"), world.south.advisor_headers)  # another namespace


def test_list_contract(client, world):
    ids = [c["id"] for c in page(client, URL, world.north.advisor_headers)["items"]]
    assert set(ids) == {world.north.candidate_id, world.north.other_candidate_id}
    for _ in range(21):
        ids.append(create(client, URL, candidate_body(), world.north.advisor_headers)[0]["id"])
    items = check_list_contract(client, URL, world.north.advisor_headers, ids, page_size=5)
    assert {c["organization_id"] for c in items} == {world.north.org_id}
    # the documented default order is creation order
    assert [c["id"] for c in items][2:] == ids[2:]


def test_lists_are_scoped_to_the_caller(client, world):
    assert page(client, URL, world.south.api_key_headers)["total"] == 2
    mine = page(client, URL, world.north.candidate_headers)
    assert [c["id"] for c in mine["items"]] == [world.north.candidate_id] and mine["total"] == 1
    assert page(client, URL, world.admin_headers)["total"] == 4
    assert page(client, URL, world.admin_headers, organization_id=world.south.org_id)["total"] == 2
    # naming another organization does not widen an advisor's view
    assert page(client, URL, world.north.advisor_headers, organization_id=world.south.org_id)["total"] == 0


def test_filters_search_and_sort(client, world):
    h = world.north.advisor_headers
    a, _ = create(client, URL, candidate_body(full_name="Zoe 100% Real", email="zoe@uni.example",
                                              target_match_year=2028, us_status="citizen", visa_need="none"), h)
    b, _ = create(client, URL, candidate_body(full_name="Adam_Smith", target_match_year=2028, visa_need="h1b"), h)
    assert [c["id"] for c in page(client, URL, h, target_match_year=2028, sort="full_name")["items"]] == \
        [b["id"], a["id"]]
    assert [c["id"] for c in page(client, URL, h, target_match_year=2028, sort="-full_name")["items"]] == \
        [a["id"], b["id"]]
    assert [c["id"] for c in page(client, URL, h, us_status="citizen")["items"]] == [a["id"]]
    assert [c["id"] for c in page(client, URL, h, visa_need="h1b")["items"]] == [b["id"]]
    assert [c["id"] for c in page(client, URL, h, q="ZOE")["items"]] == [a["id"]]
    assert [c["id"] for c in page(client, URL, h, q="uni.example")["items"]] == [a["id"]]
    # LIKE wildcards are literal characters in a search
    assert [c["id"] for c in page(client, URL, h, q="100%")["items"]] == [a["id"]]
    assert page(client, URL, h, q="%")["total"] == 1
    assert [c["id"] for c in page(client, URL, h, q="m_s")["items"]] == [b["id"]]
    assert page(client, URL, h, q="_")["total"] == 1
    for bad in ({"sort": "email"}, {"us_status": "alien"}, {"target_match_year": 1999}, {"q": ""},
                {"q": "x" * 101}, {"organization_id": "not-a-uuid"}):
        problem(client.get(URL, headers=h, params=bad), 422, "validation-error")


def test_write_contract(client, world):
    cand, _ = create(client, URL, candidate_body(), world.north.advisor_headers)
    check_write_contract(client, f"{URL}/{cand['id']}", world.north.advisor_headers,
                         patch={"target_match_year": 2028, "visa_need": "either",
                                "target_specialties": ["pediatrics", "family_medicine"]},
                         nullable="email", required=["full_name", "us_status", "target_specialties", "visa_need"])


def test_other_organizations_candidates_are_404_and_untouched(client, world):
    url = f"{URL}/{world.north.candidate_id}"
    before = snapshot()
    for h in (world.south.advisor_headers, world.south.api_key_headers, world.south.candidate_headers):
        problem(client.get(url, headers=h), 404, "not-found")
        problem(client.patch(url, json={"full_name": "X"}, headers={**h, "If-Match": '"v1"'}), 404, "not-found")
        # candidates may not delete records at all: 403, which tells nothing about the record
        refused = (403, "forbidden") if h is world.south.candidate_headers else (404, "not-found")
        problem(client.delete(url, headers={**h, "If-Match": '"v1"'}), *refused)
    problem(client.get(f"{URL}/{world.north.other_candidate_id}", headers=world.north.candidate_headers), 404)
    assert snapshot() == before
    problem(client.get(f"{URL}/not-a-uuid", headers=world.north.advisor_headers), 422, "validation-error")


def test_candidate_edits_own_record_but_not_external_id_or_deletion(client, world):
    url = f"{URL}/{world.north.candidate_id}"
    h = world.north.candidate_headers
    before = snapshot()
    problem(client.patch(url, json={"external_id": "MINE"}, headers={**h, "If-Match": '"v1"'}), 403, "forbidden")
    problem(client.delete(url, headers={**h, "If-Match": '"v1"'}), 403, "forbidden")
    assert snapshot() == before
    r = client.patch(url, json={"school_name": "My School"}, headers={**h, "If-Match": '"v1"'})
    assert r.status_code == 200 and r.json()["school_name"] == "My School" and r.headers["etag"] == '"v2"'


def test_delete_removes_everything_hanging_from_the_candidate(client, world):
    h = world.north.advisor_headers
    cid = world.north.candidate_id
    create(client, f"{URL}/{cid}/milestones", milestone_body(), h)
    create(client, f"{URL}/{cid}/usce-records", usce_body(), h)
    plist, _ = create(client, f"{URL}/{cid}/program-lists", {"name": "IM 2028"}, h)
    from tests.api.helpers import program_body
    prog, _ = create(client, "/v1/programs", program_body(), h)
    create(client, f"{URL}/{cid}/program-lists/{plist['id']}/entries", {"program_id": prog["id"]}, h)
    assert count_rows("user_account") == 5
    r = client.delete(f"{URL}/{cid}", headers={**h, "If-Match": '"v1"'})
    assert r.status_code == 204, r.text
    for table in ("milestone", "usce_record", "program_list", "program_list_entry"):
        assert count_rows(table) == 0, table
    assert count_rows("user_account") == 4  # the candidate's account went with the record
    assert count_rows("program") == 1  # the catalogue stays
    problem(client.get(f"{URL}/{cid}", headers=h), 404, "not-found")


# ---- upsert by external id -------------------------------------------------------------------------------------

def _put(client, ext, body, headers, if_match=None):  # type: ignore[no-untyped-def]
    h = dict(headers)
    if if_match is not None:
        h["If-Match"] = if_match
    return client.put(f"{URL}/by-external-id/{ext}", json=body, headers=h)


def _upsert_body(**over):  # type: ignore[no-untyped-def]
    body = candidate_body(**over)
    return body


def test_upsert_creates_then_replaces(client, world):
    h = world.north.api_key_headers
    body = _upsert_body(email="first@example.org", usmle_id="11112222")
    r = _put(client, "SIS-42", body, h)
    assert r.status_code == 201, r.text
    cand = r.json()
    assert r.headers["location"] == f"{URL}/{cand['id']}"
    assert r.headers["etag"] == '"v1"'
    assert cand["external_id"] == "SIS-42" and cand["organization_id"] == world.north.org_id
    assert cand["usmle_id"] == "11112222"

    replaced = {k: v for k, v in body.items() if k != "email"}
    replaced["target_match_year"] = 2028
    r = _put(client, "SIS-42", replaced, h)
    assert r.status_code == 200, r.text
    assert "location" not in r.headers
    assert r.headers["etag"] == '"v2"'
    got = r.json()
    assert got["id"] == cand["id"] and got["target_match_year"] == 2028
    assert got["email"] is None, "a field left out of a full replacement takes its default"
    assert got["external_id"] == "SIS-42"
    assert count_rows("candidate") == 5
    assert get_ok(client, f"{URL}/{cand['id']}", world.north.advisor_headers) == (got, '"v2"')


def test_upsert_unchanged_keeps_the_etag_and_writes_nothing(client, world):
    h = world.north.advisor_headers
    body = _upsert_body(date_of_birth="1996-02-29")
    first = _put(client, "SIS-7", body, h)
    assert first.status_code == 201
    before = snapshot()
    again = _put(client, "SIS-7", body, h)
    assert again.status_code == 200 and again.headers["etag"] == first.headers["etag"]
    assert again.json() == first.json()  # updated_at unchanged too
    assert snapshot() == before


def test_upsert_if_match_is_optional_but_checked(client, world):
    h = world.north.api_key_headers
    assert _put(client, "SIS-9", _upsert_body(), h).status_code == 201
    before = snapshot()
    problem(_put(client, "SIS-9", _upsert_body(), h, if_match='"v5"'), 412, "precondition-failed")
    # If-Match on something that does not exist yet cannot match
    problem(_put(client, "SIS-NEW", _upsert_body(), h, if_match='"v1"'), 412, "precondition-failed")
    assert snapshot() == before
    r = _put(client, "SIS-9", _upsert_body(full_name="Checked Writer"), h, if_match='"v1"')
    assert r.status_code == 200 and r.headers["etag"] == '"v2"' and r.json()["full_name"] == "Checked Writer"
    assert _put(client, "SIS-9", _upsert_body(full_name="Wildcard"), h, if_match="*").status_code == 200


def test_concurrent_first_upserts_make_one_candidate(client, world):
    h = world.north.api_key_headers
    barrier = threading.Barrier(2)
    bodies = [_upsert_body(full_name="Racer One"), _upsert_body(full_name="Racer Two")]

    def go(body):  # type: ignore[no-untyped-def]
        barrier.wait()
        return _put(client, "SIS-RACE", body, h)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(go, bodies))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 201], [r.text for r in results]
    ids = {r.json()["id"] for r in results}
    assert len(ids) == 1
    assert page(client, URL, h, q="Racer")["total"] == 1
    # the second create became an update of the first
    final, etag = get_ok(client, f"{URL}/{ids.pop()}", h)
    assert etag == '"v2"' and final["full_name"] in ("Racer One", "Racer Two")


def test_second_create_with_the_same_external_id_updates(client, world):
    h = world.north.advisor_headers
    first = _put(client, "SIS-DUP", _upsert_body(full_name="First"), h)
    second = _put(client, "SIS-DUP", _upsert_body(full_name="Second"), h)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and second.json()["full_name"] == "Second"


def test_upsert_external_ids_are_per_organization(client, world):
    north = _put(client, "SIS-1", _upsert_body(), world.north.api_key_headers)
    north_etag = north.headers["etag"]
    south = _put(client, "SIS-1", _upsert_body(), world.south.api_key_headers)
    assert north.status_code == south.status_code == 201
    assert north.json()["id"] != south.json()["id"]
    assert south.json()["organization_id"] == world.south.org_id
    assert get_ok(client, f"{URL}/{north.json()['id']}", world.north.advisor_headers)[1] == north_etag


def test_upsert_is_for_an_organizations_systems_and_advisors(client, world):
    before = snapshot()
    for h in (world.admin_headers, world.north.candidate_headers):
        problem(_put(client, "SIS-X", _upsert_body(), h), 403, "forbidden")
    problem(_put(client, "SIS-X", _upsert_body(), {}), 401, "unauthorized")
    assert snapshot() == before


@pytest.mark.parametrize("ext,body", [
    ("has space", None),
    ("x" * 101, None),
    ("ok", {"full_name": "A", "external_id": "other"}),
    ("ok", {"full_name": "A", "organization_id": "6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10"}),
    ("ok", {"email": "a@b.example"}),
])
def test_upsert_validates_path_and_body(client, world, ext, body):
    before = snapshot()
    problem(_put(client, ext, body or _upsert_body(), world.north.advisor_headers), 422, "validation-error")
    assert snapshot() == before


def test_upsert_unique_usmle_id_is_409_on_create_and_replace(client, world):
    h = world.north.api_key_headers
    create(client, URL, candidate_body(usmle_id="55556666"), world.south.advisor_headers)
    before = snapshot()
    problem(_put(client, "SIS-U", _upsert_body(usmle_id="55556666"), h), 409, code="usmle_id_taken")
    assert snapshot() == before
    assert _put(client, "SIS-U", _upsert_body(), h).status_code == 201
    before = snapshot()
    problem(_put(client, "SIS-U", _upsert_body(usmle_id="55556666"), h), 409, code="usmle_id_taken")
    assert snapshot() == before


