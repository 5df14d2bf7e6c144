"""Detection quality on simulated scenarios: the detector and the naive rule, side by side.

For each seed: simulate a calibrated log with a random scenario (`--random-scenario`: each
episode drawn where it is expected to change at least 20 events, `producers.simulator.effects`),
then detect and score.

    python -m benchmarks.detection_quality --seeds 11 12 13 14 --start 2025-02-17 --days 28 \
        --dir var/quality --fast --json var/quality/report.json

Each 28-day log at calibrated volume is ~4 GB (~12 M lines); `--rescore` re-scores the saved
alerts only.

`--compact` (what docs/detection.md reports) simulates in-process instead, keeps ~11
bytes an event and no JSON log, and feeds the detector the same rows as `--fast`; it also takes
a scenario file, some kinds and a volume (`--scenario`, `--kinds`, `--scale`) instead of the
random scenario at calibrated volume. A missed cashless share regression of the log's first
payment round is marked as such (nothing earlier of its own to regress from; see `first_round`).

`--fast` feeds the detector straight from the parsed lines (the simulated logs have no faults,
so validation and dedup would change nothing); without it every log goes through the full
backtest pipeline (`streams.detect.backtest.run_backtest`), as `civicpulse backtest` does.

An episode is *observable* when it changed at least `--observable` events: its `effect` in the
truth, which the simulator counts as it writes (events removed, or moved to the counter or to
cash). Random scenarios are drawn so that every episode is expected to be (the expectation is
not the draw: a commune's quiet days can leave one a little short); a scenario file may hold
episodes that change nothing, such as a feed outage on a Sunday, when no pension is paid.
Recall is reported over all episodes and over observable ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from producers.logs import iter_raw_lines
from reference import load_reference
from streams.core.aggregator import classify
from streams.detect.alerts import Alert
from streams.detect.backtest import run_backtest
from streams.detect.config import DetectorConfig
from streams.detect.detector import Detector
from streams.detect.naive import NaiveDetector
from streams.detect.rolls import Rolls
from streams.detect.scoring import Score, TruthEpisode, load_alerts, load_truth, score

_ATTRS = ("level", "program", "channel")


def simulate(seed: int, start: date, days: int, out: Path, scenario: bool) -> Path:
    from producers.simulator import SimulationConfig
    from producers.simulator import simulate as run
    from producers.simulator.effects import draw_scenario
    from reference import load_reference

    if out.exists() and Path(f"{out}.truth.json").exists():
        return out
    ref = load_reference(use_env=False)
    config = SimulationConfig(start=start, days=days, seed=seed)
    if scenario:
        config = replace(config, scenario=draw_scenario(config, ref))
    run(config, out, reference=ref)
    return out


def parsed_events(path: Path) -> Iterator[tuple[str, str, str, float, str, str]]:
    """(kind, province, ward, ts, class, source) of every line of a fault-free log."""
    return _rows(iter_raw_lines([path]))


def detect_fast(
    path: Path, config: DetectorConfig | None = None, naive: bool = True
) -> tuple[list[Alert], list[Alert], float]:
    return detect_rows(parsed_events(path), config, naive)


def detect_rows(
    rows: Iterable[tuple[str, str, str, float, str, str]],
    config: DetectorConfig | None = None,
    naive: bool = True,
) -> tuple[list[Alert], list[Alert], float]:
    """Alerts of the detector and of the naive rule over parsed rows, in log order, advancing
    the watermark after every 4,096 rows; and the seconds spent in the detector."""
    det = Detector(config, Rolls.from_reference(load_reference(use_env=False)))
    nav = NaiveDetector() if naive else None
    lateness = det.config.allowed_lateness
    alerts: list[Alert] = []
    naive_alerts: list[Alert] = []
    max_ts = 0.0
    n = 0
    t_det = 0.0
    perf = time.perf_counter
    batch: list[tuple[str, str, str, float, str, str]] = []
    for ev in rows:
        batch.append(ev)
        if len(batch) == 4096:
            t0 = perf()
            by_kind: dict[str, list[tuple[str, str, float, str, str]]] = {}
            for kind, prov, ward, ts, cls, src in batch:
                by_kind.setdefault(kind, []).append((prov, ward, ts, cls, src))
                if ts > max_ts:
                    max_ts = ts
            for kind, rows_of_kind in by_kind.items():  # as the worker: one call per batch
                det.observe_many(kind, rows_of_kind)
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


_FIRST = "; no earlier round in the log"
# --- compact mode: simulate in-process, keep each event as a few bytes --------------------------
#
# A 28-day calibrated log is ~4 GB of JSON; parsing it dominates a run. `--compact` simulates
# in-process instead and keeps, per event, its time, locality and (kind, class, source) in
# `<stem>.events` (~11 bytes an event) with `<stem>.meta.json` (the tables, the truth and each
# episode's effect). The detector is fed
# the same rows, in the same order and chunks, as `--fast` feeds it from the log.


@dataclass(frozen=True)
class Run:
    """What a compact run simulates besides its seed: the whole country at calibrated volume
    with a random scenario (the default), or a scenario file, some kinds, another volume."""

    scenario: Path | None = None
    kinds: tuple[str, ...] | None = None
    scale: float = 1.0


def _sim_lines(
    seed: int, start: date, days: int, scenario: bool, run: Run = Run()
) -> tuple[Any, Iterator[bytes]]:
    from producers.simulator import SimulationConfig, Simulator, load_scenario
    from producers.simulator.effects import draw_scenario
    from reference import load_reference

    ref = load_reference(use_env=False)
    extra: dict[str, Any] = {"kinds": run.kinds} if run.kinds else {}
    config = SimulationConfig(start=start, days=days, seed=seed, scale=run.scale, **extra)
    if scenario and run.scenario is not None:
        config = replace(config, scenario=load_scenario(run.scenario))
    elif scenario:
        config = replace(config, scenario=draw_scenario(config, ref))
    sim = Simulator(config, ref)
    return sim, sim.lines()


def _rows(lines: Iterator[bytes]) -> Iterator[tuple[str, str, str, float, str, str]]:
    loads, parse = orjson.loads, datetime.fromisoformat
    cache: dict[str, float] = {}
    for raw in lines:
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


def _truth(stem: Path) -> tuple[list[TruthEpisode], float | None, list[int]] | None:
    """The truth, its days and its episodes' effects, as a run saved them: the compact cache's
    meta, else the JSON log's truth file; None when there is neither."""
    meta, truth_file = Path(f"{stem}.meta.json"), Path(f"{stem}.jsonl.truth.json")
    if meta.exists():
        data = json.loads(meta.read_text())
        truth, days = load_truth(orjson.dumps(data["truth"]))
        return truth, days, data["effect"]
    if truth_file.exists():
        raw = truth_file.read_bytes()
        truth, days = load_truth(raw)
        return truth, days, effects(orjson.loads(raw))
    return None


