"""The CivicPulse dashboards, row by row.

Each row is one function returning a `Row`; a dashboard is a list of them. Adding a row (the
KPI rows to come: ``kpi_row(th)`` reading ``civicpulse_kpi_ratio{kpi,province}``) is one
function and one entry in a dashboard's list. Queries read the recording rules of
`civicpulse.monitoring.recording` (see there why event counters are summed before `rate`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from civicpulse.monitoring import alerts
from civicpulse.monitoring import recording as rec
from civicpulse.monitoring.durations import parse_duration
from civicpulse.monitoring.grafana.builder import (
    GREEN_RED,
    Dashboard,
    Panel,
    Query,
    Row,
    Threshold,
    Variable,
    dashboard_link,
)
from civicpulse.monitoring.thresholds import Thresholds
from schemas.events import KINDS

KIND_LABELS: Final = {
    "identity.activation": "e-ID activations",
    "payment.qr": "QR payments",
    "welfare.disbursement": "welfare disbursements",
    "service.payment": "public-service payments",
}

_NAMES: Final = f"on (province) group_left (province_name) {rec.PROVINCE_INFO}"
_WARD_NAMES: Final = f"on (province, ward) group_left (ward_name) {rec.WARD_INFO}"

PROVINCE_VAR: Final = Variable(
    name="province",
    label="Province",
    query=f"query_result({rec.PROVINCE_INFO})",
    # query_result prints {province="38",province_name="Thanh Hóa"} 1 <ts>: code as the value,
    # Vietnamese name as the text shown.
    regex='/province="(?<value>[^"]+)",province_name="(?<text>[^"]+)"/',
)
KIND_VAR: Final = Variable(
    name="kind",
    label="Feed",
    query=f"label_values({rec.EVENTS_SUM}, kind)",
    multi=True,
    include_all=True,
    all_value=".*",
)


def _hide(*columns: str, rename: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "id": "organize",
        "options": {
            "excludeByName": {c: True for c in ("Time", *columns)},
            "renameByName": rename or {},
        },
    }


def _province_links() -> list[dict[str, Any]]:
    """Table cells of the `province` column open that province's drill-down."""
    return [
        {
            "matcher": {"id": "byName", "options": "province_name"},
            "properties": [
                {
                    "id": "links",
                    "value": [
                        dashboard_link(
                            "Open ${__data.fields.province_name}",
                            alerts.DASH_PROVINCE,
                            "&var-province=${__data.fields.province}",
                        )
                    ],
                }
            ],
        }
    ]


# --- rows: national overview --------------------------------------------------------------


def now_row(th: Thresholds) -> Row:
    return Row(
        "Now",
        [
            Panel(
                "Accepted events / s",
                "stat",
                [Query(f"sum({rec.EVENTS_RATE_BY_KIND})")],
                width=4,
                height=4,
                unit="ops",
                description="Distinct valid events counted, all feeds, 5-minute rate.",
            ),
            Panel(
                "Open stalls",
                "stat",
                [Query(f"sum({rec.STALLS_OPEN}) or vector(0)")],
                width=4,
                height=4,
                thresholds=GREEN_RED,
                links=[dashboard_link("Open stalls", alerts.DASH_STALLS)],
            ),
            Panel(
                "Rejected",
                "stat",
                [Query(f"sum({rec.reject_ratio_name(th)})")],
                width=4,
                height=4,
                unit="percentunit",
                decimals=2,
                thresholds=(Threshold(None, "green"), Threshold(th.rejects.ratio, "red")),
                description="Share of the messages applied that were rejected.",
            ),
            Panel(
                "Workers up",
                "stat",
                [Query(f'sum(up{{job="{alerts.WORKER_JOB}"}})')],
                width=4,
                height=4,
                thresholds=(Threshold(None, "red"), Threshold(1, "green")),
            ),
            Panel(
                "Consumer lag",
                "stat",
                [Query(f"sum({rec.LAG_TOTAL})")],
                width=4,
                height=4,
                unit="short",
                thresholds=(Threshold(None, "green"), Threshold(th.pipeline.lag_messages, "red")),
            ),
            Panel(
                "Oldest feed",
                "stat",
                [Query(f"max({rec.FEED_AGE})")],
                width=4,
                height=4,
                unit="s",
                description="Age of the newest event of the most silent feed.",
                links=[dashboard_link("Feed health", alerts.DASH_PIPELINE)],
            ),
        ],
    )


