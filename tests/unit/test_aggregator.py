"""The pure aggregation core: counting, dedup, rejects, windows, and idempotent re-delivery."""

from __future__ import annotations

import random
from datetime import datetime

import orjson
import pytest

from schemas.topics import KIND_BY_TOPIC, TOPIC_BY_KIND
from streams.core import packing
from streams.core.aggregator import Aggregator, BatchResult, Retention
from streams.core.windows import DAY, day_start, hour_start
from tests.factories import HA_NOI, HAC_THANH, HOAN_KIEM, QUANG_PHU, THANH_HOA, event_bytes

ID = TOPIC_BY_KIND["identity.activation"]
QR = TOPIC_BY_KIND["payment.qr"]
NOW = datetime.fromisoformat("2025-06-01T00:00:00+07:00").timestamp()


def new_agg(**retention: float) -> Aggregator:
    return Aggregator(dict(KIND_BY_TOPIC), Retention(**retention))


def feed(
    agg: Aggregator, topic: str, lines: list[bytes], partition: int = 0, first: int = 0
) -> BatchResult:
    """Validate, pack, go through the wire format, and apply: stage 1 then stage 2."""
    records = list(enumerate(lines, start=first))
    batch = packing.pack(topic, partition, KIND_BY_TOPIC[topic], records, NOW)
    total = BatchResult()
    for message in packing.encode(batch, limit=7):  # small limit: exercise multi-part batches
        result = agg.apply(packing.decode(message))
        total.dead_letters += result.dead_letters
        total.counted += result.counted
        total.first_copies += result.first_copies
        total.accepted += result.accepted
        total.duplicates += result.duplicates
        total.rejected += result.rejected
        total.skipped += result.skipped
    return total


def persist(agg: Aggregator, durable: dict[str, bytes | None], keep: float = 1.0) -> list[str]:
    """Drain the aggregator's writes into `durable`, each kept with probability `keep`."""
    rng = random.Random(len(durable))
    written = []
    for _, key, value in agg.drain_writes():
        written.append(key)
        if keep >= 1.0 or rng.random() < keep:
            durable[key] = value
    return written


def test_counts_distinct_valid_events_per_kind_province_and_ward() -> None:
    agg = new_agg()
    lines = [
        event_bytes(ward_code=HAC_THANH),
        event_bytes(ward_code=QUANG_PHU),
        event_bytes(ward_code=None),
        event_bytes(province_code=HA_NOI, ward_code=HOAN_KIEM),
    ]
    result = feed(agg, ID, lines)
    assert (result.accepted, result.duplicates, result.rejected) == (4, 0, 0)
    assert agg.events_by_province() == {
        ("identity.activation", THANH_HOA): 3,
        ("identity.activation", HA_NOI): 1,
    }
    assert agg.events_by_ward() == {
        ("identity.activation", THANH_HOA, HAC_THANH): 1,
        ("identity.activation", THANH_HOA, QUANG_PHU): 1,
        ("identity.activation", THANH_HOA, ""): 1,
        ("identity.activation", HA_NOI, HOAN_KIEM): 1,
    }


@pytest.mark.parametrize(
    ("second_at", "is_duplicate"),
    [
        ("2025-03-14T08:15:00+07:00", True),  # a plain re-send
        ("2025-03-21T08:15:00+07:00", True),  # exactly 7 days later: still inside
        ("2025-03-21T08:15:01+07:00", False),  # just past 7 days: a new event
        ("2025-03-07T08:15:00+07:00", True),  # 7 days earlier (arrived late)
    ],
    ids=["resend", "7-days-edge", "past-7-days", "earlier-copy"],
)
def test_duplicate_window_is_seven_days_of_event_time(second_at: str, is_duplicate: bool) -> None:
    agg = new_agg()
    first = event_bytes(event_id="6f1c2b1e-1f0a-4c1e-9a57-0d5b1c2f3a4b")
    second = event_bytes(event_id="6f1c2b1e-1f0a-4c1e-9a57-0d5b1c2f3a4b", occurred_at=second_at)
    result = feed(agg, ID, [first, second])
    assert result.duplicates == (1 if is_duplicate else 0)
    assert agg.events_by_province()[("identity.activation", THANH_HOA)] == (
        1 if is_duplicate else 2
    )
    assert agg.duplicates_by_kind() == (
        {"identity.activation": 1} if is_duplicate else {"identity.activation": 0}
    )


