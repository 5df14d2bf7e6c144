"""`civicpulse replay` against the real broker, read back with kcat (librdkafka: another client).

What is checked is what the contract promises: every line arrives byte for byte on the topic of
its kind, keyed by its event_id, on the partition Kafka's default partitioner gives that key, and
in file order within each partition.
"""

from __future__ import annotations

import asyncio
import gzip
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from civicpulse.topics_admin import topic_partitions
from producers.replay import FLUSH_EVERY, replay
from producers.routing import partition_for_key, route
from producers.synthetic import SyntheticConfig, generate
from schemas.topics import EVENT_TOPICS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
Record = tuple[int, bytes | None, bytes]  # partition, key, value
FORMAT = ("-f", "%p %K %S|%k%s\n")  # partition, key and value lengths, then the bytes


def kcat_read(bootstrap: str, topic: str) -> list[Record]:
    """Every message of a topic, in partition order, via kcat.

    Lengths are printed before the bytes (`%K`, `%S`: -1 for null), so that a value holding a tab,
    a `\\r` or invalid UTF-8 comes back exactly.
    """
    out = subprocess.run(
        ["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", *FORMAT],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    records: list[Record] = []
    pos = 0
    while pos < len(out):
        head_end = out.index(b"|", pos)
        partition, key_len, value_len = (int(x) for x in out[pos:head_end].split(b" "))
        pos = head_end + 1
        key = out[pos : pos + key_len] if key_len >= 0 else None
        pos += max(key_len, 0)
        records.append((partition, key, out[pos : pos + value_len]))
        pos += value_len
        assert out[pos : pos + 1] == b"\n"
        pos += 1
    return records


def write_logs(tmp_path: Path) -> tuple[list[Path], list[bytes]]:
    """Two logs (gzip, then plain) of a faulty feed, with blank and CRLF lines; and their lines."""
    config = SyntheticConfig(seed=21, duplicate_rate=0.03, late_rate=0.03, malformed_rate=0.05)
    lines, _truth = generate(6000, config)
    lines[100] += b"\r"  # a CRLF line: the \r is part of the message
    lines[101] = b"\t" + lines[101]
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl"
    with gzip.open(first, "wb") as out:
        out.write(b"\n".join(lines[:3000]) + b"\n\n   \n")
    second.write_bytes(b"\r\n" + b"\n".join(lines[3000:]))  # no final newline
    return [first, second], lines


def is_subsequence(items: list[bytes], of: list[bytes]) -> bool:
    it = iter(of)
    return all(any(item == candidate for candidate in it) for item in items)


def keyed_in_file_order(lines: list[bytes], partition: int, count: int) -> list[bytes]:
    """The keyed lines that Kafka's default partitioner sends to `partition`, in file order."""
    out = []
    for line in lines:
        key = route(line).key
        if key is not None and partition_for_key(key, count) == partition:
            out.append(line)
    return out


def test_replay_delivers_every_line_byte_for_byte_keyed_and_in_order(
    fresh_kafka: str, tmp_path: Path
) -> None:
    paths, lines = write_logs(tmp_path)

    summary = asyncio.run(replay(paths, bootstrap=fresh_kafka, progress=False))

    partitions = asyncio.run(topic_partitions(fresh_kafka, EVENT_TOPICS))
    expected: dict[str, list[bytes]] = defaultdict(list)
    for line in lines:
        expected[route(line).topic].append(line)
    assert summary.sent == len(lines)
    assert summary.sent_by_topic == {topic: len(v) for topic, v in expected.items()}
    assert summary.unreadable_kind > 0
    for topic in EVENT_TOPICS:
        records = kcat_read(fresh_kafka, topic)
        count = partitions[topic]
        assert count is not None
        assert Counter(value for _p, _k, value in records) == Counter(expected[topic])
        by_partition: dict[int, list[Record]] = defaultdict(list)
        for record in records:
            by_partition[record[0]].append(record)
        for partition, got in by_partition.items():
            for _p, key, value in got:
                assert key == route(value).key
                if key is not None:
                    assert partition == partition_for_key(key, count)
            # File order within the partition: exactly, for the keyed lines of this partition...
            keyed = [value for _p, key, value in got if key is not None]
            assert keyed == keyed_in_file_order(expected[topic], partition, count)
            # ...and as a subsequence of the topic's lines for all of them.
            assert is_subsequence([value for _p, _k, value in got], expected[topic])


def test_copies_of_an_event_share_a_partition(fresh_kafka: str, tmp_path: Path) -> None:
    lines, truth = generate(3000, SyntheticConfig(seed=22, duplicate_rate=0.2))
    path = tmp_path / "dups.jsonl"
    path.write_bytes(b"\n".join(lines))

    asyncio.run(replay([path], bootstrap=fresh_kafka, progress=False))

    partitions_of: dict[bytes | None, set[tuple[str, int]]] = defaultdict(set)
    copies: Counter[bytes | None] = Counter()
    for topic in EVENT_TOPICS:
        for partition, key, _value in kcat_read(fresh_kafka, topic):
            partitions_of[key].add((topic, partition))
            copies[key] += 1
    assert None not in copies
    assert all(len(places) == 1 for places in partitions_of.values())
    assert sum(n - 1 for n in copies.values()) == sum(truth.duplicates.values()) > 0


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from civicpulse.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_the_replay_command_exits_0_once_everything_is_acknowledged(
    fresh_kafka: str, tmp_path: Path
) -> None:
    lines, _ = generate(500, SyntheticConfig(seed=23))
    path = tmp_path / "small.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    done = run_cli("replay", str(path), "--bootstrap", fresh_kafka)

    assert done.returncode == 0, done.stderr
    assert "replayed 500 lines from 1 file(s)" in done.stdout
    assert sum(len(kcat_read(fresh_kafka, topic)) for topic in EVENT_TOPICS) == 500


def test_the_replay_command_without_a_broker_fails_readably(tmp_path: Path) -> None:
    path = tmp_path / "small.jsonl"
    path.write_bytes(b'{"kind":"payment.qr"}\n')

    done = run_cli("replay", str(path), "--bootstrap", "127.0.0.1:1")

    assert done.returncode != 0
    assert "cannot reach the Kafka broker at 127.0.0.1:1" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_the_replay_command_with_a_missing_log_fails_readably(tmp_path: Path) -> None:
    done = run_cli("replay", str(tmp_path / "nope.jsonl"), "--bootstrap", "127.0.0.1:1")

    assert done.returncode != 0
    assert "nope.jsonl" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_a_sparse_partitions_line_is_handed_over_within_flush_every_lines(
    fresh_kafka: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line alone in its partition goes to the broker once `FLUSH_EVERY` more lines are read,
    not when its batch fills (at the end here): a consumer merging partitions in event time
    would otherwise see it long after the lines that follow it in the file."""
    sparse = b'{"kind":"identity.activation","event_id":"sparse-0"}'
    dense = [b'{"kind":"payment.qr","event_id":"qr-%d"}' % i for i in range(2 * FLUSH_EVERY)]
    path = tmp_path / "sparse.jsonl"
    path.write_bytes(b"\n".join([sparse, *dense]) + b"\n")
    read = 0

    def count(raw: bytes) -> bytes:
        nonlocal read
        read += 1
        return raw

    handed: list[tuple[str, int, int]] = []  # (topic, records, lines read by then)
    real_send_batch = AIOKafkaProducer.send_batch

    async def recording(self: AIOKafkaProducer, batch: Any, topic: str, **kw: Any) -> Any:
        handed.append((topic, batch.record_count(), read))
        return await real_send_batch(self, batch, topic, **kw)

    monkeypatch.setattr(AIOKafkaProducer, "send_batch", recording)
    summary = asyncio.run(replay([path], bootstrap=fresh_kafka, progress=False, transform=count))

    assert summary.sent == 1 + len(dense)
    [(_topic, records, when)] = [h for h in handed if h[0] == "civic.identity.activations"]
    assert records == 1
    assert when <= FLUSH_EVERY + 1 < len(dense)
    assert [v for _p, _k, v in kcat_read(fresh_kafka, "civic.identity.activations")] == [sparse]
