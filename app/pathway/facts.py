"""Inputs of the pathway engines: plain frozen values the service layer builds from the database.

Pure module: no FastAPI, SQLModel or settings imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MILESTONE_STATUSES = ("planned", "scheduled", "in_progress", "passed", "failed", "completed", "not_applicable")
US_STATUSES = ("citizen", "permanent_resident", "none")
VISA_NEEDS = ("none", "j1", "h1b", "either")
USCE_KINDS = ("elective", "sub_internship", "externship", "observership", "research", "volunteer")
TRACKS = ("categorical", "preliminary", "advanced", "transitional")
CERT_TIMINGS = ("application", "rank_deadline", "start")
STEP3_TIMINGS = ("application", "rank_deadline", "match_day")
# Program-list entries in these states are no longer part of the candidate's plan.
INACTIVE_ENTRY_STATUSES = frozenset({"withdrawn", "rejected", "declined", "removed", "archived"})


@dataclass(frozen=True, slots=True)
class OetScores:
    listening: int
    reading: int
    writing: int
    speaking: int


@dataclass(frozen=True, slots=True)
class MilestoneFact:
    code: str  # catalogue code, e.g. "usmle_step1", "oet_medicine", "ecfmg_pathway"
    status: str  # planned|scheduled|in_progress|passed|failed|completed|not_applicable
    attempt: int | None = None
    scheduled_on: date | None = None
    completed_on: date | None = None
    score: int | None = None  # Step 1 (only before 2022-01-26), Step 2 CK, Step 3 three-digit score
    oet: OetScores | None = None  # one sitting per milestone record
    pathway: str | None = None  # "1".."6" for ecfmg_pathway
    match_outcome: str | None = None  # "matched" | "unmatched" for match_result / soap
    visa_type: str | None = None  # "j1" | "h1b" for visa

    @property
    def on(self) -> date | None:
        """The date that places the record in time: when it happened, else when it is scheduled."""
        return self.completed_on or self.scheduled_on


@dataclass(frozen=True, slots=True)
class UsceFact:
    kind: str  # elective|sub_internship|externship|observership|research|volunteer
    hands_on: bool
    specialty: str | None
    start_on: date
    end_on: date
    us_letter: bool  # a US letter of recommendation came from it


@dataclass(frozen=True, slots=True)
class ProgramFact:
    program_id: str
    name: str
    specialty: str
    track: str  # categorical|preliminary|advanced|transitional
    state: str | None = None
    # None everywhere below means "the program has not published this criterion".
    sponsors_j1: bool | None = None
    sponsors_h1b: bool | None = None
    max_years_since_graduation: int | None = None
    min_step2ck: int | None = None
    first_attempt_only: bool | None = None
    max_attempts: int | None = None
    usce_required: bool | None = None
    usce_min_weeks: int | None = None
    usce_hands_on_only: bool | None = None
    usce_recency_months: int | None = None
    min_letters: int | None = None
    ecfmg_cert_required_by: str | None = None  # application|rank_deadline|start
    step3_required_by: str | None = None  # application|rank_deadline|match_day (H-1B sponsorship condition)


@dataclass(frozen=True, slots=True)
class ListEntryFact:
    program: ProgramFact
    status: str
    signal: str | None
    rank_position: int | None
    list_id: str | None = None

    @property
    def active(self) -> bool:
        return self.status.casefold() not in INACTIVE_ENTRY_STATUSES


@dataclass(frozen=True, slots=True)
class CandidateFacts:
    us_status: str  # citizen|permanent_resident|none (permanent residents need no visa but are non-US IMGs)
    graduation_on: date | None  # diploma date (past or expected)
    target_specialties: tuple[str, ...]
    target_match_year: int | None
    visa_need: str  # none|j1|h1b|either
    milestones: tuple[MilestoneFact, ...] = ()
    usce: tuple[UsceFact, ...] = ()
    entries: tuple[ListEntryFact, ...] = ()  # all the candidate's program-list entries
    # US letters of recommendation not tied to a recorded USCE (e.g. a research supervisor's).
    other_us_letters: int = 0


@dataclass(frozen=True, slots=True)
class WhatIf:
    """A hypothetical change applied to a copy of the facts before scoring readiness."""

    extra_usce_weeks_hands_on: int = 0  # hands-on USCE in the first target specialty, ending on as_of
    step2ck_score: int | None = None  # a Step 2 CK pass with this score (replaces any recorded score)
    extra_programs: int = 0  # programs added to the list, publishing no filters, sponsoring the needed visa
    extra_us_letters: int = 0

    @property
    def is_empty(self) -> bool:
        return (
            self.extra_usce_weeks_hands_on == 0
            and self.step2ck_score is None
            and self.extra_programs == 0
            and self.extra_us_letters == 0
        )
