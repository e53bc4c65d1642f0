"""HTTP response models for the pathway results, and the what-if parameters.

Each *Public model mirrors a result dataclass field for field; `from_result` converts one. Dates are `date`,
fields snake_case, and every computed result carries `rules_version` and `as_of` (readiness also
`model_version`).
"""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from .facts import WhatIf
from .results import (
    CohortRow,
    NextStepResult,
    ReadinessResult,
    ScreeningResult,
    TimelineResult,
)
from .rules import CycleRules, RuleBook
from .timeline import CALENDAR_LABELS

Severity = Literal["on_track", "due_soon", "overdue", "blocks_cycle"]
ReadinessStatus = Literal["not_ready", "at_risk", "on_track", "ready"]
RulesSource = Literal["package", "folder"]
RULES_SOURCE_DESCRIPTION = (
    "Where the rule set `rules_version` came from: `package`, the rule files released with the service, or "
    "`folder`, the operator's RULES_DIR (a file there, or a cycle that extends one)."
)
ReadinessStage = Literal["before_application_season", "application_season", "interviews_and_ranking", "match_week",
                         "matched", "unmatched", "in_residency"]
STATUS_DESCRIPTION = (
    "One meaning per status. `not_ready`: a hard blocker is unmet; the cycle cannot be reached unless the candidate "
    "acts by the blocker's `resolvable_by` date (or at all, when it has none). `at_risk`: the cycle is reachable, "
    "but a required step is past its latest safe date or within the rule file's `due_soon_days` of it, or the "
    "checklist score is below the `on_track` threshold within `competitiveness_window_days` of ERAS submission "
    "opening (both values are data, per cycle); an applicant who is unmatched and in SOAP is also at_risk. "
    "`on_track`: every remaining required step fits before its latest safe date; early in the road a low score "
    "is expected and does not make the status at_risk. `ready`: everything this stage needs is done (before "
    "ranking closes: the hard gates met and the score at or above the `ready` threshold; after it: the stage's "
    "checklist done, e.g. ECFMG certification and the visa once matched)."
)
STAGE_DESCRIPTION = (
    "Where the candidate is on the road for this cycle: before_application_season (before ERAS opens), "
    "application_season (until programs start reviewing), interviews_and_ranking (until the rank order list "
    "deadline), match_week (Match Week and SOAP), matched (until residency starts), unmatched (after SOAP; plan "
    "the next cycle) or in_residency. From match_week on the competitiveness factors are not scored "
    "(`credit` null) and `score` is the share of the stage's checklist done."
)
GateStatus = Literal["met", "unmet", "pending"]
EntryStatus = Literal["eligible", "excluded", "unknown"]
CriterionOutcome = Literal["pass", "fail", "pending", "unpublished"]
StepKind = Literal["exam", "task", "event"]
StepStatus = Literal["todo", "scheduled", "in_progress"]
ApplicantType = Literal["us_img", "non_us_img"]


class _Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DeadlineRefPublic(_Public):
    name: str = Field(description="Calendar key (e.g. rol_deadline) or derived limit (ecfmg_exam_window).")
    on: date
    estimated: bool = Field(description="The date was computed from a documented pattern, not published.")


class StepPublic(_Public):
    code: str
    title: str
    kind: StepKind
    status: StepStatus
    scheduled_on: date | None
    required: bool
    gate: str
    why: str
    unblocks: list[str]
    due_by: date | None = Field(description="Latest safe date to take the exam or submit the application.")
    deadline: DeadlineRefPublic | None
    lead_days: int
    recommended_by: date | None
    available_from: date | None
    severity: Severity


class BlockedStepPublic(_Public):
    code: str
    title: str
    required: bool
    waits_on: list[str]
    opens_on: date | None
    due_by: date | None
    deadline: DeadlineRefPublic | None


class CompletedStepPublic(_Public):
    code: str
    title: str
    completed_on: date | None
    note: str | None


