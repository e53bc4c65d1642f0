"""The program catalogue: readable by everyone signed in, edited by admins and the organization that added it."""

from __future__ import annotations

import pytest

from tests.api.helpers import (
    check_list_contract,
    check_write_contract,
    create,
    field_names,
    get_ok,
    page,
    problem,
    program_body,
    snapshot,
)

URL = "/v1/programs"


def test_advisor_adds_a_program_for_their_organization(client, world):
    body = program_body(nrmp_code="1234140C0", min_step2ck=225, usce_min_weeks=8, ecfmg_cert_required_by="start")
    prog, etag = create(client, URL, body, world.north.advisor_headers)
    assert etag == '"v1"' and prog["organization_id"] == world.north.org_id
    for key, value in body.items():
        assert prog[key] == value, key
    assert prog["positions"] is None and prog["sponsors_h1b"] is False
    assert get_ok(client, f"{URL}/{prog['id']}", world.south.candidate_headers) == (prog, etag)


def test_admin_programs_belong_to_the_platform_and_keys_to_their_org(client, world):
    assert create(client, URL, program_body(), world.admin_headers)[0]["organization_id"] is None
    assert create(client, URL, program_body(), world.south.api_key_headers)[0]["organization_id"] == \
        world.south.org_id


def test_candidates_cannot_add_programs(client, world):
    before = snapshot()
    problem(client.post(URL, json=program_body(), headers=world.north.candidate_headers), 403, "forbidden")
    assert snapshot() == before


@pytest.mark.parametrize("over,field", [
    ({"acgme_id": "140000001"}, "body.acgme_id"), ({"acgme_id": "14000000AB"}, "body.acgme_id"),
    ({"nrmp_code": "1234140c0"}, "body.nrmp_code"), ({"track": "fast"}, "body.track"),
    ({"min_step2ck": 301}, "body.min_step2ck"), ({"img_share_percent": 101}, "body.img_share_percent"),
    ({"positions": -1}, "body.positions"), ({"source": ""}, "body.source"), ({"facts_as_of": None},
                                                                             "body.facts_as_of"),
    ({"specialty": "IM"}, "body.specialty"), ({"state": "N1"}, "body.state"),
    ({"ecfmg_cert_required_by": "never"}, "body.ecfmg_cert_required_by"), ({"rank": 1}, "body.rank"),
])
def test_invalid_fields_are_422(client, world, over, field):
    before = snapshot()
    b = problem(client.post(URL, json=program_body(**over), headers=world.north.advisor_headers), 422,
                "validation-error")
    assert field in field_names(b), b
    assert snapshot() == before


def test_acgme_id_and_nrmp_code_are_unique(client, world):
    prog, _ = create(client, URL, program_body(acgme_id="1400000777", nrmp_code="1111140C0"),
                     world.north.advisor_headers)
    other, etag = create(client, URL, program_body(), world.south.advisor_headers)
    before = snapshot()
    problem(client.post(URL, json=program_body(acgme_id="1400000777"), headers=world.south.advisor_headers), 409,
            "conflict", code="acgme_id_taken")
    problem(client.post(URL, json=program_body(nrmp_code="1111140C0"), headers=world.south.advisor_headers), 409,
            "conflict", code="nrmp_code_taken")
    problem(client.patch(f"{URL}/{other['id']}", json={"acgme_id": "1400000777"},
                         headers={**world.south.advisor_headers, "If-Match": etag}), 409, code="acgme_id_taken")
    problem(client.patch(f"{URL}/{other['id']}", json={"nrmp_code": "1111140C0"},
                         headers={**world.south.advisor_headers, "If-Match": etag}), 409, code="nrmp_code_taken")
    assert snapshot() == before


