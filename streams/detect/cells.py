"""Per-locality series: a ring of hourly bins and a ring of daily bins, per component.

A *component* is a class of events that moves on its own calendar: for welfare, bank transfers
and cash payments of pensions and of allowances land on different days; for service payments,
online and counter payments follow different hours. Identity activations and QR payments have
one component. Each locality keeps its counts per component, so that its expectation is the sum
of its components' expectations and a share (cashless, online) can be tested on its own.

Rings are flat lists (`slot * ncomp + component`) and are zeroed lazily: `upto` is the newest
hour the ring holds, and moving it forward clears the slots it passes. Memory per locality is
fixed: `ring_hours * ncomp + day_ring * ncomp` integers.
"""

from __future__ import annotations

import math
from typing import Any

from streams.detect.alerts import Alert

HOURS_PER_DAY = 24


class Cell:
    """The series and the alert state of one kind x locality (commune, province or nation)."""

    __slots__ = (
        "alert",
        "code",
        "dmark",
        "dy",
        "excl",
        "hr",
        "idle",
        "nbase",
        "nbdays",
        "ncomp",
        "parent",
        "prior",
        "province",
        "quiet_from",
        "recover",
        "ring",
        "s",
        "s_old",
        "steady",
        "upto",
        "ward",
    )

    def __init__(
        self, province: str, ward: str, ncomp: int, ring: int, days: int, parent: Cell | None
    ) -> None:
        self.province = province  # "" for the nation
        self.ward = ward  # "" for a province or the nation
        self.code = ward or province
        self.ncomp = ncomp
        self.ring = ring
        self.parent = parent
        self.hr: list[int] = [0] * (ring * ncomp)
        self.upto = -1  # newest hour index held by `hr` (-1: none yet)
        self.dy: list[int] = [0] * (days * ncomp)
        self.dmark = -1  # newest day index held by `dy`
        self.excl: set[int] = set()  # days left out of the baseline (an alert was open)
        self.s: list[float] | None = None  # baseline share of the parent, per component
        self.s_old: list[float] | None = None  # the same, learnt a week earlier (declines)
        self.nbase: list[float] = [0.0] * ncomp  # own events in the baseline, per component
        self.nbdays = 0  # days in the baseline
        self.alert: Alert | None = None
        self.recover = 0  # consecutive evaluations showing recovery (hysteresis)
        self.idle = 0  # consecutive evaluations with too little expected to judge
        self.quiet_from = -1  # first hour a new alert may look at (after a close)
        self.steady = False  # counts follow rolls (welfare): learnt from the very last days
        # per component, the part of the parent's count its roll gives (NaN: no roll), for the
        # components not learnt yet; None: no rolls at all. Derived from the rolls, not saved.
        self.prior: list[float] | None = None

    # ---- hourly ring -------------------------------------------------------------------------

    def sync(self, hour: int) -> None:
        """Move the ring forward to hold `hour`, clearing the slots of the hours passed."""
        upto = self.upto
        if hour <= upto:
            return
        nc, ring, hr = self.ncomp, self.ring, self.hr
        if upto < 0 or hour - upto >= ring:
            hr[:] = [0] * (ring * nc)
        elif nc == 1:
            for h in range(upto + 1, hour + 1):
                hr[h % ring] = 0
        else:
            zeros = [0] * nc
            for h in range(upto + 1, hour + 1):
                i = (h % ring) * nc
                hr[i : i + nc] = zeros
        self.upto = hour

    def add(self, hour: int, comp: int, n: int = 1) -> bool:
        """Count `n` events. False when the hour has already left the ring (too late)."""
        if hour > self.upto:
            self.sync(hour)
        elif hour <= self.upto - self.ring:
            return False
        self.hr[(hour % self.ring) * self.ncomp + comp] += n
        return True

    def total(self, end: int, width: int) -> int:
        """Events of all components in the `width` hours ending with hour `end` (inclusive)."""
        ring, nc, hr = self.ring, self.ncomp, self.hr
        i1 = end % ring + 1
        i0 = i1 - width
        if i0 >= 0:
            return sum(hr[i0 * nc : i1 * nc])
        return sum(hr[i0 * nc :]) + sum(hr[: i1 * nc])

    def comps(self, end: int, width: int) -> list[int]:
        """Events per component in the `width` hours ending with hour `end`."""
        nc = self.ncomp
        if nc == 1:
            return [self.total(end, width)]
        ring, hr = self.ring, self.hr
        i1 = end % ring + 1
        i0 = i1 - width
        if i0 >= 0:
            return [sum(hr[i0 * nc + c : i1 * nc : nc]) for c in range(nc)]
        return [sum(hr[i0 * nc + c :: nc]) + sum(hr[c : i1 * nc : nc]) for c in range(nc)]

    def hour(self, h: int) -> list[int]:
        """Events per component in hour `h` (zeros when the ring no longer holds it)."""
        nc = self.ncomp
        if h > self.upto or h <= self.upto - self.ring:
            return [0] * nc
        i = (h % self.ring) * nc
        return self.hr[i : i + nc]

    # ---- daily ring --------------------------------------------------------------------------

    def close_day(self, day: int, first_hour: int) -> None:
        """Store the day's counts (hours `first_hour` .. +23, read from the hourly ring)."""
        self.sync(first_hour + HOURS_PER_DAY - 1)
        counts = self.comps(first_hour + HOURS_PER_DAY - 1, HOURS_PER_DAY)
        nc, days = self.ncomp, len(self.dy) // self.ncomp
        if self.dmark < 0 or day - self.dmark >= days:
            self.dy[:] = [0] * (days * nc)
        else:
            zeros = [0] * nc
            for d in range(self.dmark + 1, day):
                i = (d % days) * nc
                self.dy[i : i + nc] = zeros
        i = (day % days) * nc
        self.dy[i : i + nc] = counts
        self.dmark = max(self.dmark, day)
        self.excl = {d for d in self.excl if d > day - days}

    def day(self, d: int) -> list[int] | None:
        """Counts per component of day `d`, or None when the ring does not hold it."""
        nc, days = self.ncomp, len(self.dy) // self.ncomp
        if d > self.dmark or d <= self.dmark - days:
            return None
        i = (d % days) * nc
        return self.dy[i : i + nc]

    # ---- persistence ---------------------------------------------------------------------------

    def dump(self) -> list[Any]:
        alert = self.alert
        return [
            self.province,
            self.ward,
            self.upto,
            self.hr,
            self.dmark,
            self.dy,
            sorted(self.excl),
            self.s,
            self.s_old,
            self.nbase,
            self.nbdays,
            None
            if alert is None
            else [alert.signal, alert.started_at, alert.detected_at, alert.severity],
            self.recover,
            self.idle,
            self.quiet_from,
        ]

    def restore(self, data: list[Any], kind: str) -> None:
        (_, _, upto, hr, dmark, dy, excl, s, s_old, nbase, nbdays, alert, recover, idle, quiet) = (
            data
        )
        if len(hr) != len(self.hr) or len(dy) != len(self.dy):
            raise ValueError("ring sizes differ from the configuration")
        self.upto, self.hr, self.dmark, self.dy = int(upto), list(hr), int(dmark), list(dy)
        self.excl = set(excl)
        self.s = _floats(s)
        self.s_old = _floats(s_old)
        self.nbase, self.nbdays = [float(x) for x in nbase], int(nbdays)
        self.alert = (
            None
            if alert is None
            else Alert(
                kind,
                self.province,
                self.ward or None,
                str(alert[0]),
                float(alert[1]),
                float(alert[2]),
                str(alert[3]),
            )
        )
        self.recover, self.idle, self.quiet_from = int(recover), int(idle), int(quiet)


def _floats(values: list[Any] | None) -> list[float] | None:
    """Shares as saved: JSON has no NaN (an unknown component), it comes back as null."""
    if values is None:
        return None
    return [math.nan if x is None else float(x) for x in values]
