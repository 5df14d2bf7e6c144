"""The simulator's calendar: Tết, holidays, day factors and the monthly welfare rounds."""

from __future__ import annotations

from datetime import date

import pytest

from producers.simulator.calendar import (
    CASH,
    COUNTER,
    OFFICE,
    ONLINE,
    QR,
    calendar_for,
    cycle_for,
    cycles_between,
)

CAL = calendar_for(2025, 2026)


@pytest.mark.parametrize(
    ("first", "last"),
    [(date(2025, 1, 25), date(2025, 2, 2)), (date(2026, 2, 14), date(2026, 2, 22))],
)
def test_tet_closures_last_a_week_or_more(first: date, last: date) -> None:
    assert (first, last) in CAL.tet_closures
    assert (last - first).days + 1 >= 7


@pytest.mark.parametrize(
    ("day", "office", "online", "qr_at_least", "qr_at_most"),
    [
        (date(2025, 3, 12), 1.0, 1.0, 1.0, 1.0),  # an ordinary Wednesday
        (date(2025, 3, 15), 0.12, 0.3, 1.1, 1.2),  # Saturday
        (date(2025, 3, 16), 0.03, 0.3, 1.0, 1.1),  # Sunday
        (date(2025, 4, 30), 0.03, 0.2, 1.0, 1.1),  # Reunification Day
        (date(2025, 1, 29), 0.01, 0.08, 0.0, 0.5),  # first day of Tết
        (date(2025, 2, 1), 0.01, 0.08, 0.5, 0.8),  # later in the closure
        (date(2025, 1, 25), 0.01, 0.08, 1.7, 1.9),  # offices shut, markets at their busiest
        (date(2025, 1, 20), 0.85, 0.9, 1.4, 2.0),  # the week before: the Tết shopping rush
        (date(2025, 2, 4), 0.45, 0.55, 1.0, 1.0),  # offices reopening slowly
    ],
)
def test_day_factors(
    day: date, office: float, online: float, qr_at_least: float, qr_at_most: float
) -> None:
    assert CAL.office_factor(day) == pytest.approx(office)
    assert CAL.online_factor(day) == pytest.approx(online)
    assert qr_at_least <= CAL.qr_factor(day) <= qr_at_most


@pytest.mark.parametrize("profile", [OFFICE, COUNTER, ONLINE, QR, CASH])
def test_hour_profiles_cover_a_day(profile: tuple[float, ...]) -> None:
    assert len(profile) == 24
    assert min(profile) >= 0
    assert max(profile) > 0


def test_new_years_days_come_from_the_holidays_package() -> None:
    assert date(2025, 1, 29) in CAL.new_years
    assert date(2026, 2, 17) in CAL.new_years


def test_offices_are_silent_at_night_and_qr_peaks_in_the_evening() -> None:
    assert OFFICE[3] < 0.01 * OFFICE[9]
    assert COUNTER[3] == 0
    assert CASH[22] == 0
    assert QR[19] == max(QR)


@pytest.mark.parametrize(
    ("program", "month", "bank_days", "last_cash_day"),
    [
        ("pension", (2025, 3), [date(2025, 3, 3), date(2025, 3, 4)], date(2025, 3, 13)),
        # Tết 2025 (closure from 25 January): February's pensions are paid in January.
        ("pension", (2025, 2), [date(2025, 1, 13), date(2025, 1, 14)], date(2025, 1, 23)),
        ("pension", (2026, 2), [date(2026, 2, 2), date(2026, 2, 3)], date(2026, 2, 12)),
        ("social_allowance", (2025, 3), [date(2025, 3, 10)], date(2025, 3, 17)),
        # Tết 2026 (closure from 14 February) would cut the round of 10 February short.
        ("social_allowance", (2026, 2), [date(2026, 2, 2)], date(2026, 2, 9)),
    ],
)
def test_welfare_rounds(
    program: str, month: tuple[int, int], bank_days: list[date], last_cash_day: date
) -> None:
    cycle = cycle_for(program, *month)
    assert [d for d, _ in cycle.bank_days] == bank_days
    assert cycle.last_day == last_cash_day
    assert sum(w for _, w in cycle.bank_days) == pytest.approx(1.0)
    assert sum(w for _, w in cycle.cash_days) == pytest.approx(1.0)
    weights = [w for _, w in cycle.cash_days]
    assert weights == sorted(weights, reverse=True)  # most collect on the first days
    for day, _ in cycle.cash_days:
        assert day.weekday() != 6
        assert not CAL.in_tet(day)
        assert not CAL.is_holiday(day)


def test_rounds_between_two_dates() -> None:
    rounds = cycles_between("pension", date(2025, 1, 1), date(2025, 3, 31))
    assert [c.month for c in rounds] == [(2025, 1), (2025, 2), (2025, 3)]
    assert cycles_between("pension", date(2025, 2, 1), date(2025, 2, 28)) == []
