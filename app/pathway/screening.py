"""Program screening: does each program on the list screen the candidate out on its published filters?

A criterion a program did not publish (None) is listed under `unpublished` and treated as no requirement,
except visa sponsorship for a candidate who needs a visa, which decides eligibility and so leaves the entry
`unknown`. A criterion the candidate cannot be judged on yet (no Step 2 CK score, certification still
possible in time) is `pending` and also leaves the entry `unknown`. Any failed criterion excludes it.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from .dates import add_years, months_before, years_between
from .facts import CandidateFacts, ListEntryFact, ProgramFact, UsceFact
from .results import CriterionCheck, CriterionCount, ScreenedEntry, ScreeningResult, ScreeningSummary
from .road import STEP_EXAMS, TAKEN, CycleEval, Profile, earliest_certification, evaluate, title
from .rules import CycleRules, RuleBook

CRITERIA = (
    "years_since_graduation",
    "step2ck_minimum",
    "first_attempt_only",
    "max_attempts",
    "visa_sponsorship",
    "step3_for_h1b",
    "usce_required",
    "usce_hands_on_only",
    "usce_min_weeks",
    "usce_recency",
    "min_letters",
    "ecfmg_certification_timing",
)
_VISA_TEXT = {"j1": "J-1", "h1b": "H-1B", "either": "J-1 or H-1B"}


def application_on(rules: CycleRules, as_of: date) -> date:
    """Criteria measured 'at application' use the day ERAS submission opens, or today once it has passed."""
    submit = rules.calendar.eras_submit_open.on
    return submit if as_of <= submit else as_of


def usce_weeks(usce: Iterable[UsceFact], *, until: date, since: date | None = None,
               hands_on_only: bool = False) -> float:
    """Weeks of USCE between since and until (inclusive), summed per experience."""
    days = 0
    for u in usce:
        if hands_on_only and not u.hands_on:
            continue
        start = u.start_on if since is None or u.start_on >= since else since
        end = u.end_on if u.end_on <= until else until
        if end >= start:
            days += (end - start).days + 1
    return days / 7


def _fmt_weeks(weeks: float) -> str:
    return f"{weeks:.1f}".rstrip("0").rstrip(".")


class Screenee:
    """The candidate's side of every criterion, computed once per request."""

    __slots__ = (
        "ev", "rules", "as_of", "app_on", "grad", "grad_text", "step2ck_best", "step2ck_failed_best",
        "step2ck_scheduled", "failures", "attempts", "usce", "letters", "cert_done", "cert_on", "_earliest_cert",
        "step3_done", "step3_on", "step3_scheduled", "visa_need", "dates", "has_hands_on", "last_usce",
        "max_attempts", "_weeks", "step3_allowed",
    )

    def __init__(self, ev: CycleEval) -> None:
        p = ev.profile
        rules = ev.rules
        st = ev.states
        self.ev = ev
        self.rules = rules
        self.as_of = p.as_of
        self.app_on = application_on(rules, p.as_of)
        self.grad = p.graduation_on
        self.grad_text = (
            f"graduated {self.grad}, {max(0.0, years_between(self.grad, self.app_on)):.1f} years before "
            f"{self.app_on}" if self.grad else "graduation date not recorded"
        )
        self.step2ck_best = p.best_score["usmle_step2ck"] if p.passed["usmle_step2ck"] else None
        self.step2ck_failed_best = p.any_score["usmle_step2ck"] if not p.passed["usmle_step2ck"] else None
        self.step2ck_scheduled = st["usmle_step2ck"].eff_start
        self.failures = {s: p.failed[s] for s in STEP_EXAMS if p.failed[s]}
        self.attempts = {
            s: sum(1 for r in p.records.get(s, ()) if r.status in TAKEN) for s in STEP_EXAMS
        }
        self.usce = tuple(u for u in p.facts.usce if u.start_on <= self.app_on)
        self.has_hands_on = any(u.hands_on for u in self.usce)
        self.last_usce = max((min(u.end_on, self.app_on) for u in self.usce), default=None)
        self.max_attempts = max(self.attempts.values(), default=0)
        self._weeks: dict[tuple[int | None, bool], float] = {}
        self.letters = p.letters
        self.cert_done = st["ecfmg_certification"].done
        self.cert_on = p.cert_on
        self._earliest_cert: date | None = None
        self.step3_done = st["usmle_step3"].done
        self.step3_on = st["usmle_step3"].done_on
        self.step3_scheduled = st["usmle_step3"].eff_start
        self.step3_allowed = st["usmle_step3"].earliest_start  # retake spacing
        self.visa_need = p.facts.visa_need
        cal = rules.calendar
        self.dates = {
            "application": self.app_on,
            "rank_deadline": cal.rol_deadline.on,
            "match_day": cal.match_day.on,
            "start": cal.residency_start.on,
        }

    def qualifying_weeks(self, recency_months: int | None, hands_on_only: bool) -> float:
        key = (recency_months, hands_on_only)
        weeks = self._weeks.get(key)
        if weeks is None:
            since = months_before(self.app_on, recency_months) if recency_months else None
            weeks = usce_weeks(self.usce, until=self.app_on, since=since, hands_on_only=hands_on_only)
            self._weeks[key] = weeks
        return weeks

    @property
    def earliest_cert(self) -> date:
        if self._earliest_cert is None:
            self._earliest_cert = earliest_certification(self.ev)
        return self._earliest_cert

    def earliest_step3(self) -> date:
        lead = self.rules.lead_times
        release = timedelta(days=lead.days("step_score_release"))
        allowed = self.step3_allowed or date.min
        if self.step3_scheduled and self.cert_done:
            return max(self.step3_scheduled, allowed) + release
        verification = timedelta(days=lead.days("step3_graduation_verification"))
        return max(max(self.earliest_cert, self.as_of) + verification, allowed) + release

    def failures_text(self) -> str:
        if not self.failures:
            return "no failed attempts"
        return "failed attempts: " + ", ".join(f"{title(s)} x{n}" for s, n in sorted(self.failures.items()))


