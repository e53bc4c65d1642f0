"""Milestones: per-type validation driven by the catalogue (USMLE, OET, Pathways, Match) and the usual contract."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.api.helpers import (
    check_list_contract,
    check_write_contract,
    create,
    field_names,
    get_ok,
    milestone_body,
    page,
    problem,
    snapshot,
)


def _url(world, cand=None):  # type: ignore[no-untyped-def]
    return f"/v1/candidates/{cand or world.north.candidate_id}/milestones"


def _post(client, world, body, headers=None):  # type: ignore[no-untyped-def]
    return client.post(_url(world), json=body, headers=headers or world.north.advisor_headers)


def _refused(client, world, body, status, code, slug=None, field=None):  # type: ignore[no-untyped-def]
    before = snapshot()
    b = problem(_post(client, world, body), status, slug, code=code)
    if field:
        assert field in field_names(b), b
    assert snapshot() == before, "a refused milestone was stored"
    return b


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def exam(code: str, status: str, on: str | None, **result):  # type: ignore[no-untyped-def]
    body = {"type_code": code, "status": status}
    if on is not None:
        body["completed_on" if status in ("passed", "failed") else "scheduled_on"] = on
    if result:
        body["result"] = result
    return body


# ---- the catalogue ---------------------------------------------------------------------------------------------

def test_milestone_types_list_every_code_including_legacy(client, world):
    from app.pathway.catalogue import MILESTONE_CODES

    r = client.get("/v1/milestone-types", headers=world.north.candidate_headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "total", "limit", "offset"}
    codes = [t["code"] for t in body["items"]]
    assert body["total"] == len(codes) == len(set(codes))
    assert set(codes) == set(MILESTONE_CODES)
    for code in ("usmle_step1", "usmle_step2ck", "usmle_step2cs", "usmle_step3", "oet_medicine", "ecfmg_pathway",
                 "ecfmg_certification", "match_result", "soap", "visa"):
        assert code in codes, code
    by = {t["code"]: t for t in body["items"]}
    assert by["usmle_step2cs"]["legacy"] is True and by["usmle_step2ck"]["legacy"] is False
    assert by["usmle_step1"]["kind"] == "exam" and by["specialty_decided"]["kind"] == "task"
    assert set(by["oet_medicine"]["result_schema"]["properties"]) == {"listening", "reading", "writing", "speaking"}
    assert by["specialty_decided"]["result_schema"] is None
    assert "usmle_id_registered" in by["usmle_step1"]["requires"]
    problem(client.get("/v1/milestone-types"), 401, "unauthorized")


# ---- per-type rules --------------------------------------------------------------------------------------------

def test_step1_numeric_score_from_2022_01_26_is_refused(client, world):
    b = _refused(client, world, exam("usmle_step1", "passed", "2022-01-26", score=230), 422,
                 "step1_pass_fail_only", "domain-rule", "body.result.score")
    assert "pass/fail" in b["detail"]
    m, _ = create(client, _url(world), exam("usmle_step1", "passed", "2022-01-26"), world.north.advisor_headers)
    assert m["result"] is None and m["status"] == "passed"


def test_step1_score_before_2022_01_26_is_history(client, world):
    m, _ = create(client, _url(world), exam("usmle_step1", "passed", "2022-01-25", score=231),
                  world.north.advisor_headers)
    assert m["result"]["score"] == 231 and m["completed_on"] == "2022-01-25"


@pytest.mark.parametrize("score,ok", [(0, False), (1, True), (245, True), (300, True), (301, False)])
def test_step2ck_score_is_1_to_300(client, world, score, ok):
    body = exam("usmle_step2ck", "passed", "2025-08-14", score=score)
    if ok:
        m, _ = create(client, _url(world), body, world.north.advisor_headers)
        assert m["result"]["score"] == score
    else:
        b = _refused(client, world, body, 422, None, "validation-error")
        assert "body.result.score" in field_names(b)


def test_score_goes_only_with_a_result(client, world):
    _refused(client, world, {"type_code": "usmle_step2ck", "status": "planned", "result": {"score": 240}}, 422,
             "not_allowed", field="body.result.score")


OET = {"listening": 350, "reading": 360, "writing": 370, "speaking": 380}


def test_oet_records_all_four_subscores(client, world):
    m, _ = create(client, _url(world), exam("oet_medicine", "passed", "2025-05-01", **OET),
                  world.north.advisor_headers)
    assert {k: m["result"][k] for k in OET} == OET


@pytest.mark.parametrize("missing", sorted(OET))
def test_oet_without_one_subscore_is_refused(client, world, missing):
    scores = {k: v for k, v in OET.items() if k != missing}
    _refused(client, world, exam("oet_medicine", "passed", "2025-05-01", **scores), 422, "missing",
             field=f"body.result.{missing}")


@pytest.mark.parametrize("value", [-1, 501])
def test_oet_subscores_are_0_to_500(client, world, value):
    b = _refused(client, world, exam("oet_medicine", "failed", "2025-05-01", **{**OET, "writing": value}), 422,
                 None, "validation-error")
    assert "body.result.writing" in field_names(b)
    for edge in (0, 500):
        create(client, _url(world), exam("oet_medicine", "failed", "2025-05-01", **{**OET, "writing": edge}),
               world.north.advisor_headers)


@pytest.mark.parametrize("body", [
    exam("usmle_step2cs", "passed", "2021-01-26"),
    exam("usmle_step2cs", "failed", "2023-03-01"),
    {"type_code": "usmle_step2cs", "status": "planned"},
    exam("usmle_step2cs", "scheduled", "2026-12-01"),
])
def test_new_step2cs_attempts_are_refused_as_discontinued(client, world, body):
    b = _refused(client, world, body, 422, "exam_discontinued", "domain-rule", "body.type_code")
    assert "discontinued" in b["detail"]


def test_a_2019_step2cs_pass_is_kept_as_history(client, world):
    m, _ = create(client, _url(world), exam("usmle_step2cs", "passed", "2019-06-10"), world.north.advisor_headers)
    assert m["type_code"] == "usmle_step2cs" and m["attempt"] == 1
    assert get_ok(client, f"{_url(world)}/{m['id']}", world.north.advisor_headers)[0] == m


def test_completed_on_cannot_be_in_the_future(client, world):
    tomorrow = (datetime.now(UTC).date() + timedelta(days=2)).isoformat()
    _refused(client, world, exam("usmle_step2ck", "passed", tomorrow, score=240), 422, "completed_in_future",
             field="body.completed_on")
    _refused(client, world, milestone_body(completed_on=tomorrow), 422, "completed_in_future")
    create(client, _url(world), milestone_body(completed_on=_today()), world.north.advisor_headers)


def test_status_must_fit_the_kind(client, world):
    _refused(client, world, milestone_body(status="passed"), 422, "status_not_allowed", field="body.status")
    _refused(client, world, {"type_code": "usmle_step1", "status": "completed", "completed_on": "2025-01-01"}, 422,
             "status_not_allowed")
    _refused(client, world, {"type_code": "usmle_step1", "status": "passed"}, 422, "missing",
             field="body.completed_on")
    _refused(client, world, {"type_code": "usmle_step1", "status": "scheduled"}, 422, "missing",
             field="body.scheduled_on")


def test_result_fields_must_belong_to_the_type(client, world):
    _refused(client, world, milestone_body(result={"score": 200}), 422, "result_not_applicable")
    _refused(client, world, exam("usmle_step2ck", "passed", "2025-01-01", listening=300), 422,
             "result_not_applicable", field="body.result.listening")
    _refused(client, world, {"type_code": "match_result", "status": "completed", "completed_on": "2025-03-21",
                             "result": {"outcome": "unmatched", "program_name": "X"}}, 422, "not_allowed")
    _refused(client, world, {"type_code": "ecfmg_pathway", "status": "completed", "completed_on": "2025-03-21"},
             422, "missing", field="body.result.pathway")


def test_unknown_type_and_fields_are_422(client, world):
    before = snapshot()
    for body in ({"type_code": "usmle_step4"}, {"type_code": "usmle_step1", "grade": "A"},
                 {"type_code": "usmle_step1", "result": {"percentile": 80}}, {"type_code": "usmle_step1",
                                                                              "attempt": 0}):
        problem(_post(client, world, body), 422, "validation-error")
    assert snapshot() == before


def test_attempts_are_numbered_and_limited_to_four(client, world):
    h = world.north.advisor_headers
    for n in range(1, 5):
        m, _ = create(client, _url(world), exam("usmle_step1", "failed", f"2023-0{n}-10"), h)
        assert m["attempt"] == n
    b = _refused(client, world, exam("usmle_step1", "passed", "2024-01-10"), 422, "attempt_limit_reached",
                 "domain-rule")
    assert "4" in b["detail"]
    # four unpassed attempts on one Step block every Step
    _refused(client, world, {"type_code": "usmle_step2ck", "status": "planned"}, 422, "attempt_limit_reached")
    # another candidate is not affected
    create(client, _url(world, world.north.other_candidate_id), exam("usmle_step1", "passed", "2024-01-10"), h)


def test_three_failures_then_a_pass_is_allowed(client, world):
    h = world.north.advisor_headers
    for n in range(1, 4):
        create(client, _url(world), exam("usmle_step2ck", "failed", f"2023-0{n}-10", score=190), h)
    m, _ = create(client, _url(world), exam("usmle_step2ck", "passed", "2024-01-10", score=230), h)
    assert m["attempt"] == 4


def test_candidate_records_their_own_milestones(client, world):
    m, _ = create(client, _url(world), milestone_body(), world.north.candidate_headers)
    assert m["candidate_id"] == world.north.candidate_id
    problem(client.post(_url(world, world.north.other_candidate_id), json=milestone_body(),
                        headers=world.north.candidate_headers), 404, "not-found")


# ---- the contract ----------------------------------------------------------------------------------------------

def test_list_contract_and_filters(client, world):
    h = world.north.advisor_headers
    ids = [create(client, _url(world), milestone_body(), h)[0]["id"] for _ in range(20)]
    ids.append(create(client, _url(world), exam("usmle_step2ck", "passed", "2025-08-14", score=241), h)[0]["id"])
    # another candidate's milestones are not in this list
    create(client, _url(world, world.north.other_candidate_id), milestone_body(), h)
    check_list_contract(client, _url(world), h, ids, page_size=4)
    only = page(client, _url(world), h, type_code="usmle_step2ck")
    assert [m["id"] for m in only["items"]] == [ids[-1]] and only["total"] == 1
    assert page(client, _url(world), h, status="completed")["total"] == 20
    first = page(client, _url(world), h, sort="-type_code")["items"][0]
    assert first["type_code"] == "usmle_step2ck"
    for bad in ({"type_code": "usmle_step4"}, {"status": "done"}, {"sort": "notes"}):
        problem(client.get(_url(world), headers=h, params=bad), 422, "validation-error")


def test_write_contract(client, world):
    m, _ = create(client, _url(world), exam("usmle_step2ck", "passed", "2025-08-14", score=241),
                  world.north.advisor_headers)
    check_write_contract(client, f"{_url(world)}/{m['id']}", world.north.advisor_headers,
                         patch={"notes": "Score report arrived.", "result": {"score": 244}},
                         nullable="notes", required=["status"],
                         check_patched=lambda b: b["result"]["score"] == 244 or pytest.fail(str(b)))


# (stored milestone, PATCH body, code): the body alone is valid for some type; the milestone as stored makes it not
STORED_RECORD_REFUSALS = [
    (exam("usmle_step1", "passed", "2021-06-01", score=230), {"completed_on": "2022-02-01"}, "step1_pass_fail_only"),
    (exam("usmle_step1", "passed", "2021-06-01"), {"status": "completed"}, "status_not_allowed"),
    (exam("usmle_step2ck", "planned", None), {"status": "passed"}, "missing"),  # stored: no completed_on
    (exam("usmle_step2ck", "passed", "2025-08-14"), {"result": {"pathway": "1"}}, "result_not_applicable"),
    (exam("usmle_step2ck", "passed", "2025-08-14"), {"status": "scheduled", "scheduled_on": "2026-01-05"},
     "not_allowed"),  # the stored completed_on does not go with scheduled
    ({"type_code": "match_result", "status": "in_progress"}, {"status": "completed", "completed_on": "2026-03-20"},
     "missing"),  # a completed match result needs its outcome
]


@pytest.mark.parametrize("stored,patch,code", STORED_RECORD_REFUSALS)
def test_a_patch_the_stored_record_makes_invalid_is_a_conflict(client, world, stored, patch, code):
    h = world.north.advisor_headers
    m, etag = create(client, _url(world), stored, h)
    url = f"{_url(world)}/{m['id']}"
    before = snapshot()
    # the precondition is judged before the record as stored is: 428 without If-Match, 412 with a stale one
    problem(client.patch(url, json=patch, headers=h), 428)
    problem(client.patch(url, json=patch, headers={**h, "If-Match": '"v99"'}), 412)
    b = problem(client.patch(url, json=patch, headers={**h, "If-Match": etag}), 409, "conflict", code=code)
    assert b["detail"].startswith(f"With the milestone as stored (type {stored['type_code']}")
    assert b["errors"] and b["errors"][0]["code"] == code
    assert snapshot() == before
    assert get_ok(client, url, h)[1] == etag
    # the same record sent whole by an upsert is judged as it stands: its own fault, a 422
    whole = {**stored, **patch}
    r = client.put(f"{_url(world)}/by-external-id/WHOLE-{uuid.uuid4().hex[:8]}", json=whole, headers=h)
    assert r.status_code == 422 and r.json()["code"] == code, r.text


def test_patch_is_validated_against_the_rules(client, world):
    h = world.north.advisor_headers
    m, etag = create(client, _url(world), exam("usmle_step1", "passed", "2021-06-01", score=230), h)
    url = f"{_url(world)}/{m['id']}"
    before = snapshot()
    # what the body earns by itself stays a 422
    problem(client.patch(url, json={"completed_on": (datetime.now(UTC).date() + timedelta(days=3)).isoformat()},
                         headers={**h, "If-Match": etag}), 422, code="completed_in_future")
    problem(client.patch(url, json={"type_code": "usmle_step2ck"}, headers={**h, "If-Match": etag}), 422,
            "validation-error")
    assert snapshot() == before
    assert get_ok(client, url, h)[1] == etag


def test_milestones_of_another_candidate_or_organization_are_404(client, world):
    h = world.north.advisor_headers
    m, etag = create(client, _url(world), milestone_body(), h)
    before = snapshot()
    # right id, wrong candidate in the path
    problem(client.get(f"{_url(world, world.north.other_candidate_id)}/{m['id']}", headers=h), 404, "not-found")
    for sh in (world.south.advisor_headers, world.south.api_key_headers, world.south.candidate_headers):
        problem(client.get(f"{_url(world)}/{m['id']}", headers=sh), 404, "not-found")
        problem(client.get(_url(world), headers=sh), 404, "not-found")
        problem(client.patch(f"{_url(world)}/{m['id']}", json={"notes": "x"}, headers={**sh, "If-Match": etag}),
                404, "not-found")
        problem(client.delete(f"{_url(world)}/{m['id']}", headers={**sh, "If-Match": etag}), 404, "not-found")
        problem(client.post(_url(world), json=milestone_body(), headers=sh), 404, "not-found")
    assert snapshot() == before


# ---- the document states the status rules ---------------------------------------------------------------------
# validation.py ties a milestone's fields to its status; the document's per-type variants (schemas.status_rules)
# say the same with if/then, so a client validating against the document is refused for none of these and the
# service for none the document allows. Dates are in the past and no attempt limit is near: only the status rules
# decide.
OET4 = {"listening": 380, "reading": 370, "writing": 330, "speaking": 400}
STATUS_RULE_CASES = [
    # (id, body, accepted)
    ("passed_without_date", {"type_code": "usmle_step1", "status": "passed"}, False),
    ("planned_with_date", {"type_code": "usmle_step1", "status": "planned", "completed_on": "2025-03-01"}, False),
    ("no_status_with_date", {"type_code": "usmle_step1", "completed_on": "2025-03-01"}, False),
    ("not_applicable_with_date",
     {"type_code": "specialty_decided", "status": "not_applicable", "completed_on": "2025-03-01"}, True),
    ("scheduled_without_date", {"type_code": "usmle_step2ck", "status": "scheduled"}, False),
    ("scheduled_with_date", {"type_code": "usmle_step2ck", "status": "scheduled", "scheduled_on": "2027-01-10"}, True),
    ("score_while_planned", {"type_code": "usmle_step2ck", "status": "planned", "result": {"score": 240}}, False),
    ("score_when_passed",
     {"type_code": "usmle_step2ck", "status": "passed", "completed_on": "2025-08-20", "result": {"score": 240}}, True),
    ("oet_three_subtests", {"type_code": "oet_medicine", "status": "passed", "completed_on": "2025-05-10",
                            "result": {k: v for k, v in OET4.items() if k != "speaking"}}, False),
    ("oet_passed_without_result", {"type_code": "oet_medicine", "status": "passed", "completed_on": "2025-05-10"},
     False),
    ("oet_four_subtests",
     {"type_code": "oet_medicine", "status": "passed", "completed_on": "2025-05-10", "result": OET4}, True),
    ("pathway_without_number", {"type_code": "ecfmg_pathway", "status": "completed", "completed_on": "2025-09-01"},
     False),
    ("pathway_with_number", {"type_code": "ecfmg_pathway", "status": "completed", "completed_on": "2025-09-01",
                             "result": {"pathway": "1"}}, True),
    ("match_without_outcome", {"type_code": "match_result", "status": "completed", "completed_on": "2025-03-21",
                               "result": {"program_name": "Lakeside IM"}}, False),
    ("unmatched_with_program", {"type_code": "match_result", "status": "completed", "completed_on": "2025-03-21",
                                "result": {"outcome": "unmatched", "program_name": "Lakeside IM"}}, False),
    ("program_while_planned", {"type_code": "match_result", "status": "planned",
                               "result": {"program_name": "Lakeside IM"}}, False),
    ("matched_with_program", {"type_code": "match_result", "status": "completed", "completed_on": "2025-03-21",
                              "result": {"outcome": "matched", "program_name": "Lakeside IM"}}, True),
    ("matched_program_null", {"type_code": "match_result", "status": "completed", "completed_on": "2025-03-21",
                              "result": {"outcome": "matched", "program_name": None}}, True),
    ("task_done", {"type_code": "specialty_decided", "status": "completed", "completed_on": "2025-03-01"}, True),
    # the catalogue's dates (domain.md): Step 2 CS ended 2021-01-26; Step 1 is pass/fail from 2022-01-26
    ("step2cs_planned", {"type_code": "usmle_step2cs", "status": "planned"}, False),
    ("step2cs_no_status", {"type_code": "usmle_step2cs"}, False),
    ("step2cs_passed_before_the_end", {"type_code": "usmle_step2cs", "status": "passed", "completed_on": "2021-01-25"},
     True),
    ("step2cs_passed_on_the_end", {"type_code": "usmle_step2cs", "status": "passed", "completed_on": "2021-01-26"},
     False),
    ("step2cs_scheduled_after_the_end",
     {"type_code": "usmle_step2cs", "status": "not_applicable", "scheduled_on": "2021-02-01"}, False),
    ("step2cs_done_before_the_end_scheduled_after", {"type_code": "usmle_step2cs", "status": "not_applicable",
                                                     "completed_on": "2020-01-01", "scheduled_on": "2021-02-01"}, True),
    ("step1_score_before_pass_fail", {"type_code": "usmle_step1", "status": "passed", "completed_on": "2022-01-25",
                                      "result": {"score": 230}}, True),
    ("step1_score_from_pass_fail", {"type_code": "usmle_step1", "status": "passed", "completed_on": "2022-01-26",
                                    "result": {"score": 230}}, False),
    ("step1_no_score_from_pass_fail", {"type_code": "usmle_step1", "status": "passed", "completed_on": "2022-02-01",
                                       "result": {"score": None}}, True),
]


@pytest.mark.parametrize("schema_name", ["MilestoneCreate", "MilestoneUpsert"])
@pytest.mark.parametrize(("body", "accepted"), [c[1:] for c in STATUS_RULE_CASES],
                         ids=[c[0] for c in STATUS_RULE_CASES])
def test_the_document_and_the_service_agree_on_status_rules(client, world, schema_name, body, accepted):
    import jsonschema_rs

    doc = client.get("/openapi.json").json()
    validator = jsonschema_rs.Draft202012Validator(
        {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]})
    assert validator.is_valid(body) == accepted, (schema_name, body)
    before = snapshot()
    if schema_name == "MilestoneCreate":
        r = _post(client, world, body)
    else:
        r = client.put(f"{_url(world)}/by-external-id/RULE-{uuid.uuid4().hex[:8]}", json=body,
                       headers=world.north.advisor_headers)
    assert (r.status_code in (200, 201)) == accepted, r.text
    if not accepted:
        problem(r, 422)
        if schema_name == "MilestoneUpsert":  # a body the document refuses is a 422 whatever the If-Match says
            r = client.put(f"{_url(world)}/by-external-id/RULE-{uuid.uuid4().hex[:8]}", json=body,
                           headers={**world.north.advisor_headers, "If-Match": '"v1"'})
            problem(r, 422)
        assert snapshot() == before
