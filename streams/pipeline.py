"""Stage 2 between the aggregation core and Kafka: packed batches in, what to write out.

Per group of packed batches: the aggregator counts, the detector is fed the first copies and
advanced to the new watermark, and the group's output (changelog writes, dead letters, alerts)
is handed back to the shell (`streams.aggregate`), which writes all of it and the batch-topic
offsets in one Kafka transaction. No Kafka in here: the order and contents are tested directly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

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


@dataclass(slots=True)
class GroupOutput:
    """Everything one group produced, to be written atomically with its input offsets."""

    writes: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)  # changelog
    dead_letters: list[bytes] = field(default_factory=list)  # masked, for civic.deadletter
    alerts: list[bytes] = field(default_factory=list)  # contract section 4, for civic.alerts


class Pipeline:
    """Owns the aggregator and the detector, and turns groups of packed batches into writes.

    `state` mirrors the changelog (encoded entries by key) for the partitions this worker owns.
    Writes name their changelog partition explicitly: it is the source partition of the
    messages an entry counts (the batch topic and the changelog are co-partitioned with it).
    """

    def __init__(
        self,
        aggregator: Aggregator,
        metrics: PipelineMetrics,
        *,
        detector_factory: DetectorFactory | None = None,
        partitions: int = 1,
        floor: Callable[[], float] = lambda: math.inf,
    ) -> None:
        self.aggregator = aggregator
        self._metrics = metrics
        self._detector_factory = detector_factory
        self._partitions = partitions
        self._floor = floor
        self.detector: DurableDetector | None = None
        self.detection_note = "not started"

    def reload(self, partitions: Iterable[int], entries: Iterable[tuple[bytes, bytes]]) -> None:
        """Rebuild the working state from the changelog's live entries, for the partitions
        now owned (after a start, a rebalance or a failed write)."""
        owned = set(partitions)
        agg = self.aggregator
        agg.reset()
        loaded = 0
        detector_entries: list[tuple[bytes, bytes]] = []
        for key, value in entries:
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

    def apply(self, payloads: Sequence[bytes]) -> GroupOutput:
        """Apply a group of packed batches; each entry it touched is written once."""
        m = self._metrics
        out = GroupOutput()
        det = self.detector
        for payload in payloads:
            batch = packing.decode(payload)
            result = self.aggregator.apply(batch)
            if det is not None:
                kind = KIND_BY_TOPIC[batch.topic]
                det.observe(
                    batch.topic, batch.partition, kind, result.first_copies, batch.last_offset
                )
            out.dead_letters += result.dead_letters
            m.messages.labels("accepted").inc(result.accepted)
            m.messages.labels("duplicate").inc(result.duplicates)
            m.messages.labels("rejected").inc(result.rejected)
            m.messages.labels("skipped").inc(result.skipped)
        writes = self.aggregator.drain_writes()
        out.writes = [(part, key.encode(), value) for part, key, value in writes]
        if det is not None:
            lateness = det.detector.config.allowed_lateness
            # Event time moves to the newest event applied, held back to the slowest partition
            # with data on the way (`timesync`), less the lateness the detector allows.
            now = min(self.aggregator.max_ts, self._floor())
            alerts, det_writes = det.end_group(now - lateness)
            out.alerts = [a.to_json() for a in alerts]
            out.writes += [(DETECTOR_PARTITION, key.encode(), value) for key, value in det_writes]
        return out