def test_duplicate_across_partitions_on_one_worker_is_caught() -> None:
    agg = new_agg()
    line = event_bytes()
    feed(agg, ID, [line], partition=0)
    result = feed(agg, ID, [line], partition=3)
    assert result.duplicates == 1
    assert agg.events_by_province() == {("identity.activation", THANH_HOA): 1}


def test_rejects_are_counted_by_reason_and_dead_lettered() -> None:
    agg = new_agg()
    lines = [b"not json", b"[1,2]", event_bytes(province_code="99"), event_bytes("payment.qr")]
    result = feed(agg, ID, lines)
    assert result.rejected == 4
    assert agg.rejected_by_reason() == {
        "not_json": 1,
        "not_object": 1,
        "unknown_province": 1,
        "wrong_topic": 1,
    }
    letters = [orjson.loads(d) for d in result.dead_letters]
    assert [(d["offset"], d["reason"], d["topic"]) for d in letters] == [
        (0, "not_json", ID),
        (1, "not_object", ID),
        (2, "unknown_province", ID),
        (3, "wrong_topic", ID),
    ]
    assert letters[0]["payload"] == "not json"
    assert agg.events_by_province() == {}


def test_redelivered_batch_changes_nothing() -> None:
    agg = new_agg()
    lines = [event_bytes(), event_bytes(), b"{", event_bytes()]
    lines.append(lines[0])  # a duplicate
    feed(agg, ID, lines)
    before = (agg.events_by_province(), agg.rejected_by_reason(), agg.duplicates_by_kind())
    agg.drain_writes()
    again = feed(agg, ID, lines)
    assert again.accepted == 0
    assert again.dead_letters == []
    assert agg.drain_writes() == []
    assert (agg.events_by_province(), agg.rejected_by_reason(), agg.duplicates_by_kind()) == before


def _snapshot(agg: Aggregator) -> tuple[object, ...]:
    return (
        agg.events_by_province(),
        agg.events_by_ward(),
        agg.rejected_by_reason(),
        agg.duplicates_by_kind(),
    )


@pytest.mark.parametrize("seed", range(8))
def test_crash_after_a_partial_flush_recovers_exactly(seed: int) -> None:
    """Persist a random subset of a batch's writes, crash, reload, re-deliver: same totals."""
    rng = random.Random(seed)
    lines = [event_bytes(ward_code=rng.choice([HAC_THANH, QUANG_PHU, None])) for _ in range(40)]
    lines += [lines[i] for i in rng.sample(range(40), 8)]  # duplicates
    lines += [b"garbage", event_bytes(ward_code="00070")]  # rejects
    rng.shuffle(lines)

    reference = new_agg()
    feed(reference, ID, lines)

    durable: dict[str, bytes | None] = {}
    crashed = new_agg()
    cut = rng.randrange(1, len(lines))
    feed(crashed, ID, lines[:cut])
    persist(crashed, durable)
    feed(crashed, ID, lines[cut:], first=cut)
    persist(crashed, durable, keep=0.5)  # the crash lost some of the second group's writes

    recovered = new_agg()
    for key, value in durable.items():
        recovered.load(key, value)
    # The offset commit never passed the first batch: everything after it is re-delivered.
    feed(recovered, ID, lines[cut:], first=cut)
    assert _snapshot(recovered) == _snapshot(reference)


def test_windows_are_event_time_hours_and_vietnamese_days() -> None:
    agg = new_agg()
    feed(
        agg,
        ID,
        [
            event_bytes(occurred_at="2025-03-14T23:30:00+07:00"),
            event_bytes(occurred_at="2025-03-14T16:30:00Z"),  # 23:30 in Vietnam, same hour
            event_bytes(occurred_at="2025-03-15T00:10:00+07:00"),  # next Vietnamese day
        ],
    )
    st = agg.partition(ID, 0)
    t = datetime.fromisoformat("2025-03-14T23:30:00+07:00").timestamp()
    assert st.hours[(THANH_HOA, hour_start(t))].n == 2
    assert st.days[(THANH_HOA, day_start(t))].n == 2
    assert st.days[(THANH_HOA, day_start(t) + DAY)].n == 1
    assert day_start(t) == datetime.fromisoformat("2025-03-14T00:00:00+07:00").timestamp()


