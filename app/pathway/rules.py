"""Versioned rule sets, one data file per Match cycle (rules/<year>.toml), loaded and validated at start-up.

Every value in a rule file carries its provenance: `source` and `verified_on`, plus `estimated` when it was
computed from a documented pattern (with the pattern), `heuristic` when it is the service's own advice rather
than published data, and `gap` when no public source was found (the value is then absent, never guessed).
A malformed file raises RulesError naming the file and the key.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, TypeVar

T = TypeVar("T")

RULES_DIR = Path(__file__).with_name("rules")

CONFIDENCE_LEVELS = ("official", "secondary", "third_party", "derived", "heuristic", "gap")
PROVENANCE_KEYS = frozenset(
    {"source", "verified_on", "confidence", "estimated", "heuristic", "gap", "note", "pattern"}
)

# Calendar keys in chronological order; the loader checks that order.
CALENDAR_KEYS: tuple[str, ...] = (
    "eras_open",
    "eras_submit_open",
    "eras_program_review_open",
    "nrmp_registration_open",
    "nrmp_standard_reg_deadline",
    "ranking_open",
    "rol_deadline",
    "match_week_start",
    "soap_start",
    "soap_end",
    "match_day",
    "match_week_end",
    "eras_season_end",
    "residency_start",
)
# Pairs (earlier, later) that must hold in every cycle; equality allowed where the second flag is True.
_CALENDAR_ORDER: tuple[tuple[str, str, bool], ...] = (
    ("eras_open", "eras_submit_open", False),
    ("eras_submit_open", "eras_program_review_open", False),
    ("nrmp_registration_open", "nrmp_standard_reg_deadline", False),
    ("nrmp_standard_reg_deadline", "ranking_open", False),
    ("ranking_open", "rol_deadline", False),
    ("rol_deadline", "match_week_start", False),
    ("match_week_start", "soap_start", True),
    ("soap_start", "soap_end", False),
    ("soap_end", "match_day", False),
    ("match_day", "match_week_end", True),
    ("match_week_end", "eras_season_end", False),
    ("eras_season_end", "residency_start", False),
)

LEAD_TIME_KEYS: tuple[str, ...] = (
    "step_score_release",
    "verification_buffer",
    "oet_results",
    "pathway_processing",
    "credential_verification",
    "step3_graduation_verification",
    "exam_booking",
    "visa_processing",
)

STEP3_DEADLINE_CHOICES = ("application", "rank_deadline", "match_day")

# Soft factors of the readiness model and the parameters each one needs from the data file.
FACTOR_PARAMS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "step2ck": {"full_credit_margin": int},
    "first_attempt": {"penalty_per_failure": (int, float)},
    "years_since_graduation": {"bands": list},
    "usce": {
        "target_hands_on_weeks": int,
        "recency_months": int,
        "share_weeks": (int, float),
        "share_hands_on": (int, float),
        "share_recency": (int, float),
        "share_specialty": (int, float),
    },
    "us_letters": {"target": int, "max_per_program": int},
    "program_list": {"target_programs": int},
    "visa_sponsorship": {"unknown_credit": (int, float)},
    "contiguous_ranks": {},
}
FACTOR_KEYS: tuple[str, ...] = tuple(FACTOR_PARAMS)


class RulesError(ValueError):
    """A rule file is malformed. The message names the file and the key."""


class UnknownCycle(LookupError):
    """No rule set exists for the requested Match year."""

    def __init__(self, year: int, supported: tuple[int, int] | None) -> None:
        self.year = year
        self.supported = supported
        where = f"supported cycles are {supported[0]}-{supported[1]}" if supported else "no cycles are loaded"
        super().__init__(f"no rule set for the {year} Match cycle; {where}")


@dataclass(frozen=True, slots=True)
class Provenance:
    source: str
    verified_on: date
    confidence: str = "official"
    estimated: bool = False
    heuristic: bool = False
    gap: bool = False
    note: str | None = None
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """A value with its provenance; `value` is None only when `provenance.gap` is true."""

    value: T | None
    provenance: Provenance

    @property
    def available(self) -> bool:
        return self.value is not None


@dataclass(frozen=True, slots=True)
class CalendarDate:
    name: str
    on: date
    provenance: Provenance
    time: str | None = None  # "HH:MM", local to time_zone
    time_zone: str | None = None


@dataclass(frozen=True, slots=True)
class Calendar:
    eras_open: CalendarDate
    eras_submit_open: CalendarDate
    eras_program_review_open: CalendarDate
    nrmp_registration_open: CalendarDate
    nrmp_standard_reg_deadline: CalendarDate
    ranking_open: CalendarDate
    rol_deadline: CalendarDate
    match_week_start: CalendarDate
    soap_start: CalendarDate
    soap_end: CalendarDate
    match_day: CalendarDate
    match_week_end: CalendarDate
    eras_season_end: CalendarDate
    residency_start: CalendarDate

    def items(self) -> tuple[CalendarDate, ...]:
        return tuple(getattr(self, key) for key in CALENDAR_KEYS)

    def on(self, name: str) -> date:
        value: CalendarDate = getattr(self, name)
        return value.on


@dataclass(frozen=True, slots=True)
class EffectiveScore:
    score: int | None  # None: the passing score is a gap
    effective_from: date | None
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class RetakeSpacing:
    """USMLE spacing of attempts at the same exam (ECFMG Information Booklet; in force from `effective_from`)."""

    max_attempts_in_window: int  # at most this many attempts at the same exam within `window_months`
    window_months: int
    later_after_first_months: int  # attempts beyond the window's count: this long after the first attempt
    later_after_latest_months: int  # ... and this long after the most recent one
    effective_from: date
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class UsmleRules:
    attempt_limit: Sourced[int]
    attempt_limit_from: date
    previous_attempt_limit: int | None
    step1_pass_fail_from: Sourced[date]
    passing_scores: Mapping[str, tuple[EffectiveScore, ...]]  # step code -> oldest first
    attempt_limit_counts: Sourced[tuple[str, ...]]  # exams whose unpassed attempts count toward the limit
    retake_spacing: RetakeSpacing

    def passing_score(self, step: str, on: date) -> EffectiveScore | None:
        """The passing standard in force on a date (None if the step has no entry in force)."""
        current: EffectiveScore | None = None
        for entry in self.passing_scores.get(step, ()):
            if entry.effective_from is None or entry.effective_from <= on:
                current = entry
        return current

    def attempt_limit_on(self, on: date) -> int | None:
        if on >= self.attempt_limit_from:
            return self.attempt_limit.value
        return self.previous_attempt_limit


@dataclass(frozen=True, slots=True)
class OetMinimum:
    listening: int
    reading: int
    writing: int
    speaking: int


@dataclass(frozen=True, slots=True)
class EcfmgRules:
    required_exams: Sourced[tuple[str, ...]]
    pathways_available: Sourced[bool]
    pathways_application_deadline: Sourced[date]
    oet_minimum: Sourced[OetMinimum]
    oet_earliest_test_date: Sourced[date]
    oet_one_sitting: Sourced[bool]
    exam_window_years: Sourced[int]
    credential_verification: Sourced[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class NrmpRules:
    rol_max_ranks: Sourced[int]
    soap_max_applications: Sourced[int]


@dataclass(frozen=True, slots=True)
class MatchRate:
    year: int
    us_img: float
    non_us_img: float
    population: str
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class LeadTimes:
    step_score_release: Sourced[int]
    verification_buffer: Sourced[int]
    oet_results: Sourced[int]
    pathway_processing: Sourced[int]
    credential_verification: Sourced[int]
    step3_graduation_verification: Sourced[int]
    exam_booking: Sourced[int]
    visa_processing: Sourced[int]

    def days(self, key: str) -> int:
        value: Sourced[int] = getattr(self, key)
        return value.value or 0


@dataclass(frozen=True, slots=True)
class FactorModel:
    key: str
    label: str
    weight: float
    target: str
    params: Mapping[str, Any]
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class ReadinessModel:
    model_version: str
    ready_threshold: int
    on_track_threshold: int
    thresholds_provenance: Provenance
    due_soon_days: int
    competitiveness_window_days: int  # a weak score counts toward at_risk only this close to ERAS submission
    factors: tuple[FactorModel, ...]
    step2ck_reference_default: Sourced[int]
    step2ck_reference_by_specialty: Mapping[str, Sourced[int]]

    def factor(self, key: str) -> FactorModel:
        for factor in self.factors:
            if factor.key == key:
                return factor
        raise KeyError(key)

    def step2ck_reference(self, specialty: str | None) -> Sourced[int]:
        if specialty is not None:
            found = self.step2ck_reference_by_specialty.get(specialty.casefold())
            if found is not None:
                return found
        return self.step2ck_reference_default


@dataclass(frozen=True, slots=True)
class H1bPayment:
    """The proclamation payment on new H-1B petitions for beneficiaries abroad, with its stated end."""

    amount_usd: int
    effective_from: date
    expires_on: date
    provenance: Provenance


@dataclass(frozen=True, slots=True)
class CycleRules:
    year: int
    rules_version: str
    title: str
    file_name: str
    calendar: Calendar
    usmle: UsmleRules
    ecfmg: EcfmgRules
    nrmp: NrmpRules
    h1b_default_step3_deadline: Sourced[str]
    h1b_payment: H1bPayment | None
    match_rate: MatchRate
    lead_times: LeadTimes
    readiness: ReadinessModel

    @property
    def estimated(self) -> bool:
        """True when any calendar date of this cycle was computed from a pattern, not published."""
        return any(item.provenance.estimated for item in self.calendar.items())

    @property
    def model_version(self) -> str:
        return self.readiness.model_version


@dataclass(frozen=True, slots=True)
class RuleBook:
    cycles: Mapping[int, CycleRules]
    directory: str

    @property
    def years(self) -> tuple[int, ...]:
        return tuple(sorted(self.cycles))

    @property
    def supported_range(self) -> tuple[int, int]:
        years = self.years
        return (years[0], years[-1])

    def cycle(self, year: int) -> CycleRules:
        try:
            return self.cycles[year]
        except KeyError:
            raise UnknownCycle(year, self.supported_range if self.cycles else None) from None

    def has(self, year: int) -> bool:
        return year in self.cycles


# ---------------------------------------------------------------------------------------------------------
# Parsing. Each helper gets the file name and a dotted key path so every error names both.


class _Reader:
    def __init__(self, file_name: str) -> None:
        self.file_name = file_name

    def fail(self, key: str, problem: str) -> RulesError:
        return RulesError(f"rules/{self.file_name}: {key}: {problem}")

    def table(self, raw: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = raw.get(key)
        if not isinstance(value, dict):
            raise self.fail(_join(path, key), "missing table" if value is None else "must be a table")
        return value

    def provenance(self, raw: Mapping[str, Any], path: str) -> Provenance:
        source = raw.get("source")
        if not isinstance(source, str) or not source.strip():
            raise self.fail(_join(path, "source"), "every value needs a non-empty source")
        verified_on = raw.get("verified_on")
        if not isinstance(verified_on, date):
            raise self.fail(_join(path, "verified_on"), "every value needs verified_on as a date (YYYY-MM-DD)")
        confidence = raw.get("confidence", "official")
        if confidence not in CONFIDENCE_LEVELS:
            raise self.fail(_join(path, "confidence"), f"must be one of {CONFIDENCE_LEVELS}")
        flags = {}
        for flag in ("estimated", "heuristic", "gap"):
            value = raw.get(flag, False)
            if not isinstance(value, bool):
                raise self.fail(_join(path, flag), "must be true or false")
            flags[flag] = value
        texts: dict[str, str | None] = {}
        for text in ("note", "pattern"):
            value = raw.get(text)
            if value is not None and not isinstance(value, str):
                raise self.fail(_join(path, text), "must be a string")
            texts[text] = value
        if flags["estimated"] and not (texts["pattern"] or texts["note"]):
            raise self.fail(_join(path, "pattern"), "an estimated value must name the pattern it follows")
        if flags["gap"] and not texts["note"]:
            raise self.fail(_join(path, "note"), "a gap must say what is missing in a note")
        return Provenance(
            source=source,
            verified_on=verified_on,
            confidence=confidence,
            estimated=flags["estimated"],
            heuristic=flags["heuristic"],
            gap=flags["gap"],
            note=texts["note"],
            pattern=texts["pattern"],
        )

    def sourced(
        self,
        raw: Mapping[str, Any],
        key: str,
        path: str,
        kind: type | tuple[type, ...],
        *,
        extra_keys: frozenset[str] = frozenset(),
        allow_gap: bool = False,
    ) -> tuple[Sourced[Any], Mapping[str, Any]]:
        where = _join(path, key)
        entry = self.table(raw, key, path)
        return self.sourced_entry(entry, where, kind, extra_keys=extra_keys, allow_gap=allow_gap), entry

    def sourced_entry(
        self,
        entry: Mapping[str, Any],
        where: str,
        kind: type | tuple[type, ...],
        *,
        extra_keys: frozenset[str] = frozenset(),
        allow_gap: bool = False,
    ) -> Sourced[Any]:
        unknown = set(entry) - PROVENANCE_KEYS - {"value"} - extra_keys
        if unknown:
            raise self.fail(where, f"unknown keys {sorted(unknown)}")
        provenance = self.provenance(entry, where)
        if provenance.gap:
            if not allow_gap:
                raise self.fail(where, "this value cannot be a gap")
            if "value" in entry:
                raise self.fail(_join(where, "value"), "a gap must not carry a value")
            return Sourced(None, provenance)
        if "value" not in entry:
            raise self.fail(_join(where, "value"), "missing (mark gap = true with a note if unknown)")
        value = entry["value"]
        if isinstance(value, bool) and kind is not bool and not (isinstance(kind, tuple) and bool in kind):
            raise self.fail(_join(where, "value"), f"must be {_kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.fail(_join(where, "value"), f"must be {_kind_name(kind)}, got {type(value).__name__}")
        return Sourced(value, provenance)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return {"date": "a date", "int": "an integer", "str": "a string", "bool": "true or false"}.get(
        kind.__name__, kind.__name__
    )


def _parse_time(reader: _Reader, entry: Mapping[str, Any], where: str) -> tuple[str | None, str | None]:
    time = entry.get("time")
    zone = entry.get("time_zone")
    if time is not None:
        if not isinstance(time, str) or len(time) != 5 or time[2] != ":" or not time.replace(":", "").isdigit():
            raise reader.fail(_join(where, "time"), 'must be "HH:MM"')
        hours, minutes = int(time[:2]), int(time[3:])
        if hours > 23 or minutes > 59:
            raise reader.fail(_join(where, "time"), 'must be "HH:MM"')
        if not isinstance(zone, str) or "/" not in zone:
            raise reader.fail(_join(where, "time_zone"), 'a time needs an IANA time zone such as "America/New_York"')
    elif zone is not None:
        raise reader.fail(_join(where, "time"), "a time zone needs a time")
    return time, zone


def _parse_calendar(reader: _Reader, raw: Mapping[str, Any], year: int) -> Calendar:
    table = reader.table(raw, "calendar", "")
    unknown = set(table) - set(CALENDAR_KEYS)
    if unknown:
        raise reader.fail("calendar", f"unknown keys {sorted(unknown)}")
    dates: dict[str, CalendarDate] = {}
    for key in CALENDAR_KEYS:
        where = f"calendar.{key}"
        sourced, entry = reader.sourced(
            table, key, "calendar", date, extra_keys=frozenset({"time", "time_zone"})
        )
        time, zone = _parse_time(reader, entry, where)
        on = sourced.value
        assert isinstance(on, date)
        if not date(year - 1, 1, 1) <= on <= date(year, 12, 31):
            raise reader.fail(_join(where, "value"), f"{on} is outside the {year} cycle ({year - 1}-{year})")
        dates[key] = CalendarDate(name=key, on=on, provenance=sourced.provenance, time=time, time_zone=zone)
    for earlier, later, equal_ok in _CALENDAR_ORDER:
        a, b = dates[earlier].on, dates[later].on
        if a > b or (a == b and not equal_ok):
            raise reader.fail(
                f"calendar.{later}", f"{b} must come after calendar.{earlier} ({a})"
            )
    if dates["rol_deadline"].time is None:
        raise reader.fail("calendar.rol_deadline.time", "the rank order list deadline needs its time and time zone")
    return Calendar(**dates)


def _parse_usmle(reader: _Reader, raw: Mapping[str, Any]) -> UsmleRules:
    table = reader.table(raw, "usmle", "")
    limit, limit_entry = reader.sourced(
        table, "attempt_limit", "usmle", int, extra_keys=frozenset({"effective_from", "previous_value"})
    )
    limit_from = limit_entry.get("effective_from")
    if not isinstance(limit_from, date):
        raise reader.fail("usmle.attempt_limit.effective_from", "must be a date")
    previous = limit_entry.get("previous_value")
    if previous is not None and not isinstance(previous, int):
        raise reader.fail("usmle.attempt_limit.previous_value", "must be an integer")
    pass_fail, _ = reader.sourced(table, "step1_pass_fail_from", "usmle", date)
    scores_table = reader.table(table, "passing_scores", "usmle")
    scores: dict[str, tuple[EffectiveScore, ...]] = {}
    for step in ("usmle_step1", "usmle_step2ck", "usmle_step3"):
        entries = scores_table.get(step)
        where = f"usmle.passing_scores.{step}"
        if not isinstance(entries, list) or not entries:
            raise reader.fail(where, "must be a non-empty array of tables")
        parsed: list[EffectiveScore] = []
        for i, entry in enumerate(entries):
            item_where = f"{where}[{i}]"
            if not isinstance(entry, dict):
                raise reader.fail(item_where, "must be a table")
            sourced = reader.sourced_entry(
                entry, item_where, int, extra_keys=frozenset({"effective_from"}), allow_gap=True
            )
            effective = entry.get("effective_from")
            if effective is not None and not isinstance(effective, date):
                raise reader.fail(_join(item_where, "effective_from"), "must be a date")
            if parsed and (effective is None or (parsed[-1].effective_from or date.min) >= effective):
                raise reader.fail(_join(item_where, "effective_from"), "entries must be in increasing date order")
            parsed.append(EffectiveScore(sourced.value, effective, sourced.provenance))
        scores[step] = tuple(parsed)
    counts, _ = reader.sourced(table, "attempt_limit_counts", "usmle", list)
    if not counts.value or not all(isinstance(code, str) for code in counts.value):
        raise reader.fail("usmle.attempt_limit_counts.value", "must be a non-empty list of milestone codes")
    return UsmleRules(
        attempt_limit=limit,
        attempt_limit_from=limit_from,
        previous_attempt_limit=previous,
        step1_pass_fail_from=pass_fail,
        passing_scores=MappingProxyType(scores),
        attempt_limit_counts=Sourced(tuple(counts.value), counts.provenance),
        retake_spacing=_parse_retake_spacing(reader, table),
    )


_SPACING_KEYS = ("max_attempts_in_window", "window_months", "later_after_first_months", "later_after_latest_months")


def _parse_retake_spacing(reader: _Reader, table: Mapping[str, Any]) -> RetakeSpacing:
    spacing, entry = reader.sourced(table, "retake_spacing", "usmle", dict, extra_keys=frozenset({"effective_from"}))
    value = spacing.value or {}
    if set(value) != set(_SPACING_KEYS) or not all(
        isinstance(value[k], int) and not isinstance(value[k], bool) and value[k] > 0 for k in _SPACING_KEYS
    ):
        raise reader.fail("usmle.retake_spacing.value", f"needs a positive integer for each of {_SPACING_KEYS}")
    effective = entry.get("effective_from")
    if not isinstance(effective, date):
        raise reader.fail("usmle.retake_spacing.effective_from", "must be a date")
    return RetakeSpacing(**{k: value[k] for k in _SPACING_KEYS}, effective_from=effective,
                         provenance=spacing.provenance)


def _parse_ecfmg(reader: _Reader, raw: Mapping[str, Any]) -> EcfmgRules:
    table = reader.table(raw, "ecfmg", "")
    required, _ = reader.sourced(table, "required_exams", "ecfmg", list)
    if not all(isinstance(code, str) for code in required.value or ()):
        raise reader.fail("ecfmg.required_exams.value", "must be a list of milestone codes")
    oet, _ = reader.sourced(table, "oet_minimum", "ecfmg", dict)
    oet_value = oet.value or {}
    subtests = ("listening", "reading", "writing", "speaking")
    if set(oet_value) != set(subtests) or not all(
        isinstance(oet_value[s], int) and not isinstance(oet_value[s], bool) for s in subtests
    ):
        raise reader.fail("ecfmg.oet_minimum.value", f"must give an integer score for each of {subtests}")
    credentials, _ = reader.sourced(table, "credential_verification", "ecfmg", list)
    return EcfmgRules(
        required_exams=Sourced(tuple(required.value or ()), required.provenance),
        pathways_available=reader.sourced(table, "pathways_available", "ecfmg", bool)[0],
        pathways_application_deadline=reader.sourced(
            table, "pathways_application_deadline", "ecfmg", date, allow_gap=True
        )[0],
        oet_minimum=Sourced(OetMinimum(**oet_value), oet.provenance),
        oet_earliest_test_date=reader.sourced(table, "oet_earliest_test_date", "ecfmg", date)[0],
        oet_one_sitting=reader.sourced(table, "oet_one_sitting", "ecfmg", bool)[0],
        exam_window_years=reader.sourced(table, "exam_window_years", "ecfmg", int)[0],
        credential_verification=Sourced(tuple(credentials.value or ()), credentials.provenance),
    )


def _parse_match_rate(reader: _Reader, raw: Mapping[str, Any], year: int) -> MatchRate:
    sourced, entry = reader.sourced(raw, "match_rate", "", dict, extra_keys=frozenset({"population"}))
    value = sourced.value or {}
    rate_year = value.get("year")
    if not isinstance(rate_year, int) or rate_year >= year:
        raise reader.fail("match_rate.value.year", f"must be a Match year before {year}")
    rates: dict[str, float] = {}
    for key in ("us_img", "non_us_img"):
        rate = value.get(key)
        if not isinstance(rate, float) or not 0.0 <= rate <= 1.0:
            raise reader.fail(f"match_rate.value.{key}", "must be a rate between 0.0 and 1.0")
        rates[key] = rate
    population = entry.get("population")
    if not isinstance(population, str):
        raise reader.fail("match_rate.population", "must say which applicants the rate is over")
    return MatchRate(rate_year, rates["us_img"], rates["non_us_img"], population, sourced.provenance)


def _parse_lead_times(reader: _Reader, raw: Mapping[str, Any]) -> LeadTimes:
    table = reader.table(raw, "lead_times", "")
    unknown = set(table) - set(LEAD_TIME_KEYS)
    if unknown:
        raise reader.fail("lead_times", f"unknown keys {sorted(unknown)}")
    values: dict[str, Sourced[int]] = {}
    for key in LEAD_TIME_KEYS:
        sourced, _ = reader.sourced(table, key, "lead_times", int)
        if (sourced.value or 0) < 0 or (sourced.value or 0) > 366:
            raise reader.fail(f"lead_times.{key}.value", "must be a number of days between 0 and 366")
        values[key] = sourced
    return LeadTimes(**values)


def _parse_readiness(reader: _Reader, raw: Mapping[str, Any]) -> ReadinessModel:
    table = reader.table(raw, "readiness", "")
    model_version = table.get("model_version")
    if not isinstance(model_version, str) or not model_version:
        raise reader.fail("readiness.model_version", "must be a non-empty string")
    thresholds, _ = reader.sourced(table, "status_thresholds", "readiness", dict)
    ready = (thresholds.value or {}).get("ready")
    on_track = (thresholds.value or {}).get("on_track")
    if not (isinstance(ready, int) and isinstance(on_track, int) and 0 <= on_track <= ready <= 100):
        raise reader.fail("readiness.status_thresholds.value", "needs integers 0 <= on_track <= ready <= 100")
    due_soon, _ = reader.sourced(table, "due_soon_days", "readiness", int)
    window, _ = reader.sourced(table, "competitiveness_window_days", "readiness", int)
    if not 0 <= (window.value or 0) <= 366:
        raise reader.fail("readiness.competitiveness_window_days.value", "must be a number of days between 0 and 366")
    factors_table = reader.table(table, "factors", "readiness")
    unknown = set(factors_table) - set(FACTOR_KEYS)
    if unknown:
        raise reader.fail("readiness.factors", f"unknown factors {sorted(unknown)}")
    factors: list[FactorModel] = []
    for key in FACTOR_KEYS:
        where = f"readiness.factors.{key}"
        entry = reader.table(factors_table, key, "readiness.factors")
        extra = set(entry) - PROVENANCE_KEYS - {"label", "weight", "target", "params"}
        if extra:
            raise reader.fail(where, f"unknown keys {sorted(extra)}")
        provenance = reader.provenance(entry, where)
        label, weight, target = entry.get("label"), entry.get("weight"), entry.get("target")
        if not isinstance(label, str) or not label:
            raise reader.fail(_join(where, "label"), "must be a non-empty string")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise reader.fail(_join(where, "weight"), "must be a number >= 0")
        if not isinstance(target, str):
            raise reader.fail(_join(where, "target"), "must be a string describing the target")
        params = entry.get("params", {})
        if not isinstance(params, dict):
            raise reader.fail(_join(where, "params"), "must be a table")
        for param, kind in FACTOR_PARAMS[key].items():
            value = params.get(param)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise reader.fail(f"{where}.params.{param}", f"missing or not {_kind_name(kind)}")
        if key == "years_since_graduation":
            _check_bands(reader, params["bands"], f"{where}.params.bands")
        factors.append(FactorModel(key, label, float(weight), target, MappingProxyType(dict(params)), provenance))
    if sum(f.weight for f in factors) <= 0:
        raise reader.fail("readiness.factors", "the weights must not all be zero")
    refs = reader.table(table, "references", "readiness")
    default, _ = reader.sourced(refs, "step2ck", "readiness.references", int, allow_gap=True)
    by_specialty_raw = refs.get("step2ck_by_specialty", {})
    if not isinstance(by_specialty_raw, dict):
        raise reader.fail("readiness.references.step2ck_by_specialty", "must be a table")
    by_specialty: dict[str, Sourced[int]] = {}
    for specialty, entry in sorted(by_specialty_raw.items()):
        where = f"readiness.references.step2ck_by_specialty.{specialty}"
        if not isinstance(entry, dict):
            raise reader.fail(where, "must be a table")
        by_specialty[specialty.casefold()] = reader.sourced_entry(entry, where, int, allow_gap=True)
    return ReadinessModel(
        model_version=model_version,
        ready_threshold=ready,
        on_track_threshold=on_track,
        thresholds_provenance=thresholds.provenance,
        due_soon_days=due_soon.value or 0,
        competitiveness_window_days=window.value or 0,
        factors=tuple(factors),
        step2ck_reference_default=default,
        step2ck_reference_by_specialty=MappingProxyType(by_specialty),
    )


def _check_bands(reader: _Reader, bands: list[Any], where: str) -> None:
    previous = -1.0
    for i, band in enumerate(bands):
        if not isinstance(band, dict) or set(band) != {"max_years", "credit"}:
            raise reader.fail(f"{where}[{i}]", "each band needs max_years and credit")
        max_years, credit = band["max_years"], band["credit"]
        if not isinstance(max_years, int | float) or max_years <= previous:
            raise reader.fail(f"{where}[{i}].max_years", "must increase from band to band")
        if not isinstance(credit, int | float) or not 0 <= credit <= 1:
            raise reader.fail(f"{where}[{i}].credit", "must be between 0 and 1")
        previous = float(max_years)


def parse_cycle(raw: Mapping[str, Any], file_name: str) -> CycleRules:
    """Validate one rule file's parsed TOML; raise RulesError naming the file and the key."""
    reader = _Reader(file_name)
    year = raw.get("cycle")
    if not isinstance(year, int) or isinstance(year, bool):
        raise reader.fail("cycle", "must be the Match year as an integer")
    stem = file_name.removesuffix(".toml")
    if stem != str(year):
        raise reader.fail("cycle", f"{year} does not match the file name")
    rules_version = raw.get("rules_version")
    if not isinstance(rules_version, str) or not rules_version.startswith(f"{year}."):
        raise reader.fail("rules_version", f'must be a string such as "{year}.1"')
    title = raw.get("title")
    if not isinstance(title, str):
        raise reader.fail("title", "must be a string")
    known = {"cycle", "rules_version", "title", "calendar", "usmle", "ecfmg", "nrmp", "h1b", "match_rate",
             "lead_times", "readiness"}
    unknown = set(raw) - known
    if unknown:
        raise reader.fail("", f"unknown top-level keys {sorted(unknown)}")
    nrmp = reader.table(raw, "nrmp", "")
    h1b = reader.table(raw, "h1b", "")
    step3_deadline, _ = reader.sourced(h1b, "default_step3_deadline", "h1b", str)
    if step3_deadline.value not in STEP3_DEADLINE_CHOICES:
        raise reader.fail("h1b.default_step3_deadline.value", f"must be one of {STEP3_DEADLINE_CHOICES}")
    payment: H1bPayment | None = None
    if "proclamation_payment" in h1b:
        paid, _ = reader.sourced(h1b, "proclamation_payment", "h1b", dict)
        value = paid.value or {}
        amount, start, end = value.get("amount_usd"), value.get("effective_from"), value.get("expires_on")
        if set(value) != {"amount_usd", "effective_from", "expires_on"} or not (
            isinstance(amount, int) and isinstance(start, date) and isinstance(end, date) and start < end
        ):
            raise reader.fail("h1b.proclamation_payment.value",
                              "needs amount_usd (integer), effective_from and a later expires_on (dates)")
        payment = H1bPayment(amount, start, end, paid.provenance)
    return CycleRules(
        year=year,
        rules_version=rules_version,
        title=title,
        file_name=file_name,
        calendar=_parse_calendar(reader, raw, year),
        usmle=_parse_usmle(reader, raw),
        ecfmg=_parse_ecfmg(reader, raw),
        nrmp=NrmpRules(
            rol_max_ranks=reader.sourced(nrmp, "rol_max_ranks", "nrmp", int)[0],
            soap_max_applications=reader.sourced(nrmp, "soap_max_applications", "nrmp", int)[0],
        ),
        h1b_default_step3_deadline=step3_deadline,
        h1b_payment=payment,
        match_rate=_parse_match_rate(reader, raw, year),
        lead_times=_parse_lead_times(reader, raw),
        readiness=_parse_readiness(reader, raw),
    )


def load_file(path: Path) -> CycleRules:
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules/{path.name}: not valid TOML: {exc}") from exc
    return parse_cycle(raw, path.name)


def _load_directory(directory: Path) -> RuleBook:
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise RulesError(f"no rule files (*.toml) in {directory.name}/")
    cycles: dict[int, CycleRules] = {}
    for path in files:
        rules = load_file(path)
        cycles[rules.year] = rules
    return RuleBook(cycles=MappingProxyType(cycles), directory=directory.name)


@cache
def _default_rulebook() -> RuleBook:
    return _load_directory(RULES_DIR)


def load_rulebook(directory: Path | str | None = None) -> RuleBook:
    """The rule book: all cycles in `directory` (default: the packaged rules, loaded once and cached)."""
    if directory is None:
        return _default_rulebook()
    return _load_directory(Path(directory))
