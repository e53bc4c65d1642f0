"""Responses say which rule set they used: its version and whether it came from the package or RULES_DIR."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.pathway.rules import RULES_DIR

AS_OF = "2026-11-25"
VIEWS = ["next-step", "readiness", "timeline"]


def _get(client, world, view):  # type: ignore[no-untyped-def]
    r = client.get(f"/v1/candidates/{world.north.candidate_id}/{view}", params={"as_of": AS_OF},
                   headers=world.north.advisor_headers)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("view", VIEWS)
def test_packaged_rules_are_named(client, world, view):
    body = _get(client, world, view)
    assert (body["rules_version"], body["rules_source"]) == ("2027.1", "package")


@pytest.mark.parametrize("view", VIEWS)
def test_a_rules_dir_file_is_named_and_used(client, world, settings, tmp_path: Path, view):
    # The operator publishes a 2027.2 rule set from a folder (README: Publishing a rule set).
    shutil.copy(RULES_DIR / "2027.toml", tmp_path / "2027.toml")
    text = (tmp_path / "2027.toml").read_text().replace('rules_version = "2027.1"', 'rules_version = "2027.2"')
    (tmp_path / "2027.toml").write_text(text)
    settings(RULES_DIR=str(tmp_path))
    body = _get(client, world, view)
    assert (body["rules_version"], body["rules_source"]) == ("2027.2", "folder")


def test_match_cycles_name_their_source(client, world):
    r = client.get("/v1/match-cycles", headers=world.north.advisor_headers)
    assert r.status_code == 200, r.text
    items = r.json()["items"] if isinstance(r.json(), dict) else r.json()
    assert {c["rules_source"] for c in items} == {"package"}
