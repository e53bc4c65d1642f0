"""What production refuses to start with: the development secret, and mail written to files."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.core.config import DEFAULT_SECRET, Settings

GOOD = {"secret_key": "s" * 40, "smtp_host": "smtp.example.org"}


@pytest.mark.parametrize(("overrides", "named"), [
    ({"secret_key": DEFAULT_SECRET}, "SECRET_KEY"),
    ({"secret_key": "short"}, "SECRET_KEY"),
    ({"smtp_host": ""}, "SMTP_HOST"),
])
def test_production_refuses(overrides, named):
    with pytest.raises(ValidationError, match=named):
        Settings(_env_file=None, environment="production", **{**GOOD, **overrides})


def test_production_starts_with_a_secret_and_a_mail_server_and_development_needs_neither():
    assert Settings(_env_file=None, environment="production", **GOOD).smtp_host == "smtp.example.org"
    dev = Settings(_env_file=None, environment="development", secret_key=DEFAULT_SECRET, smtp_host="")
    assert dev.mail_dir  # development mail goes to files a developer can read
