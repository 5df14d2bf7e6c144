"""The local broker of civicpulse/kafka_local.py, driven for real: a Kafka 4.1.1 JVM, checked with
kcat (librdkafka, an independent client) and aiokafka."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import NewTopic

from civicpulse import kafka_local
from civicpulse.topics_admin import (
    admin_client,
    ensure_topics,
    load_topics,
    recreate_topics,
    topic_configs,
    topic_partitions,
)

pytestmark = pytest.mark.integration

EVENT_TOPICS = (
    "civic.identity.activations",
    "civic.payments.qr",
    "civic.welfare.disbursements",
    "civic.services.payments",
)
DAYS_MS = 24 * 3600 * 1000


def kcat_produce(bootstrap: str, topic: str, key: str, value: str) -> None:
    subprocess.run(
        ["kcat", "-b", bootstrap, "-P", "-t", topic, "-k", key, "-X", "message.max.bytes=2000000"],
        input=value.encode() + b"\n",
        check=True,
        timeout=30,
    )


def kcat_consume_all(bootstrap: str, topic: str) -> list[tuple[str, str]]:
    """(key, value) of every message of the topic, via kcat."""
    done = subprocess.run(
        [
            *("kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q"),
            *("-f", "%k\\t%s\\n", "-X", "fetch.message.max.bytes=2000000"),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    lines = done.stdout.decode().splitlines()
    return [(k, v) for k, _, v in (line.partition("\t") for line in lines if line)]


async def aiokafka_consume(bootstrap: str, topic: str, count: int) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        got: list[tuple[bytes, bytes]] = []
        deadline = time.monotonic() + 20
        while len(got) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            got += [(m.key, m.value) for msgs in batches.values() for m in msgs]
        return got
    finally:
        await consumer.stop()


def event(kind: str = "payment.qr") -> str:
    return json.dumps({"event_id": str(uuid.uuid4()), "kind": kind, "province_code": "38"})


# ---------------------------------------------------------------------------- session broker


def test_up_is_idempotent(
    kafka_broker: kafka_local.BrokerInfo, kafka_ports: tuple[int, int]
) -> None:
    port, controller_port = kafka_ports
    started = time.monotonic()
    again = kafka_local.up(kafka_broker.data_dir, port=port, controller_port=controller_port)
    elapsed = time.monotonic() - started

    assert elapsed < 3, f"second up() took {elapsed:.1f} s"
    assert kafka_broker.started
    assert not again.started
    assert again.pid == kafka_broker.pid is not None
    assert again.bootstrap == kafka_broker.bootstrap
    assert again.topics.created == ()
    assert set(again.topics.existing) == {s.name for s in load_topics()}
    assert again.topics.drift == ()


def test_status_of_the_running_broker(
    kafka_broker: kafka_local.BrokerInfo, kafka_ports: tuple[int, int]
) -> None:
    st = kafka_local.status(kafka_broker.data_dir)
    assert st.pid == kafka_broker.pid
    assert st.serving
    assert st.bootstrap == f"localhost:{kafka_ports[0]}"
    assert {s.name for s in load_topics()} <= set(st.topics)
    assert (st.log_dir / "server.log").is_file()


def test_topics_have_the_declared_partitions_and_configs(kafka_bootstrap: str) -> None:
    names = [*EVENT_TOPICS, "civic.deadletter", "civic.alerts"]
    partitions = asyncio.run(topic_partitions(kafka_bootstrap, names))
    configs = asyncio.run(topic_configs(kafka_bootstrap, names))

    assert {partitions[t] for t in EVENT_TOPICS} == {4}  # co-partitioned with the worker's tables
    assert partitions["civic.deadletter"] == 1
    assert partitions["civic.alerts"] == 1
    for topic in EVENT_TOPICS:
        assert configs[topic]["retention.ms"] == str(14 * DAYS_MS)
        assert configs[topic]["cleanup.policy"] == "delete"
    for topic in ("civic.deadletter", "civic.alerts"):
        assert configs[topic]["retention.ms"] == str(30 * DAYS_MS)
        assert configs[topic]["cleanup.policy"] == "delete"
    assert configs["civic.deadletter"]["max.message.bytes"] == "2097152"


def test_topics_file_declares_exactly_the_contract_topics() -> None:
    from schemas.topics import ALERTS_TOPIC, DEADLETTER_TOPIC
    from schemas.topics import EVENT_TOPICS as CONTRACT_EVENTS

    assert set(CONTRACT_EVENTS) == set(EVENT_TOPICS)
    assert {s.name for s in load_topics()} == {*CONTRACT_EVENTS, DEADLETTER_TOPIC, ALERTS_TOPIC}


def test_topic_declaration_keeps_event_topics_copartitioned() -> None:
    specs = {s.name: s for s in load_topics()}
    assert {specs[t].partitions for t in EVENT_TOPICS} == {4}
    assert {specs[t].copartition for t in EVENT_TOPICS} == {"events"}
    assert not any(name.startswith("civicpulse-") for name in specs)  # Faust makes its own


def test_ensure_topics_reports_drift_without_changing_anything(kafka_bootstrap: str) -> None:
    specs = list(load_topics())
    specs[0] = dataclasses.replace(specs[0], partitions=6)
    specs[-1] = dataclasses.replace(specs[-1], config={"retention.ms": "1000"})

    report = asyncio.run(ensure_topics(kafka_bootstrap, specs))

    assert report.created == ()
    assert report.drift == (
        f"{specs[0].name}: 4 partitions, declared 6",
        f"{specs[-1].name}: retention.ms={30 * DAYS_MS}, declared 1000",
    )
    assert asyncio.run(topic_partitions(kafka_bootstrap, [specs[0].name])) == {specs[0].name: 4}


def test_message_produced_by_kcat_is_consumed_back(fresh_kafka: str) -> None:
    value = event()
    big = json.dumps({"blob": "x" * 100 * 1024})  # over the 64 KiB event limit: the broker keeps
    # it so that the worker can reject it visibly
    kcat_produce(fresh_kafka, "civic.payments.qr", "38", value)
    kcat_produce(fresh_kafka, "civic.payments.qr", "38", big)

    assert kcat_consume_all(fresh_kafka, "civic.payments.qr") == [("38", value), ("38", big)]
    got = asyncio.run(aiokafka_consume(fresh_kafka, "civic.payments.qr", 2))
    assert got == [(b"38", value.encode()), (b"38", big.encode())]


def test_fresh_kafka_empties_topics_and_drops_faust_internal_ones(kafka_bootstrap: str) -> None:
    kcat_produce(kafka_bootstrap, "civic.alerts", "", event())

    async def add_faust_like_topic() -> None:
        async with admin_client(kafka_bootstrap) as admin:
            await admin.create_topics([NewTopic("civicpulse-counts-changelog", 4, 1)])

    asyncio.run(add_faust_like_topic())

    deleted = asyncio.run(recreate_topics(kafka_bootstrap, load_topics()))

    assert "civicpulse-counts-changelog" in deleted
    assert asyncio.run(topic_partitions(kafka_bootstrap, ["civicpulse-counts-changelog"])) == {
        "civicpulse-counts-changelog": None
    }
    assert kcat_consume_all(kafka_bootstrap, "civic.alerts") == []
    partitions = asyncio.run(topic_partitions(kafka_bootstrap, list(EVENT_TOPICS)))
    assert set(partitions.values()) == {4}


# ---------------------------------------------------------------------------- own brokers


@pytest.fixture
def private_data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data dir for a broker of the test's own; stopped whatever happens."""
    data_dir = tmp_path / "kafka"
    try:
        yield data_dir
    finally:
        kafka_local.down(data_dir)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("localhost", port), timeout=1):
            return True
    except OSError:
        return False


