"""When things happen: office days, Tết, public holidays, hours of the day, welfare cycles.

All dates and hours are Vietnam time (UTC+7, no daylight saving). Public holidays come from the
``holidays`` package (``holidays.Vietnam``, as ``country_holidays("VN")``). Tết gets more than its
official days off: offices are near silent from the weekend before the first Tết holiday to the
weekend after the last (a week or more), slow the week before, and reopen slowly over the
following week.

Each stream has a *day factor* (how busy a day is, 1.0 = an ordinary working day) and an *hour
profile* (24 relative weights). Welfare is not a rate but a monthly cycle: every beneficiary is
paid once per cycle, bank transfers on a few days, cash over the post-office days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from functools import cache
from typing import Final

import holidays

VN_TZ: Final = timezone(timedelta(hours=7), "ICT")

# --- hour profiles (index = hour of the day, Vietnam time) -------------------------------------

# Police offices: mornings and afternoons, lunch break; level-1 sign-ups in the app keep a trickle.
OFFICE: Final = (
    0.002, 0.002, 0.002, 0.002, 0.002, 0.002, 0.04, 0.55, 1.0, 1.0, 1.0, 0.6,
    0.08, 0.45, 0.95, 0.95, 0.8, 0.25, 0.04, 0.01, 0.006, 0.004, 0.003, 0.002,
)  # fmt: skip
# Counters of the one-stop shops: office hours only.
COUNTER: Final = (
    0, 0, 0, 0, 0, 0, 0, 0.5, 1.0, 1.0, 1.0, 0.55,
    0.02, 0.4, 0.95, 0.95, 0.8, 0.2, 0, 0, 0, 0, 0, 0,
)  # fmt: skip
# Online payments: office-led, with an evening after-work bump.
ONLINE: Final = (
    0.03, 0.015, 0.01, 0.01, 0.01, 0.02, 0.08, 0.4, 0.9, 0.9, 0.9, 0.7,
    0.35, 0.5, 0.85, 0.85, 0.85, 0.5, 0.35, 0.45, 0.5, 0.4, 0.2, 0.08,
)  # fmt: skip
# QR payments: early market, lunch, and the evening peak.
QR: Final = (
    0.12, 0.06, 0.04, 0.03, 0.06, 0.3, 0.85, 1.0, 0.8, 0.6, 0.7, 1.0,
    1.0, 0.7, 0.5, 0.5, 0.7, 1.0, 1.25, 1.3, 1.1, 0.8, 0.45, 0.22,
)  # fmt: skip
# Post-office pension and allowance payment points.
CASH: Final = (
    0, 0, 0, 0, 0, 0, 0.1, 0.8, 1.0, 1.0, 1.0, 0.6,
    0.05, 0.5, 0.9, 0.9, 0.8, 0.2, 0, 0, 0, 0, 0, 0,
)  # fmt: skip


def _is_tet(name: str) -> bool:
    return "Lunar New Year" in name


@dataclass(frozen=True)
class Calendar:
    """Day types over a span of years."""

    holidays: dict[date, str]
    tet_closures: tuple[tuple[date, date], ...]  # inclusive [first, last] near-silent days
    new_years: tuple[date, ...]  # the first day of each lunar year (mùng 1 Tết)

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self.holidays and not self.in_tet(day)

    def in_tet(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self.tet_closures)

    def tet_distance(self, day: date) -> tuple[int, int] | None:
        """(days until the closure starts, days since it ended), the nearest closure; None far."""
        for first, last in self.tet_closures:
            if first - timedelta(days=21) <= day < first:
                return (first - day).days, -1
            if last < day <= last + timedelta(days=14):
                return -1, (day - last).days
        return None

    # --- day factors ---------------------------------------------------------------------------

    def office_factor(self, day: date) -> float:
        """Police offices and service counters (1.0 = an ordinary working day)."""
        if self.in_tet(day):
            return 0.01
        if day in self.holidays:
            return 0.03
        weekday = day.weekday()
        base = 0.12 if weekday == 5 else 0.03 if weekday == 6 else 1.0
        return base * self._around_tet(day, before=0.85, after=(0.45, 0.8))

    def online_factor(self, day: date) -> float:
        """Online public-service payments: office-led, some at weekends."""
        if self.in_tet(day):
            return 0.08
        if day in self.holidays:
            return 0.2
        base = 0.3 if day.weekday() >= 5 else 1.0
        return base * self._around_tet(day, before=0.9, after=(0.55, 0.85))

    def qr_factor(self, day: date) -> float:
        """QR payments: every day, a shopping rush up to Tết's eve, quiet on its first days."""
        for new_year in self.new_years:
            until = (new_year - day).days
            if -2 <= until <= 1:  # the eve and the first three days: families at home
                return 0.45
            if 1 < until <= 15:
                return 1.25 + 0.65 * (15 - until) / 13  # the rush, peaking on the last days
        if self.in_tet(day):
            return 0.75
        weekday = day.weekday()
        factor = 1.12 if weekday == 5 else 1.08 if weekday == 6 else 1.0
        return factor * (1.05 if day in self.holidays else 1.0)

    def _around_tet(self, day: date, *, before: float, after: tuple[float, float]) -> float:
        distance = self.tet_distance(day)
        if distance is None:
            return 1.0
        until, since = distance
        if 0 < until <= 7:
            return before
        if 0 < since <= 4:
            return after[0]
        if 4 < since <= 8:
            return after[1]
        return 1.0


