from tests.conftest import assert_problem


def test_get_candidate_and_etag(client, world):
    r = client.get(f"/v1/candidates/{world.north.candidate_id}", headers=world.north.advisor_headers)
    assert r.status_code == 200, r.text
    assert r.headers["etag"] == '"v1"'
    assert r.json()["full_name"] == "north candidate one"


def test_other_org_is_404(client, world):
    r = client.get(f"/v1/candidates/{world.north.candidate_id}", headers=world.south.advisor_headers)
    assert_problem(r, 404, "not-found")
