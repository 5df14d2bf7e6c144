"""Stage 2 glue between Faust and the pure core: packed batches in, changelog writes out,
alerts out.

Per group of packed batches: the aggregator counts, the detector is fed the first copies and
advanced to the new watermark; alerts are sent (and acknowledged) first, then every changelog
write of the group, and only then does the agent acknowledge the group. A crash anywhere in
between re-applies the group: counters and detector skip what they already hold, and an alert
may be sent a second time, identical (at least once).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from schemas.topics import KIND_BY_TOPIC
from streams.core import packing
from streams.core.aggregator import Aggregator
from streams.core.keys import parse_key
from streams.detect import StateError
from streams.detect.durable import DurableDetector, is_detector_key
from streams.metrics import PipelineMetrics

DETECTOR_PARTITION = 0  # the changelog partition holding the detector's entries

# Builds the durable detector from its persisted entries (None: detection is off).
DetectorFactory = Callable[[list[tuple[bytes, bytes]]], DurableDetector]

log = logging.getLogger(__name__)


class Pipeline:
    """Owns the aggregator and writes what it produces into the changelogged state table.

    The table's values are the encoded entries; the aggregator keeps the decoded working copy.
    Writes name their changelog partition explicitly: it is the source partition of the
    messages an entry counts (the batch topic and the changelog are co-partitioned with it).
    """

    def __init__(
        self,
        aggregator: Aggregator,
        table: Any,
        deadletter_topic: Any,
        metrics: PipelineMetrics,
        *,
        alerts_topic: Any = None,
        detector_factory: DetectorFactory | None = None,
        partitions: int = 1,
        floor: Callable[[], float] = lambda: math.inf,
    ) -> None:
        self.aggregator = aggregator
        self._table = table
        self._deadletter = deadletter_topic
        self._metrics = metrics
        self._alerts = alerts_topic
        self._detector_factory = detector_factory
        self._partitions = partitions
        self._floor = floor
        self.detector: DurableDetector | None = None
        self.detection_note = "not started"

    def reload(self, partitions: Iterable[int]) -> None:
        """Rebuild the working state from the recovered table, for the partitions now owned."""
        owned = set(partitions)
        agg = self.aggregator
        agg.reset()
        loaded = 0
        detector_entries: list[tuple[bytes, bytes]] = []
        for key, value in list(self._table.data.items()):
            if is_detector_key(key):
                detector_entries.append((key, value))
                continue
            sk = parse_key(key)
            if sk.partition in owned and sk.topic in KIND_BY_TOPIC:
                agg.load(key, value)
                loaded += 1
        for topic in KIND_BY_TOPIC:
            for partition in owned:
                agg.partition(topic, partition)  # owned even when empty: metrics see it
        log.info("state reloaded: %d entries, partitions %s", loaded, sorted(owned))
        self._reload_detector(owned, detector_entries)

    def _reload_detector(self, owned: set[int], entries: list[tuple[bytes, bytes]]) -> None:
        self.detector = None
        if self._detector_factory is None:
            self.detection_note = "disabled by configuration"
            return
        if owned != set(range(self._partitions)):
            # Stalls and outages are judged against the whole country: one worker must see
            # every partition. Counting still scales out; detection does not (README).
            self.detection_note = f"off: this worker owns partitions {sorted(owned)} only"
            log.warning("detection %s", self.detection_note)
            return
        try:
            self.detector = self._detector_factory(entries)
            self.detection_note = "on"
        except StateError as exc:
            # Unusable saved state must not stop the counting: start afresh, loudly, and
            # feed only what comes after what the counters already hold.
            log.error("detector state not restored (%s): detection starts afresh", exc)
            self.detector = self._detector_factory([])
            self.detector.fed = dict(self.aggregator.applied_offsets())
            self.detection_note = "on (restarted from scratch)"
        det = self.detector
        log.info(
            "detector restored: group %d, watermark %.0f, %d open alerts",
            det.seq,
            det.detector.watermark,
            len(det.detector.open_alerts()),
        )

    async def apply_messages(self, payloads: Sequence[bytes]) -> None:
        """Apply a group of packed batches, then persist each touched entry once."""
        started = time.perf_counter()
        m = self._metrics
        letters: list[bytes] = []
        det = self.detector
        for payload in payloads:
            batch = packing.decode(payload)
            result = self.aggregator.apply(batch)
            if det is not None:
                kind = KIND_BY_TOPIC[batch.topic]
                det.observe(
                    batch.topic, batch.partition, kind, result.first_copies, batch.last_offset
                )
            letters += result.dead_letters
            m.messages.labels("accepted").inc(result.accepted)
            m.messages.labels("duplicate").inc(result.duplicates)
            m.messages.labels("rejected").inc(result.rejected)
            m.messages.labels("skipped").inc(result.skipped)
        writes = self.aggregator.drain_writes()
        if det is not None:
            lateness = det.detector.config.allowed_lateness
            # Event time moves to the newest event applied, held back to the slowest partition
            # with data on the way (`timesync`), less the lateness the detector allows.
            now = min(self.aggregator.max_ts, self._floor())
            alerts, det_writes = det.end_group(now - lateness)
            if alerts:
                # Acknowledged before the state that records them: never lost, maybe repeated.
                await asyncio.gather(
                    *[await self._alerts.send(value=a.to_json(), force=True) for a in alerts]
                )
                for a in alerts:
                    log.info("alert raised: %s", a.to_json().decode())
            writes += [(DETECTOR_PARTITION, key, value) for key, value in det_writes]
        data = self._table.data
        send_changelog = self._table.send_changelog
        pending: list[Any] = []
        for part, key, value in writes:
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
