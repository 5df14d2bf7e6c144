"""Routing and keying of replayed lines, and the partitioner they rely on."""

from __future__ import annotations

import random
import uuid

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from producers.routing import Route, murmur2, partition_for_key, route
from schemas.topics import TOPIC_BY_KIND, UNROUTABLE_TOPIC
from tests.factories import event, event_bytes, raw

EVENT_ID = "6f1c2a4e-8b7d-4c1e-9a2b-3c4d5e6f7a8b"
QR_EVENT = event("payment.qr", event_id=EVENT_ID)


@pytest.mark.parametrize("kind", sorted(TOPIC_BY_KIND))
def test_a_line_goes_to_the_topic_of_its_kind_keyed_by_event_id(kind: str) -> None:
    assert route(event_bytes(kind, event_id=EVENT_ID)) == Route(
        TOPIC_BY_KIND[kind], EVENT_ID.encode(), True
    )


@pytest.mark.parametrize(
    ("line", "key"),
    [
        (b"not json at all", None),
        (b"", None),
        (b'["identity.activation"]', None),
        (raw({"event_id": EVENT_ID}), EVENT_ID.encode()),  # no kind
        (
            raw({**event("payment.qr", event_id=EVENT_ID), "kind": "payment.card"}),
            EVENT_ID.encode(),
        ),
        (raw({**event("payment.qr", event_id=EVENT_ID), "kind": 7}), EVENT_ID.encode()),
        (b'{"kind": "\xff\xfe", "event_id": "nope"}', None),
    ],
    ids=["not-json", "empty", "array", "no-kind", "unknown-kind", "kind-not-a-string", "not-utf8"],
)
def test_a_line_without_a_readable_kind_goes_to_the_unroutable_topic(
    line: bytes, key: bytes | None
) -> None:
    assert UNROUTABLE_TOPIC == "civic.identity.activations"  # contract section 5
    assert route(line) == Route(UNROUTABLE_TOPIC, key, False)


def test_a_truncated_line_still_goes_to_the_topic_of_its_kind() -> None:
    line = event_bytes("welfare.disbursement", event_id=EVENT_ID)
    topic, key, known = route(line[: len(line) - 10])
    assert (topic, key, known) == (TOPIC_BY_KIND["welfare.disbursement"], EVENT_ID.encode(), True)


def test_a_line_without_a_readable_event_id_has_no_key() -> None:
    assert route(event_bytes("payment.qr", event_id=12)).key is None
    assert route(event_bytes("payment.qr", event_id="not-a-uuid")).key is None


def test_every_copy_of_an_event_gets_the_same_key_whatever_the_case_of_its_id() -> None:
    lower = route(event_bytes("payment.qr", event_id=EVENT_ID)).key
    upper = route(event_bytes("payment.qr", event_id=EVENT_ID.upper())).key
    assert lower == upper == EVENT_ID.encode()


def test_murmur2_is_kafkas_own() -> None:
    rng = random.Random(6)
    samples = [bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 80))) for _ in range(3000)]
    samples += [str(uuid.UUID(int=rng.getrandbits(128))).encode() for _ in range(1000)]
    for data in samples:
        assert murmur2(data) == aiokafka_murmur2(data), data
    # The Java client's published values (org.apache.kafka.common.utils.UtilsTest).
    assert murmur2(b"21") == -973932308 & 0xFFFFFFFF
    assert murmur2(b"foobar") == -790332482 & 0xFFFFFFFF
    assert murmur2(b"a-little-bit-long-string") == -985981536 & 0xFFFFFFFF


@pytest.mark.parametrize("partitions", [1, 3, 4, 12])
def test_partition_for_key_matches_the_default_partitioner(partitions: int) -> None:
    rng = random.Random(partitions)
    all_partitions = list(range(partitions))
    for _ in range(500):
        key = str(uuid.UUID(int=rng.getrandbits(128))).encode()
        expected = DefaultPartitioner()(key, all_partitions, all_partitions)
        assert partition_for_key(key, partitions) == expected
