"""The alert rules, as data built from the thresholds.

One `AlertSpec` is one Prometheus alerting rule; the same list also yields the Grafana-managed
rules (`civicpulse.monitoring.grafana.provisioning`) and the runbook anchors of
``docs/operations.md``. Expressions read the worker's own metrics directly (no recording rule in
between), so that an alert does not depend on another rule group being healthy.

Annotations are Prometheus templates (``{{ $labels.x }}``, ``{{ $value }}``). Every alert has
``summary``, ``description``, ``runbook_url`` (``docs/operations.md#<alertname lower-cased>``)
and ``dashboard_url``, and the labels ``severity`` (warning|critical) and ``component``
(stall|feed|pipeline|data_quality), on which Alertmanager routes and inhibits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from civicpulse.monitoring.durations import human_duration, parse_duration
from civicpulse.monitoring.exceptions import ThresholdsError
from civicpulse.monitoring.promql import regex_alternatives, selector
from civicpulse.monitoring.thresholds import Feed, Severity, StallOverride, Thresholds

Component = Literal["stall", "feed", "pipeline", "data_quality"]

WORKER_JOB: Final = "civicpulse-worker"

# Alert names: Alertmanager inhibition and the docs' anchors refer to them.
COMMUNE_STALL: Final = "CivicPulseCommuneStall"
PROVINCE_STALL: Final = "CivicPulseProvinceStall"
FEED_SILENT: Final = "CivicPulseFeedSilent"
FEED_OUTAGE: Final = "CivicPulseFeedOutage"
WORKER_DOWN: Final = "CivicPulseWorkerDown"
WORKER_ABSENT: Final = "CivicPulseWorkerAbsent"
PIPELINE_STUCK: Final = "CivicPulsePipelineStuck"
LAG_GROWING: Final = "CivicPulseConsumerLagGrowing"
REJECT_SPIKE: Final = "CivicPulseRejectSpike"

# Alerts that mean "a feed is out": they silence the stall alerts of its kind.
FEED_PROBLEMS: Final = (FEED_SILENT, FEED_OUTAGE)
# Alerts that mean "the monitor itself is blind": they silence stall and feed alerts.
PIPELINE_FAILURES: Final = (WORKER_DOWN, WORKER_ABSENT, PIPELINE_STUCK)

# Dashboards (uids) the alerts link to: see civicpulse.monitoring.grafana.dashboards.
DASH_OVERVIEW: Final = "civicpulse-overview"
DASH_PROVINCE: Final = "civicpulse-province"
DASH_STALLS: Final = "civicpulse-stalls"
DASH_PIPELINE: Final = "civicpulse-pipeline"


@dataclass(frozen=True)
class AlertSpec:
    """One alerting rule. `expr` returns a series exactly for what is wrong now."""

    name: str
    group: str
    expr: str
    for_: str
    severity: Severity
    component: Component
    summary: str
    description: str
    dashboard: str
    dashboard_query: str = ""  # appended to the dashboard link (``?var-province=...``)
    # How Grafana's threshold step reads the query's value ("gt", 0): every series the query
    # returns is firing, so the condition only has to hold for the values it can return.
    grafana_condition: tuple[Literal["gt", "lt"], float] = ("gt", 0.0)
    variant: str = ""  # distinguishes rules sharing one alert name (a kind, a locality)
    extra_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def anchor(self) -> str:
        """The runbook section: GitHub's slug of a ``### <name>`` heading."""
        return self.name.lower()

    @property
    def uid(self) -> str:
        """Stable id (Grafana rule uid, at most 40 characters)."""
        base = self.name.removeprefix("CivicPulse").lower()
        return f"cp-{base}{'-' + self.variant if self.variant else ''}"[:40]

    def labels(self) -> dict[str, str]:
        return {"severity": self.severity, "component": self.component, **self.extra_labels}

    def annotations(self, thresholds: Thresholds) -> dict[str, str]:
        links = thresholds.links
        return {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": f"{links.runbook}#{self.anchor}",
            "dashboard_url": f"{links.grafana.rstrip('/')}/d/{self.dashboard}"
            + self.dashboard_query,
        }


def alert_specs(th: Thresholds) -> list[AlertSpec]:
    """Every alert, in rule-file order."""
    return [*stall_alerts(th), *feed_alerts(th), *pipeline_alerts(th), *data_quality_alerts(th)]


# --- stalls ---------------------------------------------------------------------------------

_STALLED: Final = "civicpulse_stalled"
_WARD_NAMES: Final = "max by (province, ward, ward_name) (civicpulse_ward_info)"
_PROVINCE_NAMES: Final = "max by (province, province_name) (civicpulse_locality_info)"


