"""`produce`'s event-time window: live from now, or the last days ending now."""

from __future__ import annotations

from datetime import date, datetime

from producers.live import live_window

NOW = datetime.fromisoformat("2025-11-24T13:40:00+07:00").timestamp()


def test_live_starts_today_and_skips_what_already_happened() -> None:
    start, days, since, until = live_window(NOW, speed=1, days=7)
    assert (start.date(), days, since, until) == (date(2025, 11, 24), 7, NOW, None)


def test_accelerated_covers_the_last_days_and_ends_now() -> None:
    start, days, since, until = live_window(NOW, speed=60, days=1)
    assert start.date() == date(2025, 11, 23)  # the simulation starts at that day's midnight
    assert days == 2  # ... and must reach today
    assert (since, until) == (NOW - 86400, NOW)
