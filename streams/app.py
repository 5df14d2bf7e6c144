"""The Faust application: the worker's service shell around its two stages and /metrics.

Faust runs the process (signals, logging, the web server, supervised tasks); the stages are
aiokafka loops with their own commits: `ingest` (stage 1) and `aggregate` (stage 2, state and
offsets in Kafka transactions). Built by a factory (no module-level app) so tests and the CLI
create it with their settings.
"""

from __future__ import annotations

import asyncio
import math
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import faust
from faust.app.base import BootStrategy
from prometheus_client import generate_latest

from reference import load_reference
from schemas.topics import KIND_BY_TOPIC
from streams.aggregate import Aggregate
from streams.config import Settings
from streams.core.aggregator import Aggregator
from streams.detect import Detector, DetectorConfig
from streams.detect.durable import DurableDetector
from streams.detect.rolls import Rolls
from streams.ingest import Ingest
from streams.internal_topics import ensure_internal_topics
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
        store="memory://",
        datadir=str(settings.data_dir),
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        autodiscover=False,
    )
    # Faust's own Kafka clients stay off: both stages bring theirs (see the module docstring).
    # Its consumer would join a group of its own, and after a kill -9 wait out the dead
    # member's session before the worker starts its tasks.
    app.boot_strategy = BootStrategy(app, enable_kafka=False)
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
    rolls = Rolls.from_reference(reference)  # a round's first day: each locality's part of it

    def detector_from(entries: list[tuple[bytes, bytes]]) -> DurableDetector:
        return DurableDetector.restore(
            entries,
            lambda raw: Detector.from_bytes(raw, config, rolls) if raw else Detector(config, rolls),
            snapshot_every=settings.detector_snapshot_s,
        )

    pipeline = Pipeline(
        aggregator,
        pipeline_metrics,
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

    aggregate = Aggregate(settings, pipeline, pipeline_metrics)

    async def run_ingest() -> None:
        # Stage 1 paces its release on stage 2's progress (`timesync`): what it released before
        # stage 2 had loaded its state would escape that accounting, and the detector's
        # watermark could pass events still on their way.
        await aggregate.loaded.wait()
        await ingest.run()

    app.task(aggregate.run)
    app.task(run_ingest)  # both stages run in the worker's event loop

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        if not aggregate.ready:
            # Counters read from state: before it is loaded they would read 0, and Prometheus
            # would take that for a counter reset. A failed scrape is the honest answer.
            return web.text("state is loading\n", status=503)
        return web.bytes(generate_latest(registry), content_type=METRICS_CONTENT_TYPE)

    return app, pipeline


def run_worker(settings: Settings) -> None:
    """Run the worker until stopped (SIGINT/SIGTERM), as `civicpulse worker` does."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(ensure_internal_topics(settings))
    app, _ = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), override_logging=True)
    worker.execute_from_commandline()
