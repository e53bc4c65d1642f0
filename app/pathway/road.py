"""The road to residency evaluated against one Match cycle: the core every engine shares.

The graph (graph.py, from catalogue.toml) follows the domain notes (section A); the candidate's facts are read once
into a Profile (profile.py). For one cycle, `evaluate` runs its phases in order: the outcome so far, exam history,
OET and Pathway validity, what is done and applicable, what is under way, retake spacing, latest safe dates
(backwards from the cycle's deadlines with the rule file's lead times), lateness, then the gates that do not depend
on a date, and the messages (messages.py). `scan` finds the earliest cycle the candidate can still reach.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .catalogue import discontinued_on
from .dates import add_years
from .facts import MilestoneFact, OetScores
from .graph import (
    ANCHOR_ORDER,
    BLOCKER_PRIORITY,
    DEPENDENTS,
    NODE,
    NODES,
    ROAD_INDEX,
    Node,
    blocker_key,
    title,
)
from .messages import lateness_blocker, notices
from .profile import (
    ACTIVE,
    DONE,
    PER_CYCLE,
    STEP_EXAMS,
    TAKEN,
    Profile,
    earliest_retake,
    oet_meets,
    oet_shortfalls,
)
from .results import Blocker, DeadlineRef, Notice
from .rules import CycleRules, RuleBook

__all__ = [
    "ACTIVE", "BLOCKER_PRIORITY", "DEPENDENTS", "DONE", "NODE", "NODES", "ROAD_INDEX", "STEP_EXAMS", "TAKEN",
    "CycleEval", "Node", "NodeState", "Profile", "Scan", "earliest_certification", "earliest_retake", "evaluate",
    "scan", "step3_deadline", "title",
]


class NodeState:
    __slots__ = (
        "code", "applicable", "required", "done", "done_on", "done_note", "status", "scheduled_on", "eff_start",
        "limits", "recommended_by", "opens_on", "waits_on", "available", "severity", "late", "earliest_start",
    )

    def __init__(self, code: str) -> None:
        self.code = code
        self.applicable = True
        self.required = True
        self.done = False
        self.done_on: date | None = None
        self.done_note: str | None = None
        self.status = "todo"
        self.scheduled_on: date | None = None
        self.eff_start: date | None = None
        self.limits: dict[str, date] = {}
        self.recommended_by: date | None = None
        self.opens_on: date | None = None
        self.waits_on: tuple[str, ...] = ()
        self.available = False
        self.severity = "on_track"
        self.late: tuple[str, ...] = ()
        self.earliest_start: date | None = None  # the first day an attempt is allowed (retake spacing)

    def start_on(self, as_of: date) -> date:
        """When the step can start at the earliest: as scheduled, else today, never before it is allowed."""
        start = self.eff_start or as_of
        if self.earliest_start is not None and self.earliest_start > start:
            return self.earliest_start
        return start

    @property
    def due_by(self) -> date | None:
        return min(self.limits.values()) if self.limits else None

    @property
    def anchor(self) -> str | None:
        if not self.limits:
            return None
        return min(self.limits, key=lambda a: (self.limits[a], ANCHOR_ORDER.index(a)))


class CycleEval:
    """The road for one cycle; read by the engines."""

    __slots__ = (
        "rules", "profile", "states", "blockers", "warnings", "anchors", "matched", "unmatched", "complete",
        "oet_state", "window", "step3_deadline", "step3_deadline_published", "attempt_barred", "step3_invalid",
        "cs_blocked", "matched_main", "match_known", "match_on", "soap_matched", "soap_known", "soap_on", "started",
        "cert_done", "pathway_expired",
    )

    def __init__(self, rules: CycleRules, profile: Profile) -> None:
        self.rules = rules
        self.profile = profile
        self.states: dict[str, NodeState] = {node.code: NodeState(node.code) for node in NODES}
        self.blockers: list[Blocker] = []
        self.warnings: list[Notice] = []
        self.anchors: dict[str, DeadlineRef] = {}
        self.matched = False
        self.unmatched = False
        self.complete = False
        self.oet_state = "missing"  # valid | missing | invalid
        self.window = "open"  # met | open | pending | broken
        self.step3_deadline: DeadlineRef | None = None
        self.step3_deadline_published = False  # from a program on the list, not the rule file's default
        self.attempt_barred: tuple[str, ...] = ()
        self.step3_invalid = False
        self.cs_blocked = False
        self.matched_main = False
        self.match_known = False
        self.match_on: date | None = None
        self.soap_matched = False
        self.soap_known = False
        self.soap_on: date | None = None
        self.started = False
        self.cert_done = False
        self.pathway_expired = False  # an accepted Pathway that this cycle's rules no longer count

    @property
    def reachable(self) -> bool:
        return not any(b.blocks_cycle for b in self.blockers)

    @property
    def permanent(self) -> bool:
        return any(b.permanent for b in self.blockers)

    def sorted_blockers(self) -> tuple[Blocker, ...]:
        return tuple(sorted(self.blockers, key=blocker_key))

    def deadline(self, anchor: str) -> DeadlineRef | None:
        return self.anchors.get(anchor)


def _ref(rules: CycleRules, name: str) -> DeadlineRef:
    item = getattr(rules.calendar, name)
    return DeadlineRef(name, item.on, item.provenance.estimated)


def step3_deadline(rules: CycleRules, profile: Profile) -> tuple[DeadlineRef, bool]:
    """The latest Step 3 deadline among H-1B programs on the list, else the rule file's default.

    Returns the deadline and whether it came from the list (False: the default assumption)."""
    mapping = {"application": "eras_submit_open", "rank_deadline": "rol_deadline", "match_day": "match_day"}
    found: list[DeadlineRef] = []
    for entry in profile.active_entries:
        program = entry.program
        if program.sponsors_h1b and program.step3_required_by in mapping:
            found.append(_ref(rules, mapping[program.step3_required_by]))
    if found:
        # The last H-1B deadline on the list is the last chance to keep any H-1B program; screening judges
        # each program against its own.
        last = max(found, key=lambda r: (r.on, r.name))
        return DeadlineRef("step3_deadline", last.on, last.estimated), True
    default = _ref(rules, mapping[rules.h1b_default_step3_deadline.given])
    return DeadlineRef("step3_deadline", default.on, default.estimated), False


def evaluate(profile: Profile, rules: CycleRules) -> CycleEval:
    """The road for one cycle. The phases run in this order, each reading what the earlier ones decided."""
    ev = CycleEval(rules, profile)
    # 1. What has happened: this cycle's Match, SOAP and start of residency.
    _match_outcome(ev)
    # 2. Which results count under this cycle's rules: attempt limit and 7-year window, Step 3 taken too early,
    #    Step 2 CS after it ended, OET for this cycle's Pathways, an accepted Pathway's validity.
    valid_pass, window_cap = _exam_history(ev)
    _step3_validity(ev, valid_pass)
    _step2cs(ev)
    oet_done, oet_on = _oet(ev)
    _pathway_validity(ev)
    # 3. The state of each step: done, applicable and required, under way, the first day an attempt is allowed.
    _mark_done(ev, valid_pass, oet_done, oet_on)
    _mark_applicable(ev)
    _mark_under_way(ev)
    _retake_spacing(ev)
    # 4. Dates: each remaining step's latest safe date, then what is late and which anchor it misses.
    _latest_safe_dates(ev, window_cap)
    _severity_and_lateness(ev)
    # 5. Gates that do not depend on a date, then the messages (messages.py).
    _standing_gates(ev)
    notices(ev)
    ev.complete = ev.states["residency_start"].done
    ev.blockers.sort(key=blocker_key)
    ev.warnings.sort(key=lambda n: (n.code, n.milestone or ""))
    return ev


def _match_outcome(ev: CycleEval) -> None:
    """This cycle's Match, SOAP and start, if recorded."""
    profile, year = ev.profile, ev.rules.year
    match_recs = profile.cycle_records("match_result", year)
    soap_recs = profile.cycle_records("soap", year)
    matched_main = any(r.match_outcome == "matched" for r in match_recs)
    unmatched_main = not matched_main and any(r.match_outcome == "unmatched" for r in match_recs)
    ev.soap_matched = any(r.match_outcome == "matched" for r in soap_recs)
    ev.started = any(r.status in DONE for r in profile.cycle_records("residency_start", year))
    ev.matched_main = matched_main
    ev.matched = matched_main or ev.soap_matched or ev.started
    ev.unmatched = unmatched_main and not ev.matched
    ev.match_known = matched_main or unmatched_main
    ev.match_on = next((r.completed_on for r in reversed(match_recs) if r.match_outcome), None)
    soap_outcome = [r for r in soap_recs if r.match_outcome in ("matched", "unmatched")]
    ev.soap_on = soap_outcome[-1].completed_on if soap_outcome else None
    ev.soap_known = bool(soap_outcome)
    ev.cert_done = profile.cert_done or ev.started