class BlockerPublic(_Public):
    code: str = Field(description="Stable reason code, e.g. attempt_limit_reached.")
    detail: str
    milestone: str | None
    milestones: list[str]
    permanent: bool
    resolvable_by: date | None
    blocks_cycle: bool


class NoticePublic(_Public):
    code: str
    detail: str
    milestone: str | None


class NextStepPublic(_Public):
    cycle: int
    planning_cycle: int
    as_of: date
    rules_version: str
    rules_source: RulesSource = Field(description=RULES_SOURCE_DESCRIPTION)
    planning_rules_version: str
    next_step: StepPublic | None
    also_available: list[StepPublic]
    blocked: list[BlockedStepPublic]
    completed: list[CompletedStepPublic]
    blockers: list[BlockerPublic]
    warnings: list[NoticePublic]
    cycle_reachable: bool
    earliest_feasible_cycle: int | None
    deciding_gate: BlockerPublic | None

    @classmethod
    def from_result(cls, result: NextStepResult) -> Self:
        return cls.model_validate(result)


class GatePublic(_Public):
    code: str
    label: str
    status: GateStatus
    due_by: date | None
    why: str
    blocker: str | None


class FactorPublic(_Public):
    key: str
    label: str
    value: float | None
    value_text: str
    target: str
    weight: float
    effective_weight: float
    credit: float | None
    contribution: float
    advice: str
    heuristic: bool = Field(description="The target is the service's own advice, not published data.")
    reference_available: bool
    note: str | None


class BaseMatchRatePublic(_Public):
    rate: float
    year: int
    applicant_type: ApplicantType
    population: str
    source: str
    note: str | None


class WhatIfParams(BaseModel):
    """Hypothetical changes for a readiness what-if (query or body)."""

    model_config = ConfigDict(extra="forbid")

    extra_usce_weeks_hands_on: int = Field(0, ge=0, le=104)
    step2ck_score: int | None = Field(None, ge=1, le=300)
    extra_programs: int = Field(0, ge=0, le=300)
    extra_us_letters: int = Field(0, ge=0, le=10)

    def to_what_if(self) -> WhatIf:
        return WhatIf(
            extra_usce_weeks_hands_on=self.extra_usce_weeks_hands_on,
            step2ck_score=self.step2ck_score,
            extra_programs=self.extra_programs,
            extra_us_letters=self.extra_us_letters,
        )


class WhatIfPublic(_Public):
    extra_usce_weeks_hands_on: int
    step2ck_score: int | None
    extra_programs: int
    extra_us_letters: int


class ReadinessPublic(_Public):
    cycle: int
    as_of: date
    rules_version: str
    rules_source: RulesSource = Field(description=RULES_SOURCE_DESCRIPTION)
    model_version: str
    status: ReadinessStatus = Field(description=STATUS_DESCRIPTION)
    score: int = Field(ge=0, le=100)
    earliest_feasible_cycle: int | None
    deciding_gate: BlockerPublic | None
    gates: list[GatePublic]
    factors: list[FactorPublic]
    blockers: list[BlockerPublic]
    base_match_rate: BaseMatchRatePublic
    stage: ReadinessStage = Field(description=STAGE_DESCRIPTION)
    stage_advice: str = Field(description="What this stage asks of the candidate, with the cycle's dates.")
    what_if: WhatIfPublic | None
    baseline_score: int | None
    baseline_status: ReadinessStatus | None
    delta: int | None

    @classmethod
    def from_result(cls, result: ReadinessResult) -> Self:
        return cls.model_validate(result)


class CriterionCheckPublic(_Public):
    criterion: str
    outcome: CriterionOutcome
    candidate_value: str
    requirement: str


class ScreenedEntryPublic(_Public):
    program_id: str
    name: str
    specialty: str
    track: str
    list_id: str | None
    rank_position: int | None
    status: EntryStatus
    failed: list[CriterionCheckPublic]
    pending: list[CriterionCheckPublic]
    unpublished: list[str]


class CriterionCountPublic(_Public):
    criterion: str
    programs: int


