"""Feed outages: one (kind, source) silent everywhere at once.

The expectation of a feed's hour is the median of the same hour on the most recent days of the
same class (working day, Saturday, Sunday, public holiday, Tết; see `calendar`), scaled by how
busy the feed was in the hours just before it fell silent. A silence is an outage when the
events it should have held reach `OutageRules.min_expected` (the chance of that silence by luck
is then below e^-30). A feed with no day-level forecast (welfare: paid on the days of a monthly
round, not by weekday) is judged within the day the silence began only, against its own day:
the rate of the hours just before the silence, spread over the day by the feed's hour-of-day
profile on its recent active days of the same class (opening and closing hours, batch hours).
A round's first day is then judged like its others, and a round that ends at the post office's
closing time is not an outage, that evening or the next morning.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from streams.detect.alerts import CRITICAL, FEED_OUTAGE, NATIONAL, Alert
from streams.detect.calendar import day_class
from streams.detect.cells import HOURS_PER_DAY
from streams.detect.config import DAY_RING, OutageRules

HOUR = 3600
_VN_HOURS = 7  # hour index + 7 = local hour index (UTC+07:00)


def _day_of_hour(hour: int) -> int:
    return (hour + _VN_HOURS) // HOURS_PER_DAY


class FeedMonitor:
    """Hourly counts of one (kind, source) over `DAY_RING` days, and its outage alert."""

    __slots__ = ("_base", "_profile", "alert", "checked", "first", "hr", "kind", "last_ts", "ring",
                 "same_day", "source", "upto")  # fmt: skip

    def __init__(self, kind: str, source: str, same_day: bool) -> None:
        self.kind = kind
        self.source = source
        self.same_day = same_day
        self.ring = DAY_RING * HOURS_PER_DAY + 4
        self.hr = [0] * self.ring
        self.upto = -1
        self.first = -1  # first hour with data: days before it are unknown, not silent
        self.last_ts = 0.0
        self.alert: Alert | None = None
        self.checked = 0.0
        self._base: dict[int, float | None] = {}
        self._profile: tuple[int, tuple[list[float], int]] = (-1, ([], 0))  # day, day_shares

    def add(self, hour: int, n: int, newest: float) -> None:
        """Count `n` events of `hour`, the newest at `newest` (Unix seconds)."""
        if self.first < 0 or hour < self.first:
            self.first = hour
        if hour > self.upto:
            ring, hr = self.ring, self.hr
            if self.upto < 0 or hour - self.upto >= ring:
                hr[:] = [0] * ring
            else:
                for h in range(self.upto + 1, hour + 1):
                    hr[h % ring] = 0
            self.upto = hour
        elif hour <= self.upto - self.ring:
            return
        self.hr[hour % self.ring] += n
        if newest > self.last_ts:
            self.last_ts = newest

    def count(self, hour: int) -> int:
        if hour > self.upto or hour <= self.upto - self.ring:
            return 0
        return self.hr[hour % self.ring]

    def _same_class_before(self, hour: int) -> Iterator[int]:
        """The same hour on earlier days of its day's class, newest first, while they are known
        (in the ring, not before the feed was watched)."""
        cls = day_class(_day_of_hour(hour))
        for back in range(1, DAY_RING):
            h = hour - back * HOURS_PER_DAY
            if h <= self.upto - self.ring or h < self.first:
                return
            if day_class(_day_of_hour(h)) == cls:
                yield h

    def base(self, hour: int, rules: OutageRules) -> float | None:
        """Median of the same hour on recent days of the same class; None when unknown."""
        cached = self._base.get(hour, -1.0)
        if cached is None or cached >= 0.0:
            return cached
        values = []
        for h in self._same_class_before(hour):
            values.append(self.count(h))
            if len(values) == rules.profile_days:
                break
        value: float | None = None
        if len(values) >= rules.profile_min_days:
            values.sort()
            mid = len(values) // 2
            value = float(values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2)
        if len(self._base) > 4 * HOURS_PER_DAY:
            self._base.clear()
        self._base[hour] = value
        return value

    def day_shares(self, day: int, rules: OutageRules) -> tuple[list[float], int]:
        """The feed's hour-of-day shares before `day` (local day index): per hour, the sum of its
        share of the day over the whole days of the same class in the ring that held at least
        `level_min_expected` events (a Saturday's post office may close at noon), and how many
        such days there were."""
        cached_day, cached = self._profile
        if cached_day == day:
            return cached
        sums = [0.0] * HOURS_PER_DAY
        active = 0
        # From each earlier day's first hour: a day seen in part would skew the profile.
        for first in self._same_class_before(day * HOURS_PER_DAY - _VN_HOURS):
            counts = [self.count(first + i) for i in range(HOURS_PER_DAY)]
            total = sum(counts)
            if total >= rules.level_min_expected:
                active += 1
                for i, c in enumerate(counts):
                    sums[i] += c / total
        self._profile = (day, (sums, active))
        return sums, active

    def day_profile(
        self, day: int, rules: OutageRules, peers: Sequence[FeedMonitor] = ()
    ) -> list[float] | None:
        """Each hour's mean share of a day of `day`'s class: the feed's own days when it has
        `own_profile_days` of them, else pooled with its peers' (the same kind from other
        sources: a source's first round in the log). None when no active day is known."""
        sums, active = self.day_shares(day, rules)
        if active < rules.own_profile_days:
            sums = list(sums)
            for peer in peers:
                more, n = peer.day_shares(day, rules)
                sums = [a + b for a, b in zip(sums, more, strict=True)]
                active += n
        return [x / active for x in sums] if active else None

    def _own_day_silence(
        self,
        start: float,
        now: float,
        first: int,
        last: int,
        rules: OutageRules,
        peers: Sequence[FeedMonitor],
    ) -> float:
        """Events expected between `start` and `now` (within one local day): the rate of the
        day's last hours before the silence, spread by `day_profile`; 0.0 when those hours hold
        too few events or too little of the profile."""
        day = _day_of_hour(first)
        profile = self.day_profile(day, rules, peers)
        if profile is None:
            return 0.0
        day_first = day * HOURS_PER_DAY - _VN_HOURS
        obs, ref, h = 0.0, 0.0, first - 1
        while (
            h >= day_first
            and first - h <= rules.level_hours
            and (ref < rules.level_min_share or obs < rules.level_min_expected)
        ):
            obs += self.count(h)
            ref += profile[h - day_first]
            h -= 1
        if obs < rules.level_min_expected or ref < rules.level_min_share:
            return 0.0
        total = 0.0
        for h in range(first, last + 1):
            lo, hi = max(start, h * HOUR), min(now, (h + 1) * HOUR)
            if hi > lo:
                total += profile[h - day_first] * (hi - lo) / HOUR
        return total * obs / ref

    def expected_silence(
        self, start: float, now: float, rules: OutageRules, peers: Sequence[FeedMonitor] = ()
    ) -> float:
        """Events the feed should have sent between `start` (its newest event) and `now`;
        `peers` are the other sources of its kind."""
        first, last = int(start // HOUR), int(now // HOUR)
        if self.same_day:
            day_end_hour = (_day_of_hour(first) + 1) * HOURS_PER_DAY - _VN_HOURS
            last = min(last, day_end_hour - 1)
            now = min(now, float(day_end_hour * HOUR))
            return self._own_day_silence(start, now, first, last, rules, peers)
        # Scale to today: how busy the feed was over the hours before the silence.
        obs = exp = 0.0
        for h in range(first - rules.level_hours, first):
            b = self.base(h, rules)
            if b is not None:
                exp += b
                obs += self.count(h)
        level = 1.0
        if exp >= rules.level_min_expected:
            level = min(1.5, obs / exp)
        total = 0.0
        for h in range(first, last + 1):
            b = self.base(h, rules)
            if not b:
                continue
            lo, hi = max(start, h * HOUR), min(now, (h + 1) * HOUR)
            if hi > lo:
                total += b * (hi - lo) / HOUR
        return total * level

    def last_before(self, now: float) -> float:
        """The newest event at or before `now`. When events after `now` are already counted (a
        backtest catching up through a silence), the end of the newest hour before `now` that
        holds events; `now` itself when its own hour holds some (it cannot be told silent)."""
        if self.last_ts <= now:
            return self.last_ts
        hour = int(now // HOUR)
        if self.count(hour) > 0:
            return now
        for h in range(hour - 1, max(self.first, self.upto - self.ring) - 1, -1):
            if self.count(h) > 0:
                return float((h + 1) * HOUR)
        return now

    def check(
        self, now: float, rules: OutageRules, peers: Sequence[FeedMonitor] = ()
    ) -> Alert | None:
        """Open or close the outage at event time `now`; returns a newly opened alert. `peers`
        are the other sources of the feed's kind."""
        self.checked = now
        if self.last_ts <= 0.0:
            return None
        last = self.last_before(now)
        if self.alert is not None:
            if last > self.alert.detected_at:  # events newer than the detection: back
                self.alert = None
            return None
        if now - last < rules.min_silence:
            return None
        if self.expected_silence(last, now, rules, peers) < rules.min_expected:
            return None
        # When it was first visible, checking every `check_every` (a backtest may only look now).
        seen = last + rules.min_silence
        while seen < now and self.expected_silence(last, seen, rules, peers) < rules.min_expected:
            seen += rules.check_every
        self.alert = Alert(
            self.kind, NATIONAL, None, FEED_OUTAGE, float(int(last)), float(int(min(seen, now))),
            CRITICAL,
        )  # fmt: skip
        return self.alert

    def dump(self) -> list[Any]:
        a = self.alert
        return [
            self.kind,
            self.source,
            self.upto,
            self.first,
            self.hr,
            self.last_ts,
            self.checked,
            None if a is None else [a.started_at, a.detected_at],
        ]

    @classmethod
    def restore(cls, data: list[Any], same_day: bool) -> FeedMonitor:
        kind, source, upto, first, hr, last_ts, checked, alert = data
        mon = cls(str(kind), str(source), same_day)
        if len(hr) != mon.ring:
            raise ValueError("feed ring size differs from the configuration")
        mon.upto, mon.hr, mon.last_ts, mon.checked = int(upto), list(hr), float(last_ts), checked
        mon.first = int(first)
        if alert is not None:
            mon.alert = Alert(
                mon.kind, NATIONAL, None, FEED_OUTAGE, float(alert[0]), float(alert[1]), CRITICAL
            )
        return mon
