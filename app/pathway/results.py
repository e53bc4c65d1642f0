"""Outputs of the pathway engines: frozen values, deterministic for the same facts, rules and as_of.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .facts import WhatIf

SEVERITIES = ("on_track", "due_soon", "overdue", "blocks_cycle")
READINESS_STATUSES = ("not_ready", "at_risk", "on_track", "ready")
# Stages of the road, in order. After the rank order list deadline the competitiveness factors no longer apply.
STAGES = ("before_application_season", "application_season", "interviews_and_ranking", "match_week",
          "matched", "unmatched", "in_residency")
POST_RANKING_STAGES = frozenset({"match_week", "matched", "unmatched", "in_residency"})
GATE_STATUSES = ("met", "unmet", "pending")
ENTRY_STATUSES = ("eligible", "excluded", "unknown")
CRITERION_OUTCOMES = ("pass", "fail", "pending", "unpublished")


@dataclass(frozen=True, slots=True)
class DeadlineRef:
    """A cycle date a step's latest safe date is derived from."""

    name: str  # calendar key (e.g. "rol_deadline") or a derived limit ("ecfmg_exam_window", "step3_deadline")
    on: date
    estimated: bool  # the date was computed from a pattern, not published


@dataclass(frozen=True, slots=True)
class StepView:
    code: str
    title: str
    kind: str  # exam | task | event
    status: str  # todo | scheduled | in_progress
    scheduled_on: date | None
    required: bool
    gate: str  # the gate this step serves
    why: str
    unblocks: tuple[str, ...]
    due_by: date | None  # latest safe date to take the exam / submit the application
    deadline: DeadlineRef | None  # the cycle deadline due_by is derived from
    lead_days: int  # days from taking the step to a usable result
    recommended_by: date | None  # earlier advisory date (e.g. score on the application)
    available_from: date | None  # set when the step cannot be started before this date
    severity: str  # on_track | due_soon | overdue | blocks_cycle


@dataclass(frozen=True, slots=True)
class BlockedStep:
    code: str
    title: str
    required: bool
    waits_on: tuple[str, ...]  # milestone codes, "graduation", "match", or a calendar key that opens it
    opens_on: date | None
    due_by: date | None
    deadline: DeadlineRef | None


@dataclass(frozen=True, slots=True)
class CompletedStep:
    code: str
    title: str
    completed_on: date | None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Blocker:
    """A hard gate that is not met. `resolvable_by` is the last date on which acting still saves the cycle."""

    code: str  # stable reason code, e.g. "attempt_limit_reached"
    detail: str
    milestone: str | None
    milestones: tuple[str, ...]
    permanent: bool  # no later cycle removes it
    resolvable_by: date | None
    blocks_cycle: bool  # as things stand the cycle cannot be reached


@dataclass(frozen=True, slots=True)
class Notice:
    code: str
    detail: str
    milestone: str | None = None


@dataclass(frozen=True, slots=True)
class NextStepResult:
    cycle: int  # the requested Match cycle
    planning_cycle: int  # the cycle next_step and its dates refer to (the earliest feasible one if cycle is lost)
    as_of: date
    rules_version: str  # of the requested cycle
    rules_source: str  # package | folder (RULES_DIR), of the requested cycle
    planning_rules_version: str
    next_step: StepView | None
    also_available: tuple[StepView, ...]
    blocked: tuple[BlockedStep, ...]
    completed: tuple[CompletedStep, ...]
    blockers: tuple[Blocker, ...]
    warnings: tuple[Notice, ...]
    cycle_reachable: bool
    earliest_feasible_cycle: int | None
    deciding_gate: Blocker | None  # what rules out the cycles before earliest_feasible_cycle


@dataclass(frozen=True, slots=True)
class Gate:
    code: str
    label: str
    status: str  # met | unmet | pending
    due_by: date | None
    why: str
    blocker: str | None = None  # reason code when unmet


@dataclass(frozen=True, slots=True)
class Factor:
    key: str
    label: str
    value: float | None  # the candidate's value in the factor's unit; None when not applicable
    value_text: str
    target: str
    weight: float  # configured weight
    effective_weight: float  # points out of 100 after weights of inapplicable factors are redistributed
    credit: float | None  # 0..1; None when the factor is not scored
    contribution: float  # points added to the score
    advice: str
    heuristic: bool
    reference_available: bool
    note: str | None = None


@dataclass(frozen=True, slots=True)
class BaseMatchRate:
    rate: float
    year: int
    applicant_type: str  # us_img | non_us_img
    population: str
    source: str
    note: str | None


@dataclass(frozen=True, slots=True)
class ReadinessResult:
    cycle: int
    as_of: date
    rules_version: str
    rules_source: str
    model_version: str
    status: str  # not_ready | at_risk | on_track | ready
    score: int  # 0..100
    earliest_feasible_cycle: int | None
    deciding_gate: Blocker | None
    gates: tuple[Gate, ...]
    factors: tuple[Factor, ...]
    blockers: tuple[Blocker, ...]
    base_match_rate: BaseMatchRate
    stage: str = "before_application_season"  # one of STAGES
    stage_advice: str = ""
    what_if: WhatIf | None = None
    baseline_score: int | None = None  # score without the what-if (set only with a what-if)
    baseline_status: str | None = None
    delta: int | None = None  # score - baseline_score


@dataclass(frozen=True, slots=True)
class CriterionCheck:
    criterion: str
    outcome: str  # pass | fail | pending | unpublished
    candidate_value: str
    requirement: str


@dataclass(frozen=True, slots=True)
class ScreenedEntry:
    program_id: str
    name: str
    specialty: str
    track: str
    list_id: str | None
    rank_position: int | None
    status: str  # eligible | excluded | unknown
    failed: tuple[CriterionCheck, ...]  # every criterion that screens the candidate out
    pending: tuple[CriterionCheck, ...]  # criteria that cannot be decided yet
    unpublished: tuple[str, ...]  # criteria the program did not publish


@dataclass(frozen=True, slots=True)
class CriterionCount:
    criterion: str
    programs: int


@dataclass(frozen=True, slots=True)
class ScreeningSummary:
    total: int
    eligible: int
    excluded: int
    unknown: int
    excluded_by: tuple[CriterionCount, ...]  # programs excluding the candidate, per criterion


@dataclass(frozen=True, slots=True)
class ScreeningResult:
    cycle: int
    as_of: date
    rules_version: str
    rules_source: str
    application_on: date  # the date criteria such as years since graduation are measured at
    summary: ScreeningSummary
    entries: tuple[ScreenedEntry, ...]


@dataclass(frozen=True, slots=True)
class TimelineItem:
    on: date  # a step's latest safe date, or the date of a cycle deadline
    code: str  # milestone code for steps, calendar key for deadlines
    title: str
    kind: str  # step | deadline
    deadline: DeadlineRef | None
    lead_days: int
    severity: str | None  # for steps
    estimated: bool  # derived from a date computed from a pattern
    note: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineResult:
    cycle: int
    as_of: date
    rules_version: str
    rules_source: str
    cycle_reachable: bool
    items: tuple[TimelineItem, ...]


@dataclass(frozen=True, slots=True)
class CohortRow:
    cycle: int
    as_of: date
    rules_version: str
    rules_source: str
    status: str
    score: int
    earliest_feasible_cycle: int | None
    next_step_code: str | None
    next_step_title: str | None
    next_step_due_by: date | None
    blocker_code: str | None
    blocker_detail: str | None
