"""Splitting a province's figures onto its communes: the documented estimation rule.

A commune gets a share of each province count proportional to its ``weight`` (commune.csv):
2 for a ward (phường), 1 for a rural commune (xã), and for a special zone (đặc khu) the weight
that reproduces its approximate population (see ``reference.build``). Shares are rounded by the
largest-remainder method, so that the communes of a province add up exactly to its figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def split_total(
    total: int, weights: Sequence[float], caps: Sequence[int] | None = None
) -> list[int]:
    """Non-negative integers proportional to ``weights`` that add up to ``total``.

    Largest remainder (ties to the lower index). With ``caps``, no part exceeds its cap: the
    excess goes to the parts with room, in proportion to their weights. All-zero weights split
    evenly. Raises ``ValueError`` when ``total`` is negative or larger than the caps allow.
    """
    n = len(weights)
    if total < 0:
        raise ValueError(f"cannot split a negative total ({total})")
    if n == 0:
        if total:
            raise ValueError(f"cannot split {total} over no part")
        return []
    if any(w < 0 or not math.isfinite(w) for w in weights):
        raise ValueError("weights must be finite and non-negative")
    if caps is not None and total > sum(caps):
        raise ValueError(f"cannot split {total} under caps adding up to {sum(caps)}")
    parts = [0] * n
    free = list(range(n))
    left = total
    while left > 0:
        weight_sum = math.fsum(weights[i] for i in free)
        if weight_sum > 0:
            shares = [left * weights[i] / weight_sum for i in free]
        else:
            shares = [left / len(free)] * len(free)
        floors = [math.floor(s) for s in shares]
        extra = left - sum(floors)
        order = sorted(range(len(free)), key=lambda j: (floors[j] - shares[j], j))
        for rank, j in enumerate(order):
            floors[j] += 1 if rank < extra else 0
        left = 0
        still_free = []
        for j, i in enumerate(free):
            room = caps[i] - parts[i] if caps is not None else floors[j]
            take = min(floors[j], room)
            parts[i] += take
            left += floors[j] - take
            if caps is None or parts[i] < caps[i]:
                still_free.append(i)
        free = still_free
    return parts
