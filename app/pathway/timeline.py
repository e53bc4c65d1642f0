"""Timeline: every remaining step at its latest safe date, with the cycle's own deadlines, and an iCalendar
export of it (RFC 5545: all-day events, CRLF, lines folded at 75 octets, stable UIDs, DTSTAMP from as_of).

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from .facts import CandidateFacts
from .next_step import due_and_deadline, lead_days, why
from .results import TimelineItem, TimelineResult
from .road import NODES, Profile, evaluate, title
from .rules import RuleBook

CALENDAR_LABELS = {
    "eras_open": "ERAS season opens",
    "eras_submit_open": "ERAS: applicants may submit",
    "eras_program_review_open": "ERAS: programs start reviewing applications",
    "nrmp_registration_open": "NRMP registration opens",
    "nrmp_standard_reg_deadline": "NRMP standard registration deadline",
    "ranking_open": "NRMP ranking opens",
    "rol_deadline": "Rank order list certification deadline",
    "match_week_start": "Match Week starts",
    "soap_start": "SOAP starts",
    "soap_end": "SOAP ends",
    "match_day": "Match Day",
    "match_week_end": "Match Week ends",
    "eras_season_end": "ERAS season ends",
    "residency_start": "Residency starts",
}


def timeline(facts: CandidateFacts, book: RuleBook, cycle: int, as_of: date) -> TimelineResult:
    """Remaining steps at their latest safe dates and the cycle's deadlines from as_of on, by date then code."""
    rules = book.cycle(cycle)
    ev = evaluate(Profile(facts, as_of, cycle), rules)
    items: list[TimelineItem] = []
    for node in NODES:
        s = ev.states[node.code]
        if s.done or not s.applicable:
            continue
        due, deadline = due_and_deadline(ev, s)
        if due is None:
            continue
        note = why(node.code, ev)
        if s.scheduled_on:
            note = f"{s.status.replace('_', ' ')} {s.scheduled_on}. {note}"
        if s.earliest_start is not None and s.earliest_start > due:
            # Never propose an attempt the retake spacing forbids: the step sits at its first allowed day.
            note = (f"Next attempt allowed from {s.earliest_start} (retake spacing), after the latest safe date "
                    f"{due}: this cycle cannot be reached with it. {note}")
            due = s.earliest_start
        items.append(TimelineItem(
            on=due,
            code=node.code,
            title=title(node.code),
            kind="step",
            deadline=deadline,
            lead_days=lead_days(ev, node.code),
            severity=s.severity,
            estimated=deadline.estimated if deadline else False,
            note=note,
        ))
    for item in rules.calendar.items():
        if item.on < as_of:
            continue
        when = f"{item.time} {item.time_zone}" if item.time else None
        pieces = [p for p in (when, "estimated: " + (item.provenance.pattern or "from the usual pattern")
                              if item.provenance.estimated else None) if p]
        items.append(TimelineItem(
            on=item.on,
            code=item.name,
            title=CALENDAR_LABELS.get(item.name, item.name),
            kind="deadline",
            deadline=None,
            lead_days=0,
            severity=None,
            estimated=item.provenance.estimated,
            note="; ".join(pieces) or None,
        ))
    items.sort(key=lambda i: (i.on, i.code, i.kind))
    return TimelineResult(cycle, as_of, rules.rules_version, rules.source, ev.reachable, tuple(items))


def _escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (RFC 5545 section 3.1)."""
    if len(line.encode("utf-8")) <= 75:
        return line
    parts: list[str] = []
    current: list[str] = []
    size, limit = 0, 75
    for ch in line:
        width = len(ch.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            current, size, limit = [], 0, 74  # continuation lines begin with one space
        current.append(ch)
        size += width
    parts.append("".join(current))
    return "\r\n ".join(parts)


def to_icalendar(result: TimelineResult, candidate_label: str) -> str:
    """The timeline as an RFC 5545 VCALENDAR of all-day events; the same input gives the same bytes."""
    stamp = f"{result.as_of:%Y%m%d}T000000Z"
    owner = hashlib.sha256(candidate_label.encode("utf-8")).hexdigest()[:16]
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//MatchReady//Pathway timeline//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(f'{candidate_label}: {result.cycle} Match timeline')}",
    ]
    for item in result.items:
        if item.kind == "step":
            summary = f"Latest safe date: {item.title}"
            detail = [item.note or ""]
            if item.deadline:
                detail.append(f"Derived from {item.deadline.name} ({item.deadline.on}).")
            if item.severity:
                detail.append(f"Status: {item.severity.replace('_', ' ')}.")
        else:
            summary = item.title
            detail = [item.note or ""]
        detail.append(f"Rules {result.rules_version}; computed as of {result.as_of}.")
        detail = [d if d.endswith(".") else d + "." for d in detail if d]
        lines += [
            "BEGIN:VEVENT",
            f"UID:{owner}-{result.cycle}-{item.kind}-{item.code}@matchready",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{item.on:%Y%m%d}",
            f"DTEND;VALUE=DATE:{item.on + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_escape(summary)}",
            f"DESCRIPTION:{_escape(' '.join(detail))}",
            f"CATEGORIES:{'STEP' if item.kind == 'step' else 'DEADLINE'}",
            "TRANSP:TRANSPARENT",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)
