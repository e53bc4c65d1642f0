"""Convenience entry points: parse -> run -> plain dict, in the endpoint's JSON format."""

from __future__ import annotations

from typing import Any

from ._gc import gc_paused
from .engine import MatchOptions, run_match
from .instance import parse_instance
from .result import MatchResult, result_to_dict


def run_from_dict(data: Any, *, trace: bool = False, options: MatchOptions | None = None) -> dict[str, Any]:
    """Validate a request body (dict form), run the Match, and return the result as a dict.

    A ``"trace": true`` member in ``data`` asks for the trace as well. Raises ``MatchInputError``
    with every problem found when the input is invalid.
    """
    with gc_paused():
        return result_to_dict(run_result_from_dict(data, trace=trace, options=options))


def run_result_from_dict(data: Any, *, trace: bool = False, options: MatchOptions | None = None) -> MatchResult:
    """Like ``run_from_dict`` but returns the frozen ``MatchResult``."""
    with gc_paused():
        inst = parse_instance(data)
        want_trace = trace or (isinstance(data, dict) and data.get("trace") is True)
        return run_match(inst, trace=want_trace, options=options)
