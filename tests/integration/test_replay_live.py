"""`civicpulse produce`: calibrated simulated events into the real broker, accelerated or live."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from schemas.events import occurred_at_epoch
from schemas.topics import EVENT_TOPICS
from schemas.validate import Rejection, parse_event
from tests.integration.test_replay_broker import kcat_read


def produce_cmd(bootstrap: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "civicpulse", "produce", "--bootstrap", bootstrap, *args]


def all_values(bootstrap: str) -> list[bytes]:
    return [value for topic in EVENT_TOPICS for _, _, value in kcat_read(bootstrap, topic) if value]


def test_accelerated_catch_up_sends_the_last_day_and_nothing_in_the_future(
    fresh_kafka: str,
) -> None:
    started = time.time()
    done = subprocess.run(
        produce_cmd(fresh_kafka, "--speed", "86400", "--days", "1", "--scale", "0.05"),
        capture_output=True,
        timeout=300,
    )
    finished = time.time()
    assert done.returncode == 0, done.stderr.decode()
    values = all_values(fresh_kafka)
    assert len(values) > 1000
    events = [parse_event(v, now=time.time()) for v in values]
    assert not [e for e in events if isinstance(e, Rejection)]
    times = [occurred_at_epoch(e.occurred_at) for e in events if not isinstance(e, Rejection)]
    assert min(t or 0 for t in times) >= started - 86400 - 1
    # The window ends when the command read its clock, after its own start-up: between the two.
    assert max(t or 0 for t in times) <= finished
    assert f"{len(values):,}" in done.stdout.decode()  # the summary counts what was acknowledged


def test_ctrl_c_stops_the_live_feed_cleanly(fresh_kafka: str) -> None:
    proc = subprocess.Popen(
        produce_cmd(fresh_kafka, "--speed", "1", "--scale", "20"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(12)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    values = all_values(fresh_kafka)
    assert values, "the live feed sent nothing in 12 s"
    assert f"{len(values):,}" in out.decode()
    now = time.time()
    assert all(not isinstance(parse_event(v, now=now), Rejection) for v in values)
