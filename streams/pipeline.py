"""Stage 2 glue between Faust and the pure core: packed batches in, changelog writes out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from schemas.topics import KIND_BY_TOPIC
from streams.core import packing
from streams.core.aggregator import Aggregator
from streams.core.keys import parse_key
from streams.metrics import PipelineMetrics

log = logging.getLogger(__name__)


class Pipeline:
    """Owns the aggregator and writes what it produces into the changelogged state table.

    The table's values are the encoded entries; the aggregator keeps the decoded working copy.
    Writes name their changelog partition explicitly: it is the source partition of the
    messages an entry counts (the batch topic and the changelog are co-partitioned with it).
    """

    def __init__(
        self, aggregator: Aggregator, table: Any, deadletter_topic: Any, metrics: PipelineMetrics
    ) -> None:
        self.aggregator = aggregator
        self._table = table
        self._deadletter = deadletter_topic
        self._metrics = metrics

    def reload(self, partitions: Iterable[int]) -> None:
        """Rebuild the working state from the recovered table, for the partitions now owned."""
        owned = set(partitions)
        agg = self.aggregator
        agg.reset()
        loaded = 0
        for key, value in list(self._table.data.items()):
            sk = parse_key(key)
            if sk.partition in owned and sk.topic in KIND_BY_TOPIC:
                agg.load(key, value)
                loaded += 1
        for topic in KIND_BY_TOPIC:
            for partition in owned:
                agg.partition(topic, partition)  # owned even when empty: metrics see it
        log.info("state reloaded: %d entries, partitions %s", loaded, sorted(owned))

    async def apply_messages(self, payloads: Sequence[bytes]) -> None:
        """Apply a group of packed batches, then persist each touched entry once."""
        started = time.perf_counter()
        m = self._metrics
        letters: list[bytes] = []
        for payload in payloads:
            result = self.aggregator.apply(packing.decode(payload))
            letters += result.dead_letters
            m.messages.labels("accepted").inc(result.accepted)
            m.messages.labels("duplicate").inc(result.duplicates)
            m.messages.labels("rejected").inc(result.rejected)
            m.messages.labels("skipped").inc(result.skipped)
        data = self._table.data
        send_changelog = self._table.send_changelog
        pending: list[Any] = []
        for part, key, value in self.aggregator.drain_writes():
            kb = key.encode()
            if value is None:
                data.pop(kb, None)
                pending.append(send_changelog(part, kb, None, value_serializer="raw"))
            else:
                data[kb] = value
                pending.append(send_changelog(part, kb, value))
        for letter in letters:
            # force: send now, not attached to the current event, so the ack can be awaited here
            pending.append(await self._deadletter.send(value=letter, force=True))
        # Wait for the broker's acks before the agent acks the group. Faust's own flush before
        # a commit gives up after 0.1 s without progress (ProducerBuffer.flush_atmost), so under
        # load it could commit source offsets whose changelog writes were still queued, and a
        # kill -9 then lost them for good.
        await asyncio.gather(*pending)
        m.dead_letters.inc(len(letters))
        m.aggregate_seconds.observe(time.perf_counter() - started)