class ScreeningSummaryPublic(_Public):
    total: int
    eligible: int
    excluded: int
    unknown: int
    excluded_by: list[CriterionCountPublic]


class ScreeningPublic(_Public):
    cycle: int
    as_of: date
    rules_version: str
    rules_source: RulesSource = Field(description=RULES_SOURCE_DESCRIPTION)
    application_on: date
    summary: ScreeningSummaryPublic
    entries: list[ScreenedEntryPublic]

    @classmethod
    def from_result(cls, result: ScreeningResult) -> Self:
        return cls.model_validate(result)


class TimelineItemPublic(_Public):
    on: date
    code: str
    title: str
    kind: Literal["step", "deadline"]
    deadline: DeadlineRefPublic | None
    lead_days: int
    severity: Severity | None
    estimated: bool
    note: str | None


class TimelinePublic(_Public):
    cycle: int
    as_of: date
    rules_version: str
    rules_source: RulesSource = Field(description=RULES_SOURCE_DESCRIPTION)
    cycle_reachable: bool
    items: list[TimelineItemPublic]

    @classmethod
    def from_result(cls, result: TimelineResult) -> Self:
        return cls.model_validate(result)


class CohortRowPublic(_Public):
    cycle: int
    as_of: date
    rules_version: str
    rules_source: RulesSource = Field(description=RULES_SOURCE_DESCRIPTION)
    status: ReadinessStatus
    score: int = Field(ge=0, le=100)
    earliest_feasible_cycle: int | None
    next_step_code: str | None
    next_step_title: str | None
    next_step_due_by: date | None
    blocker_code: str | None
    blocker_detail: str | None

    @classmethod
    def from_result(cls, result: CohortRow) -> Self:
        return cls.model_validate(result)


class CycleDatePublic(BaseModel):
    name: str
    label: str
    on: date
    time: str | None = Field(description='"HH:MM" in time_zone, when the deadline has a time.')
    time_zone: str | None
    estimated: bool = Field(description="Computed from the documented pattern, not published.")
    pattern: str | None
    confidence: str
    source: str
    verified_on: date
    note: str | None


class MatchCyclePublic(BaseModel):
    year: int
    title: str
    rules_version: str
    rules_source: RulesSource = Field(description=RULES_SOURCE_DESCRIPTION)
    model_version: str
    estimated: bool = Field(description="At least one date of this cycle is estimated.")
    pathways_available: bool
    pathways_available_estimated: bool
    oet_earliest_test_date: date
    dates: list[CycleDatePublic]

    @classmethod
    def from_rules(cls, rules: CycleRules) -> Self:
        dates = [
            CycleDatePublic(
                name=item.name,
                label=CALENDAR_LABELS.get(item.name, item.name),
                on=item.on,
                time=item.time,
                time_zone=item.time_zone,
                estimated=item.provenance.estimated,
                pattern=item.provenance.pattern,
                confidence=item.provenance.confidence,
                source=item.provenance.source,
                verified_on=item.provenance.verified_on,
                note=item.provenance.note,
            )
            for item in rules.calendar.items()
        ]
        pathways = rules.ecfmg.pathways_available
        earliest = rules.ecfmg.oet_earliest_test_date.value
        assert earliest is not None  # required by the loader
        return cls(
            year=rules.year,
            title=rules.title,
            rules_version=rules.rules_version,
            rules_source=rules.source,
            model_version=rules.model_version,
            estimated=rules.estimated,
            pathways_available=bool(pathways.value),
            pathways_available_estimated=pathways.provenance.estimated,
            oet_earliest_test_date=earliest,
            dates=dates,
        )


class MatchCycleList(BaseModel):
    items: list[MatchCyclePublic]
    total: int
    limit: int
    offset: int

    @classmethod
    def from_rulebook(cls, book: RuleBook, *, limit: int = 20, offset: int = 0) -> Self:
        years = book.years
        page = years[offset:offset + limit]
        return cls(
            items=[MatchCyclePublic.from_rules(book.cycle(y)) for y in page],
            total=len(years),
            limit=limit,
            offset=offset,
        )
