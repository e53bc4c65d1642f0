"""Timeline (latest safe dates, sorted) and its iCalendar export (RFC 5545)."""

from __future__ import annotations

import re
from datetime import date

from app.pathway import next_step, timeline, to_icalendar

from .test_pathway_situations import AS_OF, BOOK, facts

STUDENT = facts(grad=date(2029, 6, 30), year=2030)


def test_remaining_steps_at_latest_safe_dates_sorted() -> None:
    result = timeline(STUDENT, BOOK, 2030, AS_OF)
    keys = [(i.on, i.code, i.kind) for i in result.items]
    assert keys == sorted(keys)
    steps = {i.code: i for i in result.items if i.kind == "step"}
    # Backwards from the 2030 ROL deadline (2030-02-27): verification 14, score 28 -> Step 1 by 2030-01-16;
    # Pathway 56 -> 2029-12-19; OET 14 -> 2029-12-05; ID registration 42 -> 2029-10-24.
    assert steps["usmle_step1"].on == date(2030, 1, 16)
    assert steps["ecfmg_pathway"].on == date(2029, 12, 19)
    assert steps["oet_medicine"].on == date(2029, 12, 5)
    assert steps["usmle_id_registered"].on == date(2029, 10, 24)
    assert steps["usmle_step1"].deadline is not None and steps["usmle_step1"].deadline.name == "rol_deadline"
    assert steps["usmle_step1"].lead_days == 28 and steps["usmle_step1"].estimated
    assert "specialty_decided" not in steps  # done: target specialties are set
    assert result.cycle_reachable and result.rules_version == "2030.1"
    # The next step's due date is the first step on the timeline.
    first_step = next(i for i in result.items if i.kind == "step" and i.code == "usmle_id_registered")
    nxt = next_step(STUDENT, BOOK, 2030, AS_OF).next_step
    assert nxt is not None and nxt.due_by == first_step.on


def test_cycle_deadlines_from_as_of_on() -> None:
    result = timeline(STUDENT, BOOK, 2030, AS_OF)
    deadlines = {i.code: i for i in result.items if i.kind == "deadline"}
    assert deadlines["rol_deadline"].on == date(2030, 2, 27)
    assert "21:00 America/New_York" in (deadlines["rol_deadline"].note or "")
    assert deadlines["match_day"].on == date(2030, 3, 15) and deadlines["match_day"].estimated
    late = timeline(STUDENT, BOOK, 2030, date(2030, 3, 1))
    assert "rol_deadline" not in {i.code for i in late.items if i.kind == "deadline"}


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_icalendar_is_valid_rfc5545() -> None:
    label = "Dr. Ana Ñúñez-García; cohort 2030, internal medicine — a deliberately long label to force folding"
    result = timeline(STUDENT, BOOK, 2030, AS_OF)
    ics = to_icalendar(result, label)
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
    assert ics.endswith("END:VCALENDAR\r\n")
    assert "\n" not in ics.replace("\r\n", "")  # CRLF only
    physical = ics.split("\r\n")[:-1]
    assert all(len(line.encode("utf-8")) <= 75 for line in physical)
    assert any(line.startswith(" ") for line in physical)  # something was folded
    lines = _unfold(ics)[:-1]
    assert lines.count("BEGIN:VEVENT") == lines.count("END:VEVENT") == len(result.items)
    uids = [line for line in lines if line.startswith("UID:")]
    assert len(set(uids)) == len(uids) == len(result.items)
    assert all(re.fullmatch(r"UID:[0-9a-f]{16}-2030-(step|deadline)-[a-z0-9_]+@matchready", u) for u in uids)
    assert "Ñúñez" not in "".join(uids)  # the label is hashed, not exposed in UIDs
    assert {line for line in lines if line.startswith("DTSTAMP:")} == {"DTSTAMP:20261125T000000Z"}
    starts = [line for line in lines if line.startswith("DTSTART")]
    assert all(re.fullmatch(r"DTSTART;VALUE=DATE:\d{8}", s) for s in starts)
    assert "X-WR-CALNAME:Dr. Ana Ñúñez-García\\; cohort 2030\\, internal medicine" in "".join(lines)
    for line in lines:
        if line.startswith(("SUMMARY:", "DESCRIPTION:")):
            assert re.search(r"(?<!\\)[;,]", line.split(":", 1)[1]) is None  # TEXT escaped


def test_icalendar_is_stable() -> None:
    result = timeline(STUDENT, BOOK, 2030, AS_OF)
    assert to_icalendar(result, "candidate-1") == to_icalendar(timeline(STUDENT, BOOK, 2030, AS_OF), "candidate-1")
    a = [line for line in to_icalendar(result, "candidate-1").split("\r\n") if line.startswith("UID:")]
    b = [line for line in to_icalendar(result, "candidate-2").split("\r\n") if line.startswith("UID:")]
    assert set(a).isdisjoint(b)
    later = timeline(STUDENT, BOOK, 2030, date(2026, 12, 1))
    shared = {line for line in to_icalendar(later, "candidate-1").split("\r\n") if line.startswith("UID:")}
    assert shared <= set(a)  # the same step keeps its UID as the days pass
