"""The pathway rules core: milestone catalogue, Match-cycle rule sets, next step, readiness, screening,
timeline and cohort rows. Pure Python (no web framework, ORM or settings imports); HTTP response models live in
app.pathway.schemas and are not imported here.
"""

from .cohort import cohort_summary
from .facts import CandidateFacts, ListEntryFact, MilestoneFact, OetScores, ProgramFact, UsceFact, WhatIf
from .next_step import next_step
from .readiness import readiness
from .rules import CycleRules, RuleBook, RulesError, UnknownCycle, load_rulebook
from .screening import screen
from .timeline import timeline, to_icalendar

__all__ = [
    "CandidateFacts",
    "CycleRules",
    "ListEntryFact",
    "MilestoneFact",
    "OetScores",
    "ProgramFact",
    "RuleBook",
    "RulesError",
    "UnknownCycle",
    "UsceFact",
    "WhatIf",
    "cohort_summary",
    "load_rulebook",
    "next_step",
    "readiness",
    "screen",
    "timeline",
    "to_icalendar",
]
