"""Next step: the most urgent available step on the road, what else can be done, what waits and on what.

The steps are taken in the graph's topological order and ranked by latest safe date; at equal dates exams
(the longest lead times) come first. When the requested cycle can no longer be reached, the next step and its
dates are given for the earliest cycle that can (`planning_cycle`), with the blockers of the requested one.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

from datetime import date

from .facts import CandidateFacts
from .results import BlockedStep, CompletedStep, DeadlineRef, NextStepResult, StepView
from .road import DEPENDENTS, NODE, NODES, ROAD_INDEX, CycleEval, NodeState, Profile, Scan, scan, title
from .rules import CALENDAR_KEYS, CycleRules, RuleBook

# Advisory dates for steps without a hard limit, by calendar key.
_RECOMMENDED_REF = {
    "specialty_decided": "eras_submit_open",
    "mentor_contact": "eras_submit_open",
    "eras_application": "eras_program_review_open",
}


def why(code: str, ev: CycleEval) -> str:  # noqa: C901 - one sentence per step
    rules = ev.rules
    cal = rules.calendar
    lead = rules.lead_times
    rol = cal.rol_deadline
    rol_text = f"{rol.on} {rol.time} {rol.time_zone}"
    buffer = lead.days("verification_buffer")
    match_gate = (f"NRMP checks with ECFMG before the rank order list deadline ({rol_text}) that Step 1, Step 2 CK "
                  f"and a Pathway are complete, or the list is not used; allow {buffer} days for verification")
    oet_min = rules.ecfmg.oet_minimum.value
    if code == "specialty_decided":
        return ("Programs, letters and USCE depend on the specialty; decide before ERAS submission opens "
                f"({cal.eras_submit_open.on}).")
    if code == "mentor_contact":
        return "Residents and senior students in the field advise on programs, letters and USCE (optional)."
    if code == "usmle_id_registered":
        return ("The USMLE/ECFMG ID is needed to apply for Step 1, Step 2 CK and the Pathway, and for ERAS; "
                f"allow about {lead.days('exam_booking')} days from registering to a first exam seat.")
    if code == "usmle_step1":
        return f"{match_gate}. Also required for ECFMG certification."
    if code == "usmle_step2ck":
        return (f"{match_gate}. Programs read the score: to have it on the application when programs start "
                f"reviewing ({cal.eras_program_review_open.on}), sit it about "
                f"{lead.days('step_score_release')} days earlier.")
    if code == "oet_medicine":
        mins = (f"Listening, Reading and Speaking {oet_min.listening}, Writing {oet_min.writing}"
                if oet_min else "the ECFMG minimum scores")
        return (f"The communication-skills requirement for the Pathway: OET Medicine in one sitting on or after "
                f"{rules.ecfmg.oet_earliest_test_date.value}, with {mins}.")
    if code == "ecfmg_pathway":
        return (f"The clinical-skills requirement for the {rules.year} Match is met through an ECFMG Pathway with "
                f"OET. {match_gate}.")
    if code == "credentials_verified":
        return ("ECFMG certification needs the final diploma and transcript verified with the school, which can "
                "start only after graduation.")
    if code == "ecfmg_certification":
        extra = ""
        if ev.profile.facts.visa_need in ("j1", "either"):
            extra = " and ECFMG's J-1 sponsorship"
        if ev.profile.facts.visa_need == "h1b":
            extra = ", and before Step 3, which H-1B needs"
        return f"Needed to start residency on {cal.residency_start.on}{extra}."
    if code == "eras_application":
        return (f"Interviews come from applications: ERAS submission opens {cal.eras_submit_open.on} and programs "
                f"start reviewing on {cal.eras_program_review_open.on}.")
    if code == "nrmp_registration":
        return (f"Register for the {rules.year} Match by the standard deadline ({cal.nrmp_standard_reg_deadline.on});"
                f" late registration, with a fee, closes at the rank order list deadline ({rol.on}).")
    if code == "rank_order_list":
        return f"Certify the rank order list between {cal.ranking_open.on} and {rol_text}."
    if code == "match_result":
        return (f"Match status is released on the Monday of Match Week ({cal.match_week_start.on}); Match Day is "
                f"{cal.match_day.on}. Record the result.")
    if code == "soap":
        end = cal.soap_end
        close = f" {end.time} {end.time_zone}" if end.time else ""
        checked = " (estimated from the pattern of earlier cycles: verify)" if end.provenance.estimated else ""
        return (f"Unmatched: SOAP runs from {cal.soap_start.on} to {end.on}{close}{checked}; "
                f"apply to up to {rules.nrmp.soap_max_applications.value} unfilled programs.")
    if code == "usmle_step3":
        deadline = ev.step3_deadline.on if ev.step3_deadline else None
        whose = ("the latest deadline among the H-1B programs on the list" if ev.step3_deadline_published else
                 "no program on the list publishes one, so the rank order list deadline is assumed")
        return (f"H-1B sponsorship needs Step 3 passed by {deadline} ({whose}); Step 3 needs ECFMG certification "
                f"first and graduation verification can take up to {lead.days('step3_graduation_verification')} "
                "days.")
    if code == "j1_statement_of_need":
        return (f"A J-1 needs a Statement of Need from your home country's ministry of health with the ECFMG "
                f"sponsorship application; allow {lead.days('statement_of_need')} days (the service's estimate: "
                "ministries publish no common time), some ministries also ask for the program's contract.")
    if code == "visa":
        need = ev.profile.facts.visa_need
        visa = {"j1": "A J-1 visa (sponsored by ECFMG, which needs ECFMG certification)",
                "h1b": "An H-1B visa (petitioned by the program, which needs Step 3 and ECFMG certification)"}.get(
            need, "A J-1 (sponsored by ECFMG) or H-1B (sponsored by the program)")
        return f"{visa} is needed by {cal.residency_start.on}."
    if code == "residency_start":
        return f"Residency starts on {cal.residency_start.on}."
    return title(code)


def _calendar_ref(rules: CycleRules, key: str) -> DeadlineRef:
    item = getattr(rules.calendar, key)
    return DeadlineRef(key, item.on, item.provenance.estimated)


def due_and_deadline(ev: CycleEval, s: NodeState) -> tuple[date | None, DeadlineRef | None]:
    anchor = s.anchor
    if anchor is not None:
        return s.due_by, ev.deadline(anchor)
    node = NODE[s.code]
    if node.kind == "event" and node.opens:
        ref = _calendar_ref(ev.rules, node.opens)
        return ref.on, ref
    key = _RECOMMENDED_REF.get(s.code)
    if key is not None:
        ref = _calendar_ref(ev.rules, key)
        return ref.on, ref
    return s.recommended_by, None


def lead_days(ev: CycleEval, code: str) -> int:
    node = NODE[code]
    return ev.rules.lead_times.days(node.duration) if node.duration else 0


def view(ev: CycleEval, s: NodeState) -> StepView:
    node = NODE[s.code]
    due_by, deadline = due_and_deadline(ev, s)
    unblocks = tuple(
        d for d in DEPENDENTS[s.code] if ev.states[d].applicable and not ev.states[d].done
    )
    return StepView(
        code=s.code,
        title=title(s.code),
        kind=node.kind,
        status=s.status,
        scheduled_on=s.scheduled_on,
        required=s.required,
        gate=node.gate,
        why=why(s.code, ev),
        unblocks=unblocks,
        due_by=due_by,
        deadline=deadline,
        lead_days=lead_days(ev, s.code),
        recommended_by=s.recommended_by,
        available_from=s.opens_on,
        severity=s.severity,
    )


def step_order(ev: CycleEval, s: NodeState, exams_first: bool = False) -> tuple[object, ...]:
    """Most urgent first: latest safe date, then exams (longest lead), then road order. When an exam's own
    deadline chain is at risk, exams come before everything else."""
    due, _ = due_and_deadline(ev, s)
    node = NODE[s.code]
    exam = node.kind == "exam"
    return (0 if exams_first and exam else 1, due or date.max, 0 if exam else 1, -lead_days(ev, s.code),
            ROAD_INDEX[s.code])


def _exam_at_risk(ev: CycleEval, s: NodeState) -> bool:
    """An exam still to be booked whose hard latest safe date is missed or within the due-soon window."""
    if NODE[s.code].kind != "exam" or not (s.required and s.available) or s.due_by is None:
        return False
    if s.severity == "blocks_cycle":
        return True
    return s.eff_start is None and (s.due_by - ev.profile.as_of).days <= ev.rules.readiness.due_soon_days


def _waits_for_date_only(s: NodeState) -> bool:
    """Waiting only for a calendar date or for graduation: it will open by itself on `opens_on`."""
    return bool(s.waits_on) and all(w in CALENDAR_KEYS or w == "graduation" for w in s.waits_on)


def pick(ev: CycleEval) -> tuple[NodeState | None, list[NodeState], list[NodeState]]:
    """The next step (an available required step, else the next one waiting only for a date to open), the
    available steps in order, and every open step."""
    open_states = [ev.states[n.code] for n in NODES if ev.states[n.code].applicable and not ev.states[n.code].done]
    if ev.permanent:
        # Nothing on the road can lift a permanent blocker: offer no step.
        return None, [], open_states
    exams_first = any(_exam_at_risk(ev, s) for s in open_states)
    available = sorted((s for s in open_states if s.available), key=lambda s: step_order(ev, s, exams_first))
    next_state = next((s for s in available if s.required), None)
    if next_state is None:
        upcoming = sorted(
            (s for s in open_states if s.required and _waits_for_date_only(s)),
            key=lambda s: (s.opens_on or date.max, ROAD_INDEX[s.code]),
        )
        next_state = upcoming[0] if upcoming else None
    return next_state, available, open_states


def build(sc: Scan, cycle: int, as_of: date) -> NextStepResult:
    ev = sc.planning
    next_state, available, open_states = pick(ev)
    others = tuple(view(ev, s) for s in available if s is not next_state)
    blocked = []
    for s in sorted((s for s in open_states if not s.available and s is not next_state),
                    key=lambda s: (due_and_deadline(ev, s)[0] or date.max, ROAD_INDEX[s.code])):
        due_by, deadline = due_and_deadline(ev, s)
        blocked.append(BlockedStep(s.code, title(s.code), s.required, s.waits_on, s.opens_on, due_by, deadline))
    completed = [
        CompletedStep(s.code, title(s.code), s.done_on, s.done_note)
        for s in (ev.states[n.code] for n in NODES) if s.done and s.applicable
    ]
    profile = ev.profile
    if profile.passed["usmle_step2cs"]:
        passes = profile.passes["usmle_step2cs"]
        completed.append(CompletedStep(
            "usmle_step2cs", title("usmle_step2cs"), passes[-1] if passes else None,
            "legacy exam: history only; it does not meet the current clinical-skills requirement",
        ))
    requested = sc.requested
    warnings = {(w.code, w.milestone, w.detail): w for w in (*requested.warnings, *ev.warnings)}
    return NextStepResult(
        cycle=cycle,
        planning_cycle=ev.rules.year,
        as_of=as_of,
        rules_version=requested.rules.rules_version,
        rules_source=requested.rules.source,
        planning_rules_version=ev.rules.rules_version,
        next_step=view(ev, next_state) if next_state is not None else None,
        also_available=others,
        blocked=tuple(blocked),
        completed=tuple(completed),
        blockers=requested.sorted_blockers(),
        warnings=tuple(warnings[k] for k in sorted(warnings, key=lambda k: (k[0], k[1] or "", k[2]))),
        cycle_reachable=requested.reachable,
        earliest_feasible_cycle=sc.earliest,
        deciding_gate=sc.deciding,
    )


def next_step(facts: CandidateFacts, book: RuleBook, cycle: int, as_of: date) -> NextStepResult:
    """The candidate's next step toward the given Match cycle, as of a date."""
    return build(scan(Profile(facts, as_of, cycle), book, cycle), cycle, as_of)

