"""The messages of an evaluation: warnings (advice, data that looks inconsistent, dated and sourced policy) and the
text of the blockers raised when a step misses a deadline. Nothing here decides whether a step is late.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from .graph import ANCHOR_BLOCKER, ROAD_INDEX, title
from .results import Blocker, Notice

if TYPE_CHECKING:
    from .road import CycleEval, NodeState


WEEKEND_DEADLINES = (  # deadline, the step it closes, who sets it
    ("eras_program_review_open", "eras_application", "eras"),
    ("nrmp_standard_reg_deadline", "nrmp_registration", "nrmp"),
    ("rol_deadline", "rank_order_list", "nrmp"),
    ("soap_end", "soap", "nrmp"),
)


def _weekend_deadlines(ev: CycleEval) -> None:
    """A deadline still ahead of the candidate that falls on a Saturday or Sunday, and what the rules say of it."""
    rules, st, as_of = ev.rules, ev.states, ev.profile.as_of
    policy = rules.nrmp.weekend_deadlines
    pathway_deadline = rules.ecfmg.pathways_application_deadline.value
    for key, code, owner in WEEKEND_DEADLINES:
        item, s = getattr(rules.calendar, key), st[code]
        if item.on < as_of or item.on.weekday() < 5 or s.done or not s.applicable or not s.required:
            continue
        day = "Saturday" if item.on.weekday() == 5 else "Sunday"
        friday = item.on - timedelta(days=item.on.weekday() - 4)
        # The weekend policy in the rules is the NRMP's; the AAMC sets the ERAS dates and no source on whether
        # they move was found, so an ERAS date on a weekend is always reported as a gap.
        if owner != "nrmp" or policy.value is None:
            how = (("the AAMC sets this date, and " if owner != "nrmp" else "") + "the sources consulted do not say "
                   f"whether it moves to a weekday (a gap in the rules): treat {item.on} as the deadline and act by "
                   f"{friday}, the Friday before")
        elif policy.value == "as_published":
            how = f"it does not move ({policy.provenance.source}); act by {friday} to be safe"
        else:
            how = f"it moves to the {policy.value.replace('_', ' ')} ({policy.provenance.source})"
        ev.warnings.append(Notice(
            "deadline_on_weekend",
            f"The {item.name.replace('_', ' ')} ({item.on}{' ' + item.time if item.time else ''}) falls on a {day}; "
            f"{how}.",
            code,
        ))
    if pathway_deadline and pathway_deadline >= as_of and pathway_deadline.weekday() >= 5 and not (
        st["ecfmg_pathway"].done
    ):
        ev.warnings.append(Notice(
            "deadline_on_weekend",
            f"The Pathways application deadline ({pathway_deadline}) falls on a weekend; act by the Friday before.",
            "ecfmg_pathway",
        ))


def notices(ev: CycleEval) -> None:
    """Warnings: advice and data that looks inconsistent; none of them blocks anything."""
    rules, st, profile = ev.rules, ev.states, ev.profile
    facts, visa_need = profile.facts, profile.facts.visa_need
    _weekend_deadlines(ev)
    s3 = st["usmle_step3"]
    if visa_need == "either" and s3.applicable and not s3.done and ev.step3_deadline is not None:
        ev.warnings.append(Notice(
            "h1b_needs_step3",
            f"H-1B sponsorship needs Step 3 passed by {ev.step3_deadline.on}; without it, programs will consider "
            "you for J-1 only.",
            "usmle_step3",
        ))
    payment = rules.h1b_payment
    if payment is not None and visa_need in ("h1b", "either") and facts.us_status == "none":
        expired = profile.as_of > payment.expires_on
        ev.warnings.append(Notice(
            "h1b_payment_abroad",
            f"H-1B for applicants abroad: a presidential proclamation requires a USD {payment.amount_usd:,} "
            f"payment on new H-1B petitions filed from {payment.effective_from} for beneficiaries outside the US "
            "without a valid H-1B visa (not for extensions or changes of status inside the US), so programs may "
            f"offer J-1 only. It was set to expire on {payment.expires_on} unless extended"
            + ("; that date has passed and no extension was found: verify before relying on either." if expired
               else "; verify before relying on it.")
            + f" Sources: {payment.provenance.source}",
            "visa",
        ))
    if profile.graduation_on is None:
        ev.warnings.append(Notice(
            "graduation_date_missing",
            "No graduation date: credential verification and Step 3 timing are computed as if already graduated.",
        ))
    if facts.us_status in ("citizen", "permanent_resident") and visa_need != "none":
        ev.warnings.append(Notice(
            "visa_need_inconsistent",
            f"A {facts.us_status.replace('_', ' ')} needs no visa for residency, but the visa need is "
            f"'{visa_need}'.",
            "visa",
        ))
    elif facts.us_status == "none" and visa_need == "none":
        ev.warnings.append(Notice(
            "visa_need_inconsistent",
            "Neither a US citizen nor a permanent resident, but no visa need is recorded: residency needs a J-1 "
            "or H-1B unless another status allows work.",
            "visa",
        ))
    pass_fail_from = rules.usmle.step1_pass_fail_from.value  # never a gap (rule_files.Usmle)
    for r in profile.records.get("usmle_step1", ()):
        if r.score is not None and r.completed_on and pass_fail_from and r.completed_on >= pass_fail_from:
            ev.warnings.append(Notice(
                "step1_score_not_reported",
                f"Step 1 on {r.completed_on} is reported pass/fail only (from {pass_fail_from}); the recorded "
                "score is ignored.",
                "usmle_step1",
            ))
            break
    ranked = sum(1 for e in profile.active_entries if e.rank_position is not None)
    max_ranks = rules.nrmp.rol_max_ranks.value
    if max_ranks is not None and ranked > max_ranks:
        ev.warnings.append(Notice(
            "rank_list_over_limit",
            f"{ranked} programs are ranked; a rank order list holds at most {max_ranks} ranks.",
            "rank_order_list",
        ))


def lateness_blocker(ev: CycleEval, key: str, nodes: list[NodeState]) -> Blocker:
    as_of = ev.profile.as_of
    rules = ev.rules
    nodes = sorted(nodes, key=lambda s: ROAD_INDEX[s.code])
    codes = tuple(s.code for s in nodes)
    names = ", ".join(title(c) for c in codes)
    if key.startswith("graduation:"):
        anchor = key.split(":", 1)[1]
        grad = ev.profile.graduation_on
        if anchor == "step3_deadline":
            ref = ev.step3_deadline
            return Blocker(
                "h1b_without_step3",
                f"Graduation on {grad} is too late to be ECFMG-certified and pass Step 3 by the H-1B Step 3 "
                f"deadline ({ref.on if ref else '?'}); H-1B programs will not be open this cycle.",
                "usmle_step3", codes, False, None, ev.profile.facts.visa_need == "h1b",
            )
        return Blocker(
            "graduation_too_late",
            f"Graduation on {grad} leaves too little time to verify the final diploma and transcript and be "
            f"ECFMG-certified before residency starts ({rules.calendar.residency_start.on}).",
            codes[0], codes, False, None, True,
        )
    limit_key = "residency_start" if key == "visa" else key
    limits = [s.limits[limit_key] for s in nodes]
    # Lost when the date has passed, or when no attempt is allowed before it (rebooking cannot help).
    lost = any(as_of > s.limits[limit_key] or (s.earliest_start is not None and s.earliest_start > s.limits[limit_key])
               for s in nodes)
    resolvable_by = None if lost else min(limits)
    parts = []
    for s in nodes:
        when = f"scheduled {s.eff_start}" if s.eff_start else "not done"
        if s.earliest_start is not None:
            when += f", next attempt allowed from {s.earliest_start} (retake spacing)"
        parts.append(f"{title(s.code)} ({when}; latest safe date {s.limits[limit_key]})")
    plan = "; ".join(parts)
    ref = ev.anchors.get(key)
    code = ANCHOR_BLOCKER[key]
    if key == "match_gate" or key == "pathways_application_deadline":
        rol = rules.calendar.rol_deadline
        detail = (f"{names} cannot be verified by ECFMG before the rank order list deadline ({rol.on} {rol.time} "
                  f"{rol.time_zone}, less {rules.lead_times.days('verification_buffer')} days for verification): "
                  f"{plan}. NRMP would not use the rank order list")
        detail += (f"; reschedule by {resolvable_by}." if resolvable_by else
                   f"; plan for the {rules.year + 1} cycle.")
    elif key == "ecfmg_exam_window":
        detail = (f"{plan}: the ECFMG {rules.ecfmg.exam_window_years.value}-year window closes on "
                  f"{ref.on if ref else '?'}; after that the earlier pass no longer counts.")
    elif key == "step3_deadline":
        detail = (f"H-1B needs Step 3 passed by {ref.on if ref else '?'} (programs' deadline), and Step 3 needs "
                  f"ECFMG certification and up to {rules.lead_times.days('step3_graduation_verification')} days of "
                  f"graduation verification first: {plan}.")
    elif key == "rol_deadline":
        rol = rules.calendar.rol_deadline
        detail = (f"The rank order list deadline ({rol.on} {rol.time} {rol.time_zone}) is missed: {plan}. "
                  "This cycle's Main Match is closed to the candidate.")
    elif key == "soap_end":
        detail = f"SOAP closes on {rules.calendar.soap_end.on}: {plan}."
    elif key == "visa":
        detail = (f"The visa is unlikely before residency starts ({rules.calendar.residency_start.on}), allowing "
                  f"{rules.lead_times.days('visa_processing')} days: {plan}. Tell the program now.")
    else:
        detail = (f"ECFMG certification cannot be completed before residency starts "
                  f"({rules.calendar.residency_start.on}): {plan}.")
    # A late visa delays the start but does not undo the match; Step 3 matters only to an H-1B-only candidate.
    blocks = resolvable_by is None and key != "visa" and not (
        key == "step3_deadline" and ev.profile.facts.visa_need != "h1b"
    )
    return Blocker(code, detail, codes[0], codes, False, resolvable_by, blocks)