def _exam_history(ev: CycleEval) -> tuple[dict[str, bool], tuple[str, date] | None]:
    """Attempt limit and the ECFMG 7-year window. Returns which passes count, and the window's limit on the
    exam still to pass (if one is pending)."""
    profile, rules, as_of = ev.profile, ev.rules, ev.profile.as_of
    valid_pass = {step: profile.passed[step] for step in STEP_EXAMS}
    limit = rules.usmle.attempt_limit_on(as_of)
    if limit is not None:
        counted = rules.usmle.attempt_limit_counts.given
        ev.attempt_barred = tuple(s for s in counted if profile.unpassed.get(s, 0) >= limit)
    window_years = rules.ecfmg.exam_window_years.given
    p1, p2 = profile.passes["usmle_step1"], profile.passes["usmle_step2ck"]
    window_cap: tuple[str, date] | None = None
    if ev.cert_done:
        ev.window = "met"
    elif p1 and p2:
        if any(max(a, b) <= add_years(min(a, b), window_years) for a in p1 for b in p2):
            ev.window = "met"
        else:
            stale = "usmle_step1" if p1[-1] < p2[-1] else "usmle_step2ck"
            fresh = "usmle_step2ck" if stale == "usmle_step1" else "usmle_step1"
            stale_on = (p1 if stale == "usmle_step1" else p2)[-1]
            fresh_on = (p2 if stale == "usmle_step1" else p1)[-1]
            valid_pass[stale] = False
            ev.window = "broken"
            ev.blockers.append(Blocker(
                "ecfmg_window_broken",
                f"{title(stale)} passed on {stale_on} and {title(fresh)} on {fresh_on}: more than "
                f"{window_years} years apart, so the earlier pass no longer counts for ECFMG certification; "
                f"{title(stale)} must be passed again within {window_years} years of {fresh_on}.",
                stale, (stale, fresh), False, add_years(fresh_on, window_years), False,
            ))
            window_cap = (stale, add_years(fresh_on, window_years))
    elif p1 or p2:
        first_step = "usmle_step1" if p1 else "usmle_step2ck"
        other = "usmle_step2ck" if p1 else "usmle_step1"
        first_on = (p1 or p2)[-1]
        expiry = add_years(first_on, window_years)
        if as_of > expiry:
            valid_pass[first_step] = False
            ev.window = "broken"
            ev.blockers.append(Blocker(
                "ecfmg_window_broken",
                f"{title(first_step)} passed on {first_on} and {title(other)} was not passed within "
                f"{window_years} years (by {expiry}): the {title(first_step)} pass no longer counts for ECFMG "
                "certification and must be repeated.",
                first_step, (first_step, other), False, None, False,
            ))
        else:
            ev.window = "pending"
            window_cap = (other, expiry)
    if window_cap:
        ev.anchors["ecfmg_exam_window"] = DeadlineRef("ecfmg_exam_window", window_cap[1], False)
    return valid_pass, window_cap


