"""Durable state entries. Every entry remembers the last source offset it applied (`o`).

Why: with at-least-once delivery, a crash between a changelog write and the offset commit
re-delivers messages into state that already holds them. An entry applies an event only when the
event's offset is above its own watermark, so re-delivery is a no-op and counts stay exact even
when only some of a batch's entries reached the changelog before the crash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(slots=True)
class Entry:
    """A counter (`n`) with a per-label breakdown (`by`: ward, reason or source) and a watermark."""

    o: int = -1
    n: int = 0
    by: dict[str, float] = field(default_factory=dict)

    def encode(self) -> bytes:
        return orjson.dumps({"o": self.o, "n": self.n, "by": self.by})

    @classmethod
    def decode(cls, raw: bytes) -> Entry:
        data: dict[str, Any] = orjson.loads(raw)
        return cls(o=int(data["o"]), n=int(data["n"]), by=dict(data.get("by") or {}))


@dataclass(slots=True)
class ClaimChunk:
    """The event ids first claimed by one batch of one partition: (event_id, ts, offset) triples.

    Written once and never rewritten (no growing list in a changelogged value); deleted when its
    newest event leaves the dedup horizon.
    """

    claims: list[tuple[str, float, int]]

    @property
    def max_ts(self) -> float:
        return max(ts for _, ts, _ in self.claims)

    def encode(self) -> bytes:
        return orjson.dumps({"ids": self.claims})

    @classmethod
    def decode(cls, raw: bytes) -> ClaimChunk:
        data: dict[str, Any] = orjson.loads(raw)
        return cls(claims=[(str(e), float(t), int(o)) for e, t, o in data["ids"]])
