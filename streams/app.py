"""The Faust application: topics, the state table, one batching agent per feed, /metrics.

Built by a factory (no module-level app) so tests and the CLI create it with their settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from schemas.topics import DEADLETTER_TOPIC, KIND_BY_TOPIC
from schemas.validate import parse_event
from streams.config import Settings
from streams.core.aggregator import Aggregator
from streams.metrics import build_registry
from streams.pipeline import Pipeline

STATE_TABLE = "state"


def broker_credentials(settings: Settings) -> Any:
    ctx = settings.ssl_context()
    if settings.kafka_security_protocol.startswith("SASL"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=ctx,
        )
    if ctx is not None:
        return faust.SSLCredentials(ctx)
    return None


def create_app(settings: Settings) -> tuple[faust.App, Pipeline]:
    scheme = "kafka"
    brokers = [f"{scheme}://{b.strip()}" for b in settings.kafka_bootstrap.split(",")]
    app = faust.App(
        settings.app_id,
        broker=brokers,
        broker_credentials=broker_credentials(settings),
        store="memory://",  # state is rebuilt from the compacted changelog at start
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        processing_guarantee="at_least_once",  # exactness comes from offset watermarks
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=settings.batch_max,
        stream_buffer_maxsize=max(4096, settings.batch_max * 2),
        producer_acks=-1,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
    )
    table = app.Table(
        STATE_TABLE,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        help="CivicPulse aggregation state: counters, windows, dedup claims (see streams.core)",
    )
    deadletter = app.topic(
        DEADLETTER_TOPIC, value_type=bytes, value_serializer="raw", partitions=1, internal=False
    )
    aggregator = Aggregator(parse_event, dict(KIND_BY_TOPIC))

    def assigned_event_tps() -> set[tuple[str, int]]:
        return {
            (tp.topic, tp.partition)
            for tp in app.assignor.assigned_actives()
            if tp.topic in KIND_BY_TOPIC
        }

    def lag() -> dict[tuple[str, int], int]:
        applied = aggregator.applied_offsets()
        out: dict[tuple[str, int], int] = {}
        for topic, partition in assigned_event_tps():
            highwater = app.consumer.highwater(TP(topic, partition))
            if highwater is None or highwater < 0:
                continue
            out[(topic, partition)] = max(0, highwater - applied.get((topic, partition), -1) - 1)
        return out

    registry, pipeline_metrics = build_registry(aggregator, lag)
    pipeline = Pipeline(aggregator, table, deadletter, pipeline_metrics)

    @table.on_recover  # type: ignore[untyped-decorator]
    async def _reload_state() -> None:
        pipeline.reload(assigned_event_tps())

    for topic_name in KIND_BY_TOPIC:
        source = app.topic(
            topic_name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.partitions,
        )
        app.agent(source, name=f"count.{topic_name}", concurrency=1)(
            _batch_agent(pipeline, topic_name, settings)
        )

    @app.page("/metrics")  # type: ignore[untyped-decorator]
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

    return app, pipeline


def _batch_agent(
    pipeline: Pipeline, topic: str, settings: Settings
) -> Callable[[Any], Awaitable[None]]:
    """An agent that hands batches to the pipeline.

    Concurrency stays 1: with more, Faust can commit an offset past a message still in flight
    (faust-streaming #606). `take_events` acks a batch only after the body returns, and the
    consumer flushes the producer (our changelog writes) before committing offsets.
    """

    async def agent(stream: Any) -> None:
        batches: AsyncIterator[Any] = stream.take_events(
            settings.batch_max, within=settings.batch_within
        )
        async for events in batches:
            records = [(e.message.partition, e.message.offset, e.message.value) for e in events]
            await pipeline.process(topic, records)

    agent.__name__ = f"count_{topic.replace('.', '_')}"
    return agent


def run_worker(settings: Settings) -> None:
    """Run the worker until stopped (SIGINT/SIGTERM), as `civicpulse worker` does."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app, _ = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), override_logging=True)
    worker.execute_from_commandline()
