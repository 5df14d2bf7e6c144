"""Recording rules: what the dashboards read, computed once per evaluation.

The worker's event counters (`civicpulse_events_total`, ...) are read from its durable state
and cover the partitions that worker owns: when a partition moves to another worker, one
worker's counter drops and another's rises. A `rate()` per worker would take both moves for
counter resets and spike. So these rules first sum over workers (the sum is the true,
monotonic total) and only then take rates of the recorded sum. Process counters
(`civicpulse_ingest_messages_total`, `civicpulse_messages_processed_total`) are per process and
reset on restart: for them `sum(rate(...))` is the right order.

Names follow ``level:metric:operation`` (labels kept : metric : what was done).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from civicpulse.monitoring.thresholds import Thresholds


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str


EVENTS_SUM: Final = "kind_province:civicpulse_events_total:sum"
EVENTS_RATE: Final = "kind_province:civicpulse_events:rate5m"
EVENTS_RATE_BY_KIND: Final = "kind:civicpulse_events:rate5m"
WARD_EVENTS_SUM: Final = "kind_province_ward:civicpulse_ward_events_total:sum"
WARD_EVENTS_RATE: Final = "kind_province_ward:civicpulse_ward_events:rate1h"
REJECTED_SUM: Final = "reason:civicpulse_events_rejected_total:sum"
REJECTED_RATE: Final = "reason:civicpulse_events_rejected:rate5m"
DUPLICATE_SUM: Final = "kind:civicpulse_events_duplicate_total:sum"
DUPLICATE_RATE: Final = "kind:civicpulse_events_duplicate:rate5m"
LATE_SUM: Final = "kind:civicpulse_events_late_total:sum"
LATE_RATE: Final = "kind:civicpulse_events_late:rate5m"
INGEST_RATE: Final = "job:civicpulse_ingest_messages:rate1m"
PROCESSED_RATE: Final = "job_outcome:civicpulse_messages_processed:rate1m"
REJECT_RATIO: Final = "job:civicpulse_reject_ratio:rate{window}"
LAG_BY_TOPIC: Final = "topic:civicpulse_consumer_lag_messages:sum"
LAG_TOTAL: Final = "job:civicpulse_consumer_lag_messages:sum"
FEED_AGE: Final = "kind:civicpulse_feed_age_seconds"
FEED_AGE_BY_SOURCE: Final = "kind_source:civicpulse_feed_age_seconds"
PROVINCE_INFO: Final = "province:civicpulse_locality_info:max"
WARD_INFO: Final = "province_ward:civicpulse_ward_info:max"
STALLED: Final = "kind_province_ward:civicpulse_stalled:max"
STALLS_OPEN: Final = "kind:civicpulse_stalls_open:sum"


def reject_ratio_name(th: Thresholds) -> str:
    return REJECT_RATIO.format(window=th.rejects.window)


def recording_rules(th: Thresholds) -> dict[str, list[RecordingRule]]:
    """Rule groups by name, in file order."""
    processed = "civicpulse_messages_processed_total"
    window = th.rejects.window
    return {
        "civicpulse-events": [
            RecordingRule(EVENTS_SUM, "sum by (kind, province) (civicpulse_events_total)"),
            RecordingRule(EVENTS_RATE, f"rate({EVENTS_SUM}[5m])"),
            RecordingRule(EVENTS_RATE_BY_KIND, f"sum by (kind) ({EVENTS_RATE})"),
            RecordingRule(
                WARD_EVENTS_SUM,
                "sum by (kind, province, ward) (civicpulse_ward_events_total)",
            ),
            RecordingRule(WARD_EVENTS_RATE, f"rate({WARD_EVENTS_SUM}[1h])"),
            RecordingRule(REJECTED_SUM, "sum by (reason) (civicpulse_events_rejected_total)"),
            RecordingRule(REJECTED_RATE, f"rate({REJECTED_SUM}[5m])"),
            RecordingRule(DUPLICATE_SUM, "sum by (kind) (civicpulse_events_duplicate_total)"),
            RecordingRule(DUPLICATE_RATE, f"rate({DUPLICATE_SUM}[5m])"),
            RecordingRule(LATE_SUM, "sum by (kind) (civicpulse_events_late_total)"),
            RecordingRule(LATE_RATE, f"rate({LATE_SUM}[5m])"),
        ],
        "civicpulse-pipeline": [
            RecordingRule(INGEST_RATE, "sum by (job) (rate(civicpulse_ingest_messages_total[1m]))"),
            RecordingRule(PROCESSED_RATE, f"sum by (job, outcome) (rate({processed}[1m]))"),
            RecordingRule(
                reject_ratio_name(th),
                f'sum by (job) (rate({processed}{{outcome="rejected"}}[{window}]))\n'
                f'/ sum by (job) (rate({processed}{{outcome!="skipped"}}[{window}]))',
            ),
            RecordingRule(LAG_BY_TOPIC, "sum by (topic) (civicpulse_consumer_lag_messages)"),
            RecordingRule(LAG_TOTAL, "sum by (job) (civicpulse_consumer_lag_messages)"),
            RecordingRule(
                FEED_AGE,
                "time() - max by (kind) (civicpulse_feed_last_event_timestamp_seconds)",
            ),
            RecordingRule(
                FEED_AGE_BY_SOURCE,
                "time() - max by (kind, source) (civicpulse_feed_last_event_timestamp_seconds)",
            ),
        ],
        "civicpulse-localities": [
            RecordingRule(
                PROVINCE_INFO, "max by (province, province_name) (civicpulse_locality_info)"
            ),
            RecordingRule(WARD_INFO, "max by (province, ward, ward_name) (civicpulse_ward_info)"),
            RecordingRule(STALLED, "max by (kind, province, ward) (civicpulse_stalled)"),
            RecordingRule(STALLS_OPEN, f"sum by (kind) ({STALLED})"),
        ],
    }
