"""The schemathesis CLI, run from outside against the served document (tests/contract/external_run.py): every
failure it reports is a schema-valid request refused by a rule the document cannot state (a cross-field rule, a
reference or token that names nothing, a reused Idempotency-Key, a domain rule with its `code`). A refusal the
document could state (a type, bound, pattern, unknown field: pydantic's own error types), a 5xx, an answer that does
not match its schema or any other check failing means the document and the service disagree: the test fails.

A short run (`CONTRACT_EXTERNAL_EXAMPLES`, default 5 examples per operation; the script itself defaults to 60).
The document and the checks do not depend on the database: this runs on the SQLite pass only.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.contract.external_run import SCHEMA_EXPRESSIBLE, failures, run

EXAMPLES = int(os.environ.get("CONTRACT_EXTERNAL_EXAMPLES", "5"))
RULE_PROBLEMS = {"/problems/idempotency-key-reused", "/problems/domain-rule"}


def refused_by_a_rule(failure: dict[str, Any]) -> bool:
    """A positive case refused with 422 for a reason the schema cannot state."""
    body = failure["body"]
    if failure["checks"] != ["ST202 Schema-valid request rejected"] or failure["status"] != 422:
        return False
    if not isinstance(body, dict):
        return False
    if body.get("type") in RULE_PROBLEMS:
        return True
    codes = {e.get("code") for e in body.get("errors") or []}
    return body.get("type") == "/problems/validation-error" and bool(codes) and not codes & SCHEMA_EXPRESSIBLE


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                    reason="the served document and its checks do not depend on the database: run on SQLite only")
def test_schemathesis_cli_against_the_served_document(tmp_path):  # type: ignore[no-untyped-def]
    result = run(EXAMPLES, seed=20261202, workers=1, report_dir=tmp_path)
    no_details = [{"checks": ["(no details)"], "status": None, "body": None}]
    # the stateful phase's failures come under its own label or under their operations' (then checked there)
    labels = set(result["failing_operations"]) | set(result["failures"])
    if "Stateful tests" not in result["failures"]:
        labels.discard("Stateful tests")
    unexplained = {label: [f for f in result["failures"].get(label, no_details) if not refused_by_a_rule(f)]
                   for label in labels}
    unexplained = {label: found for label, found in unexplained.items() if found}
    assert not unexplained, (f"failures the document should have prevented: {unexplained}\n"
                             f"(details in {tmp_path}/schemathesis.txt)")
    assert result["links_selected"] == result["links_served"] > 100, result
    assert result["links_covered"] > 0, result


def test_the_classification_tells_rules_from_mismatches():
    rule = {"checks": ["ST202 Schema-valid request rejected"], "status": 422,
            "body": {"type": "/problems/validation-error", "errors": [{"code": "unknown"}]}}
    assert refused_by_a_rule(rule)
    assert refused_by_a_rule({**rule, "body": {"type": "/problems/idempotency-key-reused"}})
    assert not refused_by_a_rule({**rule, "body": {"type": "/problems/validation-error",
                                                   "errors": [{"code": "string_too_long"}]}})
    assert not refused_by_a_rule({**rule, "status": 500})
    assert not refused_by_a_rule({**rule, "checks": ["ST201 Response violates schema"]})


def test_failures_are_read_also_under_a_label_that_fills_the_line():
    """The CLI heads each operation's failures `____ LABEL ____`, without the rules when the label is too long."""
    case = ("1. Test Case ID: abc123\n\n- ST202 Schema-valid request rejected\n\n[422] Unprocessable Content:\n\n"
            "    `{\"type\": \"/problems/idempotency-key-reused\"}`\n")
    long_label = "POST /v1/organizations/{organization_id}/webhook-endpoints/{endpoint_id}/rotate-secret"
    output = (f"=== FAILURES ===\n______ GET /v1/events ______\n{case}\n {long_label} \n{case}\n"
              "=================== SUMMARY ===")
    found = failures(output)
    assert set(found) == {"GET /v1/events", long_label}
    assert [f["status"] for f in found[long_label]] == [422] and refused_by_a_rule(found[long_label][0])
