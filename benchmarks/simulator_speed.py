"""How fast ``civicpulse simulate`` writes a log: lines per second for a 1 M-line log.

    python benchmarks/simulator_speed.py [--events 1000000] [--start 2025-03-05] [--scale 1]

Runs the calibrated simulator over enough days at ``--scale`` to reach ``--events`` lines, writes
them to a temporary ``.jsonl`` (what ``civicpulse simulate`` does, file I/O included) and prints
the time and the rate. The default start covers a pension round, the heaviest days of a month.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from producers.simulator import SimulationConfig, Simulator
from reference import load_reference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="lines to write")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 3, 5))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    reference = load_reference(use_env=False)
    config = SimulationConfig(start=args.start, days=366, seed=args.seed, scale=args.scale)
    sim = Simulator(config, reference)
    setup = time.perf_counter() - started
    written = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.jsonl")
        with open(path, "wb", buffering=1 << 20) as out:
            lines = sim.lines()
            while written < args.events:
                chunk = list(itertools.islice(lines, min(8192, args.events - written)))
                if not chunk:
                    break
                out.write(b"\n".join(chunk) + b"\n")
                written += len(chunk)
        size = os.path.getsize(path)
    elapsed = time.perf_counter() - started
    print(
        f"simulator: {written:,} lines ({size / 1e6:,.0f} MB) in {elapsed:.1f} s "
        f"(setup {setup:.1f} s): {written / elapsed:,.0f} lines/s, "
        f"scale {args.scale:g} from {args.start}"
    )


if __name__ == "__main__":
    main()
