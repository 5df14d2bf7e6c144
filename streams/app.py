"""The Faust application: the ingest task, the aggregating agent, the state table, /metrics.

Built by a factory (no module-level app) so tests and the CLI create it with their settings.
"""

from __future__ import annotations

import asyncio
import math
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import faust
from prometheus_client import generate_latest

from reference import load_reference
from schemas.topics import ALERTS_TOPIC, DEADLETTER_TOPIC, KIND_BY_TOPIC
from streams.config import Settings
from streams.core.aggregator import Aggregator
from streams.detect import Detector, DetectorConfig
from streams.detect.durable import DurableDetector
from streams.ingest import Ingest
from streams.internal_topics import (
    MAX_STATE_MESSAGE_BYTES,
    STATE_TABLE,
    batch_topic_name,
    ensure_internal_topics,
)
from streams.metrics import DetectionCollector, KpiCollector, build_registry
from streams.pipeline import Pipeline

VN_TZ = timezone(timedelta(hours=7))
# Prometheus text format 0.0.4; aiohttp refuses a charset inside content_type (UTF-8 is implied).
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"


def baseline_end(as_of: date) -> float:
    """End of the reference data's as-of day, Vietnam time: later activations add to coverage."""
    return datetime.combine(as_of + timedelta(days=1), time(), tzinfo=VN_TZ).timestamp()


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
        consumer_group_instance_id=f"{settings.instance_id}-aggregate",
        broker_session_timeout=settings.session_timeout,
        producer_acks=-1,
        # The detector's snapshot is one changelog message (~1.5 MB for the whole country).
        producer_max_request_size=MAX_STATE_MESSAGE_BYTES,
        consumer_max_fetch_size=MAX_STATE_MESSAGE_BYTES,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
    )
    table = app.Table(
        STATE_TABLE,
        key_type=bytes,  # bytes -> Faust's raw codec for the changelog: we encode entries
        value_type=bytes,
        partitions=settings.partitions,
        help="CivicPulse aggregation state: counters, windows, dedup claims (see streams.core)",
    )
    deadletter = app.topic(
        DEADLETTER_TOPIC, value_type=bytes, value_serializer="raw", partitions=1, internal=False
    )
    alerts = app.topic(
        ALERTS_TOPIC, value_type=bytes, value_serializer="raw", partitions=1, internal=False
    )
    reference = load_reference(settings.reference_file, use_env=False)
    aggregator = Aggregator(dict(KIND_BY_TOPIC), baseline_ts=baseline_end(reference.as_of))
    ingest_holder: list[Ingest] = []

    def lag() -> dict[tuple[str, int], int]:
        """Source messages not yet reflected in state: the end-to-end lag of both stages."""
        applied = aggregator.applied_offsets()
        highwaters = ingest_holder[0].highwaters() if ingest_holder else {}
        return {tp: max(0, hw - applied.get(tp, -1) - 1) for tp, hw in highwaters.items()}

    registry, pipeline_metrics = build_registry(aggregator, lag)
    registry.register(
        KpiCollector(
            aggregator, reference.provinces, reference.communes, refresh_s=settings.kpi_refresh_s
        )
    )
    config = DetectorConfig()

    def detector_from(entries: list[tuple[bytes, bytes]]) -> DurableDetector:
        return DurableDetector.restore(
            entries,
            lambda raw: Detector.from_bytes(raw, config) if raw else Detector(config),
            snapshot_every=settings.detector_snapshot_s,
        )

    pipeline = Pipeline(
        aggregator,
        table,
        deadletter,
        pipeline_metrics,
        alerts_topic=alerts,
        detector_factory=detector_from if settings.detect else None,
        partitions=settings.partitions,
        floor=lambda: ingest_holder[0].floor() if ingest_holder else -math.inf,
    )
    registry.register(
        DetectionCollector(lambda: pipeline.detector, lambda: aggregator.feed_last_event().keys())
    )
    # Stage 2's progress paces stage 1 in event time, when this process runs detection.
    ingest = Ingest(
        settings,
        pipeline_metrics,
        progress=lambda: aggregator.applied_offsets() if pipeline.detector else None,
        newest=aggregator.newest_by_partition,
    )
    ingest_holder.append(ingest)

    @table.on_recover
    async def _reload_state() -> None:
        pipeline.reload(
            tp.partition
            for tp in app.assignor.assigned_actives()
            if tp.topic == batch_topic.get_topic_name()
        )

    batch_topic = app.topic(
        batch_topic_name(settings),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        internal=True,
    )

    @app.agent(batch_topic, name="aggregate", concurrency=1)
    async def aggregate(stream: Any) -> None:
        # Concurrency stays 1: with more, Faust can commit an offset past a message still in
        # flight (faust-streaming #606). `take_events` acks a group only after this body
        # returns, and the consumer flushes the producer (the changelog writes) before it
        # commits offsets. A group shares one write of each touched entry.
        groups = stream.take_events(settings.group_max, within=settings.group_within)
        async for events in groups:
            await pipeline.apply_messages([e.message.value for e in events])

    app.task(ingest.run)  # stage 1 runs in the worker's event loop, beside the agent

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(registry), content_type=METRICS_CONTENT_TYPE)

    return app, pipeline


def run_worker(settings: Settings) -> None:
    """Run the worker until stopped (SIGINT/SIGTERM), as `civicpulse worker` does."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(ensure_internal_topics(settings))
    app, _ = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), override_logging=True)
    worker.execute_from_commandline()
