"""Replay N synthetic events into a real broker and time the worker accounting for all of them.

Prints events/s for the replay and for the worker (from its first accounted event to the last,
and from process start), and the worker's peak resident memory.

    .venv/bin/python benchmarks/worker_throughput.py --events 1000000

Starts its own broker on free ports unless --bootstrap is given. The worker reads a log that is
already in Kafka, so the figure is its catch-up throughput: the worst case after an outage.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

import psutil

from civicpulse import kafka_local
from civicpulse.topics_admin import load_topics, recreate_topics
from producers.replay import replay
from producers.synthetic import SyntheticConfig, write_log
from tests.integration.conftest import free_ports
from tests.integration.worker_harness import Worker, accounted, stop_all, wait_until


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--bootstrap", help="use this broker instead of starting one")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--no-detect",
        action="store_true",
        help="run the worker without the detector, to see its cost",
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="civicpulse-bench-") as tmp:
        work = Path(tmp)
        broker_dir = work / "kafka"
        bootstrap = args.bootstrap
        if bootstrap is None:
            port, cport = free_ports(2)
            bootstrap = kafka_local.up(broker_dir, port=port, controller_port=cport).bootstrap
        try:
            run(bootstrap, args.events, args.seed, work, detect=not args.no_detect)
        finally:
            if args.bootstrap is None:
                kafka_local.down(broker_dir)


def run(bootstrap: str, n: int, seed: int, work: Path, detect: bool = True) -> None:
    asyncio.run(recreate_topics(bootstrap, load_topics()))
    log = work / "events.jsonl"
    cfg = SyntheticConfig(seed=seed, duplicate_rate=0.01, late_rate=0.01, malformed_rate=0.005)
    t0 = time.perf_counter()
    truth = write_log(log, cfg, n=n)
    gen_s = time.perf_counter() - t0

    summary = asyncio.run(replay([log], bootstrap=bootstrap, progress=False))
    replay_rate = summary.sent / summary.elapsed_s

    worker = Worker(bootstrap, f"civicpulse-bench{uuid.uuid4().hex[:6]}", free_ports(1)[0], work)
    worker.env["CIVICPULSE_DETECT"] = "true" if detect else "false"
    started = time.perf_counter()
    worker.start()
    assert worker.proc is not None
    proc = psutil.Process(worker.proc.pid)
    peak_rss = 0
    first_at: float | None = None
    try:
        while True:
            samples = worker.scrape() or {}
            done = accounted(samples)
            now = time.perf_counter()
            peak_rss = max(peak_rss, proc.memory_info().rss)
            if done and first_at is None:
                first_at = now
            if done >= truth.lines:
                break
            if now - started > 1800:
                raise SystemExit(f"worker accounted only {done} of {truth.lines} in 30 min")
            time.sleep(
                1.0
            )  # a scrape of ~30k series costs the worker CPU: poll like Prometheus, not faster
        finished = time.perf_counter()
        cpu = proc.cpu_times()
        cpu_s = cpu.user + cpu.system
        wait_until(lambda: accounted(worker.scrape() or {}) == truth.lines, 10, "stable count")
    finally:
        stop_all(worker)

    assert first_at is not None
    steady = truth.lines / (finished - first_at)
    overall = truth.lines / (finished - started)
    print(f"events in log          {truth.lines:>12,}  (generated in {gen_s:.1f}s)")
    print(f"detection              {'on' if detect else 'off':>12}")
    print(f"replay                 {replay_rate:>12,.0f} events/s  ({summary.elapsed_s:.1f}s)")
    print(f"worker, steady         {steady:>12,.0f} events/s  (first to last accounted)")
    print(f"worker, incl. start-up {overall:>12,.0f} events/s  ({finished - started:.1f}s)")
    print(f"worker CPU time        {cpu_s:>12,.1f} s  (incl. start-up and recovery)")
    print(f"worker per CPU-second  {truth.lines / cpu_s:>12,.0f} events/s  (one core to itself)")
    print(f"worker peak RSS        {peak_rss / 2**20:>12,.0f} MiB")
    print(f"machine load average   {os.getloadavg()[0]:>12.2f}  ({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
