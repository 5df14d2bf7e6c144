"""Stage 2's glue: a group is not done (so not acknowledged to Faust) until the broker has
acknowledged every changelog write, dead letter and alert of it.

Faust's own flush before an offset commit gives up after 0.1 s without progress; a committed
offset whose changelog writes were still queued was lost for good by a kill -9 (CI saw it).
The table and topics here are stand-ins that hand out futures the test resolves itself: what
is under test is the order of the glue, not Kafka (the integration tests run the real thing).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas.topics import KIND_BY_TOPIC, TOPIC_BY_KIND
from streams.core import packing
from streams.core.aggregator import Aggregator
from streams.detect import Detector
from streams.detect.durable import DurableDetector, is_detector_key
from streams.metrics import PipelineMetrics
from streams.pipeline import Pipeline
from tests.factories import event_bytes

NOW = 1_760_000_000.0


class Table:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.sent: list[tuple[int, bytes, asyncio.Future[None]]] = []

    def send_changelog(self, partition: int, key: bytes, value: Any, **_: Any) -> Any:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append((partition, key, fut))
        return fut


class Topic:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes, asyncio.Future[None]]] = []

    async def send(self, value: bytes, force: bool = False) -> Any:
        assert force  # not attached to the current event: sent now, awaited in the group
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sent.append((value, fut))
        return fut


def payloads() -> list[bytes]:
    topic = TOPIC_BY_KIND["payment.qr"]
    lines = [event_bytes("payment.qr") for _ in range(5)] + [b"not json"]
    batch = packing.pack(topic, 0, "payment.qr", list(enumerate(lines)), NOW)
    return list(packing.encode(batch))


async def _group_waits_for_every_ack() -> None:
    table, deadletter = Table(), Topic()
    pipeline = Pipeline(
        Aggregator(dict(KIND_BY_TOPIC)), table, deadletter, PipelineMetrics(CollectorRegistry())
    )
    task = asyncio.create_task(pipeline.apply_messages(payloads()))
    for _ in range(20):
        await asyncio.sleep(0)
    assert table.sent
    assert deadletter.sent
    assert not task.done()  # writes queued, none acknowledged
    for _, _, fut in table.sent:
        fut.set_result(None)
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()  # the dead letter is still unacknowledged
    deadletter.sent[0][1].set_result(None)
    await asyncio.wait_for(task, 1)
    assert len(table.data) == len(table.sent)  # the table holds what was written


def test_a_group_waits_for_every_ack() -> None:
    asyncio.run(_group_waits_for_every_ack())


async def _a_failed_write_fails_the_group() -> None:
    table = Table()
    pipeline = Pipeline(
        Aggregator(dict(KIND_BY_TOPIC)), table, Topic(), PipelineMetrics(CollectorRegistry())
    )
    task = asyncio.create_task(pipeline.apply_messages(payloads()[:1]))
    for _ in range(20):
        await asyncio.sleep(0)
    table.sent[0][2].set_exception(RuntimeError("broker said no"))
    for _, _, fut in table.sent[1:]:
        fut.set_result(None)
    # A failed changelog write fails the group: Faust does not acknowledge it.
    with pytest.raises(RuntimeError, match="broker said no"):
        await asyncio.wait_for(task, 1)


def test_a_failed_write_fails_the_group() -> None:
    asyncio.run(_a_failed_write_fails_the_group())


async def _detector_entries_go_to_partition_zero() -> None:
    table = Table()
    pipeline = Pipeline(
        Aggregator(dict(KIND_BY_TOPIC)),
        table,
        Topic(),
        PipelineMetrics(CollectorRegistry()),
        alerts_topic=Topic(),
        detector_factory=lambda entries: DurableDetector.restore(
            entries, lambda raw: Detector.from_bytes(raw) if raw else Detector()
        ),
        partitions=1,
    )
    pipeline.reload([0])
    assert pipeline.detector is not None
    task = asyncio.create_task(pipeline.apply_messages(payloads()))
    for _ in range(20):
        await asyncio.sleep(0)
    for _, _, fut in table.sent:
        fut.set_result(None)
    for _, fut in pipeline._deadletter.sent:
        fut.set_result(None)
    await asyncio.wait_for(task, 1)
    detector_writes = [(p, k) for p, k, _ in table.sent if is_detector_key(k)]
    assert detector_writes
    assert all(p == 0 for p, _ in detector_writes)
    assert pipeline.detector.fed == {(TOPIC_BY_KIND["payment.qr"], 0): 5}


def test_detector_entries_go_to_partition_zero() -> None:
    asyncio.run(_detector_entries_go_to_partition_zero())
