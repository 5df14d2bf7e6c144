"""The basic synthetic feed: valid events, deterministic per seed, and a truthful ground truth."""

from __future__ import annotations

import gzip
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from producers.synthetic import (
    MALFORMATIONS,
    SOURCE_BY_KIND,
    VN_TZ,
    GroundTruth,
    SyntheticConfig,
    SyntheticFeed,
    all_localities,
    generate,
    parse_start,
    write_log,
)
from schemas.events import KINDS, occurred_at_epoch
from schemas.localities import all_provinces, all_wards
from schemas.validate import Rejection, parse_event

FAULTY = SyntheticConfig(seed=11, duplicate_rate=0.03, late_rate=0.05, malformed_rate=0.04)
TWELVE_DIGITS = re.compile(rb"(?<![0-9])[0-9]{12}(?![0-9])")


def check(lines: list[bytes], now: float) -> tuple[Counter[tuple[str, str]], Counter[str], int]:
    """Count what a worker would: distinct valid events, duplicates per kind, rejects."""
    events: Counter[tuple[str, str]] = Counter()
    duplicates: Counter[str] = Counter()
    rejects = 0
    seen: set[str] = set()
    for line in lines:
        result = parse_event(line, now=now)
        if isinstance(result, Rejection):
            rejects += 1
        elif result.event_id in seen:
            duplicates[result.kind] += 1
        else:
            seen.add(result.event_id)
            events[result.kind, result.province_code] += 1
    return events, duplicates, rejects


def test_the_feed_knows_every_kind_and_every_commune() -> None:
    assert set(SOURCE_BY_KIND) == set(KINDS)
    localities = all_localities()
    assert len(localities) == 3321
    assert {loc.province_code for loc in localities} == set(all_provinces())
    assert all(all_wards()[loc.ward_code] == loc.province_code for loc in localities)


def test_without_faults_every_line_is_a_valid_distinct_event() -> None:
    lines, truth = generate(20_000, SyntheticConfig(seed=1))

    events, duplicates, rejects = check(lines, now=datetime.now(VN_TZ).timestamp())

    assert (rejects, duplicates) == (0, Counter())
    assert events == truth.events
    assert truth.lines == truth.valid_events == 20_000
    assert set(truth.events_by_kind()) == set(KINDS)
    assert {province for _kind, province in truth.events} == set(all_provinces())


def test_the_ground_truth_is_what_the_validator_finds_with_every_fault_on() -> None:
    lines, truth = generate(30_000, FAULTY)

    events, duplicates, rejects = check(lines, now=datetime.now(VN_TZ).timestamp())

    assert events == truth.events
    assert duplicates == truth.duplicates
    assert rejects == sum(truth.rejects.values())
    assert set(truth.rejects) == set(MALFORMATIONS)  # each kind of hostile line shows up
    assert sum(truth.late.values()) > 0
    assert truth.lines == len(lines) == truth.valid_events + rejects + sum(duplicates.values())


def test_a_seed_gives_the_same_lines_and_truth_every_time() -> None:
    first, first_truth = generate(5000, FAULTY)
    again, again_truth = generate(5000, FAULTY)
    other, _ = generate(5000, SyntheticConfig(seed=12, malformed_rate=0.04))

    assert first == again
    assert first_truth == again_truth
    assert first[:100] != other[:100]


def test_qr_payments_dominate_the_mix() -> None:
    _, truth = generate(20_000, SyntheticConfig(seed=2))
    by_kind = truth.events_by_kind()

    assert by_kind["payment.qr"] > 0.7 * truth.valid_events
    assert all(by_kind[kind] > 0.02 * truth.valid_events for kind in KINDS)


def test_time_moves_forward_in_vietnam_time_except_late_arrivals() -> None:
    start = datetime(2025, 9, 1, 6, 0, tzinfo=VN_TZ)
    config = SyntheticConfig(seed=3, start=start, events_per_second=10.0, late_rate=0.1)
    lines, truth = generate(5000, config)

    stamps = [orjson.loads(line)["occurred_at"] for line in lines]
    assert all(s.endswith("+07:00") for s in stamps)
    times = [occurred_at_epoch(s) for s in stamps]
    assert all(t is not None for t in times)
    on_time = [t for t in times if t is not None and t >= start.timestamp()]
    late = len(times) - len(on_time)
    assert on_time == sorted(on_time)
    assert late == sum(truth.late.values()) > 0
    # 5,000 events at 10 a second: about 500 s of event time.
    assert 400 < max(on_time) - start.timestamp() < 600


