"""The aiokafka producer the replay and the live feed share: idempotent, acks=all."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from producers.exceptions import BrokerUnavailableError

CONNECT_TIMEOUT_S: Final = 12.0
DEFAULT_PORT: Final = 9092
_PROBE_PAUSE_S: Final = 0.25


def _servers(client_kwargs: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(host, port) of each bootstrap server: "h1:9092,h2:9092", "[::1]:9092" or a list."""
    servers = client_kwargs.get("bootstrap_servers", "localhost")
    items = servers.split(",") if isinstance(servers, str) else list(servers)
    out = []
    for item in (i.strip() for i in items):
        host, sep, port = item.rpartition(":")
        if not sep or "]" in port:  # no port, or the colons of a bare IPv6 address
            host, port = item, str(DEFAULT_PORT)
        if not port.isdigit():
            raise BrokerUnavailableError(f"bad Kafka bootstrap address {item!r}: want HOST:PORT")
        out.append((host.strip("[]"), int(port)))
    return out


async def _wait_for_listener(servers: list[tuple[str, int]], deadline: float) -> str | None:
    """Wait until one bootstrap server accepts a TCP connection; the last error if none did.

    Probing with a bare connection first (and retrying) lets a replay started right after the
    broker wait for it, and avoids aiokafka's own error logs for a broker that is not there.
    """
    loop = asyncio.get_running_loop()
    last = "no bootstrap server given"
    while True:
        for host, port in servers:
            left = deadline - loop.time()
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(host, port), max(0.1, min(2.0, left))
                )
            except TimeoutError:
                last = "no answer"
                continue
            except OSError as exc:
                last = _describe(exc)
                continue
            writer.close()
            return None
        if loop.time() + _PROBE_PAUSE_S >= deadline:
            return last
        await asyncio.sleep(_PROBE_PAUSE_S)


def _describe(exc: OSError) -> str:
    """ "Connection refused" rather than asyncio's "Connect call failed ('127.0.0.1', 1)"."""
    if exc.errno is not None and exc.errno > 0:
        return os.strerror(exc.errno)
    return exc.strerror or str(exc)  # resolver errors have negative codes and their own text


async def start_producer(
    client_kwargs: Mapping[str, Any],
    *,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    **producer_kwargs: Any,
) -> AIOKafkaProducer:
    """An idempotent, acks=all producer, started.

    Raises `BrokerUnavailableError` when no broker answers within `connect_timeout_s`.
    """
    servers = _servers(client_kwargs)
    where = ",".join(f"{host}:{port}" for host, port in servers)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + connect_timeout_s
    reason = await _wait_for_listener(servers, deadline)
    producer = None
    if reason is None:
        producer = AIOKafkaProducer(
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=max(30_000, int(connect_timeout_s * 1000)),
            **client_kwargs,
            **producer_kwargs,
        )
        try:
            await asyncio.wait_for(producer.start(), max(0.1, deadline - loop.time()))
            return producer
        except TimeoutError:
            reason = "it accepts connections but does not answer as a Kafka broker"
        except (KafkaError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        await stop_quietly(producer, 1.0)
    raise BrokerUnavailableError(
        f"cannot reach the Kafka broker at {where} within {connect_timeout_s:g} s ({reason}). "
        "Is it running? Start it with `civicpulse kafka up`, or point CIVICPULSE_KAFKA_BOOTSTRAP "
        "at one."
    )


async def stop_quietly(producer: AIOKafkaProducer, timeout_s: float) -> None:
    """Stop a producer after a failure, without waiting long nor masking the first error."""
    try:
        await asyncio.wait_for(producer.stop(), timeout_s)
    except (TimeoutError, KafkaError, OSError):
        return
