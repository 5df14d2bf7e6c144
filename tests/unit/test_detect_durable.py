"""The durable detector: snapshots plus logged inputs rebuild the same state, and crashes at
any point of a group neither lose nor double an event (by source offset), like the counters."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from streams.core.packing import Accepted
from streams.detect import Alert, Detector, StateError
from streams.detect.durable import SNAPSHOT_KEY, DurableDetector, is_detector_key, log_key
from tests.unit.test_detect import BIG, QR, SOURCE, World, ts

TOPIC = "civic.payments.qr"
PARTITIONS = 2
LATENESS = Detector().config.allowed_lateness

Batch = tuple[int, list[Accepted], int]  # partition, first copies, last offset
Group = list[Batch]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def groups(days: float = 15, per_batch: int = 40, per_group: int = 3) -> list[Group]:
    """A QR world with one commune stall and one feed outage, as the worker would see it:
    events spread over partitions with consecutive offsets, packed, grouped."""
    world = World(
        per_day=100, edits=[(BIG, ts(10), ts(14), 0.0), (None, ts(11, 10), ts(11, 13), 0.0)]
    )
    offsets = [0] * PARTITIONS
    batches: list[Batch] = []
    n = 0
    for _hour_end, rows in world.events(days):
        parts: list[list[Accepted]] = [[] for _ in range(PARTITIONS)]
        for p, w, t, c in rows:
            part = n % PARTITIONS
            attrs = {"channel": c} if c else {}
            parts[part].append(Accepted(offsets[part], f"e{n}", t, p, w, SOURCE[QR], attrs))
            offsets[part] += 1
            n += 1
        for part, events in enumerate(parts):
            for i in range(0, len(events), per_batch):
                chunk = events[i : i + per_batch]
                batches.append((part, chunk, chunk[-1].offset))
    return [batches[i : i + per_group] for i in range(0, len(batches), per_group)]


def feed(det: DurableDetector, group: Group, store: dict[str, bytes]) -> tuple[list[Alert], list]:
    for part, events, last in group:
        det.observe(TOPIC, part, QR, events, last)
    watermark = max(e.ts for _p, events, _l in group for e in events) - LATENESS
    return det.end_group(watermark)


def persist(store: dict[str, bytes], writes: list[tuple[str, bytes | None]]) -> None:
    for key, value in writes:
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value


def make(raw: bytes | None) -> Detector:
    return Detector.from_bytes(raw) if raw else Detector()


def reference(gs: list[Group]) -> tuple[DurableDetector, list[Alert]]:
    clock = Clock()
    det = DurableDetector(Detector(), snapshot_every=10, clock=clock)
    store: dict[str, bytes] = {}
    alerts: list[Alert] = []
    for group in gs:
        clock.now += 1
        raised, writes = feed(det, group, store)
        alerts += raised
        persist(store, writes)
    return det, alerts


@pytest.fixture(scope="module")
def world_groups() -> list[Group]:
    return groups()


@pytest.fixture(scope="module")
def expected(world_groups: list[Group]) -> tuple[DurableDetector, list[Alert]]:
    return reference(world_groups)


def test_the_world_raises_alerts(expected: tuple[DurableDetector, list[Alert]]) -> None:
    det, alerts = expected
    assert {(a.signal, a.ward_code) for a in alerts} == {
        ("qr_rate_drop", BIG),
        ("feed_outage", None),
    }
    assert sum(det.alerts_total.values()) == 2


def repacked(gs: list[Group], i: int, rng: random.Random) -> Group:
    """Group `i` as the ingest stage re-sends it after a crash: per partition, from an earlier
    offset (the tail of the group before) and cut into batches at other places."""
    out: Group = []
    for part in range(PARTITIONS):
        events = [e for p, evs, _l in gs[i] if p == part for e in evs]
        if not events:
            continue
        before = [e for g in gs[max(0, i - 3) : i] for p, evs, _l in g if p == part for e in evs]
        events = before[len(before) - rng.randrange(len(before) + 1) :] + events
        cut = rng.randrange(1, len(events) + 1)
        for chunk in (events[:cut], events[cut:]):
            if chunk:
                out.append((part, chunk, chunk[-1].offset))
    return out


def crash_run(gs: list[Group], seed: int) -> tuple[DurableDetector, list[Alert], int]:
    """Run with crashes: each crash keeps a random prefix of the group's writes, and the
    stream resumes from a committed group at or before it (re-delivery, re-packed), from a
    restored detector."""
    rng = random.Random(seed)
    clock = Clock()
    store: dict[str, bytes] = {}
    det = DurableDetector(Detector(), snapshot_every=10, clock=clock)
    sent: list[Alert] = []
    committed = 0  # groups acknowledged: re-delivery starts here
    i = 0
    crashes = 0
    redelivered = 0  # groups before this one were seen before the last crash
    while i < len(gs):
        clock.now += 1
        group = repacked(gs, i, rng) if i < redelivered else gs[i]
        raised, writes = feed(det, group, store)
        sent += raised  # alerts are acknowledged before the writes are sent
        if rng.random() < 0.08:
            persist(store, writes[: rng.randrange(len(writes) + 1)])
            crashes += 1
            entries = [(k, v) for k, v in store.items() if is_detector_key(k)]
            det = DurableDetector.restore(entries, make, snapshot_every=10, clock=clock)
            redelivered = i + 1
            i = rng.randint(max(0, committed - 1), committed)  # the commit may lag a little
            continue
        persist(store, writes)
        if rng.random() < 0.7:
            committed = i + 1
        i += 1
    return det, sent, crashes


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_crashes_lose_and_double_nothing(
    world_groups: list[Group], expected: tuple[DurableDetector, list[Alert]], seed: int
) -> None:
    ref, ref_alerts = expected
    det, sent, crashes = crash_run(world_groups, seed)
    assert crashes >= 5
    assert det.detector.to_bytes() == ref.detector.to_bytes()
    assert det.alerts_total == ref.alerts_total
    assert det.fed == ref.fed
    # at least once: every alert was sent, repeats are identical copies
    assert set(sent) == set(ref_alerts)


def test_snapshots_delete_the_inputs_they_hold(world_groups: list[Group]) -> None:
    clock = Clock()
    det = DurableDetector(Detector(), snapshot_every=10, clock=clock)
    store: dict[str, bytes] = {}
    for group in world_groups[:95]:
        clock.now += 1
        persist(store, feed(det, group, store)[1])
    logs = sorted(k for k in store if k != SNAPSHOT_KEY)
    assert SNAPSHOT_KEY in store
    # the inputs of the previous snapshot's period are gone; at most two periods remain
    assert 0 < len(logs) <= 20
    assert logs[-1] == log_key(det.seq)
    restored = DurableDetector.restore(store.items(), make)
    assert restored.detector.to_bytes() == det.detector.to_bytes()
    assert (restored.seq, restored.fed) == (det.seq, det.fed)


def test_a_fully_fed_batch_is_not_fed_again(world_groups: list[Group]) -> None:
    det = DurableDetector(Detector())
    part, events, last = world_groups[0][0]
    det.observe(TOPIC, part, QR, events, last)
    det.observe(TOPIC, part, QR, events, last)  # re-sent by the ingest stage
    det.observe(TOPIC, part, QR, events[5:], last)
    det.end_group(0.0)
    once = DurableDetector(Detector())
    once.observe(TOPIC, part, QR, events, last)
    once.end_group(0.0)
    assert det.detector.to_bytes() == once.detector.to_bytes()


def test_a_group_with_nothing_new_writes_nothing() -> None:
    det = DurableDetector(Detector())
    assert det.end_group(0.0) == ([], [])


def test_a_gap_in_the_logged_inputs_is_an_error(world_groups: list[Group]) -> None:
    det = DurableDetector(Detector(), snapshot_every=1e9)
    store: dict[str, bytes] = {}
    for group in world_groups[:5]:
        persist(store, feed(det, group, store)[1])
    del store[log_key(3)]
    with pytest.raises(StateError, match="input 3 is missing"):
        DurableDetector.restore(store.items(), make)


def test_an_unreadable_snapshot_is_an_error() -> None:
    with pytest.raises(StateError, match="snapshot"):
        DurableDetector.restore([(SNAPSHOT_KEY, b"{not json\nxx")], make)


def _keys() -> Iterator[str]:
    yield SNAPSHOT_KEY
    yield log_key(7)


def test_detector_keys_are_told_apart_from_counter_keys() -> None:
    assert all(is_detector_key(k) for k in _keys())
    assert is_detector_key(log_key(1).encode())
    assert not is_detector_key("civic.payments.qr:0|tot|38")


def test_an_unknown_watermark_is_logged_as_no_move(world_groups: list[Group]) -> None:
    """Before the worker knows its slowest partition the watermark is -inf: still restorable."""
    det = DurableDetector(Detector(), snapshot_every=1e9)
    store: dict[str, bytes] = {}
    for group in world_groups[:3]:
        persist(store, feed(det, group, store)[1])
    part, events, last = world_groups[3][0]
    det.observe(TOPIC, part, QR, events, last)
    persist(store, det.end_group(float("-inf"))[1])
    restored = DurableDetector.restore(store.items(), make)
    assert restored.detector.to_bytes() == det.detector.to_bytes()
