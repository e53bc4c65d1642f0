"""The road's prerequisite graph is one piece of data: what GET /v1/milestone-types serves is what the engine walks."""

from __future__ import annotations

from app.pathway.road import BLOCKER_PRIORITY, DEPENDENTS, NODES


def _served(client, world):  # type: ignore[no-untyped-def]
    r = client.get("/v1/milestone-types", headers=world.north.candidate_headers)
    assert r.status_code == 200, r.text
    return {t["code"]: t for t in r.json()["items"]}


def test_served_graph_equals_the_engine_graph(client, world):
    served = _served(client, world)
    road = {code: t for code, t in served.items() if t["gate"] is not None}
    engine = {n.code: n for n in NODES}
    assert list(road) == [n.code for n in NODES]  # same steps, same (topological) order
    for code, node in engine.items():
        t = road[code]
        assert (t["requires"], t["gate"], t["lead_time"], t["opens"]) == (
            list(node.requires), node.gate, node.duration, node.opens), code


# The three steps the served catalogue and the engine used to disagree on, with the domain notes' section A:
# ERAS_SUBMITTED needs MYERAS open and a specialty; MATCHED needs MATCH_ELIGIBLE_IMG (Step 1, Step 2 CK, Pathway
# verified by the ROL deadline) and a certified ROL; SOAP_ELIGIBLE needs the same gate plus an unmatched result;
# RESIDENCY_START needs ECFMG certification and the visa.
EXPECTED_REQUIRES = [
    ("eras_application", ["usmle_id_registered", "specialty_decided"]),
    ("match_result", ["rank_order_list", "usmle_step1", "usmle_step2ck", "ecfmg_pathway"]),
    ("soap", ["nrmp_registration", "usmle_step1", "usmle_step2ck", "ecfmg_pathway", "match_result"]),
    ("residency_start", ["ecfmg_certification", "visa"]),
    ("usmle_step3", ["usmle_step1", "usmle_step2ck", "ecfmg_certification"]),
]


def test_formerly_disagreeing_steps_serve_the_engine_prerequisites(client, world):
    served = _served(client, world)
    for code, requires in EXPECTED_REQUIRES:
        assert served[code]["requires"] == requires, code
        assert all(code in DEPENDENTS[r] for r in requires), code


def test_legacy_and_after_residency_types_are_not_road_steps(client, world):
    served = _served(client, world)
    # Step 2 CS ended on 2021-01-26 (domain notes, section 1); a fellowship comes after the road.
    assert served["usmle_step2cs"]["gate"] is None
    assert served["fellowship_application"]["gate"] is None
    assert "usmle_step2cs" not in {n.code for n in NODES}


def test_blocker_priority_comes_from_the_data_file():
    from app.pathway.catalogue import load_catalogue

    assert list(BLOCKER_PRIORITY) == list(load_catalogue().blocker_priority)
    assert BLOCKER_PRIORITY["attempt_limit_reached"] == 0