def _commune_stall_expr(matchers: Mapping[str, str]) -> str:
    open_ = f"max by (kind, province, ward) ({selector(_STALLED, **matchers)}) == 1"
    # Names joined from the info metrics (max: every worker exports them); `or on (...)` keeps
    # a stall whose codes have no name rather than dropping it.
    return (
        f"(\n  ({open_})\n"
        f"  * on (province, ward) group_left (ward_name) {_WARD_NAMES}\n"
        f"  * on (province) group_left (province_name) {_PROVINCE_NAMES}\n"
        f")\nor on (kind, province, ward)\n({open_})"
    )


def _province_stall_expr(matchers: Mapping[str, str]) -> str:
    open_ = f"max by (kind, province, ward) ({selector(_STALLED, **matchers)}) == 1"
    return (
        f"(\n  ({open_})\n"
        f"  * on (province) group_left (province_name) {_PROVINCE_NAMES}\n"
        f")\nor on (kind, province, ward)\n({open_})"
    )


_COMMUNE_SUMMARY: Final = (
    "Stall of {{ $labels.kind }} in {{ with $labels.ward_name }}{{ . }}{{ else }}commune "
    "{{ $labels.ward }}{{ end }}, {{ with $labels.province_name }}{{ . }}{{ else }}province "
    "{{ $labels.province }}{{ end }}"
)
_COMMUNE_DESCRIPTION: Final = (
    "{{ $labels.kind }} has stopped progressing in commune {{ $labels.ward_name }} "
    "({{ $labels.ward }}) of {{ $labels.province_name }} ({{ $labels.province }}): the "
    "detector holds a stall open (civicpulse_stalled == 1). Look at the commune on the "
    "province dashboard, rule out the calendar, then hand it to the province's community "
    "digital technology team."
)
_PROVINCE_SUMMARY: Final = (
    "Province-wide stall of {{ $labels.kind }} in {{ with $labels.province_name }}{{ . }}"
    "{{ else }}province {{ $labels.province }}{{ end }}"
)
_PROVINCE_DESCRIPTION: Final = (
    "{{ $labels.kind }} has stopped progressing across {{ $labels.province_name }} "
    "({{ $labels.province }}), not in one commune only: the detector holds a province-wide "
    'stall open (civicpulse_stalled == 1, ward=""). A whole province going quiet is often a '
    "provincial system or a local event: check the province dashboard and the feed health "
    "first."
)


def stall_alerts(th: Thresholds) -> list[AlertSpec]:
    """One rule per stall level and threshold: the default, then each locality override,
    each rule excluding the localities a more specific rule covers."""
    out: list[AlertSpec] = []
    overrides = th.stalls.overrides
    province_overrides = [o for o in overrides if o.ward is None]
    ward_overrides = [o for o in overrides if o.ward is not None]

    def spec(
        name: str, matchers: dict[str, str], level_for: str, severity: Severity, variant: str
    ) -> AlertSpec:
        commune = name == COMMUNE_STALL
        return AlertSpec(
            name=name,
            group="civicpulse-stalls",
            expr=(_commune_stall_expr if commune else _province_stall_expr)(matchers),
            for_=level_for,
            severity=severity,
            component="stall",
            summary=_COMMUNE_SUMMARY if commune else _PROVINCE_SUMMARY,
            description=_COMMUNE_DESCRIPTION if commune else _PROVINCE_DESCRIPTION,
            dashboard=DASH_PROVINCE,
            dashboard_query="?var-province={{ $labels.province }}",
            variant=variant,
            # Which threshold applies (also keeps rules of one name distinct for promtool lint).
            extra_labels={"threshold": _threshold_label(variant)},
        )

    def resolved(o: StallOverride, level_for: str, severity: Severity) -> tuple[str, Severity]:
        return o.for_ or level_for, o.severity or severity

    # Communes: the default rule, then each override, each excluding what is more specific.
    level = th.stalls.commune
    default = {"ward": _not_empty(o.ward or "" for o in ward_overrides)}
    if province_overrides:
        default["province"] = "!~" + regex_alternatives(o.province for o in province_overrides)
    out.append(spec(COMMUNE_STALL, default, level.for_, level.severity, ""))
    for o in province_overrides:
        inside = (w.ward or "" for w in ward_overrides if w.province == o.province)
        matchers = {"province": o.province, "ward": _not_empty(inside)}
        for_, sev = resolved(o, level.for_, level.severity)
        out.append(spec(COMMUNE_STALL, matchers, for_, sev, f"p{o.province}"))
    for o in ward_overrides:
        parent = next((p for p in province_overrides if p.province == o.province), None)
        base = resolved(parent, level.for_, level.severity) if parent else None
        for_, sev = resolved(o, *(base or (level.for_, level.severity)))
        matchers = {"province": o.province, "ward": o.ward or ""}
        out.append(spec(COMMUNE_STALL, matchers, for_, sev, f"w{o.ward}"))

    # Provinces (ward=""): a province override applies to the province-wide stall too.
    level = th.stalls.province
    matchers = {"ward": ""}
    if province_overrides:
        matchers["province"] = "!~" + regex_alternatives(o.province for o in province_overrides)
    out.append(spec(PROVINCE_STALL, matchers, level.for_, level.severity, ""))
    for o in province_overrides:
        for_, sev = resolved(o, level.for_, level.severity)
        out.append(
            spec(PROVINCE_STALL, {"province": o.province, "ward": ""}, for_, sev, f"p{o.province}")
        )
    return out


