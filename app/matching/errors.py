"""The single error type raised for bad Match input."""

from __future__ import annotations

from typing import TypedDict


class Problem(TypedDict):
    """One precise problem with the input: where it is, what is wrong, a stable code."""

    field: str
    message: str
    code: str


class MatchInputError(ValueError):
    """Raised once per input with every problem found (up to a limit), never a crash."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        first = self.problems[0] if self.problems else None
        summary = f"{first['field'] or 'input'}: {first['message']}" if first else "invalid input"
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more > 0 else ""
        super().__init__(f"invalid match input: {summary}{suffix}")

    @property
    def codes(self) -> list[str]:
        return [p["code"] for p in self.problems]
