"""Stage 1 keeps the source partitions in step in event time, so that detection is exact.

Why: the detector judges an hour once the watermark (newest event time applied, less the
allowed lateness) has passed it. A fetch can bring days of one partition's events while
another partition still waits in the broker (a replay of history, a worker catching up), or
while a producer still fills that partition's next batch; left alone, the slow partition's
events then reach the detector after their hours were judged.

So, as Kafka Streams does, a partition's records are released to stage 2 only up to `horizon`
seconds of event time past the slowest *other* partition that still has data on the way. A
partition's place is the earliest event time stage 2 will still receive from it: the oldest
released batch not yet applied by stage 2, else its first held record, else the newest it
released, while it has records left in the broker or delivered some in the last `idle_s`
(as Kafka Streams' `max.task.idle.ms`). The detector's watermark stays behind the slowest
place (`floor`), so no partition's events reach it after their hour was judged; the horizon
bounds how far ahead of its last judged hour the detector must hold events (12 h).

What runs ahead is held here, already validated, and its partition paused; held records are
not forwarded, so their offsets are not committed and a crash loses nothing. A partition that
stops delivering for `idle_s` seconds of wall time, or a feed that goes silent, does not hold
the others back.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping

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
        self, horizon: float, idle_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.horizon = horizon
        self.idle_s = idle_s
        self._clock = clock
        self._started: float | None = None  # the first release: fetching has begun
        self._held: dict[TP, PackedBatch] = {}
        self._newest: dict[TP, float] = {}  # newest event time released, per partition
        self._heard: dict[TP, float] = {}  # wall time of the last fetch that brought records
        # released batches stage 2 has not applied yet: (last offset, where they start)
        self._inflight: dict[TP, deque[tuple[int, float]]] = {}
        self._marks: dict[TP, float] = {}  # as of the last `release`

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
        for tp in [tp for tp in self._heard if tp not in owned]:
            del self._heard[tp]

    def waiting(self) -> bool:
        """Whether records are held back: then the caller should look again soon."""
        return bool(self._held)

    def holding(self) -> set[TP]:
        """Partitions with records held: not to be fetched from until released."""
        return set(self._held)

    def marks(
        self,
        pending: Iterable[TP],
        applied: Mapping[TP, int] | None = None,
        backlog: Mapping[TP, float] | None = None,
    ) -> dict[TP, float]:
        """Where each partition with data on the way stands in event time (-inf: not known).

        `applied`: highest source offset stage 2 has applied, per partition. `backlog`: the
        place of partitions with records released by an earlier process and not yet applied
        (after a restart), which this process cannot see otherwise."""
        now = self._clock()
        out: dict[TP, float] = dict(backlog or {})
        for tp, queue in list(self._inflight.items()):
            done = applied.get(tp, -1) if applied is not None else math.inf
            while queue and queue[0][0] <= done:
                queue.popleft()
            if queue:
                out[tp] = min(out.get(tp, math.inf), queue[0][1])
            else:
                del self._inflight[tp]
        for tp, b in self._held.items():
            if tp not in out:
                out[tp] = b.accepted[0].ts if b.accepted else self._newest.get(tp, -math.inf)
        # A partition caught up with its broker still stands at the newest it released while it
        # keeps delivering: a producer may hold its next records back (a batch still filling)
        # while other partitions' later records are already fetched.
        for tp in set(pending) | self._heard.keys():
            since = self._heard.get(tp, self._started if self._started is not None else now)
            if tp not in out and now - since < self.idle_s:
                out[tp] = self._newest.get(tp, -math.inf)
        return out

    def release(
        self,
        pending: Iterable[TP],
        applied: Mapping[TP, int] | None = None,
        backlog: Mapping[TP, float] | None = None,
    ) -> list[PackedBatch]:
        """What may go on now: per partition, everything up to `horizon` past the slowest
        *other* partition with data on the way.

        `pending`: partitions whose broker holds records not yet fetched. `applied`: stage 2's
        progress; None when stage 2 of these partitions runs elsewhere (then only what stage 1
        released counts). Repeats while the marks move (a late event at the head of a held
        run drags its mark down for one step)."""
        pending = list(pending)
        if self._started is None:
            self._started = self._clock()
        out: list[PackedBatch] = []
        for _ in range(64):
            self._marks = self.marks(pending, applied, backlog)
            released = self._release_once(self._marks)
            if not released:
                break
            out += released
        return out

    def floor(self) -> float:
        """The slowest place among the marks of the last `release` (+inf: none on the way)."""
        return min(self._marks.values(), default=math.inf)

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
                    # Where the batch starts in event time, robust to its few late events: a
                    # late event (hours old) as the mark would stall every other partition.
                    times = sorted(a.ts for a in head.accepted)
                    earliest = times[len(times) // 20]
                    self._newest[tp] = max(self._newest.get(tp, newest), newest)
                    self._inflight.setdefault(tp, deque()).append((head.last_offset, earliest))
            if tail.accepted or tail.rejected:
                self._held[tp] = tail
            else:
                del self._held[tp]
        return out
