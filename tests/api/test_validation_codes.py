"""The rules a body's own validation applies beyond its types: each refusal names the field it concerns and a code a
client can switch on (never pydantic's catch-all `value_error`), and a rule no JSON Schema states is the problem's
`code` as well, as the same rule is when the stored record takes part (a 409 with that code)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.api.helpers import candidate_body, problem, snapshot, usce_body

TOMORROW = (date.today() + timedelta(days=1)).isoformat()
TODAY = date.today().isoformat()


def _usce(w: Any) -> str:
    return f"/v1/candidates/{w.north.candidate_id}/usce-records"


# (method, path of the world, body, field, field code, problem code: None where the document states the rule)
CASES = [
    ("post", _usce, usce_body(start_on="2026-06-10", end_on="2026-06-09"), "body.end_on", "date_order", "date_order"),
    ("post", _usce, usce_body(start_on="2020-01-01", end_on="2025-01-05"), "body.end_on", "date_order", "date_order"),
    ("put", lambda w: _usce(w) + "/by-external-id/SIS-1", usce_body(start_on="2026-06-10", end_on="2026-01-01"),
     "body.end_on", "date_order", "date_order"),
    ("post", lambda w: "/v1/candidates", candidate_body(date_of_birth=TOMORROW), "body.date_of_birth", "date_past",
     "date_past"),
    ("post", lambda w: "/v1/candidates", candidate_body(date_of_birth=TODAY), "body.date_of_birth", "date_past",
     "date_past"),
    ("post", lambda w: "/v1/candidates", candidate_body(target_specialties=["pediatrics", "pediatrics"]),
     "body.target_specialties", "not_unique", None),
    ("post", lambda w: "/v1/candidates", candidate_body(date_of_birth="1899-12-31"), "body.date_of_birth",
     "date_out_of_range", None),
    ("post", lambda w: "/v1/candidates", candidate_body(date_of_birth="19900101"), "body.date_of_birth",
     "date_parsing", None),
    ("post", lambda w: f"/v1/organizations/{w.north.org_id}/webhook-endpoints",
     {"url": "https://hooks.example.com/in", "event_types": ["milestone.eaten"]}, "body.event_types.0", "enum", None),
    ("patch", lambda w: f"/v1/organizations/{w.north.org_id}", {"deadline_lead_days": [14, 14]},
     "body.deadline_lead_days", "not_unique", None),
    ("patch", lambda w: f"/v1/organizations/{w.north.org_id}", {"deadline_lead_days": ["14"]},
     "body.deadline_lead_days.0", "int_type", None),
]


@pytest.mark.parametrize("method,path,body,field,field_code,code", CASES,
                         ids=[f"{c[3]}-{c[4]}-{i}" for i, c in enumerate(CASES)])
def test_a_rule_of_the_body_names_its_field_and_code(client, world, method, path, body, field, field_code, code):
    headers = world.admin_headers if "/organizations/" in path(world) and method == "patch" else \
        world.north.advisor_headers
    if method == "patch":
        headers = {**headers, "If-Match": client.get(path(world), headers=headers).headers["etag"]}
    before = snapshot()
    b = problem(client.request(method, path(world), json=body, headers=headers), 422, "validation-error")
    assert [(e["field"], e["code"]) for e in b["errors"]] == [(field, field_code)], b
    assert b.get("code") == code, b
    if code is not None:  # one rule: the detail says it, not only where
        assert b["detail"].startswith(f"{field}: ") and b["errors"][0]["message"] in b["detail"], b
    assert snapshot() == before
