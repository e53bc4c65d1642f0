"""List pages are rendered straight from rows (orjson) for flat models; they must equal what the public model
renders through pydantic, field for field and in the same order, on either database."""

from __future__ import annotations

import json

from app.candidates.schemas import CandidatePublic
from app.core.pagination import _direct_fields
from app.programs.schemas import EntryPublic, ProgramPublic
from tests.api.helpers import program_body


def _same(listed: dict, single: dict, model) -> None:  # type: ignore[no-untyped-def]
    via_model = json.loads(model.model_validate(single).model_dump_json())
    assert list(listed) == list(via_model)
    assert listed == via_model


def test_flat_models_take_the_direct_path():
    for model in (CandidatePublic, ProgramPublic, EntryPublic):
        assert _direct_fields(model) is not None


def test_candidate_page_equals_model_rendering(client, world):
    h = world.north.advisor_headers
    r = client.post("/v1/candidates", headers=h, json={
        "full_name": "Zoë Ünicode", "email": "zoe@example.org", "date_of_birth": "1995-02-28",
        "citizenship_country": "in", "target_specialties": ["internal_medicine", "neurology"],
        "target_match_year": 2028, "visa_need": "either", "usmle_id": "12345678", "external_id": "X-1"})
    assert r.status_code == 201, r.text
    listed = {c["id"]: c for c in client.get("/v1/candidates", headers=h).json()["items"]}
    for cid, item in listed.items():
        single = client.get(f"/v1/candidates/{cid}", headers=h).json()
        _same(item, single, CandidatePublic)
        assert item["created_at"].endswith("Z")


def test_program_and_entry_pages_equal_model_rendering(client, world):
    p = client.post("/v1/programs", headers=world.admin_headers,
                    json=program_body(min_step2ck=230, img_share_percent=40, positions=0)).json()
    for item in client.get("/v1/programs", headers=world.north.advisor_headers).json()["items"]:
        _same(item, client.get(f"/v1/programs/{item['id']}", headers=world.north.advisor_headers).json(),
              ProgramPublic)
    base = f"/v1/candidates/{world.north.candidate_id}/program-lists"
    plist = client.post(base, headers=world.north.candidate_headers, json={"name": "IM"}).json()
    client.post(f"{base}/{plist['id']}/entries", headers=world.north.candidate_headers,
                json={"program_id": p["id"], "signal": "gold", "rank_position": 1, "notes": "n"})
    for item in client.get(f"{base}/{plist['id']}/entries", headers=world.north.candidate_headers).json()["items"]:
        single = client.get(f"{base}/{plist['id']}/entries/{item['id']}", headers=world.north.candidate_headers)
        _same(item, single.json(), EntryPublic)