def test_filters_by_specialty_state_visa_and_track(client, world):
    h = world.north.advisor_headers
    a, _ = create(client, URL, program_body(name="Alpha Peds", specialty="pediatrics", state="NJ",
                                            sponsors_j1=True, sponsors_h1b=True), h)
    b, _ = create(client, URL, program_body(name="Beta IM Prelim", track="preliminary", state="NY",
                                            sponsors_j1=False, sponsors_h1b=None), h)
    c, _ = create(client, URL, program_body(name="Gamma IM", state="NY", sponsors_j1=None, sponsors_h1b=False), h)

    def ids(**params):  # type: ignore[no-untyped-def]
        return [p["id"] for p in page(client, URL, world.north.candidate_headers, **params)["items"]]

    assert ids() == [a["id"], b["id"], c["id"]]  # default order: by name
    assert ids(sort="-name") == [c["id"], b["id"], a["id"]]
    assert ids(specialty="pediatrics") == [a["id"]]
    assert ids(specialty="internal_medicine") == [b["id"], c["id"]]
    assert ids(state="NY") == [b["id"], c["id"]]
    assert ids(state="nj") == [a["id"]]  # state codes are case-insensitive
    assert ids(visa="j1") == [a["id"]]  # null (not published) does not count as sponsoring
    assert ids(visa="h1b") == [a["id"]]
    assert ids(track="preliminary") == [b["id"]]
    assert ids(specialty="internal_medicine", state="NY", track="categorical") == [c["id"]]
    assert ids(q="im prelim") == [b["id"]]
    assert ids(specialty="surgery") == []
    for bad in ({"visa": "o1"}, {"track": "fast"}, {"state": "New York"}, {"sort": "positions"},
                {"specialty": "Bad Specialty"}):
        problem(client.get(URL, headers=h, params=bad), 422, "validation-error")


def test_list_contract(client, world):
    ids = [create(client, URL, program_body(name=f"Program {i:02d}"), world.south.advisor_headers)[0]["id"]
           for i in range(22)]
    check_list_contract(client, URL, world.north.candidate_headers, ids, page_size=5)
    problem(client.get(URL), 401, "unauthorized")


def test_write_contract(client, world):
    prog, _ = create(client, URL, program_body(), world.north.advisor_headers)
    check_write_contract(client, f"{URL}/{prog['id']}", world.north.advisor_headers,
                         patch={"min_step2ck": 230, "facts_as_of": "2026-10-01", "sponsors_h1b": True},
                         nullable="city",
                         required=["acgme_id", "name", "institution", "specialty", "track", "source",
                                   "facts_as_of"])


def test_another_organizations_advisor_cannot_edit_or_delete(client, world):
    prog, etag = create(client, URL, program_body(), world.north.advisor_headers)
    url = f"{URL}/{prog['id']}"
    before = snapshot()
    for h in (world.south.advisor_headers, world.south.api_key_headers, world.north.candidate_headers):
        problem(client.patch(url, json={"min_step2ck": 250}, headers={**h, "If-Match": etag}), 403, "forbidden")
        problem(client.delete(url, headers={**h, "If-Match": etag}), 403, "forbidden")
    assert snapshot() == before
    # the owning organization's system and the admin may
    r = client.patch(url, json={"min_step2ck": 250}, headers={**world.north.api_key_headers, "If-Match": etag})
    assert r.status_code == 200, r.text
    r = client.patch(url, json={"min_step2ck": 251}, headers={**world.admin_headers, "If-Match": r.headers["etag"]})
    assert r.status_code == 200 and r.json()["min_step2ck"] == 251


def test_admin_programs_are_edited_by_admins_only(client, world):
    prog, etag = create(client, URL, program_body(), world.admin_headers)
    problem(client.patch(f"{URL}/{prog['id']}", json={"city": "X"},
                         headers={**world.north.advisor_headers, "If-Match": etag}), 403, "forbidden")


def test_a_listed_program_cannot_be_deleted(client, world):
    h = world.north.advisor_headers
    prog, etag = create(client, URL, program_body(), h)
    plist, _ = create(client, f"/v1/candidates/{world.north.candidate_id}/program-lists", {"name": "IM"}, h)
    entry, entry_etag = create(client, f"/v1/candidates/{world.north.candidate_id}/program-lists/{plist['id']}"
                                       "/entries", {"program_id": prog["id"]}, h)
    before = snapshot()
    b = problem(client.delete(f"{URL}/{prog['id']}", headers={**h, "If-Match": etag}), 409, "conflict",
                code="program_in_use")
    assert "list" in b["detail"]
    assert snapshot() == before
    r = client.delete(f"/v1/candidates/{world.north.candidate_id}/program-lists/{plist['id']}/entries/"
                      f"{entry['id']}", headers={**h, "If-Match": entry_etag})
    assert r.status_code == 204
    assert client.delete(f"{URL}/{prog['id']}", headers={**h, "If-Match": etag}).status_code == 204


def test_unknown_program_is_404(client, world):
    problem(client.get(f"{URL}/6f1c1d8e-1b9a-4a53-9a0e-3b8c1d3e2f10", headers=world.north.advisor_headers), 404,
            "not-found")
