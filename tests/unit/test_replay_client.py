"""Reaching the broker: a readable error, after a short timeout, when it is not there."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from producers.client import _servers, start_producer
from producers.exceptions import BrokerUnavailableError
from producers.replay import replay


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("servers", "expected"),
    [
        ("localhost:9092", [("localhost", 9092)]),
        ("a:1, b:2", [("a", 1), ("b", 2)]),
        ("kafka", [("kafka", 9092)]),
        ("[::1]:29092", [("::1", 29092)]),
        (["a:1", "b:2"], [("a", 1), ("b", 2)]),
    ],
)
def test_bootstrap_servers_are_parsed(servers: str | list[str], expected: object) -> None:
    assert _servers({"bootstrap_servers": servers}) == expected


def test_a_bad_bootstrap_address_is_a_readable_error() -> None:
    with pytest.raises(BrokerUnavailableError, match="bad Kafka bootstrap address 'kafka:x'"):
        _servers({"bootstrap_servers": "kafka:x"})


def test_a_refused_connection_is_a_readable_error_after_the_timeout(tmp_path: Path) -> None:
    log = tmp_path / "one.jsonl"
    log.write_bytes(b'{"kind":"payment.qr"}\n')
    where = f"127.0.0.1:{closed_port()}"

    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError) as err:
        asyncio.run(replay([log], bootstrap=where, progress=False, connect_timeout_s=1.5))
    elapsed = time.monotonic() - started

    assert 1.2 < elapsed < 4.0  # it retried until the timeout (a broker may be starting)
    message = str(err.value)
    assert f"cannot reach the Kafka broker at {where} within 1.5 s (Connection refused)" in message
    assert "civicpulse kafka up" in message


def test_a_listener_that_never_answers_is_a_readable_error_after_the_timeout() -> None:
    async def scenario() -> None:
        silent: list[asyncio.StreamWriter] = []

        async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            silent.append(writer)  # keep the connection open, say nothing

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await start_producer({"bootstrap_servers": f"127.0.0.1:{port}"}, connect_timeout_s=1.5)
        finally:
            for writer in silent:
                writer.close()
            server.close()

    started = time.monotonic()
    with pytest.raises(BrokerUnavailableError, match="does not answer as a Kafka broker"):
        asyncio.run(scenario())
    assert time.monotonic() - started < 5.0
