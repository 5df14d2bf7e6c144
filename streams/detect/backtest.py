"""The worker's pipeline, offline: validate (`packing.pack`), dedup and count
(`Aggregator.apply`), detect on `.counted`, over the lines of event logs in file order.

Lines are taken in chunks; within a chunk each topic's lines keep their order and get
consecutive offsets of partition 0 of their topic, as a replay into one-partition topics would.
After each chunk the watermark moves to the newest event time counted, less the allowed
lateness, exactly as the worker does after a group of batches.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from schemas.topics import KIND_BY_TOPIC, TOPIC_BY_KIND, UNROUTABLE_TOPIC
from schemas.validate import sniff_kind
from streams.core.aggregator import Aggregator
from streams.core.packing import pack
from streams.detect.alerts import Alert
from streams.detect.config import DetectorConfig
from streams.detect.detector import Detector
from streams.detect.naive import NaiveDetector
from streams.detect.rolls import Rolls

CHUNK = 4096


@dataclass
class BacktestResult:
    alerts: list[Alert] = field(default_factory=list)
    naive_alerts: list[Alert] = field(default_factory=list)
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    first_ts: float = 0.0
    last_ts: float = 0.0
    seconds: float = 0.0
    detect_seconds: float = 0.0
    detector: Detector | None = None

    def render(self) -> str:
        rate = self.lines / self.seconds if self.seconds else 0.0
        per = 1e6 * self.detect_seconds / self.accepted if self.accepted else 0.0
        by_signal: dict[str, int] = {}
        for a in self.alerts:
            by_signal[a.signal] = by_signal.get(a.signal, 0) + 1
        rows = [
            f"{self.lines:,} lines: {self.accepted:,} counted, {self.duplicates:,} duplicates, "
            f"{self.rejected:,} rejected",
            f"{len(self.alerts):,} alerts"
            + (f" ({len(self.naive_alerts):,} by the naive rule)" if self.naive_alerts else ""),
        ]
        rows += [f"  {signal:<28} {n:>6,}" for signal, n in sorted(by_signal.items())]
        rows.append(
            f"{self.seconds:.1f} s ({rate:,.0f} lines/s); detector {self.detect_seconds:.1f} s "
            f"({per:.2f} µs/event)"
        )
        return "\n".join(rows)


def run_backtest(
    lines: Iterable[bytes],
    *,
    config: DetectorConfig | None = None,
    naive: bool = False,
    now: float | None = None,
    on_alert: Callable[[Alert], None] | None = None,
    rolls: Rolls | None = None,
) -> BacktestResult:
    """Run validation, counting and detection over `lines` (raw log lines, in order); `rolls`
    as the worker's (`Rolls.from_reference`)."""
    started = time.perf_counter()
    clock = time.time() if now is None else now
    detector = Detector(config, rolls)
    lateness = detector.config.allowed_lateness
    naive_det = NaiveDetector() if naive else None
    agg = Aggregator(dict(KIND_BY_TOPIC))
    result = BacktestResult(detector=detector)
    offsets = dict.fromkeys(KIND_BY_TOPIC, 0)
    detect_s = 0.0
    perf = time.perf_counter

    def emit(raised: list[Alert]) -> None:
        result.alerts.extend(raised)
        if on_alert is not None:
            for alert in raised:
                on_alert(alert)

    def flush(chunk: dict[str, list[bytes]]) -> None:
        nonlocal detect_s
        for topic, raws in chunk.items():
            kind = KIND_BY_TOPIC[topic]
            first = offsets[topic]
            offsets[topic] = first + len(raws)
            batch = pack(topic, 0, kind, list(enumerate(raws, first)), clock)
            res = agg.apply(batch)
            result.accepted += res.accepted
            result.duplicates += res.duplicates
            result.rejected += res.rejected
            t0 = perf()
            detector.observe_accepted(kind, res.counted)
            detect_s += perf() - t0
            if naive_det is not None:
                for ev in res.counted:
                    naive_det.observe(kind, ev.province, ev.ward, ev.ts)
            if res.counted and not result.first_ts:
                result.first_ts = min(ev.ts for ev in res.counted)
        t0 = perf()
        watermark = agg.max_ts - lateness
        emit(detector.advance(watermark))
        detect_s += perf() - t0
        if naive_det is not None:
            result.naive_alerts += naive_det.advance(watermark)

    chunk: dict[str, list[bytes]] = {}
    n = 0
    for raw in lines:
        kind = sniff_kind(raw)
        topic = TOPIC_BY_KIND.get(kind, UNROUTABLE_TOPIC) if kind is not None else UNROUTABLE_TOPIC
        bucket = chunk.get(topic)
        if bucket is None:
            bucket = chunk[topic] = []
        bucket.append(raw)
        n += 1
        if n % CHUNK == 0:
            flush(chunk)
            chunk = {}
    if chunk:
        flush(chunk)
    # End of the logs: every hour they cover is final.
    t0 = perf()
    end = agg.max_ts + 1.0
    emit(detector.advance(end))
    detect_s += perf() - t0
    if naive_det is not None:
        result.naive_alerts += naive_det.advance(end)
    result.lines = n
    result.last_ts = agg.max_ts
    result.seconds = perf() - started
    result.detect_seconds = detect_s
    return result
