"""The profile of facts: what a candidate's records say, independent of any Match cycle (passes, attempts,
scores, certification), built once per request and read by every cycle's evaluation.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

from datetime import date

from .dates import add_months
from .facts import CandidateFacts, MilestoneFact, OetScores
from .rules import OetMinimum, RetakeSpacing

STEP_EXAMS = ("usmle_step1", "usmle_step2ck", "usmle_step3")
DONE = frozenset({"passed", "completed"})
ACTIVE = frozenset({"scheduled", "in_progress"})
TAKEN = frozenset({"passed", "failed"})
# Steps a candidate may declare not applicable; the gates themselves cannot be waived that way.
DECLARABLE = frozenset({"specialty_decided", "mentor_contact", "eras_application", "usmle_step3", "visa"})
PER_CYCLE = frozenset(
    {"eras_application", "nrmp_registration", "rank_order_list", "match_result", "soap", "visa", "residency_start"}
)
_STATUS_ORDER = {s: i for i, s in enumerate(
    ("planned", "scheduled", "in_progress", "failed", "passed", "completed", "not_applicable")
)}


def _record_key(m: MilestoneFact) -> tuple[object, ...]:
    oet = (m.oet.listening, m.oet.reading, m.oet.writing, m.oet.speaking) if m.oet else ()
    return (m.on or date.min, m.attempt or 0, _STATUS_ORDER.get(m.status, 99), m.status, m.score or -1, oet,
            m.pathway or "", m.match_outcome or "", m.visa_type or "", m.scheduled_on or date.min)


def _record_cycle(code: str, record: MilestoneFact, home: int) -> int:
    """The Match cycle a per-cycle record belongs to (undated records belong to the candidate's own cycle)."""
    on = record.on
    if on is None:
        return home
    if code in ("eras_application", "nrmp_registration"):
        return on.year + 1 if on.month >= 6 else on.year
    return on.year


def oet_meets(scores: OetScores, minimum: OetMinimum) -> bool:
    return (
        scores.listening >= minimum.listening
        and scores.reading >= minimum.reading
        and scores.writing >= minimum.writing
        and scores.speaking >= minimum.speaking
    )


def oet_shortfalls(scores: OetScores, minimum: OetMinimum) -> list[str]:
    out = []
    for name in ("listening", "reading", "writing", "speaking"):
        got, need = getattr(scores, name), getattr(minimum, name)
        if got < need:
            out.append(f"{name.capitalize()} {got} < {need}")
    return out


class Profile:
    """What the facts say, independent of the cycle; built once per request."""

    __slots__ = (
        "facts", "as_of", "home_cycle", "records", "passes", "passed", "failed", "unpassed", "best_score",
        "any_score", "cert_done", "cert_on", "pathway_done", "pathway_on", "credentials_done", "id_registered",
        "specialty_decided", "targets", "letters", "active_entries", "graduation_on", "declared_na",
        "attempt_dates",
    )

    def __init__(self, facts: CandidateFacts, as_of: date, home_cycle: int) -> None:
        self.facts = facts
        self.as_of = as_of
        self.home_cycle = facts.target_match_year or home_cycle
        groups: dict[str, list[MilestoneFact]] = {}
        for m in facts.milestones:
            groups.setdefault(m.code, []).append(m)
        self.records: dict[str, tuple[MilestoneFact, ...]] = {
            code: tuple(sorted(recs, key=_record_key)) for code, recs in groups.items()
        }
        self.passes: dict[str, tuple[date, ...]] = {}
        self.passed: dict[str, bool] = {}
        self.failed: dict[str, int] = {}
        self.unpassed: dict[str, int] = {}
        self.best_score: dict[str, int | None] = {}
        self.any_score: dict[str, int | None] = {}
        self.attempt_dates: dict[str, tuple[date, ...]] = {}
        for step in (*STEP_EXAMS, "usmle_step2cs"):
            recs = self.records.get(step, ())
            passed = [r for r in recs if r.status == "passed"]
            failed = [r for r in recs if r.status == "failed"]
            self.passes[step] = tuple(sorted(r.completed_on for r in passed if r.completed_on))
            self.passed[step] = bool(passed)
            self.failed[step] = len(failed)
            highest_attempt = max((r.attempt or 0 for r in failed), default=0)
            self.unpassed[step] = 0 if passed else max(len(failed), highest_attempt)
            scores = [r.score for r in passed if r.score is not None]
            self.best_score[step] = max(scores) if scores else None
            every = [r.score for r in recs if r.score is not None and r.status in TAKEN]
            self.any_score[step] = max(every) if every else None
            # Taken attempts (a failed record stands for incomplete attempts too), oldest first.
            self.attempt_dates[step] = tuple(sorted(r.on for r in recs if r.status in TAKEN and r.on))
        cert = [r for r in self.records.get("ecfmg_certification", ()) if r.status in DONE]
        self.cert_done = bool(cert)
        self.cert_on = min((r.completed_on for r in cert if r.completed_on), default=None)
        pathway = [r for r in self.records.get("ecfmg_pathway", ()) if r.status in DONE]
        self.pathway_done = bool(pathway)
        self.pathway_on = min((r.completed_on for r in pathway if r.completed_on), default=None)
        self.credentials_done = any(r.status in DONE for r in self.records.get("credentials_verified", ()))
        implied = any(
            r.status not in ("planned", "not_applicable")
            for code in ("usmle_step1", "usmle_step2ck", "usmle_step2cs", "usmle_step3", "oet_medicine")
            for r in self.records.get(code, ())
        )
        self.id_registered = implied or any(r.status in DONE for r in self.records.get("usmle_id_registered", ()))
        self.targets = tuple(s.casefold() for s in facts.target_specialties)
        self.specialty_decided = bool(self.targets) or any(
            r.status in DONE for r in self.records.get("specialty_decided", ())
        )
        self.letters = sum(1 for u in facts.usce if u.us_letter) + max(0, facts.other_us_letters)
        self.active_entries = tuple(e for e in facts.entries if e.active)
        self.graduation_on = facts.graduation_on
        self.declared_na = frozenset(
            code for code, recs in self.records.items()
            if code in DECLARABLE and recs and all(r.status == "not_applicable" for r in recs)
        )

    def cycle_records(self, code: str, year: int) -> tuple[MilestoneFact, ...]:
        return tuple(r for r in self.records.get(code, ()) if _record_cycle(code, r, self.home_cycle) == year)


def earliest_retake(attempts: tuple[date, ...], spacing: RetakeSpacing) -> date | None:
    """The first day the next attempt at an exam is allowed, None when spacing sets no limit.

    At most `max_attempts_in_window` attempts within `window_months`; every attempt beyond that count at least
    `later_after_first_months` after the first attempt and `later_after_latest_months` after the most recent."""
    window = spacing.max_attempts_in_window
    dated = [on for on in attempts if on >= spacing.effective_from]
    if len(attempts) < window or not dated:
        return None
    return max(
        add_months(attempts[-window], spacing.window_months),
        add_months(attempts[0], spacing.later_after_first_months),
        add_months(attempts[-1], spacing.later_after_latest_months),
    )