def effects(truth: dict[str, Any]) -> list[int]:
    """Per truth episode, the events the simulator counted it removing or moving."""
    return [int(ep["effect"]) for ep in truth["episodes"]]


def build_compact(seed: int, start: date, days: int, stem: Path, run: Run = Run()) -> None:
    """Simulate the run with its scenario, kept compactly, with each episode's effect."""
    from array import array

    events, meta = Path(f"{stem}.events"), Path(f"{stem}.meta.json")
    if events.exists() and meta.exists():
        return
    sim, lines = _sim_lines(seed, start, days, scenario=True, run=run)
    locs: dict[tuple[str, str], int] = {}
    combos: dict[tuple[str, str, str], int] = {}
    ts_a, loc_a, combo_a = array("d"), array("H"), array("B")
    for kind, prov, ward, ts, cls, src in _rows(lines):
        li = locs.get((prov, ward))
        if li is None:
            li = locs[(prov, ward)] = len(locs)
        ci = combos.get((kind, cls, src))
        if ci is None:
            ci = combos[(kind, cls, src)] = len(combos)
        ts_a.append(ts)
        loc_a.append(li)
        combo_a.append(ci)
    truth = sim.truth.to_dict()  # complete, effects counted, once the lines are exhausted
    tmp = Path(f"{events}.tmp")
    with tmp.open("wb") as f:
        for arr in (ts_a, loc_a, combo_a):
            arr.tofile(f)
    tmp.rename(events)
    meta.write_text(
        json.dumps(
            {
                "n": len(ts_a),
                "locs": [list(k) for k in locs],
                "combos": [list(k) for k in combos],
                "truth": truth,
                "effect": effects(truth),
            }
        )
    )


