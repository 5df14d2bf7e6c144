"""Vietnam's calendar as the detector sees it: day classes for the seasonal expectation of feeds.

Public holidays come from the `holidays` package (Vietnam). Tết is longer than its official days
off: offices are near silent from the weekend before the first Lunar New Year holiday to the
weekend after the last, so the closure is the holiday widened over the adjacent weekends.

Day classes (`WORK`, `SATURDAY`, `SUNDAY`, `HOLIDAY`, `TET`) key the hour-of-day profiles of the
feed-outage expectation: an hour is compared with the same hour of recent days of its class.
Localities need no calendar: they are compared with their peers at the same hour (see
`detector`), which live through the same weekends, holidays, Tết and disbursement days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Final

import holidays

from streams.core.windows import DAY, VN_OFFSET

VN_TZ: Final = timezone(timedelta(hours=7))

WORK: Final = 0
SATURDAY: Final = 1
SUNDAY: Final = 2
HOLIDAY: Final = 3
TET: Final = 4
DAY_CLASSES: Final = ("work", "saturday", "sunday", "holiday", "tet")


def day_index(ts: float) -> int:
    """Vietnamese calendar day number (days since 1970-01-01, local time) of `ts`."""
    return int((ts + VN_OFFSET) // DAY)


def day_date(index: int) -> date:
    return date(1970, 1, 1) + timedelta(days=index)


def day_start_ts(index: int) -> float:
    return float(index * DAY - VN_OFFSET)


@cache
def _holidays(year: int) -> dict[date, str]:
    return dict(holidays.country_holidays("VN", years=[year - 1, year, year + 1]).items())


@cache
def tet_closures(year: int) -> tuple[tuple[date, date], ...]:
    """Inclusive (first, last) near-silent days around each Tết within a year of `year`."""
    days = sorted(d for d, name in _holidays(year).items() if "Lunar New Year" in name)
    spans: list[tuple[date, date]] = []
    for day in days:
        if spans and (day - spans[-1][1]).days <= 1:
            spans[-1] = (spans[-1][0], day)
        else:
            spans.append((day, day))
    widened = []
    for first, last in spans:
        while (first - timedelta(days=1)).weekday() >= 5:
            first -= timedelta(days=1)
        while (last + timedelta(days=1)).weekday() >= 5:
            last += timedelta(days=1)
        widened.append((first, last))
    return tuple(widened)


@cache
def day_class(index: int) -> int:
    """The class of a calendar day (see module docstring)."""
    day = day_date(index)
    if any(first <= day <= last for first, last in tet_closures(day.year)):
        return TET
    if day in _holidays(day.year):
        return HOLIDAY
    weekday = day.weekday()
    return SATURDAY if weekday == 5 else SUNDAY if weekday == 6 else WORK


def rfc3339(ts: float) -> str:
    """`ts` (Unix seconds) as RFC 3339 in Vietnam time, e.g. 2025-02-11T09:00:00+07:00."""
    return datetime.fromtimestamp(int(ts), VN_TZ).isoformat()


def parse_rfc3339(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()
