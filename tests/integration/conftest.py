"""Integration fixtures: one real Kafka 4.1.1 broker for the whole test session.

The broker runs from a pytest temporary directory on two free ports (never 9092/9093, where a
developer's demo broker may be running) and is stopped at the end of the session. Its jars come
from the shared cache ``var/kafka/lib`` (fetched with mvn on first use, ~15 s; later runs start
the broker in ~4 s).

- ``kafka_bootstrap``: "localhost:PORT" of that broker; the contract topics exist.
- ``fresh_kafka``: the same, after deleting and recreating the contract topics (and deleting the
  Faust app's ``civicpulse-*`` internal topics), so that a test starts from empty topics. Topic
  names are fixed by the contract, so tests cannot isolate themselves by prefix: use this instead,
  and do not share the broker between tests running in parallel.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from civicpulse import kafka_local
from civicpulse.topics_admin import load_topics, recreate_topics
from tests.integration.worker_harness import Worker, stop_all

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this directory needs the real broker: mark it so `-m "not integration"`
    leaves them all out."""
    for item in items:
        if _HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on now, distinct, never the demo's 9092/9093."""
    sockets: list[socket.socket] = []
    try:
        while len(sockets) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            if sock.getsockname()[1] in (9092, 9093):
                sock.close()
                continue
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture
def unused_ports() -> Callable[[int], list[int]]:
    """``unused_ports(n)``: n free ports, for a test that starts a broker (or server) of its own."""
    return free_ports


@pytest.fixture(scope="session")
def kafka_ports() -> tuple[int, int]:
    """(client port, controller port) of the session broker."""
    port, controller_port = free_ports(2)
    return port, controller_port


@pytest.fixture(scope="session")
def kafka_broker(
    tmp_path_factory: pytest.TempPathFactory, kafka_ports: tuple[int, int]
) -> Iterator[kafka_local.BrokerInfo]:
    data_dir = tmp_path_factory.mktemp("kafka")
    port, controller_port = kafka_ports
    info = kafka_local.up(data_dir, port=port, controller_port=controller_port, timeout=120)
    try:
        yield info
    finally:
        kafka_local.down(data_dir)


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: kafka_local.BrokerInfo) -> str:
    return kafka_broker.bootstrap


@pytest.fixture
def fresh_kafka(kafka_bootstrap: str) -> str:
    """The session broker with the contract topics deleted and created again (empty), and no
    ``civicpulse-*`` (Faust changelog) topic left. Returns the bootstrap address."""
    asyncio.run(recreate_topics(kafka_bootstrap, load_topics()))
    return kafka_bootstrap


@pytest.fixture
def worker(
    fresh_kafka: str, tmp_path: Path, unused_ports: Callable[[int], list[int]]
) -> Iterator[Worker]:
    """A real `civicpulse worker` process (not yet started) on empty topics."""
    # The `civicpulse-` prefix lets `fresh_kafka` delete this app's internal topics afterwards.
    app_id = f"civicpulse-t{uuid.uuid4().hex[:8]}"
    w = Worker(fresh_kafka, app_id, unused_ports(1)[0], tmp_path)
    yield w
    stop_all(w)