def test_events_older_than_kept_windows_count_in_totals_and_as_late() -> None:
    agg = new_agg(days_keep=2 * DAY, hours_keep=DAY)
    result = feed(
        agg,
        ID,
        [
            event_bytes(occurred_at="2025-03-14T08:00:00+07:00"),
            event_bytes(occurred_at="2025-03-10T08:00:00+07:00"),  # 4 days behind: late
        ],
    )
    assert result.accepted == 2
    assert agg.events_by_province() == {("identity.activation", THANH_HOA): 2}
    assert agg.late_by_kind() == {"identity.activation": 1}


def test_old_windows_and_claims_are_pruned_with_tombstones() -> None:
    agg = new_agg(days_keep=3 * DAY, hours_keep=DAY, dedup_keep=8 * DAY)
    old = event_bytes(occurred_at="2025-03-01T08:00:00+07:00")
    feed(agg, ID, [old])
    agg.drain_writes()
    feed(agg, ID, [event_bytes(occurred_at="2025-03-20T08:00:00+07:00")], first=1)
    deleted = {key for _, key, value in agg.drain_writes() if value is None}
    assert any("|day|" in key for key in deleted)
    assert any("|ids|" in key for key in deleted)
    # The pruned claim no longer makes a copy a duplicate (it is beyond the dedup horizon).
    again = feed(agg, ID, [old], first=2)
    assert again.duplicates == 0


def test_feed_last_event_is_newest_occurred_at_per_source() -> None:
    agg = new_agg()
    feed(
        agg,
        ID,
        [
            event_bytes(occurred_at="2025-03-14T08:00:00+07:00", source="vneid"),
            event_bytes(occurred_at="2025-03-14T07:00:00+07:00", source="vneid"),
            event_bytes(occurred_at="2025-03-14T09:00:00+07:00", source="police"),
        ],
    )
    last = agg.feed_last_event()
    assert (
        last[("identity.activation", "vneid")]
        == datetime.fromisoformat("2025-03-14T08:00:00+07:00").timestamp()
    )
    assert (
        last[("identity.activation", "police")]
        == datetime.fromisoformat("2025-03-14T09:00:00+07:00").timestamp()
    )


def test_reset_then_reload_from_writes_restores_every_view() -> None:
    agg = new_agg()
    durable: dict[str, bytes | None] = {}
    lines = [event_bytes(), event_bytes("payment.qr"), b"x"]
    for topic in (ID, QR):
        feed(agg, topic, lines)
        persist(agg, durable)
    before = _snapshot(agg)
    agg.reset()
    assert _snapshot(agg) == ({}, {}, {}, {})
    for key, value in durable.items():
        agg.load(key.encode(), value)  # keys come back from Kafka as bytes
    assert _snapshot(agg) == before


def test_counted_lists_each_distinct_event_once_even_when_resent() -> None:
    agg = new_agg()
    lines = [event_bytes(), event_bytes(), b"{"]
    lines.append(lines[0])
    first = feed(agg, ID, lines)
    assert [ev.offset for ev in first.counted] == [0, 1]
    assert first.counted[0].attrs == {"level": 2}
    assert feed(agg, ID, lines).counted == []


def test_first_copies_are_reported_again_when_resent_and_duplicates_never() -> None:
    """The detector's state moves separately from the counters: after a crash it needs the
    first copies of re-sent records even when the counters already hold them."""
    agg = new_agg()
    lines = [event_bytes(), event_bytes(), b"{"]
    lines.append(lines[0])  # a duplicate of offset 0
    first = feed(agg, ID, lines)
    assert [ev.offset for ev in first.first_copies] == [0, 1]
    again = feed(agg, ID, lines)
    assert again.counted == []
    assert [ev.offset for ev in again.first_copies] == [0, 1]
    # a crash that lost the claims but kept the totals: still first copies, still not counted
    durable: dict[str, bytes | None] = {}
    persist(agg, durable)
    recovered = new_agg()
    for key, value in durable.items():
        if "|ids|" not in key:
            recovered.load(key, value)
    resent = feed(recovered, ID, lines)
    assert resent.counted == []
    assert [ev.offset for ev in resent.first_copies] == [0, 1]
    assert resent.duplicates == 1
