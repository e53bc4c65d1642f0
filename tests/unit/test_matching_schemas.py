"""The pydantic request/response models of the Match endpoint."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from app.matching import run_from_dict
from app.matching.schemas import MatchRequest, MatchResponse


def example() -> dict[str, Any]:
    extra = MatchRequest.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)
    examples = extra["examples"]
    assert isinstance(examples, list)
    return json.loads(json.dumps(examples[0]))


def test_example_is_valid_and_runs() -> None:
    req = MatchRequest.model_validate(example())
    out = run_from_dict(req.engine_input())
    assert out["status"] == "complete"
    assert set(out["assignments"]) == {"anderson", "chen", "ford", "davis", "eastman"}
    assert MatchResponse.model_validate(out).counts.applicants == 5


def test_engine_input_matches_the_raw_body() -> None:
    body = example()
    body["trace"] = True
    req = MatchRequest.model_validate_json(json.dumps(body))
    assert run_from_dict(req.engine_input()) == run_from_dict(body)


def test_response_model_round_trips_a_traced_result_with_couples() -> None:
    body = example()
    out = run_from_dict(body, trace=True)
    assert out["trace"]
    model = MatchResponse.model_validate(out)
    assert model.model_dump(mode="json", exclude_none=False)["assignments"] == out["assignments"]
    dumped = model.model_dump(mode="json")
    assert dumped["couples"] == out["couples"]
    assert dumped["stability"] == out["stability"]


def test_json_schema_has_the_example_and_bounds() -> None:
    schema = MatchRequest.model_json_schema()
    assert schema["examples"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["applicants"]["maxItems"] == 60_000
    assert schema["properties"]["programs"]["maxItems"] == 10_000
    assert schema["properties"]["couples"]["maxItems"] == 10_000
    applicant = schema["$defs"]["ApplicantIn"]
    assert applicant["properties"]["rank_order_list"]["maxItems"] == 300
    assert applicant["additionalProperties"] is False
    ident = applicant["properties"]["id"]
    assert (ident["minLength"], ident["maxLength"]) == (1, 64)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(unknown=1),
        lambda b: b["programs"][0].update(capacity=1),
        lambda b: b["programs"][0].update(positions=-1),
        lambda b: b["programs"][0].update(positions="2"),
        lambda b: b["applicants"][0].update(id=""),
        lambda b: b["applicants"][0].update(id="x" * 65),
        lambda b: b["applicants"][0].update(id="a\x00b"),
        lambda b: b["applicants"][0].update(rank_order_list=[f"p{i}" for i in range(301)]),
        lambda b: b["couples"][0].update(members=["davis"]),
        lambda b: b["couples"][0].update(rank_order_list=[["city"]]),
        lambda b: b.update(trace="yes"),
    ],
)
def test_request_model_rejects(mutate: Any) -> None:
    body = example()
    mutate(body)
    with pytest.raises(ValidationError):
        MatchRequest.model_validate(body)


def test_cross_references_are_left_to_the_engine() -> None:
    from app.matching import MatchInputError

    body = example()
    body["applicants"][0]["rank_order_list"] = ["state"]
    req = MatchRequest.model_validate(body)  # shape is fine
    with pytest.raises(MatchInputError) as info:
        run_from_dict(req.engine_input())
    assert info.value.problems[0]["field"] == "applicants[0].rank_order_list[0]"


def test_parse_request_json_reports_problems_in_the_engine_format() -> None:
    from app.matching import MatchInputError
    from app.matching.schemas import parse_request_json

    req = parse_request_json(json.dumps(example()).encode())
    assert run_from_dict(req.engine_input())["status"] == "complete"

    with pytest.raises(MatchInputError) as info:
        parse_request_json("{")
    assert [(p["field"], p["code"]) for p in info.value.problems] == [("", "invalid_json")]

    body = example()
    body["programs"][0]["positions"] = -1
    body["programs"][1]["id"] = ""
    body["programs"][2]["capacity"] = 3
    body["applicants"][0]["rank_order_list"] = [f"p{i}" for i in range(301)]
    body["applicants"].append({"rank_order_list": []})
    body["couples"][0]["rank_order_list"].append(["city", 5])
    with pytest.raises(MatchInputError) as info:
        parse_request_json(json.dumps(body))
    assert [(p["field"], p["code"]) for p in info.value.problems] == [
        ("programs[0].positions", "negative_positions"),
        ("programs[1].id", "invalid_id"),
        ("programs[2].capacity", "unknown_field"),
        ("applicants[0].rank_order_list", "too_many_ranks"),
        ("applicants[5].id", "missing_field"),
        ("couples[0].rank_order_list[3][1]", "invalid_id"),
    ]
    with pytest.raises(MatchInputError) as info:
        parse_request_json(json.dumps({"programs": [], "applicants": [{"id": f"a{i}"} for i in range(60_001)]}))
    assert [(p["field"], p["code"]) for p in info.value.problems] == [("applicants", "too_many_items")]