def _step3_validity(ev: CycleEval, valid_pass: dict[str, bool]) -> None:
    """Step 3 needs graduation and ECFMG certification first (FSMB); an earlier attempt does not count."""
    profile = ev.profile
    grad = profile.graduation_on
    invalid: list[MilestoneFact] = []
    for r in profile.records.get("usmle_step3", ()):
        if r.status not in (*TAKEN, *ACTIVE) or r.on is None:
            continue
        if (grad and r.on < grad) or not ev.cert_done or (profile.cert_on and r.on < profile.cert_on):
            invalid.append(r)
    if not invalid:
        return
    ev.step3_invalid = True
    first = invalid[0]
    if any(r.status == "passed" for r in invalid):
        valid_pass["usmle_step3"] = any(
            r.status == "passed" and r not in invalid for r in profile.records.get("usmle_step3", ())
        )
    reason = "before graduation" if grad and first.on and first.on < grad else "before ECFMG certification"
    cert_text = f"certified on {profile.cert_on}" if profile.cert_on else "not ECFMG-certified"
    ev.blockers.append(Blocker(
        "step3_before_ecfmg_certification",
        f"Step 3 {first.status} on {first.on} is {reason} ({cert_text}; graduation {grad or 'unknown'}): "
        "FSMB admits IMGs to Step 3 only after graduation and ECFMG certification, so this attempt does not "
        f"count. Get certified first, then apply (graduation verification can take up to "
        f"{ev.rules.lead_times.days('step3_graduation_verification')} days).",
        "usmle_step3", ("usmle_step3", "ecfmg_certification"), False, None, False,
    ))


def _step2cs(ev: CycleEval) -> None:
    """Step 2 CS has ended (the catalogue's discontinued_on): a later attempt cannot exist and meets nothing; an
    earlier pass is history."""
    profile = ev.profile
    cs_end = discontinued_on("usmle_step2cs")
    for r in profile.records.get("usmle_step2cs", ()):
        on = r.on
        if (on is not None and on >= cs_end) or (on is None and r.status in ("planned", *ACTIVE)):
            ev.cs_blocked = True
            ev.blockers.append(Blocker(
                "step2cs_after_discontinuation",
                f"A Step 2 CS attempt is recorded ({r.status}{' on ' + str(on) if on else ''}), but Step 2 CS was "
                f"permanently discontinued on {cs_end}. The clinical-skills and communication requirement is now "
                "met through an ECFMG Pathway with OET Medicine; remove this record and plan the Pathway.",
                "usmle_step2cs", ("usmle_step2cs", "ecfmg_pathway", "oet_medicine"), False, None, False,
            ))
            return
    if profile.passed["usmle_step2cs"]:
        cs_on = profile.passes["usmle_step2cs"][-1] if profile.passes["usmle_step2cs"] else None
        ev.warnings.append(Notice(
            "step2cs_history",
            f"Step 2 CS passed{' on ' + str(cs_on) if cs_on else ''} is history: it does not meet the current "
            "clinical-skills requirement, which is met through an ECFMG Pathway with OET Medicine.",
            "usmle_step2cs",
        ))
    if profile.failed["usmle_step2cs"]:
        _pathway_after_step2cs_failure(ev)