def h1b_step3_outcome(c: Screenee, program: ProgramFact) -> str | None:
    """For an H-1B-sponsoring program: None when Step 3 is passed by its deadline, else pending | fail, or
    unpublished when the program gives no Step 3 deadline. Screening and the readiness visa factor both use it."""
    by = program.step3_required_by
    if by is None:
        return "unpublished"
    due = c.dates.get(by, c.dates["rank_deadline"])
    if c.step3_done and (c.step3_on is None or c.step3_on <= due):
        return None
    late = c.step3_done or c.earliest_step3() > due
    return "fail" if late else "pending"


def decide(c: Screenee, program: ProgramFact) -> tuple[list[tuple[str, str]], list[str]]:  # noqa: C901
    """Each criterion's outcome, without wording: (criterion, fail|pending|unpublished) for those that fail or
    cannot be decided, in CRITERIA order, and the names of the criteria the program did not publish."""
    out: list[tuple[str, str]] = []
    unpublished: list[str] = []
    n = program.max_years_since_graduation
    if n is None:
        unpublished.append("years_since_graduation")
    elif c.grad is None:
        out.append(("years_since_graduation", "pending"))
    elif add_years(c.grad, n) < c.app_on:
        out.append(("years_since_graduation", "fail"))

    minimum = program.min_step2ck
    if minimum is None:
        unpublished.append("step2ck_minimum")
    elif c.step2ck_best is not None:
        if c.step2ck_best < minimum:
            out.append(("step2ck_minimum", "fail"))
    elif c.step2ck_failed_best is not None:
        out.append(("step2ck_minimum", "fail"))
    else:
        out.append(("step2ck_minimum", "pending"))

    if program.first_attempt_only is None:
        unpublished.append("first_attempt_only")
    elif program.first_attempt_only and c.failures:
        out.append(("first_attempt_only", "fail"))

    if program.max_attempts is None:
        unpublished.append("max_attempts")
    elif c.max_attempts > program.max_attempts:
        out.append(("max_attempts", "fail"))

    need = c.visa_need
    if need != "none":
        j1, h1b = program.sponsors_j1, program.sponsors_h1b
        ok: bool | None
        if need == "j1":
            ok = j1
        elif need == "h1b":
            ok = h1b
        else:
            ok = True if (j1 or h1b) else (False if j1 is False and h1b is False else None)
        if ok is None:
            out.append(("visa_sponsorship", "unpublished"))
        elif not ok:
            out.append(("visa_sponsorship", "fail"))
        if h1b is True and (need == "h1b" or (need == "either" and j1 is not True)):
            step3 = h1b_step3_outcome(c, program)
            if step3 == "unpublished":
                unpublished.append("step3_for_h1b")
            elif step3 is not None:
                out.append(("step3_for_h1b", step3))

    usce = c.usce
    # A program that does not require USCE cannot exclude for its kind, length or recency: those criteria say
    # which USCE it values, not who may apply.
    optional = program.usce_required is False
    if program.usce_required is None:
        unpublished.append("usce_required")
    elif program.usce_required and not usce:
        out.append(("usce_required", "fail"))
    if program.usce_hands_on_only is None:
        unpublished.append("usce_hands_on_only")
    elif program.usce_hands_on_only and not c.has_hands_on and not optional:
        out.append(("usce_hands_on_only", "fail"))
    recency = program.usce_recency_months
    if program.usce_min_weeks is None:
        unpublished.append("usce_min_weeks")
    elif not optional and c.qualifying_weeks(recency, bool(program.usce_hands_on_only)) < program.usce_min_weeks:
        out.append(("usce_min_weeks", "fail"))
    if recency is None:
        unpublished.append("usce_recency")
    elif not optional and (c.last_usce is None or c.last_usce < months_before(c.app_on, recency)):
        out.append(("usce_recency", "fail"))

    if program.min_letters is None:
        unpublished.append("min_letters")
    elif c.letters < program.min_letters:
        out.append(("min_letters", "fail"))

    by_cert = program.ecfmg_cert_required_by
    if by_cert is None:
        unpublished.append("ecfmg_certification_timing")
    else:
        due = c.dates.get(by_cert, c.dates["start"])
        if c.cert_done:
            if c.cert_on is not None and c.cert_on > due:
                out.append(("ecfmg_certification_timing", "fail"))
        else:
            out.append(("ecfmg_certification_timing", "fail" if c.earliest_cert > due else "pending"))
    return out, unpublished


