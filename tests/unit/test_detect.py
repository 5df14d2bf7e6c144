"""The stall detector on small synthetic series: each rule fires, the calendar does not, alerts
close with hysteresis, one feed outage is one alert, and the state survives a round trip."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

import orjson
import pytest

from reference import load_reference
from schemas.localities import all_wards
from streams.detect import Alert, Detector
from streams.detect.alerts import NATIONAL
from streams.detect.calendar import VN_TZ, day_class, day_index
from streams.detect.config import DetectorConfig
from streams.detect.naive import NaiveDetector
from streams.detect.rolls import Rolls
from streams.detect.scoring import TruthEpisode, score

QR, ACT, WELFARE, SERVICE = (
    "payment.qr",
    "identity.activation",
    "welfare.disbursement",
    "service.payment",
)
SOURCE = {QR: "napas", ACT: "vneid", WELFARE: "vss", SERVICE: "dvcqg"}
PROVINCES = ("38", "01", "79", "48")
WARDS = {p: sorted(w for w, q in all_wards().items() if q == p)[:12] for p in PROVINCES}
BIG = WARDS["38"][0]  # the commune the tests stall
SMALL = WARDS["38"][1]
START = datetime(2025, 3, 3, tzinfo=VN_TZ)  # a Monday

FLAT = [1.0] * 24
OFFICE = [0.0] * 7 + [0.6, 1.0, 1.0, 1.0, 0.6, 0.1, 0.5, 1.0, 1.0, 0.8, 0.2] + [0.0] * 6


def ts(day: float, hour: float = 0.0) -> float:
    return (START + timedelta(days=day, hours=hour)).timestamp()


Row = tuple[str, str, float, str]  # province, ward, ts, class


@dataclass
class World:
    """Who sends what: per-commune daily rates, an hour profile, a day factor, and edits."""

    kind: str = QR
    per_day: float = 48.0
    profile: list[float] = field(default_factory=lambda: FLAT)
    day_factor: Callable[[date], float] = lambda _d: 1.0
    # (commune or province or None for all, first ts, last ts) -> multiplier
    edits: list[tuple[str | None, float, float, float]] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)  # per-commune override
    classes: Callable[[str, int], str] = lambda _w, _i: ""
    noise: bool = False
    seed: int = 1
    # (hour end, rows) -> rows: a test's own edit of each hour (which classes, what is lost)
    rewrite: Callable[[float, list[Row]], list[Row]] | None = None

    def events(self, days: float) -> Iterator[tuple[float, list[tuple[str, str, float, str]]]]:
        """Per hour: (hour end, [(province, ward, ts, cls)])."""
        rng = random.Random(self.seed)
        total = sum(self.profile)
        # Deterministic counts: each commune carries its fraction over, from its own phase.
        carry = {w: (i * 0.618) % 1.0 for i, w in enumerate(sorted(all_wards()))}
        for h in range(int(days * 24)):
            t0 = ts(0, h)
            local = datetime.fromtimestamp(t0, VN_TZ)
            weight = self.profile[local.hour] / total * self.day_factor(local.date())
            rows: list[tuple[str, str, float, str]] = []
            for p, wards in WARDS.items():
                for w in wards:
                    lam = self.rates.get(w, self.per_day) * weight
                    for where, a, b, m in self.edits:
                        if a <= t0 < b and where in (None, w, p):
                            lam *= m
                    if self.noise:
                        n = _poisson(rng, lam)
                    else:
                        acc = carry.get(w, 0.0) + lam
                        n = int(acc)
                        carry[w] = acc - n
                    phase = carry.get(w, 0.5) if not self.noise else rng.random()
                    for i in range(n):
                        rows.append((p, w, t0 + (i + phase) * 3600 / n, self.classes(w, i)))
            rows.sort(key=lambda r: r[2])
            if self.rewrite is not None:
                rows = self.rewrite(t0 + 3600, rows)
            yield t0 + 3600, rows


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def run(
    world: World,
    days: float,
    det: Detector | None = None,
    source: Callable[[str], str] | None = None,
) -> tuple[Detector, list[Alert]]:
    """Feed the world to the detector hour by hour; `source` names each class's source."""
    det = det or Detector()
    alerts: list[Alert] = []
    of = source or (lambda _cls: SOURCE[world.kind])
    for hour_end, rows in world.events(days):
        det.observe_many(world.kind, ((p, w, t, c, of(c)) for p, w, t, c in rows))
        alerts += det.advance(hour_end)
    return det, alerts


def stalls(alerts: list[Alert]) -> list[Alert]:
    return [a for a in alerts if not a.is_outage]


