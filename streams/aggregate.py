"""Stage 2 loop: read packed batches, apply them, write state and offsets in one transaction.

Exactly once by construction, as Kafka Streams does it: per group, every changelog write, dead
letter and alert, and the batch-topic offsets the group consumed, are committed in one Kafka
transaction. A crash anywhere leaves either all of a group or none of it; the restarted worker
fences its earlier incarnation (same transactional id) before it reads the changelog back, so a
dying process cannot write after its successor has read. The per-entry source offsets
(`streams.core.entries`) stay as a second line: stage 1 is at-least-once, and its re-sends are
skipped by offset.

Why not a Faust agent and table: under repeated `kill -9`, Faust's consumer sometimes did not
deliver again after a fast restart with static membership, and committed offsets did not match
the changelog (docs/architecture.md has the account). Owning these ~150 lines made exactness
provable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError, ProducerFenced

from schemas.topics import ALERTS_TOPIC, DEADLETTER_TOPIC
from streams.changelog import read_changelog
from streams.config import Settings
from streams.internal_topics import (
    MAX_STATE_MESSAGE_BYTES,
    aggregate_group,
    batch_topic_name,
    changelog_topic_name,
)
from streams.metrics import PipelineMetrics
from streams.pipeline import GroupOutput, Pipeline

log = logging.getLogger(__name__)


class _Assignment(ConsumerRebalanceListener):
    """Notes that the partitions changed: state is reloaded before the next group is applied.

    A revocation first waits for the group being committed: the next owner of a partition reads
    the changelog as soon as it is assigned, and must find that group's writes there."""

    def __init__(self, committing: asyncio.Lock) -> None:
        self.changed = True
        self._committing = committing

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._committing:
            self.changed = True

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.changed = True


class Aggregate:
    """The aggregating loop of one worker process (consumer group `<app_id>-aggregate`)."""

    def __init__(self, settings: Settings, pipeline: Pipeline, metrics: PipelineMetrics) -> None:
        self._settings = settings
        self._pipeline = pipeline
        self._metrics = metrics
        self._topic = batch_topic_name(settings)
        self._changelog = changelog_topic_name(settings)
        self._group = aggregate_group(settings)
        self.ready = False  # state loaded for the current assignment
        self.loaded = asyncio.Event()  # state loaded once: stage 1 may start
        self._committing = asyncio.Lock()  # held from applying a group to its commit

    async def run(self) -> None:
        s = self._settings
        kwargs: dict[str, Any] = s.aiokafka_kwargs()
        producer = AIOKafkaProducer(
            # One id per worker: a restarted worker fences the transactions of its old self.
            transactional_id=f"{s.app_id}-{s.instance_id}-aggregate",
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=1024 * 1024,
            # The detector's snapshot is one changelog record (~1.5 MB for the whole country).
            max_request_size=MAX_STATE_MESSAGE_BYTES,
            **kwargs,
        )
        await producer.start()  # InitProducerId: aborts what an earlier incarnation left open
        listener = _Assignment(self._committing)
        consumer = AIOKafkaConsumer(
            group_id=self._group,
            group_instance_id=f"{s.instance_id}-aggregate",
            session_timeout_ms=int(s.session_timeout * 1000),
            enable_auto_commit=False,  # offsets are committed inside the transaction
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=64 * 1024 * 1024,
            **kwargs,
        )
        consumer.subscribe([self._topic], listener=listener)
        await consumer.start()
        log.info("aggregate started: %s -> %s", self._topic, self._changelog)
        try:
            await self._loop(consumer, producer, listener)
        finally:
            self.ready = False
            await consumer.stop()
            await producer.stop()

    async def _loop(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, listener: _Assignment
    ) -> None:
        wait_ms = int(self._settings.group_within * 1000)
        while True:
            fetched = await consumer.getmany(
                timeout_ms=wait_ms, max_records=self._settings.group_max
            )
            if listener.changed:
                # Records fetched after a rebalance start at the committed offsets, which
                # the changelog matches (same transactions): load it, then apply them.
                listener.changed = False
                await self._reload(consumer)
            if fetched:
                async with self._committing:
                    await self._apply(fetched, producer, consumer)

    async def _reload(self, consumer: AIOKafkaConsumer) -> None:
        self.ready = False
        owned = sorted(tp.partition for tp in consumer.assignment() if tp.topic == self._topic)
        entries = await read_changelog(self._settings, owned)
        self._pipeline.reload(owned, entries)
        self.ready = True
        self.loaded.set()

    async def _apply(
        self,
        fetched: dict[TopicPartition, list[Any]],
        producer: AIOKafkaProducer,
        consumer: AIOKafkaConsumer,
    ) -> None:
        started = time.perf_counter()
        payloads = [m.value for tp in sorted(fetched) for m in fetched[tp]]
        offsets = {tp: messages[-1].offset + 1 for tp, messages in fetched.items()}
        out = self._pipeline.apply(payloads)
        try:
            await self._commit(out, offsets, producer)
        except ProducerFenced:
            log.error("another process took this worker's transactional id: stopping")
            raise
        except KafkaError as exc:
            # The working state holds a group the broker does not: go back to what it has.
            log.warning("group not committed (%r): reloading state from the changelog", exc)
            await self._rewind(producer, consumer)
            return
        self._metrics.dead_letters.inc(len(out.dead_letters))
        for alert in out.alerts:
            log.info("alert raised: %s", alert.decode())
        self._metrics.aggregate_seconds.observe(time.perf_counter() - started)

    async def _commit(
        self, out: GroupOutput, offsets: dict[TopicPartition, int], producer: AIOKafkaProducer
    ) -> None:
        await producer.begin_transaction()
        try:
            sends = [
                await producer.send(self._changelog, key=key, value=value, partition=part)
                for part, key, value in out.writes
            ]
            sends += [await producer.send(DEADLETTER_TOPIC, value=v) for v in out.dead_letters]
            sends += [await producer.send(ALERTS_TOPIC, value=v) for v in out.alerts]
            await producer.send_offsets_to_transaction(offsets, self._group)
            for fut in sends:
                await fut  # a failed send raises here, before the commit
            await producer.commit_transaction()
        except ProducerFenced:
            raise
        except KafkaError:
            await producer.abort_transaction()
            raise

    async def _rewind(self, producer: AIOKafkaProducer, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            committed = await consumer.committed(tp)
            if committed is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)
        await self._reload(consumer)
