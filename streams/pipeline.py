"""The glue between Faust and the pure core: batches in, changelog writes and dead letters out."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from schemas.topics import KIND_BY_TOPIC
from streams.core.aggregator import Aggregator
from streams.core.keys import parse_key
from streams.deadletter import encode_dead_letter
from streams.metrics import PipelineMetrics

log = logging.getLogger(__name__)


class Pipeline:
    """Owns the aggregator and writes what it produces into the changelogged state table.

    The table's values are the encoded entries; the aggregator keeps the decoded working copy.
    Writes name their changelog partition explicitly, because one Faust batch spans partitions
    and every entry belongs to the partition of the source messages it counts.
    """

    def __init__(
        self, aggregator: Aggregator, table: Any, deadletter_topic: Any, metrics: PipelineMetrics
    ) -> None:
        self.aggregator = aggregator
        self._table = table
        self._deadletter = deadletter_topic
        self._metrics = metrics

    def reload(self, assigned: Iterable[tuple[str, int]]) -> None:
        """Rebuild the working state from the recovered table, for the partitions now owned."""
        owned = {tp for tp in assigned if tp[0] in KIND_BY_TOPIC}
        agg = self.aggregator
        agg.reset()
        loaded = 0
        for key, value in list(self._table.data.items()):
            sk = parse_key(key)
            if (sk.topic, sk.partition) in owned:
                agg.load(key, value)
                loaded += 1
        for topic, partition in owned:
            agg.partition(topic, partition)  # owned even when empty: metrics and lag see it
        log.info("state reloaded: %d entries for %d partitions", loaded, len(owned))

    async def process(self, topic: str, records: Sequence[tuple[int, int, bytes]]) -> None:
        """Handle one batch of (partition, offset, value) from `topic`."""
        started = time.perf_counter()
        by_partition: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
        for partition, offset, value in records:
            by_partition[partition].append((offset, value))
        now = time.time()
        data = self._table.data
        send_changelog = self._table.send_changelog
        m = self._metrics
        for partition, recs in by_partition.items():
            result = self.aggregator.apply(topic, partition, recs, now)
            for part, key, value in result.writes:
                kb = key.encode()
                if value is None:
                    data.pop(kb, None)
                    send_changelog(part, kb, None, value_serializer="raw")
                else:
                    data[kb] = value
                    send_changelog(part, kb, value)
            for dl in result.dead_letters:
                await self._deadletter.send(value=encode_dead_letter(dl))
            m.dead_letters.inc(len(result.dead_letters))
            m.messages.labels("accepted").inc(result.accepted)
            m.messages.labels("duplicate").inc(result.duplicates)
            m.messages.labels("rejected").inc(result.rejected)
            m.messages.labels("skipped").inc(result.skipped)
        m.batch_size.observe(len(records))
        m.batch_seconds.observe(time.perf_counter() - started)