def _pathway_after_step2cs_failure(ev: CycleEval) -> None:
    """Whoever ever failed Step 2 CS may use only some Pathways (data per cycle: Pathway 6 in the 2024 Pathways)."""
    allowed = ev.rules.ecfmg.pathways_after_step2cs_failure
    prov = allowed.provenance
    recorded = sorted({r.pathway for r in ev.profile.records.get("ecfmg_pathway", ()) if r.pathway is not None})
    if allowed.value is None:
        ev.warnings.append(Notice(
            "pathway_after_step2cs_failure",
            f"You failed Step 2 CS; which Pathways are open to you for the {ev.rules.year} Match was not found in "
            f"the sources consulted (a gap in the rules): confirm with ECFMG before you apply. Source: {prov.source}",
            "ecfmg_pathway",
        ))
        return
    outside = [p for p in recorded if p not in allowed.value]
    if not outside:
        return
    names = " or ".join(f"Pathway {p}" for p in allowed.value)
    basis = f" ({prov.pattern}; estimated, to be verified)" if prov.estimated and prov.pattern else ""
    ev.warnings.append(Notice(
        "pathway_after_step2cs_failure",
        f"Applicants who ever failed Step 2 CS may use only {names} for the {ev.rules.year} Match{basis}; the "
        f"recorded {', '.join('Pathway ' + p for p in outside)} is not open to you: check it with ECFMG. "
        f"Source: {prov.source}",
        "ecfmg_pathway",
    ))


def _oet(ev: CycleEval) -> tuple[bool, date | None]:
    """OET Medicine for this cycle's Pathways: one sitting, every sub-test at the minimum, on or after the
    earliest accepted date. Returns whether it is met and the sitting's date."""
    profile, rules = ev.profile, ev.rules
    recs = profile.records.get("oet_medicine", ())
    minimum = rules.ecfmg.oet_minimum.given
    earliest = rules.ecfmg.oet_earliest_test_date.given
    oet_on = None
    for r in reversed(recs):
        if r.status in DONE or (r.oet is not None and oet_meets(r.oet, minimum)):
            oet_on = r.completed_on
            break
    if ev.cert_done or profile.pathway_done:
        ev.oet_state = "valid"  # accepted with the Pathway
        return True, oet_on

    def meets(r: MilestoneFact) -> bool:
        return oet_meets(r.oet, minimum) if r.oet is not None else r.status in DONE

    sittings = [r for r in recs if r.status in ("passed", "failed", "completed") and
                (r.oet is not None or r.status in DONE)]
    if any(meets(r) and (r.on is None or r.on >= earliest) for r in sittings):
        ev.oet_state = "valid"
        return True, oet_on
    if not sittings:
        return False, None
    ev.oet_state = "invalid"
    latest = sittings[-1]
    scored = [r.oet for r in sittings if r.oet is not None and (r.on is None or r.on >= earliest)]
    best = OetScores(*(max(getattr(s, n) for s in scored) for n in
                       ("listening", "reading", "writing", "speaking"))) if scored else None
    if latest.oet is not None and not oet_meets(latest.oet, minimum):
        if len(scored) > 1 and best is not None and oet_meets(best, minimum):
            ev.blockers.append(Blocker(
                "oet_not_one_sitting",
                "Every OET sub-test minimum is met only by combining sittings (best: Listening "
                f"{best.listening}, Reading {best.reading}, Writing {best.writing}, Speaking "
                f"{best.speaking}); ECFMG requires all four from one sitting, so OET must be retaken.",
                "oet_medicine", ("oet_medicine",), False, None, False,
            ))
        else:
            ev.blockers.append(Blocker(
                "oet_below_minimum",
                f"OET Medicine on {latest.on or 'an unrecorded date'} is below the ECFMG minimum: "
                f"{', '.join(oet_shortfalls(latest.oet, minimum))}. All four sub-tests must be retaken in one "
                "sitting.",
                "oet_medicine", ("oet_medicine",), False, None, False,
            ))
    elif latest.on is not None and latest.on < earliest:
        ev.blockers.append(Blocker(
            "oet_before_earliest_date",
            f"OET Medicine taken on {latest.on} is before {earliest}, the earliest test date accepted for "
            f"the {rules.year} Pathways; it must be retaken.",
            "oet_medicine", ("oet_medicine",), False, None, False,
        ))
    return False, None


def _pathway_validity(ev: CycleEval) -> None:
    """An accepted Pathway counts for the Match cycles its rules name, not forever (ECFMG, domain notes G): an
    older acceptance needs Pathways Revalidation, planned like the Pathway itself. ECFMG certification settles it."""
    profile, rules = ev.profile, ev.rules
    if ev.cert_done or not profile.pathway_done:
        return
    validity = rules.ecfmg.pathway_valid_from
    accepted = profile.pathway_on
    if validity.value is None:
        ev.warnings.append(Notice(
            "pathway_validity_unverified",
            f"Your ECFMG Pathway{' accepted on ' + str(accepted) if accepted else ''} is counted for the "
            f"{rules.year} Match, but which accepted Pathways stay valid for it was not found in the sources "
            "consulted; ECFMG runs Pathways Revalidation for expired or expiring ones: confirm with ECFMG. "
            f"Source: {validity.provenance.source}",
            "ecfmg_pathway",
        ))
        return
    if accepted is None:
        ev.warnings.append(Notice(
            "pathway_validity_unverified",
            f"The {rules.year} Match counts ECFMG Pathways accepted from {validity.value}, and no acceptance date is "
            "recorded: record it, or confirm with ECFMG that no revalidation is needed.",
            "ecfmg_pathway",
        ))
        return
    if accepted >= validity.value:
        return
    ev.pathway_expired = True
    ev.blockers.append(Blocker(
        "pathway_expired",
        f"The ECFMG Pathway {'accepted on ' + str(accepted) if accepted else '(acceptance date not recorded)'} does "
        f"not count for the {rules.year} Match, whose rules accept Pathways from {validity.value}: apply for "
        f"Pathways Revalidation (allow {rules.lead_times.days('pathway_processing')} days) before the rank order "
        f"list deadline. Source: {validity.provenance.source}",
        "ecfmg_pathway", ("ecfmg_pathway",), False, None, False,
    ))


