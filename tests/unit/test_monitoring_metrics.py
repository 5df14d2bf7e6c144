"""Every metric named in a rule, dashboard or Grafana alert exists in the worker's code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from civicpulse.monitoring.grafana.validate import queries
from civicpulse.monitoring.promql import metric_names
from schemas.topics import KIND_BY_TOPIC, TOPIC_BY_KIND
from streams.core import packing
from streams.core.aggregator import Aggregator
from streams.detect import Detector
from streams.detect.durable import DurableDetector
from streams.metrics import DetectionCollector, build_registry
from tests.factories import event_bytes

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_760_000_000.0  # 2025-10-09


@pytest.fixture(scope="module")
def exported() -> set[str]:
    """Sample names a worker exposes once it has seen a little of everything."""
    agg = Aggregator(dict(KIND_BY_TOPIC))
    durable = DurableDetector(Detector())
    for kind, topic in TOPIC_BY_KIND.items():
        lines = [
            event_bytes(kind, occurred_at="2025-10-09T08:00:00+07:00"),
            event_bytes(kind, ward_code=None, occurred_at="2025-10-09T08:00:00+07:00"),
            event_bytes(kind, occurred_at="2025-10-01T08:00:00+07:00"),  # late
            b"not json",
        ]
        lines.append(lines[0])  # duplicate
        batch = packing.pack(topic, 0, kind, list(enumerate(lines)), NOW)
        for message in packing.encode(batch, limit=100):
            decoded = packing.decode(message)
            result = agg.apply(decoded)
            durable.observe(topic, 0, kind, result.first_copies, decoded.last_offset)
    durable.end_group(agg.max_ts)
    # No stall opens in a few events: one alert on record so the counter has a sample.
    durable.alerts_total[("payment.qr", "feed_outage", "critical")] += 1
    registry, pipeline = build_registry(agg, lag=lambda: {("civic.payments.qr", 0): 3})
    registry.register(DetectionCollector(lambda: durable, lambda: agg.feed_last_event().keys()))
    pipeline.ingested.inc()
    pipeline.ingest_seconds.observe(0.01)
    pipeline.aggregate_seconds.observe(0.01)
    for outcome in ("accepted", "duplicate", "rejected", "skipped"):
        pipeline.messages.labels(outcome).inc()
    pipeline.dead_letters.inc()
    text = generate_latest(registry).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def recorded() -> dict[str, str]:
    doc = yaml.safe_load((ROOT / "deploy/prometheus/rules/civicpulse-recording.yml").read_text())
    return {r["record"]: r["expr"] for g in doc["groups"] for r in g["rules"]}


def expressions() -> dict[str, str]:
    """Every PromQL expression shipped, by where it comes from."""
    out: dict[str, str] = {}
    for record, expr in recorded().items():
        out[f"recording rule {record}"] = expr
    alerts = yaml.safe_load((ROOT / "deploy/prometheus/rules/civicpulse-alerts.yml").read_text())
    for group in alerts["groups"]:
        for i, rule in enumerate(group["rules"]):
            out[f"alert {rule['alert']} #{i}"] = rule["expr"]
    grafana_rules = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/alerting/civicpulse-rules.yaml").read_text()
    )
    for group in grafana_rules["groups"]:
        for rule in group["rules"]:
            for query in rule["data"]:
                if "expr" in query["model"]:
                    out[f"grafana rule {rule['uid']}"] = query["model"]["expr"]
    for path in sorted((ROOT / "deploy/grafana/dashboards").glob("*.json")):
        for i, expr in enumerate(queries(json.loads(path.read_text()))):
            out[f"{path.name} query {i}"] = expr
    return out


def test_the_worker_exports_what_the_contract_names(exported: set[str]) -> None:
    for name in (
        "civicpulse_events_total",
        "civicpulse_ward_events_total",
        "civicpulse_events_rejected_total",
        "civicpulse_events_duplicate_total",
        "civicpulse_events_late_total",
        "civicpulse_feed_last_event_timestamp_seconds",
        "civicpulse_stalled",
        "civicpulse_locality_info",
        "civicpulse_ward_info",
        "civicpulse_consumer_lag_messages",
        "civicpulse_ingest_messages_total",
        "civicpulse_ingest_batch_duration_seconds_bucket",
        "civicpulse_aggregate_batch_duration_seconds_bucket",
        "civicpulse_messages_processed_total",
        "civicpulse_deadletters_sent_total",
        "civicpulse_feed_outage",
        "civicpulse_alerts_total",
        "civicpulse_detector_enabled",
        "civicpulse_detector_watermark_seconds",
    ):
        assert name in exported


def test_every_metric_in_any_rule_or_dashboard_exists(exported: set[str]) -> None:
    records = recorded()
    known = exported | set(records) | {"up"}  # up: Prometheus's own, per scrape target
    missing = {
        f"{where}: {name}"
        for where, expr in expressions().items()
        for name in metric_names(expr)
        if name not in known
    }
    assert not missing, "unknown metrics:\n" + "\n".join(sorted(missing))


def test_recorded_series_are_built_from_existing_metrics_only(exported: set[str]) -> None:
    records = recorded()
    for record, expr in records.items():
        for name in metric_names(expr):
            assert name in exported or name in records, f"{record} reads unknown {name}"


def test_every_recording_rule_is_used() -> None:
    used = set()
    for where, expr in expressions().items():
        if not where.startswith("recording rule"):
            used |= metric_names(expr)
    for record, expr in recorded().items():
        used |= {n for n in metric_names(expr) if n != record}
    unused = set(recorded()) - used
    assert not unused, f"recording rules nobody reads: {sorted(unused)}"