# ---- rules fire -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "world", "where", "signal", "latency_h"),
    [
        (
            "commune QR stops",
            World(edits=[(BIG, ts(10), ts(14), 0.0)]),
            (BIG, "38"),
            "qr_rate_drop",
            48,
        ),
        (
            "commune QR to 10 %",
            World(edits=[(BIG, ts(10), ts(14), 0.1)], noise=True),
            (BIG, "38"),
            "qr_rate_drop",
            72,
        ),
        (
            "busy commune activations stop",
            World(kind=ACT, per_day=30, profile=OFFICE, edits=[(BIG, ts(10), ts(14), 0.0)]),
            (BIG, "38"),
            "activation_rate_drop",
            48,
        ),
        (
            "province-wide stall",
            World(edits=[("38", ts(10, 9), ts(12), 0.05)]),
            (None, "38"),
            "qr_rate_drop",
            3,
        ),
        (
            "gradual decline over eight days",
            World(
                per_day=200,
                edits=[("38", ts(10 + d), ts(11 + d), 1 - 0.1 * (d + 1)) for d in range(8)],
            ),
            (None, "38"),
            None,
            7 * 24,
        ),
    ],
)
def test_a_stall_raises_one_alert_for_its_locality(
    name: str, world: World, where: tuple[str | None, str], signal: str | None, latency_h: float
) -> None:
    _det, alerts = run(world, 22)
    found = stalls(alerts)
    assert len(found) == 1, (name, [a.to_contract() for a in found])
    alert = found[0]
    assert (alert.ward_code, alert.province_code) == where
    assert alert.kind == world.kind
    if signal is not None:
        assert alert.signal == signal
    start = min(e[1] for e in world.edits)
    assert start <= alert.detected_at <= start + latency_h * 3600
    assert alert.started_at <= alert.detected_at
    assert abs(alert.started_at - start) <= (24 if signal else 72) * 3600


@pytest.mark.parametrize(("min_days", "found_from"), [(3, 5), (7, 9)])
def test_an_activation_commune_is_judged_once_learnt_over_burst_min_days(
    min_days: int, found_from: int
) -> None:
    """Campaign bursts: a commune's activations are judged once its share is learnt over
    `burst_min_days` closed days (plus the two-day lag), not three: over three days that were
    all a campaign, the campaign's end looked like a stall. The cost: a stall in a log's first
    week is found later."""
    world = World(kind=ACT, per_day=40, edits=[(BIG, ts(3), ts(14), 0.0)])
    _det, alerts = run(world, 16, Detector(replace(DetectorConfig(), burst_min_days=min_days)))
    [alert] = stalls(alerts)
    assert (alert.ward_code, alert.signal) == (BIG, "activation_rate_drop")
    assert ts(found_from) <= alert.detected_at <= ts(found_from + 1)


def test_a_province_wide_stall_does_not_page_for_each_commune() -> None:
    world = World(edits=[("38", ts(10), ts(13), 0.0)])
    _det, alerts = run(world, 14)
    assert [(a.province_code, a.ward_code) for a in stalls(alerts)] == [("38", None)]
    assert alerts[0].severity == "critical"


# ---- the calendar and small communes are not stalls -----------------------------------------


def _office_days(day: date) -> float:
    cls = day_class(day_index(datetime(day.year, day.month, day.day, 12, tzinfo=VN_TZ).timestamp()))
    return {0: 1.0, 1: 0.12, 2: 0.03}.get(cls, 0.01)


@pytest.mark.parametrize(
    ("name", "world", "days"),
    [
        (
            "weekends",
            World(kind=ACT, per_day=40, profile=OFFICE, day_factor=_office_days, noise=True),
            21,
        ),
        (
            "a small commune's quiet days",
            World(per_day=48, rates={SMALL: 1.5}, noise=True, seed=3),
            21,
        ),
        ("noise alone", World(per_day=60, noise=True, seed=7), 21),
        (
            "campaign bursts then normal",
            World(kind=ACT, per_day=20, edits=[(BIG, ts(5), ts(8), 4.0)], noise=True, seed=5),
            21,
        ),
    ],
)
def test_no_alert_without_a_stall(name: str, world: World, days: int) -> None:
    _det, alerts = run(world, days)
    assert alerts == [], (name, [a.to_contract() for a in alerts])


def test_tet_is_not_a_stall_nor_an_outage() -> None:
    """Offices near silent over Tết 2025 (25 Jan - 2 Feb, widened): nothing raised."""
    global START
    saved = START
    START = datetime(2025, 1, 6, tzinfo=VN_TZ)
    try:
        world = World(kind=ACT, per_day=40, profile=OFFICE, day_factor=_office_days, noise=True)
        _det, alerts = run(world, 40)
    finally:
        START = saved
    assert alerts == []


def _pension_classes(ward: str, i: int) -> str:
    return "pension.bank_account" if i % 3 == 0 else "pension.cash"


def _pension_days(day: date) -> float:
    """A monthly round: paid on days 2-8 of each month, nothing else."""
    return 1.0 if 2 <= day.day <= 8 and day.weekday() != 6 else 0.0


