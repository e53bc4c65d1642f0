"""Per-type rules for recording a milestone, driven by the catalogue data (dates and limits are data)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from app.core.config import get_settings
from app.core.errors import DomainRuleViolation, ValidationFailed, field_error
from app.pathway.catalogue import MilestoneType
from app.pathway.rules import active_rulebook

RESULT_FIELDS: dict[str, set[str]] = {
    "step_score": {"score"},
    "oet": {"listening", "reading", "writing", "speaking"},
    "pathway": {"pathway"},
    "match": {"outcome", "program_id", "program_name"},
    "visa": {"visa_type"},
}
# The statuses a kind of milestone type cannot have: an exam is passed or failed, a task completed.
STATUS_REFUSED: dict[str, frozenset[str]] = {"exam": frozenset({"completed"}), "task": frozenset({"passed", "failed"})}
DONE = {"passed", "failed", "completed"}
ATTEMPTING = {"planned", "scheduled", "in_progress", "passed", "failed"}


def result_schema(mt: MilestoneType) -> dict[str, Any] | None:
    if mt.result is None:
        return None
    from app.milestones.schemas import MilestoneResult

    full = MilestoneResult.model_json_schema()
    keep = RESULT_FIELDS[mt.result]
    props = {k: v for k, v in full["properties"].items() if k in keep}
    return {"type": "object", "properties": props, "additionalProperties": False}


def _fail(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, errors=[field_error(field, message, code)])


def validate_milestone(mt: MilestoneType, m: dict[str, Any], today: date,
                       others: Iterable[tuple[str, str, date | None]]) -> None:
    """`m` is the milestone as it would be stored; `others` is (type_code, status, date) of the candidate's
    other milestones. Raises a 422 problem naming the field and a stable code."""
    status = m["status"]
    result: dict[str, Any] = {k: v for k, v in (m.get("result") or {}).items() if v is not None}
    when = m.get("completed_on") or m.get("scheduled_on")

    if status in STATUS_REFUSED[mt.kind]:
        advice = ("an exam: record it as passed or failed" if mt.kind == "exam"
                  else "not an exam: record it as completed")
        raise _fail("body.status", f"{mt.title} is {advice}.", "status_not_allowed")
    if status in DONE and m.get("completed_on") is None:
        raise _fail("body.completed_on", f"completed_on is required when the status is {status}.", "missing")
    if m.get("completed_on") is not None and m["completed_on"] > today:
        raise _fail("body.completed_on", "completed_on cannot be in the future.", "completed_in_future")
    if m.get("completed_on") is not None and status not in DONE and status != "not_applicable":
        raise _fail("body.completed_on", f"completed_on only goes with passed, failed or completed "
                                         f"(status is {status}).", "not_allowed")
    if status == "scheduled" and m.get("scheduled_on") is None:
        raise _fail("body.scheduled_on", "scheduled_on is required when the status is scheduled.", "missing")

    allowed = RESULT_FIELDS.get(mt.result or "", set())
    extra = sorted(set(result) - allowed)
    if extra:
        raise _fail(f"body.result.{extra[0]}", f"{mt.title} does not take result field(s) {', '.join(extra)}.",
                    "result_not_applicable")

    if mt.discontinued_on is not None:
        if status in ("planned", "scheduled", "in_progress") or (when is not None and when >= mt.discontinued_on):
            raise DomainRuleViolation(
                f"{mt.title} was permanently discontinued on {mt.discontinued_on.isoformat()}: no new attempts "
                "can be recorded. The clinical-skills requirement is now met through an ECFMG Pathway with OET "
                "Medicine; attempts before that date are kept as history.",
                code="exam_discontinued",
                errors=[field_error("body.type_code", "exam discontinued", "exam_discontinued")],
            )

    if mt.result == "step_score" and "score" in result:
        if status not in ("passed", "failed"):
            raise _fail("body.result.score", "A score goes with a passed or failed exam.", "not_allowed")
        if mt.score_reported_before is not None and when is not None and when >= mt.score_reported_before:
            raise DomainRuleViolation(
                f"{mt.title} taken on or after {mt.score_reported_before.isoformat()} is reported pass/fail "
                "only; record the status without a numeric score.",
                code="step1_pass_fail_only",
                errors=[field_error("body.result.score", "pass/fail only for this exam date",
                                    "step1_pass_fail_only")],
            )
    if mt.result == "oet" and status in ("passed", "failed"):
        missing = sorted(RESULT_FIELDS["oet"] - set(result))
        if missing:
            raise _fail(f"body.result.{missing[0]}", "OET results need all four sub-scores from the one sitting.",
                        "missing")
    if mt.result == "pathway" and status == "completed" and "pathway" not in result:
        raise _fail("body.result.pathway", "Say which Pathway (1-6) was accepted.", "missing")
    if mt.result == "match":
        if status == "completed" and "outcome" not in result:
            raise _fail("body.result.outcome", "A completed match result needs outcome matched or unmatched.",
                        "missing")
        if result.get("outcome") != "matched" and ({"program_id", "program_name"} & set(result)):
            raise _fail("body.result.program_name", "A program goes only with outcome matched.", "not_allowed")

    limit = active_rulebook(get_settings().rules_dir).attempt_limit()
    if mt.code in limit.steps and status in ATTEMPTING and (when is None or when >= limit.effective_from):
        failed: dict[str, int] = {}
        passed: set[str] = set()
        for code, st, _ in others:
            if code in limit.steps:
                if st == "failed":
                    failed[code] = failed.get(code, 0) + 1
                elif st == "passed":
                    passed.add(code)
        blocked = sorted(c for c, n in failed.items() if n >= limit.max_attempts_per_step and c not in passed)
        if blocked:
            raise DomainRuleViolation(
                f"The USMLE attempt limit is {limit.max_attempts_per_step} per Step; with "
                f"{limit.max_attempts_per_step} or more unpassed attempts on {', '.join(blocked)} no further "
                f"attempt on any Step can be taken (since {limit.effective_from.isoformat()}).",
                code="attempt_limit_reached",
                errors=[field_error("body.status", "attempt limit reached", "attempt_limit_reached")],
            )
