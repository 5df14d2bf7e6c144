"""`civicpulse produce`: the calibrated simulator streamed into Kafka, live or accelerated.

- `speed == 1`: real time from now on; events happen as the simulated day unfolds.
- `speed > 1`: the last `days` before now, `speed` times faster, ending when event time reaches
  the moment the command started (so no event is ever in the future for the worker).

Ctrl-C (SIGINT) or SIGTERM stops the feed cleanly: what was sent is acknowledged first.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from rich.console import Console

from producers.client import CONNECT_TIMEOUT_S
from producers.logs import LogLine
from producers.replay import ReplaySummary, event_time, send_lines
from producers.simulator import SimulationConfig, Simulator
from producers.simulator.scenario import Scenario
from reference import load_reference
from schemas.events import KINDS

VN_TZ = timezone(timedelta(hours=7))  # Vietnam: no daylight saving


class SimulatedSource:
    """Simulator lines whose event time falls in [since, until), in order, as `LogLine`s."""

    def __init__(self, simulator: Simulator, since: float, until: float | None) -> None:
        self._sim = simulator
        self._since = since
        self._until = until
        self.bytes_read = 0
        self.total_bytes = 0  # unknown: the progress bar shows counts and rate only

    def __iter__(self) -> Iterator[LogLine]:
        n = 0
        for raw in self._sim.lines():
            t = event_time(raw)
            if t is not None and t < self._since:
                continue
            if t is not None and self._until is not None and t >= self._until:
                return
            n += 1
            self.bytes_read += len(raw)
            yield LogLine("simulation", n, raw)


def live_window(now: float, speed: float, days: int) -> tuple[datetime, int, float, float | None]:
    """(first simulated day, days to simulate, first event time, end event time or None)."""
    today = datetime.fromtimestamp(now, VN_TZ).date()
    if speed == 1:
        return datetime.combine(today, datetime.min.time(), VN_TZ), days, now, None
    since = now - days * 86400
    first = datetime.fromtimestamp(since, VN_TZ).date()
    return datetime.combine(first, datetime.min.time(), VN_TZ), days + 1, since, now


async def produce(
    bootstrap: str,
    *,
    seed: int,
    speed: float = 1.0,
    days: int = 7,
    scale: float = 1.0,
    scenario: Scenario | None = None,
    client_kwargs: Mapping[str, Any] | None = None,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    progress: bool = True,
    console: Console | None = None,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> ReplaySummary:
    """Stream simulated events until the window ends or `stop` is set (Ctrl-C sets it)."""
    if speed < 1:
        raise ValueError(f"speed must be at least 1 (live or faster), got {speed}")
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    start, n_days, since, until = live_window(time.time(), speed, days)
    config = SimulationConfig(
        start=start.date(), days=n_days, seed=seed, scale=scale, scenario=scenario, kinds=KINDS
    )
    source = SimulatedSource(Simulator(config, load_reference()), since, until)
    return await send_lines(
        source,
        bootstrap=bootstrap,
        speed=speed,
        progress=progress,
        console=console,
        client_kwargs=client_kwargs,
        connect_timeout_s=connect_timeout_s,
        stop=stop,
    )
