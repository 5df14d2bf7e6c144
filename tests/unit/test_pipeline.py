"""Stage 2's core between the aggregator and Kafka: what a group of packed batches turns into.

The shell (`streams.aggregate`) writes a group's output and its input offsets in one Kafka
transaction; here, without Kafka, the output itself: each touched entry written once, rejects
as masked dead letters, and a state rebuilt from those writes that re-applies nothing.
"""

from __future__ import annotations

import orjson
from prometheus_client import CollectorRegistry

from schemas.topics import KIND_BY_TOPIC, TOPIC_BY_KIND
from streams.core import packing
from streams.core.aggregator import Aggregator
from streams.detect import Detector
from streams.detect.durable import DurableDetector, is_detector_key
from streams.metrics import PipelineMetrics
from streams.pipeline import DetectorFactory, GroupOutput, Pipeline
from tests.factories import event_bytes

NOW = 1_760_000_000.0
QR = TOPIC_BY_KIND["payment.qr"]


def payloads(n: int = 5) -> list[bytes]:
    lines = [event_bytes("payment.qr") for _ in range(n)] + [b"not json"]
    batch = packing.pack(QR, 0, "payment.qr", list(enumerate(lines)), NOW)
    return list(packing.encode(batch, limit=4))  # two packed messages


def new_pipeline(
    detector_factory: DetectorFactory | None = None, partitions: int = 1
) -> tuple[Pipeline, CollectorRegistry]:
    registry = CollectorRegistry()
    pipeline = Pipeline(
        Aggregator(dict(KIND_BY_TOPIC)),
        PipelineMetrics(registry),
        detector_factory=detector_factory,
        partitions=partitions,
    )
    return pipeline, registry


def changelog(*outputs: GroupOutput) -> list[tuple[bytes, bytes]]:
    """What a compacted changelog holds after these groups: the newest value per key."""
    live: dict[bytes, bytes | None] = {}
    for out in outputs:
        for _, key, value in out.writes:
            live[key] = value
    return [(k, v) for k, v in live.items() if v is not None]


def outcome(registry: CollectorRegistry, name: str) -> float:
    value = registry.get_sample_value("civicpulse_messages_processed_total", {"outcome": name})
    return value or 0.0


def test_a_group_writes_each_touched_entry_once_and_dead_letters_its_rejects() -> None:
    pipeline, registry = new_pipeline()
    pipeline.reload([0], [])
    out = pipeline.apply(payloads())
    keys = [key for _, key, _ in out.writes]
    assert len(keys) == len(set(keys))  # two packed messages, one write per entry
    assert all(part == 0 for part, _, _ in out.writes)
    [letter] = [orjson.loads(d) for d in out.dead_letters]
    assert (letter["reason"], letter["topic"], letter["offset"]) == ("not_json", QR, 5)
    assert outcome(registry, "accepted") == 5
    assert outcome(registry, "rejected") == 1
    assert out.alerts == []  # detection is off


def test_state_rebuilt_from_the_writes_reapplies_nothing() -> None:
    group = payloads()
    first, _ = new_pipeline()
    first.reload([0], [])
    out = first.apply(group)

    # A worker that crashed after the transaction: it reloads, and the group comes again.
    again, registry = new_pipeline()
    again.reload([0], changelog(out))
    assert again.aggregator.events_by_province() == first.aggregator.events_by_province()
    redo = again.apply(group)
    assert outcome(registry, "accepted") == 0
    assert outcome(registry, "skipped") == 5
    assert redo.dead_letters == []  # a reject already recorded is not dead-lettered again
    assert again.aggregator.events_by_province() == first.aggregator.events_by_province()


def test_detector_entries_go_to_partition_zero_and_restore() -> None:
    def factory(entries: list[tuple[bytes, bytes]]) -> DurableDetector:
        return DurableDetector.restore(
            entries, lambda raw: Detector.from_bytes(raw) if raw else Detector()
        )

    pipeline, _ = new_pipeline(detector_factory=factory, partitions=1)
    pipeline.reload([0], [])
    assert pipeline.detector is not None
    out = pipeline.apply(payloads())
    detector_writes = [(p, k) for p, k, _ in out.writes if is_detector_key(k)]
    assert detector_writes
    assert all(p == 0 for p, _ in detector_writes)
    assert pipeline.detector.fed == {(QR, 0): 5}

    restored, _ = new_pipeline(detector_factory=factory, partitions=1)
    restored.reload([0], changelog(out))
    assert restored.detector is not None
    assert restored.detector.fed == {(QR, 0): 5}
    assert restored.detection_note == "on"


def test_detection_is_off_unless_every_partition_is_owned() -> None:
    pipeline, _ = new_pipeline(
        detector_factory=lambda entries: DurableDetector.restore(entries, lambda raw: Detector()),
        partitions=4,
    )
    pipeline.reload([0, 1], [])
    assert pipeline.detector is None
    assert "owns partitions [0, 1] only" in pipeline.detection_note
