"""The naive rule, for comparison: per kind x commune, a day below 50 % of its trailing 7-day mean.

Judged when a Vietnamese calendar day closes, with no calendar, no volume gate and no peers:
what a dashboard threshold would do. Consecutive firing days are one alert (one episode).
"""

from __future__ import annotations

from collections import deque

from streams.detect.alerts import RATE_DROP, WARNING, Alert
from streams.detect.calendar import day_index, day_start_ts

TRAILING_DAYS = 7
RATIO = 0.5


class NaiveDetector:
    """`observe` counted events, `advance` with the watermark; returns alerts as they open."""

    def __init__(self) -> None:
        self._today: dict[tuple[str, str, str], int] = {}
        self._counts: dict[int, dict[tuple[str, str, str], int]] = {}
        self._history: dict[tuple[str, str, str], deque[int]] = {}
        self._open: dict[tuple[str, str, str], Alert] = {}
        self._first_day = -1
        self._closed = -1

    def observe(self, kind: str, province: str, ward: str, ts: float) -> None:
        if not ward:
            return
        day = day_index(ts)
        if self._first_day < 0:
            self._first_day = self._closed = day
            self._closed = day - 1
        if day <= self._closed:
            return
        counts = self._counts.setdefault(day, {})
        key = (kind, province, ward)
        counts[key] = counts.get(key, 0) + 1

    def advance(self, watermark: float) -> list[Alert]:
        raised: list[Alert] = []
        if self._first_day < 0:
            return raised
        while day_start_ts(self._closed + 2) <= watermark:
            self._closed += 1
            self._close_day(self._closed, raised)
        return raised

    def _close_day(self, day: int, raised: list[Alert]) -> None:
        counts = self._counts.pop(day, {})
        for key in counts.keys() - self._history.keys():
            self._history[key] = deque([0] * (day - self._first_day), maxlen=TRAILING_DAYS)
        for key, history in self._history.items():
            n = counts.get(key, 0)
            fires = len(history) == TRAILING_DAYS and n < RATIO * (sum(history) / TRAILING_DAYS)
            if fires and key not in self._open:
                kind, province, ward = key
                alert = Alert(
                    kind, province, ward, RATE_DROP[kind], day_start_ts(day),
                    day_start_ts(day + 1), WARNING,
                )  # fmt: skip
                self._open[key] = alert
                raised.append(alert)
            elif not fires:
                self._open.pop(key, None)
            history.append(n)
