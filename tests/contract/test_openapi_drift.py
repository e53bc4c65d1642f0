"""The committed contract (openapi/openapi.json) is exactly what the app serves: regenerate with `make openapi`."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys

from app.__main__ import OPENAPI_PATH, openapi_text


def test_committed_openapi_matches_the_app():
    assert OPENAPI_PATH.exists(), f"{OPENAPI_PATH} is missing: run `make openapi` and commit it"
    committed = OPENAPI_PATH.read_text(encoding="utf-8")
    current = openapi_text()
    if committed != current:
        diff = "".join(list(difflib.unified_diff(committed.splitlines(keepends=True), current.splitlines(keepends=True),
                                                 "openapi/openapi.json (committed)", "app.openapi()", n=2))[:80])
        raise AssertionError(f"openapi/openapi.json is out of date: run `make openapi` and commit it.\n{diff}")


def test_served_document_is_the_committed_one(client):
    """What clients download at /openapi.json is the committed contract, byte for byte once parsed."""
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert r.json() == json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))


# Settings a deployment changes. The contract is the same whatever they are: a document that took its limits or
# links from the settings would differ between the committed file and a production server.
PRODUCTION_SHAPE = {
    "ENVIRONMENT": "production", "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:9/nowhere",
    "SECRET_KEY": "k" * 64, "MAX_BODY_BYTES": "4096", "MAX_IMPORT_BODY_BYTES": "8192",
    "MAX_SIMULATION_BODY_BYTES": "8192", "ACCESS_TOKEN_MINUTES": "30", "SESSION_CHECK_SECONDS": "2",
    "CORS_ORIGINS": "https://app.example.org", "RETRY_AFTER_SECONDS": "9", "RATE_LIMIT_PER_PRINCIPAL": "10/second",
    "RATE_LIMIT_PER_ADDRESS": "5/second", "IMPORT_MAX_ITEMS": "10", "INVITATION_DAYS": "3",
    "SMTP_HOST": "smtp.example.org", "BODY_READ_TIMEOUT_SECONDS": "5", "AUDIT_FLUSH_SECONDS": "1",
}


def test_the_document_does_not_depend_on_the_settings():
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_SHAPE and not k.startswith("MATCHREADY")}
    out = subprocess.run([sys.executable, "-c", "import sys; from app.__main__ import openapi_text; "
                          "sys.stdout.write(openapi_text())"], env={**env, **PRODUCTION_SHAPE},
                         cwd=OPENAPI_PATH.parents[1], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout == OPENAPI_PATH.read_text(encoding="utf-8")