def test_the_pension_cycle_is_not_a_stall() -> None:
    world = World(
        kind=WELFARE, per_day=300, profile=OFFICE, day_factor=_pension_days,
        classes=_pension_classes,
    )  # fmt: skip
    _det, alerts = run(world, 40)
    assert alerts == []  # nor an outage: each day closes at 18:00, the round after the 8th


def test_a_welfare_feed_silent_on_a_rounds_first_afternoon_is_an_outage() -> None:
    """The working days before April's round (2 April) sent nothing: the afternoon's expectation
    comes from the day's own morning, spread by the hour profile of March's round."""
    silent = (ts(30, 14), ts(30, 17))
    world = World(
        kind=WELFARE, per_day=300, profile=OFFICE, day_factor=_pension_days,
        classes=_pension_classes, edits=[(None, *silent, 0.0)],
    )  # fmt: skip
    _det, alerts = run(world, 40)
    assert [(a.signal, a.province_code) for a in alerts] == [("feed_outage", NATIONAL)]
    (alert,) = alerts
    assert silent[0] - 3600 <= alert.started_at <= silent[0]
    assert alert.detected_at <= silent[0] + 3600


def test_a_sources_first_round_in_the_log_is_judged_by_its_kinds_other_source() -> None:
    """Allowances (one source) are paid in March and April, pensions (another) only from April:
    the pension feed's silence on its first afternoon is judged by the allowances' profile."""
    silent = (ts(30, 14), ts(30, 17))

    def rewrite(hour_end: float, rows: list[Row]) -> list[Row]:
        t = hour_end - 3600
        if t < ts(29):
            return [r for r in rows if not r[3].startswith("pension")]
        if silent[0] <= t < silent[1]:
            return [r for r in rows if not r[3].startswith("pension")]
        return rows

    world = World(
        kind=WELFARE, per_day=300, profile=OFFICE, day_factor=_pension_days,
        classes=lambda _w, i: "pension.cash" if i % 2 else "social_allowance.cash",
        rewrite=rewrite,
    )  # fmt: skip
    _det, alerts = run(world, 40, source=lambda cls: "vss" if cls[0] == "p" else "molisa")
    assert [(a.signal, a.province_code) for a in alerts] == [("feed_outage", NATIONAL)]
    (alert,) = alerts
    assert silent[0] - 3600 <= alert.started_at <= silent[0]
    assert alert.detected_at <= silent[0] + 3600


def test_the_logs_first_day_teaches_the_hour_profile() -> None:
    """The log opens at midnight (a QR payment) and allowances are paid that day from 07:00:
    a day the detector watched whole, though the feed's first event came at 07:00. A week later
    the pension feed's first day goes silent in the afternoon."""
    paid = {date(2025, 3, 3): "social_allowance", date(2025, 3, 10): "pension"}
    silent = (ts(7, 14), ts(7, 17))

    def rewrite(hour_end: float, rows: list[Row]) -> list[Row]:
        t = hour_end - 3600
        program = paid.get(datetime.fromtimestamp(t, VN_TZ).date())
        if program is None or silent[0] <= t < silent[1]:
            return []
        return [r for r in rows if r[3].startswith(program)]

    world = World(
        kind=WELFARE, per_day=300, profile=OFFICE,
        classes=lambda _w, i: "pension.cash" if i % 2 else "social_allowance.cash",
        rewrite=rewrite,
    )  # fmt: skip
    det = Detector()
    det.observe_many(QR, [("38", BIG, ts(0), "", SOURCE[QR])])
    _det, alerts = run(world, 9, det, source=lambda cls: "vss" if cls[0] == "p" else "molisa")
    assert [(a.signal, a.province_code) for a in alerts] == [("feed_outage", NATIONAL)]
    assert silent[0] - 3600 <= alerts[0].started_at <= silent[0]


def test_a_round_paid_on_saturday_mornings_only_is_no_outage() -> None:
    """The post office closes at noon on Saturdays: a Saturday is judged by Saturdays' profile."""

    def rewrite(hour_end: float, rows: list[Row]) -> list[Row]:
        local = datetime.fromtimestamp(hour_end - 3600, VN_TZ)
        return [] if local.weekday() == 5 and local.hour >= 12 else rows

    world = World(
        kind=WELFARE, per_day=300, profile=OFFICE, day_factor=_pension_days,
        classes=_pension_classes, rewrite=rewrite,
    )  # fmt: skip
    _det, alerts = run(world, 40)
    assert alerts == []


