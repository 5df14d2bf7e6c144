"""Reading the worker's durable state back: the compacted changelog, committed records only.

The changelog holds one record per state entry key (a counter, a window, a claim chunk, the
detector's log and snapshot), the newest one live; a None value deletes the key. Records are
written only inside stage 2's transactions (`streams.aggregate`), so reading with
`read_committed` never sees the half of a group a crash cut off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.config import Settings
from streams.internal_topics import MAX_STATE_MESSAGE_BYTES, changelog_topic_name

log = logging.getLogger(__name__)


async def read_changelog(
    settings: Settings, partitions: Iterable[int]
) -> list[tuple[bytes, bytes]]:
    """The live (key, value) entries of the given changelog partitions, read to their end.

    Call it after the transactional producer has started: starting it fences (and aborts) any
    transaction an earlier incarnation left open, so the end offsets are final."""
    topic = changelog_topic_name(settings)
    tps = [TopicPartition(topic, p) for p in sorted(set(partitions))]
    if not tps:
        return []
    started = time.monotonic()
    consumer = AIOKafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        max_partition_fetch_bytes=MAX_STATE_MESSAGE_BYTES,
        fetch_max_bytes=4 * MAX_STATE_MESSAGE_BYTES,
        **settings.aiokafka_kwargs(),
    )
    await consumer.start()
    live: dict[bytes, bytes | None] = {}
    records = 0
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)  # the last stable offset, under read_committed
        remaining = {tp for tp in tps if await consumer.position(tp) < end[tp]}
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=500)
            for messages in fetched.values():
                records += len(messages)
                for m in messages:
                    if m.key is not None:
                        live[m.key] = m.value  # keys never repeat across partitions
            # Positions also move past transaction markers and aborted records.
            remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
    finally:
        await consumer.stop()
    entries = [(k, v) for k, v in live.items() if v is not None]
    log.info(
        "changelog read: %d records, %d live entries, partitions %s, %.1f s",
        records,
        len(entries),
        [tp.partition for tp in tps],
        time.monotonic() - started,
    )
    return entries