def _mark_done(ev: CycleEval, valid_pass: dict[str, bool], oet_done: bool, oet_on: date | None) -> None:
    profile, year = ev.profile, ev.rules.year
    cert_done = ev.cert_done
    p1, p2, p3 = (profile.passes[s] for s in STEP_EXAMS)

    def cycle_done(code: str) -> tuple[bool, date | None, str | None]:
        recs = [r for r in profile.cycle_records(code, year) if r.status in DONE]
        return bool(recs), (recs[-1].completed_on if recs else None), None

    implied = "implied by ECFMG certification"

    def recorded_on(code: str) -> date | None:
        """When a completed record says the step was done (the latest such record)."""
        return max((r.completed_on for r in profile.records.get(code, ()) if r.status in DONE and r.completed_on),
                   default=None)
    done: dict[str, tuple[bool, date | None, str | None]] = {
        "usmle_step1": (cert_done or valid_pass["usmle_step1"], p1[-1] if p1 and valid_pass["usmle_step1"] else None,
                        implied if cert_done and not valid_pass["usmle_step1"] else None),
        "usmle_step2ck": (cert_done or valid_pass["usmle_step2ck"],
                          p2[-1] if p2 and valid_pass["usmle_step2ck"] else None,
                          implied if cert_done and not valid_pass["usmle_step2ck"] else None),
        "oet_medicine": (oet_done, oet_on, None),
        "ecfmg_pathway": (cert_done or (profile.pathway_done and not ev.pathway_expired), profile.pathway_on, None),
        "credentials_verified": (cert_done or profile.credentials_done, recorded_on("credentials_verified"), None),
        "ecfmg_certification": (cert_done, profile.cert_on, None),
        "specialty_decided": (profile.specialty_decided, recorded_on("specialty_decided"), None),
        "mentor_contact": (any(r.status in DONE for r in profile.records.get("mentor_contact", ())),
                           recorded_on("mentor_contact"), None),
        "match_result": (ev.match_known or ev.matched, ev.match_on, None),
        "soap": (ev.soap_known, ev.soap_on, None),
        "usmle_step3": (valid_pass["usmle_step3"], p3[-1] if valid_pass["usmle_step3"] and p3 else None, None),
        "j1_statement_of_need": (any(r.status in DONE for r in profile.records.get("j1_statement_of_need", ())),
                                 recorded_on("j1_statement_of_need"), None),
    }
    exam_done = any(done[c][0] for c in ("usmle_step1", "usmle_step2ck", "oet_medicine", "ecfmg_pathway"))
    done["usmle_id_registered"] = (profile.id_registered or exam_done or cert_done,
                                   recorded_on("usmle_id_registered"), None)
    for code in ("eras_application", "nrmp_registration", "rank_order_list", "visa", "residency_start"):
        done[code] = cycle_done(code)
    # A recorded outcome implies the steps before it.
    if ev.match_known or ev.matched:
        done["eras_application"] = (True, done["eras_application"][1], None)
        done["nrmp_registration"] = (True, done["nrmp_registration"][1], None)
    if done["visa"][0] and not done["j1_statement_of_need"][0]:
        done["j1_statement_of_need"] = (True, None, "implied by the visa")
    if done["rank_order_list"][0]:
        done["nrmp_registration"] = (True, done["nrmp_registration"][1], None)
    if ev.matched_main:
        done["rank_order_list"] = (True, done["rank_order_list"][1], None)
    if ev.started:
        for code, (flag, on, note) in list(done.items()):
            if code not in ("soap", "usmle_step3", "mentor_contact"):
                done[code] = (True, on, note if flag else "implied by the start of residency")
    for node in NODES:
        s = ev.states[node.code]
        s.done, s.done_on, s.done_note = done[node.code]
        if node.code in profile.declared_na and not s.done:
            s.applicable = False