def describe(c: Screenee, program: ProgramFact, criterion: str, outcome: str) -> CriterionCheck:  # noqa: C901
    """The wording of one failed or undecided criterion: the candidate's value and the program's requirement."""
    if criterion == "years_since_graduation":
        requirement = f"graduated within {program.max_years_since_graduation} years of applying ({c.app_on})"
        return CriterionCheck(criterion, outcome, c.grad_text, requirement)
    if criterion == "step2ck_minimum":
        requirement = f"Step 2 CK {program.min_step2ck} or higher"
        if c.step2ck_best is not None:
            value = f"Step 2 CK {c.step2ck_best}"
        elif c.step2ck_failed_best is not None:
            value = f"Step 2 CK not passed (best {c.step2ck_failed_best})"
        else:
            value = f"Step 2 CK scheduled {c.step2ck_scheduled}" if c.step2ck_scheduled else "no Step 2 CK score yet"
        return CriterionCheck(criterion, outcome, value, requirement)
    if criterion == "first_attempt_only":
        return CriterionCheck(criterion, outcome, c.failures_text(), "every USMLE Step passed on the first attempt")
    if criterion == "max_attempts":
        step = max(sorted(c.attempts), key=lambda s: c.attempts[s])
        return CriterionCheck(criterion, outcome, f"{c.attempts[step]} attempts on {title(step)}",
                              f"at most {program.max_attempts} attempts per Step")
    if criterion == "visa_sponsorship":
        offered = f"J-1: {_yes_no(program.sponsors_j1)}, H-1B: {_yes_no(program.sponsors_h1b)}"
        return CriterionCheck(criterion, outcome, f"needs {_VISA_TEXT.get(c.visa_need, c.visa_need)}", offered)
    if criterion == "step3_for_h1b":
        by = program.step3_required_by or "rank_deadline"
        due = c.dates.get(by, c.dates["rank_deadline"])
        value = (f"Step 3 passed {c.step3_on}" if c.step3_done else
                 f"Step 3 not passed; earliest result about {c.earliest_step3()}")
        return CriterionCheck(criterion, outcome, value, f"Step 3 passed by {by.replace('_', ' ')} ({due}) for H-1B")
    if criterion == "usce_required":
        return CriterionCheck(criterion, outcome, "no US clinical experience", "US clinical experience")
    if criterion == "usce_hands_on_only":
        value = "observership/non-hands-on USCE only" if c.usce else "no US clinical experience"
        return CriterionCheck(criterion, outcome, value, "hands-on USCE")
    if criterion == "usce_min_weeks":
        recency = program.usce_recency_months
        since = months_before(c.app_on, recency) if recency else None
        hands_on = bool(program.usce_hands_on_only)
        weeks = c.qualifying_weeks(recency, hands_on)
        kind = "hands-on " if hands_on else ""
        window = f" since {since}" if since else ""
        return CriterionCheck(criterion, outcome, f"{_fmt_weeks(weeks)} weeks of {kind}USCE{window}",
                              f"at least {program.usce_min_weeks} weeks of {kind}USCE{window}")
    if criterion == "usce_recency":
        recency = program.usce_recency_months or 0
        since = months_before(c.app_on, recency)
        value = f"latest USCE ended {c.last_usce}" if c.last_usce else "no US clinical experience"
        return CriterionCheck(criterion, outcome, value, f"USCE within {recency} months of applying (since {since})")
    if criterion == "min_letters":
        return CriterionCheck(criterion, outcome, f"{c.letters} US letters", f"at least {program.min_letters} letters")
    by_cert = program.ecfmg_cert_required_by or "start"
    due = c.dates.get(by_cert, c.dates["start"])
    value = f"certified {c.cert_on}" if c.cert_done else f"not certified; earliest possible about {c.earliest_cert}"
    return CriterionCheck(criterion, outcome, value, f"ECFMG certification by {by_cert.replace('_', ' ')} ({due})")