def national_activity_row(th: Thresholds) -> Row:
    return Row(
        "National activity",
        [
            Panel(
                "Events / s by feed",
                "timeseries",
                [Query(f'{rec.EVENTS_RATE_BY_KIND}{{kind=~"$kind"}}', legend="{{kind}}")],
                width=12,
                unit="ops",
            ),
            Panel(
                "Events / s by province",
                "timeseries",
                [
                    Query(
                        f'sum by (province) ({rec.EVENTS_RATE}{{kind=~"$kind"}}) * {_NAMES}',
                        legend="{{province_name}}",
                    )
                ],
                width=12,
                unit="ops",
                stack=True,
            ),
        ],
    )


def provinces_table_row(th: Thresholds) -> Row:
    queries = [
        Query(
            f'sum by (province) (increase({rec.EVENTS_SUM}{{kind="{kind}"}}[1d])) * {_NAMES}',
            instant=True,
            table=True,
        )
        for kind in KINDS
    ]
    rename = {
        f"Value #{chr(ord('A') + i)}": f"{KIND_LABELS[k]} (24 h)" for i, k in enumerate(KINDS)
    }
    return Row(
        "Provinces",
        [
            Panel(
                "Events in the last 24 h, by province (click a name to drill down)",
                "table",
                queries,
                width=24,
                height=14,
                decimals=0,
                transformations=[
                    {"id": "merge", "options": {}},
                    _hide(rename=rename),
                ],
                overrides=_province_links(),
                options={"sortBy": [{"displayName": rename["Value #B"], "desc": True}]},
            )
        ],
    )


# --- rows: province drill-down ---------------------------------------------------------------


def province_now_row(th: Thresholds) -> Row:
    p = 'province="$province"'
    return Row(
        "${province:text}",
        [
            Panel(
                "Events / s",
                "stat",
                [Query(f'sum({rec.EVENTS_RATE}{{{p}, kind=~"$kind"}})')],
                width=6,
                height=4,
                unit="ops",
            ),
            Panel(
                "Communes with no event in 24 h",
                "stat",
                [
                    Query(
                        f"count(sum by (ward) ({rec.WARD_INFO}{{{p}}})"
                        f" unless on (ward) sum by (ward) (increase({rec.WARD_EVENTS_SUM}"
                        f'{{{p}, kind=~"$kind"}}[1d]) > 0)) or vector(0)'
                    )
                ],
                width=6,
                height=4,
                description="Of the province's communes, how many sent no event of the "
                "selected feeds in 24 h (small communes can be quiet: noise, not a stall).",
            ),
            Panel(
                "Open stalls",
                "stat",
                [Query(f"sum({rec.STALLED}{{{p}}}) or vector(0)")],
                width=6,
                height=4,
                thresholds=GREEN_RED,
            ),
            Panel(
                "Events with no commune",
                "stat",
                [
                    Query(
                        f'sum(increase({rec.WARD_EVENTS_SUM}{{{p}, ward="", kind=~"$kind"}}[1d]))'
                        f' / sum(increase({rec.WARD_EVENTS_SUM}{{{p}, kind=~"$kind"}}[1d]))'
                    )
                ],
                width=6,
                height=4,
                unit="percentunit",
                decimals=1,
                description="Share of the last 24 h's events whose source knew only the "
                "province (a data-quality KPI of its own).",
            ),
        ],
    )


def province_activity_row(th: Thresholds) -> Row:
    return Row(
        "Activity",
        [
            Panel(
                "Events / s by feed",
                "timeseries",
                [
                    Query(
                        f'{rec.EVENTS_RATE}{{province="$province", kind=~"$kind"}}',
                        legend="{{kind}}",
                    )
                ],
                width=24,
                unit="ops",
            )
        ],
    )


