"""`civicpulse replay`: send event logs to Kafka, byte for byte, in file order.

Each non-blank line becomes one message: its value is the line's bytes exactly, its topic and key
come from `producers.routing` (topic of its `kind`, key = `event_id`). The producer is idempotent
with `acks="all"`: a retried batch is never written twice, and the replay returns only once the
broker has acknowledged every message. Any message the broker does not take fails the replay
with `DeliveryError`.

Throughput: the replay fills one aiokafka batch per partition itself (`create_batch` /
`send_batch`) instead of calling `send()` per message, which saves a coroutine, a future and a
partitioner call per line. Order is kept: aiokafka queues at most one batch per partition and,
with idempotence, retries a batch before sending the next one of the same partition. The number
of messages in memory is bounded by a few batches per partition. Every `FLUSH_EVERY` lines the
open batches go too, full or not: across partitions, no line is handed to the producer more
than that many lines after the lines that follow it in the file.

Pacing: with `speed=X`, a line whose `occurred_at` is T seconds after the first line's is sent
T/X seconds after it (`speed=60`: one hour of event time per minute). Lines without a readable
time, or earlier than the ones before (late arrivals), are sent at once.

Message timestamps are the send time, not the event time: topics expire segments by timestamp,
and a log from last year would otherwise be deleted as soon as it is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.producer.message_accumulator import (
    BatchBuilder,
)
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from producers.client import CONNECT_TIMEOUT_S, start_producer, stop_quietly
from producers.exceptions import BrokerUnavailableError, DeliveryError
from producers.logs import EventLogReader, LogLine, StrPath, check_readable
from producers.routing import partition_for_key, route
from schemas.events import occurred_at_epoch
from schemas.topics import EVENT_TOPICS

LINGER_MS: Final = 10
# One batch per partition under construction, one queued and one in flight at most.
BATCH_BYTES: Final = 512 * 1024
# What one Kafka message may weigh by default (producer max.request.size, broker
# message.max.bytes ~1 MiB), minus room for the batch and record headers.
MAX_MESSAGE_BYTES: Final = 1024 * 1024 - 512
_YIELD_EVERY: Final = 512  # lines between two turns of the event loop
# Lines between two hand-overs of every open batch. A sparse partition fills its batch slowly:
# held until full, its lines would reach the broker days of event time after the dense
# partitions' lines of the same hours, and a consumer that keeps partitions in step in event
# time (the worker's detector) would see them late.
FLUSH_EVERY: Final = 8192
_REFRESH_S: Final = 0.2  # progress bar updates
_MIN_SLEEP_S: Final = 0.001  # --speed: a line due sooner than this is sent at once


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay sent. Every message counted here was acknowledged by the broker."""

    sent_by_topic: Mapping[str, int]
    unreadable_kind: int  # lines sent to the fallback topic because their kind is unreadable
    unkeyed: int  # lines sent without a key because their event_id is unreadable
    elapsed_s: float
    paths: tuple[str, ...] = ()

    @property
    def sent(self) -> int:
        return sum(self.sent_by_topic.values())

    @property
    def rate(self) -> float:
        """Messages per second, over the whole replay (connection included)."""
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def render(self) -> str:
        width = max((len(t) for t in self.sent_by_topic), default=5)
        lines = [f"replayed {self.sent:,} lines from {len(self.paths)} file(s)"]
        lines += [
            f"  {topic:<{width}}  {n:>12,}" for topic, n in sorted(self.sent_by_topic.items())
        ]
        lines.append(f"  unreadable kind (sent to the fallback topic): {self.unreadable_kind:,}")
        lines.append(f"  without a readable event_id (unkeyed): {self.unkeyed:,}")
        lines.append(f"  elapsed {self.elapsed_s:.1f} s, {self.rate:,.0f} msg/s")
        return "\n".join(lines)


@dataclass
class Pacer:
    """When to send each line for `--speed`: a pure schedule, the clock is passed in.

    The first line with a readable time anchors event time to the wall clock; a later line with
    event time `t` is due `(t - first) / speed` seconds after the anchor.
    """

    speed: float
    first_event_s: float | None = None
    anchor_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError(f"speed must be greater than 0, got {self.speed}")

    def delay(self, event_s: float | None, now_s: float) -> float:
        """Seconds to wait, from `now_s`, before sending a line of event time `event_s`."""
        if event_s is None:
            return 0.0
        if self.first_event_s is None:
            self.first_event_s, self.anchor_s = event_s, now_s
            return 0.0
        due = due_offset(event_s, self.first_event_s, self.speed) + self.anchor_s
        return max(0.0, due - now_s)


def due_offset(event_s: float, first_event_s: float, speed: float) -> float:
    """Wall-clock seconds after the first line at which a line of event time `event_s` is due."""
    return max(0.0, (event_s - first_event_s) / speed)


