"""Time `civicpulse backtest` on a 1 M-event calibrated log, and the detector alone.

    .venv/bin/python benchmarks/backtest_speed.py            # simulates the log first (~15 s)
    .venv/bin/python benchmarks/backtest_speed.py --log FILE # or times an existing log

Prints, for the whole pipeline (validate, dedup and count, detect), lines/s and the total time;
for the detector alone (fed with the counted events, advancing the watermark after each chunk
of 4,096 as the backtest does), events/s and µs/event, and the size of its saved state.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from producers.logs import iter_raw_lines
from reference import load_reference
from streams.detect.backtest import run_backtest
from streams.detect.detector import Detector
from streams.detect.rolls import Rolls


def _simulate(out: Path, days: int, scale: float) -> None:
    from producers.simulator import SimulationConfig
    from producers.simulator import simulate as run

    # From Monday 2025-03-03, the pension round's first days: every feed is busy, and at a
    # third of the calibrated volume 1 M events span several days, so that the hourly judging
    # of the 3,355 localities x 4 kinds weighs in the figure as it does in a long log.
    run(SimulationConfig(start=date(2025, 3, 3), days=days, seed=1, scale=scale), out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--log", type=Path, help="an event log (default: simulate one)")
    ap.add_argument("--events", type=int, default=1_000_000, help="lines of the log to use")
    ap.add_argument("--days", type=int, default=5, help="days to simulate")
    ap.add_argument("--scale", type=float, default=0.3, help="volume of the simulated log")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="civicpulse-backtest-") as tmp:
        log = args.log
        if log is None:
            log = Path(tmp) / "log.jsonl"
            _simulate(log, args.days, args.scale)
        lines = list(itertools.islice(iter_raw_lines([log]), args.events))
    print(f"log: {len(lines):,} lines")

    rolls = Rolls.from_reference(load_reference(use_env=False))  # as the CLI and the worker
    result = run_backtest(iter(lines), rolls=rolls)
    n = result.lines
    print(
        f"backtest (validate + dedup + count + detect): {result.seconds:.1f} s, "
        f"{n / result.seconds:,.0f} lines/s, {len(result.alerts)} alerts"
    )

    # The detector alone, on the events the pipeline counted.
    det = result.detector
    assert det is not None
    counted = _counted(lines)
    detector = Detector(None, rolls)
    started = time.perf_counter()
    newest = 0.0
    lateness = detector.config.allowed_lateness
    for i in range(0, len(counted), 4096):
        chunk = counted[i : i + 4096]
        by_kind: dict[str, list[tuple[str, str, float, str, str]]] = {}
        for kind, row in chunk:
            by_kind.setdefault(kind, []).append(row)
            newest = max(newest, row[2])
        for kind, rows in by_kind.items():
            detector.observe_many(kind, rows)
        detector.advance(newest - lateness)
    detector.advance(newest + 1)
    elapsed = time.perf_counter() - started
    print(
        f"detector alone: {elapsed:.2f} s, {len(counted) / elapsed:,.0f} events/s, "
        f"{1e6 * elapsed / len(counted):.2f} µs/event "
        f"({detector.judged - detector.first_hour + 1} hours judged)"
    )
    t0 = time.perf_counter()
    state = detector.to_bytes()
    t1 = time.perf_counter()
    Detector.from_bytes(state, None, rolls)
    t2 = time.perf_counter()
    print(
        f"state: {len(state) / 1e6:.1f} MB, saved in {1e3 * (t1 - t0):.0f} ms, "
        f"restored in {1e3 * (t2 - t1):.0f} ms"
    )


def _counted(lines: list[bytes]) -> list[tuple[str, tuple[str, str, float, str, str]]]:
    """(kind, (province, ward, ts, class, source)) of each valid line (the logs have no faults)."""
    from schemas.validate import Rejection, parse_event
    from streams.core.aggregator import classify

    out: list[tuple[str, tuple[str, str, float, str, str]]] = []
    for raw in lines:
        ev = parse_event(raw, now=time.time())
        if isinstance(ev, Rejection):
            continue
        fields = ev.__dict__
        attrs: dict[str, Any] = {
            k: fields[k] for k in ("level", "program", "channel") if k in fields
        }
        out.append(
            (ev.kind, (ev.province_code, ev.ward_code or "", ev.ts, classify(attrs), ev.source))
        )
    return out


if __name__ == "__main__":
    main()