def test_a_missing_batch_is_found() -> None:
    def classes(ward: str, i: int) -> str:
        return "pension.bank_account" if i % 2 == 0 else "pension.cash"

    world = World(
        kind=WELFARE, per_day=400, profile=OFFICE, day_factor=_pension_days, classes=classes,
    )  # fmt: skip
    # April's round: the commune's bank transfers never arrive, cash does.
    april = (ts(29), ts(37))

    def rewrite(hour_end: float, rows: list[Row]) -> list[Row]:
        if april[0] <= hour_end - 3600 < april[1]:
            return [r for r in rows if not (r[1] == BIG and r[3] == "pension.bank_account")]
        return rows

    world.rewrite = rewrite
    _det, alerts = run(world, 40)
    found = stalls(alerts)
    assert [(a.ward_code, a.signal) for a in found] == [(BIG, "missing_batch")]


def test_a_cashless_regression_of_the_next_monthly_round_is_found() -> None:
    """Bank transfers land on one day a month (the 3rd), cash over the round's days: a round's
    bank share is learnt from the previous round, 31 days earlier (a 28-day baseline had always
    just forgotten it: no cashless regression could ever be judged)."""

    def payment_days(day: date) -> float:
        return 1.0 if 3 <= day.day <= 9 and day.weekday() != 6 else 0.0

    world = World(kind=WELFARE, per_day=400, profile=OFFICE, day_factor=payment_days)
    seen: dict[str, int] = {}

    def rewrite(hour_end: float, rows: list[Row]) -> list[Row]:
        bank_day = datetime.fromtimestamp(hour_end - 3600, VN_TZ).day == 3
        out = []
        for p, w, t, _c in rows:
            # half the payments of the bank day go to accounts; in April, a tenth in BIG
            seen[w] = i = seen.get(w, 0) + 1
            bank = bank_day and i % (10 if w == BIG and t >= ts(29) else 2) == 0
            if bank and w == SMALL and t >= ts(29):
                continue  # and SMALL's April batch never arrives
            out.append((p, w, t, "pension.bank_account" if bank else "pension.cash"))
        return out

    world.rewrite = rewrite
    _det, alerts = run(world, 36)
    found = sorted((a.ward_code or "", a.signal) for a in stalls(alerts))
    assert found == sorted([(BIG, "cashless_share_regression"), (SMALL, "missing_batch")]), [
        a.to_contract() for a in alerts
    ]
    assert all(ts(31) <= a.detected_at <= ts(32) for a in alerts)


def test_an_online_share_regression_is_found() -> None:
    def classes(ward: str, i: int) -> str:
        return "online" if i % 5 < 3 else "counter"  # 60 % online

    world = World(kind=SERVICE, per_day=120, profile=OFFICE, classes=classes)

    def rewrite(hour_end: float, rows: list[Row]) -> list[Row]:
        if hour_end <= ts(10):
            return rows
        return [
            (p, w, t, "counter" if w == BIG and c == "online" and int(t) % 5 else c)
            for p, w, t, c in rows
        ]

    world.rewrite = rewrite
    _det, alerts = run(world, 16)
    assert [(a.ward_code, a.signal) for a in stalls(alerts)] == [(BIG, "online_share_regression")]


