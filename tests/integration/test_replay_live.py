"""The live synthetic feed of `make demo` against the real broker."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from producers.live import LiveSummary, produce_live
from schemas.events import occurred_at_epoch
from schemas.topics import EVENT_TOPICS, TOPIC_BY_KIND
from schemas.validate import Rejection, event_key, parse_event
from tests.integration.test_replay_broker import kcat_read

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_live_feed_sends_valid_events_of_now_at_its_rate(fresh_kafka: str) -> None:
    async def run_for(seconds: float) -> LiveSummary:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        return await produce_live(fresh_kafka, 400.0, 5, stop, handle_signals=False)

    started = time.time()
    summary = asyncio.run(run_for(2.0))
    finished = time.time()

    assert 600 <= summary.sent <= 1000  # ~400 a second for 2 s (connection time aside)
    records = [(topic, r) for topic in EVENT_TOPICS for r in kcat_read(fresh_kafka, topic)]
    assert len(records) == summary.sent
    for topic, (_partition, key, value) in records:
        event = parse_event(value, now=finished)
        assert not isinstance(event, Rejection), event
        assert TOPIC_BY_KIND[event.kind] == topic
        assert key == event_key(value)
        when = occurred_at_epoch(event.occurred_at)
        assert when is not None
        assert started - 1 <= when <= finished + 1
        assert event.occurred_at.endswith("+07:00")


def test_ctrl_c_stops_the_live_feed_cleanly(fresh_kafka: str) -> None:
    script = (
        "import asyncio, sys\n"
        "from producers.live import LiveSummary, produce_live\n"
        "s = asyncio.run(produce_live(sys.argv[1], 200.0, 1, asyncio.Event()))\n"
        "print('sent', s.sent)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script, fresh_kafka],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    time.sleep(3.0)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)

    assert proc.returncode == 0, err
    assert "Traceback" not in err
    sent = int(out.split()[-1])
    assert sent > 0
    assert sum(len(kcat_read(fresh_kafka, topic)) for topic in EVENT_TOPICS) == sent