def _mark_applicable(ev: CycleEval) -> None:
    st = ev.states
    visa_need = ev.profile.facts.visa_need
    st["mentor_contact"].required = False
    # Step 3 is on the road only for H-1B: required for "h1b", optional for "either"; otherwise a pass is history.
    if visa_need != "h1b":
        st["usmle_step3"].required = False
        if visa_need != "either" and not st["usmle_step3"].done:
            st["usmle_step3"].applicable = False
    if visa_need == "none":
        st["visa"].applicable = False
    # The Statement of Need goes with the J-1 application, made once matched: advised before (ministries can be
    # slow), required for a J-1 after the match, optional while H-1B is possible.
    son = st["j1_statement_of_need"]
    if visa_need not in ("j1", "either") and not son.done:
        son.applicable = False
    son.required = visa_need == "j1" and ev.matched
    st["soap"].applicable = ev.unmatched
    st["soap"].required = ev.unmatched and ev.profile.as_of <= ev.rules.calendar.soap_end.on
    if ev.match_known or ev.matched:
        for code in ("eras_application", "nrmp_registration", "rank_order_list"):
            if not st[code].done:
                st[code].required = False
    if ev.unmatched and not st["soap"].done:
        for code in ("visa", "residency_start"):
            st[code].required = ev.matched
    for code in ("eras_application", "specialty_decided"):
        if not st[code].applicable:
            st[code].required = False


def _mark_under_way(ev: CycleEval) -> None:
    """Status and effective start of what is already under way (a booked exam, a submitted application)."""
    profile, year = ev.profile, ev.rules.year
    for node in NODES:
        s = ev.states[node.code]
        if s.done or not s.applicable:
            continue
        recs = profile.cycle_records(node.code, year) if node.code in PER_CYCLE else profile.records.get(node.code, ())
        active = [r for r in recs if r.status in ACTIVE]
        if active:
            last = active[-1]
            s.status = last.status
            s.scheduled_on = last.scheduled_on
            s.eff_start = last.scheduled_on


def _retake_spacing(ev: CycleEval) -> None:
    """No attempt before the spacing rule allows it: a booked attempt that is too early cannot stand."""
    profile, spacing = ev.profile, ev.rules.usmle.retake_spacing
    for code in STEP_EXAMS:
        s = ev.states[code]
        if s.done or not s.applicable:
            continue
        allowed = earliest_retake(profile.attempt_dates.get(code, ()), spacing)
        if allowed is None or allowed <= profile.as_of and (s.eff_start is None or s.eff_start >= allowed):
            continue
        s.earliest_start = allowed
        attempts = profile.attempt_dates[code]
        if s.eff_start is not None and s.eff_start < allowed:
            ev.blockers.append(Blocker(
                "retake_too_soon",
                f"{title(code)} is booked for {s.eff_start}, but after {len(attempts)} attempts (first {attempts[0]}, "
                f"latest {attempts[-1]}) the next one is allowed from {allowed}: at most "
                f"{spacing.max_attempts_in_window} attempts at the same exam within {spacing.window_months} months, "
                f"later ones {spacing.later_after_first_months} months after the first and "
                f"{spacing.later_after_latest_months} after the most recent. Rebook on or after {allowed}.",
                code, (code,), False, None, False,
            ))


def _edge_lead(ev: CycleEval, prereq: str, dependent: str) -> int:
    """Days a prerequisite must be complete before its dependent can start."""
    if prereq == "usmle_id_registered" and dependent in ("usmle_step1", "usmle_step2ck", "oet_medicine"):
        return ev.rules.lead_times.days("exam_booking")
    if prereq == "ecfmg_certification" and dependent == "usmle_step3":
        return ev.rules.lead_times.days("step3_graduation_verification")
    return 0


def _latest_safe_dates(ev: CycleEval, window_cap: tuple[str, date] | None) -> None:
    """Each remaining required step's latest start, per anchor, walking the graph backwards from the deadlines."""
    rules, st = ev.rules, ev.states
    cal, lead = rules.calendar, rules.lead_times
    rol = cal.rol_deadline.on
    gate_on = rol - timedelta(days=lead.days("verification_buffer"))
    ev.anchors["match_gate"] = _ref(rules, "rol_deadline")
    ev.anchors["rol_deadline"] = _ref(rules, "rol_deadline")
    ev.anchors["residency_start"] = _ref(rules, "residency_start")
    ev.anchors["soap_end"] = _ref(rules, "soap_end")
    own: dict[str, dict[str, date]] = {
        "usmle_step1": {"match_gate": gate_on},
        "usmle_step2ck": {"match_gate": gate_on},
        "ecfmg_pathway": {"match_gate": gate_on},
        "ecfmg_certification": {"residency_start": cal.residency_start.on},
        "visa": {"residency_start": cal.residency_start.on},
        "nrmp_registration": {"rol_deadline": rol},
        "rank_order_list": {"rol_deadline": rol},
        "soap": {"soap_end": cal.soap_end.on},
    }
    if ev.profile.facts.visa_need in ("h1b", "either"):
        ref, ev.step3_deadline_published = step3_deadline(rules, ev.profile)
        ev.step3_deadline = ref
        ev.anchors["step3_deadline"] = ref
        if st["usmle_step3"].required:
            own["usmle_step3"] = {"step3_deadline": ref.on}
    pathway_deadline = rules.ecfmg.pathways_application_deadline.value
    if pathway_deadline:
        ev.anchors["pathways_application_deadline"] = DeadlineRef("pathways_application_deadline",
                                                                  pathway_deadline, False)
    for node in reversed(NODES):
        s = st[node.code]
        if s.done or not s.applicable or not s.required or node.kind == "event":
            continue
        complete = dict(own.get(node.code, {}))
        for dep in DEPENDENTS[node.code]:
            d = st[dep]
            # SOAP eligibility is judged at the ROL deadline, not at SOAP's end: it sets no earlier limits.
            if d.done or not d.applicable or not d.required or NODE[dep].kind == "event" or dep == "soap":
                continue
            gap = _edge_lead(ev, node.code, dep)
            for anchor, limit_on in d.limits.items():
                value = limit_on - timedelta(days=gap)
                if anchor not in complete or value < complete[anchor]:
                    complete[anchor] = value
        duration = lead.days(node.duration) if node.duration else 0
        s.limits = {a: d - timedelta(days=duration) for a, d in complete.items()}
        if node.code == "ecfmg_pathway" and pathway_deadline:
            s.limits["pathways_application_deadline"] = pathway_deadline
        if window_cap and node.code == window_cap[0]:
            s.limits["ecfmg_exam_window"] = window_cap[1]
    recommended = {
        "specialty_decided": cal.eras_submit_open.on,
        "mentor_contact": cal.eras_submit_open.on,
        "usmle_step2ck": cal.eras_program_review_open.on - timedelta(days=lead.days("step_score_release")),
        "eras_application": cal.eras_program_review_open.on,
        "nrmp_registration": cal.nrmp_standard_reg_deadline.on,
        # Advised before the match too: in hand when the J-1 application starts, a visa's processing before July.
        "j1_statement_of_need": cal.residency_start.on - timedelta(
            days=lead.days("visa_processing") + lead.days("statement_of_need")),
    }
    for code, on in recommended.items():
        st[code].recommended_by = on


