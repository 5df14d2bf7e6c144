"""Prometheus metrics of contract section 3, read from the aggregation state at scrape time.

A custom collector (rather than counters bumped in the hot loop) means the exported values are
exactly the durable state: after a restart they come back from the changelog, never reset and
never double.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from schemas.events import KINDS
from schemas.localities import all_provinces, all_wards, ward_name
from schemas.reasons import Reason
from streams.core import kpis
from streams.core.aggregator import Aggregator
from streams.core.kpis import Figures

if TYPE_CHECKING:
    from streams.detect.durable import DurableDetector

LagSource = Callable[[], dict[tuple[str, int], int]]
DetectorSource = Callable[[], "DurableDetector | None"]


class StateCollector(Collector):
    """Exports the counters held by an `Aggregator` (all partitions this worker owns)."""

    def __init__(self, aggregator: Aggregator, lag: LagSource | None = None) -> None:
        self._agg = aggregator
        self._lag = lag

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        agg = self._agg
        events = CounterMetricFamily(
            "civicpulse_events",
            "Accepted, distinct events (duplicates and rejects excluded).",
            labels=["kind", "province"],
        )
        for (kind, province), n in sorted(agg.events_by_province().items()):
            events.add_metric([kind, province], n)
        yield events

        wards = CounterMetricFamily(
            "civicpulse_ward_events",
            'Accepted, distinct events per commune/ward (ward="": no commune known).',
            labels=["kind", "province", "ward"],
        )
        for (kind, province, ward), n in sorted(agg.events_by_ward().items()):
            wards.add_metric([kind, province, ward], n)
        yield wards

        rejected = CounterMetricFamily(
            "civicpulse_events_rejected",
            "Rejected messages, sent to the dead-letter topic, by reason.",
            labels=["reason"],
        )
        by_reason = agg.rejected_by_reason()
        # Every reason is exported (0 until seen) so that rate() and alerts see the first one.
        for reason in Reason:
            rejected.add_metric([reason.value], by_reason.get(reason.value, 0))
        yield rejected

        dups = CounterMetricFamily(
            "civicpulse_events_duplicate",
            "Events whose event_id was already counted within the dedup window.",
            labels=["kind"],
        )
        by_kind = agg.duplicates_by_kind()
        for kind in KINDS:
            dups.add_metric([kind], by_kind.get(kind, 0))
        yield dups

        late = CounterMetricFamily(
            "civicpulse_events_late",
            "Accepted events older than the kept event-time windows (counted in totals only).",
            labels=["kind"],
        )
        late_by_kind = agg.late_by_kind()
        for kind in KINDS:
            late.add_metric([kind], late_by_kind.get(kind, 0))
        yield late

        feed = GaugeMetricFamily(
            "civicpulse_feed_last_event_timestamp_seconds",
            "Newest occurred_at seen per feed and source, Unix seconds.",
            labels=["kind", "source"],
        )
        for (kind, source), ts in sorted(agg.feed_last_event().items()):
            feed.add_metric([kind, source], ts)
        yield feed

        info = GaugeMetricFamily(
            "civicpulse_locality_info",
            "Always 1: joins province codes to names in dashboards.",
            labels=["province", "province_name"],
        )
        for code, name in all_provinces().items():
            info.add_metric([code, name], 1)
        yield info

        ward_info = GaugeMetricFamily(
            "civicpulse_ward_info",
            "Always 1: joins commune/ward codes to names and provinces (3,321 series).",
            labels=["province", "ward", "ward_name"],
        )
        for ward, province in all_wards().items():
            ward_info.add_metric([province, ward, ward_name(ward) or ""], 1)
        yield ward_info

        if self._lag is not None:
            lag = GaugeMetricFamily(
                "civicpulse_consumer_lag_messages",
                "Messages in the source partition not yet reflected in state.",
                labels=["topic", "partition"],
            )
            for (topic, partition), n in sorted(self._lag().items()):
                lag.add_metric([topic, str(partition)], n)
            yield lag


class DetectionCollector(Collector):
    """Exports the detector's open alerts and its progress, read at scrape time.

    `civicpulse_stalled` has a 0 series for every kind x province, and for every commune once
    stalled in this process, so that a closed stall reads 0 rather than vanishing."""

    def __init__(self, detector: DetectorSource, feeds: Callable[[], Iterable[tuple[str, str]]]):
        self._detector = detector
        self._feeds = feeds
        self._seen: set[tuple[str, str, str]] = {
            (kind, code, "") for kind in KINDS for code in all_provinces()
        }
        self._seen_feeds: set[tuple[str, str]] = set()

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        durable = self._detector()
        det = durable.detector if durable is not None else None
        open_stalls = det.open_stalls() if det is not None else set()
        self._seen |= open_stalls
        stalled = GaugeMetricFamily(
            "civicpulse_stalled",
            '1 while a stall alert is open for the locality (ward="" for a province), else 0.',
            labels=["kind", "province", "ward"],
        )
        for locality in sorted(self._seen):
            stalled.add_metric(list(locality), 1 if locality in open_stalls else 0)
        yield stalled

        outages = det.open_outages() if det is not None else set()
        self._seen_feeds |= outages | set(self._feeds())
        outage = GaugeMetricFamily(
            "civicpulse_feed_outage",
            "1 while a feed outage alert is open for the feed (kind, source), else 0.",
            labels=["kind", "source"],
        )
        for feed in sorted(self._seen_feeds):
            outage.add_metric(list(feed), 1 if feed in outages else 0)
        yield outage

        alerts = CounterMetricFamily(
            "civicpulse_alerts",
            "Alerts raised by the detector since the stream began (durable).",
            labels=["kind", "signal", "severity"],
        )
        if durable is not None:
            for (kind, signal, severity), n in sorted(durable.alerts_total.items()):
                alerts.add_metric([kind, signal, severity], n)
        yield alerts

        enabled = GaugeMetricFamily(
            "civicpulse_detector_enabled",
            "1 while this worker runs detection (it needs every partition), else 0.",
        )
        enabled.add_metric([], 1 if det is not None else 0)
        yield enabled
        if det is not None:
            wm = GaugeMetricFamily(
                "civicpulse_detector_watermark_seconds",
                "Event time up to which the detector has judged, Unix seconds.",
            )
            wm.add_metric([], det.watermark)
            yield wm


class PipelineMetrics:
    """Metrics of the worker process itself (not durable: they describe this process)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.ingested = Counter(
            "civicpulse_ingest_messages",
            "Source messages validated and forwarded by this process's ingest stage.",
            registry=registry,
        )
        self.ingest_seconds = Histogram(
            "civicpulse_ingest_batch_duration_seconds",
            "Time to validate, pack and forward one fetched batch (stage 1).",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )
        self.aggregate_seconds = Histogram(
            "civicpulse_aggregate_batch_duration_seconds",
            "Time to apply one packed batch to state (stage 2).",
            buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5),
            registry=registry,
        )
        self.messages = Counter(
            "civicpulse_messages_processed",
            "Messages applied by this process, by outcome (skipped = re-sent, already held).",
            ["outcome"],
            registry=registry,
        )
        for outcome in ("accepted", "duplicate", "rejected", "skipped"):
            self.messages.labels(outcome)  # exported at 0 from the start: rates see the first one
        self.dead_letters = Counter(
            "civicpulse_deadletters_sent",
            "Dead-letter records produced by this process.",
            registry=registry,
        )


