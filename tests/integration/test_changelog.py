"""Reading state back from the real broker: committed transactions only, newest value per key,
tombstones deleting, and a restarted worker's producer fencing what its dead self left open."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from streams.changelog import read_changelog
from streams.config import Settings
from streams.internal_topics import changelog_topic_name, ensure_internal_topics


def settings(bootstrap: str) -> Settings:
    return Settings(kafka_bootstrap=bootstrap, app_id=f"civicpulse-t{uuid.uuid4().hex[:8]}")


def producer(bootstrap: str, txn_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, transactional_id=txn_id)


async def _committed_only(s: Settings) -> list[tuple[bytes, bytes]]:
    await ensure_internal_topics(s)
    topic = changelog_topic_name(s)
    p = producer(s.kafka_bootstrap, f"{s.app_id}-w")
    await p.start()
    try:
        async with p.transaction():
            await p.send(topic, key=b"a", value=b"1", partition=0)
            await p.send(topic, key=b"b", value=b"1", partition=1)
            await p.send(topic, key=b"gone", value=b"1", partition=1)
        async with p.transaction():
            await p.send(topic, key=b"a", value=b"2", partition=0)  # newest value wins
            await p.send(topic, key=b"gone", value=None, partition=1)  # tombstone
        await p.begin_transaction()
        await p.send(topic, key=b"b", value=b"aborted", partition=1)
        await p.send(topic, key=b"c", value=b"aborted", partition=2)
        await p.abort_transaction()
    finally:
        await p.stop()
    return await read_changelog(s, range(s.partitions))


def test_only_committed_newest_values_come_back(fresh_kafka: str) -> None:
    entries = asyncio.run(_committed_only(settings(fresh_kafka)))
    assert sorted(entries) == [(b"a", b"2"), (b"b", b"1")]


async def _fenced(s: Settings) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    await ensure_internal_topics(s)
    topic = changelog_topic_name(s)
    dead = producer(s.kafka_bootstrap, f"{s.app_id}-w")
    await dead.start()
    async with dead.transaction():
        await dead.send(topic, key=b"kept", value=b"1", partition=0)
    await dead.begin_transaction()
    await (await dead.send(topic, key=b"half", value=b"1", partition=0))  # on the broker, open
    # The process dies here (no abort, no close). Its successor starts with the same id:
    successor = producer(s.kafka_bootstrap, f"{s.app_id}-w")
    await successor.start()
    try:
        entries = await asyncio.wait_for(read_changelog(s, [0]), 30)
        async with successor.transaction():
            await successor.send(topic, key=b"after", value=b"1", partition=0)
        later = await asyncio.wait_for(read_changelog(s, [0]), 30)
    finally:
        await successor.stop()
        with contextlib.suppress(KafkaError):  # the fenced zombie may only be told so
            await dead.stop()
    return entries, later


def test_a_successor_fences_the_open_transaction_of_its_dead_self(fresh_kafka: str) -> None:
    entries, later = asyncio.run(_fenced(settings(fresh_kafka)))
    # Without the fence the open transaction holds the last stable offset back: what the
    # successor commits after it stays invisible until the broker times it out (a minute).
    assert entries == [(b"kept", b"1")]
    assert sorted(later) == [(b"after", b"1"), (b"kept", b"1")]
