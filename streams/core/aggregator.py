"""Stage 2 of the worker, pure: deduplicates and counts packed batches in event time.

The caller hands it a `PackedBatch` (see `packing`) and gets back the state entries to persist
and the dead letters to send. Idempotent per source offset (see `entries`), so a re-sent batch
changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from streams.core import keys as k
from streams.core.entries import ClaimChunk, Entry
from streams.core.packing import Accepted, PackedBatch
from streams.core.windows import DAY, HOUR, day_start, hour_start

CHUNK_SIZE = 2000  # claims per changelog message: ~100 KB, well under the broker's 1 MB limit


@dataclass(slots=True)
class BatchResult:
    """What one `apply` produced: rejects to dead-letter, and counts. Writes: `drain_writes`."""

    dead_letters: list[bytes] = field(default_factory=list)  # encoded, already masked
    counted: list[Accepted] = field(default_factory=list)  # newly counted distinct events
    # Every event that is the first copy of its id, counted now or already held (re-sent after
    # a crash): the detector, whose durable state moves separately, filters these by offset.
    first_copies: list[Accepted] = field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0  # re-delivered records already reflected in state


@dataclass(frozen=True, slots=True)
class Retention:
    """How far behind the newest event time each kind of state is kept."""

    dedup_window: float = 7 * DAY  # contract: the same event_id within 7 days is a duplicate
    dedup_keep: float = 9 * DAY  # window + allowed lateness of a re-sent event
    hours_keep: float = 7 * DAY
    days_keep: float = 40 * DAY  # trailing-30-day KPIs plus margin


class PartitionState:
    """All entries of one source topic-partition, in memory, with the set written since flush."""

    __slots__ = (
        "chunks",
        "days",
        "dirty",
        "dup",
        "feed",
        "hours",
        "late",
        "partition",
        "rej",
        "topic",
        "totals",
    )

    def __init__(self, topic: str, partition: int) -> None:
        self.topic = topic
        self.partition = partition
        self.totals: dict[str, Entry] = {}
        self.hours: dict[tuple[str, int], Entry] = {}
        self.days: dict[tuple[str, int], Entry] = {}
        self.dup = Entry()
        self.rej = Entry()
        self.late = Entry()
        self.feed = Entry()
        self.chunks: dict[int, float] = {}  # first offset -> newest ts in the chunk
        self.dirty: set[tuple[str, tuple[str, ...]]] = set()

    def key(self, type_: str, parts: tuple[str, ...]) -> str:
        return k.format_key(self.topic, self.partition, type_, *parts)

    def entry(self, type_: str, parts: tuple[str, ...]) -> Entry | None:
        if type_ == k.TOTAL:
            return self.totals.get(parts[0])
        if type_ in (k.HOUR, k.DAY):
            table = self.hours if type_ == k.HOUR else self.days
            return table.get((parts[0], int(parts[1])))
        return {k.DUP: self.dup, k.REJ: self.rej, k.LATE: self.late, k.FEED: self.feed}.get(type_)


def classify(attrs: dict[str, Any]) -> str:
    """The class of an event that KPIs split on: e-ID level, payment channel, programme."""
    if "level" in attrs:
        return f"l{attrs['level']}"
    if "program" in attrs:
        return f"{attrs['program']}.{attrs['channel']}"
    return str(attrs.get("channel", ""))


def _add_labels(out: dict[tuple[str, str, str], int], province: str, entry: Entry) -> None:
    for label, n in entry.by.items():
        ward, _, cls = label.partition("/")
        out[(province, ward, cls)] += int(n)


def _bump(entry: Entry, offset: int, label: str | None) -> bool:
    """Count one event in `entry` unless it already holds that offset. Returns whether it did."""
    if offset <= entry.o:
        return False
    entry.o = offset
    entry.n += 1
    if label is not None:
        by = entry.by
        by[label] = by.get(label, 0) + 1
    return True


class Aggregator:
    """State of every topic-partition this worker owns, and the batch logic that updates it."""

    def __init__(
        self,
        kind_by_topic: dict[str, str],
        retention: Retention | None = None,
        baseline_ts: float = 0.0,
    ) -> None:
        # Activations before the reference data's as-of time are already in its baseline: they
        # are classed "<level>.pre" so that coverage does not add them a second time.
        self._baseline_ts = baseline_ts
        self._kind_by_topic = kind_by_topic
        self.retention = retention or Retention()
        self._parts: dict[tuple[str, int], PartitionState] = {}
        # event_id -> (topic, partition, offset, ts): who counted it first. Global across the
        # partitions this worker owns, so a copy keyed differently by a foreign producer is
        # still caught on a single worker; producers should key by event_id (see README).
        self._claims: dict[str, tuple[str, int, int, float]] = {}
        self._expiry: dict[int, list[str]] = defaultdict(list)  # claim day -> event ids
        self.max_ts: float = 0.0  # newest accepted event time: drives retention, not counting
        self._pruned_at: float = 0.0
        self._writes: list[tuple[int, str, bytes | None]] = []  # chunks and deletions

    # ---- loading and dropping durable state -------------------------------------------------

    def partition(self, topic: str, partition: int) -> PartitionState:
        state = self._parts.get((topic, partition))
        if state is None:
            state = self._parts[(topic, partition)] = PartitionState(topic, partition)
        return state

    def owns(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self._parts

    def load(self, key: str | bytes, value: bytes | None) -> None:
        """Install one durable entry (after changelog recovery). Tombstones are ignored."""
        if value is None:
            return
        sk = k.parse_key(key)
        st = self.partition(sk.topic, sk.partition)
        if sk.type == k.IDS:
            chunk = ClaimChunk.decode(value)
            for event_id, ts, offset in chunk.claims:
                old = self._claims.get(event_id)
                # A re-used id after the dedup window makes two claims: the newest one is live.
                if old is None or old[3] < ts:
                    self._claims[event_id] = (sk.topic, sk.partition, offset, ts)
                    self._expiry[day_start(ts)].append(event_id)
            st.chunks[int(sk.parts[0])] = chunk.max_ts
            self.max_ts = max(self.max_ts, chunk.max_ts)
            return
        entry = Entry.decode(value)
        if sk.type == k.TOTAL:
            st.totals[sk.parts[0]] = entry
        elif sk.type == k.HOUR:
            st.hours[(sk.parts[0], int(sk.parts[1]))] = entry
        elif sk.type == k.DAY:
            st.days[(sk.parts[0], int(sk.parts[1]))] = entry
        elif sk.type == k.DUP:
            st.dup = entry
        elif sk.type == k.REJ:
            st.rej = entry
        elif sk.type == k.LATE:
            st.late = entry
        elif sk.type == k.FEED:
            st.feed = entry
            if entry.by:
                self.max_ts = max(self.max_ts, *entry.by.values())

    def reset(self) -> None:
        """Forget everything (before reloading from the durable store after a rebalance)."""
        self._parts.clear()
        self._writes.clear()
        self._claims.clear()
        self._expiry.clear()
        self.max_ts = 0.0
        self._pruned_at = 0.0

    def drop(self, topic: str, partition: int) -> None:
        """Forget a partition this worker no longer owns (revoked in a rebalance)."""
        self._parts.pop((topic, partition), None)
        self._claims = {e: c for e, c in self._claims.items() if (c[0], c[1]) != (topic, partition)}

    # ---- the batch ---------------------------------------------------------------------------

    def apply(self, batch: PackedBatch) -> BatchResult:
        """Apply one packed batch of a source topic-partition.

        Each entry decides on its own whether it already holds an offset, so a batch re-sent
        after a crash that persisted only some entries completes exactly the missing ones.
        """
        topic, partition = batch.topic, batch.partition
        st = self.partition(topic, partition)
        result = BatchResult()
        dirty = st.dirty
        for rej in batch.rejected:
            result.rejected += 1
            if _bump(st.rej, rej.offset, rej.reason):
                dirty.add((k.REJ, ()))
                result.dead_letters.append(rej.dead_letter)

        claims = self._claims
        new_claims: list[tuple[str, float, int]] = []
        ret = self.retention
        max_ts = self.max_ts
        totals, days, hours, feed_by = st.totals, st.days, st.hours, st.feed.by
        for ev in batch.accepted:
            offset, event_id, ts = ev.offset, ev.event_id, ev.ts
            claim = claims.get(event_id)
            is_self = (
                claim is not None
                and claim[2] == offset
                and claim[1] == partition
                and (claim[0] == topic)
            )
            if claim is not None and not is_self and abs(ts - claim[3]) <= ret.dedup_window:
                result.duplicates += 1
                if _bump(st.dup, offset, None):
                    dirty.add((k.DUP, ()))
                continue
            if not is_self:
                claims[event_id] = (topic, partition, offset, ts)
                new_claims.append((event_id, ts, offset))
                self._expiry[day_start(ts)].append(event_id)
            result.first_copies.append(ev)

            province, ward = ev.province, ev.ward
            cls = classify(ev.attrs)
            if ts < self._baseline_ts and "level" in ev.attrs:
                cls += ".pre"
            label = f"{ward}/{cls}"  # commune and class, e.g. "14797/l2"
            total = totals.get(province)
            if total is None:
                total = totals[province] = Entry()
            if _bump(total, offset, label):
                result.accepted += 1
                result.counted.append(ev)
                dirty.add((k.TOTAL, (province,)))
            if ts > max_ts:
                max_ts = ts
            if ts > feed_by.get(ev.source, 0.0):  # a max: idempotent without a watermark
                feed_by[ev.source] = ts
                dirty.add((k.FEED, ()))
            if ts < max_ts - ret.days_keep:
                if _bump(st.late, offset, None):
                    dirty.add((k.LATE, ()))
                continue
            dkey = (province, day_start(ts))
            entry = days.get(dkey)
            if entry is None:
                entry = days[dkey] = Entry()
            if _bump(entry, offset, label):
                dirty.add((k.DAY, (province, str(dkey[1]))))
            if ts >= max_ts - ret.hours_keep:
                hkey = (province, hour_start(ts))
                entry = hours.get(hkey)
                if entry is None:
                    entry = hours[hkey] = Entry()
                if _bump(entry, offset, label):
                    dirty.add((k.HOUR, (province, str(hkey[1]))))

        seen = len(batch.accepted) + len(batch.rejected)
        result.skipped = seen - result.accepted - result.duplicates - result.rejected
        self.max_ts = max_ts
        for i in range(0, len(new_claims), CHUNK_SIZE):
            chunk = ClaimChunk(new_claims[i : i + CHUNK_SIZE])
            first = chunk.claims[0][2]
            st.chunks[first] = chunk.max_ts
            self._writes.append((partition, st.key(k.IDS, (str(first),)), chunk.encode()))
        self._maybe_prune()
        return result

    def drain_writes(self) -> list[tuple[int, str, bytes | None]]:
        """Entries to persist since the last call: (partition, key, value or None to delete).

        Called once per group of batches: an entry touched by many batches is written once.
        """
        writes = self._writes
        for st in self._parts.values():
            for type_, parts in st.dirty:
                entry = st.entry(type_, parts)
                if entry is not None:
                    writes.append((st.partition, st.key(type_, parts), entry.encode()))
            st.dirty.clear()
        self._writes = []
        return writes

    def _maybe_prune(self) -> None:
        """Drop windows and dedup claims behind the kept horizon, once per event-time hour."""
        if self.max_ts - self._pruned_at < HOUR:
            return
        self._pruned_at = self.max_ts
        ret = self.retention
        for st in self._parts.values():
            for table, type_, keep in (
                (st.hours, k.HOUR, ret.hours_keep),
                (st.days, k.DAY, ret.days_keep),
            ):
                cutoff = self.max_ts - keep
                for wkey in [w for w in table if w[1] < cutoff]:
                    del table[wkey]
                    key = st.key(type_, (wkey[0], str(wkey[1])))
                    self._writes.append((st.partition, key, None))
            cutoff = self.max_ts - ret.dedup_keep
            for first in [f for f, ts in st.chunks.items() if ts < cutoff]:
                del st.chunks[first]
                self._writes.append((st.partition, st.key(k.IDS, (str(first),)), None))
        # Claims expire by event-time day: the work is proportional to what expires.
        cutoff = self.max_ts - ret.dedup_keep
        for day in [d for d in self._expiry if d + DAY <= cutoff]:
            for event_id in self._expiry.pop(day):
                claim = self._claims.get(event_id)
                if claim is not None and claim[3] < cutoff:
                    del self._claims[event_id]

    # ---- read views (for metrics) ------------------------------------------------------------

    def _states(self) -> Iterable[PartitionState]:
        return self._parts.values()

    def events_by_province(self) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = defaultdict(int)
        for st in self._states():
            kind = self._kind_by_topic[st.topic]
            for province, entry in st.totals.items():
                out[(kind, province)] += entry.n
        return dict(out)

    def events_by_ward(self) -> dict[tuple[str, str, str], int]:
        out: dict[tuple[str, str, str], int] = defaultdict(int)
        for st in self._states():
            kind = self._kind_by_topic[st.topic]
            for province, entry in st.totals.items():
                for label, n in entry.by.items():
                    out[(kind, province, label.partition("/")[0])] += int(n)
        return dict(out)

    def rejected_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for st in self._states():
            for reason, n in st.rej.by.items():
                out[reason] += int(n)
        return dict(out)

    def duplicates_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for st in self._states():
            out[self._kind_by_topic[st.topic]] += st.dup.n
        return dict(out)

    def late_by_kind(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for st in self._states():
            out[self._kind_by_topic[st.topic]] += st.late.n
        return dict(out)

    def feed_last_event(self) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = {}
        for st in self._states():
            kind = self._kind_by_topic[st.topic]
            for source, ts in st.feed.by.items():
                if ts > out.get((kind, source), 0.0):
                    out[(kind, source)] = ts
        return out

    def totals_by_class(self, kind: str) -> dict[tuple[str, str, str], int]:
        """(province, ward, class) -> accepted events of `kind` since the stream began."""
        out: dict[tuple[str, str, str], int] = defaultdict(int)
        for st in self._states():
            if self._kind_by_topic[st.topic] == kind:
                for province, entry in st.totals.items():
                    _add_labels(out, province, entry)
        return dict(out)

    def days_by_class(self, kind: str, since: int) -> dict[tuple[str, str, str], int]:
        """(province, ward, class) -> accepted events of `kind` on event-time days >= `since`."""
        out: dict[tuple[str, str, str], int] = defaultdict(int)
        for st in self._states():
            if self._kind_by_topic[st.topic] == kind:
                for (province, day), entry in st.days.items():
                    if day >= since:
                        _add_labels(out, province, entry)
        return dict(out)

    def first_day(self, since: int) -> int | None:
        """The earliest event-time day >= `since` that holds any event (window coverage)."""
        days = [d for st in self._states() for (_, d) in st.days if d >= since]
        return min(days, default=None)

    def newest_by_partition(self) -> dict[tuple[str, int], float]:
        """Newest event time applied, per topic-partition (where its stream has got to)."""
        return {
            tp: max(st.feed.by.values(), default=float("-inf")) for tp, st in self._parts.items()
        }

    def applied_offsets(self) -> dict[tuple[str, int], int]:
        """Highest offset reflected in any entry, per topic-partition (for lag)."""
        out: dict[tuple[str, int], int] = {}
        for (topic, partition), st in self._parts.items():
            marks = [st.dup.o, st.rej.o, st.feed.o, *(e.o for e in st.totals.values())]
            out[(topic, partition)] = max(marks)
        return out
