"""Scoring alerts against a simulation's ground truth, in alert episodes.

An alert matches a truth episode when the kind is the same, the locality is the same (or the
alert is province-wide and covers the episode's commune, or the episode is a nationwide feed
outage and the alert is national), and the alert's `detected_at` is within [start, end + grace].
- recall: truth episodes matched by at least one alert / truth episodes;
- precision: alerts matching some truth episode / alerts;
- latency: per matched episode, the first matching `detected_at` - `start`;
- false alerts per 1,000 locality-days: unmatched alerts / (localities x days) x 1,000, with the
  3,355 localities (3,321 communes and 34 provinces) and the days of the scored period.

Episodes of the same signal, kind and locality that overlap in time are one episode (their union):
a feed that goes out again while it is already out is one silence, and the contract raises one
alert for it (a random scenario drew such a pair: seed 82 from 2025-06-02).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import orjson

from streams.detect.alerts import NATIONAL, Alert
from streams.detect.calendar import parse_rfc3339
from streams.detect.exceptions import TruthError

LOCALITIES: Final = 3321 + 34
DEFAULT_GRACE_S: Final = 86_400.0


@dataclass(frozen=True, slots=True)
class TruthEpisode:
    kind: str
    province_code: str | None  # None: everywhere (a feed outage)
    ward_code: str | None
    signal: str
    start: float
    end: float
    # Events the episode removed or moved, as the simulator counted them (None: not said).
    effect: int | None = None

    @property
    def scope(self) -> str:
        if self.province_code is None:
            return "national"
        return "commune" if self.ward_code else "province"


@dataclass
class Score:
    episodes: int = 0
    alerts: int = 0
    matched_episodes: int = 0
    matched_alerts: int = 0
    latencies_s: list[float] = field(default_factory=list)
    latencies_by_scope: dict[str, list[float]] = field(default_factory=dict)
    missed: list[TruthEpisode] = field(default_factory=list)
    false_alerts: list[Alert] = field(default_factory=list)
    recall_by_signal: dict[str, tuple[int, int]] = field(default_factory=dict)
    locality_days: float = 0.0

    @property
    def recall(self) -> float:
        return self.matched_episodes / self.episodes if self.episodes else 1.0

    @property
    def precision(self) -> float:
        return self.matched_alerts / self.alerts if self.alerts else 1.0

    @property
    def median_latency_h(self) -> float | None:
        return statistics.median(self.latencies_s) / 3600 if self.latencies_s else None

    def median_latency_scope_h(self, scope: str) -> float | None:
        values = self.latencies_by_scope.get(scope)
        return statistics.median(values) / 3600 if values else None

    @property
    def false_per_1000_locality_days(self) -> float:
        if self.locality_days <= 0:
            return 0.0
        return 1000.0 * len(self.false_alerts) / self.locality_days

    def add(self, other: Score) -> None:
        """Pool another run's score into this one (counts and latencies)."""
        self.episodes += other.episodes
        self.alerts += other.alerts
        self.matched_episodes += other.matched_episodes
        self.matched_alerts += other.matched_alerts
        self.latencies_s += other.latencies_s
        for scope, values in other.latencies_by_scope.items():
            self.latencies_by_scope.setdefault(scope, []).extend(values)
        self.missed += other.missed
        self.false_alerts += other.false_alerts
        for signal, (hit, total) in other.recall_by_signal.items():
            h0, t0 = self.recall_by_signal.get(signal, (0, 0))
            self.recall_by_signal[signal] = (h0 + hit, t0 + total)
        self.locality_days += other.locality_days

    def to_dict(self) -> dict[str, Any]:
        return {
            "episodes": self.episodes,
            "alerts": self.alerts,
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
            "median_latency_h": _round(self.median_latency_h),
            "median_latency_h_by_scope": {
                scope: _round(self.median_latency_scope_h(scope))
                for scope in sorted(self.latencies_by_scope)
            },
            "false_alerts": len(self.false_alerts),
            "false_per_1000_locality_days": round(self.false_per_1000_locality_days, 4),
            "recall_by_signal": {
                s: f"{hit}/{total}" for s, (hit, total) in sorted(self.recall_by_signal.items())
            },
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def matches(alert: Alert, ep: TruthEpisode, grace_s: float) -> bool:
    if alert.kind != ep.kind or not ep.start <= alert.detected_at <= ep.end + grace_s:
        return False
    if ep.province_code is None:
        return alert.province_code == NATIONAL
    if alert.province_code != ep.province_code:
        return False
    return alert.ward_code is None or alert.ward_code == ep.ward_code


def score(
    alerts: Sequence[Alert],
    truth: Sequence[TruthEpisode],
    *,
    days: float,
    grace_s: float = DEFAULT_GRACE_S,
) -> Score:
    truth = merge_overlapping(truth)
    out = Score(episodes=len(truth), alerts=len(alerts), locality_days=LOCALITIES * days)
    matched_alert = [False] * len(alerts)
    per_signal: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    for ep in truth:
        per_signal[ep.signal] += 1
        first: float | None = None
        for i, alert in enumerate(alerts):
            if matches(alert, ep, grace_s):
                matched_alert[i] = True
                if first is None or alert.detected_at < first:
                    first = alert.detected_at
        if first is None:
            out.missed.append(ep)
        else:
            hits[ep.signal] += 1
            out.matched_episodes += 1
            latency = max(0.0, first - ep.start)
            out.latencies_s.append(latency)
            out.latencies_by_scope.setdefault(ep.scope, []).append(latency)
    out.matched_alerts = sum(matched_alert)
    out.false_alerts = [a for a, m in zip(alerts, matched_alert, strict=True) if not m]
    out.recall_by_signal = {s: (hits[s], n) for s, n in per_signal.items()}
    return out


def merge_overlapping(truth: Sequence[TruthEpisode]) -> list[TruthEpisode]:
    """`truth` with the episodes of one signal, kind and locality that overlap in time merged
    into their union (in order of start)."""
    out: list[TruthEpisode] = []
    last: dict[tuple[str, str, str | None, str | None], int] = {}
    for ep in sorted(truth, key=lambda e: e.start):
        key = (ep.signal, ep.kind, ep.province_code, ep.ward_code)
        i = last.get(key)
        if i is not None and ep.start < out[i].end:
            # One silence: its effect is at least either's (their sum would count twice).
            effects = [e for e in (out[i].effect, ep.effect) if e is not None]
            out[i] = replace(out[i], end=max(out[i].end, ep.end), effect=max(effects, default=None))
        else:
            last[key] = len(out)
            out.append(ep)
    return out


def observable(truth: Sequence[TruthEpisode], min_effect: float) -> list[TruthEpisode] | None:
    """The episodes that changed at least ``min_effect`` events; None when the truth does not
    say what its episodes changed."""
    if any(ep.effect is None for ep in truth):
        return None
    return [ep for ep in truth if ep.effect is not None and ep.effect >= min_effect]


def load_truth(raw: bytes) -> tuple[list[TruthEpisode], float | None]:
    """Episodes of a ground-truth JSON (the simulator's, or a bare list), and the number of
    days it covers when it says so."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise TruthError(f"truth is not JSON: {exc}") from exc
    rows = data.get("episodes", []) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise TruthError("truth has no list of episodes")
    episodes = []
    for i, row in enumerate(rows):
        try:
            episodes.append(
                TruthEpisode(
                    kind=str(row["kind"]),
                    province_code=row.get("province_code"),
                    ward_code=row.get("ward_code"),
                    signal=str(row["signal"]),
                    start=parse_rfc3339(row["start"]),
                    end=parse_rfc3339(row["end"]),
                    effect=None if row.get("effect") is None else int(row["effect"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TruthError(f"truth episode {i} is invalid: {exc!r}") from exc
    days = data.get("days") if isinstance(data, dict) else None
    return episodes, float(days) if isinstance(days, int | float) else None


def load_alerts(lines: Iterable[bytes]) -> list[Alert]:
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(Alert.from_contract(orjson.loads(line)))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise TruthError(f"alert line {n} is invalid: {exc!r}") from exc
    return out
