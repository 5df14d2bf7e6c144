"""How far a commune's rate drop or decline could be seen at all: an oracle's best P.

For each commune episode of a compact benchmark run (`detection_quality --compact`) that thins a
rate (activation, QR or service drops, gradual declines), the oracle knows the commune's true
expected count per day without the episode (`producers.simulator.effects.EffectModel`, campaign
days included, which no real detector can know in advance) and takes the best run of whole days
within the episode: P(X <= observed) for X negative binomial with the simulator's own day noise
(gamma shape 6 a commune-day, online and counter payments each their own) and nothing learnt,
so no learning uncertainty. It prints, per
episode, whether the detector found it and the oracle's P: an episode the oracle cannot bring
under the detector's threshold (10^-6 for commune drops) is beyond any detector at that
false-alarm rate.

    python -m benchmarks.commune_oracle --seeds 91 92 93 94 --start 2025-10-06 --days 28 \\
        --dir var/oct
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from benchmarks.detection_quality import compact_rows
from producers.simulator import Episode, SimulationConfig
from producers.simulator.calendar import VN_TZ
from producers.simulator.calibration import COMMUNE_DAY_SHAPE
from producers.simulator.effects import EffectModel
from reference import load_reference
from streams.detect.config import COMMUNE
from streams.detect.stats import nb_cdf

DROP_SIGNAL = {
    "identity.activation": "activation_rate_drop",
    "payment.qr": "qr_rate_drop",
    "service.payment": "service_rate_drop",
}
RATE_SIGNALS = frozenset({*DROP_SIGNAL.values(), "gradual_decline"})


def oracle(
    expected: list[list[float]], observed: list[int], ratio: float = COMMUNE.drop_ratio
) -> tuple[float, tuple[int, int, float] | None]:
    """The best P over runs of whole days at or below ``ratio`` of the expectation, and that
    run's (days, observed, expected). ``expected`` holds each day's components (online and
    counter payments), each with its own day noise: the run's gamma shape is
    ``shape * E**2 / sum(e**2)`` over its days and components (``shape * days`` for one)."""
    best: tuple[float, tuple[int, int, float] | None] = (1.0, None)
    for i in range(len(expected)):
        for j in range(i + 1, len(expected) + 1):
            parts = [e for day in expected[i:j] for e in day]
            e, o = sum(parts), sum(observed[i:j])
            if e > 0 and o <= ratio * e:
                p = nb_cdf(o, e, COMMUNE_DAY_SHAPE * e**2 / sum(x**2 for x in parts))
                if p < best[0]:
                    best = (p, (j - i, o, round(e, 1)))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--start", required=True)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    start = date.fromisoformat(args.start)
    ref = load_reference(use_env=False)
    for seed in args.seeds:
        stem = args.dir / f"seed{seed}-{start.isoformat()}-{args.days}d"
        meta = json.loads(Path(f"{stem}.meta.json").read_text())
        raw = Path(f"{stem}.alerts.jsonl").read_bytes()
        alerts = [orjson.loads(line) for line in raw.splitlines() if line]
        model = EffectModel(SimulationConfig(start=start, days=args.days, seed=seed), ref)
        episodes: list[dict[str, Any]] = [
            ep
            for ep in meta["truth"]["episodes"]
            if ep["ward_code"] and ep["signal"] in RATE_SIGNALS and ep["kind"] in DROP_SIGNAL
        ]
        wanted = {(ep["kind"], ep["ward_code"]) for ep in episodes}
        per_day: Counter[tuple[str, str, date]] = Counter()
        for kind, _prov, ward, ts, _cls, _src in compact_rows(stem):
            if (kind, ward) in wanted:
                per_day[(kind, ward, datetime.fromtimestamp(ts, VN_TZ).date())] += 1
        for ep in episodes:
            first = datetime.fromisoformat(ep["start"]).date()
            days = [first + timedelta(days=i) for i in range(_ep_days(ep))]
            expected = [_components(model, ep, d) for d in days]
            observed = [per_day[(ep["kind"], ep["ward_code"], d)] for d in days]
            p, run = oracle(expected, observed)
            found = any(
                a["kind"] == ep["kind"] and a["ward_code"] == ep["ward_code"] for a in alerts
            )
            print(
                f"seed {seed} {ep['signal']:<22} {ep['kind']:<20} {ep['ward_code']} "
                f"{'found ' if found else 'MISSED'} oracle P {p:.1e} "
                f"(days, observed, expected) {run}; expected a day "
                f"{[round(sum(e)) for e in expected]}, observed {observed}"
            )
    return 0


def _ep_days(ep: dict[str, Any]) -> int:
    return (datetime.fromisoformat(ep["end"]) - datetime.fromisoformat(ep["start"])).days


def _components(model: EffectModel, ep: dict[str, Any], day: date) -> list[float]:
    """The commune's expected count on ``day`` without the episode, per component with its own
    day noise (service: online, counter), from probes whose expected effect is that count."""
    total = model.expected(_probe(DROP_SIGNAL[ep["kind"]], ep["ward_code"], day))
    if ep["kind"] != "service.payment":
        return [total]
    online = model.expected(_probe("online_share_regression", ep["ward_code"], day))
    return [online, total - online]


def _probe(signal: str, ward: str, day: date) -> Episode:
    """One day of ``signal`` at factor 0 in ``ward``: everything it acts on, removed or moved."""
    return Episode.model_validate(
        {
            "signal": signal,
            "ward": ward,
            "start": day.isoformat(),
            "end": (day + timedelta(days=1)).isoformat(),
            "factor": 0.0,
        }
    )


if __name__ == "__main__":
    raise SystemExit(main())