def communes_row(th: Thresholds) -> Row:
    p = 'province="$province"'
    events = f'sum by (province, ward) (increase({rec.WARD_EVENTS_SUM}{{{p}, kind=~"$kind"}}[1d]))'
    every_commune = f"sum by (province, ward) ({rec.WARD_INFO}{{{p}}}) * 0"
    return Row(
        "Communes",
        [
            Panel(
                "Events in the last 24 h by commune (quietest first)",
                "table",
                [
                    Query(
                        f"({events} or on (province, ward) {every_commune})\n* {_WARD_NAMES}",
                        instant=True,
                        table=True,
                    )
                ],
                width=12,
                height=16,
                decimals=0,
                transformations=[
                    _hide("province", rename={"ward_name": "commune", "Value": "events (24 h)"})
                ],
                options={"sortBy": [{"displayName": "events (24 h)", "desc": False}]},
            ),
            Panel(
                "Events / h, 20 busiest communes",
                "bargauge",
                [
                    Query(
                        f"topk(20, sum by (province, ward) ({rec.WARD_EVENTS_RATE}"
                        f'{{{p}, kind=~"$kind"}}) * 3600) * {_WARD_NAMES}',
                        legend="{{ward_name}}",
                        instant=True,
                    )
                ],
                width=12,
                height=16,
                unit="short",
            ),
        ],
    )


def stalls_table(filter_: str, width: int = 24) -> Panel:
    base = f"{rec.STALLED}{{{filter_}}}" if filter_ else rec.STALLED
    return Panel(
        "Open stalls",
        "table",
        [
            Query(
                f"(({base} == 1) * {_NAMES})\n"
                f"* on (province, ward) group_left (ward_name) "
                f"({rec.WARD_INFO} or on (province, ward) "
                f'label_replace({rec.PROVINCE_INFO}, "ward_name", "(whole province)", "", ""))',
                instant=True,
                table=True,
            )
        ],
        width=width,
        height=12,
        transformations=[_hide("Value", rename={"ward_name": "commune"})],
        overrides=_province_links(),
        description="civicpulse_stalled == 1: the detector holds a stall open (ward empty: "
        "the whole province).",
    )


def province_stalls_row(th: Thresholds) -> Row:
    return Row("Stalls in the province", [stalls_table('province="$province"')])


# --- rows: open stalls board -------------------------------------------------------------------


def stalls_now_row(th: Thresholds) -> Row:
    return Row(
        "Open stalls",
        [
            *(
                Panel(
                    KIND_LABELS[kind],
                    "stat",
                    [Query(f'sum({rec.STALLS_OPEN}{{kind="{kind}"}}) or vector(0)')],
                    width=6,
                    height=4,
                    thresholds=GREEN_RED,
                )
                for kind in KINDS
            ),
            stalls_table(""),
        ],
    )


def stalls_history_row(th: Thresholds) -> Row:
    return Row(
        "Over time",
        [
            Panel(
                "Open stalls by feed",
                "timeseries",
                [Query(rec.STALLS_OPEN, legend="{{kind}}")],
                width=12,
                stack=True,
            ),
            Panel(
                "Open stalls by province",
                "bargauge",
                [
                    Query(
                        f"sum by (province) ({rec.STALLED}) * {_NAMES} > 0",
                        legend="{{province_name}}",
                        instant=True,
                    )
                ],
                width=12,
            ),
        ],
    )


# --- rows: feed and pipeline health --------------------------------------------------------


