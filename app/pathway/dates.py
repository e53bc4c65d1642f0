"""Small calendar helpers shared by the rule loader and the engines. Pure functions."""

from __future__ import annotations

from datetime import date, timedelta

MONDAY, WEDNESDAY, FRIDAY = 0, 2, 4


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February falls back to 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th given weekday (0 = Monday) of a month, e.g. the third Friday of March."""
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def first_weekday_on_or_after(day: date) -> date:
    """The first Monday-to-Friday day on or after `day`."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def whole_years_between(start: date, end: date) -> int:
    """Complete years from start to end (negative if end precedes start)."""
    years = end.year - start.year
    if (end.month, end.day) < (start.month, start.day):
        years -= 1
    return years


def years_between(start: date, end: date) -> float:
    """Fractional years, for display (one decimal is plenty)."""
    return (end - start).days / 365.25


def add_months(day: date, months: int) -> date:
    """The same day `months` later (clamped to the month's last day)."""
    return months_before(day, -months)


def months_before(day: date, months: int) -> date:
    """The same day `months` earlier (clamped to the month's last day)."""
    month_index = day.year * 12 + (day.month - 1) - months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate_day in (day.day, 30, 29, 28):
        try:
            return date(year, month, candidate_day)
        except ValueError:
            continue
    raise ValueError(f"no valid day for {year}-{month}")  # unreachable: day 28 always exists