def _halves(_hour_end: float, rows: list[Row]) -> list[Row]:
    """Service payments, online and counter hour by hour: half of every day each."""
    return [(p, w, t, "online" if int(t // 3600) % 2 else "counter") for p, w, t, _c in rows]


@pytest.mark.parametrize(("kind", "found"), [(SERVICE, True), (QR, False)])
def test_a_rates_day_noise_is_its_components_own(kind: str, found: bool) -> None:
    """Online and counter payments have their own good and bad days: a commune's service total
    is steadier than a one-component kind's of the same volume, so the same drop (to 5 % for
    three days, 14 payments a day) is significant for service payments and not for QR."""
    world = World(
        kind=kind,
        per_day=14,
        edits=[(BIG, ts(10), ts(13), 0.05)],
        rewrite=_halves if kind == SERVICE else None,
    )
    _det, alerts = run(world, 16)
    found_at = [(a.ward_code, a.detected_at) for a in stalls(alerts)]
    if found:
        assert len(found_at) == 1
        assert found_at[0][0] == BIG
        assert ts(10) < found_at[0][1] <= ts(13)
    else:
        assert found_at == []


# ---- a round's first in the log: peers and rolls ----------------------------------------------


def _first_round(low_province: str | None) -> World:
    """A day of cash payments, then the bank day (4 March): half of each province's payments go
    to accounts that day, a fifth in `low_province`; cash afterwards. No bank day before it."""
    world = World(kind=WELFARE, per_day=400, day_factor=lambda d: 1.0 if d.day <= 8 else 0.0)

    def rewrite(hour_end: float, rows: list[Row]) -> list[Row]:
        bank_day = ts(1) < hour_end <= ts(2)
        out = []
        for i, (p, w, t, _c) in enumerate(rows):
            bank = bank_day and i % (5 if p == low_province else 2) == 0
            out.append((p, w, t, "pension.bank_account" if bank else "pension.cash"))
        return out

    world.rewrite = rewrite
    return world


@pytest.mark.parametrize("low", ["79", None])
def test_a_provinces_first_round_share_is_judged_against_the_other_provinces(
    low: str | None,
) -> None:
    """No earlier round: a province paying a fifth to accounts where its peers pay half is a
    cashless regression the day the round opens; peers alike raise nothing."""
    world = _first_round(low)
    det = Detector(DetectorConfig(peer_min=3))  # the tests' world has four provinces
    _det, alerts = run(world, 4, det)
    found = [(a.province_code, a.ward_code, a.signal) for a in alerts]
    if low is None:
        assert found == []
    else:
        assert found == [(low, None, "cashless_share_regression")]
        assert alerts[0].detected_at == ts(2)  # judged when the bank day closes


def test_a_provinces_first_round_is_not_judged_with_too_few_peers() -> None:
    world = _first_round("79")
    _det, alerts = run(world, 4)  # peer_min 8: four provinces do not make a norm
    assert alerts == []


def _rolls(parts: dict[str, float] | None = None) -> Rolls:
    """Every commune an equal part of its province's roll (`parts` overrides), every province a
    quarter of the nation's."""
    per: dict[str, dict[str, float]] = {p: {"pension": 0.25} for p in PROVINCES}
    for wards in WARDS.values():
        for w in wards:
            per[w] = {"pension": (parts or {}).get(w, 1 / len(wards))}
    return Rolls({WELFARE: per})


def _after_an_allowance_round(hour_end: float, rows: list[Row]) -> list[Row]:
    """Three days of an allowance round's cash, then a pension round opens on the 6th (bank
    transfers for a third of the payments)."""
    if hour_end <= ts(3):
        return [(p, w, t, "social_allowance.cash") for p, w, t, _c in rows]
    return [(p, w, t, _pension_classes(w, i)) for i, (p, w, t, _c) in enumerate(rows)]


@pytest.mark.parametrize("rolls", [True, False])
def test_a_commune_silent_from_its_first_pension_round_is_found_by_its_roll(rolls: bool) -> None:
    """BIG pays 5 % of its pensioners from the round's first day: learnt from that day, its
    share would be its silence. Its roll says a twelfth of the province's round."""
    world = World(kind=WELFARE, per_day=400, edits=[(BIG, ts(3), ts(9), 0.05)])
    world.rewrite = _after_an_allowance_round
    det = Detector(None, _rolls() if rolls else None)
    _det, alerts = run(world, 6, det)
    found = [(a.ward_code, a.signal, a.detected_at) for a in stalls(alerts)]
    if rolls:
        # once a 24-hour window holds the round: within its first day
        assert [(w, sig) for w, sig, _t in found] == [(BIG, "welfare_rate_drop")]
        assert ts(3) < found[0][2] <= ts(4)
    else:
        assert found == []  # its own first day taught it the silence


@pytest.mark.parametrize(("roll_window", "raised"), [(24, False), (6, True)])
def test_a_commune_with_few_bank_accounts_is_no_stall_by_its_roll(
    roll_window: int, raised: bool
) -> None:
    """The morning's bank batch lands before 11:00, cash over the day. BIG is paid in full but
    has a twentieth of its peers' accounts (the rest of its pensioners come in the afternoon);
    SMALL's roll is 40 % above its payments. Neither is a drop by its roll over whole days; a
    6-hour window on the batch would take BIG's few accounts for a stall."""
    morning = 11

    def rewrite(hour_end: float, rows: list[Row]) -> list[Row]:
        if hour_end <= ts(3):
            return _after_an_allowance_round(hour_end, rows)
        local = datetime.fromtimestamp(hour_end - 3600, VN_TZ).hour
        if local >= morning:
            return [(p, w, t, "pension.cash") for p, w, t, _c in rows]
        out = []
        for i, (p, w, t, _c) in enumerate(rows):
            if w == BIG and i % 20:
                out.append((p, w, t + 7 * 3600, "pension.cash"))  # paid in cash, later
            else:
                out.append((p, w, t, "pension.bank_account"))
        return out

    world = World(kind=WELFARE, per_day=400, profile=OFFICE, rewrite=rewrite)
    det = Detector(DetectorConfig(roll_window=roll_window), _rolls({SMALL: 1.4 / 12}))
    _det, alerts = run(world, 6, det)
    found = [(a.ward_code, a.signal) for a in alerts]
    if raised:  # each morning's batch
        assert found
        assert set(found) == {(BIG, "welfare_rate_drop")}
    else:
        assert found == []


def test_rolls_from_the_reference_add_up_per_province_and_nation() -> None:
    rolls = Rolls.from_reference(load_reference(use_env=False))
    ref = load_reference(use_env=False)
    for programme in ("pension", "social_allowance"):
        provinces = [rolls.part(WELFARE, p, programme) or 0.0 for p in ref.provinces]
        assert math.isclose(sum(provinces), 1.0)
        communes = [rolls.part(WELFARE, w, programme) or 0.0 for w in WARDS["38"]]
        assert all(0.0 < x < 0.1 for x in communes)  # Thanh Hoa has 166 communes
        whole = sum(
            rolls.part(WELFARE, w, programme) or 0.0
            for w in ref.communes
            if ref.communes[w].province == "38"
        )
        assert math.isclose(whole, 1.0)
    assert rolls.part(QR, "38", "pension") is None  # QR payments follow no roll


# ---- feed outages ---------------------------------------------------------------------------


def test_a_feed_outage_is_one_national_alert_and_no_stall() -> None:
    world = World(per_day=48, edits=[(None, ts(10, 10), ts(10, 14), 0.0)])
    det, alerts = run(world, 12)
    assert len(alerts) == 1, [a.to_contract() for a in alerts]
    (alert,) = alerts
    assert (alert.signal, alert.province_code, alert.ward_code) == ("feed_outage", NATIONAL, None)
    assert alert.severity == "critical"
    assert ts(10, 10) <= alert.detected_at <= ts(10, 11)
    assert ts(10, 9.5) <= alert.started_at <= ts(10, 10)
    assert det.open_stalls() == set()
    assert det.open_outages() == set()  # closed once events flowed again


def test_a_saturday_outage_is_judged_by_the_one_saturday_before() -> None:
    """Two weeks into a deployment, the feed's Saturday profile is one day: enough to judge by
    (scaled by the hours before the silence), not a reason to wait for a third weekend."""
    silent = (ts(12, 14), ts(12, 17))  # Saturday 15 March; the only Saturday before is the 8th
    world = World(kind=ACT, per_day=30, profile=OFFICE, edits=[(None, *silent, 0.0)])
    _det, alerts = run(world, 14)
    assert [(a.signal, a.province_code) for a in alerts] == [("feed_outage", NATIONAL)]
    assert silent[0] - 3600 <= alerts[0].started_at <= silent[0]
    assert alerts[0].detected_at <= silent[0] + 3600


# ---- hysteresis -----------------------------------------------------------------------------


def test_an_alert_closes_once_the_commune_recovers_and_is_not_raised_again() -> None:
    world = World(edits=[(BIG, ts(10), ts(13), 0.0)])
    det, _alerts = run(world, 13.5)
    assert det.open_stalls() == {(QR, "38", BIG)}
    det, more = run(World(edits=[(BIG, ts(10), ts(13), 0.0)]), 20)
    assert len(stalls(more)) == 1
    assert det.open_stalls() == set()


def test_a_flapping_commune_raises_one_alert() -> None:
    # Down to 5 %, back to 60 % for a few hours (below the 70 % closing bar), down again.
    edits: list[tuple[str | None, float, float, float]] = [
        (BIG, ts(10), ts(13), 0.05),
        (BIG, ts(13), ts(13.3), 0.6),
        (BIG, ts(13.3), ts(16), 0.05),
    ]
    _det, alerts = run(World(per_day=100, edits=edits), 18)
    assert len(stalls(alerts)) == 1


# ---- persistence and format -----------------------------------------------------------------


def test_state_round_trip_gives_the_same_alerts() -> None:
    world = World(
        per_day=100, edits=[(BIG, ts(10), ts(14), 0.0), (None, ts(11, 10), ts(11, 13), 0.0)]
    )
    _full, expected = run(world, 15)
    hours = list(world.events(15))
    det = Detector()
    got: list[Alert] = []
    for i, (hour_end, rows) in enumerate(hours):
        det.observe_many(QR, ((p, w, t, c, "napas") for p, w, t, c in rows))
        if i % 37 == 0:  # save mid-hour, with binned events not yet applied
            det = Detector.from_bytes(det.to_bytes())
        got += det.advance(hour_end)
        if i % 53 == 0:
            det = Detector.from_bytes(det.to_bytes())
    assert got == expected
    assert len(expected) == 2


def test_a_restored_detector_judges_by_the_rolls_it_is_given() -> None:
    """Rolls are not state: a detector restored with them (the worker after a restart) finds the
    roll-judged drop as the one that never stopped; restored without them, it cannot."""
    world = World(kind=WELFARE, per_day=400, edits=[(BIG, ts(3), ts(9), 0.05)])
    world.rewrite = _after_an_allowance_round
    _full, expected = run(world, 6, Detector(None, _rolls()))
    assert [a.ward_code for a in expected] == [BIG]
    for rolls, found in ((_rolls(), expected), (None, [])):
        det = Detector(None, _rolls())
        got: list[Alert] = []
        for hour_end, rows in world.events(6):
            det.observe_many(WELFARE, ((p, w, t, c, "vss") for p, w, t, c in rows))
            if hour_end == ts(3, 12):  # restarted on the round's first day
                det = Detector.from_bytes(det.to_bytes(), None, rolls)
            got += det.advance(hour_end)
        assert got == found


def test_state_is_bounded() -> None:
    det, _ = run(World(), 10)
    size10 = len(det.to_bytes())
    det, _ = run(World(), 30, det=None)
    assert len(det.to_bytes()) < 1.3 * size10


def test_alerts_are_contract_section_4() -> None:
    alert = Alert(QR, "38", "14797", "qr_rate_drop", ts(10), ts(11, 9), "warning")
    data = orjson.loads(alert.to_json())
    assert list(data) == [
        "kind", "province_code", "ward_code", "signal", "started_at", "detected_at", "severity"
    ]  # fmt: skip
    assert data["started_at"] == "2025-03-13T00:00:00+07:00"
    assert data["detected_at"] == "2025-03-14T09:00:00+07:00"
    assert Alert.from_contract(data) == alert


def test_late_events_within_the_ring_still_count() -> None:
    det = Detector()
    det.observe(QR, "38", BIG, ts(0, 1), "", "napas")
    det.advance(ts(0, 5))
    det.observe(QR, "38", BIG, ts(0, 2), "", "napas")  # late, but within the ring
    det.advance(ts(0, 6))
    assert det.too_late == 0
    det.observe(QR, "38", BIG, ts(-1), "", "napas")  # before the stream began
    det.advance(ts(0, 7))
    assert det.too_late == 1


# ---- the naive rule and scoring -------------------------------------------------------------


def test_the_naive_rule_fires_on_weekends() -> None:
    world = World(kind=ACT, per_day=40, profile=OFFICE, day_factor=_office_days)
    naive = NaiveDetector()
    alerts: list[Alert] = []
    for hour_end, rows in world.events(15):
        for p, w, t, _c in rows:
            naive.observe(ACT, p, w, t)
        alerts += naive.advance(hour_end)
    assert alerts
    assert all(a.ward_code for a in alerts)


def test_scoring_takes_overlapping_episodes_of_one_target_as_one() -> None:
    """A feed out from 03:00 to 09:00 and, in the truth, again from 07:00: one silence, one
    alert. A later outage of the same feed, after it came back, is an episode of its own."""
    truth = [
        TruthEpisode(QR, None, None, "feed_outage", ts(13, 3), ts(13, 9)),
        TruthEpisode(QR, None, None, "feed_outage", ts(13, 7), ts(13, 9)),
        TruthEpisode(QR, None, None, "feed_outage", ts(14, 3), ts(14, 5)),
        TruthEpisode(QR, "38", None, "qr_rate_drop", ts(13, 7), ts(14)),  # another target
    ]
    alerts = [Alert(QR, NATIONAL, None, "feed_outage", ts(13, 3), ts(13, 3.2), "critical")]
    result = score(alerts, truth, days=20)
    assert result.episodes == 3
    assert result.matched_episodes == 1
    assert [(e.start, e.end) for e in result.missed] == [
        (ts(13, 7), ts(14)),
        (ts(14, 3), ts(14, 5)),
    ]


def test_scoring_counts_episodes_and_province_wide_alerts() -> None:
    truth = [
        TruthEpisode(QR, "38", BIG, "qr_rate_drop", ts(10), ts(12)),
        TruthEpisode(QR, None, None, "feed_outage", ts(13, 9), ts(13, 11)),
        TruthEpisode(ACT, "01", None, "activation_rate_drop", ts(10), ts(11)),
    ]
    alerts = [
        Alert(QR, "38", None, "qr_rate_drop", ts(10), ts(10, 20), "critical"),  # covers BIG
        Alert(QR, NATIONAL, None, "feed_outage", ts(13, 9), ts(13, 9.5), "critical"),
        Alert(ACT, "01", WARDS["01"][0], "activation_rate_drop", ts(10), ts(10, 5), "warning"),
    ]
    result = score(alerts, truth, days=20)
    assert (result.matched_episodes, result.matched_alerts) == (2, 2)
    assert result.recall == pytest.approx(2 / 3)
    assert result.latencies_s == [20 * 3600, 0.5 * 3600]
    assert len(result.false_alerts) == 1


# ---- payments on local schedules ------------------------------------------------------------


def _local_cash_days(stalled: str | None = None) -> World:
    """Every commune pays its pensioners in cash one day in three, on a day of its own (its
    post office's), three times its average then; `stalled` pays nothing from day 6."""
    edits: list[tuple[str | None, float, float, float]] = []
    for wards in WARDS.values():
        for i, w in enumerate(wards):
            for d in range(12):
                edits.append((w, ts(d), ts(d + 1), 3.0 if (d + i) % 3 == 0 else 0.0))
    if stalled is not None:
        edits.append((stalled, ts(6), ts(12), 0.0))
    return World(kind=WELFARE, per_day=60, classes=lambda _w, _i: "pension.cash", edits=edits)


@pytest.mark.parametrize("timing", [True, False])
def test_communes_paid_on_their_own_days_are_no_stall(timing: bool) -> None:
    """A commune's part of its province's cash payments is stable over the round, not from one
    day to the next when each post office has its own days. Its siblings stray as far from
    their shares as it does: that is a schedule, not a stall. Without the siblings' spread
    (`timing_kinds` empty) each commune is a stall on its days off (benchmarks/
    foreign_scenario.py: 1,150 false welfare alerts in 28 days)."""
    cfg = DetectorConfig() if timing else DetectorConfig(timing_kinds=())
    _det, alerts = run(_local_cash_days(), 12, Detector(cfg))
    if timing:
        assert alerts == []
    else:
        assert len({a.ward_code for a in alerts}) >= 6


def test_a_stall_on_a_national_schedule_is_still_found() -> None:
    """Where siblings keep their shares (one schedule for all), the spread adds nothing: a
    commune's pensions stopping is found as before, on the same hour with timing or without."""
    world = World(
        kind=WELFARE,
        per_day=60,
        classes=lambda _w, _i: "pension.cash",
        edits=[(BIG, ts(6), ts(12), 0.0)],
    )
    found = []
    for cfg in (DetectorConfig(), DetectorConfig(timing_kinds=())):
        _det, alerts = run(world, 9, Detector(cfg))
        found.append([(a.ward_code, a.signal, a.detected_at) for a in alerts])
    assert found[0] == found[1]
    assert [(w, s) for w, s, _t in found[0]] == [(BIG, "welfare_rate_drop")]


def _allowance_days(
    missing: str | None = None, cash_first: tuple[str, ...] = ()
) -> Callable[[float, list[Row]], list[Row]]:
    """Each province transfers its allowances on a day of its own (the log's 9th, 11th, 12th,
    13th), 40 per commune at 09:00, and pays 10 in cash per commune at 09:00 the next day;
    pensions are paid in cash every hour. `missing`'s transfers never arrive; the provinces in
    `cash_first` all pay their cash on the 10th day, before their transfers (rounds squeezed
    before Tết)."""
    bank_day = dict(zip(PROVINCES, (9, 11, 12, 13), strict=True))

    def rewrite(hour_end: float, rows: list[Row]) -> list[Row]:
        t0 = hour_end - 3600
        out = list(rows)
        for p, wards in WARDS.items():
            bank, cash = ts(bank_day[p], 9), ts(10 if p in cash_first else bank_day[p] + 1, 9)
            for w in wards:
                if t0 == bank and p != missing:
                    out += [(p, w, t0 + i, "social_allowance.bank_account") for i in range(40)]
                if t0 == cash:
                    out += [(p, w, t0 + 30 + i, "social_allowance.cash") for i in range(10)]
        return sorted(out, key=lambda r: r[2])

    return rewrite


@pytest.mark.parametrize("timing", [True, False])
def test_a_provinces_own_allowance_day_without_its_transfers_is_a_missing_batch(
    timing: bool,
) -> None:
    """Each province has its allowance day; one's transfers never arrive. Its share of the
    nation's transfers was learnt as nothing from the days the others were paid, so only the
    round seen whole tells: cash came, no transfer in three weeks. Found when its cash
    follows, the next day; nothing for its communes (the province's alert covers them).
    Without `timing_kinds` it is never found, and provinces paid on their own days are not."""
    cfg = DetectorConfig() if timing else DetectorConfig(timing_kinds=())
    world = World(kind=WELFARE, per_day=24, classes=lambda _w, _i: "pension.cash")
    world.rewrite = _allowance_days(missing="01")
    det, alerts = run(world, 17, Detector(cfg))
    found = [(a.province_code, a.ward_code, a.signal, a.detected_at) for a in alerts]
    if timing:  # "01" transfers on day 11: its cash on day 12, judged when that day closes
        assert found == [("01", None, "missing_batch", ts(13))]
        assert det.open_stalls() == set()  # nothing more to expect of the round: it idled out
    else:
        assert found
        assert all(p != "01" for p, _w, _s, _t in found)


def test_cash_before_the_transfers_in_several_provinces_is_a_schedule() -> None:
    """Three provinces of four pay their allowance cash on one day, before their transfers:
    a schedule, not three missing batches (each is alone only with `timing_cash_first_max`
    raised past the others)."""
    world = World(kind=WELFARE, per_day=24, classes=lambda _w, _i: "pension.cash")
    world.rewrite = _allowance_days(cash_first=PROVINCES[1:])
    _det, alerts = run(world, 14)
    assert alerts == []
    _det, alerts = run(world, 14, Detector(DetectorConfig(timing_cash_first_max=2)))
    assert sorted((a.province_code, a.signal, a.detected_at) for a in alerts) == [
        (p, "missing_batch", ts(11)) for p in sorted(PROVINCES[1:])
    ]
