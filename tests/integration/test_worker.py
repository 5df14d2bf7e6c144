"""The worker against a real broker: exact counts from a hostile log, restarts and kill -9."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson

from producers.synthetic import SyntheticConfig, write_log
from tests.factories import HA_NOI, HAC_THANH, HOAN_KIEM, QUANG_PHU, event, raw
from tests.integration.worker_harness import (
    Worker,
    accounted,
    by_label,
    do_replay,
    events_total,
    wait_until,
)

RAW_IDS = ["001099012345", "038205001122", "079188004455"]  # shaped like CCCD numbers


def hostile_log(path: Path) -> tuple[Counter[tuple[str, str]], Counter[str], int]:
    """A log with valid, duplicate, late, malformed and hostile lines, and its exact truth."""
    expected: Counter[tuple[str, str]] = Counter()
    dups: Counter[str] = Counter()
    lines: list[bytes] = []

    def valid(kind: str, **fields: object) -> bytes:
        line = raw(event(kind, **fields))
        ev = orjson.loads(line)
        expected[(kind, ev["province_code"])] += 1
        lines.append(line)
        return line

    kinds = ["identity.activation", "payment.qr", "welfare.disbursement", "service.payment"]
    for i in range(40):
        kind = kinds[i % 4]
        if i % 5 == 0:
            valid(kind, province_code=HA_NOI, ward_code=HOAN_KIEM)
        else:
            valid(kind, ward_code=[HAC_THANH, QUANG_PHU, None][i % 3])
    # Exact re-sends, and a re-send whose other fields changed: still the same event_id.
    for line in lines[:6]:
        lines.append(line)
        dups[orjson.loads(line)["kind"]] += 1
    changed = orjson.loads(lines[1])
    changed["occurred_at"] = "2025-03-15T09:00:00+07:00"
    lines.append(orjson.dumps(changed))
    dups[changed["kind"]] += 1
    # Late arrivals: days behind the rest, still valid and counted.
    for _ in range(3):
        valid("payment.qr", occurred_at="2025-03-01T10:00:00+07:00")
    # Upper-case UUID spelling of an already counted event: the same event.
    upper = orjson.loads(lines[2])
    upper["event_id"] = upper["event_id"].upper()
    lines.append(orjson.dumps(upper))
    dups[upper["kind"]] += 1

    bad = [
        b"not json at all",
        b"[1, 2, 3]",
        b'"a string"',
        b"\xff\xfe garbage bytes",
        raw(event(level="2")),  # no coercion
        raw(event(level=2.0)),
        raw(event(schema_version=True)),
        raw(event(province_code="99")),
        raw(event(ward_code=HOAN_KIEM)),  # a Hà Nội ward in Thanh Hóa
        raw(event(occurred_at="2099-01-01T00:00:00+07:00")),
        raw(event(occurred_at="2019-12-31T00:00:00+07:00")),
        raw(event(occurred_at="2025-03-14 08:15:00")),
        raw(event(citizen_ref=RAW_IDS[0])),  # a raw ID instead of an HMAC
        raw(event("service.payment", dossier_ref=f"HS-{RAW_IDS[1]}")),
        raw({**event(), "cccd": RAW_IDS[2]}),  # an extra field carrying an ID
        raw({**event(), "kind": "identity.unknown"}),
        b'{"event_id": "x", "event_id": "y"}',
        raw(event(source="x" * 40)),
        raw({**event(), "note": "x" * 70_000}),  # over 64 KiB
    ]
    lines += bad
    lines.insert(10, b"")  # blank lines are not events
    lines.insert(20, b"   ")
    path.write_bytes(b"\n".join(lines) + b"\n")
    return expected, dups, len(bad)


def test_hostile_log_counts_exactly_and_leaks_no_raw_id(
    worker: Worker, fresh_kafka: str, tmp_path: Path
) -> None:
    log = tmp_path / "hostile.jsonl"
    expected, dups, rejects = hostile_log(log)
    worker.start()
    do_replay(fresh_kafka, log)
    total = sum(expected.values()) + sum(dups.values()) + rejects
    wait_until(lambda: accounted(worker.scrape() or {}) == total, 60, f"{total} accounted", worker)

    samples = worker.scrape()
    assert samples is not None
    assert events_total(samples) == dict(expected)
    assert by_label(samples, "civicpulse_events_duplicate_total", "kind") == dict(dups)
    rejected = by_label(samples, "civicpulse_events_rejected_total", "reason")
    assert sum(rejected.values()) == rejects
    assert rejected["personal_data"] == 3
    assert worker.alive()

    # Every rejected message is in the dead-letter topic with its reason; no raw ID anywhere the
    # monitor writes (dead letters, its internal batch topic, its changelog).
    letters = kcat_consume(fresh_kafka, "civic.deadletter", rejects)
    assert Counter(orjson.loads(m)["reason"] for m in letters) == Counter(rejected)
    for topic in kcat_topics(fresh_kafka):
        if topic.startswith("civic.") and topic not in ("civic.deadletter", "civic.alerts"):
            continue  # the producers' own topics hold what they sent
        dump = kcat_dump(fresh_kafka, topic)
        for raw_id in RAW_IDS:
            assert raw_id.encode() not in dump, f"raw ID leaked into {topic}"


def test_graceful_restart_keeps_counts_exact(
    worker: Worker, fresh_kafka: str, tmp_path: Path
) -> None:
    cfg = SyntheticConfig(seed=7, duplicate_rate=0.05, late_rate=0.05, malformed_rate=0.03)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    truth_a = write_log(first, cfg, n=20_000)
    cfg_b = SyntheticConfig(seed=8, duplicate_rate=0.05, late_rate=0.05, malformed_rate=0.03)
    truth_b = write_log(second, cfg_b, n=20_000)

    worker.start()
    do_replay(fresh_kafka, first)
    wait_until(lambda: accounted(worker.scrape() or {}) == truth_a.lines, 90, "first half", worker)
    worker.stop(signal.SIGTERM)
    do_replay(fresh_kafka, second)  # arrives while the worker is down
    worker.start()
    want = truth_a.lines + truth_b.lines
    wait_until(lambda: accounted(worker.scrape() or {}) == want, 90, "both halves", worker)
    samples = worker.scrape()
    assert samples is not None
    assert events_total(samples) == dict(truth_a.events + truth_b.events)


def test_kill_9_during_replay_neither_loses_nor_doubles(
    worker: Worker, fresh_kafka: str, tmp_path: Path
) -> None:
    cfg = SyntheticConfig(seed=11, duplicate_rate=0.05, late_rate=0.05, malformed_rate=0.02)
    log = tmp_path / "big.jsonl.gz"
    truth = write_log(log, cfg, n=150_000)
    worker.start()
    replaying = subprocess.Popen(
        [sys.executable, "-m", "civicpulse", "replay", str(log), "--bootstrap", fresh_kafka],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    kills = 0
    for fraction in (0.15, 0.5, 0.8):
        wait_until(
            lambda f=fraction: accounted(worker.scrape() or {}) >= f * truth.lines,
            120,
            f"{fraction:.0%} accounted",
            worker,
        )
        worker.stop(signal.SIGKILL)
        kills += 1
        worker.start()
    out, _ = replaying.communicate(timeout=300)
    assert replaying.returncode == 0, out.decode()
    wait_until(lambda: accounted(worker.scrape() or {}) == truth.lines, 300, "all", worker)
    samples = worker.scrape()
    assert samples is not None
    assert kills == 3
    assert events_total(samples) == dict(truth.events)
    assert by_label(samples, "civicpulse_events_duplicate_total", "kind") == {
        k: v for k, v in truth.duplicates.items() if v
    }
    assert sum(by_label(samples, "civicpulse_events_rejected_total", "reason").values()) == sum(
        truth.rejects.values()
    )


def test_partitions_move_between_workers_without_loss_or_double_count(
    worker: Worker, fresh_kafka: str, tmp_path: Path, unused_ports: Callable[[int], list[int]]
) -> None:
    """Scale out mid-replay, then scale back in: each move of a partition hands its state over
    through the changelog, and the survivor ends with every count exact."""
    cfg = SyntheticConfig(seed=12, duplicate_rate=0.05, late_rate=0.05, malformed_rate=0.02)
    log = tmp_path / "scale.jsonl.gz"
    truth = write_log(log, cfg, n=80_000)
    app_id = worker.env["CIVICPULSE_APP_ID"]
    second = Worker(fresh_kafka, app_id, unused_ports(1)[0], tmp_path / "second", instance="w2")
    (tmp_path / "second").mkdir()
    worker.start()
    replaying = subprocess.Popen(
        [sys.executable, "-m", "civicpulse", "replay", str(log), "--bootstrap", fresh_kafka],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: accounted(worker.scrape() or {}) >= 0.2 * truth.lines, 120, "20 %")
        second.start()  # a rebalance: each worker keeps some partitions
        out, _ = replaying.communicate(timeout=300)
        assert replaying.returncode == 0, out.decode()

        def both() -> int:
            return accounted(worker.scrape() or {}) + accounted(second.scrape() or {})

        wait_until(lambda: both() == truth.lines, 180, "all, across two workers", second)
        first_share = accounted(worker.scrape() or {})
        assert 0 < first_share < truth.lines  # both own partitions
        second.stop(signal.SIGTERM)  # static member: its partitions move after its session
        wait_until(
            lambda: accounted(worker.scrape() or {}) == truth.lines, 120, "all, back in one", worker
        )
    finally:
        second.stop(signal.SIGKILL)
    samples = worker.scrape()
    assert samples is not None
    assert events_total(samples) == dict(truth.events)
    assert by_label(samples, "civicpulse_events_duplicate_total", "kind") == {
        k: v for k, v in truth.duplicates.items() if v
    }


def kcat_topics(bootstrap: str) -> list[str]:
    out = subprocess.run(
        ["kcat", "-b", bootstrap, "-L", "-J"], capture_output=True, check=True, timeout=30
    ).stdout
    return [t["topic"] for t in orjson.loads(out)["topics"]]


def kcat_dump(bootstrap: str, topic: str) -> bytes:
    return subprocess.run(
        ["kcat", "-b", bootstrap, "-C", "-t", topic, "-e", "-q", "-f", "%k %s\n"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


def kcat_consume(bootstrap: str, topic: str, count: int) -> list[bytes]:
    out = subprocess.run(
        ["kcat", "-b", bootstrap, "-C", "-t", topic, "-e", "-q", "-c", str(count), "-f", "%s\n"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return [line for line in out.split(b"\n") if line]