def entry_status(outcomes: list[tuple[str, str]]) -> str:
    if any(o == "fail" for _, o in outcomes):
        return "excluded"
    return "unknown" if outcomes else "eligible"


def screen_entry(c: Screenee, entry: ListEntryFact) -> ScreenedEntry:
    program = entry.program
    outcomes, unpublished = decide(c, program)
    failed: list[CriterionCheck] = []
    pending: list[CriterionCheck] = []
    for criterion, outcome in outcomes:
        (failed if outcome == "fail" else pending).append(describe(c, program, criterion, outcome))
    return ScreenedEntry(
        program_id=program.program_id,
        name=program.name,
        specialty=program.specialty,
        track=program.track,
        list_id=entry.list_id,
        rank_position=entry.rank_position,
        status="excluded" if failed else ("unknown" if pending else "eligible"),
        failed=tuple(failed),
        pending=tuple(pending),
        unpublished=tuple(unpublished),
    )


def _yes_no(value: bool | None) -> str:
    return "not published" if value is None else ("yes" if value else "no")


def entry_order(entry: ListEntryFact) -> tuple[object, ...]:
    program = entry.program
    return (entry.rank_position is None, entry.rank_position or 0, program.name.casefold(), program.program_id,
            entry.list_id or "", entry.status)


def screen_with(ev: CycleEval, entries: Iterable[ListEntryFact]) -> ScreeningResult:
    c = Screenee(ev)
    screened = tuple(screen_entry(c, e) for e in sorted(entries, key=entry_order))
    counts: dict[str, int] = {}
    eligible = excluded = unknown = 0
    for s in screened:
        if s.status == "eligible":
            eligible += 1
        elif s.status == "excluded":
            excluded += 1
            for check in s.failed:
                counts[check.criterion] = counts.get(check.criterion, 0) + 1
        else:
            unknown += 1
    excluded_by = tuple(
        CriterionCount(k, v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], CRITERIA.index(kv[0])))
    )
    return ScreeningResult(
        cycle=ev.rules.year,
        as_of=ev.profile.as_of,
        rules_version=ev.rules.rules_version,
        rules_source=ev.rules.source,
        application_on=c.app_on,
        summary=ScreeningSummary(len(screened), eligible, excluded, unknown, excluded_by),
        entries=screened,
    )


@dataclass(frozen=True, slots=True)
class ListCounts:
    """Screening outcome counts without the wording, for readiness and cohort rows."""

    application_on: date
    total: int
    eligible: int
    excluded: int
    unknown: int
    excluded_by_graduation: int


def count_entries(ev: CycleEval, entries: Iterable[ListEntryFact], c: Screenee | None = None) -> ListCounts:
    c = c or Screenee(ev)
    total = eligible = excluded = yog = 0
    for entry in entries:
        total += 1
        outcomes, _ = decide(c, entry.program)
        status = entry_status(outcomes)
        if status == "eligible":
            eligible += 1
        elif status == "excluded":
            excluded += 1
            if ("years_since_graduation", "fail") in outcomes:
                yog += 1
    return ListCounts(c.app_on, total, eligible, excluded, total - eligible - excluded, yog)


def screen(
    facts: CandidateFacts, entries: Iterable[ListEntryFact], book: RuleBook, cycle: int, as_of: date
) -> ScreeningResult:
    """Screen each program-list entry against the candidate for the given cycle."""
    rules = book.cycle(cycle)
    return screen_with(evaluate(Profile(facts, as_of, cycle), rules), entries)