@cache
def calendar_for(first_year: int, last_year: int) -> Calendar:
    """The calendar of ``first_year`` .. ``last_year`` (one year of margin on each side)."""
    years = range(first_year - 1, last_year + 2)
    days = dict(holidays.country_holidays("VN", years=list(years)).items())
    tet_days = sorted(d for d, name in days.items() if _is_tet(name))
    closures: list[tuple[date, date]] = []
    for day in tet_days:
        if closures and (day - closures[-1][1]).days <= 1:
            closures[-1] = (closures[-1][0], day)
        else:
            closures.append((day, day))
    widened = []
    for first, last in closures:
        # Offices stay shut over the weekends on both sides: a week or more of near silence.
        while (first - timedelta(days=1)).weekday() >= 5:
            first -= timedelta(days=1)
        while (last + timedelta(days=1)).weekday() >= 5:
            last += timedelta(days=1)
        widened.append((first, last))
    new_years = tuple(sorted(d for d, name in days.items() if name == "Lunar New Year"))
    return Calendar(days, tuple(widened), new_years)


# --- welfare cycles ----------------------------------------------------------------------------

PENSION: Final = "pension"
SOCIAL_ALLOWANCE: Final = "social_allowance"


@dataclass(frozen=True)
class Cycle:
    """One monthly payment round of a programme."""

    program: str
    month: tuple[int, int]  # (year, month) the payment is for
    bank_days: tuple[tuple[date, float], ...]  # (day, share of the bank transfers)
    cash_days: tuple[tuple[date, float], ...]  # (day, share of the cash payments)

    @property
    def first_day(self) -> date:
        return min(d for d, _ in self.bank_days + self.cash_days)

    @property
    def last_day(self) -> date:
        return max(d for d, _ in self.bank_days + self.cash_days)


# Pensions (Vietnam Social Security, via the post office): bank transfers land on the first two
# paying days; cash is paid over ten post-office days, most on the first ones. Allowances
# (provincial social affairs): later in the month, one bank day, a week of cash days.
_RULES: Final = {
    PENSION: (2, (0.7, 0.3), 10, 0.8),  # (start day, bank day shares, cash days, daily decay)
    SOCIAL_ALLOWANCE: (10, (1.0,), 7, 0.75),
}
_EARLY_BEFORE_TET: Final = 12  # days before the closure a cycle due during Tết starts


def _paying_day(cal: Calendar, day: date) -> bool:
    """Post offices pay on working days and Saturdays, never on Sundays, holidays or Tết."""
    return day.weekday() != 6 and day not in cal.holidays and not cal.in_tet(day)


@cache
def cycle_for(program: str, year: int, month: int) -> Cycle:
    """The payment round of ``program`` for one month.

    It starts on day 2 (pensions) or 10 (allowances), moved to the next paying day; when Tết
    would interrupt it (closure within its first week) it is paid early, starting
    ``_EARLY_BEFORE_TET`` days before the closure.
    """
    start_day, bank_shares, cash_count, decay = _RULES[program]
    cal = calendar_for(year, year)
    start = date(year, month, start_day)
    for first, _last in cal.tet_closures:
        if (
            start - timedelta(days=3) <= first <= start + timedelta(days=7)
            or first <= start <= _last
        ):
            start = first - timedelta(days=_EARLY_BEFORE_TET)
            break
    days: list[date] = []
    day = start
    while len(days) < max(cash_count, len(bank_shares)):
        if _paying_day(cal, day):
            days.append(day)
        day += timedelta(days=1)
    weights = [decay**i for i in range(cash_count)]
    total = sum(weights)
    return Cycle(
        program,
        (year, month),
        tuple(zip(days, bank_shares, strict=False)),
        tuple((d, w / total) for d, w in zip(days, weights, strict=True)),
    )


def _add_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def cycles_between(program: str, first: date, last: date) -> list[Cycle]:
    """Every cycle of ``program`` with a paying day within [first, last], in order."""
    out = []
    month = _add_month(first.year, first.month, -1)
    end = _add_month(last.year, last.month, 1)  # next month's round may be paid early (Tết)
    while month <= end:
        cycle = cycle_for(program, *month)
        if cycle.first_day <= last and cycle.last_day >= first:
            out.append(cycle)
        month = _add_month(*month, 1)
    return out


def hour_weights(profile: Sequence[float]) -> list[float]:
    """A profile normalised to sum 1."""
    total = sum(profile)
    return [w / total for w in profile]
