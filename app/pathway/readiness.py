"""Projected Match readiness: a transparent checklist score, not a prediction.

Hard gates decide the status first (any blocker: not_ready). Soft factors, weighted in the rule file, give the
0-100 score; a factor that cannot be scored (no graduation date, no list yet, the NRMP curve is a gap) has its
weight shared out among the others, and every factor says whether its target is the service's own heuristic and
whether a published reference exists. The historical base rate is shown beside the score, never blended in.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

from .catalogue import discontinued_on
from .dates import months_before, years_between
from .facts import CandidateFacts, ListEntryFact, MilestoneFact, ProgramFact, UsceFact, WhatIf
from .results import POST_RANKING_STAGES, BaseMatchRate, Factor, Gate, ReadinessResult
from .road import STEP_EXAMS, CycleEval, Profile, Scan, scan, title
from .rules import CycleRules, FactorModel, RuleBook
from .screening import ListCounts, Screenee, count_entries, h1b_step3_outcome, usce_weeks

_VISA_TEXT = {"j1": "J-1", "h1b": "H-1B", "either": "J-1 or H-1B"}


def _n(count: int, noun: str) -> str:
    """ "1 program", "2 programs". """
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _clamp(x: float) -> float:
    return 0.0 if x < 0 else 1.0 if x > 1 else x


def _round_half_up(x: float) -> int:
    return int(math.floor(x + 0.5))


class _FactorDraft:
    __slots__ = ("model", "value", "value_text", "credit", "advice", "reference_available", "note")

    def __init__(self, model: FactorModel, value: float | None, value_text: str, credit: float | None, advice: str,
                 *, reference_available: bool = True, note: str | None = None) -> None:
        self.model = model
        self.value = value
        self.value_text = value_text
        self.credit = credit
        self.advice = advice
        self.reference_available = reference_available
        self.note = note


def _step2ck(ev: CycleEval, model: FactorModel) -> _FactorDraft:
    profile = ev.profile
    rules = ev.rules
    best = profile.best_score["usmle_step2ck"] if ev.states["usmle_step2ck"].done else None
    # A score is judged against the standard in force on its exam date, not today's (domain notes, section G).
    best_on = next((r.completed_on for r in profile.records.get("usmle_step2ck", ())
                    if r.status == "passed" and r.score == best and r.completed_on), None) if best else None
    current = _passing(rules, "usmle_step2ck", profile.as_of)
    passing = _passing(rules, "usmle_step2ck", best_on) if best_on else current
    specialty = profile.targets[0] if profile.targets else None
    reference = rules.readiness.step2ck_reference(specialty)
    margin = int(model.params["full_credit_margin"])
    ref_ok = reference.value is not None and reference.value > passing
    label = specialty.replace("_", " ") if specialty else "the target specialty"
    note = None
    if not ref_ok:
        note = (f"No published Step 2 CK reference for matched IMGs in {label}"
                f"{': ' + reference.provenance.note if reference.provenance.note else ''}. Scored on the margin "
                f"above the passing score ({passing}) instead; full credit at {passing + margin} (service heuristic).")
    if best is not None:
        span = (reference.value - passing) if ref_ok and reference.value is not None else margin
        credit = _clamp((best - passing) / span)
        target_score = reference.value if ref_ok else passing + margin
        standard = f" on {best_on}; {current} today" if passing != current else ""
        text = f"{best} (passing {passing}{standard}" + (f", reference {reference.value})" if ref_ok else ")")
        advice = ("Score at or above the target; keep it on every application." if credit >= 1 else
                  f"{best} is {best - passing} points above passing; programs that set a Step 2 CK minimum may "
                  f"screen it out. Target {target_score}.")
        return _FactorDraft(model, float(best), text, credit, advice, reference_available=ref_ok, note=note)
    s = ev.states["usmle_step2ck"]
    if s.done:
        return _FactorDraft(model, None, "passed; score not recorded", 0.0,
                            "Record the Step 2 CK score: programs filter on it.", reference_available=ref_ok, note=note)
    text = f"scheduled {s.scheduled_on}" if s.scheduled_on else "not passed yet"
    return _FactorDraft(model, None, text, 0.0,
                        f"Pass Step 2 CK with a margin; aim for {passing + margin}+ and have the score on the "
                        "application.", reference_available=ref_ok, note=note)


def _passing(rules: CycleRules, step: str, on: date) -> int:
    entry = rules.usmle.passing_score(step, on)
    return entry.score if entry and entry.score is not None else 0


def _first_attempt(ev: CycleEval, model: FactorModel) -> _FactorDraft:
    profile = ev.profile
    failures = {s: profile.failed[s] for s in STEP_EXAMS if profile.failed[s]}
    total = sum(failures.values())
    penalty = float(model.params["penalty_per_failure"])
    credit = _clamp(1 - penalty * total)
    if not total:
        return _FactorDraft(model, 0.0, "no failed attempts", credit, "Keep it that way: many programs screen for "
                            "first-attempt passes.")
    text = ", ".join(f"{title(s)} x{n}" for s, n in sorted(failures.items()))
    return _FactorDraft(model, float(total), f"{total} failed attempt(s): {text}", credit,
                        "Favour programs that do not require first-attempt passes; the screening lists them.")


def _years_since_graduation(ev: CycleEval, model: FactorModel, counts: ListCounts) -> _FactorDraft:
    grad = ev.profile.graduation_on
    app_on = counts.application_on
    capped = counts.excluded_by_graduation
    on_list = counts.total
    list_text = f"; {capped} of {_n(on_list, 'program')} on the list exclude it" if on_list else ""
    if grad is None:
        return _FactorDraft(model, None, "graduation date not recorded", None,
                            "Record the graduation date (past or expected).",
                            note="Not scored without a graduation date; its weight is shared among the others.")
    years = max(0.0, years_between(grad, app_on))
    credit = 0.0
    for band in model.params["bands"]:
        if years <= float(band["max_years"]):
            credit = float(band["credit"])
            break
    text = f"{years:.1f} years at application ({app_on}){list_text}"
    advice = ("Within the common 3-year cut-off." if credit >= 1 else
              "Many programs cap years since graduation; target those without a cut-off or with a longer one"
              + (f" ({capped} on your list exclude you)." if capped else "."))
    return _FactorDraft(model, round(years, 1), text, credit, advice)


def _usce(ev: CycleEval, model: FactorModel, app_on: date) -> _FactorDraft:
    profile = ev.profile
    params = model.params
    usce = tuple(u for u in profile.facts.usce if u.start_on <= app_on)
    target_weeks = int(params["target_hands_on_weeks"])
    recency_months = int(params["recency_months"])
    hands_on = usce_weeks(usce, until=app_on, hands_on_only=True)
    total = usce_weeks(usce, until=app_on)
    share = hands_on / total if total else 0.0
    since = months_before(app_on, recency_months)
    last = max((min(u.end_on, app_on) for u in usce), default=None)
    recent = last is not None and last >= since
    specialty_weeks = usce_weeks(
        (u for u in usce if u.specialty and u.specialty.casefold() in profile.targets), until=app_on
    )
    shares = [float(params[k]) for k in ("share_weeks", "share_hands_on", "share_recency", "share_specialty")]
    parts = [min(1.0, hands_on / target_weeks) if target_weeks else 1.0, share, 1.0 if recent else 0.0,
             1.0 if specialty_weeks > 0 else 0.0]
    credit = _clamp(sum(w * p for w, p in zip(shares, parts, strict=True)) / (sum(shares) or 1))
    if not usce:
        return _FactorDraft(model, 0.0, "no US clinical experience", 0.0,
                            f"Plan at least {target_weeks} weeks of hands-on USCE in the target specialty; its main "
                            "value is US letters.")
    text = (f"{hands_on:.1f} weeks hands-on of {total:.1f} ({share:.0%}); latest ended {last}; "
            f"{specialty_weeks:.1f} weeks in the target specialty")
    if hands_on < target_weeks:
        advice = (f"Add {math.ceil(target_weeks - hands_on)} weeks of hands-on USCE (electives, sub-internships, "
                  "externships).")
    elif not recent:
        advice = f"Add recent USCE: the latest should end within {recency_months} months of applying."
    elif specialty_weeks == 0:
        advice = "Add USCE in the target specialty."
    else:
        advice = "Meets the service's USCE target."
    return _FactorDraft(model, round(hands_on, 1), text, credit, advice)


def _letters(ev: CycleEval, model: FactorModel) -> _FactorDraft:
    n = ev.profile.letters
    target = int(model.params["target"])
    cap = int(model.params["max_per_program"])
    credit = _clamp(n / target) if target else 1.0
    advice = (f"Enough US letters; at most {cap} can be assigned to each program." if n >= target else
              f"Get {target - n} more US letter(s), ideally from supervisors in the target specialty.")
    return _FactorDraft(model, float(n), f"{n} US letter(s)", credit, advice)


def _program_list(model: FactorModel, summary: ListCounts) -> _FactorDraft:
    target = int(model.params["target_programs"])
    if summary.total == 0:
        return _FactorDraft(model, 0.0, "no programs on the list yet", 0.0,
                            f"Build a list of at least {target} programs whose published filters you pass.")
    remaining = summary.eligible + summary.unknown
    credit = _clamp(remaining / target) if target else 1.0
    text = (f"{_n(summary.total, 'program')}; {summary.excluded} screen you out; {remaining} remain "
            f"({summary.eligible} eligible, {summary.unknown} unknown)")
    advice = (f"Replace the {_n(summary.excluded, 'program')} that screen you out." if summary.excluded and credit < 1
              else f"Add {_n(target - remaining, 'program')} that do not screen you out." if remaining < target
              else "Enough programs that do not screen you out.")
    return _FactorDraft(model, float(remaining), text, credit, advice)


def _visa(ev: CycleEval, model: FactorModel, entries: tuple[ListEntryFact, ...], c: Screenee) -> _FactorDraft:
    need = ev.profile.facts.visa_need
    visa = _VISA_TEXT.get(need, need)
    if need == "none":
        return _FactorDraft(model, None, "no visa needed", 1.0, "No sponsorship needed.")
    if not entries:
        return _FactorDraft(model, None, f"needs {visa}; no programs on the list yet", None,
                            f"Choose programs that sponsor {visa}.",
                            note="Not scored without a list; its weight is shared among the others.")
    unknown_credit = float(model.params["unknown_credit"])
    sponsoring = unknown = pending = too_late = 0
    for entry in entries:
        p = entry.program
        flags = (p.sponsors_j1,) if need == "j1" else (p.sponsors_h1b,) if need == "h1b" else (
            p.sponsors_j1, p.sponsors_h1b)
        if any(f is True for f in flags):
            # H-1B sponsorship needs Step 3 by the program's deadline: judged as screening judges it.
            if need == "h1b" or (need == "either" and p.sponsors_j1 is not True):
                step3 = h1b_step3_outcome(c, p)
                if step3 == "pending":
                    pending += 1
                    continue
                if step3 == "fail":
                    too_late += 1
                    continue
            sponsoring += 1
        elif any(f is None for f in flags):
            unknown += 1
    share = (sponsoring + unknown_credit * (unknown + pending)) / len(entries)
    text = f"needs {visa}: {sponsoring} of {_n(len(entries), 'program')} sponsor it"
    if pending:
        text += f", {pending} only once Step 3 is passed by the program's deadline"
    if too_late:
        text += f", {too_late} not for you this cycle (Step 3 cannot be passed by the program's deadline)"
    text += f", {unknown} have not published"
    not_sponsoring = len(entries) - sponsoring - unknown - pending - too_late
    if pending or too_late:
        advice = (f"Pass Step 3 by the programs' deadline: {_n(pending + too_late, 'H-1B program')} on the list "
                  "sponsor you only with Step 3 passed" + (f" ({too_late} cannot be reached this cycle)"
                                                           if too_late else "") + "; the screening marks them.")
    elif not_sponsoring == 0 and unknown == 0:
        advice = "Every program on the list sponsors the visa."
    else:
        advice = (f"Drop the {_n(not_sponsoring, 'program')} that do not sponsor {visa}"
                  + (f" and check sponsorship with the {unknown} that have not published." if unknown else "."))
    return _FactorDraft(model, round(share, 3), text, _clamp(share), advice)


def _contiguous(ev: CycleEval, model: FactorModel, entries: tuple[ListEntryFact, ...]) -> _FactorDraft:
    ranked = sorted((e for e in entries if e.rank_position is not None),
                    key=lambda e: (e.rank_position or 0, e.program.program_id))
    preferred = ev.profile.targets[0] if ev.profile.targets else None
    if not ranked or preferred is None:
        return _FactorDraft(model, None, "no rank list yet", None, "Rank every program where you interviewed.",
                            reference_available=False, note=model.provenance.note)
    count = 0
    for e in ranked:
        if e.program.specialty.casefold() != preferred:
            break
        count += 1
    return _FactorDraft(
        model, float(count), f"{count} contiguous ranks in {preferred.replace('_', ' ')} at the top of the list",
        None, "Match probability rises with contiguous ranks in the preferred specialty; rank every program where "
        "you interviewed, in true preference order.", reference_available=False, note=model.provenance.note,
    )


def factors(ev: CycleEval, counts: ListCounts, entries: tuple[ListEntryFact, ...],
            screenee: Screenee | None = None, stage: str = "before_application_season") -> tuple[Factor, ...]:
    model = ev.rules.readiness
    screenee = screenee or Screenee(ev)
    app_on = counts.application_on
    drafts = {
        "step2ck": _step2ck(ev, model.factor("step2ck")),
        "first_attempt": _first_attempt(ev, model.factor("first_attempt")),
        "years_since_graduation": _years_since_graduation(ev, model.factor("years_since_graduation"), counts),
        "usce": _usce(ev, model.factor("usce"), app_on),
        "us_letters": _letters(ev, model.factor("us_letters")),
        "program_list": _program_list(model.factor("program_list"), counts),
        "visa_sponsorship": _visa(ev, model.factor("visa_sponsorship"), entries, screenee),
        "contiguous_ranks": _contiguous(ev, model.factor("contiguous_ranks"), entries),
    }
    if stage in POST_RANKING_STAGES:
        # Applications and ranks are settled: nothing a factor measures can change this cycle's outcome.
        gone = (f"No longer applies in the {stage.replace('_', ' ')} stage: the rank order list deadline "
                f"({ev.rules.calendar.rol_deadline.on}) has passed.")
        for d in drafts.values():
            d.credit, d.note, d.advice = None, gone, "Not scored at this stage; see stage_advice."
    total_weight = sum(d.model.weight for d in drafts.values() if d.credit is not None)
    out = []
    for f in model.factors:
        d = drafts[f.key]
        scored = d.credit is not None and total_weight > 0
        effective = f.weight * 100 / total_weight if scored else 0.0
        contribution = effective * (d.credit or 0.0)
        out.append(Factor(
            key=f.key,
            label=f.label,
            value=d.value,
            value_text=d.value_text,
            target=f.target,
            weight=f.weight,
            effective_weight=round(effective, 1),
            credit=round(d.credit, 3) if d.credit is not None else None,
            contribution=round(contribution, 1),
            advice=d.advice,
            heuristic=f.provenance.heuristic,
            reference_available=d.reference_available,
            note=d.note or f.provenance.note,
        ))
    return tuple(out)


def score_of(items: tuple[Factor, ...]) -> int:
    total_weight = sum(f.weight for f in items if f.credit is not None)
    if total_weight <= 0:
        return 0
    raw = sum(f.weight * (f.credit or 0.0) for f in items if f.credit is not None) * 100 / total_weight
    return max(0, min(100, _round_half_up(raw)))


def gates(ev: CycleEval) -> tuple[Gate, ...]:  # noqa: C901 - one gate per rule
    st = ev.states
    rules = ev.rules
    codes = {b.code for b in ev.blockers}
    facts = ev.profile.facts
    out: list[Gate] = []
    limit = rules.usmle.attempt_limit
    out.append(Gate(
        "usmle_attempt_limit", "USMLE attempt limit",
        "unmet" if "attempt_limit_reached" in codes else "met", None,
        f"{limit.value} or more unpassed attempts on any Step bar every Step (from {rules.usmle.attempt_limit_from}).",
        "attempt_limit_reached" if "attempt_limit_reached" in codes else None,
    ))
    window_ref = ev.deadline("ecfmg_exam_window")
    window_status = {"met": "met", "broken": "unmet", "pending": "pending", "open": "pending"}[ev.window]
    out.append(Gate(
        "ecfmg_exam_window", "ECFMG 7-year exam window", window_status,
        window_ref.on if window_ref and ev.window == "pending" else None,
        f"Step 1 and Step 2 CK must be passed within {rules.ecfmg.exam_window_years.value} years of the first pass.",
        "ecfmg_window_broken" if "ecfmg_window_broken" in codes else None,
    ))
    oet_codes = [c for c in ("oet_not_one_sitting", "oet_below_minimum", "oet_before_earliest_date") if c in codes]
    oet = st["oet_medicine"]
    out.append(Gate(
        "oet_requirement", "OET Medicine for this cycle's Pathway",
        "met" if oet.done else ("unmet" if oet_codes or "oet_medicine" in _late(ev) else "pending"),
        None if oet.done else oet.due_by,
        f"One sitting on or after {rules.ecfmg.oet_earliest_test_date.value} meeting the ECFMG minimum in each "
        "sub-test.",
        oet_codes[0] if oet_codes else None,
    ))
    gate_nodes = ("usmle_step1", "usmle_step2ck", "ecfmg_pathway")
    remaining = [st[c] for c in ("usmle_id_registered", "usmle_step1", "usmle_step2ck", "oet_medicine",
                                 "ecfmg_pathway") if not st[c].done]
    match_due = min((s.limits["match_gate"] for s in remaining if "match_gate" in s.limits), default=None)
    unmet = "match_requirements_not_verifiable" in codes or "pathways_unavailable" in codes
    out.append(Gate(
        "match_eligibility", "Step 1, Step 2 CK and Pathway verified before the rank order list deadline",
        "met" if all(st[c].done for c in gate_nodes) else ("unmet" if unmet else "pending"),
        match_due,
        f"NRMP does not use the rank order list of an IMG whose exam and skills requirements ECFMG cannot confirm "
        f"by {rules.calendar.rol_deadline.on}.",
        ("pathways_unavailable" if "pathways_unavailable" in codes else "match_requirements_not_verifiable")
        if unmet else None,
    ))
    rol = st["rank_order_list"]
    rol_met = rol.done or not rol.required
    out.append(Gate(
        "rank_order_list", "Registered and rank order list certified",
        "met" if rol_met else ("unmet" if "rol_deadline_passed" in codes else "pending"),
        None if rol_met else rules.calendar.rol_deadline.on,
        f"Registration (late registration included) and certification close at {rules.calendar.rol_deadline.on} "
        f"{rules.calendar.rol_deadline.time} {rules.calendar.rol_deadline.time_zone}.",
        "rol_deadline_passed" if "rol_deadline_passed" in codes else None,
    ))
    cert = st["ecfmg_certification"]
    cert_codes = [c for c in ("graduation_too_late", "certification_not_in_time") if c in codes]
    out.append(Gate(
        "ecfmg_certification", "ECFMG certification before residency starts",
        "met" if cert.done else ("unmet" if cert_codes else "pending"),
        None if cert.done else cert.due_by,
        f"Needed to start residency on {rules.calendar.residency_start.on} and for visa sponsorship.",
        cert_codes[0] if cert_codes else None,
    ))
    if facts.visa_need in ("h1b", "either"):
        s3 = st["usmle_step3"]
        h1b_unmet = "h1b_without_step3" in codes
        deadline = ev.step3_deadline.on if ev.step3_deadline else None
        out.append(Gate(
            "step3_for_h1b", "Step 3 passed for H-1B",
            "met" if s3.done else ("unmet" if h1b_unmet or (facts.visa_need == "either" and "usmle_step3" in
                                                             _late_any(ev)) else "pending"),
            None if s3.done else (s3.due_by or deadline),
            "H-1B residency needs all three Steps passed by the programs' deadline"
            + ("; without it only J-1 programs remain." if facts.visa_need == "either" else "."),
            "h1b_without_step3" if h1b_unmet else None,
        ))
    if ev.profile.records.get("usmle_step3"):
        out.append(Gate(
            "step3_eligibility", "Step 3 taken after graduation and ECFMG certification",
            "unmet" if ev.step3_invalid else "met", None,
            "FSMB admits IMGs to Step 3 only after graduation and ECFMG certification.",
            "step3_before_ecfmg_certification" if ev.step3_invalid else None,
        ))
    if ev.profile.records.get("usmle_step2cs"):
        out.append(Gate(
            "step2cs_discontinued", "No Step 2 CS attempt after its discontinuation",
            "unmet" if ev.cs_blocked else "met", None,
            f"Step 2 CS ended on {discontinued_on('usmle_step2cs')}; a Pathway with OET Medicine meets the "
            "clinical-skills requirement.",
            "step2cs_after_discontinuation" if ev.cs_blocked else None,
        ))
    if ev.unmatched or ev.matched:
        closed = "cycle_closed_unmatched" in codes or "not_soap_eligible" in codes
        out.append(Gate(
            "match_outcome", "Matched (Main Match or SOAP)",
            "met" if ev.matched else ("unmet" if closed else "pending"),
            None if ev.matched else rules.calendar.soap_end.on,
            "Unmatched applicants can still match through SOAP during Match Week.",
            next((c for c in ("not_soap_eligible", "cycle_closed_unmatched") if c in codes), None),
        ))
    return tuple(out)


def _late(ev: CycleEval) -> set[str]:
    return {s.code for s in ev.states.values() if s.required and s.late}


def _late_any(ev: CycleEval) -> set[str]:
    return {s.code for s in ev.states.values() if s.late}


def base_rate(rules: CycleRules, facts: CandidateFacts) -> BaseMatchRate:
    rate = rules.match_rate
    us_img = facts.us_status == "citizen"
    used = (f"rates of the {rate.year} Match, the latest published by applicant type in the {rules.year} rule set")
    note = used + (f"; {rate.provenance.note}" if rate.provenance.note else "")
    if facts.us_status == "permanent_resident":
        note = note + "; " + ("permanent residents count as non-US IMGs in NRMP data, although "
                                                "they need no visa")
    return BaseMatchRate(
        rate=rate.us_img if us_img else rate.non_us_img,
        year=rate.year,
        applicant_type="us_img" if us_img else "non_us_img",
        population=rate.population,
        source=rate.provenance.source,
        note=note,
    )


_READY_GATES = ("usmle_attempt_limit", "ecfmg_exam_window", "oet_requirement", "match_eligibility", "step3_for_h1b")


def stage_of(ev: CycleEval) -> str:
    """Where the candidate is on the road for this cycle, from the recorded outcome and the calendar."""
    cal, as_of = ev.rules.calendar, ev.profile.as_of
    if ev.started or (ev.matched and as_of >= cal.residency_start.on):
        return "in_residency"
    if ev.matched:
        return "matched"
    if ev.unmatched and (as_of > cal.soap_end.on or ev.soap_known):
        return "unmatched"
    if ev.unmatched or as_of > cal.rol_deadline.on:
        return "match_week"
    if as_of >= cal.eras_program_review_open.on:
        return "interviews_and_ranking"
    if as_of >= cal.eras_open.on:
        return "application_season"
    return "before_application_season"


# The gates that make a post-ranking stage complete ("ready"); the score then is the share of them met.
_STAGE_GATES = {
    "match_week": ("match_eligibility", "rank_order_list", "match_outcome"),
    "matched": ("ecfmg_certification", "step3_for_h1b"),
    "unmatched": ("match_outcome",),
    "in_residency": ("step3_for_h1b",),
}


def stage_checklist(ev: CycleEval, stage: str, gate_list: tuple[Gate, ...]) -> tuple[bool, ...]:
    """Done or not, for each item the post-ranking stage needs (empty before the rank order list deadline)."""
    if stage not in POST_RANKING_STAGES:
        return ()
    wanted = _STAGE_GATES[stage]
    items = [g.status == "met" for g in gate_list if g.code in wanted and not (
        g.code == "step3_for_h1b" and ev.profile.facts.visa_need != "h1b")]
    visa = ev.states["visa"]
    if stage == "matched" and visa.applicable:
        items.append(visa.done)
    return tuple(items)


def stage_advice(ev: CycleEval, stage: str, earliest: int | None) -> str:
    rules, facts = ev.rules, ev.profile.facts
    cal = rules.calendar
    rol = cal.rol_deadline
    if stage == "before_application_season":
        return (f"Early stage: the ERAS season for the {rules.year} Match opens on {cal.eras_open.on}. Now is the "
                "time for the USMLE/ECFMG ID, Step 1, Step 2 CK, OET and hands-on USCE; a low checklist score is "
                "expected this early and rises as steps are recorded.")
    if stage == "application_season":
        return (f"Application season: submit ERAS from {cal.eras_submit_open.on} (programs review from "
                f"{cal.eras_program_review_open.on}) and register with NRMP by "
                f"{cal.nrmp_standard_reg_deadline.on}.")
    if stage == "interviews_and_ranking":
        return (f"Interviews and ranking: rank every program where you interviewed, in true preference order, and "
                f"certify the rank order list by {rol.on} {rol.time} {rol.time_zone}.")
    if stage == "match_week":
        soap = cal.soap_end
        close = f" {soap.time} {soap.time_zone}" if soap.time else ""
        return (f"Match Week: match status on {cal.match_week_start.on}; unmatched applicants apply through SOAP "
                f"until {soap.on}{close}; Match Day is {cal.match_day.on}.")
    if stage == "matched":
        st = ev.states
        parts = [] if st["ecfmg_certification"].done else ["ECFMG certification"]
        if facts.visa_need == "h1b" and not st["usmle_step3"].done:
            parts.append("Step 3 (for the H-1B petition)")
        if st["visa"].applicable and not st["visa"].done:
            parts.append({"j1": "the J-1 visa through ECFMG", "h1b": "the H-1B visa through the program"}.get(
                facts.visa_need, "the visa the program sponsors (J-1 through ECFMG, or H-1B with Step 3)"))
        if not parts:
            return f"Matched: everything needed before residency is done; residency starts on {cal.residency_start.on}."
        return f"Matched: before residency starts on {cal.residency_start.on}, complete {', '.join(parts)}."
    if stage == "unmatched":
        nxt = f"the {earliest} cycle" if earliest else "a later cycle"
        return (f"Unmatched after SOAP in the {rules.year} Match: plan {nxt}; strengthen the application and the "
                "program list before the next ERAS season.")
    return ("In residency: pass Step 3 (state licensure needs it, often within a time limit) and plan fellowship "
            "applications if you intend one.")


def readiness_status(ev: CycleEval, gate_list: tuple[Gate, ...], score: int,
                     stage: str = "before_application_season") -> str:
    """One meaning per status (written into the OpenAPI description of `status`):
    not_ready: a hard blocker; at_risk: a required step is past or within due_soon_days of its latest safe date,
    or the score is below on_track_threshold within competitiveness_window_days of ERAS submission; on_track:
    every remaining step fits; ready: everything this stage needs is done."""
    model = ev.rules.readiness
    if ev.blockers:
        return "not_ready"
    pending = [s for s in ev.states.values() if s.required and s.applicable and not s.done]
    urgent = any(s.severity in ("due_soon", "overdue", "blocks_cycle") for s in pending)
    behind = any(s.severity in ("overdue", "blocks_cycle") for s in pending)
    if stage in POST_RANKING_STAGES:
        checklist = stage_checklist(ev, stage, gate_list)
        if ev.unmatched:
            return "at_risk"
        if all(checklist) and not behind:
            return "ready"
        return "at_risk" if urgent else "on_track"
    ready_gates = all(
        g.status == "met" for g in gate_list
        if g.code in _READY_GATES and not (g.code == "step3_for_h1b" and ev.profile.facts.visa_need == "either")
    )
    if urgent:
        return "at_risk"
    if ready_gates and score >= model.ready_threshold:
        return "ready"
    submit_on = ev.rules.calendar.eras_submit_open.on
    close = (submit_on - ev.profile.as_of).days <= model.competitiveness_window_days
    return "at_risk" if close and score < model.on_track_threshold else "on_track"


def _assess(facts: CandidateFacts, book: RuleBook, cycle: int, as_of: date) -> ReadinessResult:
    return assess_scan(scan(Profile(facts, as_of, cycle), book, cycle), cycle, as_of)


def assess_scan(sc: Scan, cycle: int, as_of: date) -> ReadinessResult:
    ev = sc.requested
    profile = ev.profile
    facts = profile.facts
    screenee = Screenee(ev)
    stage = stage_of(ev)
    items = factors(ev, count_entries(ev, profile.active_entries, screenee), profile.active_entries, screenee, stage)
    gate_list = gates(ev)
    checklist = stage_checklist(ev, stage, gate_list)
    # After ranking the score is the share of the stage's checklist done; before, the weighted factors.
    if stage in POST_RANKING_STAGES:
        score = _round_half_up(100 * sum(checklist) / len(checklist)) if checklist else 100
    else:
        score = score_of(items)
    rules = ev.rules
    return ReadinessResult(
        cycle=cycle,
        as_of=as_of,
        rules_version=rules.rules_version,
        rules_source=rules.source,
        model_version=rules.model_version,
        status=readiness_status(ev, gate_list, score, stage),
        score=score,
        earliest_feasible_cycle=sc.earliest,
        deciding_gate=sc.deciding,
        gates=gate_list,
        factors=items,
        blockers=ev.sorted_blockers(),
        base_match_rate=base_rate(rules, facts),
        stage=stage,
        stage_advice=stage_advice(ev, stage, sc.earliest),
    )


def apply_what_if(facts: CandidateFacts, what_if: WhatIf, rules: CycleRules, as_of: date) -> CandidateFacts:
    """A copy of the facts with the hypothetical changes applied."""
    specialty = facts.target_specialties[0] if facts.target_specialties else None
    usce = facts.usce
    milestones = facts.milestones
    entries = facts.entries
    if what_if.extra_usce_weeks_hands_on > 0:
        start = as_of - timedelta(days=7 * what_if.extra_usce_weeks_hands_on - 1)
        usce = (*usce, UsceFact("externship", True, specialty, start, as_of, False))
    if what_if.step2ck_score is not None:
        passing_entry = rules.usmle.passing_score("usmle_step2ck", as_of)
        passing = passing_entry.score if passing_entry and passing_entry.score is not None else 0
        status = "passed" if what_if.step2ck_score >= passing else "failed"
        kept = tuple(m for m in milestones if not (m.code == "usmle_step2ck" and m.status != "failed"))
        milestones = (*kept, MilestoneFact("usmle_step2ck", status, completed_on=as_of, score=what_if.step2ck_score))
    if what_if.extra_programs > 0:
        need = facts.visa_need
        extra = tuple(
            ListEntryFact(
                program=ProgramFact(
                    program_id=f"what-if-{i:03d}",
                    name=f"Additional program {i}",
                    specialty=specialty or "unspecified",
                    track="categorical",
                    sponsors_j1=True if need in ("j1", "either") else None,
                    sponsors_h1b=True if need == "h1b" else None,
                ),
                status="what_if",
                signal=None,
                rank_position=None,
            )
            for i in range(1, what_if.extra_programs + 1)
        )
        entries = (*entries, *extra)
    return replace(
        facts,
        usce=usce,
        milestones=milestones,
        entries=entries,
        other_us_letters=facts.other_us_letters + max(0, what_if.extra_us_letters),
    )


def readiness(
    facts: CandidateFacts, book: RuleBook, cycle: int, as_of: date, what_if: WhatIf | None = None
) -> ReadinessResult:
    """Readiness for the given Match cycle; with a what-if, also the baseline score and the delta."""
    baseline = _assess(facts, book, cycle, as_of)
    if what_if is None:
        return baseline
    changed = _assess(apply_what_if(facts, what_if, book.cycle(cycle), as_of), book, cycle, as_of)
    return replace(
        changed,
        what_if=what_if,
        baseline_score=baseline.score,
        baseline_status=baseline.status,
        delta=changed.score - baseline.score,
    )
