"""Stage 1 keeps the source partitions in step in event time, so that detection is exact.

Why: the detector judges an hour once the watermark (newest event time less the allowed
lateness) has passed it. A fetch can bring days of one partition's events while another
partition still waits in the broker (a replay of history, a worker catching up); left alone,
the slow partition's events then arrive after their hours were judged. So, as Kafka Streams
does, a partition runs at most `horizon` seconds of event time ahead of the slowest partition
that still has data to read. What runs ahead is held here, already validated, and its
partition is paused; held records are not forwarded, so their offsets are not committed and a
crash loses nothing.

A partition counts as "still has data" when the broker holds records past what was fetched,
and it delivered something in the last `idle_s` seconds of wall time: a partition that stops
delivering, or a feed that goes silent, does not hold the others back.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable

from streams.core.packing import PackedBatch

TP = tuple[str, int]


def _split(batch: PackedBatch, limit: float) -> tuple[PackedBatch, PackedBatch]:
    """The records before the first accepted event later than `limit`, and the rest."""
    cut = next((a.offset for a in batch.accepted if a.ts > limit), None)
    if cut is None:
        return batch, PackedBatch(batch.topic, batch.partition)
    head = PackedBatch(
        batch.topic,
        batch.partition,
        [a for a in batch.accepted if a.offset < cut],
        [r for r in batch.rejected if r.offset < cut],
    )
    tail = PackedBatch(
        batch.topic,
        batch.partition,
        [a for a in batch.accepted if a.offset >= cut],
        [r for r in batch.rejected if r.offset >= cut],
    )
    return head, tail


class TimeSync:
    """Holds validated records that run ahead in event time; releases them as others catch up."""

    def __init__(
        self, horizon: float, idle_s: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.horizon = horizon
        self.idle_s = idle_s
        self._clock = clock
        self._started = clock()
        self._held: dict[TP, PackedBatch] = {}
        self._newest: dict[TP, float] = {}  # newest event time released, per partition
        self._heard: dict[TP, float] = {}  # wall time of the last fetch that brought records

    def add(self, batch: PackedBatch) -> None:
        """Records just fetched and validated (offset order, after anything held)."""
        tp = (batch.topic, batch.partition)
        self._heard[tp] = self._clock()
        held = self._held.get(tp)
        if held is None:
            self._held[tp] = batch
        else:
            held.accepted += batch.accepted
            held.rejected += batch.rejected

    def keep(self, owned: set[TP]) -> None:
        """Forget what is held for partitions no longer owned: their new owner re-fetches."""
        for tp in [tp for tp in self._held if tp not in owned]:
            del self._held[tp]

    def holding(self) -> set[TP]:
        """Partitions with records held: not to be fetched from until released."""
        return set(self._held)

    def marks(self, pending: Iterable[TP]) -> dict[TP, float]:
        """Where each partition that still has data stands in event time (-inf: not known)."""
        now = self._clock()
        out = {
            tp: b.accepted[0].ts if b.accepted else self._newest.get(tp, -math.inf)
            for tp, b in self._held.items()
        }
        for tp in pending:
            if tp not in out and now - self._heard.get(tp, self._started) < self.idle_s:
                out[tp] = self._newest.get(tp, -math.inf)
        return out

    def release(self, pending: Iterable[TP]) -> list[PackedBatch]:
        """What may go on now: per partition, everything up to `horizon` past the slowest
        *other* partition that still has data.

        `pending`: partitions whose broker holds records not yet fetched. Repeats while the
        marks move (a late event at the head of a held run drags its mark down for a step)."""
        pending = list(pending)
        out: list[PackedBatch] = []
        for _ in range(64):
            released = self._release_once(self.marks(pending))
            if not released:
                break
            out += released
        return out

    def _release_once(self, marks: dict[TP, float]) -> list[PackedBatch]:
        ranked = sorted(marks.items(), key=lambda m: m[1])[:2]
        out: list[PackedBatch] = []
        for tp, batch in list(self._held.items()):
            others = [mark for other, mark in ranked if other != tp]
            limit = others[0] + self.horizon if others else math.inf
            head, tail = _split(batch, limit)
            if head.accepted or head.rejected:
                out.append(head)
                if head.accepted:
                    newest = max(a.ts for a in head.accepted)
                    self._newest[tp] = max(self._newest.get(tp, newest), newest)
            if tail.accepted or tail.rejected:
                self._held[tp] = tail
            else:
                del self._held[tp]
        return out
