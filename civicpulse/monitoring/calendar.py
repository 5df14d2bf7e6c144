"""Vietnam's public holidays and Tết as mute intervals (Alertmanager and Grafana share the
``time_intervals`` model: years, months, days_of_month, location).

Dates come from the Python `holidays` package (Vietnam) for the years listed in the threshold
file, so the generated files stay the same from one day to the next; add next year there before
it starts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any, Final

import holidays

from civicpulse.monitoring.thresholds import Calendar

TET: Final = "tet"
PUBLIC_HOLIDAYS: Final = "vn-public-holidays"
_MONTHS: Final = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december",
)  # fmt: skip


def public_holidays(cal: Calendar) -> dict[date, str]:
    days = holidays.country_holidays("VN", years=list(cal.holiday_years), language="en_US")
    return dict(sorted(days.items()))


def tet_ranges(cal: Calendar) -> list[tuple[date, date]]:
    """(first, last) day of each Tết, widened by tet_days_before / tet_days_after."""
    lunar = [d for d, name in public_holidays(cal).items() if "Lunar New Year" in name]
    out = []
    for first, last in merge_days(lunar):
        out.append(
            (first - timedelta(days=cal.tet_days_before), last + timedelta(days=cal.tet_days_after))
        )
    return out


def merge_days(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days as (first, last) ranges."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def time_intervals(ranges: Iterable[tuple[date, date]], location: str) -> list[dict[str, Any]]:
    """Day ranges as time_intervals entries, split at month ends (days_of_month is per month)."""
    out: list[dict[str, Any]] = []
    for first, last in ranges:
        start = first
        while start <= last:
            month_end = _month_end(start)
            end = min(last, month_end)
            days = f"{start.day}" if start == end else f"{start.day}:{end.day}"
            out.append(
                {
                    "years": [str(start.year)],
                    "months": [_MONTHS[start.month - 1]],
                    "days_of_month": [days],
                    "location": location,
                }
            )
            start = end + timedelta(days=1)
    return out


def _month_end(day: date) -> date:
    following = day.replace(day=28) + timedelta(days=4)
    return following - timedelta(days=following.day)


def mute_intervals(cal: Calendar) -> dict[str, list[dict[str, Any]]]:
    """The named intervals: Tết, and every public holiday (Tết included)."""
    return {
        TET: time_intervals(tet_ranges(cal), cal.location),
        PUBLIC_HOLIDAYS: time_intervals(merge_days(public_holidays(cal)), cal.location),
    }
