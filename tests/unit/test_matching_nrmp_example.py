"""The NRMP's own worked example ("Run A Match"), run through the engine.

Source: NRMP, "Run A Match" (nrmp.org/wp-content/uploads/2014/05/Run-A-Match.pdf), the example behind
the NRMP's "How the Matching Algorithm Works" page. The rank order lists below were taken from a
verbatim quotation of that PDF (a public forum post quoting it in full, columns flattened) and
cross-checked against an independent copy with renamed people in the README of the Ruby gem
`matchy_matchy` (its applicant lists and City/General lists are identical; its Mercy list differs,
see the second test). Five applicants, three programs, two positions each:

    Applicants                                Programs
    Anderson: City                            Mercy:   Chen, Ford
    Chen:     City, Mercy                     City:    Eastman, Anderson, Chen, Davis, Ford
    Ford:     City, General, Mercy            General: Eastman, Anderson, Ford, Davis
    Davis:    Mercy, City, General
    Eastman:  City, Mercy, General

Worked by hand (applicant-proposing, applicants in the order above):
  1. Anderson -> City: City holds Anderson.
  2. Chen -> City: City holds Anderson, Chen (full).
  3. Ford -> City: City prefers Anderson (#2) and Chen (#3) to Ford (#5): rejected.
     Ford -> General: held.
  4. Davis -> Mercy: Mercy did not rank Davis: rejected. Davis -> City: City prefers Anderson and
     Chen to Davis (#4): rejected. Davis -> General: held (General full: Ford, Davis).
  5. Eastman -> City: City prefers Eastman (#1) to Chen (#3): Chen displaced, City holds Eastman,
     Anderson. Chen -> Mercy: held.
  Result: Anderson - City, Chen - Mercy, Ford - General, Davis - General, Eastman - City;
  Mercy has one unfilled position.

This is the outcome the NRMP example presents as far as we can recall it; the paragraph of the PDF
that states the outcome could not be retrieved, so the assertion rests on the hand calculation
above (and on the stability check). A remembered variant of this example with a fourth program
(State) and "Anderson unmatched" cannot be right with these lists: City ranks Anderson second and
only Eastman above him, so no stable matching leaves Anderson unmatched.
"""

from __future__ import annotations

from typing import Any

from app.matching import parse_instance, run_from_dict, run_match

APPLICANTS = {
    "Anderson": ["City"],
    "Chen": ["City", "Mercy"],
    "Ford": ["City", "General", "Mercy"],
    "Davis": ["Mercy", "City", "General"],
    "Eastman": ["City", "Mercy", "General"],
}
PROGRAMS = {
    "Mercy": ["Chen", "Ford"],
    "City": ["Eastman", "Anderson", "Chen", "Davis", "Ford"],
    "General": ["Eastman", "Anderson", "Ford", "Davis"],
}


def _data(programs: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "programs": [{"id": p, "positions": 2, "rank_order_list": lst} for p, lst in programs.items()],
        "applicants": [{"id": a, "rank_order_list": lst} for a, lst in APPLICANTS.items()],
    }


def test_nrmp_run_a_match_outcome() -> None:
    out = run_from_dict(_data(PROGRAMS))
    assert out["status"] == "complete"
    assert out["assignments"] == {
        "Anderson": "City",
        "Chen": "Mercy",
        "Ford": "General",
        "Davis": "General",
        "Eastman": "City",
    }
    assert list(out["assignments"]) == list(APPLICANTS)  # input order
    programs = {p["id"]: p for p in out["programs"]}
    assert programs["Mercy"]["matched"] == ["Chen"] and programs["Mercy"]["unfilled"] == 1
    # Matched applicants are listed in the program's order of preference.
    assert programs["City"]["matched"] == ["Eastman", "Anderson"] and programs["City"]["unfilled"] == 0
    assert programs["General"]["matched"] == ["Ford", "Davis"] and programs["General"]["unfilled"] == 0
    assert out["counts"] == {
        "applicants": 5,
        "matched": 5,
        "unmatched": 0,
        "programs": 3,
        "positions": 6,
        "filled": 5,
        "unfilled": 1,
        "couples": 0,
        "couples_matched": 0,
    }
    assert out["stability"]["stable"] is True
    assert out["stability"]["blocking_pairs"] == []
    # 9 applications: Anderson 1, Chen 2, Ford 2, Davis 3, Eastman 1; 3 rejections, 1 displacement.
    assert out["work"]["proposals"] == 9
    assert out["work"]["rejections"] == 3
    assert out["work"]["displacements"] == 1


def test_matchy_matchy_copy_with_its_published_result() -> None:
    """The same example as printed in the `matchy_matchy` README (people renamed there), whose Mercy
    list reads Eastman, Ford. Its documented result: Chen's counterpart unmatched, Mercy empty."""
    programs = dict(PROGRAMS, Mercy=["Eastman", "Ford"])
    out = run_from_dict(_data(programs))
    assert out["assignments"] == {
        "Anderson": "City",
        "Chen": None,
        "Ford": "General",
        "Davis": "General",
        "Eastman": "City",
    }
    mercy = next(p for p in out["programs"] if p["id"] == "Mercy")
    assert mercy["matched"] == [] and mercy["unfilled"] == 2
    assert out["stability"]["stable"] is True


def test_trace_tells_the_story_step_by_step() -> None:
    out = run_from_dict(_data(PROGRAMS), trace=True)
    trace = out["trace"]
    assert trace is not None
    assert [e["step"] for e in trace] == list(range(1, len(trace) + 1))
    events = [(e["event"], e.get("applicant"), e.get("program")) for e in trace]
    assert events[:4] == [
        ("propose", "Anderson", "City"),
        ("hold", "Anderson", "City"),
        ("propose", "Chen", "City"),
        ("hold", "Chen", "City"),
    ]
    displaced = [e for e in trace if e["event"] == "displace"]
    assert len(displaced) == 1
    assert displaced[0]["program"] == "City"
    assert displaced[0]["applicant"] == "Eastman"
    assert displaced[0]["displaced"] == "Chen"
    assert "City prefers Eastman to Chen" in displaced[0]["text"]
    # Davis is refused by Mercy because Mercy did not rank Davis.
    assert ("reject", "Davis", "Mercy") in events
    assert any("did not rank Davis" in e["text"] for e in trace)
    assert trace[-1]["event"] == "hold" and trace[-1]["applicant"] == "Chen"
    assert trace[-1]["program"] == "Mercy"


def test_trace_is_not_produced_unless_asked() -> None:
    out = run_from_dict(_data(PROGRAMS))
    assert out["trace"] is None
    assert out["notes"] == []


def test_trace_member_in_the_body_is_honoured() -> None:
    out = run_from_dict(dict(_data(PROGRAMS), trace=True))
    assert out["trace"]


def test_same_input_same_bytes() -> None:
    import json

    first = json.dumps(run_from_dict(_data(PROGRAMS), trace=True))
    second = json.dumps(run_from_dict(_data(PROGRAMS), trace=True))
    assert first == second


def test_frozen_result_object() -> None:
    result = run_match(parse_instance(_data(PROGRAMS)))
    assert result.assignments["Chen"] == "Mercy"
    assert result.to_dict()["assignments"]["Chen"] == "Mercy"
    try:
        result.status = "cycle_detected"  # type: ignore[misc]
    except AttributeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("MatchResult must be frozen")
