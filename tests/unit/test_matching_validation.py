"""Bad input is rejected with one MatchInputError listing precise problems, never a crash."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.matching import (
    ApplicantInput,
    CoupleInput,
    MatchInputError,
    ProgramInput,
    instance_from_inputs,
    parse_instance,
    run_from_dict,
    run_match,
)


def base() -> dict[str, Any]:
    return {
        "programs": [
            {"id": "mercy", "positions": 2, "rank_order_list": ["chen", "ford"]},
            {"id": "city", "positions": 1, "rank_order_list": ["chen", "davis", "eastman"]},
        ],
        "applicants": [
            {"id": "chen", "rank_order_list": ["city", "mercy"]},
            {"id": "ford", "rank_order_list": ["mercy"]},
            {"id": "davis", "rank_order_list": []},
            {"id": "eastman", "rank_order_list": []},
        ],
        "couples": [{"members": ["davis", "eastman"], "rank_order_list": [["city", None], [None, "city"]]}],
    }


def problems(data: Any) -> list[dict[str, str]]:
    with pytest.raises(MatchInputError) as info:
        parse_instance(data)
    err = info.value
    assert err.problems, "a MatchInputError always carries problems"
    for p in err.problems:
        assert set(p) == {"field", "message", "code"}
        assert p["message"]
    return err.problems


def one(data: Any) -> dict[str, str]:
    found = problems(data)
    assert len(found) == 1, found
    return found[0]


def test_base_is_valid() -> None:
    inst = parse_instance(base())
    assert inst.applicant_ids == ["chen", "ford", "davis", "eastman"]
    assert inst.couple_of == [-1, -1, 0, 0]
    assert inst.couple_prefs == [[(1, -1), (-1, 1)]]
    assert inst.program_rank[1] == {0: 0, 2: 1, 3: 2}


def test_duplicate_program_id() -> None:
    data = base()
    data["programs"].append({"id": "mercy", "positions": 1, "rank_order_list": []})
    assert one(data) == {
        "field": "programs[2].id",
        "message": "id 'mercy' is already used by programs[0]",
        "code": "duplicate_id",
    }


def test_duplicate_applicant_id() -> None:
    data = base()
    data["applicants"].append({"id": "ford", "rank_order_list": []})
    p = one(data)
    assert (p["field"], p["code"]) == ("applicants[4].id", "duplicate_id")


def test_applicant_in_two_couples() -> None:
    data = base()
    data["applicants"].append({"id": "garcia", "rank_order_list": []})
    data["couples"].append({"members": ["garcia", "davis"], "rank_order_list": []})
    p = one(data)
    assert (p["field"], p["code"]) == ("couples[1].members[1]", "applicant_in_two_couples")
    assert "couples[0]" in p["message"]


def test_unknown_program_in_applicant_list() -> None:
    data = base()
    data["applicants"][1]["rank_order_list"] = ["mercy", "general"]
    assert one(data) == {
        "field": "applicants[1].rank_order_list[1]",
        "message": "no program has id 'general'",
        "code": "unknown_id",
    }


def test_unknown_applicant_in_program_list() -> None:
    data = base()
    data["programs"][1]["rank_order_list"].insert(0, "hassan")
    p = one(data)
    assert (p["field"], p["code"]) == ("programs[1].rank_order_list[0]", "unknown_id")


def test_unknown_program_in_couple_pair() -> None:
    data = base()
    data["couples"][0]["rank_order_list"].append(["state", "city"])
    p = one(data)
    assert (p["field"], p["code"]) == ("couples[0].rank_order_list[2][0]", "unknown_id")


def test_duplicate_rank_in_applicant_list() -> None:
    data = base()
    data["applicants"][0]["rank_order_list"] = ["city", "mercy", "city"]
    assert one(data) == {
        "field": "applicants[0].rank_order_list[2]",
        "message": "program 'city' is already ranked at position 1",
        "code": "duplicate_rank",
    }


def test_duplicate_rank_in_program_list() -> None:
    data = base()
    data["programs"][0]["rank_order_list"] = ["chen", "ford", "chen"]
    p = one(data)
    assert (p["field"], p["code"]) == ("programs[0].rank_order_list[2]", "duplicate_rank")


def test_negative_positions() -> None:
    data = base()
    data["programs"][1]["positions"] = -1
    assert one(data) == {
        "field": "programs[1].positions",
        "message": "must be 0 or more, got -1",
        "code": "negative_positions",
    }


def test_positions_type_and_size() -> None:
    data = base()
    data["programs"][0]["positions"] = "2"
    data["programs"][1]["positions"] = True
    found = problems(data)
    assert [(p["field"], p["code"]) for p in found] == [
        ("programs[0].positions", "invalid_type"),
        ("programs[1].positions", "invalid_type"),
    ]
    data = base()
    data["programs"][0]["positions"] = 10**9
    assert one(data)["code"] == "too_large"


def test_too_many_ranks() -> None:
    data = base()
    data["programs"].extend({"id": f"p{i}", "positions": 1, "rank_order_list": []} for i in range(301))
    data["applicants"][0]["rank_order_list"] = [f"p{i}" for i in range(301)]
    p = one(data)
    assert (p["field"], p["code"]) == ("applicants[0].rank_order_list", "too_many_ranks")
    assert "at most 300" in p["message"]
    data["applicants"][0]["rank_order_list"] = [f"p{i}" for i in range(300)]
    parse_instance(data)  # exactly 300 is fine


def test_too_many_couple_ranks_and_program_ranks() -> None:
    data = base()
    data["couples"][0]["rank_order_list"] = [["city", None]] * 301
    assert one(data)["code"] == "too_many_ranks"
    data = base()
    data["programs"][0]["rank_order_list"] = ["chen"] * 5001
    p = one(data)
    assert (p["field"], p["code"]) == ("programs[0].rank_order_list", "too_many_ranks")


def test_duplicate_pair() -> None:
    data = base()
    data["couples"][0]["rank_order_list"].append(["city", None])
    assert one(data) == {
        "field": "couples[0].rank_order_list[2]",
        "message": "the same pair is already ranked at position 1",
        "code": "duplicate_pair",
    }


def test_couple_member_not_applicant() -> None:
    data = base()
    data["couples"][0]["members"] = ["davis", "garcia"]
    p = one(data)
    assert (p["field"], p["code"]) == ("couples[0].members[1]", "couple_member_not_applicant")


def test_couple_same_member() -> None:
    data = base()
    data["couples"][0]["members"] = ["davis", "davis"]
    p = one(data)
    assert (p["field"], p["code"]) == ("couples[0].members[1]", "couple_same_member")


def test_pair_shapes() -> None:
    data = base()
    data["couples"][0]["rank_order_list"] = [[None, None], ["city"], "city", ["city", 3]]
    found = problems(data)
    assert [(p["field"], p["code"]) for p in found] == [
        ("couples[0].rank_order_list[0]", "empty_pair"),
        ("couples[0].rank_order_list[1]", "invalid_pair"),
        ("couples[0].rank_order_list[2]", "invalid_pair"),
        ("couples[0].rank_order_list[3][1]", "invalid_id"),
    ]
    data = base()
    data["couples"][0]["members"] = ["davis"]
    assert one(data)["code"] == "invalid_members"


def test_ids_must_be_short_non_empty_strings_without_nul() -> None:
    for bad in ["", "x" * 65, "a\x00b", 7, None, ["a"]]:
        data = base()
        data["applicants"].append({"id": bad, "rank_order_list": []})
        p = one(data)
        assert (p["field"], p["code"]) == ("applicants[4].id", "invalid_id"), bad
    data = base()
    data["applicants"][0]["rank_order_list"] = ["city", 5, None, ""]
    found = problems(data)
    assert [(p["field"], p["code"]) for p in found] == [
        ("applicants[0].rank_order_list[1]", "invalid_id"),
        ("applicants[0].rank_order_list[2]", "invalid_id"),
        ("applicants[0].rank_order_list[3]", "invalid_id"),
    ]
    data = base()
    data["applicants"].append({"id": "x" * 64, "rank_order_list": []})
    parse_instance(data)  # 64 characters is fine


def test_structure_problems() -> None:
    assert one([]) == {"field": "", "message": "the input must be an object, not array", "code": "invalid_type"}
    found = problems({})
    assert [(p["field"], p["code"]) for p in found] == [
        ("programs", "missing_field"),
        ("applicants", "missing_field"),
    ]
    found = problems({"programs": {}, "applicants": [1], "extra": 1})
    assert [(p["field"], p["code"]) for p in found] == [
        ("extra", "unknown_field"),
        ("programs", "invalid_type"),
        ("applicants[0]", "invalid_type"),
    ]
    data = base()
    data["programs"][0]["capacity"] = 3
    del data["programs"][1]["positions"]
    data["applicants"][0]["rank_order_list"] = "city"
    data["couples"][0] = {"rank_order_list": []}
    found = problems(data)
    assert [(p["field"], p["code"]) for p in found] == [
        ("programs[0].capacity", "unknown_field"),
        ("programs[1].positions", "missing_field"),
        ("applicants[0].rank_order_list", "invalid_type"),
        ("couples[0].members", "missing_field"),
    ]


def test_too_many_items() -> None:
    data = {"programs": [], "applicants": [{"id": f"a{i}"} for i in range(60_001)]}
    p = one(data)
    assert (p["field"], p["code"]) == ("applicants", "too_many_items")


def test_many_problems_are_capped_with_a_summary() -> None:
    data = {"programs": [{"id": "p", "positions": -1}] * 250, "applicants": []}
    found = problems(data)
    assert len(found) == 201
    assert found[-1]["code"] == "too_many_problems"
    assert "more problem" in found[-1]["message"]


def test_problems_are_collected_not_just_the_first() -> None:
    data = base()
    data["programs"][0]["positions"] = -3
    data["applicants"][1]["rank_order_list"] = ["nowhere"]
    data["couples"][0]["members"] = ["davis", "davis"]
    codes = {p["code"] for p in problems(data)}
    assert codes == {"negative_positions", "unknown_id", "couple_same_member"}


def test_error_message_summarises() -> None:
    data = base()
    data["programs"][0]["positions"] = -3
    data["programs"][1]["positions"] = -3
    with pytest.raises(MatchInputError) as info:
        run_from_dict(data)
    assert (
        str(info.value) == "invalid match input: programs[0].positions: must be 0 or more, got -3 (and 1 more problem)"
    )
    assert info.value.codes == ["negative_positions", "negative_positions"]


def test_optional_parts() -> None:
    data = {
        "programs": [{"id": "p", "positions": 0}],
        "applicants": [{"id": "a"}],
    }
    out = run_from_dict(data)
    assert out["assignments"] == {"a": None}
    assert out["couples"] == []
    data["couples"] = None
    assert run_from_dict(data)["assignments"] == {"a": None}
    # Tuples are accepted as well as lists.
    out = run_from_dict(
        {
            "programs": ({"id": "p", "positions": 1, "rank_order_list": ("a",)},),
            "applicants": ({"id": "a", "rank_order_list": ("p",)},),
        }
    )
    assert out["assignments"] == {"a": "p"}


def test_dataclass_inputs() -> None:
    inst = instance_from_inputs(
        programs=[ProgramInput("mercy", 1, ["chen", "davis"]), ProgramInput("city", 1, ["eastman"])],
        applicants=[ApplicantInput("chen", ["mercy"]), ApplicantInput("davis"), ApplicantInput("eastman")],
        couples=[CoupleInput(("davis", "eastman"), [("mercy", "city")])],
    )
    result = run_match(inst)
    assert result.assignments == {"chen": "mercy", "davis": None, "eastman": None}
    with pytest.raises(MatchInputError):
        instance_from_inputs(programs=[ProgramInput("p", -1)], applicants=[])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["a", "p", "", "x\x00", "city"]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["id", "positions", "rank_order_list", "members", "programs", "applicants", "couples", "z"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_arbitrary_json_never_crashes(data: Any) -> None:
    try:
        out = run_from_dict(data)
    except MatchInputError as exc:
        assert exc.problems
    else:
        assert out["status"] in ("complete", "cycle_detected")


@st.composite
def almost_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid body with one or two entries replaced by arbitrary values."""
    data = base()
    for _ in range(draw(st.integers(1, 2))):
        section = draw(st.sampled_from(["programs", "applicants", "couples"]))
        items = data[section]
        i = draw(st.integers(0, len(items) - 1))
        key = draw(st.sampled_from(sorted(items[i])))
        items[i] = dict(items[i])
        items[i][key] = draw(json_values)
    return data


@settings(max_examples=400, deadline=None)
@given(almost_valid())
def test_almost_valid_input_never_crashes(data: dict[str, Any]) -> None:
    try:
        run_from_dict(data)
    except MatchInputError as exc:
        for p in exc.problems:
            assert p["field"] and p["code"]
