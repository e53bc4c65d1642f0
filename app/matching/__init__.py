"""The Match engine: applicant-proposing deferred acceptance with couples (Roth-Peranson).

Pure Python, standard library only. Typical use::

    from app.matching import run_from_dict
    result = run_from_dict({"programs": [...], "applicants": [...], "couples": [...]})

or, step by step, ``parse_instance`` -> ``run_match`` -> ``result_to_dict``.
"""

from .engine import MatchOptions, run_match
from .errors import MatchInputError, Problem
from .instance import (
    ApplicantInput,
    CoupleInput,
    MatchInstance,
    ProgramInput,
    instance_from_inputs,
    parse_instance,
)
from .result import (
    BlockingCouple,
    BlockingPair,
    Counts,
    CoupleResult,
    MatchResult,
    ProgramResult,
    StabilityReport,
    TraceEvent,
    Work,
    result_to_dict,
)
from .service import run_from_dict, run_result_from_dict

__all__ = [
    "ApplicantInput",
    "BlockingCouple",
    "BlockingPair",
    "CoupleInput",
    "CoupleResult",
    "Counts",
    "MatchInputError",
    "MatchInstance",
    "MatchOptions",
    "MatchResult",
    "Problem",
    "ProgramInput",
    "ProgramResult",
    "StabilityReport",
    "TraceEvent",
    "Work",
    "instance_from_inputs",
    "parse_instance",
    "result_to_dict",
    "run_from_dict",
    "run_match",
    "run_result_from_dict",
]