def _severity_and_lateness(ev: CycleEval) -> None:
    """What is available now, each step's severity, and one blocker per missed anchor."""
    rules, st, profile = ev.rules, ev.states, ev.profile
    cal, as_of, grad = rules.calendar, profile.as_of, profile.graduation_on
    due_soon = rules.readiness.due_soon_days
    step3_verification = rules.lead_times.days("step3_graduation_verification")
    late_by_anchor: dict[str, list[NodeState]] = {}
    for node in NODES:
        s = st[node.code]
        if s.done or not s.applicable:
            continue
        waits = [r for r in node.requires if st[r].applicable and not st[r].done]
        if node.needs_graduation and grad is not None and grad > as_of:
            waits.append("graduation")
            s.opens_on = grad
        if node.needs_match and not ev.matched:
            waits.append("match")
        if node.opens:
            opens_on = cal.on(node.opens)
            if opens_on > as_of:
                s.opens_on = max(opens_on, s.opens_on or opens_on)
                waits.append(node.opens)
        if node.code in STEP_EXAMS and ev.attempt_barred:
            waits.append("attempt_limit")
        if s.earliest_start is not None and s.earliest_start > as_of:
            waits.append("retake_spacing")
            s.opens_on = max(s.earliest_start, s.opens_on or s.earliest_start)
        s.waits_on = tuple(waits)
        s.available = not waits
        start = s.start_on(as_of)
        late = [a for a, limit_on in s.limits.items() if start > limit_on]
        s.late = tuple(sorted(late, key=ANCHOR_ORDER.index))
        if node.kind == "event":
            event_on = cal.on(node.opens) if node.opens else None
            s.severity = "overdue" if event_on and as_of > event_on and s.available else "on_track"
        elif s.late:
            s.severity = "blocks_cycle"
        elif s.eff_start is not None:
            s.severity = "on_track"
        elif s.recommended_by and as_of > s.recommended_by:
            s.severity = "overdue"
        elif any(x is not None and (x - as_of).days <= due_soon for x in (s.due_by, s.recommended_by)):
            s.severity = "due_soon"
        else:
            s.severity = "on_track"
        # A step that needs a match is only late once there is one; before that the match is what is missing.
        if s.required and not (node.needs_match and not ev.matched):
            for anchor in s.late:
                key = "visa" if node.code in ("visa", "j1_statement_of_need") else anchor
                late_by_anchor.setdefault(key, []).append(s)
        # Graduation is a fixed date: too late for a step's limit puts the cycle out of reach.
        if node.needs_graduation and grad is not None and s.required:
            for anchor, limit_on in s.limits.items():
                gap = step3_verification if node.code == "usmle_step3" else 0
                if grad > limit_on - timedelta(days=gap):
                    late_by_anchor.setdefault(f"graduation:{anchor}", []).append(s)
    for key in sorted(late_by_anchor, key=lambda k: (k.startswith("graduation:"), k)):
        ev.blockers.append(lateness_blocker(ev, key, late_by_anchor[key]))


