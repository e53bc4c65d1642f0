"""HTTP tests of the computed views: next step, readiness, screening, timeline, cohort, match cycles.

Expected values are worked out from the rule sets (dates of the 2027 cycle) and the domain notes; the pure engines
have their own table-driven tests under tests/unit."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app.core import reads
from tests.api.helpers import program_body
from tests.conftest import assert_problem

AS_OF = "2026-11-25"


def _post(client, url, headers, body, status=201):  # type: ignore[no-untyped-def]
    r = client.post(url, json=body, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


def _record_road(client, world, n_extra: int = 0, list_name: str = "IM 2027"):  # type: ignore[no-untyped-def]
    """North's candidate: Step 1 and Step 2 CK passed, OET passed, Pathway accepted, with USCE and a list."""
    cid, h = world.north.candidate_id, world.north.advisor_headers
    base = f"/v1/candidates/{cid}"
    _post(client, f"{base}/milestones", h, {"type_code": "usmle_id_registered", "status": "completed",
                                            "completed_on": "2023-01-10"})
    _post(client, f"{base}/milestones", h, {"type_code": "usmle_step1", "status": "passed",
                                            "completed_on": "2023-06-01"})
    _post(client, f"{base}/milestones", h, {"type_code": "usmle_step2ck", "status": "passed",
                                            "completed_on": "2025-11-03", "result": {"score": 246}})
    _post(client, f"{base}/milestones", h, {"type_code": "oet_medicine", "status": "passed",
                                            "completed_on": "2025-05-17",
                                            "result": {"listening": 380, "reading": 370, "writing": 330,
                                                       "speaking": 400}})
    _post(client, f"{base}/milestones", h, {"type_code": "ecfmg_pathway", "status": "completed",
                                            "completed_on": "2025-09-30", "result": {"pathway": "1"}})
    _post(client, f"{base}/usce-records", h, {"kind": "externship", "institution": "Lakeside (fictional)",
                                             "specialty": "internal_medicine", "start_on": "2026-04-06",
                                             "end_on": "2026-05-29", "us_letter": True})
    plist = _post(client, f"{base}/program-lists", h, {"name": list_name, "cycle": 2027})
    strict = _post(client, "/v1/programs", world.admin_headers,
                   program_body(min_step2ck=250, max_years_since_graduation=5))
    open_ = _post(client, "/v1/programs", world.admin_headers, program_body())
    _post(client, f"{base}/program-lists/{plist['id']}/entries", h, {"program_id": strict["id"], "rank_position": 1})
    _post(client, f"{base}/program-lists/{plist['id']}/entries", h, {"program_id": open_["id"], "rank_position": 2})
    for i in range(n_extra):
        p = _post(client, "/v1/programs", world.admin_headers, program_body())
        _post(client, f"{base}/program-lists/{plist['id']}/entries", h, {"program_id": p["id"],
                                                                         "rank_position": 3 + i})
        _post(client, f"{base}/milestones", h, {"type_code": "mentor_contact", "status": "completed",
                                                "completed_on": "2026-01-01"})
    return plist, strict, open_


def test_match_cycles_list_and_one(client, world):
    r = client.get("/v1/match-cycles", headers=world.north.advisor_headers)
    assert r.status_code == 200
    body = r.json()
    years = [c["year"] for c in body["items"]]
    assert years == sorted(years) and {2026, 2027, 2028} <= set(years)
    assert body["total"] == len(years)
    one = client.get("/v1/match-cycles/2026", headers=world.north.advisor_headers).json()
    dates = {d["name"]: d for d in one["dates"]}
    # Published facts for the 2026 Match (domain notes): Match Day 20 March 2026, ROL deadline 4 March 2026 9 pm ET.
    assert dates["match_day"]["on"] == "2026-03-20"
    assert dates["rol_deadline"]["on"] == "2026-03-04"
    assert dates["rol_deadline"]["time"] == "21:00" and dates["rol_deadline"]["time_zone"] == "America/New_York"
    assert all(d["source"] for d in one["dates"])
    # 2027 Match Day is not published: the third Friday of March 2027 is the 19th, marked estimated.
    d27 = {d["name"]: d for d in client.get("/v1/match-cycles/2027", headers=world.north.advisor_headers)
           .json()["dates"]}
    assert d27["match_day"]["on"] == "2027-03-19" and d27["match_day"]["estimated"] is True


@pytest.mark.parametrize("year", [1999, 1850, 2300])
def test_unknown_cycle_is_404(client, world, year):
    assert_problem(client.get(f"/v1/match-cycles/{year}", headers=world.north.advisor_headers), 404, "not-found")


def test_match_cycles_need_sign_in(client, world):
    assert_problem(client.get("/v1/match-cycles"), 401, "unauthorized")