def _threshold_label(variant: str) -> str:
    if variant.startswith("p"):
        return f"province-{variant[1:]}"
    if variant.startswith("w"):
        return f"commune-{variant[1:]}"
    return "default"


def _not_empty(excluded: Iterable[str]) -> str:
    """A ward matcher for "a commune, but none of `excluded`" (`!~"|a|b"` also drops "")."""
    wards = list(excluded)
    return "!~" + regex_alternatives(["", *wards]) if wards else "!="


# --- feeds ----------------------------------------------------------------------------------


def office_window(th: Thresholds, feed: Feed) -> str:
    """PromQL that returns one series while an office-hours feed can be judged silent: on an
    office day, from opening + silent_after until closing (local time)."""
    cal = th.calendar
    start, end = cal.office_hours.minutes()
    first = start + parse_duration(feed.silent_after) // 60
    if first >= end:
        raise ThresholdsError(
            f"silent_after {feed.silent_after} never fits in office hours "
            f"{cal.office_hours.start}-{cal.office_hours.end}"
        )
    local = f"vector(time() + {cal.utc_offset_hours * 3600})"
    minute_of_day = f"(hour({local}) * 60 + minute({local}))"
    days = _runs(cal.office_hours.weekday_numbers())
    day_terms = [
        f"day_of_week({local}) == {a}" if a == b else
        f"(day_of_week({local}) >= {a} and day_of_week({local}) <= {b})"
        for a, b in days
    ]  # fmt: skip
    day_expr = day_terms[0] if len(day_terms) == 1 else "(" + " or ".join(day_terms) + ")"
    return f"{minute_of_day} >= {first}\nand {minute_of_day} < {end}\nand {day_expr}"


def _runs(days: tuple[int, ...]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for d in days:
        if runs and runs[-1][1] == d - 1:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


def feed_alerts(th: Thresholds) -> list[AlertSpec]:
    out = []
    for kind, feed in th.feeds.items():
        seconds = parse_duration(feed.silent_after)
        age = (
            "time() - max by (kind) "
            f"({selector('civicpulse_feed_last_event_timestamp_seconds', kind=kind)})"
        )
        expr = f"{age} > {seconds}"
        when = ""
        if feed.office_hours_only:
            oh = th.calendar.office_hours
            expr = f"{expr}\nand on ()\n(\n{_indent(office_window(th, feed))}\n)"
            when = (
                f" Judged in office hours only ({', '.join(d[:3] for d in oh.weekdays)} "
                f"{oh.start}-{oh.end} local time): nights, weekends and the first "
                f"{human_duration(seconds)} of a day are not silence."
            )
        out.append(
            AlertSpec(
                name=FEED_SILENT,
                group="civicpulse-feeds",
                expr=expr,
                for_=feed.for_,
                severity=feed.severity,
                component="feed",
                summary="Feed {{ $labels.kind }} silent for {{ $value | humanizeDuration }}",
                description=(
                    "No {{ $labels.kind }} event newer than {{ $value | humanizeDuration }} "
                    f"(threshold {human_duration(seconds)}) from any source or worker. A feed "
                    "silent everywhere at once is a broken pipe (an outage), not a stall: "
                    "stall alerts of this kind are inhibited while it lasts." + when
                ),
                dashboard=DASH_PIPELINE,
                variant=kind.replace(".", "-"),
                extra_labels={"kind": kind},
            )
        )
    out.append(
        AlertSpec(
            name=FEED_OUTAGE,
            group="civicpulse-feeds",
            expr="max by (kind, source) (civicpulse_feed_outage) == 1",
            for_="0m",
            severity="critical",
            component="feed",
            summary="Feed {{ $labels.kind }} from {{ $labels.source }} out (detector)",
            description=(
                "The stall detector judges the {{ $labels.kind }} feed from "
                "{{ $labels.source }} out, in event time: far fewer events than its seasonal "
                "expectation across the whole country at once while other feeds keep time "
                "moving. It also fires in a replay of history, where wall-clock silence "
                "(CivicPulseFeedSilent) cannot. Stall alerts of this kind are inhibited while "
                "it lasts; the alert itself is in civic.alerts (signal feed_outage)."
            ),
            dashboard=DASH_PIPELINE,
        )
    )
    return out


def _indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in text.splitlines())


