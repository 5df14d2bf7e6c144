"""The live synthetic feed of `make demo`: events happening now, at a steady rate.

Lines come from `SyntheticFeed` with `occurred_at` = the wall clock (Vietnam time), are routed and
keyed like a replay (`producers.routing`) and sent with the replay's idempotent producer. The
feed runs until `stop_event` is set; by default SIGINT and SIGTERM set it, so that Ctrl-C ends
the feed cleanly: what was sent is flushed and acknowledged before `produce_live` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from producers.client import CONNECT_TIMEOUT_S, start_producer, stop_quietly
from producers.exceptions import DeliveryError
from producers.routing import route
from producers.synthetic import GroundTruth, SyntheticConfig, SyntheticFeed

TICK_S: Final = 0.05  # how often the feed catches up with its rate
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


@dataclass(frozen=True)
class LiveSummary:
    sent_by_topic: Mapping[str, int]
    elapsed_s: float
    truth: GroundTruth

    @property
    def sent(self) -> int:
        return sum(self.sent_by_topic.values())


def due_count(rate_per_s: float, elapsed_s: float) -> int:
    """How many events a feed of `rate_per_s` should have sent after `elapsed_s` seconds."""
    return int(rate_per_s * max(0.0, elapsed_s))


@contextlib.contextmanager
def _stop_on_signals(stop_event: asyncio.Event, enabled: bool) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    if enabled:
        for sig in _STOP_SIGNALS:
            try:
                loop.add_signal_handler(sig, stop_event.set)
            except (ValueError, RuntimeError):  # not the main thread, or no signals here
                continue
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def produce_live(
    bootstrap: str,
    rate_per_s: float,
    seed: int,
    stop_event: asyncio.Event,
    *,
    config: SyntheticConfig | None = None,
    client_kwargs: Mapping[str, Any] | None = None,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    handle_signals: bool = True,
) -> LiveSummary:
    """Send synthetic events happening now, about `rate_per_s` a second, until `stop_event`.

    `config` sets the mix and the fault rates (its seed is replaced by `seed`). Raises
    `BrokerUnavailableError` when the broker cannot be reached, `DeliveryError` when a message
    is not acknowledged.
    """
    if not rate_per_s > 0:
        raise ValueError(f"rate_per_s must be greater than 0, got {rate_per_s}")
    feed = SyntheticFeed(replace(config or SyntheticConfig(), seed=seed))
    kwargs = {"bootstrap_servers": bootstrap, **(client_kwargs or {})}
    producer = await start_producer(kwargs, connect_timeout_s=connect_timeout_s, linger_ms=20)
    sent: dict[str, int] = {}
    emitted = 0
    pending: deque[asyncio.Future[Any]] = deque()
    started = time.monotonic()
    with _stop_on_signals(stop_event, handle_signals):
        try:
            while not stop_event.is_set():
                now = time.time()
                due = due_count(rate_per_s, time.monotonic() - started)
                while emitted < due:
                    raw = feed.random_line_at(now)
                    emitted += 1
                    topic, key, _known = route(raw)
                    pending.append(await producer.send(topic, raw, key=key))
                    sent[topic] = sent.get(topic, 0) + 1
                while pending and pending[0].done():
                    _raise_if_failed(pending.popleft())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop_event.wait(), TICK_S)
            await producer.flush()
            while pending:
                _raise_if_failed(pending.popleft())
        finally:
            await stop_quietly(producer, connect_timeout_s)
    return LiveSummary(sent_by_topic=sent, elapsed_s=time.monotonic() - started, truth=feed.truth)


def _raise_if_failed(fut: asyncio.Future[Any]) -> None:
    exc = fut.exception()
    if exc is not None:
        raise DeliveryError(f"the broker did not acknowledge a live event: {exc}") from exc
