"""Adoption KPIs per province and commune, from the aggregation state and reference figures.

Pure: reads `Aggregator` views and denominators, returns a snapshot. Windows are in event time:
"trailing 30 days" ends at the newest event seen, not at the wall clock.

- `eid_l2_coverage`: (baseline level-2 accounts + level-2 activations counted since the stream
  began) / population aged 16+. Over 100 % is kept and flagged, never clipped (migration and stale
  denominators make it happen).
- `pension_cashless_share`, `welfare_cashless_share`: bank-account payments / all payments of the
  programme over the window.
- `service_online_share`: online / all service payments over the window.
- `no_commune_share` (province only): events of any kind with no commune / all events, over the
  window: a data-quality KPI.
- QR payments per 1,000 residents per day, over the window's elapsed event-time days.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from streams.core.aggregator import Aggregator
from streams.core.windows import DAY, day_start

EID_L2_COVERAGE = "eid_l2_coverage"
PENSION_CASHLESS = "pension_cashless_share"
WELFARE_CASHLESS = "welfare_cashless_share"
SERVICE_ONLINE = "service_online_share"
NO_COMMUNE = "no_commune_share"
KPIS = (EID_L2_COVERAGE, PENSION_CASHLESS, WELFARE_CASHLESS, SERVICE_ONLINE, NO_COMMUNE)

# share KPI -> (kind, classes counted in the numerator, classes of the denominator)
_SHARES: dict[str, tuple[str, frozenset[str], frozenset[str]]] = {
    PENSION_CASHLESS: (
        "welfare.disbursement",
        frozenset({"pension.bank_account"}),
        frozenset({"pension.bank_account", "pension.cash"}),
    ),
    WELFARE_CASHLESS: (
        "welfare.disbursement",
        frozenset({"social_allowance.bank_account"}),
        frozenset({"social_allowance.bank_account", "social_allowance.cash"}),
    ),
    SERVICE_ONLINE: (
        "service.payment",
        frozenset({"online"}),
        frozenset({"online", "counter"}),
    ),
}
_KINDS = ("identity.activation", "payment.qr", "welfare.disbursement", "service.payment")


class Figures(Protocol):
    """The denominators and targets of one locality (see `reference.LocalityFigures`)."""

    @property
    def province(self) -> str: ...
    @property
    def population(self) -> int: ...
    @property
    def eligible_16plus(self) -> int: ...
    @property
    def eid_l2_baseline(self) -> int: ...
    @property
    def target_eid_l2_coverage(self) -> float: ...
    @property
    def target_pension_cashless(self) -> float: ...
    @property
    def target_welfare_cashless(self) -> float: ...
    @property
    def target_service_online(self) -> float: ...


@dataclass(slots=True)
class KpiSnapshot:
    province: dict[tuple[str, str], float] = field(default_factory=dict)  # (kpi, province)
    ward: dict[tuple[str, str, str], float] = field(default_factory=dict)  # (kpi, prov, ward)
    qr_per_1000_day: dict[str, float] = field(default_factory=dict)  # province
    qr_per_1000_day_ward: dict[tuple[str, str], float] = field(default_factory=dict)
    targets: dict[tuple[str, str], float] = field(default_factory=dict)  # (kpi, province)
    window_days: float = 0.0  # elapsed event-time days the window covers so far


def _target(kpi: str, f: Figures) -> float | None:
    return {
        EID_L2_COVERAGE: f.target_eid_l2_coverage,
        PENSION_CASHLESS: f.target_pension_cashless,
        WELFARE_CASHLESS: f.target_welfare_cashless,
        SERVICE_ONLINE: f.target_service_online,
    }.get(kpi)


def compute(
    agg: Aggregator,
    provinces: Mapping[str, Figures],
    communes: Mapping[str, Figures],
    window_days: int = 30,
) -> KpiSnapshot:
    snap = KpiSnapshot()
    if agg.max_ts <= 0:
        return snap
    since = day_start(agg.max_ts) - (window_days - 1) * DAY
    first = agg.first_day(since)
    elapsed = (agg.max_ts - first) / DAY if first is not None else 0.0
    snap.window_days = elapsed

    for kpi in KPIS:
        for code, f in provinces.items():
            target = _target(kpi, f)
            if target is not None:
                snap.targets[(kpi, code)] = target

    # e-ID level-2 coverage: cumulative, baseline included.
    l2_prov: dict[str, int] = defaultdict(int)
    l2_ward: dict[tuple[str, str], int] = defaultdict(int)
    for (province, ward, cls), n in agg.totals_by_class("identity.activation").items():
        if cls == "l2":
            l2_prov[province] += n
            if ward:
                l2_ward[(province, ward)] += n
    for code, f in provinces.items():
        if f.eligible_16plus > 0:
            snap.province[(EID_L2_COVERAGE, code)] = (f.eid_l2_baseline + l2_prov[code]) / (
                f.eligible_16plus
            )
    for ward, f in communes.items():
        province = f.province
        if f.eligible_16plus > 0:
            snap.ward[(EID_L2_COVERAGE, province, ward)] = (
                f.eid_l2_baseline + l2_ward[(province, ward)]
            ) / f.eligible_16plus

    window = {kind: agg.days_by_class(kind, since) for kind in _KINDS}
    for kpi, (kind, numerator, denominator) in _SHARES.items():
        num_p: dict[str, int] = defaultdict(int)
        den_p: dict[str, int] = defaultdict(int)
        num_w: dict[tuple[str, str], int] = defaultdict(int)
        den_w: dict[tuple[str, str], int] = defaultdict(int)
        for (province, ward, cls), n in window[kind].items():
            if cls in denominator:
                den_p[province] += n
                if ward:
                    den_w[(province, ward)] += n
                if cls in numerator:
                    num_p[province] += n
                    if ward:
                        num_w[(province, ward)] += n
        for province, d in den_p.items():
            snap.province[(kpi, province)] = num_p[province] / d
        for (province, ward), d in den_w.items():
            snap.ward[(kpi, province, ward)] = num_w[(province, ward)] / d

    no_commune: dict[str, int] = defaultdict(int)
    all_events: dict[str, int] = defaultdict(int)
    for counts in window.values():
        for (province, ward, _), n in counts.items():
            all_events[province] += n
            if not ward:
                no_commune[province] += n
    for province, n in all_events.items():
        snap.province[(NO_COMMUNE, province)] = no_commune[province] / n

    if elapsed > 0:
        qr_p: dict[str, int] = defaultdict(int)
        qr_w: dict[tuple[str, str], int] = defaultdict(int)
        for (province, ward, _), n in window["payment.qr"].items():
            qr_p[province] += n
            if ward:
                qr_w[(province, ward)] += n
        for province, n in qr_p.items():
            pf = provinces.get(province)
            if pf is not None and pf.population > 0:
                snap.qr_per_1000_day[province] = n * 1000 / pf.population / elapsed
        for (province, ward), n in qr_w.items():
            cf = communes.get(ward)
            if cf is not None and cf.population > 0:
                snap.qr_per_1000_day_ward[(province, ward)] = n * 1000 / cf.population / elapsed
    return snap