def compact_rows(stem: Path) -> Iterator[tuple[str, str, str, float, str, str]]:
    """The rows of a compact cache, in log order."""
    from array import array

    meta = json.loads(Path(f"{stem}.meta.json").read_text())
    n = meta["n"]
    locs = [tuple(x) for x in meta["locs"]]
    combos = [tuple(x) for x in meta["combos"]]
    ts_a, loc_a, combo_a = array("d"), array("H"), array("B")
    with Path(f"{stem}.events").open("rb") as f:
        ts_a.fromfile(f, n)
        loc_a.fromfile(f, n)
        combo_a.fromfile(f, n)
    for ts, li, ci in zip(ts_a, loc_a, combo_a, strict=True):
        kind, cls, src = combos[ci]
        prov, ward = locs[li]
        yield kind, prov, ward, ts, cls, src


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13, 14])
    parser.add_argument("--start", default="2025-03-01")
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--dir", type=Path, default=Path("var/quality"))
    parser.add_argument("--fast", action="store_true", help="skip validation and dedup")
    parser.add_argument(
        "--compact",
        action="store_true",
        help="simulate in-process into a compact cache (no JSON logs), detect from it",
    )
    parser.add_argument(
        "--build-only", action="store_true", help="with --compact: build the caches and stop"
    )
    parser.add_argument("--no-naive", action="store_true", help="skip the naive rule")
    parser.add_argument(
        "--scenario", type=Path, help="with --compact: this scenario file, not a random one"
    )
    parser.add_argument("--kinds", help="with --compact: simulate only these kinds (a,b)")
    parser.add_argument("--scale", type=float, default=1.0, help="with --compact: volume")
    parser.add_argument("--observable", type=int, default=20)
    parser.add_argument("--grace-hours", type=float, default=24.0)
    parser.add_argument("--json", type=Path, help="write the per-seed and pooled scores here")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="score the alerts a previous run saved in --dir (simulates nothing)",
    )
    args = parser.parse_args(argv)
    start = date.fromisoformat(args.start)
    run = Run(
        args.scenario, tuple(args.kinds.split(",")) if args.kinds else None, float(args.scale)
    )
    tag = "" if run == Run() else f"-{args.scenario.stem if args.scenario else 'random'}"
    if run.kinds or run.scale != 1.0:
        tag += f"-{'+'.join(k.split('.')[0] for k in run.kinds or ())}-x{run.scale:g}"
    args.dir.mkdir(parents=True, exist_ok=True)
    pooled = {name: Score() for name in ("detector", "naive", "detector_observable",
              "naive_observable")}  # fmt: skip
    report: dict[str, Any] = {"seeds": {}}
    for seed in args.seeds:
        stem = args.dir / f"seed{seed}-{start.isoformat()}-{args.days}d{tag}"
        if args.compact and not args.rescore:  # --rescore: what a run saved, nothing new
            build_compact(seed, start, args.days, stem, run)
            if args.build_only:
                continue
        elif not args.rescore:
            log = simulate(seed, start, args.days, Path(f"{stem}.jsonl"), scenario=True)
        saved = _truth(stem)
        if saved is None or (args.rescore and not Path(f"{stem}.alerts.jsonl").exists()):
            parser.error(
                f"--rescore: nothing saved for seed {seed}: no {stem}.alerts.jsonl with its"
                " .meta.json (--compact) or .jsonl.truth.json; run it without --rescore first"
            )
        truth, truth_days, seen = saved
        days = truth_days or args.days
        visible = [ep for ep, n in zip(truth, seen, strict=True) if n >= args.observable]
        t0 = time.perf_counter()
        if args.rescore:
            alerts = _read_alerts(Path(f"{stem}.alerts.jsonl"))
            naive = Path(f"{stem}.naive.jsonl")  # none when every run skipped the naive rule
            naive_alerts = _read_alerts(naive) if naive.exists() else []
        elif args.compact:
            alerts, naive_alerts, _t = detect_rows(compact_rows(stem), naive=not args.no_naive)
        elif args.fast:
            alerts, naive_alerts, _t = detect_fast(log)
        else:
            rolls = Rolls.from_reference(load_reference(use_env=False))
            result = run_backtest(iter_raw_lines([log]), naive=True, rolls=rolls)
            alerts, naive_alerts = result.alerts, result.naive_alerts
        elapsed = time.perf_counter() - t0
        Path(f"{stem}.alerts.jsonl").write_bytes(b"".join(a.to_json() + b"\n" for a in alerts))
        if not args.no_naive:  # a run without the naive rule keeps the last one's alerts
            Path(f"{stem}.naive.jsonl").write_bytes(
                b"".join(a.to_json() + b"\n" for a in naive_alerts)
            )
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
        # by target and start: an episode merged with an overlapping one keeps its start
        missed = {_target(ep) for ep in score(alerts, truth, days=days, grace_s=grace).missed}
        row["missed"] = [
            f"{ep.signal} {ep.kind} {ep.ward_code or ep.province_code or 'everywhere'} "
            f"(effect: {n} events{_FIRST if first_round(ep, start) else ''})"
            for ep, n in zip(truth, seen, strict=True)
            if _target(ep) in missed
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


def _target(ep: TruthEpisode) -> tuple[str, str, str | None, str | None, float]:
    return ep.signal, ep.kind, ep.province_code, ep.ward_code, ep.start


def first_round(ep: TruthEpisode, start: date) -> bool:
    """A cashless share regression of the first payment round of the log with bank transfers:
    a share can only regress from an earlier share, and the locality has no earlier round here.
    (A real deployment has months of rounds behind it; a 28-day log has none. The simulator
    lowers the bank share of the rounds that begin within the episode.)"""
    from producers.simulator.calendar import VN_TZ, cycles_between

    if ep.signal != "cashless_share_regression":
        return False
    begin = datetime.fromtimestamp(ep.start, VN_TZ).date()
    finish = datetime.fromtimestamp(ep.end, VN_TZ).date()
    for program in ("pension", "social_allowance"):
        cycles = [c for c in cycles_between(program, start, finish) if c.bank_days[0][0] >= start]
        if cycles and begin <= cycles[0].first_day <= finish:
            return True  # the first round with bank days in the log begins within the episode
    return False
    begin = datetime.fromtimestamp(ep.start, VN_TZ).date()
    finish = datetime.fromtimestamp(ep.end, VN_TZ).date()
    for program in ("pension", "social_allowance"):
        cycles = [c for c in cycles_between(program, start, finish) if c.bank_days[0][0] >= start]
        if cycles and begin <= cycles[0].first_day <= finish:
            return True  # the first round with bank days in the log starts within the episode
    return False


def _read_alerts(path: Path) -> list[Alert]:
    with path.open("rb") as f:
        return load_alerts(f)


def _false(alerts: list[Alert], truth: list[TruthEpisode], grace: float) -> list[Alert]:
    return score(alerts, truth, days=1, grace_s=grace).false_alerts


if __name__ == "__main__":
    raise SystemExit(main())