# --- pipeline -------------------------------------------------------------------------------


def pipeline_alerts(th: Thresholds) -> list[AlertSpec]:
    up = selector("up", job=WORKER_JOB)
    stuck = parse_duration(th.pipeline.stuck_for)
    lag_window = th.pipeline.lag_window
    rate_window = th.pipeline.stuck_for
    return [
        AlertSpec(
            name=WORKER_DOWN,
            group="civicpulse-pipeline",
            expr=f"{up} == 0",
            for_=th.worker.down_for,
            severity="critical",
            component="pipeline",
            summary="CivicPulse worker {{ $labels.instance }} is down",
            description=(
                "Prometheus cannot scrape the worker at {{ $labels.instance }} (up == 0 for "
                f"{human_duration(parse_duration(th.worker.down_for))}). Its partitions are "
                "not counted: stall and feed alerts are inhibited until it is back."
            ),
            dashboard=DASH_PIPELINE,
            grafana_condition=("lt", 1.0),
        ),
        AlertSpec(
            name=WORKER_ABSENT,
            group="civicpulse-pipeline",
            expr=f"absent({up})",
            for_=th.worker.absent_for,
            severity="critical",
            component="pipeline",
            summary="No CivicPulse worker target is scraped",
            description=(
                f'Prometheus has no target in job "{WORKER_JOB}" (check prometheus.yml and '
                "the file_sd target files): nothing is monitored. Stall and feed alerts are "
                "inhibited."
            ),
            dashboard=DASH_PIPELINE,
        ),
        AlertSpec(
            name=PIPELINE_STUCK,
            group="civicpulse-pipeline",
            expr=(
                "sum by (instance) (civicpulse_consumer_lag_messages) > 0\n"
                "and on (instance)\n"
                "(\n"
                f"  sum by (instance) (rate(civicpulse_messages_processed_total[{rate_window}]))\n"
                "  or on (instance) sum by (instance) (civicpulse_consumer_lag_messages) * 0\n"
                ") == 0"
            ),
            for_=th.pipeline.stuck_for,
            severity="critical",
            component="pipeline",
            summary="CivicPulse worker {{ $labels.instance }} is not progressing",
            description=(
                "{{ $value | humanize }} source messages wait on {{ $labels.instance }} and it "
                f"applied none in {human_duration(stuck)}: the worker is alive but its "
                "pipeline is stuck (Kafka, rebalance, the aggregate stage). Stall and feed "
                "alerts are inhibited."
            ),
            dashboard=DASH_PIPELINE,
        ),
        AlertSpec(
            name=LAG_GROWING,
            group="civicpulse-pipeline",
            expr=(
                f"sum(civicpulse_consumer_lag_messages) > {th.pipeline.lag_messages}\n"
                "and on ()\n"
                f"deriv(sum(civicpulse_consumer_lag_messages)[{lag_window}:1m]) > 0"
            ),
            for_=th.pipeline.lag_for,
            severity="warning",
            component="pipeline",
            summary="CivicPulse consumer lag is {{ $value | humanize }} messages and growing",
            description=(
                "Source messages not yet reflected in state exceed "
                f"{th.pipeline.lag_messages:,} and kept growing over {lag_window}: the workers "
                "do not keep up (a burst, a slow worker, too few partitions or workers). Counts "
                "and feed times lag behind; feed silence alerts may follow."
            ),
            dashboard=DASH_PIPELINE,
        ),
    ]


# --- data quality ---------------------------------------------------------------------------


def data_quality_alerts(th: Thresholds) -> list[AlertSpec]:
    r = th.rejects
    window = r.window
    processed = "civicpulse_messages_processed_total"
    applied = f'sum(rate({processed}{{outcome!="skipped"}}[{window}]))'
    return [
        AlertSpec(
            name=REJECT_SPIKE,
            group="civicpulse-data-quality",
            expr=(
                f'sum(rate({processed}{{outcome="rejected"}}[{window}]))\n'
                f"/ {applied} > {r.ratio}\n"
                f"and on ()\n{applied} > {r.min_rate}"
            ),
            for_=r.for_,
            severity=r.severity,
            component="data_quality",
            summary="{{ $value | humanizePercentage }} of incoming events are rejected",
            description=(
                "Over the last "
                f"{human_duration(parse_duration(window))}, {{{{ $value | humanizePercentage }}}}"
                f" of the messages applied were rejected (threshold {r.ratio:.0%}). A producer "
                "sends events that break the contract: see the reasons on the pipeline "
                "dashboard and the records in civic.deadletter."
            ),
            dashboard=DASH_PIPELINE,
        )
    ]
