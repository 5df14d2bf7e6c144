"""The calibrated simulator: the acceptance checks of issue 3 ("Realistic feeds")."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from producers.simulator import SimulationConfig, Simulator, simulate
from reference import ReferenceData, load_reference
from schemas.events import BaseEvent
from schemas.localities import all_provinces
from schemas.validate import Rejection, parse_event

FUTURE = 4_000_000_000.0  # a worker clock far ahead: nothing is "in the future"
THANH_HOA = "38"


@cache
def reference() -> ReferenceData:
    return load_reference(use_env=False)


def run(**options: Any) -> tuple[list[bytes], dict[str, Any]]:
    sim = Simulator(SimulationConfig(**options), reference())
    lines = list(sim.lines())
    return lines, sim.truth.to_dict()


def events(lines: list[bytes]) -> Iterator[BaseEvent]:
    for line in lines:
        parsed = parse_event(line, now=FUTURE)
        assert not isinstance(parsed, Rejection), (parsed, line)
        yield parsed


def at(ev: BaseEvent) -> datetime:
    return datetime.fromisoformat(ev.occurred_at)


@pytest.fixture(scope="module")
def march() -> tuple[list[BaseEvent], dict[str, Any]]:
    """18 days of March 2025 (a whole pension and allowance round), all kinds, small scale."""
    lines, truth = run(start=date(2025, 3, 1), days=18, seed=7, scale=0.02)
    return list(events(lines)), truth


def test_every_line_validates_and_the_truth_counts_them(
    march: tuple[list[BaseEvent], dict[str, Any]],
) -> None:
    evs, truth = march
    counted: Counter[tuple[str, str]] = Counter((e.kind, e.province_code) for e in evs)
    assert len({e.event_id for e in evs}) == len(evs)
    expected = {
        (kind, province): n
        for kind, by_province in truth["counts"]["events"].items()
        for province, n in by_province.items()
    }
    assert counted == expected
    assert truth["counts"]["lines"] == truth["counts"]["valid_events"] == len(evs)


def test_every_province_and_commune_appears(march: tuple[list[BaseEvent], dict[str, Any]]) -> None:
    evs, _ = march
    assert {e.province_code for e in evs} == set(all_provinces())
    assert len({e.ward_code for e in evs if e.ward_code is not None}) >= 3_000
    assert {e.kind for e in evs} == {
        "identity.activation",
        "payment.qr",
        "welfare.disbursement",
        "service.payment",
    }


def test_the_log_is_in_event_time_order(march: tuple[list[BaseEvent], dict[str, Any]]) -> None:
    times = [at(e) for e in march[0]]
    assert times == sorted(times)


@pytest.mark.parametrize(
    ("kind", "program", "channels", "seed_figure"),
    [
        ("welfare.disbursement", "pension", ("bank_account", "cash"), 59_991 / 164_382),
        ("welfare.disbursement", "social_allowance", ("bank_account", "cash"), 45_158 / 53_571),
        ("service.payment", None, ("online", "counter"), 265_588 / 450_684),
    ],
)
def test_thanh_hoa_shares_land_near_the_seed_figures(
    march: tuple[list[BaseEvent], dict[str, Any]],
    kind: str,
    program: str | None,
    channels: tuple[str, str],
    seed_figure: float,
) -> None:
    counts: Counter[str] = Counter(
        e.channel
        for e in march[0]
        if e.kind == kind
        and e.province_code == THANH_HOA
        and getattr(e, "program", None) == program
    )
    assert sum(counts.values()) > 300
    share = counts[channels[0]] / (counts[channels[0]] + counts[channels[1]])
    assert abs(share - seed_figure) < 0.05, (share, seed_figure)


def test_thanh_hoa_activations_are_of_the_order_of_330_a_day(
    march: tuple[list[BaseEvent], dict[str, Any]],
) -> None:
    _evs, truth = march
    per_day = truth["counts"]["events"]["identity.activation"][THANH_HOA] / 18 / truth["scale"]
    assert 200 < per_day < 500, per_day


def test_office_hours_and_weekends(march: tuple[list[BaseEvent], dict[str, Any]]) -> None:
    evs, _ = march
    activations = Counter(at(e).hour for e in evs if e.kind == "identity.activation")
    assert activations[3] <= 0.01 * activations[9]
    services: Counter[str] = Counter()
    days: Counter[str] = Counter()
    for e in evs:
        if e.kind == "service.payment":
            services["weekend" if at(e).weekday() >= 5 else "weekday"] += 1
    for offset in range(18):
        day = date(2025, 3, 1) + timedelta(days=offset)
        days["weekend" if day.weekday() >= 5 else "weekday"] += 1
    weekend = services["weekend"] / days["weekend"]
    weekday = services["weekday"] / days["weekday"]
    assert weekend < 0.3 * weekday


def test_pensions_follow_the_monthly_round(march: tuple[list[BaseEvent], dict[str, Any]]) -> None:
    by_day: Counter[tuple[int, str]] = Counter(
        (at(e).day, e.channel)
        for e in march[0]
        if e.kind == "welfare.disbursement" and e.program == "pension"
    )
    bank_days = {day for day, channel in by_day if channel == "bank_account"}
    assert bank_days == {3, 4}
    cash = [by_day[day, "cash"] for day in range(3, 14) if by_day[day, "cash"]]
    assert cash[0] == max(cash)
    assert cash[0] > 3 * cash[-1]
    assert not any(day > 13 for day, _ in by_day)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    options: dict[str, Any] = {
        "start": date(2025, 3, 3),
        "days": 1,
        "scale": 0.003,
        "duplicate_rate": 0.02,
        "late_rate": 0.02,
        "malformed_rate": 0.02,
    }
    first = simulate(SimulationConfig(seed=5, **options), tmp_path / "a.jsonl")
    simulate(SimulationConfig(seed=5, **options), tmp_path / "b.jsonl")
    simulate(SimulationConfig(seed=6, **options), tmp_path / "c.jsonl.gz")
    a, b = (tmp_path / "a.jsonl").read_bytes(), (tmp_path / "b.jsonl").read_bytes()
    assert a == b
    assert len(a) > 10_000
    assert (tmp_path / "a.jsonl.truth.json").read_bytes() == (
        tmp_path / "b.jsonl.truth.json"
    ).read_bytes()
    import gzip

    assert gzip.decompress((tmp_path / "c.jsonl.gz").read_bytes()) != a
    assert first.counts.lines == a.count(b"\n")


def test_faults_are_counted_exactly() -> None:
    lines, truth = run(
        start=date(2025, 3, 4),
        days=1,
        seed=3,
        scale=0.005,
        duplicate_rate=0.05,
        late_rate=0.05,
        malformed_rate=0.03,
    )
    seen: set[str] = set()
    valid: Counter[tuple[str, str]] = Counter()
    duplicates: Counter[str] = Counter()
    rejects = 0
    late = 0
    newest = 0.0
    for line in lines:
        parsed = parse_event(line, now=FUTURE)
        if isinstance(parsed, Rejection):
            rejects += 1
            continue
        if parsed.event_id in seen:
            duplicates[parsed.kind] += 1
            continue
        seen.add(parsed.event_id)
        valid[parsed.kind, parsed.province_code] += 1
        late += parsed.ts < newest - 3600
        newest = max(newest, parsed.ts)
    counts = truth["counts"]
    assert sum(valid.values()) == counts["valid_events"]
    assert duplicates == counts["duplicates"]
    assert rejects == counts["rejects_total"] > 0
    assert counts["lines"] == len(lines)
    assert 0 < late <= sum(counts["late"].values())


def test_the_tet_week_is_near_silent_for_activations() -> None:
    lines, _ = run(
        start=date(2025, 1, 13), days=35, seed=11, scale=0.05, kinds=("identity.activation",)
    )
    weeks: Counter[int] = Counter(
        (at(e).date() - date(2025, 1, 13)).days // 7 for e in events(lines)
    )
    before, tet, after = weeks[0], weeks[2], weeks[4]  # 13-19 Jan, 27 Jan-2 Feb, 10-16 Feb
    assert tet < 0.1 * before, weeks
    assert tet < 0.1 * after, weeks


def test_qr_rises_before_tet() -> None:
    lines, _ = run(start=date(2025, 1, 6), days=21, seed=2, scale=0.002, kinds=("payment.qr",))
    per_day: Counter[date] = Counter(at(e).date() for e in events(lines))
    ordinary = sum(per_day[date(2025, 1, d)] for d in range(6, 11))
    rush = sum(per_day[date(2025, 1, d)] for d in range(20, 25))
    assert rush > 1.3 * ordinary
    assert per_day[date(2025, 1, 25)] > per_day[date(2025, 1, 11)]  # the last weekend before


def test_truth_file_format(tmp_path: Path) -> None:
    out = tmp_path / "log.jsonl"
    simulate(SimulationConfig(start=date(2025, 3, 3), days=1, seed=1, scale=0.002), out)
    truth = orjson.loads((tmp_path / "log.jsonl.truth.json").read_bytes())
    assert {"seed", "start", "end", "episodes", "counts", "campaigns", "expected_shares"} <= set(
        truth
    )
    assert datetime.fromisoformat(truth["start"]).tzinfo is not None
    assert set(truth["counts"]) >= {"events", "duplicates", "rejects", "late", "lines", "breakdown"}
    assert truth["expected_shares"][THANH_HOA]["pension_bank"] == pytest.approx(0.3649, abs=0.01)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"start": date(2019, 12, 1)}, "start must be on or after"),
        ({"days": 0}, "days must be at least 1"),
        ({"scale": 0}, "scale must be within"),
        ({"duplicate_rate": 1.5}, "duplicate_rate must be within"),
        ({"kinds": ("payment.card",)}, "kinds must be among"),
    ],
)
def test_invalid_configurations(options: dict[str, Any], message: str) -> None:
    base: dict[str, Any] = {"start": date(2025, 3, 1), "days": 1, "seed": 1}
    with pytest.raises(ValueError, match=message):
        SimulationConfig(**{**base, **options})


def test_the_first_million_lines_are_not_needed_to_start(tmp_path: Path) -> None:
    # The generator streams: taking a few lines does not generate the whole period.
    sim = Simulator(
        SimulationConfig(start=date(2025, 3, 5), days=365, seed=1, scale=0.1), reference()
    )
    assert len(list(itertools.islice(sim.lines(), 1000))) == 1000
