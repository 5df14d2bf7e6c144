"""Detection in the real worker: the alerts it sends to `civic.alerts` are the ones
`civicpulse backtest` finds in the same log, `civicpulse_stalled` follows them, and neither
a `kill -9` in the middle of the replay nor a restart afterwards loses or repeats state."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from reference import load_reference
from schemas.topics import ALERTS_TOPIC
from streams.detect import Alert
from streams.detect.backtest import run_backtest
from streams.detect.rolls import Rolls
from tests.integration.history import PROVINCE, write_history
from tests.integration.worker_harness import Samples, Worker, accounted, wait_until


def alerts_sent(bootstrap: str) -> list[Alert]:
    async def read() -> list[bytes]:
        # Alerts are written in the worker's transactions: a reader sees committed ones only.
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level="read_committed"
        )
        await consumer.start()
        try:
            tp = TopicPartition(ALERTS_TOPIC, 0)
            consumer.assign([tp])
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            out: list[bytes] = []
            while await consumer.position(tp) < end:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    out += [r.value for r in records if r.value is not None]
            return out
        finally:
            await consumer.stop()

    return [Alert.from_contract(orjson.loads(v)) for v in asyncio.run(read())]


def gauge(samples: Samples, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return samples.get(name, {})


def alerts_total(samples: Samples) -> int:
    return int(sum(gauge(samples, "civicpulse_alerts_total").values()))


def test_worker_alerts_match_the_backtest_through_a_crash(
    worker: Worker, fresh_kafka: str, tmp_path: Path
) -> None:
    history = write_history(tmp_path / "history.jsonl")
    rolls = Rolls.from_reference(load_reference(use_env=False))  # as the worker's
    expected = run_backtest(history.path.open("rb"), now=history.end, rolls=rolls).alerts
    assert any(a.ward_code == history.ward and a.signal == "qr_rate_drop" for a in expected)

    worker.start()
    replaying = subprocess.Popen(
        [sys.executable, "-m", "civicpulse", "replay", str(history.path),
         "--bootstrap", fresh_kafka],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    wait_until(lambda: accounted(worker.scrape() or {}) >= 0.6 * history.lines, 180, "60 %", worker)
    worker.stop(signal.SIGKILL)
    worker.start()
    out, _ = replaying.communicate(timeout=300)
    assert replaying.returncode == 0, out.decode()
    wait_until(lambda: accounted(worker.scrape() or {}) == history.lines, 300, "all", worker)
    wait_until(
        lambda: alerts_total(worker.scrape() or {}) >= len(expected), 60, "every alert", worker
    )
    raised = gauge(worker.scrape() or {}, "civicpulse_alerts_total")
    assert alerts_total(worker.scrape() or {}) == len(expected), (raised, expected)

    # Exactly once: every expected alert was sent once, through the kill -9, and nothing else.
    sent = alerts_sent(fresh_kafka)
    assert Counter(sent) == Counter(expected), (sent, expected)

    samples = worker.scrape() or {}
    stalled = {dict(k)["ward"] for k, v in gauge(samples, "civicpulse_stalled").items() if v}
    assert history.ward in stalled
    assert gauge(samples, "civicpulse_detector_enabled") == {(): 1.0}
    total_before = gauge(samples, "civicpulse_alerts_total")

    # A graceful restart brings the same open alerts and totals back from the changelog.
    worker.stop()
    worker.start()
    wait_until(
        lambda: accounted(worker.scrape() or {}) == history.lines, 120, "state reloaded", worker
    )
    samples = worker.scrape() or {}
    assert gauge(samples, "civicpulse_alerts_total") == total_before
    key = (("kind", "payment.qr"), ("province", PROVINCE), ("ward", history.ward))
    assert gauge(samples, "civicpulse_stalled")[key] == 1.0
    assert Counter(alerts_sent(fresh_kafka)) == Counter(expected)
