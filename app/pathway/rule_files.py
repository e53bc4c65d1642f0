"""The format of a rule file (rules/<year>.toml), as Pydantic models: what `rules.load_rulebook` and
`python -m app rules check` validate before the engine sees a value.

Every value is a table with its provenance (`source`, `verified_on`, optional `confidence`, `note`, and the flags
`estimated` (needs a `pattern` or `note`), `heuristic`, `gap` (needs a `note` and carries no `value`)). Unknown
keys are refused and types are strict: a date is a TOML date, a number is not text.

A file may say `extends = <an earlier year>`: it then states only what differs from that cycle. Tables merge key
by key; a value table (one with a `source`) and an array replace the inherited one as a whole, so a value never
keeps an older source.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

T = TypeVar("T")
P = TypeVar("P", bound=BaseModel)

Confidence = Literal["official", "secondary", "third_party", "derived", "heuristic", "gap"]
Step3DeadlineChoice = Literal["application", "rank_deadline", "match_day"]
WeekendPolicy = Literal["as_published", "next_business_day", "previous_business_day"]
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Provenance(_Model):
    source: str = Field(pattern=r"\S", description="where the value comes from")
    verified_on: date
    confidence: Confidence = "official"
    estimated: bool = False
    heuristic: bool = False
    gap: bool = False
    note: str | None = Field(default=None, validate_default=True)
    pattern: str | None = Field(default=None, validate_default=True)

    @field_validator("note")
    @classmethod
    def _gap_says_what_is_missing(cls, note: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("gap") and not note:
            raise ValueError("a gap must say what is missing in a note")
        return note

    @field_validator("pattern")
    @classmethod
    def _estimate_names_its_pattern(cls, pattern: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("estimated") and not (pattern or info.data.get("note")):
            raise ValueError("an estimated value must name the pattern it follows")
        return pattern


class Value(Provenance, Generic[T]):
    """A sourced value; a gap is allowed only where the engine can do without the value (GapValue)."""

    gap_allowed: ClassVar[bool] = False
    value: T | None = Field(default=None, validate_default=True)

    @field_validator("value")
    @classmethod
    def _value_or_gap(cls, value: T | None, info: ValidationInfo) -> T | None:
        if info.data.get("gap"):
            if not cls.gap_allowed:
                raise ValueError("this value cannot be a gap")
            if value is not None:
                raise ValueError("a gap must not carry a value")
        elif value is None:
            raise ValueError("missing (mark gap = true with a note if unknown)")
        return value


class GapValue(Value[T], Generic[T]):
    gap_allowed: ClassVar[bool] = True


class CalendarEntry(Value[date]):
    time: str | None = Field(default=None, pattern=_HHMM, description='"HH:MM", local to time_zone')
    time_zone: str | None = Field(default=None, validate_default=True, pattern=r"^[A-Za-z_]+/[A-Za-z_/]+$")

    @field_validator("time_zone")
    @classmethod
    def _time_and_zone_together(cls, zone: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("time") is not None and zone is None:
            raise ValueError('a time needs an IANA time zone such as "America/New_York"')
        if zone is not None and "time" in info.data and info.data["time"] is None:
            raise ValueError("a time zone needs a time")
        return zone


class Calendar(_Model):
    eras_open: CalendarEntry
    eras_submit_open: CalendarEntry
    eras_program_review_open: CalendarEntry
    nrmp_registration_open: CalendarEntry
    nrmp_standard_reg_deadline: CalendarEntry
    ranking_open: CalendarEntry
    rol_deadline: CalendarEntry
    match_week_start: CalendarEntry
    soap_start: CalendarEntry
    soap_end: CalendarEntry
    match_day: CalendarEntry
    match_week_end: CalendarEntry
    eras_season_end: CalendarEntry
    residency_start: CalendarEntry


class AttemptLimitEntry(Value[int]):
    effective_from: date
    previous_value: int | None = None


class PassingScore(GapValue[int]):
    effective_from: date | None = None


class PassingScores(_Model):
    usmle_step1: list[PassingScore] = Field(min_length=1)
    usmle_step2ck: list[PassingScore] = Field(min_length=1)
    usmle_step3: list[PassingScore] = Field(min_length=1)

    @field_validator("usmle_step1", "usmle_step2ck", "usmle_step3")
    @classmethod
    def _oldest_first(cls, entries: list[PassingScore]) -> list[PassingScore]:
        for before, after in zip(entries, entries[1:], strict=False):
            if after.effective_from is None or (before.effective_from or date.min) >= after.effective_from:
                raise ValueError("entries must be in increasing effective_from order")
        return entries


class Spacing(_Model):
    max_attempts_in_window: int = Field(gt=0)
    window_months: int = Field(gt=0)
    later_after_first_months: int = Field(gt=0)
    later_after_latest_months: int = Field(gt=0)


class SpacingEntry(Value[Spacing]):
    effective_from: date


class Usmle(_Model):
    attempt_limit: AttemptLimitEntry
    step1_pass_fail_from: Value[date]
    passing_scores: PassingScores
    attempt_limit_counts: Value[list[str]]
    retake_spacing: SpacingEntry

    @field_validator("attempt_limit_counts")
    @classmethod
    def _some_exams(cls, entry: Value[list[str]]) -> Value[list[str]]:
        if not entry.value:
            raise ValueError("must be a non-empty list of milestone codes")
        return entry


class OetMinimum(_Model):
    listening: int
    reading: int
    writing: int
    speaking: int


class PathwayValidity(_Model):
    """Which accepted Pathways count for this Match: those accepted on or after `accepted_on_or_after`."""

    accepted_on_or_after: date


class Ecfmg(_Model):
    required_exams: Value[list[str]]
    pathways_available: Value[bool]
    pathways_application_deadline: GapValue[date]
    pathway_validity: GapValue[PathwayValidity]
    pathways_after_step2cs_failure: GapValue[list[Literal["1", "2", "3", "4", "5", "6"]]]
    oet_minimum: Value[OetMinimum]
    oet_earliest_test_date: Value[date]
    oet_one_sitting: Value[bool]
    exam_window_years: Value[int]
    credential_verification: Value[list[str]]


class Nrmp(_Model):
    rol_max_ranks: Value[int]
    soap_max_applications: Value[int]
    weekend_deadlines: GapValue[WeekendPolicy]


class Payment(_Model):
    amount_usd: int = Field(gt=0)
    effective_from: date
    expires_on: date

    @field_validator("expires_on")
    @classmethod
    def _after_start(cls, expires_on: date, info: ValidationInfo) -> date:
        start = info.data.get("effective_from")
        if start is not None and expires_on <= start:
            raise ValueError("must be after effective_from")
        return expires_on


class H1b(_Model):
    default_step3_deadline: Value[Step3DeadlineChoice]
    proclamation_payment: Value[Payment] | None = None


class Rates(_Model):
    year: int
    us_img: float = Field(ge=0.0, le=1.0)
    non_us_img: float = Field(ge=0.0, le=1.0)


class MatchRateEntry(Value[Rates]):
    population: str = Field(description="which applicants the rate is over")


_Days = Field(ge=0, le=366)


class Days(Value[int]):
    value: int | None = Field(default=None, validate_default=True, ge=0, le=366)


class LeadTimes(_Model):
    step_score_release: Days
    verification_buffer: Days
    oet_results: Days
    pathway_processing: Days
    credential_verification: Days
    step3_graduation_verification: Days
    exam_booking: Days
    visa_processing: Days
    statement_of_need: Days


class Thresholds(_Model):
    ready: int = Field(ge=0, le=100)
    on_track: int = Field(ge=0, le=100)

    @field_validator("on_track")
    @classmethod
    def _below_ready(cls, on_track: int, info: ValidationInfo) -> int:
        if on_track > info.data.get("ready", 100):
            raise ValueError("needs on_track <= ready")
        return on_track


class Factor(Provenance, Generic[P]):
    label: str = Field(min_length=1)
    weight: float = Field(ge=0)
    target: str
    params: P


class Step2ckParams(_Model):
    full_credit_margin: int


class FirstAttemptParams(_Model):
    penalty_per_failure: float


class Band(_Model):
    max_years: float
    credit: float = Field(ge=0, le=1)


class YearsParams(_Model):
    bands: list[Band]

    @field_validator("bands")
    @classmethod
    def _increasing(cls, bands: list[Band]) -> list[Band]:
        for before, after in zip(bands, bands[1:], strict=False):
            if after.max_years <= before.max_years:
                raise ValueError("max_years must increase from band to band")
        return bands


class UsceParams(_Model):
    target_hands_on_weeks: int
    recency_months: int
    share_weeks: float
    share_hands_on: float
    share_recency: float
    share_specialty: float


class LettersParams(_Model):
    target: int
    max_per_program: int


class ProgramListParams(_Model):
    target_programs: int


class VisaParams(_Model):
    unknown_credit: float


class NoParams(_Model):
    pass


class Factors(_Model):
    step2ck: Factor[Step2ckParams]
    first_attempt: Factor[FirstAttemptParams]
    years_since_graduation: Factor[YearsParams]
    usce: Factor[UsceParams]
    us_letters: Factor[LettersParams]
    program_list: Factor[ProgramListParams]
    visa_sponsorship: Factor[VisaParams]
    contiguous_ranks: Factor[NoParams]


class References(_Model):
    step2ck: GapValue[int]
    step2ck_by_specialty: dict[str, GapValue[int]] = {}


class Readiness(_Model):
    model_version: str = Field(min_length=1)
    status_thresholds: Value[Thresholds]
    competitiveness_window_days: Days
    due_soon_days: Value[int]
    factors: Factors
    references: References


class RuleFile(_Model):
    """One cycle's complete rule set (after `extends` is resolved)."""

    cycle: int
    rules_version: str = Field(validate_default=True)
    title: str
    calendar: Calendar
    usmle: Usmle
    ecfmg: Ecfmg
    nrmp: Nrmp
    h1b: H1b
    match_rate: MatchRateEntry
    lead_times: LeadTimes
    readiness: Readiness

    @field_validator("rules_version")
    @classmethod
    def _version_names_its_cycle(cls, version: str, info: ValidationInfo) -> str:
        year = info.data.get("cycle")
        if year is not None and not version.startswith(f"{year}."):
            raise ValueError(f'must be a string such as "{year}.1"')
        return version


