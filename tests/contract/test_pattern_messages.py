"""A value refused by a pattern is told what the value must be, in words: never the regex (a client's user cannot
read `^[0-9]{7}[A-Z][0-9]$`). Every pattern of the document that the request validation applies has its message
(app.core.types.PATTERN_MESSAGES); the others are checked by code of their own, which says what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from app.api import DATE_RANGE_PATTERN
from app.core.types import PATTERN_MESSAGES
from app.events.schemas import TYPES_PATTERN
from app.events.service import CURSOR_PATTERN
from app.main import create_app
from app.matching.schemas import MatchRequest
from app.milestones.schemas import date_rules
from app.pathway.catalogue import milestone_types
from tests.api.helpers import candidate_body, problem, snapshot


def patterns(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            found.add(node["pattern"])
        for value in node.values():
            found |= patterns(value)
    elif isinstance(node, list):
        for value in node:
            found |= patterns(value)
    return found


# Declared in the document, checked by the service's own code with a message of its own: the dates of `format: date`
# (SaneDate, `date_out_of_range`), the feed's cursor and `types` (app.events), the Match engine's input (its own
# validation, app.matching), the catalogue's dates of a milestone (app.milestones.validation, each with its code).
CHECKED_BY_CODE = ({DATE_RANGE_PATTERN, CURSOR_PATTERN, TYPES_PATTERN} | patterns(MatchRequest.model_json_schema())
                   | patterns(date_rules([t.code for t in milestone_types()])))


def test_every_pattern_the_validation_applies_has_a_message():
    document = create_app().openapi()
    served = patterns(document["paths"]) | patterns(document["components"])  # not `webhooks`: what we send
    assert len(served) > 15, "the walk found too few patterns to prove anything"
    missing = sorted(p for p in served - CHECKED_BY_CODE if p not in PATTERN_MESSAGES)
    assert not missing, f"give these patterns a message with app.core.types.described: {missing}"
    assert not any(p in message for message in PATTERN_MESSAGES.values() for p in ("^", "[0-9]", "\\x"))


def _candidates(w: Any) -> str:
    return "/v1/candidates"


# (method, path, body or query, field, the message's words)
CASES = [
    ("post", _candidates, candidate_body(email="not-an-address"), "body.email", "e-mail address"),
    ("post", _candidates, candidate_body(usmle_id="1234"), "body.usmle_id", "8 digits"),
    ("post", _candidates, candidate_body(citizenship_country="IND"), "body.citizenship_country", "two-letter"),
    ("post", _candidates, candidate_body(target_specialties=["Internal Medicine"]), "body.target_specialties.0",
     "specialty code"),
    ("post", _candidates, candidate_body(external_id="has space"), "body.external_id", "1-100 letters"),
    ("post", lambda w: f"/v1/candidates/{w.north.candidate_id}/milestones",
     {"type_code": "usmle_id_registered", "status": "planned", "external_id": "x" * 65}, "body.external_id",
     "1-64 letters"),
    ("post", lambda w: "/v1/programs", {"acgme_id": "12", "name": "P", "institution": "I",
                                        "specialty": "pediatrics", "track": "categorical"}, "body.acgme_id",
     "10 digits"),
    ("post", lambda w: f"/v1/organizations/{w.north.org_id}/webhook-endpoints", {"url": "ftp://x.example.org/"},
     "body.url", "http or https URL"),
    ("get", lambda w: "/v1/candidates?external_id=a%20b", None, "query.external_id", "1-100 letters"),
]


@pytest.mark.parametrize("method,path,body,field,words", CASES, ids=[f"{c[3]}-{i}" for i, c in enumerate(CASES)])
def test_a_value_a_pattern_refuses_is_told_what_it_must_be(client, world, method, path, body, field, words):
    headers = world.admin_headers if path(world) == "/v1/programs" else world.north.advisor_headers
    before = snapshot()
    r = client.request(method, path(world), headers=headers, **({"json": body} if body is not None else {}))
    b = problem(r, 422, "validation-error")
    errors = [e for e in b["errors"] if e["field"] == field]
    assert [e["code"] for e in errors] == ["string_pattern_mismatch"], b
    assert words in errors[0]["message"] and "^" not in errors[0]["message"], b
    assert snapshot() == before


def test_an_idempotency_key_a_pattern_refuses_is_told_what_it_must_be(client, world):
    r = client.post("/v1/candidates", json=candidate_body(),
                    headers={**world.north.advisor_headers, "Idempotency-Key": "two words"})
    b = problem(r, 422, "validation-error")
    assert [(e["field"], e["message"]) for e in b["errors"]] == [
        ("header.Idempotency-Key", "must be printable ASCII characters without spaces")], b
