"""Bounded input types shared by every schema: no unbounded strings, no NUL bytes, sane dates and years."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints


def _no_control(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    return value


def _sane_date(value: date) -> date:
    if not date(1900, 1, 1) <= value <= date(2100, 12, 31):
        raise ValueError("date must be between 1900-01-01 and 2100-12-31")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                 AfterValidator(_no_control)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120),
                      AfterValidator(_no_control)]
LongText = Annotated[str, StringConstraints(max_length=4000), AfterValidator(_no_control)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=254,
                      pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$"),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128), AfterValidator(_no_control)]
CountryCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]
StateCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Za-z]{2}$")]
Specialty = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=2, max_length=60,
                           pattern=r"^[a-z][a-z0-9_]*$")
]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500),
                AfterValidator(_no_control)]
SaneDate = Annotated[date, AfterValidator(_sane_date)]
MatchYear = Annotated[int, AfterValidator(lambda y: _year(y))]


def _year(y: int) -> int:
    if not 2000 <= y <= 2100:
        raise ValueError("year must be between 2000 and 2100")
    return y


class InputModel(BaseModel):
    """Base of every request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, allow_inf_nan=False)


class PublicModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
