"""The shared text types say in the document what they refuse: a NUL character (which PostgreSQL cannot store)
and, for trimmed texts, a value with nothing visible. The schema's pattern and the service agree on each value."""

from __future__ import annotations

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from app.core.types import LongText, Name, Password, ShortText, Url

CASES = [
    # (type, value, accepted)
    (Name, "Ada Lovelace", True),
    (Name, "Ada\x00", False),
    (Name, "\r\n", False),
    (ShortText, "\ufeffx", True),
    (ShortText, "\x00", False),
    (Url, "https://example.org/a", True),
    (Url, "https://example.org/\x00", False),
    (LongText, "", True),
    (LongText, "line\nline", True),
    (LongText, "tail\x00", False),
    (Password, "long enough passphrase", True),
    (Password, "long enough\x00passphrase", False),
]


@pytest.mark.parametrize(("kind", "value", "accepted"), CASES)
def test_the_pattern_in_the_document_and_the_service_agree(kind, value, accepted) -> None:  # type: ignore[no-untyped-def]
    adapter = TypeAdapter(kind)
    pattern = adapter.json_schema()["pattern"]
    assert (re.search(pattern, value) is not None) == accepted, (pattern, value)
    try:
        adapter.validate_python(value)
    except ValidationError:
        served = False
    else:
        served = True
    assert served == accepted