OWN_KEYS = ("cycle", "rules_version", "title")  # every file states these itself; they are never inherited


def is_value_table(node: Any) -> bool:
    return isinstance(node, Mapping) and "source" in node


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`: tables merge key by key, value tables and arrays replace."""
    out = dict(base)
    for key, value in override.items():
        inherited = out.get(key)
        if (isinstance(value, Mapping) and isinstance(inherited, Mapping)
                and not is_value_table(value) and not is_value_table(inherited)):
            out[key] = merge(inherited, value)
        else:
            out[key] = value
    return out


def difference(base: Mapping[str, Any], full: Mapping[str, Any]) -> dict[str, Any]:
    """What `full` states that `base` does not: the inverse of `merge` (merge(base, difference) == full when
    `full` has every key of `base`)."""
    out: dict[str, Any] = {}
    for key, value in full.items():
        inherited = base.get(key)
        if (isinstance(value, Mapping) and isinstance(inherited, Mapping)
                and not is_value_table(value) and not is_value_table(inherited)):
            sub = difference(inherited, value)
            if sub:
                out[key] = sub
        elif value != inherited:
            out[key] = value
    return out


def location(loc: tuple[int | str, ...]) -> str:
    """A Pydantic error location as the rule file's dotted key path (list items as [i])."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or part.startswith("function-"):
            continue  # a validator's or a generic's internal name, not a key of the file
        else:
            out = f"{out}.{part}" if out else part
    return out


def validate(complete: Mapping[str, Any], file_name: str) -> RuleFile:
    """The rule file's complete rule set (after `extends`), validated; RulesError names the file and each key."""
    from .rules import RulesError

    try:
        return RuleFile.model_validate(complete)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_url=False):
            key = location(error["loc"])
            message = {"missing": "missing table", "extra_forbidden": "unknown key"}.get(
                error["type"], error["msg"].removeprefix("Value error, "))
            problems.append(f"{key}: {message}" if key else message)
        raise RulesError(f"rules/{file_name}: " + "; ".join(problems)) from None


def _check_factor_keys() -> None:
    from .rules import FACTOR_KEYS

    if tuple(Factors.model_fields) != FACTOR_KEYS:
        raise RuntimeError("rule_files.Factors and rules.FACTOR_KEYS name different factors")


_check_factor_keys()