def test_no_line_holds_a_real_looking_citizen_id() -> None:
    lines, truth = generate(30_000, FAULTY)

    refs = [
        value
        for line in lines
        if line.startswith(b"{") and b"payment.card" not in line
        for key, value in _object_or_empty(line).items()
        if key.endswith("_ref") and key != "dossier_ref" and value is not None
    ]
    assert len(refs) > 10_000
    assert all(re.fullmatch("[0-9a-f]{64}", ref) for ref in refs)
    raw_ids = [m for line in lines for m in TWELVE_DIGITS.findall(_without_hex(line))]
    # The only 12-digit runs are the planted `raw_id` ones, all with the impossible prefix 999.
    assert len(raw_ids) == truth.rejects["raw_id"] > 0
    assert all(m.startswith(b"999") for m in raw_ids)


def _object_or_empty(line: bytes) -> dict[str, str]:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _without_hex(line: bytes) -> bytes:
    """The line with UUIDs and HMACs blanked: they may hold 12 digits in a row by chance."""
    line = re.sub(rb"[0-9a-f]{64}", b"", line)
    return re.sub(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", b"", line)


@pytest.mark.parametrize("name", ["feed.jsonl", "feed.jsonl.gz"])
def test_write_log_writes_the_lines_generate_returns(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    truth = write_log(path, FAULTY, n=20_000)

    data = gzip.decompress(path.read_bytes()) if name.endswith(".gz") else path.read_bytes()
    lines, expected = generate(20_000, FAULTY)
    assert data == b"\n".join(lines) + b"\n"
    assert truth == expected


def test_write_log_by_days_covers_the_period(tmp_path: Path) -> None:
    path = tmp_path / "days.jsonl"
    truth = write_log(
        path, SyntheticConfig(events_per_second=0.5), days=1, start="2025-10-01", seed=4
    )

    stamps = [orjson.loads(line)["occurred_at"] for line in path.read_bytes().splitlines()]
    assert stamps[0].startswith("2025-10-01T00:")
    assert stamps[-1].startswith("2025-10-01T23:")
    assert truth.lines == len(stamps)
    assert 40_000 < truth.lines < 46_400  # 0.5 a second for 86,400 s


def test_write_log_needs_one_length(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one of n or days"):
        write_log(tmp_path / "x.jsonl")
    with pytest.raises(ValueError, match="exactly one of n or days"):
        write_log(tmp_path / "x.jsonl", n=1, days=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-10-01", datetime(2025, 10, 1, tzinfo=VN_TZ)),
        (date(2025, 10, 1), datetime(2025, 10, 1, tzinfo=VN_TZ)),
        ("2025-10-01T08:30:00", datetime(2025, 10, 1, 8, 30, tzinfo=VN_TZ)),
        ("2025-10-01T08:30:00+00:00", datetime(2025, 10, 1, 15, 30, tzinfo=VN_TZ)),
    ],
)
def test_parse_start(value: str | date, expected: datetime) -> None:
    assert parse_start(value) == expected


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"duplicate_rate": 1.5}, "duplicate_rate must be within"),
        ({"duplicate_rate": 0.6, "malformed_rate": 0.6}, "must not exceed 1"),
        ({"events_per_second": 0}, "events_per_second must be positive"),
        ({"kind_mix": {"payment.card": 1.0}}, "kind_mix"),
        ({"start": datetime(2025, 1, 1)}, "UTC offset"),
        ({"start": datetime(2020, 1, 1, 3, tzinfo=VN_TZ)}, "too early"),
    ],
)
def test_a_config_that_cannot_work_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SyntheticConfig(**changes)


def test_emit_is_the_hook_for_a_richer_simulator() -> None:
    feed = SyntheticFeed(SyntheticConfig(seed=5))
    place = all_localities()[100]
    when = datetime(2025, 11, 3, 9, 0, tzinfo=VN_TZ)

    line = feed.emit("welfare.disbursement", place, when.timestamp())

    event = parse_event(line, now=(when + timedelta(minutes=1)).timestamp())
    assert not isinstance(event, Rejection)
    assert (event.kind, event.province_code, event.occurred_at) == (
        "welfare.disbursement",
        place.province_code,
        "2025-11-03T09:00:00+07:00",
    )
    assert feed.truth == GroundTruth(
        events=Counter({("welfare.disbursement", place.province_code): 1}), lines=1
    )


def test_the_truth_serialises_and_renders() -> None:
    _, truth = generate(2000, FAULTY)
    data = truth.to_dict()

    assert orjson.loads(orjson.dumps(data)) == data
    assert data["valid_events"] == sum(n for per in data["events"].values() for n in per.values())
    assert data["rejects_total"] == sum(truth.rejects.values())
    assert f"{truth.lines:,} lines" in truth.render()
