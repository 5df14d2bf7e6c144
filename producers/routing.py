"""Where a line goes: its topic, its Kafka key and its partition.

- Topic: the topic of the line's `kind` (contract section 2). A line whose kind cannot be read, or
  is not one of the four, goes to `civic.identity.activations`, so that the worker rejects it
  visibly instead of the producer dropping it (contract section 5).
- Key: the `event_id` (lowercased, as `schemas.validate.event_key` reads it) when it can be
  read, else no key. Keying by `event_id` puts
  every copy of an event on the same partition of its topic, which the worker's duplicate
  detection relies on: one partition is read by one worker instance, so the copies meet.
- Partition: Kafka's default for keyed records, murmur2(key) mod partitions, the same function
  as the Java client's and aiokafka's default partitioner, so that a copy sent by another
  producer with default settings lands on the same partition as ours. (librdkafka clients must
  set `partitioner=murmur2_random` for that.) Unkeyed lines are spread round-robin.
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from schemas.topics import TOPIC_BY_KIND, UNROUTABLE_TOPIC
from schemas.validate import event_key, sniff_kind

_M: Final = 0x5BD1E995
_MASK: Final = 0xFFFFFFFF
_WORDS: dict[int, struct.Struct] = {}


class Route(NamedTuple):
    topic: str
    key: bytes | None
    known_kind: bool  # False: the line went to UNROUTABLE_TOPIC because its kind is unreadable


def route(raw: bytes) -> Route:
    """The topic and key of one line (the line itself is sent unchanged)."""
    kind = sniff_kind(raw)
    topic = TOPIC_BY_KIND.get(kind) if kind is not None else None
    if topic is None:
        return Route(UNROUTABLE_TOPIC, event_key(raw), False)
    return Route(topic, event_key(raw), True)


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), as unsigned 32 bits.

    Equal to `aiokafka.partitioner.murmur2` (a test checks it), about twice as fast: the replay
    computes it once per line.
    """
    length = len(data)
    h = 0x9747B28C ^ length
    words = length >> 2
    unpack = _WORDS.get(words)
    if unpack is None:
        unpack = _WORDS[words] = struct.Struct(f"<{words}I")
    for k in unpack.unpack_from(data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) ^ (k * _M)) & _MASK
    tail = length & 3
    if tail:
        base = length & ~3
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h


def partition_for_key(key: bytes, partitions: int) -> int:
    """The partition of a keyed record, as Kafka's default partitioner computes it."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
