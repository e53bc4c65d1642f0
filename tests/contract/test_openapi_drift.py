"""The committed contract (openapi/openapi.json) is exactly what the app serves: regenerate with `make openapi`."""

from __future__ import annotations

import difflib
import json

from app.__main__ import OPENAPI_PATH, openapi_text


def test_committed_openapi_matches_the_app():
    assert OPENAPI_PATH.exists(), f"{OPENAPI_PATH} is missing: run `make openapi` and commit it"
    committed = OPENAPI_PATH.read_text(encoding="utf-8")
    current = openapi_text()
    if committed != current:
        diff = "".join(list(difflib.unified_diff(committed.splitlines(keepends=True), current.splitlines(keepends=True),
                                                 "openapi/openapi.json (committed)", "app.openapi()", n=2))[:80])
        raise AssertionError(f"openapi/openapi.json is out of date: run `make openapi` and commit it.\n{diff}")


def test_served_document_is_the_same_as_the_generated_one(client):
    """What clients download at /openapi.json is the document `python -m app openapi` writes."""
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert r.json() == json.loads(openapi_text())
