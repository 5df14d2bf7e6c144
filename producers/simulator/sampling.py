"""Small, fast random draws and field values for the simulator's hot loop."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from statistics import NormalDist
from typing import Final

from producers.simulator import calibration as cal
from producers.simulator.calendar import PENSION

# "HH:MM:SS+07:00" for every second of a day: occurred_at is a day prefix plus one of these.
CLOCK: Final = tuple(
    f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}+07:00" for s in range(86_400)
)


def cumulative(weights: Sequence[float]) -> list[float]:
    """Cumulative shares for ``bisect_right(table, random())``; all-zero weights: the first."""
    total = sum(weights)
    if total <= 0:
        return [1.0] * len(weights)
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0 + 1e-12  # bisect_right never runs past the last item
    return out


def uuid_prefix(rng: random.Random) -> str:
    """The first 24 characters of a stream-day's UUIDs (version 4 layout); a counter ends them.

    80 random bits per stream and day keep ids unique across days, streams and runs; the
    counter keeps them unique within a day at a fraction of the cost of 122 random bits each.
    """
    h = f"{rng.getrandbits(80):020x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-"


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson count: inversion for small means, a rounded normal for large ones."""
    if lam <= 0:
        return 0
    if lam < 30:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))


def random_round(rng: random.Random, x: float) -> int:
    """``x`` rounded down or up at random, unbiased."""
    whole = math.floor(x)
    return whole + (1 if rng.random() < x - whole else 0)


class Hmac:
    """HMAC-SHA256 under one key, equal to ``schemas.privacy.hmac_ref``, about twice as fast:
    the padded key's inner and outer hash states are computed once and copied per message."""

    def __init__(self, key: bytes) -> None:
        block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def __call__(self, identity: str) -> str:
        inner = self._inner.copy()
        inner.update(identity.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


PENSION_TABLE: Final = tuple(  # 64 quantiles of a lognormal around the median pension
    int(cal.PENSION_MEDIAN * math.exp(cal.PENSION_SIGMA * NormalDist().inv_cdf((k + 0.5) / 64)))
    // 1000
    * 1000
    for k in range(64)
)


def amount(program: str, commune: int, beneficiary: int) -> int:
    """A beneficiary's monthly amount: the same every month."""
    h = (beneficiary * 2_654_435_761 + commune * 40_503) & 0xFFFFFFFF
    if program == PENSION:
        return PENSION_TABLE[h % len(PENSION_TABLE)]
    coefficients = cal.SOCIAL_ALLOWANCE_COEFFICIENTS
    return int(cal.SOCIAL_ALLOWANCE_BASE * coefficients[h % len(coefficients)])
