"""Detection quality on scenarios from the independent generator, in one command.

`benchmarks/foreign_scenario.py` was written without our simulator (its own communes, noise,
calendar, welfare schedules and stalls). For each ``SEED:START`` run: generate the 28-day log
unless it is already there, run the whole backtest pipeline over it (validate, dedup, count,
detect, and the naive rule beside), score both against the log's truth, and pool the runs.

    python -m benchmarks.foreign_quality --runs 501:2025-11-03 502:2026-02-02 503:2025-12-01 \\
        504:2026-04-20 --dir var/foreign --json var/foreign/report.json

Files per run, in ``--dir``: ``s{SEED}.jsonl.gz`` and ``.truth.json`` (the scenario),
``s{SEED}.alerts.jsonl`` and ``s{SEED}.naive.jsonl`` (the alerts). ``--rescore`` scores the
saved alerts again without detecting. Report a detector on seeds drawn after its last change:
a seed looked at while changing it is no longer unseen.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks import foreign_scenario
from reference import load_reference
from streams.detect.alerts import Alert
from streams.detect.backtest import run_backtest
from streams.detect.rolls import Rolls
from streams.detect.scoring import Score, load_alerts, load_truth, score


def parse_run(text: str) -> tuple[int, date]:
    """``SEED:YYYY-MM-DD`` -> (seed, start)."""
    seed, sep, start = text.partition(":")
    try:
        if not sep:
            raise ValueError("no ':'")
        return int(seed), date.fromisoformat(start)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected SEED:YYYY-MM-DD ({exc})") from exc


def _lines(log: Path) -> Iterator[bytes]:
    with gzip.open(log, "rb") as fh:
        yield from fh


def _write_alerts(path: Path, alerts: Sequence[Alert]) -> None:
    path.write_bytes(b"".join(a.to_json() + b"\n" for a in alerts))


def _read_alerts(path: Path) -> list[Alert]:
    with path.open("rb") as fh:
        return load_alerts(fh)


def run_one(
    seed: int, start: date, days: int, where: Path, scale: float, rescore: bool
) -> tuple[Score, Score]:
    """The detector's and the naive rule's scores on one foreign scenario."""
    stem = where / f"s{seed}"
    log, truth_path = Path(f"{stem}.jsonl.gz"), Path(f"{stem}.truth.json")
    alerts_path, naive_path = Path(f"{stem}.alerts.jsonl"), Path(f"{stem}.naive.jsonl")
    if rescore:
        missing = [p for p in (truth_path, alerts_path, naive_path) if not p.exists()]
        if missing:
            raise FileNotFoundError(f"--rescore: nothing saved for seed {seed}: no {missing[0]}")
        alerts, naive = _read_alerts(alerts_path), _read_alerts(naive_path)
    else:
        if not (log.exists() and truth_path.exists()):
            where.mkdir(parents=True, exist_ok=True)
            foreign_scenario.generate(start, days, seed, log, truth_path, scale)
        rolls = Rolls.from_reference(load_reference(use_env=False))
        result = run_backtest(_lines(log), naive=True, rolls=rolls)
        alerts, naive = result.alerts, result.naive_alerts
        _write_alerts(alerts_path, alerts)
        _write_alerts(naive_path, naive)
        print(f"seed {seed}: {result.render()}", file=sys.stderr)
    truth, truth_days = load_truth(truth_path.read_bytes())
    n_days = truth_days or days
    return score(alerts, truth, days=n_days), score(naive, truth, days=n_days)


def _row(name: str, s: Score) -> str:
    by = s.to_dict()["median_latency_h_by_scope"]
    latency = " / ".join(f"{by.get(k, '-')}" for k in ("commune", "province", "national"))
    return (
        f"{name:<12} recall {s.recall:.2f} ({s.matched_episodes}/{s.episodes})  precision "
        f"{s.precision:.4f} ({s.matched_alerts}/{s.alerts})  false/1,000 locality-days "
        f"{s.false_per_1000_locality_days:.3f}  latency commune / province / outage {latency} h"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=parse_run, nargs="+", required=True, metavar="SEED:START")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--scale", type=float, default=1.0, help="volume (1.0: calibrated)")
    parser.add_argument("--dir", type=Path, default=Path("var/foreign"))
    parser.add_argument("--rescore", action="store_true", help="score the saved alerts only")
    parser.add_argument("--json", type=Path, help="write the per-run and pooled scores here")
    args = parser.parse_args(argv)
    pooled, pooled_naive = Score(), Score()
    report: dict[str, Any] = {"runs": {}}
    try:
        for seed, start in args.runs:
            ours, naive = run_one(seed, start, args.days, args.dir, args.scale, args.rescore)
            pooled.add(ours)
            pooled_naive.add(naive)
            report["runs"][f"{seed}:{start}"] = {
                "detector": ours.to_dict(),
                "naive": naive.to_dict(),
                "missed": [
                    f"{e.signal} {e.kind} {e.ward_code or e.province_code or 'nation'} "
                    f"(effect: {e.effect})"
                    for e in ours.missed
                ],
                "false_alerts": [a.to_contract() for a in ours.false_alerts],
            }
            print(_row(f"seed {seed}", ours))
            print(_row("  naive", naive))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report["pooled"] = {"detector": pooled.to_dict(), "naive": pooled_naive.to_dict()}
    print(_row("pooled", pooled))
    print(_row("  naive", pooled_naive))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