def build_registry(
    aggregator: Aggregator, lag: LagSource | None = None
) -> tuple[CollectorRegistry, PipelineMetrics]:
    registry = CollectorRegistry()
    registry.register(StateCollector(aggregator, lag))
    return registry, PipelineMetrics(registry)


class KpiCollector(Collector):
    """Adoption KPIs (`streams.core.kpis`), recomputed at most every `refresh_s` seconds.

    A snapshot scans 30 days of event-time windows, so it is cached: scrapes stay cheap and the
    event loop is not held for every scrape.
    """

    def __init__(
        self,
        aggregator: Aggregator,
        provinces: Mapping[str, Figures],
        communes: Mapping[str, Figures],
        refresh_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._agg = aggregator
        self._provinces = provinces
        self._communes = communes
        self._refresh_s = refresh_s
        self._clock = clock
        self._snap: kpis.KpiSnapshot | None = None
        self._at = 0.0

    def snapshot(self) -> kpis.KpiSnapshot:
        now = self._clock()
        if self._snap is None or now - self._at >= self._refresh_s:
            self._snap = kpis.compute(self._agg, self._provinces, self._communes)
            self._at = now
        return self._snap

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self.snapshot()
        ratio = GaugeMetricFamily(
            "civicpulse_kpi_ratio",
            "Adoption KPI per province (a fraction; coverage may exceed 1: never clipped).",
            labels=["kpi", "province"],
        )
        over = GaugeMetricFamily(
            "civicpulse_kpi_over_100",
            "1 when a province's KPI exceeds 100 % (stale denominator or migration), else 0.",
            labels=["kpi", "province"],
        )
        for (kpi, province), v in sorted(snap.province.items()):
            ratio.add_metric([kpi, province], v)
            if kpi == kpis.EID_L2_COVERAGE:
                over.add_metric([kpi, province], 1.0 if v > 1.0 else 0.0)
        yield ratio
        yield over

        ward = GaugeMetricFamily(
            "civicpulse_kpi_ward_ratio",
            "Adoption KPI per commune/ward (a fraction; coverage may exceed 1).",
            labels=["kpi", "province", "ward"],
        )
        wards_over: dict[tuple[str, str], int] = {}
        for (kpi, province, code), v in sorted(snap.ward.items()):
            ward.add_metric([kpi, province, code], v)
            if v > 1.0:
                wards_over[(kpi, province)] = wards_over.get((kpi, province), 0) + 1
        yield ward
        wo = GaugeMetricFamily(
            "civicpulse_kpi_wards_over_100",
            "Communes of the province whose KPI exceeds 100 %.",
            labels=["kpi", "province"],
        )
        for (kpi, province), n in sorted(wards_over.items()):
            wo.add_metric([kpi, province], n)
        yield wo

        target = GaugeMetricFamily(
            "civicpulse_kpi_target_ratio",
            "The province's target for the KPI (reference data).",
            labels=["kpi", "province"],
        )
        for (kpi, province), v in sorted(snap.targets.items()):
            target.add_metric([kpi, province], v)
        yield target

        qr = GaugeMetricFamily(
            "civicpulse_qr_payments_per_1000_residents_day",
            "QR payments per 1,000 residents per day over the trailing 30 days of event time.",
            labels=["province"],
        )
        for province, v in sorted(snap.qr_per_1000_day.items()):
            qr.add_metric([province], v)
        yield qr
        qr_ward = GaugeMetricFamily(
            "civicpulse_ward_qr_payments_per_1000_residents_day",
            "QR payments per 1,000 residents per day per commune, trailing 30 days.",
            labels=["province", "ward"],
        )
        for (province, code), v in sorted(snap.qr_per_1000_day_ward.items()):
            qr_ward.add_metric([province, code], v)
        yield qr_ward

        window = GaugeMetricFamily(
            "civicpulse_kpi_window_days",
            "Event-time days the trailing KPI window covers so far (30 once history allows).",
        )
        window.add_metric([], snap.window_days)
        yield window
