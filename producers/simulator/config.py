"""What a run simulates (``SimulationConfig``) and what it wrote (``SimulationTruth``)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from producers.simulator import calibration as cal
from producers.simulator.calendar import VN_TZ
from producers.simulator.scenario import Scenario
from producers.synthetic import GroundTruth
from schemas.events import KINDS
from schemas.localities import all_provinces

EARLIEST: Final = date(2020, 1, 3)  # late lines may not fall before the contract's 2020 floor


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Fault rates are fractions of the valid events."""

    start: date
    days: int
    seed: int
    scale: float = 1.0
    duplicate_rate: float = 0.0
    late_rate: float = 0.0
    malformed_rate: float = 0.0
    scenario: Scenario | None = None
    kinds: tuple[str, ...] = KINDS
    provinces: tuple[str, ...] | None = None  # only these provinces (None: all 34)
    province_only_rate: float = cal.PROVINCE_ONLY_RATE

    def __post_init__(self) -> None:
        if self.start < EARLIEST:
            raise ValueError(f"start must be on or after {EARLIEST} (the contract's 2020 floor)")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not (0 < self.scale <= 1000) or not math.isfinite(self.scale):
            raise ValueError(f"scale must be within (0, 1000], got {self.scale}")
        for name in ("duplicate_rate", "late_rate", "malformed_rate", "province_only_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {rate}")
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be among {', '.join(KINDS)}, got {sorted(unknown)}")
        if self.provinces is not None:
            strange = sorted(set(self.provinces) - set(all_provinces()))
            if strange or not self.provinces:
                raise ValueError(f"provinces must be among the 34 codes, got {strange or 'none'}")

    @property
    def start_moment(self) -> datetime:
        return datetime.combine(self.start, time(0), VN_TZ)

    @property
    def end_moment(self) -> datetime:
        return self.start_moment + timedelta(days=self.days)


@dataclass
class SimulationTruth:
    """What was written: counts (as ``producers.synthetic.GroundTruth``) and what was injected."""

    counts: GroundTruth = field(default_factory=GroundTruth)
    breakdown: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # kind, prov, detail
    episodes: list[dict[str, Any]] = field(default_factory=list)
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    expected_shares: dict[str, dict[str, float]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        breakdown: dict[str, dict[str, dict[str, int]]] = {}
        for (kind, province, detail), n in sorted(self.breakdown.items()):
            breakdown.setdefault(kind, {}).setdefault(province, {})[detail] = n
        return {
            **self.meta,
            "episodes": self.episodes,
            "counts": {**self.counts.to_dict(), "breakdown": breakdown},
            "campaigns": self.campaigns,
            "expected_shares": self.expected_shares,
        }
