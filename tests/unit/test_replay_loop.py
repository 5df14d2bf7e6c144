"""The replay loop against an in-memory producer, and the pure pacing schedule of `--speed`."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, NotLeaderForPartitionError
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.record.default_records import DefaultRecordBatch

from producers import replay as replay_module
from producers.exceptions import DeliveryError, EventLogError
from producers.replay import Pacer, ReplaySummary, due_offset, event_time, replay
from producers.routing import partition_for_key, route
from schemas.topics import EVENT_TOPICS, TOPIC_BY_KIND, UNROUTABLE_TOPIC
from tests.factories import event_bytes

PARTITIONS = 4


class FakeProducer:
    """Takes batches like AIOKafkaProducer.send_batch and keeps what they hold, per partition."""

    def __init__(self, fail_topic: str | None = None, stalled: bool = False) -> None:
        self.fail_topic = fail_topic
        self.stalled = stalled  # as when the broker is gone: no room for a new batch in time
        self.records: dict[tuple[str, int], list[tuple[bytes | None, bytes]]] = defaultdict(list)
        self.batches = 0
        self.stopped = False

    def create_batch(self) -> BatchBuilder:
        return BatchBuilder(16 * 1024, 0)  # small: a test log fills several batches

    async def send_batch(self, batch: BatchBuilder, topic: str, *, partition: int) -> Any:
        assert 0 <= partition < PARTITIONS
        if self.stalled:
            raise KafkaTimeoutError()
        self.batches += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if topic == self.fail_topic:
            future.set_exception(NotLeaderForPartitionError())
            return future
        for record in DefaultRecordBatch(bytes(batch._build())):
            self.records[topic, partition].append((record.key, record.value))
        future.set_result(None)
        return future

    async def partitions_for(self, topic: str) -> set[int]:
        assert topic in EVENT_TOPICS
        return set(range(PARTITIONS))

    async def stop(self) -> None:
        self.stopped = True


@pytest.fixture
def fake_producer(monkeypatch: pytest.MonkeyPatch) -> FakeProducer:
    producer = FakeProducer()

    async def start(*args: Any, **kwargs: Any) -> FakeProducer:
        return producer

    monkeypatch.setattr(replay_module, "start_producer", start)
    return producer


def log_lines(n: int) -> list[bytes]:
    kinds = sorted(TOPIC_BY_KIND)
    lines = [event_bytes(kinds[i % 4], amount_vnd=1000 + i) for i in range(n)]
    lines[7] = b"{not json"
    lines[8] = lines[3]  # a duplicate: same key, same partition
    lines[9] = lines[9].replace(b'"event_id"', b'"event_ref"')  # no readable event_id
    lines[10] = lines[10] + b"\r"  # CRLF ending: the \r belongs to the message
    return lines


def test_every_line_reaches_its_partition_byte_for_byte_in_file_order(
    tmp_path: Path, fake_producer: FakeProducer
) -> None:
    lines = log_lines(2000)
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(lines[:1000]) + b"\n\n  \n" + b"\n".join(lines[1000:]) + b"\n")

    summary = asyncio.run(replay([path], bootstrap="fake:9092", progress=False))

    expected: dict[tuple[str, int], list[tuple[bytes | None, bytes]]] = defaultdict(list)
    unkeyed = 0
    for line in lines:
        topic, key, _known = route(line)
        if key is None:
            partition = unkeyed % PARTITIONS
            unkeyed += 1
        else:
            partition = partition_for_key(key, PARTITIONS)
        expected[topic, partition].append((key, line))
    assert dict(fake_producer.records) == dict(expected)
    assert fake_producer.batches > 2 * PARTITIONS  # batches filled up and were handed over
    assert fake_producer.stopped
    assert summary.sent == 2000
    assert summary.unreadable_kind == 1
    assert summary.unkeyed == 2
    assert summary.sent_by_topic == Counter(route(line).topic for line in lines)
    assert (None, b"{not json") in expected[UNROUTABLE_TOPIC, 0] + expected[UNROUTABLE_TOPIC, 1]
    assert summary.paths == (str(path),)


def test_a_failed_batch_fails_the_replay_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    producer = FakeProducer(fail_topic=TOPIC_BY_KIND["payment.qr"])

    async def start(*args: Any, **kwargs: Any) -> FakeProducer:
        return producer

    monkeypatch.setattr(replay_module, "start_producer", start)
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(log_lines(100)))

    with pytest.raises(DeliveryError, match=r"civic\.payments\.qr partition \d \(NotLeader"):
        asyncio.run(replay([path], bootstrap="fake:9092", progress=False))
    assert producer.stopped


def test_a_broker_that_stops_taking_messages_fails_the_replay_readably(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    producer = FakeProducer(stalled=True)

    async def start(*args: Any, **kwargs: Any) -> FakeProducer:
        return producer

    monkeypatch.setattr(replay_module, "start_producer", start)
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(log_lines(1000)))

    with pytest.raises(DeliveryError, match=r"stopped after [\d,]+ lines: .*\(KafkaTimeoutError\)"):
        asyncio.run(replay([path], bootstrap="fake:9092", progress=False))
    assert producer.stopped


def test_a_line_too_large_for_kafka_fails_naming_its_place(
    tmp_path: Path, fake_producer: FakeProducer
) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(event_bytes() + b"\n" + b"x" * (2 << 20) + b"\n")

    with pytest.raises(DeliveryError, match=r"log\.jsonl, line 2: 2,097,152 bytes"):
        asyncio.run(replay([path], bootstrap="fake:9092", progress=False))


def test_a_missing_log_fails_before_connecting(tmp_path: Path) -> None:
    # No fake producer: reaching the broker would take the connection timeout, not a blink.
    started = time.monotonic()
    with pytest.raises(EventLogError, match=r"missing\.jsonl"):
        asyncio.run(replay([tmp_path / "missing.jsonl"], bootstrap="127.0.0.1:1", progress=False))
    assert time.monotonic() - started < 1.0


def test_speed_paces_the_replay_by_event_time(tmp_path: Path, fake_producer: FakeProducer) -> None:
    times = ["2025-03-14T08:00:00+07:00", "2025-03-14T08:00:30+07:00", "2025-03-14T08:01:00+07:00"]
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"\n".join(event_bytes(occurred_at=t) for t in times))

    started = time.monotonic()
    summary = asyncio.run(replay([path], bootstrap="fake:9092", speed=120, progress=False))
    elapsed = time.monotonic() - started

    assert summary.sent == 3
    assert 0.5 <= elapsed < 2.0  # one minute of event time at 120x: half a second


# --- the pacing schedule ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_s", "first_s", "speed", "due"),
    [
        (0.0, 0.0, 1.0, 0.0),
        (3600.0, 0.0, 60.0, 60.0),  # one hour of event time per minute
        (86_400.0, 0.0, 1440.0, 60.0),  # one day per minute
        (1000.0, 900.0, 0.5, 200.0),  # slower than real time
        (800.0, 900.0, 60.0, 0.0),  # earlier than the first event: at once
    ],
)
def test_due_offset(event_s: float, first_s: float, speed: float, due: float) -> None:
    assert due_offset(event_s, first_s, speed) == pytest.approx(due)


def test_pacer_anchors_on_the_first_timed_line_and_waits_for_later_ones() -> None:
    pacer = Pacer(speed=60)
    assert pacer.delay(None, now_s=100.0) == 0.0  # no time: at once, and no anchor
    assert pacer.delay(5000.0, now_s=100.0) == 0.0  # the anchor
    assert pacer.delay(5000.0 + 600, now_s=101.0) == pytest.approx(9.0)  # due at 110
    assert pacer.delay(5000.0 + 600, now_s=112.0) == 0.0  # already late: at once
    assert pacer.delay(5000.0 - 3600, now_s=112.0) == 0.0  # a late arrival: at once
    assert pacer.delay(None, now_s=112.0) == 0.0
    assert pacer.delay(5000.0 + 1200, now_s=112.0) == pytest.approx(8.0)  # due at 120


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan")])
def test_a_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="speed must be greater than 0"):
        Pacer(speed)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (event_bytes(occurred_at="2025-03-14T08:15:00+07:00"), 1741914900.0),
        (event_bytes(occurred_at="2025-03-14T01:15:00Z"), 1741914900.0),
        (event_bytes(occurred_at="2025-03-14T08:15:00"), None),  # no offset
        (event_bytes(occurred_at="yesterday"), None),
        (event_bytes(occurred_at=1741914900), None),
        (b"[1, 2]", None),
        (b"{not json", None),
    ],
    ids=["offset", "utc", "naive", "text", "number", "array", "not-json"],
)
def test_event_time(line: bytes, expected: float | None) -> None:
    assert event_time(line) == expected


def test_the_summary_says_what_was_sent() -> None:
    summary = ReplaySummary(
        sent_by_topic={"civic.payments.qr": 90_000, "civic.identity.activations": 10_000},
        unreadable_kind=3,
        unkeyed=4,
        elapsed_s=2.0,
        paths=("a.jsonl", "b.jsonl.gz"),
    )
    text = summary.render()
    assert summary.sent == 100_000
    assert summary.rate == 50_000
    assert "replayed 100,000 lines from 2 file(s)" in text
    assert re.search(r"civic\.payments\.qr +90,000\n", text)
    assert "unreadable kind (sent to the fallback topic): 3" in text
    assert "50,000 msg/s" in text
