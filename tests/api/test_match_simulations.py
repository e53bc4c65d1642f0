"""POST /v1/match-simulations over HTTP: the contract advising tools rely on."""

from __future__ import annotations

import json

from tests.conftest import assert_problem, count_rows

URL = "/v1/match-simulations"

SMALL = {
    "programs": [{"id": "city", "positions": 2, "rank_order_list": ["eastman", "anderson", "chen"]},
                 {"id": "mercy", "positions": 1, "rank_order_list": ["chen", "davis"]}],
    "applicants": [{"id": "anderson", "rank_order_list": ["city"]},
                   {"id": "chen", "rank_order_list": ["city", "mercy"]},
                   {"id": "davis", "rank_order_list": []},
                   {"id": "eastman", "rank_order_list": []}],
    "couples": [{"members": ["davis", "eastman"], "rank_order_list": [["mercy", "city"], [None, "city"]]}],
}


def test_small_match_with_a_couple(client, world):
    r = client.post(URL, json=SMALL, headers=world.north.candidate_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    # Worked by hand: the couple's first pair (davis@mercy, eastman@city) is held by both programs (mercy ranks
    # davis second but has nobody better proposing for its 1 place until chen; city ranks eastman first). anderson
    # proposes to city (held: eastman, anderson). chen proposes to city: city prefers eastman and anderson, rejects
    # chen; chen proposes to mercy, which prefers chen to davis: davis is displaced, so the couple withdraws from
    # both and proposes (None, city): eastman is held at city, which then has eastman and anderson.
    assert body["assignments"] == {"anderson": "city", "chen": "mercy", "davis": None, "eastman": "city"}
    programs = {p["id"]: p for p in body["programs"]}
    assert programs["city"]["matched"] == ["eastman", "anderson"] and programs["city"]["unfilled"] == 0
    assert programs["mercy"]["matched"] == ["chen"]
    assert body["counts"]["matched"] == 3 and body["counts"]["unmatched"] == 1
    assert body["stability"]["stable"] is True


def test_trace_for_teaching(client, world):
    r = client.post(URL, json={**SMALL, "trace": True}, headers=world.north.advisor_headers)
    assert r.status_code == 200
    trace = r.json()["trace"]
    assert trace and all("applicant" in json.dumps(e) or "couple" in json.dumps(e) for e in trace)


def test_bad_input_is_a_precise_422(client, world):
    bad = {"programs": [{"id": "city", "positions": 1, "rank_order_list": ["ghost"]}],
           "applicants": [{"id": "anderson", "rank_order_list": ["city", "city"]}]}
    body = assert_problem(client.post(URL, json=bad, headers=world.north.advisor_headers), 422, "validation-error")
    codes = {e["code"] for e in body["errors"]}
    assert {"unknown_id", "duplicate_rank"} <= codes
    assert all(e["field"].startswith("body.") for e in body["errors"])


def test_more_than_300_ranks_is_refused(client, world):
    progs = [{"id": f"p{i}", "positions": 1, "rank_order_list": ["a"]} for i in range(301)]
    body = {"programs": progs, "applicants": [{"id": "a", "rank_order_list": [p["id"] for p in progs]}]}
    problem = assert_problem(client.post(URL, json=body, headers=world.north.advisor_headers), 422)
    assert any(e["code"] == "too_many_ranks" for e in problem["errors"])


def test_malformed_json_and_wrong_type(client, world):
    h = {**world.north.advisor_headers, "Content-Type": "application/json"}
    assert_problem(client.post(URL, content=b'{"programs": [', headers=h), 400, "bad-request")
    assert_problem(client.post(URL, content=b"programs=1", headers={**world.north.advisor_headers,
                                                                     "Content-Type": "text/plain"}), 415)


def test_needs_sign_in_and_stores_nothing(client, world):
    assert_problem(client.post(URL, json=SMALL), 401, "unauthorized")
    before = {t: count_rows(t) for t in ("candidate", "program", "program_list_entry")}
    assert client.post(URL, json=SMALL, headers=world.south.api_key_headers).status_code == 200
    assert {t: count_rows(t) for t in before} == before
