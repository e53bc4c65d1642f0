"""Bounded input types shared by every schema: no unbounded strings, no NUL bytes, sane dates and years."""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from types import UnionType
from typing import Annotated, Any, ClassVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import PydanticCustomError

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _iso_date(value: object) -> object:
    """`YYYY-MM-DD` only, in a body or a query: pydantic alone would read 0 or "0" as 1970-01-01."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise PydanticCustomError("date_parsing", "must be a date written YYYY-MM-DD")


def _sane_date(value: date) -> date:
    if not date(1900, 1, 1) <= value <= date(2100, 12, 31):
        raise PydanticCustomError("date_out_of_range", "date must be between 1900-01-01 and 2100-12-31")
    return value


# Whitespace as both JSON Schema (ECMA-262 `\s`) and pydantic (Unicode White_Space, which also trims) read it: the
# two `\s` differ on U+0085 and U+FEFF, so both are named. Trimmed texts must keep a visible character, and no text
# may hold NUL (PostgreSQL cannot store it): the document says both with `pattern`, so a client's validator refuses
# what the service refuses (otherwise "\r" meets minLength 1 and is refused as empty).
_WS = r"\s\x85\ufeff"
# What a value refused by each pattern of the contract is told, in words instead of the regex (app.core.errors):
# every pattern the service's validation applies is declared with `described`.
PATTERN_MESSAGES: dict[str, str] = {}


def described(pattern: str, message: str) -> str:
    """`pattern`, with the message a value it refuses gets (one message per pattern, wherever it is used)."""
    if PATTERN_MESSAGES.setdefault(pattern, message) != message:
        raise ValueError(f"two messages for one pattern {pattern!r}")
    return pattern


NO_NUL = described(r"^[^\x00]*$", "NUL characters are not allowed")
_VISIBLE = described(rf"^[^\x00]*[^{_WS}\x00][^\x00]*$", "must hold a visible character and no NUL characters")
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=_VISIBLE)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120,
                                              pattern=_VISIBLE)]
LongText = Annotated[str, StringConstraints(max_length=4000, pattern=NO_NUL)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=254,
                      pattern=described(rf"^[^@{_WS}\x00]+@[^@{_WS}\x00]+\.[^@{_WS}\x00]+$",
                                        "must be an e-mail address such as name@example.org")),
]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128, pattern=NO_NUL)]
_TWO_LETTERS = described(r"^[A-Za-z]{2}$", "must be a two-letter code (ISO 3166-1 country, US state), e.g. IN")
CountryCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=_TWO_LETTERS)]
StateCode = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=_TWO_LETTERS)]
Specialty = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=2, max_length=60,
                           pattern=described(r"^[a-z][a-z0-9_]*$", "must be a specialty code: a lowercase letter, "
                                             "then lowercase letters, digits or _, e.g. internal_medicine"))
]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500, pattern=_VISIBLE)]


def _named_by_the_path(value: object) -> None:
    raise PydanticCustomError("extra_forbidden", "the path names it: leave it out of the body")


# A field the path of a `PUT .../by-external-id/{external_id}` states: not in that body's schema, and refused when
# sent, as any field the schema does not have is (an upsert body the schema allows is never refused). The service
# sets it from the path (a string, hence the type).
NamedByPath = Annotated[SkipJsonSchema[str | None], BeforeValidator(_named_by_the_path)]
SaneDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_sane_date)]
MatchYear = Annotated[int, Field(ge=2000, le=2100)]  # bounds stated in the OpenAPI document


def _base_types(annotation: Any) -> set[Any]:
    """The plain types an annotation admits: `Annotated[int, ...] | None` → {int, NoneType}."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _base_types(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return set().union(*(_base_types(a) for a in get_args(annotation)))
    return {origin or annotation}


@cache
def _kinds(model: type[BaseModel], name: str) -> frozenset[Any]:
    """The plain types a field of an input model admits, null aside (asked for every field of every body)."""
    return frozenset(_base_types(model.model_fields[name].annotation) - {type(None)})


class InputModel(BaseModel):
    """Base of every request body: unknown fields are refused, and values must have the JSON type the OpenAPI
    document states: pydantic's lax mode would otherwise take "2027" or true for an integer and 0 or "yes" for a
    boolean, requests the contract calls invalid."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, allow_inf_nan=False)

    # Fields an update may leave out but not set to null (what cannot be cleared): the document says so (no `null`
    # in their schema) and validation refuses a null with the code `not_nullable`.
    not_nullable: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name in cls.not_nullable:
            prop = target.get("properties", {}).get(name)
            if prop is not None and "anyOf" in prop:
                kept = [s for s in prop["anyOf"] if s.get("type") != "null"]
                rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
                target["properties"][name] = {**kept[0], **rest} if len(kept) == 1 else {"anyOf": kept, **rest}
        return schema

    @field_validator("*", mode="before")
    @classmethod
    def _json_types(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.not_nullable:
            raise PydanticCustomError("not_nullable", "may not be null (leave the field out to keep it)")
        if value is None or info.field_name is None:
            return value
        kinds = _kinds(cls, info.field_name)
        if kinds == {bool} and not isinstance(value, bool):
            raise PydanticCustomError("bool_type", "must be true or false")
        if kinds == {int} and isinstance(value, (bool, str, bytes)):
            raise PydanticCustomError("int_type", "must be a JSON integer")
        return value  # dates: see SaneDate


class PublicModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# Your system's ids: a candidate's unique per organization, a milestone's, USCE record's or program list's unique
# per candidate. Letters, digits and `._:-`, so they sit in a path segment as they are.
EXTERNAL_ID_PATTERN = described(r"^[A-Za-z0-9._:\-]{1,64}$", "must be 1-64 letters, digits or . _ : -")
ExternalId = Annotated[str, StringConstraints(pattern=EXTERNAL_ID_PATTERN)]


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    # pydantic would also read "0.5" or "1700000000" as a Unix time; the contract says RFC 3339.
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise PydanticCustomError("datetime_parsing",
                                  "must be an RFC 3339 date-time with a zone, e.g. 2026-12-01T00:00:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
"""A timestamp in RFC 3339 with its zone (`Z` or an offset), as a query parameter or a field."""