def event_time(raw: bytes) -> float | None:
    """The line's `occurred_at` as Unix seconds, or None when it is not a readable RFC 3339 time."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    value = obj.get("occurred_at") if type(obj) is dict else None
    return occurred_at_epoch(value) if type(value) is str else None


class _BatchSender:
    """Fills one batch per partition and hands the full ones to aiokafka."""

    def __init__(self, producer: AIOKafkaProducer, partitions: Mapping[str, int]) -> None:
        self._producer = producer
        self._partitions = partitions
        self._open: dict[tuple[str, int], BatchBuilder] = {}
        self._sent: deque[tuple[asyncio.Future[Any], str, int, int]] = deque()
        self._full: deque[tuple[tuple[str, int], BatchBuilder]] = deque()
        self._round_robin = itertools.count()

    def append(self, topic: str, key: bytes | None, value: bytes) -> bool:
        """Add one message; True when a batch is full and `submit_full` should be awaited."""
        count = self._partitions[topic]
        if key is None:
            partition = next(self._round_robin) % count
        else:
            partition = partition_for_key(key, count)
        tp = (topic, partition)
        builder = self._open.get(tp)
        if builder is None:
            builder = self._open[tp] = self._producer.create_batch()
        if builder.append(timestamp=None, key=key, value=value) is not None:
            return False
        self._full.append((tp, builder))
        builder = self._open[tp] = self._producer.create_batch()
        builder.append(timestamp=None, key=key, value=value)  # an empty batch takes any size
        return True

    async def submit_full(self) -> None:
        """Hand the full batches to aiokafka (waits while their partition's queue is busy)."""
        while self._full:
            tp, builder = self._full.popleft()
            await self._submit(tp, builder)

    async def submit_open(self) -> None:
        """Hand over every batch under construction, full or not."""
        await self.submit_full()
        open_batches, self._open = self._open, {}
        for tp, builder in open_batches.items():
            await self._submit(tp, builder)

    async def wait_acknowledged(self) -> None:
        """Return once the broker acknowledged every message; raise on the first failure."""
        await self.submit_open()
        while self._sent:
            fut = self._sent[0]
            await asyncio.wait([fut[0]])
            self._check_done()

    async def _submit(self, tp: tuple[str, int], builder: BatchBuilder) -> None:
        topic, partition = tp
        count = builder.record_count()
        if count == 0:
            return
        fut = await self._producer.send_batch(builder, topic, partition=partition)
        self._sent.append((fut, topic, partition, count))
        self._check_done()

    def _check_done(self) -> None:
        """Forget acknowledged batches (oldest first), raise for a failed one."""
        sent = self._sent
        while sent and sent[0][0].done():
            fut, topic, partition, count = sent.popleft()
            exc = fut.exception()
            if exc is not None:
                raise DeliveryError(
                    f"the broker did not take a batch of {count:,} messages for {topic} "
                    f"partition {partition} ({_describe_kafka_error(exc)})"
                ) from exc


def _describe_kafka_error(exc: BaseException) -> str:
    name, text = type(exc).__name__, str(exc)
    return name if text in ("", name) else f"{name}: {text}"


async def _partition_counts(
    producer: AIOKafkaProducer, topics: Iterable[str], timeout_s: float
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for topic in topics:
        try:
            partitions = await asyncio.wait_for(producer.partitions_for(topic), timeout_s)
        except (TimeoutError, KafkaError) as exc:
            raise BrokerUnavailableError(
                f"topic {topic} is not available on the broker ({type(exc).__name__}): "
                "create the topics first (`civicpulse kafka up` does)"
            ) from None
        counts[topic] = len(partitions)
    return counts


class LineSource(Protocol):
    """Where lines come from: event logs (`EventLogReader`) or a live simulation."""

    @property
    def bytes_read(self) -> int: ...
    @property
    def total_bytes(self) -> int: ...  # 0: unknown (the bar shows no percentage)
    def __iter__(self) -> Iterator[LogLine]: ...


class _Meter:
    """The progress bar, on a terminal only, refreshed at most every `_REFRESH_S`."""

    def __init__(self, enabled: bool, console: Console | None, reader: LineSource) -> None:
        console = console or Console(stderr=True)
        label = "replay" if isinstance(reader, EventLogReader) else "produce"
        self._reader = reader
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._started = self._shown = time.monotonic()
        if enabled and console.is_terminal:
            self._bar = Progress(
                TextColumn(f"[bold]{label}[/]"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TextColumn("{task.fields[lines]:>12,} lines  {task.fields[rate]:>9,.0f} msg/s"),
                TimeElapsedColumn(),
                console=console,
            )

    def __enter__(self) -> _Meter:
        if self._bar is not None:
            self._bar.start()
            total = self._reader.total_bytes or None
            self._task = self._bar.add_task("replay", total=total, lines=0, rate=0.0)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def show(self, lines: int, *, force: bool = False) -> None:
        if self._bar is None or self._task is None:
            return
        now = time.monotonic()
        if force or now - self._shown >= _REFRESH_S:
            self._shown = now
            rate = lines / (now - self._started) if now > self._started else 0.0
            self._bar.update(self._task, completed=self._reader.bytes_read, lines=lines, rate=rate)


async def replay(
    paths: Iterable[StrPath],
    *,
    bootstrap: str,
    speed: float | None = None,
    progress: bool = True,
    console: Console | None = None,
    client_kwargs: Mapping[str, Any] | None = None,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    linger_ms: int = LINGER_MS,
    batch_bytes: int = BATCH_BYTES,
    compression: str | None = None,
    transform: Callable[[bytes], bytes] | None = None,
) -> ReplaySummary:
    """Send every non-blank line of the logs to Kafka; return once all are acknowledged.

    `transform` rewrites each line before it is routed (e.g. `--legacy-codes`); without it the
    lines go byte for byte.

    `paths` are read in order, each line in file order. `speed` paces by event time (see
    `Pacer`); None sends as fast as the broker takes them. `progress` shows a bar when `console`
    (default: stderr) is a terminal. `client_kwargs` are extra aiokafka connection options
    (security, `bootstrap_servers` overrides `bootstrap`).

    Raises `EventLogError` (a log is missing, unreadable or corrupt), `BrokerUnavailableError`
    (no broker within `connect_timeout_s`, or a topic is missing) or `DeliveryError` (a message
    was not acknowledged, or is too large to be one Kafka message).
    """
    names = check_readable(paths)  # before connecting: a typo fails in a blink
    summary = await send_lines(
        EventLogReader(names),
        bootstrap=bootstrap,
        speed=speed,
        progress=progress,
        console=console,
        client_kwargs=client_kwargs,
        connect_timeout_s=connect_timeout_s,
        linger_ms=linger_ms,
        batch_bytes=batch_bytes,
        compression=compression,
        transform=transform,
    )
    return dataclasses.replace(summary, paths=tuple(names))


async def send_lines(
    reader: LineSource,
    *,
    bootstrap: str,
    speed: float | None = None,
    progress: bool = True,
    console: Console | None = None,
    client_kwargs: Mapping[str, Any] | None = None,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    linger_ms: int = LINGER_MS,
    batch_bytes: int = BATCH_BYTES,
    compression: str | None = None,
    transform: Callable[[bytes], bytes] | None = None,
    stop: asyncio.Event | None = None,
) -> ReplaySummary:
    """The send loop of `replay` and `produce`: route, batch, pace and acknowledge every line.

    `stop`, when set (e.g. by Ctrl-C), ends the loop cleanly: what was sent is acknowledged.
    """
    if speed is not None and not speed > 0:
        raise ValueError(f"speed must be greater than 0, got {speed}")
    kwargs = {"bootstrap_servers": bootstrap, **(client_kwargs or {})}
    started = time.monotonic()
    producer = await start_producer(
        kwargs,
        connect_timeout_s=connect_timeout_s,
        linger_ms=linger_ms,
        max_batch_size=batch_bytes,
        compression_type=compression,
    )
    sent = dict.fromkeys(EVENT_TOPICS, 0)
    unreadable = unkeyed = count = 0
    try:
        partitions = await _partition_counts(producer, EVENT_TOPICS, connect_timeout_s)
        sender = _BatchSender(producer, partitions)
        pacer = Pacer(speed) if speed is not None else None
        with _Meter(progress, console, reader) as meter:
            for line in reader:
                if stop is not None and stop.is_set():
                    break
                raw = line.raw if transform is None else transform(line.raw)
                if len(raw) > MAX_MESSAGE_BYTES:
                    raise DeliveryError(
                        f"{line.path}, line {line.lineno}: {len(raw):,} bytes, more than one "
                        f"Kafka message may hold ({MAX_MESSAGE_BYTES:,})"
                    )
                topic, key, known = route(raw)
                if pacer is not None:
                    when = event_time(raw)
                    if pacer.delay(when, time.monotonic()) > _MIN_SLEEP_S:
                        await sender.submit_open()  # what is due must not wait for a full batch
                        meter.show(count)
                        await _sleep_or_stop(pacer.delay(when, time.monotonic()), stop)
                if sender.append(topic, key, raw):
                    await sender.submit_full()
                sent[topic] += 1
                if not known:
                    unreadable += 1
                if key is None:
                    unkeyed += 1
                count += 1
                if not count % FLUSH_EVERY:
                    await sender.submit_open()
                if not count % _YIELD_EVERY:
                    # Let aiokafka's sender read acknowledgements and send what is ready.
                    await asyncio.sleep(0)
                    meter.show(count)
            await sender.wait_acknowledged()
            meter.show(count, force=True)
    except KafkaError as exc:  # e.g. no room freed in time: the broker stopped taking messages
        await stop_quietly(producer, 2.0)
        raise DeliveryError(
            f"the replay stopped after {count:,} lines: the broker did not take more messages "
            f"({_describe_kafka_error(exc)})"
        ) from exc
    except BaseException:
        await stop_quietly(producer, 2.0)
        raise
    await stop_quietly(producer, connect_timeout_s)
    elapsed = time.monotonic() - started
    return ReplaySummary(
        sent_by_topic={topic: n for topic, n in sent.items() if n},
        unreadable_kind=unreadable,
        unkeyed=unkeyed,
        elapsed_s=elapsed,
    )


async def _sleep_or_stop(seconds: float, stop: asyncio.Event | None) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
