"""KPIs from aggregation state: values, windows in event time, over-100 % kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from schemas.topics import KIND_BY_TOPIC, TOPIC_BY_KIND
from streams.core import kpis, packing
from streams.core.aggregator import Aggregator
from tests.factories import HAC_THANH, QUANG_PHU, THANH_HOA, event_bytes

NOW = datetime.fromisoformat("2025-06-01T00:00:00+07:00").timestamp()


@dataclass(frozen=True)
class Fig:
    province: str
    population: int = 10_000
    eligible_16plus: int = 8_000
    eid_l2_baseline: int = 4_000
    target_eid_l2_coverage: float = 0.9
    target_pension_cashless: float = 0.5
    target_welfare_cashless: float = 0.9
    target_service_online: float = 0.7


PROVINCES = {THANH_HOA: Fig(THANH_HOA, population=100_000, eligible_16plus=80_000)}
COMMUNES = {HAC_THANH: Fig(THANH_HOA), QUANG_PHU: Fig(THANH_HOA, eligible_16plus=10)}


def apply(agg: Aggregator, kind: str, lines: list[bytes], first: int = 0) -> None:
    topic = TOPIC_BY_KIND[kind]
    records = list(enumerate(lines, start=first))
    agg.apply(packing.pack(topic, 0, kind, records, NOW))


def day(d: int, hour: int = 9) -> str:
    return f"2025-03-{d:02d}T{hour:02d}:00:00+07:00"


def test_shares_coverage_and_qr_rate() -> None:
    agg = Aggregator(dict(KIND_BY_TOPIC))
    welfare = [
        *(
            event_bytes("welfare.disbursement", program="pension", channel="bank_account")
            for _ in range(3)
        ),
        event_bytes("welfare.disbursement", program="pension", channel="cash"),
        *(
            event_bytes(
                "welfare.disbursement",
                program="social_allowance",
                channel="bank_account",
                ward_code=None,
            )
            for _ in range(9)
        ),
        event_bytes("welfare.disbursement", program="social_allowance", channel="cash"),
    ]
    apply(agg, "welfare.disbursement", welfare)
    services = [event_bytes("service.payment", channel="online") for _ in range(6)]
    services += [event_bytes("service.payment", channel="counter", ward_code=QUANG_PHU)] * 1
    services += [event_bytes("service.payment", channel="counter")]
    apply(agg, "service.payment", services)
    ids = [event_bytes(level=2) for _ in range(100)] + [event_bytes(level=1) for _ in range(7)]
    ids += [event_bytes(level=2, ward_code=QUANG_PHU) for _ in range(20)]
    apply(agg, "identity.activation", ids)
    qr = [event_bytes("payment.qr", occurred_at=day(d)) for d in (13, 14) for _ in range(50)]
    apply(agg, "payment.qr", qr)

    snap = kpis.compute(agg, PROVINCES, COMMUNES)
    p = snap.province
    assert p[(kpis.PENSION_CASHLESS, THANH_HOA)] == pytest.approx(3 / 4)
    assert p[(kpis.WELFARE_CASHLESS, THANH_HOA)] == pytest.approx(9 / 10)
    assert p[(kpis.SERVICE_ONLINE, THANH_HOA)] == pytest.approx(6 / 8)
    assert p[(kpis.EID_L2_COVERAGE, THANH_HOA)] == pytest.approx(
        (80_000 * 0 + 4_000 + 120) / 80_000
    )
    # 9 social-allowance payments and nothing else lacked a commune, of all events in the window.
    total = len(welfare) + len(services) + len(ids) + len(qr)
    assert p[(kpis.NO_COMMUNE, THANH_HOA)] == pytest.approx(9 / total)

    w = snap.ward
    assert w[(kpis.EID_L2_COVERAGE, THANH_HOA, HAC_THANH)] == pytest.approx((4_000 + 100) / 8_000)
    # Over 100 %: shown as it is, never clipped.
    assert w[(kpis.EID_L2_COVERAGE, THANH_HOA, QUANG_PHU)] == pytest.approx((4_000 + 20) / 10)
    assert w[(kpis.SERVICE_ONLINE, THANH_HOA, QUANG_PHU)] == 0.0
    assert snap.targets[(kpis.SERVICE_ONLINE, THANH_HOA)] == 0.7

    # The window's elapsed event time: from 2025-03-13 00:00 to the newest event (03-14 09:00).
    elapsed = (datetime.fromisoformat(day(14)) - datetime.fromisoformat(day(13, 0))).total_seconds()
    assert snap.window_days == pytest.approx(elapsed / 86400)
    assert snap.qr_per_1000_day[THANH_HOA] == pytest.approx(100 * 1000 / 100_000 / snap.window_days)


def test_share_window_is_thirty_days_of_event_time() -> None:
    agg = Aggregator(dict(KIND_BY_TOPIC))
    old = [event_bytes("service.payment", channel="counter", occurred_at=day(1)) for _ in range(5)]
    new = [
        event_bytes("service.payment", channel="online", occurred_at="2025-04-05T09:00:00+07:00")
    ]
    apply(agg, "service.payment", old + new)
    snap = kpis.compute(agg, PROVINCES, COMMUNES)
    # 2025-03-01 is more than 30 days before 2025-04-05: only the online payment is in the window.
    assert snap.province[(kpis.SERVICE_ONLINE, THANH_HOA)] == 1.0


def test_no_events_no_kpis() -> None:
    snap = kpis.compute(Aggregator(dict(KIND_BY_TOPIC)), PROVINCES, COMMUNES)
    assert snap.province == {}
    assert snap.ward == {}


def test_collector_exports_kpis_and_flags_over_100_and_caches() -> None:
    from prometheus_client import CollectorRegistry

    from streams.metrics import KpiCollector

    agg = Aggregator(dict(KIND_BY_TOPIC))
    apply(agg, "identity.activation", [event_bytes(level=2, ward_code=QUANG_PHU)])
    clock = [0.0]
    registry = CollectorRegistry()
    registry.register(KpiCollector(agg, PROVINCES, COMMUNES, refresh_s=15, clock=lambda: clock[0]))

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    cov = {"kpi": "eid_l2_coverage", "province": THANH_HOA}
    assert value("civicpulse_kpi_ratio", **cov) == pytest.approx(4_001 / 80_000)
    assert value("civicpulse_kpi_over_100", **cov) == 0.0
    assert value("civicpulse_kpi_wards_over_100", **cov) == 1.0  # Quảng Phú: 4,001 / 10
    assert value("civicpulse_kpi_ward_ratio", **cov, ward=QUANG_PHU) == pytest.approx(400.1)
    assert value("civicpulse_kpi_target_ratio", **cov) == 0.9

    apply(agg, "identity.activation", [event_bytes(level=2)], first=1)
    assert value("civicpulse_kpi_ratio", **cov) == pytest.approx(4_001 / 80_000)  # cached
    clock[0] = 16.0
    assert value("civicpulse_kpi_ratio", **cov) == pytest.approx(4_002 / 80_000)


def test_activations_before_the_baseline_date_are_not_added_twice() -> None:
    as_of_end = datetime.fromisoformat("2025-03-14T00:00:00+07:00").timestamp()
    agg = Aggregator(dict(KIND_BY_TOPIC), baseline_ts=as_of_end)
    apply(
        agg,
        "identity.activation",
        [
            event_bytes(level=2, occurred_at="2025-03-13T10:00:00+07:00"),  # in the baseline
            event_bytes(level=2, occurred_at="2025-03-14T10:00:00+07:00"),
        ],
    )
    snap = kpis.compute(agg, PROVINCES, COMMUNES)
    assert snap.province[(kpis.EID_L2_COVERAGE, THANH_HOA)] == pytest.approx(4_001 / 80_000)
    assert agg.events_by_province() == {("identity.activation", THANH_HOA): 2}
