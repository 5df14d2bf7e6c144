"""Detection quality on simulated scenarios: the detector and the naive rule, side by side.

For each seed: simulate a calibrated log with a random scenario (`--random-scenario`) and the
same run without it (the counterfactual: the simulator's streams are seeded per stream and day,
so the scenario changes the log only where it acts), then detect and score.

    python -m benchmarks.detection_quality --seeds 11 12 13 14 --start 2025-02-17 --days 28 \
        --dir var/quality --fast --json var/quality/report.json

Each 28-day log at calibrated volume is ~4 GB (~12 M lines), and so is its counterfactual (deleted
by hand once `<stem>.observable.json` exists; `--rescore` re-scores the saved alerts only).

`--fast` feeds the detector straight from the parsed lines (the simulated logs have no faults,
so validation and dedup would change nothing); without it every log goes through the full
backtest pipeline (`streams.detect.backtest.run_backtest`), as `civicpulse backtest` does.

An episode is *observable* when the scenario changed at least `--observable` events of its kind
and locality during it, against the counterfactual (removed them, or for a share regression moved
them out of the bank / online class): a feed outage on a Sunday, when no pension is paid, or a
share regression of a round that falls outside the period, changes nothing and cannot be seen.
Recall is reported over all episodes and over observable ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from producers.logs import iter_raw_lines
from streams.core.aggregator import classify
from streams.detect.alerts import Alert
from streams.detect.backtest import run_backtest
from streams.detect.config import DetectorConfig
from streams.detect.detector import Detector
from streams.detect.naive import NaiveDetector
from streams.detect.scoring import Score, TruthEpisode, load_alerts, load_truth, score

_ATTRS = ("level", "program", "channel")


def simulate(seed: int, start: date, days: int, out: Path, scenario: bool) -> Path:
    from producers.simulator import SimulationConfig, random_scenario
    from producers.simulator import simulate as run
    from reference import load_reference

    if out.exists() and Path(f"{out}.truth.json").exists():
        return out
    ref = load_reference(use_env=False)
    injected = None
    if scenario:
        populations = {code: f.population for code, f in ref.communes.items()}
        injected = random_scenario(seed, start, days, populations=populations)
    config = SimulationConfig(start=start, days=days, seed=seed, scenario=injected)
    run(config, out, reference=ref)
    return out


def parsed_events(path: Path) -> Iterator[tuple[str, str, str, float, str, str]]:
    """(kind, province, ward, ts, class, source) of every line of a fault-free log."""
    loads, parse = orjson.loads, datetime.fromisoformat
    cache: dict[str, float] = {}
    for raw in iter_raw_lines([path]):
        ev = loads(raw)
        at = ev["occurred_at"]
        ts = cache.get(at)
        if ts is None:
            if len(cache) > 100_000:
                cache.clear()
            ts = cache[at] = parse(at).timestamp()
        attrs = {k: ev[k] for k in _ATTRS if k in ev}
        yield (ev["kind"], ev["province_code"], ev["ward_code"] or "", ts, classify(attrs),
               ev["source"])  # fmt: skip


def detect_fast(
    path: Path, config: DetectorConfig | None = None, naive: bool = True
) -> tuple[list[Alert], list[Alert], float]:
    det = Detector(config)
    nav = NaiveDetector() if naive else None
    lateness = det.config.allowed_lateness
    alerts: list[Alert] = []
    naive_alerts: list[Alert] = []
    max_ts = 0.0
    n = 0
    t_det = 0.0
    perf = time.perf_counter
    batch: list[tuple[str, str, str, float, str, str]] = []
    for ev in parsed_events(path):
        batch.append(ev)
        if len(batch) == 4096:
            t0 = perf()
            for kind, prov, ward, ts, cls, src in batch:
                det.observe(kind, prov, ward, ts, cls, src)
                if ts > max_ts:
                    max_ts = ts
            alerts += det.advance(max_ts - lateness)
            t_det += perf() - t0
            if nav is not None:
                for kind, prov, ward, ts, _c, _s in batch:
                    nav.observe(kind, prov, ward, ts)
                naive_alerts += nav.advance(max_ts - lateness)
            n += len(batch)
            batch = []
    for kind, prov, ward, ts, cls, src in batch:
        det.observe(kind, prov, ward, ts, cls, src)
        if nav is not None:
            nav.observe(kind, prov, ward, ts)
        max_ts = max(max_ts, ts)
    alerts += det.advance(max_ts + 1)
    if nav is not None:
        naive_alerts += nav.advance(max_ts + 1)
    return alerts, naive_alerts, t_det


_SHARE_CLASSES = {
    "cashless_share_regression": {"pension.bank_account", "social_allowance.bank_account"},
    "online_share_regression": {"online"},
    "missing_batch": {"pension.bank_account", "social_allowance.bank_account"},
}


def _affected(path: Path, truth: list[TruthEpisode]) -> list[int]:
    """Per episode: events of its kind, locality and window (of its classes, for a share or a
    batch), in one log."""
    counts = [0] * len(truth)
    by_kind: dict[str, list[int]] = {}
    for i, ep in enumerate(truth):
        by_kind.setdefault(ep.kind, []).append(i)
    for kind, prov, ward, ts, cls, _s in parsed_events(path):
        for i in by_kind.get(kind, ()):
            ep = truth[i]
            if not ep.start <= ts < ep.end:
                continue
            if ep.province_code is not None and (
                ep.province_code != prov or (ep.ward_code is not None and ep.ward_code != ward)
            ):
                continue
            classes = _SHARE_CLASSES.get(ep.signal)
            if classes is None or cls in classes:
                counts[i] += 1
    return counts


def observability(base: Path, log: Path, truth: list[TruthEpisode]) -> list[int]:
    """Per episode, its effect: events the scenario removed (or moved out of the bank / online
    class) in its kind, locality and window, against the counterfactual log."""
    before, after = _affected(base, truth), _affected(log, truth)
    return [b - a for b, a in zip(before, after, strict=True)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14])
    parser.add_argument("--start", default="2025-03-01")
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--dir", type=Path, default=Path("var/quality"))
    parser.add_argument("--fast", action="store_true", help="skip validation and dedup")
    parser.add_argument("--observable", type=int, default=20)
    parser.add_argument("--grace-hours", type=float, default=24.0)
    parser.add_argument("--json", type=Path, help="write the per-seed and pooled scores here")
    parser.add_argument(
        "--rescore", action="store_true", help="score the alerts a previous run saved in --dir"
    )
    args = parser.parse_args(argv)
    start = date.fromisoformat(args.start)
    args.dir.mkdir(parents=True, exist_ok=True)
    pooled = {"detector": Score(), "naive": Score(), "detector_observable": Score(),
              "naive_observable": Score()}  # fmt: skip
    report: dict[str, Any] = {"seeds": {}}
    for seed in args.seeds:
        stem = args.dir / f"seed{seed}-{start.isoformat()}-{args.days}d"
        log = simulate(seed, start, args.days, Path(f"{stem}.jsonl"), scenario=True)
        truth, truth_days = load_truth(Path(f"{log}.truth.json").read_bytes())
        days = truth_days or args.days
        obs_cache = Path(f"{stem}.observable.json")
        if obs_cache.exists():
            seen = json.loads(obs_cache.read_text())
        else:
            base = simulate(seed, start, args.days, Path(f"{stem}.base.jsonl"), scenario=False)
            seen = observability(base, log, truth)
            obs_cache.write_text(json.dumps(seen))
        visible = [ep for ep, n in zip(truth, seen, strict=True) if n >= args.observable]
        t0 = time.perf_counter()
        if args.rescore:
            alerts = _read_alerts(Path(f"{stem}.alerts.jsonl"))
            naive_alerts = _read_alerts(Path(f"{stem}.naive.jsonl"))
        elif args.fast:
            alerts, naive_alerts, _t = detect_fast(log)
        else:
            result = run_backtest(iter_raw_lines([log]), naive=True)
            alerts, naive_alerts = result.alerts, result.naive_alerts
        elapsed = time.perf_counter() - t0
        Path(f"{stem}.alerts.jsonl").write_bytes(b"".join(a.to_json() + b"\n" for a in alerts))
        Path(f"{stem}.naive.jsonl").write_bytes(b"".join(a.to_json() + b"\n" for a in naive_alerts))
        grace = args.grace_hours * 3600
        row: dict[str, Any] = {}
        for name, al, eps in (
            ("detector", alerts, truth),
            ("naive", naive_alerts, truth),
            ("detector_observable", alerts, visible),
            ("naive_observable", naive_alerts, visible),
        ):
            s = score(al, eps, days=days, grace_s=grace)
            pooled[name].add(s)
            row[name] = s.to_dict()
        row["seconds"] = round(elapsed, 1)
        missed = set(score(alerts, truth, days=days, grace_s=grace).missed)
        row["missed"] = [
            f"{ep.signal} {ep.kind} {ep.ward_code or ep.province_code or 'everywhere'} "
            f"(effect: {n} events)"
            for ep, n in zip(truth, seen, strict=True)
            if ep in missed
        ]
        row["false_alerts"] = Counter(f"{a.signal} {'commune' if a.ward_code else 'province'}"
                                      for a in _false(alerts, truth, grace))  # fmt: skip
        report["seeds"][seed] = row
        print(f"seed {seed}: {json.dumps(row, ensure_ascii=False)}", file=sys.stderr)
    report["pooled"] = {name: s.to_dict() for name, s in pooled.items()}
    print(json.dumps(report["pooled"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


def _read_alerts(path: Path) -> list[Alert]:
    with path.open("rb") as f:
        return load_alerts(f)


def _false(alerts: list[Alert], truth: list[TruthEpisode], grace: float) -> list[Alert]:
    return score(alerts, truth, days=1, grace_s=grace).false_alerts


if __name__ == "__main__":
    raise SystemExit(main())
