"""Stage 1 loop: read the four feeds in aiokafka batches, validate, forward packed batches.

At-least-once by construction: source offsets are committed only after every packed message of
the batch is acknowledged by the broker. A crash re-sends some batches; stage 2 ignores the
offsets it already holds.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError

from schemas.topics import KIND_BY_TOPIC
from streams.config import Settings
from streams.core import packing
from streams.core.timesync import TimeSync
from streams.internal_topics import batch_topic_name
from streams.metrics import PipelineMetrics

log = logging.getLogger(__name__)


class Ingest:
    """The ingest loop of one worker process (consumer group `<app_id>-ingest`)."""

    def __init__(
        self,
        settings: Settings,
        metrics: PipelineMetrics,
        progress: Callable[[], Mapping[tuple[str, int], int] | None] = lambda: None,
        newest: Callable[[], Mapping[tuple[str, int], float]] = dict,
    ) -> None:
        """`progress`: the highest source offset stage 2 has applied per partition, or None
        when stage 2 of these partitions may run in another process (see `timesync`);
        `newest`: the newest event time stage 2 has applied per partition."""
        self._settings = settings
        self._progress = progress
        self._newest = newest
        self._resumed: dict[TopicPartition, int] = {}  # first offset this process fetches
        self._metrics = metrics
        self._topic = batch_topic_name(settings)
        self._consumer: AIOKafkaConsumer | None = None
        self._sync = TimeSync(settings.sync_horizon_s)
        self._floor = -math.inf  # nothing is known before the first fetch

    def highwaters(self) -> dict[tuple[str, int], int]:
        """Source high watermarks of the partitions this process ingests (for lag)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        out: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            hw = consumer.highwater(tp)
            if hw is not None:
                out[(tp.topic, tp.partition)] = hw
        return out

    async def run(self) -> None:
        s = self._settings
        kwargs: dict[str, Any] = s.aiokafka_kwargs()
        consumer = AIOKafkaConsumer(
            *KIND_BY_TOPIC,
            group_id=f"{s.app_id}-ingest",
            group_instance_id=f"{s.instance_id}-ingest",
            session_timeout_ms=int(s.session_timeout * 1000),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=s.batch_max,
            fetch_max_bytes=64 * 1024 * 1024,
            # Bounds how far one fetch can take a partition ahead of the others (`timesync`).
            max_partition_fetch_bytes=2 * 1024 * 1024,
            **kwargs,
        )
        producer = AIOKafkaProducer(
            acks="all",
            enable_idempotence=True,  # a retried send never lands twice
            linger_ms=5,
            max_batch_size=1024 * 1024,
            # No compression: gzip cost 15 % of the worker's CPU (py-spy); the topic is internal.
            max_request_size=4 * 1024 * 1024,
            **kwargs,
        )
        await consumer.start()
        await producer.start()
        self._consumer = consumer
        log.info("ingest started: %s -> %s", ", ".join(KIND_BY_TOPIC), self._topic)
        try:
            while True:
                wait = 50 if self._sync.waiting() else 500  # held records: look again soon
                fetched = await consumer.getmany(timeout_ms=wait, max_records=s.batch_max)
                await self._forward(fetched, producer, consumer)
        finally:
            self._consumer = None
            await consumer.stop()
            await producer.stop()

    def floor(self) -> float:
        """The earliest event time stage 2 may still receive (as of the last fetch): the
        detector's watermark stays behind it, so that no partition's events come too late."""
        return self._floor

    def _backlog(
        self, applied: Mapping[tuple[str, int], int] | None
    ) -> dict[tuple[str, int], float]:
        """Partitions whose records an earlier process released and stage 2 has not applied yet
        (after a restart): they stand where stage 2 has got to in them."""
        if applied is None:
            return {}
        newest = self._newest()
        return {
            (tp.topic, tp.partition): newest.get((tp.topic, tp.partition), -math.inf)
            for tp, first in self._resumed.items()
            if applied.get((tp.topic, tp.partition), -1) < first - 1
        }

    async def _pending(self, consumer: AIOKafkaConsumer) -> list[tuple[str, int]]:
        """Partitions whose broker holds records this process has not been handed yet.

        The consumer's position, not the last offset handed: it also counts records fetched
        but still in aiokafka's buffer (a busy loop can leave them there for seconds), and it
        moves past transaction markers, which would otherwise look pending for ever."""
        out = []
        for tp in consumer.assignment():
            hw = consumer.highwater(tp)
            if hw is not None and hw > await consumer.position(tp):
                out.append((tp.topic, tp.partition))
        return out

    async def _forward(
        self,
        fetched: dict[TopicPartition, list[Any]],
        producer: AIOKafkaProducer,
        consumer: AIOKafkaConsumer,
    ) -> None:
        started = time.perf_counter()
        now = time.time()
        sync = self._sync
        for tp, messages in fetched.items():
            self._resumed.setdefault(tp, messages[0].offset)
            records = [(m.offset, m.value if m.value is not None else b"") for m in messages]
            sync.add(packing.pack(tp.topic, tp.partition, KIND_BY_TOPIC[tp.topic], records, now))
        assigned = consumer.assignment()
        sync.keep({(tp.topic, tp.partition) for tp in assigned})  # after a rebalance
        for tp in assigned:
            if tp not in self._resumed:
                self._resumed[tp] = await consumer.position(tp)
        pending, applied = await self._pending(consumer), self._progress()
        backlog = self._backlog(applied)
        released = sync.release(pending, applied, backlog)
        if applied is not None:
            known = all(consumer.highwater(tp) is not None for tp in assigned) and assigned
            # Until every partition has been heard of, nothing is known about the slowest.
            self._floor = sync.floor() if known else -math.inf
        holding = sync.holding()
        paused = {tp for tp in assigned if (tp.topic, tp.partition) in holding}
        consumer.pause(*paused)
        consumer.resume(*(assigned - paused))
        if not released:
            return
        sends = []
        commit: dict[TopicPartition, int] = {}
        count = 0
        for batch in released:
            count += len(batch.accepted) + len(batch.rejected)
            for payload in packing.encode(batch):
                sends.append(await producer.send(self._topic, payload, partition=batch.partition))
            commit[TopicPartition(batch.topic, batch.partition)] = batch.last_offset + 1
        await asyncio.gather(*sends)  # raises if any send failed: nothing is committed then
        try:
            await consumer.commit(commit)
        except CommitFailedError:
            # A rebalance took the partitions: the new owner re-sends, stage 2 skips what it has.
            log.warning("ingest commit lost to a rebalance; re-delivery is idempotent")
        self._metrics.ingested.inc(count)
        self._metrics.ingest_seconds.observe(time.perf_counter() - started)
