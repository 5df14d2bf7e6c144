"""State keys: `<topic>:<partition>|<type>|<parts...>`.

The source topic-partition leads every key because each entry is only ever written while
processing that one partition: its changelog partition and its offset watermark follow from it.
"""

from __future__ import annotations

from typing import NamedTuple

SEP = "|"

TOTAL = "tot"  # tot|<province>          -> Entry(by=ward counts; "" = no ward)
HOUR = "hour"  # hour|<province>|<start> -> Entry(by=ward counts)
DAY = "day"  # day|<province>|<start>    -> Entry(by=ward counts)
DUP = "dup"  # dup                       -> Entry(n=duplicates)
REJ = "rej"  # rej                       -> Entry(by=reason counts)
LATE = "late"  # late                    -> Entry(n=events older than the kept windows)
FEED = "feed"  # feed                    -> Entry(by=source -> newest occurred_at)
IDS = "ids"  # ids|<first offset>        -> ClaimChunk


class StateKey(NamedTuple):
    topic: str
    partition: int
    type: str
    parts: tuple[str, ...]


def format_key(topic: str, partition: int, type_: str, *parts: object) -> str:
    head = f"{topic}:{partition}{SEP}{type_}"
    return head + "".join(f"{SEP}{p}" for p in parts)


def parse_key(key: str | bytes) -> StateKey:
    text = key.decode() if isinstance(key, bytes) else key
    head, type_, *parts = text.split(SEP)
    topic, _, partition = head.rpartition(":")
    return StateKey(topic, int(partition), type_, tuple(parts))