def test_next_step_empty_record(client, world):
    """A candidate with nothing recorded: the road starts with registering for a USMLE/ECFMG ID."""
    r = client.get(f"/v1/candidates/{world.north.candidate_id}/next-step",
                   params={"as_of": AS_OF, "cycle": 2028}, headers=world.north.candidate_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["as_of"] == AS_OF and body["cycle"] == 2028 and body["rules_version"].startswith("2028")
    assert body["next_step"]["code"] == "usmle_id_registered"
    # Nothing recorded; the profile's target specialty counts as the specialty decision.
    assert [c["code"] for c in body["completed"]] == ["specialty_decided"]


def test_next_step_defaults_to_target_year(client, world):
    body = client.get(f"/v1/candidates/{world.north.candidate_id}/next-step", params={"as_of": AS_OF},
                      headers=world.north.advisor_headers).json()
    assert body["cycle"] == 2027  # the test world's candidates target the 2027 Match


def test_readiness_shape_and_versions(client, world):
    _record_road(client, world)
    r = client.get(f"/v1/candidates/{world.north.candidate_id}/readiness", params={"as_of": AS_OF},
                   headers=world.north.advisor_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] in ("not_ready", "at_risk", "on_track", "ready")
    assert 0 <= body["score"] <= 100
    assert body["rules_version"].startswith("2027") and body["model_version"]
    # Non-US-citizen IMG: the published 2025 rate over active applicants, 58.0 %.
    assert body["base_match_rate"]["applicant_type"] == "non_us_img"
    assert body["base_match_rate"]["rate"] == pytest.approx(0.58)
    gates = {g["code"]: g["status"] for g in body["gates"]}
    assert gates["match_eligibility"] == "met"  # Step 1, Step 2 CK and a Pathway are all recorded
    keys = {f["key"] for f in body["factors"]}
    assert len(keys) >= 7


def test_readiness_what_if_moves_the_score(client, world):
    _record_road(client, world)
    url = f"/v1/candidates/{world.north.candidate_id}/readiness"
    base = client.get(url, params={"as_of": AS_OF}, headers=world.north.advisor_headers).json()
    more = client.get(url, params={"as_of": AS_OF, "what_if_usce_weeks": 12, "what_if_us_letters": 2},
                      headers=world.north.advisor_headers).json()
    assert more["baseline_score"] == base["score"]
    assert more["delta"] == more["score"] - base["score"]
    assert more["delta"] > 0


def test_screening_names_the_failed_criterion(client, world):
    plist, strict, open_ = _record_road(client, world)
    r = client.get(f"/v1/candidates/{world.north.candidate_id}/program-lists/{plist['id']}/screening",
                   params={"as_of": AS_OF}, headers=world.north.candidate_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    by_program = {e["program_id"]: e for e in body["entries"]}
    assert by_program[strict["id"]]["status"] == "excluded"  # Step 2 CK 246 < the program's 250
    failed = by_program[strict["id"]]["failed"]
    assert any("246" in c["candidate_value"] and "250" in c["requirement"] for c in failed), failed
    assert by_program[open_["id"]]["status"] in ("eligible", "unknown")
    assert body["summary"]["total"] == 2 and body["summary"]["excluded"] == 1


def test_timeline_json_and_icalendar(client, world):
    _record_road(client, world)
    url = f"/v1/candidates/{world.north.candidate_id}/timeline"
    body = client.get(url, params={"as_of": AS_OF}, headers=world.north.advisor_headers).json()
    dates = [i["on"] for i in body["items"]]
    assert dates == sorted(dates)
    ics = client.get(url, params={"as_of": AS_OF}, headers={**world.north.advisor_headers, "Accept": "text/calendar"})
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert ics.text.startswith("BEGIN:VCALENDAR\r\n") and ics.text.rstrip().endswith("END:VCALENDAR")
    assert ics.text.count("BEGIN:VEVENT") == len(body["items"])
    same = client.get(f"{url}.ics", params={"as_of": AS_OF}, headers=world.north.advisor_headers)
    assert same.content == ics.content


def test_computed_views_are_deterministic(client, world):
    _record_road(client, world)
    for path in ("next-step", "readiness", "timeline"):
        url = f"/v1/candidates/{world.north.candidate_id}/{path}"
        a = client.get(url, params={"as_of": AS_OF}, headers=world.north.advisor_headers)
        b = client.get(url, params={"as_of": AS_OF}, headers=world.north.advisor_headers)
        assert a.status_code == 200 and a.content == b.content


@pytest.mark.parametrize("params", [{"as_of": "2026-13-01"}, {"as_of": "yesterday"}, {"as_of": "1066-10-14"},
                                    {"as_of": "9999-01-01"}, {"cycle": "20x7"}, {"cycle": 1990}, {"cycle": 2099}])
def test_bad_parameters_are_422(client, world, params):
    for path in ("next-step", "readiness", "timeline"):
        r = client.get(f"/v1/candidates/{world.north.candidate_id}/{path}", params=params,
                       headers=world.north.advisor_headers)
        assert_problem(r, 422)


def test_unsupported_cycle_says_which_are(client, world):
    body = assert_problem(client.get(f"/v1/candidates/{world.north.candidate_id}/readiness",
                                     params={"cycle": 2099}, headers=world.north.advisor_headers), 422)
    assert body["code"] == "unknown_cycle" and "supported" in body["detail"]


def test_other_organizations_candidate_is_404(client, world):
    for path in ("next-step", "readiness", "timeline", "timeline.ics"):
        r = client.get(f"/v1/candidates/{world.north.candidate_id}/{path}", headers=world.south.advisor_headers)
        assert_problem(r, 404, "not-found")
        r = client.get(f"/v1/candidates/{world.north.other_candidate_id}/{path}",
                       headers=world.north.candidate_headers)
        assert_problem(r, 404, "not-found")


def test_cohort_view(client, world):
    _record_road(client, world)
    url = f"/v1/organizations/{world.north.org_id}/readiness"
    body = client.get(url, params={"as_of": AS_OF}, headers=world.north.advisor_headers).json()
    assert body["total"] == 2 and len(body["items"]) == 2
    ids = {i["candidate_id"] for i in body["items"]}
    assert ids == {world.north.candidate_id, world.north.other_candidate_id}
    status = body["items"][0]["status"]
    only = client.get(url, params={"as_of": AS_OF, "status": status}, headers=world.north.advisor_headers).json()
    assert only["items"] and all(i["status"] == status for i in only["items"])
    page = client.get(url, params={"as_of": AS_OF, "limit": 1, "sort": "-score"},
                      headers=world.north.api_key_headers).json()
    assert len(page["items"]) == 1 and page["total"] == 2
    assert_problem(client.get(url, headers=world.south.advisor_headers), 404)
    assert_problem(client.get(url, headers=world.north.candidate_headers), 403)


@contextmanager
def _count_statements():  # type: ignore[no-untyped-def]
    from app.core.db import db

    seen: list[str] = []

    def before(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    engine = db.engine.sync_engine  # type: ignore[union-attr]
    event.listen(engine, "before_cursor_execute", before)
    reads.observers.append(seen.append)  # the reads that bypass SQLAlchemy (the candidate load)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        reads.observers.remove(seen.append)


def test_readiness_uses_a_constant_number_of_statements(client, world):
    url = f"/v1/candidates/{world.north.candidate_id}/readiness"
    _record_road(client, world)
    with _count_statements() as small:
        assert client.get(url, params={"as_of": AS_OF}, headers=world.north.advisor_headers).status_code == 200
    _record_road(client, world, n_extra=15, list_name="IM 2027 extended")  # many more entries and milestones
    with _count_statements() as large:
        assert client.get(url, params={"as_of": AS_OF}, headers=world.north.advisor_headers).status_code == 200
    selects = [s for s in large if s.lstrip().upper().startswith("SELECT")]
    assert len(large) == len(small) == 4, (small, large)  # the candidate, milestones, USCE, entries
    assert len(selects) == len(large), large
    with _count_statements() as again:  # nothing changed: the kept answer, after the candidate's own read
        assert client.get(url, params={"as_of": AS_OF}, headers=world.north.advisor_headers).status_code == 200
    assert len(again) == 1, again


# Exam rules of the domain notes, section G, through HTTP. Each case records milestones, then reads one view.
# - step2ck_2024: a 216 from 2024-05-01 passed against the 214 in force then (218 only from 2025-07-01).
# - ck_spacing: three Step 2 CK failures in 2026 (Feb, May, Aug): the fourth attempt is allowed from 2027-02-01,
#   after the last safe sitting for 2027 (2027-01-20), so 2027 is lost and 2028 is the earliest cycle.
# - cs_limit: four failed Step 2 CS attempts (2017-2020) count toward the limit of four: every Step is barred.
_CK_FAILS = [("usmle_step2ck", "failed", "2026-02-01"), ("usmle_step2ck", "failed", "2026-05-01"),
             ("usmle_step2ck", "failed", "2026-08-01")]
_CS_FAILS = [("usmle_step2cs", "failed", f"{2017 + i}-03-01") for i in range(4)]


@pytest.mark.parametrize(("case", "records", "path", "expect"), [
    ("step2ck_2024", [("usmle_step2ck", "passed", "2024-05-01", 216)], "readiness",
     {"step2ck_text": "216 (passing 214 on 2024-05-01; 218 today)"}),
    ("ck_spacing", _CK_FAILS, "next-step",
     {"cycle_reachable": False, "earliest_feasible_cycle": 2028, "blocker": "match_requirements_not_verifiable"}),
    ("ck_spacing_readiness", _CK_FAILS, "readiness", {"status": "not_ready", "earliest_feasible_cycle": 2028}),
    ("cs_limit", [("usmle_step1", "passed", "2016-05-01"), *_CS_FAILS], "next-step",
     {"cycle_reachable": False, "earliest_feasible_cycle": None, "blocker": "attempt_limit_reached"}),
])
def test_exam_rules_through_http(client, world, case, records, path, expect):  # type: ignore[no-untyped-def]
    cid, h = world.north.candidate_id, world.north.advisor_headers
    for code, status, on, *score in records:
        body = {"type_code": code, "status": status, "completed_on": on}
        if score:
            body["result"] = {"score": score[0]}
        _post(client, f"/v1/candidates/{cid}/milestones", h, body)
    r = client.get(f"/v1/candidates/{cid}/{path}", params={"as_of": AS_OF, "cycle": 2027}, headers=h)
    assert r.status_code == 200, r.text
    got = r.json()
    if "step2ck_text" in expect:
        factor = {f["key"]: f for f in got["factors"]}["step2ck"]
        assert factor["value_text"] == expect["step2ck_text"]
    for key in ("cycle_reachable", "earliest_feasible_cycle", "status"):
        if key in expect:
            assert got[key] == expect[key]
    if "blocker" in expect:
        assert expect["blocker"] in [b["code"] for b in got["blockers"]]


def test_attempt_limit_counts_step2cs_when_recording(client, world):  # type: ignore[no-untyped-def]
    """Booking Step 2 CK after four failed Step 2 CS attempts is refused: the attempt limit bars every Step."""
    cid, h = world.north.candidate_id, world.north.advisor_headers
    for code, status, on in _CS_FAILS:
        _post(client, f"/v1/candidates/{cid}/milestones", h, {"type_code": code, "status": status,
                                                               "completed_on": on})
    r = client.post(f"/v1/candidates/{cid}/milestones", headers=h,
                    json={"type_code": "usmle_step2ck", "status": "scheduled", "scheduled_on": "2027-01-10"})
    body = assert_problem(r, 422)
    assert body["code"] == "attempt_limit_reached"


# Stage and status through HTTP (issue 8, sections 1-2; dates of the 2027 rule file): the candidate's road as
# recorded by _record_road, read at calendar points of the 2027 cycle, and once matched (2026 Match).
@pytest.mark.parametrize(("as_of", "matched", "stage"), [
    ("2026-05-01", False, "before_application_season"),  # ERAS opens 2026-06-03
    ("2026-07-01", False, "application_season"),  # programs review from 2026-09-23
    ("2026-11-25", False, "interviews_and_ranking"),  # ROL deadline 2027-03-03
    ("2026-04-01", True, "matched"),  # matched on Match Day 2026-03-20, asking about the 2026 cycle
])
def test_readiness_names_the_stage(client, world, as_of, matched, stage):  # type: ignore[no-untyped-def]
    _record_road(client, world)
    cid, h = world.north.candidate_id, world.north.advisor_headers
    if matched:
        _post(client, f"/v1/candidates/{cid}/milestones", h, {"type_code": "match_result", "status": "completed",
                                                               "completed_on": "2026-03-20",
                                                               "result": {"outcome": "matched"}})
    cycle = 2026 if matched else 2027
    body = client.get(f"/v1/candidates/{cid}/readiness", params={"as_of": as_of, "cycle": cycle}, headers=h).json()
    assert body["stage"] == stage and body["stage_advice"]
    if matched:
        # Not told to build a list of programs: the list no longer counts once ranking has closed.
        program_list = {f["key"]: f for f in body["factors"]}["program_list"]
        assert program_list["credit"] is None and "Build a list" not in program_list["advice"]
        # Matched but not certified, with the diploma and transcript unverified on 2026-04-01: certification
        # (56 days of credential verification) cannot be done by the 2026-07-01 start, so the stage's gate is
        # the blocker, and the advice names it.
        assert body["status"] == "not_ready"
        # With no J-1 Statement of Need recorded (90 days, then 60 of visa processing: due by 2026-02-01, rule file
        # lead times), the visa is late as well; a late visa delays the start without undoing the match.
        assert [b["code"] for b in body["blockers"]] == ["certification_not_in_time", "visa_not_in_time"]
        assert "complete ECFMG certification" in body["stage_advice"]


def test_status_definitions_are_in_the_contract(client):  # type: ignore[no-untyped-def]
    schema = client.get("/openapi.json").json()["components"]["schemas"]["ReadinessPublic"]["properties"]
    for term in ("`not_ready`", "`at_risk`", "`on_track`", "`ready`", "due_soon_days", "competitiveness_window_days"):
        assert term in schema["status"]["description"]
    assert "match_week" in schema["stage"]["description"]