def test_down_stops_the_broker_and_up_restarts_it_with_the_data(
    private_data_dir: Path, unused_ports: Callable[[int], list[int]]
) -> None:
    port, controller_port = unused_ports(2)
    first = kafka_local.up(private_data_dir, port=port, controller_port=controller_port)
    assert first.started
    assert first.pid is not None
    value = event("identity.activation")
    kcat_produce(first.bootstrap, "civic.identity.activations", "01", value)

    assert kafka_local.down(private_data_dir) is True

    assert not _pid_alive(first.pid)
    assert not (private_data_dir / "kafka.pid").exists()
    assert not _port_open(port)
    assert not _port_open(controller_port)
    assert kafka_local.status(private_data_dir).pid is None
    assert kafka_local.down(private_data_dir) is False  # not running: no error

    second = kafka_local.up(private_data_dir, port=port, controller_port=controller_port)
    assert second.started
    assert second.pid not in (None, first.pid)
    assert second.topics.created == ()  # kept from the first run
    assert kcat_consume_all(second.bootstrap, "civic.identity.activations") == [("01", value)]


def test_missing_java_is_a_clear_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    private_data_dir: Path,
    unused_ports: Callable[[int], list[int]],
) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    port, controller_port = unused_ports(2)

    with pytest.raises(kafka_local.MissingToolError) as err:
        kafka_local.up(private_data_dir, port=port, controller_port=controller_port)

    message = str(err.value)
    assert "`java` is not on PATH" in message
    assert "openjdk-17-jre-headless" in message
    assert not (private_data_dir / "kafka.pid").exists()


def test_missing_maven_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(kafka_local.MissingToolError, match=r"`mvn` is not on PATH.*apt-get"):
        kafka_local.ensure_jars(tmp_path / "lib")


@pytest.fixture
def not_kafka_port() -> Iterator[int]:
    """A port held by a server that answers like HTTP, not Kafka."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        server.close()


def test_port_taken_by_something_else_is_a_clear_error(
    not_kafka_port: int, private_data_dir: Path, unused_ports: Callable[[int], list[int]]
) -> None:
    (controller_port,) = unused_ports(1)
    with pytest.raises(kafka_local.PortInUseError, match=f"port {not_kafka_port} .* not a Kafka"):
        kafka_local.up(private_data_dir, port=not_kafka_port, controller_port=controller_port)


def test_broker_exiting_during_start_shows_its_log(
    private_data_dir: Path, unused_ports: Callable[[int], list[int]]
) -> None:
    # Storage formatted for another node id: the broker refuses to start and exits.
    (private_data_dir / "data").mkdir(parents=True)
    (private_data_dir / "data" / "meta.properties").write_text(
        "version=1\ncluster.id=kTdK9REqTFGgI_ost9Cw9w\nnode.id=2\n"
        "directory.id=hAL4vI1tR5K0zZf3b0XNeg\n"
    )
    port, controller_port = unused_ports(2)

    with pytest.raises(kafka_local.BrokerStartError) as err:
        kafka_local.up(private_data_dir, port=port, controller_port=controller_port)

    message = str(err.value)
    assert "exited during start-up" in message
    assert "Stored node id 2 doesn't match previous node id 1" in message
    assert not (private_data_dir / "kafka.pid").exists()