def feeds_row(th: Thresholds) -> Row:
    stats = []
    for kind in KINDS:
        limit = parse_duration(th.feed(kind).silent_after)
        stats.append(
            Panel(
                f"{KIND_LABELS[kind]}: newest event",
                "stat",
                [Query(f'{rec.FEED_AGE}{{kind="{kind}"}}')],
                width=6,
                height=4,
                unit="s",
                thresholds=(
                    Threshold(None, "green"),
                    Threshold(limit // 2, "yellow"),
                    Threshold(limit, "red"),
                ),
                description=f"Age of the newest {kind} event; the alert threshold is "
                f"{th.feed(kind).silent_after}"
                + (" (office hours only)" if th.feed(kind).office_hours_only else "")
                + ".",
            )
        )
    return Row(
        "Feeds",
        [
            *stats,
            Panel(
                "Age of the newest event, by feed and source",
                "timeseries",
                [Query(rec.FEED_AGE_BY_SOURCE, legend="{{kind}} / {{source}}")],
                width=24,
                unit="s",
            ),
        ],
    )


def workers_row(th: Thresholds) -> Row:
    return Row(
        "Workers",
        [
            Panel(
                "Targets up",
                "timeseries",
                [Query(f'up{{job="{alerts.WORKER_JOB}"}}', legend="{{instance}}")],
                width=8,
                min=0,
                max=1,
            ),
            Panel(
                "Messages / s",
                "timeseries",
                [
                    Query(rec.INGEST_RATE, legend="ingested"),
                    Query(rec.PROCESSED_RATE, legend="{{outcome}}"),
                ],
                width=8,
                unit="ops",
            ),
            Panel(
                "Consumer lag by topic",
                "timeseries",
                [Query(rec.LAG_BY_TOPIC, legend="{{topic}}")],
                width=8,
                unit="short",
            ),
            *(
                Panel(
                    f"{stage.capitalize()} batch duration",
                    "timeseries",
                    [
                        Query(
                            f"histogram_quantile({q}, sum by (le) (rate("
                            f"civicpulse_{stage}_batch_duration_seconds_bucket[$__rate_interval])))",
                            legend=f"p{int(q * 100)}",
                        )
                        for q in (0.5, 0.99)
                    ],
                    width=8,
                    unit="s",
                )
                for stage in ("ingest", "aggregate")
            ),
            Panel(
                "Dead letters sent / s",
                "timeseries",
                [Query("sum(rate(civicpulse_deadletters_sent_total[$__rate_interval]))")],
                width=8,
                unit="ops",
            ),
        ],
    )


def data_quality_row(th: Thresholds) -> Row:
    return Row(
        "Data quality",
        [
            Panel(
                "Rejected share",
                "timeseries",
                [Query(rec.reject_ratio_name(th), legend="rejected")],
                width=8,
                unit="percentunit",
                thresholds=(Threshold(None, "green"), Threshold(th.rejects.ratio, "red")),
            ),
            Panel(
                "Rejected / s by reason",
                "timeseries",
                [Query(f"{rec.REJECTED_RATE} > 0", legend="{{reason}}")],
                width=8,
                unit="ops",
                stack=True,
            ),
            Panel(
                "Duplicates and late events / s",
                "timeseries",
                [
                    Query(rec.DUPLICATE_RATE, legend="duplicate {{kind}}"),
                    Query(rec.LATE_RATE, legend="late {{kind}}"),
                ],
                width=8,
                unit="ops",
            ),
        ],
    )


# --- the dashboards ---------------------------------------------------------------------------

RowFn = Callable[[Thresholds], Row]

DASHBOARDS: Final[dict[str, tuple[str, str, list[RowFn], list[Variable]]]] = {
    alerts.DASH_OVERVIEW: (
        "CivicPulse · National overview",
        "Digital-citizen programme activity by feed and province.",
        [now_row, national_activity_row, provinces_table_row],
        [KIND_VAR],
    ),
    alerts.DASH_PROVINCE: (
        "CivicPulse · Province",
        "One province, down to its communes (pick it in the Province variable).",
        [province_now_row, province_activity_row, communes_row, province_stalls_row],
        [PROVINCE_VAR, KIND_VAR],
    ),
    alerts.DASH_STALLS: (
        "CivicPulse · Open stalls",
        "Every stall the detector holds open, with its commune and province.",
        [stalls_now_row, stalls_history_row],
        [],
    ),
    alerts.DASH_PIPELINE: (
        "CivicPulse · Feed and pipeline health",
        "Are the feeds flowing, and is the monitor itself keeping up?",
        [feeds_row, workers_row, data_quality_row],
        [],
    ),
}


def dashboards(th: Thresholds) -> dict[str, dict[str, Any]]:
    """Dashboard JSON by uid."""
    out = {}
    for uid, (title, description, rows, variables) in DASHBOARDS.items():
        out[uid] = Dashboard(
            uid=uid,
            title=title,
            description=description,
            rows=[row(th) for row in rows],
            variables=variables,
        ).render()
    return out