def _standing_gates(ev: CycleEval) -> None:
    """Blockers that do not come from a date: attempt limit, Pathways offered, SOAP after an unmatched result."""
    rules, st, profile = ev.rules, ev.states, ev.profile
    cal, year = rules.calendar, rules.year
    if ev.attempt_barred:
        worst = ev.attempt_barred[0]
        # Four unpassed attempts at any Step bar every Step, not only the one failed.
        needed = [c for c in STEP_EXAMS if st[c].applicable and st[c].required and not st[c].done]
        text = (f"{profile.unpassed[worst]} unpassed attempts on {title(worst)}: under the USMLE attempt limit "
                f"({rules.usmle.attempt_limit_on(profile.as_of)}, for applications from "
                f"{rules.usmle.attempt_limit_from}) no Step can be taken again.")
        if worst == "usmle_step2cs":
            text += " Attempts at the former Step 2 CS count toward the limit."
        if needed:
            ev.blockers.append(Blocker(
                "attempt_limit_reached",
                text + f" {', '.join(title(c) for c in needed)} can no longer be passed.",
                worst, tuple(dict.fromkeys((*ev.attempt_barred, *needed))), True, None, True,
            ))
        else:
            ev.warnings.append(Notice("attempt_limit_reached", text, worst))
    pathways = rules.ecfmg.pathways_available
    if pathways.value is False and not st["ecfmg_pathway"].done:
        ev.blockers.append(Blocker(
            "pathways_unavailable",
            f"No ECFMG Pathway is offered for the {year} Match, so the clinical-skills requirement cannot be met "
            "for this cycle.",
            "ecfmg_pathway", ("ecfmg_pathway",), False, None, True,
        ))
    elif pathways.provenance.estimated and not st["ecfmg_pathway"].done:
        ev.warnings.append(Notice(
            "pathways_assumed",
            pathways.provenance.note or f"Pathways for the {year} Match are assumed, not yet published.",
            "ecfmg_pathway",
        ))
    if ev.unmatched:
        eligible = all(st[c].done for c in ("nrmp_registration", "usmle_step1", "usmle_step2ck", "ecfmg_pathway"))
        if not eligible and not st["soap"].done:
            ev.blockers.append(Blocker(
                "not_soap_eligible",
                "Unmatched, but SOAP needs registration for the Match and, for IMGs, Step 1, Step 2 CK and a "
                f"Pathway verified by the rank order list deadline ({cal.rol_deadline.on}).",
                "soap", ("soap",), False, None, True,
            ))
        elif profile.as_of > cal.soap_end.on or (st["soap"].done and not ev.soap_matched):
            ev.blockers.append(Blocker(
                "cycle_closed_unmatched",
                f"Unmatched in the {year} Main Match and SOAP has ended ({cal.soap_end.on}) without a position; "
                "the next chance is the following cycle.",
                "soap", ("match_result", "soap"), False, None, True,
            ))


@dataclass(frozen=True, slots=True)
class Scan:
    requested: CycleEval
    planning: CycleEval
    earliest: int | None
    deciding: Blocker | None


def scan(profile: Profile, book: RuleBook, cycle: int) -> Scan:
    """Evaluate the requested cycle and find the earliest reachable one (from the first still open)."""
    requested = evaluate(profile, book.cycle(cycle))
    if requested.permanent:
        top = requested.sorted_blockers()
        return Scan(requested, requested, None, top[0] if top else None)
    as_of = profile.as_of
    open_years = {y for y in book.years if book.cycles[y].calendar.rol_deadline.on >= as_of}
    candidates = sorted(open_years | {cycle})
    cache = {cycle: requested}
    earliest: int | None = None
    last_lost: CycleEval | None = None
    for year in candidates:
        ev = cache.get(year)
        if ev is None:
            ev = evaluate(profile, book.cycles[year])
            cache[year] = ev
        if ev.reachable:
            earliest = year
            break
        last_lost = ev
        # A permanent blocker under an earlier cycle's rules says nothing of the requested cycle's: scan on to it.
        if ev.permanent and year >= cycle:
            break
    deciding = None
    if last_lost is not None:
        lost_blockers = last_lost.sorted_blockers()
        deciding = lost_blockers[0] if lost_blockers else None
    planning = requested
    if not requested.reachable and earliest is not None:
        planning = cache[earliest]
    return Scan(requested, planning, earliest, deciding)


def earliest_certification(ev: CycleEval) -> date:
    """The earliest date ECFMG certification could be issued, if every remaining part starts now (or as
    scheduled) and takes its lead time. Today's date if already certified (the issue date if known)."""
    st = ev.states
    profile = ev.profile
    if st["ecfmg_certification"].done:
        return profile.cert_on or profile.as_of
    lead = ev.rules.lead_times
    as_of = profile.as_of
    start = as_of if st["usmle_id_registered"].done else as_of + timedelta(days=lead.days("exam_booking"))
    ready = [as_of]
    for code in ("usmle_step1", "usmle_step2ck"):
        s = st[code]
        if not s.done:
            ready.append(s.start_on(start) + timedelta(days=lead.days("step_score_release")))
    if not st["ecfmg_pathway"].done:
        oet = st["oet_medicine"]
        oet_ready = as_of if oet.done else (oet.eff_start or start) + timedelta(days=lead.days("oet_results"))
        pathway = st["ecfmg_pathway"]
        pathway_start = pathway.eff_start if pathway.eff_start and oet.done else oet_ready
        ready.append(pathway_start + timedelta(days=lead.days("pathway_processing")))
    if not st["credentials_verified"].done:
        creds = st["credentials_verified"]
        begin = creds.eff_start or max(as_of, profile.graduation_on or as_of)
        ready.append(begin + timedelta(days=lead.days("credential_verification")))
    return max(ready)
