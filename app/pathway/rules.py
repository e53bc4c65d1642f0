"""Versioned rule sets, one data file per Match cycle (rules/<year>.toml), loaded and validated at start-up.

Every value in a rule file carries its provenance: `source` and `verified_on`, plus `estimated` when it was
computed from a documented pattern (with the pattern), `heuristic` when it is the service's own advice rather
than published data, and `gap` when no public source was found (the value is then absent, never guessed).
The file format is the Pydantic models of rule_files.py; a file may `extends` an earlier cycle and state only
what differs. A malformed file raises RulesError naming the file and the key.

The packaged files can be overridden without a release: a folder of rule files (the RULES_DIR setting) replaces
the packaged file of each cycle it holds and may add cycles; each cycle says which one it came from.

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
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

if TYPE_CHECKING:  # the file models (Pydantic) are imported when files are loaded, not by the engine's users
    from . import rule_files as rf

T = TypeVar("T")

RULES_DIR = Path(__file__).with_name("rules")
RuleSource = Literal["package", "folder"]

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
    "statement_of_need",
)

# Soft factors of the readiness model, in the order they are scored and shown.
FACTOR_KEYS: tuple[str, ...] = (
    "step2ck", "first_attempt", "years_since_graduation", "usce", "us_letters", "program_list", "visa_sponsorship",
    "contiguous_ranks",
)


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

    @property
    def given(self) -> T:
        """The value of an entry the file format does not allow to be a gap (no fallback copy in code)."""
        if self.value is None:
            raise RulesError(f"a required rule value is missing (source: {self.provenance.source})")
        return self.value


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
class AttemptLimit:
    """The USMLE attempt limit as one value: how many unpassed attempts, counted over which exams, from when."""

    max_attempts_per_step: int
    effective_from: date
    steps: tuple[str, ...]
    source: str
    verified_on: date


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

    def limit(self) -> AttemptLimit:
        return AttemptLimit(self.attempt_limit.value or 0, self.attempt_limit_from,
                            self.attempt_limit_counts.value or (), self.attempt_limit.provenance.source,
                            self.attempt_limit.provenance.verified_on)


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
    pathway_valid_from: Sourced[date]  # an accepted Pathway counts for this Match if accepted on or after
    pathways_after_step2cs_failure: Sourced[tuple[str, ...]]  # the Pathways open to one who ever failed Step 2 CS


@dataclass(frozen=True, slots=True)
class NrmpRules:
    rol_max_ranks: Sourced[int]
    soap_max_applications: Sourced[int]
    weekend_deadlines: Sourced[str]  # how a deadline on a Saturday or Sunday is treated (None: a gap)


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
    statement_of_need: Sourced[int]

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
    source: RuleSource = "package"
    extends: int | None = None

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

    def attempt_limit(self) -> AttemptLimit:
        """The limit of the newest cycle: the one to apply to an attempt recorded today."""
        return self.cycles[self.years[-1]].usmle.limit()

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
# Loading: TOML -> `extends` resolved -> validated by the models of rule_files.py -> the engine's types.
# Every error names the file and the key.


def _rule_error(file_name: str, key: str, problem: str) -> RulesError:
    return RulesError(f"rules/{file_name}: {key}: {problem}" if key else f"rules/{file_name}: {problem}")


def _provenance(entry: rf.Provenance) -> Provenance:
    return Provenance(entry.source, entry.verified_on, entry.confidence, entry.estimated, entry.heuristic,
                      entry.gap, entry.note, entry.pattern)


def _sourced(entry: rf.Value[Any], value: Any = None) -> Sourced[Any]:
    return Sourced(entry.value if value is None else value, _provenance(entry))


def _calendar(model: rf.Calendar, year: int, file_name: str) -> Calendar:
    dates: dict[str, CalendarDate] = {}
    for key in CALENDAR_KEYS:
        entry: rf.CalendarEntry = getattr(model, key)
        on = entry.value
        assert on is not None
        if not date(year - 1, 1, 1) <= on <= date(year, 12, 31):
            raise _rule_error(file_name, f"calendar.{key}.value",
                              f"{on} is outside the {year} cycle ({year - 1}-{year})")
        dates[key] = CalendarDate(key, on, _provenance(entry), entry.time, entry.time_zone)
    for earlier, later, equal_ok in _CALENDAR_ORDER:
        a, b = dates[earlier].on, dates[later].on
        if a > b or (a == b and not equal_ok):
            raise _rule_error(file_name, f"calendar.{later}", f"{b} must come after calendar.{earlier} ({a})")
    if dates["rol_deadline"].time is None:
        raise _rule_error(file_name, "calendar.rol_deadline.time",
                    "the rank order list deadline needs its time and time zone")
    return Calendar(**dates)


def _usmle(model: rf.Usmle) -> UsmleRules:
    from . import rule_files as rf

    limit = model.attempt_limit
    scores = {
        step: tuple(EffectiveScore(e.value, e.effective_from, _provenance(e))
                    for e in getattr(model.passing_scores, step))
        for step in rf.PassingScores.model_fields
    }
    spacing = model.retake_spacing
    assert spacing.value is not None
    return UsmleRules(
        attempt_limit=_sourced(limit),
        attempt_limit_from=limit.effective_from,
        previous_attempt_limit=limit.previous_value,
        step1_pass_fail_from=_sourced(model.step1_pass_fail_from),
        passing_scores=MappingProxyType(scores),
        attempt_limit_counts=_sourced(model.attempt_limit_counts, tuple(model.attempt_limit_counts.value or ())),
        retake_spacing=RetakeSpacing(**spacing.value.model_dump(), effective_from=spacing.effective_from,
                                     provenance=_provenance(spacing)),
    )


def _ecfmg(model: rf.Ecfmg) -> EcfmgRules:
    oet = model.oet_minimum.value
    assert oet is not None
    validity = model.pathway_validity
    return EcfmgRules(
        required_exams=_sourced(model.required_exams, tuple(model.required_exams.value or ())),
        pathways_available=_sourced(model.pathways_available),
        pathways_application_deadline=_sourced(model.pathways_application_deadline),
        oet_minimum=_sourced(model.oet_minimum, OetMinimum(**oet.model_dump())),
        oet_earliest_test_date=_sourced(model.oet_earliest_test_date),
        oet_one_sitting=_sourced(model.oet_one_sitting),
        exam_window_years=_sourced(model.exam_window_years),
        credential_verification=_sourced(model.credential_verification,
                                         tuple(model.credential_verification.value or ())),
        pathway_valid_from=Sourced(validity.value.accepted_on_or_after if validity.value else None,
                                   _provenance(validity)),
        pathways_after_step2cs_failure=_sourced(
            model.pathways_after_step2cs_failure,
            tuple(model.pathways_after_step2cs_failure.value) if model.pathways_after_step2cs_failure.value else None),
    )


def _match_rate(model: rf.MatchRateEntry, year: int, file_name: str) -> MatchRate:
    rates = model.value
    assert rates is not None
    if rates.year >= year:
        raise _rule_error(file_name, "match_rate.value.year", f"must be a Match year before {year}")
    return MatchRate(rates.year, rates.us_img, rates.non_us_img, model.population, _provenance(model))


def _readiness(model: rf.Readiness) -> ReadinessModel:
    thresholds = model.status_thresholds.value
    assert thresholds is not None
    factors = tuple(
        FactorModel(key, f.label, float(f.weight), f.target, MappingProxyType(f.params.model_dump()), _provenance(f))
        for key in FACTOR_KEYS
        for f in (getattr(model.factors, key),)
    )
    return ReadinessModel(
        model_version=model.model_version,
        ready_threshold=thresholds.ready,
        on_track_threshold=thresholds.on_track,
        thresholds_provenance=_provenance(model.status_thresholds),
        due_soon_days=model.due_soon_days.value or 0,
        competitiveness_window_days=model.competitiveness_window_days.value or 0,
        factors=factors,
        step2ck_reference_default=_sourced(model.references.step2ck),
        step2ck_reference_by_specialty=MappingProxyType({
            specialty.casefold(): _sourced(entry)
            for specialty, entry in sorted(model.references.step2ck_by_specialty.items())
        }),
    )


def build_cycle(model: rf.RuleFile, file_name: str, source: RuleSource = "package",
                extends: int | None = None) -> CycleRules:
    """The engine's view of one validated rule file; raises RulesError for what spans several values."""
    year = model.cycle
    if file_name.removesuffix(".toml") != str(year):
        raise _rule_error(file_name, "cycle", f"{year} does not match the file name")
    if sum(f.weight for f in (getattr(model.readiness.factors, k) for k in FACTOR_KEYS)) <= 0:
        raise _rule_error(file_name, "readiness.factors", "the weights must not all be zero")
    payment = model.h1b.proclamation_payment
    return CycleRules(
        year=year,
        rules_version=model.rules_version,
        title=model.title,
        file_name=file_name,
        calendar=_calendar(model.calendar, year, file_name),
        usmle=_usmle(model.usmle),
        ecfmg=_ecfmg(model.ecfmg),
        nrmp=NrmpRules(
            rol_max_ranks=_sourced(model.nrmp.rol_max_ranks),
            soap_max_applications=_sourced(model.nrmp.soap_max_applications),
            weekend_deadlines=_sourced(model.nrmp.weekend_deadlines),
        ),
        h1b_default_step3_deadline=_sourced(model.h1b.default_step3_deadline),
        h1b_payment=None if payment is None or payment.value is None else H1bPayment(
            payment.value.amount_usd, payment.value.effective_from, payment.value.expires_on, _provenance(payment)
        ),
        match_rate=_match_rate(model.match_rate, year, file_name),
        lead_times=LeadTimes(**{key: _sourced(getattr(model.lead_times, key)) for key in LEAD_TIME_KEYS}),
        readiness=_readiness(model.readiness),
        source=source,
        extends=extends,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules/{path.name}: not valid TOML: {exc}") from exc


def resolve(raw: Mapping[str, Any], file_name: str, others: Mapping[int, Mapping[str, Any]],
            _seen: tuple[int, ...] = ()) -> dict[str, Any]:
    """The complete rule set a file states: its own keys on top of the cycle it `extends` (recursively)."""
    from . import rule_files as rf

    own = dict(raw)
    parent = own.pop("extends", None)
    if parent is None:
        return own
    year = own.get("cycle")
    if not isinstance(parent, int) or isinstance(parent, bool) or not isinstance(year, int) or parent >= year:
        raise _rule_error(file_name, "extends", "must name an earlier Match year than `cycle`")
    missing = [key for key in rf.OWN_KEYS if key not in own]
    if missing:
        raise _rule_error(file_name, missing[0], "a file that extends another still states its own cycle, "
                                           "rules_version and title")
    if parent not in others or parent in _seen:
        raise _rule_error(file_name, "extends", f"no rule file for {parent} to extend")
    base = resolve(others[parent], f"{parent}.toml", others, (*_seen, year))
    return rf.merge(base, own)


def parse_cycle(raw: Mapping[str, Any], file_name: str, others: Mapping[int, Mapping[str, Any]] | None = None,
                source: RuleSource = "package") -> CycleRules:
    """Validate one rule file's parsed TOML (with the files it may extend); raise RulesError naming the file and
    the key."""
    from . import rule_files as rf

    model = rf.validate(resolve(raw, file_name, others or {}), file_name)
    parent = raw.get("extends")
    return build_cycle(model, file_name, source, parent if isinstance(parent, int) else None)


def load_file(path: Path) -> CycleRules:
    return parse_cycle(_read_toml(path), path.name)


def _raw_files(directory: Path) -> dict[int, tuple[str, dict[str, Any]]]:
    out: dict[int, tuple[str, dict[str, Any]]] = {}
    for path in sorted(directory.glob("*.toml")):
        raw = _read_toml(path)
        year = raw.get("cycle")
        if not isinstance(year, int) or isinstance(year, bool):
            raise _rule_error(path.name, "cycle", "must be the Match year as an integer")
        if year in out:
            raise _rule_error(path.name, "cycle", f"{year} is also stated by {out[year][0]}")
        out[year] = (path.name, raw)
    return out


def _book(files: Mapping[int, tuple[str, dict[str, Any], RuleSource]], directory: str) -> RuleBook:
    """Parse every file against the others; a cycle counts as from the folder when it, or a cycle it extends,
    is a folder file."""
    raws = {year: raw for year, (_, raw, _) in files.items()}

    def source(year: int) -> RuleSource:
        seen: set[int] = set()
        while year in files and year not in seen:
            seen.add(year)
            if files[year][2] == "folder":
                return "folder"
            parent = files[year][1].get("extends")
            if not isinstance(parent, int):
                break
            year = parent
        return "package"

    cycles = {year: parse_cycle(raw, name, raws, source(year)) for year, (name, raw, _) in sorted(files.items())}
    return RuleBook(cycles=MappingProxyType(cycles), directory=directory)


def _load_directory(directory: Path) -> RuleBook:
    """A folder on its own; a file may extend a cycle of the packaged set that the folder does not hold."""
    found = _raw_files(directory)
    if not found:
        raise RulesError(f"no rule files (*.toml) in {directory.name}/")
    if directory.resolve() == RULES_DIR.resolve():
        return _book({y: (n, r, "package") for y, (n, r) in found.items()}, directory.name)
    packaged = {y: raw for y, (_, raw) in _raw_files(RULES_DIR).items()}
    raws = {**packaged, **{y: raw for y, (_, raw) in found.items()}}
    cycles = {year: parse_cycle(raw, name, raws, "folder") for year, (name, raw) in sorted(found.items())}
    return RuleBook(cycles=MappingProxyType(cycles), directory=directory.name)


@cache
def _default_rulebook() -> RuleBook:
    return _load_directory(RULES_DIR)


@cache
def _overlaid_rulebook(folder: str) -> RuleBook:
    path = Path(folder)
    found = _raw_files(path) if path.is_dir() else None
    if not found:
        raise RulesError(f"RULES_DIR {folder}: no rule files (*.toml) in that folder")
    files: dict[int, tuple[str, dict[str, Any], RuleSource]] = {
        y: (n, r, "package") for y, (n, r) in _raw_files(RULES_DIR).items()
    }
    files.update({y: (n, r, "folder") for y, (n, r) in found.items()})
    return _book(files, f"{RULES_DIR.name}/ overridden by {path.name}/")


def load_rulebook(directory: Path | str | None = None) -> RuleBook:
    """The rule book: all cycles in `directory` (default: the packaged rules, loaded once and cached)."""
    if directory is None:
        return _default_rulebook()
    return _load_directory(Path(directory))


def active_rulebook(rules_dir: str | None = None) -> RuleBook:
    """The rule book the service uses: the packaged files, each cycle replaced (and cycles added) by the files of
    `rules_dir` when it is set. Loaded once per folder."""
    if not rules_dir:
        return _default_rulebook()
    return _overlaid_rulebook(str(Path(rules_dir).resolve()))


def differences(base: RuleBook, other: RuleBook) -> list[str]:
    """What `other` changes against `base`, one line per changed key path (for `python -m app rules check`)."""
    lines: list[str] = []
    for year in sorted(set(base.years) | set(other.years)):
        if year not in base.cycles:
            lines.append(f"{year}: new cycle ({other.cycles[year].rules_version})")
            continue
        if year not in other.cycles:
            continue
        a, b = _flatten(base.cycles[year]), _flatten(other.cycles[year])
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                lines.append(f"{year}: {key}: {a.get(key, '(none)')} -> {b.get(key, '(none)')}")
    return lines


def _flatten(rules: CycleRules) -> dict[str, Any]:
    from dataclasses import fields, is_dataclass

    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if is_dataclass(node) and not isinstance(node, type):
            for f in fields(node):
                walk(f"{prefix}.{f.name}" if prefix else f.name, getattr(node, f.name))
        elif isinstance(node, Mapping):
            for key in node:
                walk(f"{prefix}.{key}", node[key])
        elif isinstance(node, tuple) and node and all(is_dataclass(x) for x in node):
            for i, item in enumerate(node):
                walk(f"{prefix}[{i}]", item)
        else:
            out[prefix] = node

    walk("", rules)
    for key in ("file_name", "source", "extends"):
        out.pop(key, None)
    return out
