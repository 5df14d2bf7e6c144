"""After a replay, the worker's KPI metrics equal values computed independently from the log."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from producers.simulator import SimulationConfig, simulate
from reference import load_reference
from tests.integration.worker_harness import Worker, accounted, do_replay, wait_until

VN = timezone(timedelta(hours=7))


def independent_kpis(path: Path) -> dict[tuple[str, str], float]:
    """The province KPIs, counted straight from the JSON lines (no project code but the figures).

    The log holds only valid events and exact duplicates, so distinct event_ids are the events.
    """
    events: dict[str, dict[str, object]] = {}
    for line in path.read_bytes().splitlines():
        ev = orjson.loads(line)
        events.setdefault(ev["event_id"].lower(), ev)
    times = {eid: datetime.fromisoformat(str(ev["occurred_at"])) for eid, ev in events.items()}
    # Trailing 30 Vietnamese calendar days, ending on the newest event's day.
    newest = max(times.values()).astimezone(VN)
    since = newest.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=29)

    ref = load_reference(use_env=False)
    # Activations up to the reference's as-of day are already in its baseline.
    baseline_end = datetime.combine(ref.as_of + timedelta(days=1), datetime.min.time(), VN)
    l2: dict[str, int] = defaultdict(int)
    num: dict[tuple[str, str], int] = defaultdict(int)
    den: dict[tuple[str, str], int] = defaultdict(int)
    for eid, ev in events.items():
        province = str(ev["province_code"])
        if ev["kind"] == "identity.activation" and ev["level"] == 2 and times[eid] >= baseline_end:
            l2[province] += 1
        if times[eid] < since:
            continue
        if ev["kind"] == "welfare.disbursement":
            kpi = f"{'pension' if ev['program'] == 'pension' else 'welfare'}_cashless_share"
            den[(kpi, province)] += 1
            num[(kpi, province)] += ev["channel"] == "bank_account"
        if ev["kind"] == "service.payment":
            den[("service_online_share", province)] += 1
            num[("service_online_share", province)] += ev["channel"] == "online"
    out = {key: num[key] / d for key, d in den.items()}
    for code, f in ref.provinces.items():
        out[("eid_l2_coverage", code)] = (f.eid_l2_baseline + l2[code]) / f.eligible_16plus
    return out


def test_kpi_metrics_match_an_independent_count(
    worker: Worker, fresh_kafka: str, tmp_path: Path
) -> None:
    log = tmp_path / "kpi.jsonl"
    # The calibrated simulator, across the July 2025 reference date: activations before it are
    # already in the baseline and must not be added to coverage again.
    cfg = SimulationConfig(start=date(2025, 6, 29), days=4, seed=5, scale=0.05, duplicate_rate=0.03)
    truth = simulate(cfg, log).counts
    worker.env["CIVICPULSE_KPI_REFRESH_S"] = "0.5"
    worker.start()
    do_replay(fresh_kafka, log)
    wait_until(lambda: accounted(worker.scrape() or {}) == truth.lines, 90, "log accounted", worker)
    wait_until(lambda: bool((worker.scrape() or {}).get("civicpulse_kpi_ratio")), 10, "kpis")

    samples = worker.scrape()
    assert samples is not None
    exported = {
        (dict(k)["kpi"], dict(k)["province"]): v
        for k, v in samples["civicpulse_kpi_ratio"].items()
        if dict(k)["kpi"] != "no_commune_share"
    }
    expected = independent_kpis(log)
    assert exported.keys() == expected.keys()
    for key, value in expected.items():
        assert exported[key] == pytest.approx(value, rel=1e-12), key
