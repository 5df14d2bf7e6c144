"""Scenarios: the file format, injected stalls against the ground truth, random scenarios, CLI."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from producers.simulator import (
    SIGNALS,
    Episode,
    Scenario,
    ScenarioError,
    SimulationConfig,
    Simulator,
    load_scenario,
    parse_scenario,
    random_scenario,
)
from reference import load_reference

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
THANH_HOA, HAC_THANH = "38", "14797"
START = date(2025, 3, 1)


@cache
def _reference() -> Any:
    return load_reference(use_env=False)


@cache
def _run(
    kinds: tuple[str, ...], scale: float, scenario: Scenario | None, province: str
) -> tuple[dict[str, Any], ...]:
    config = SimulationConfig(
        start=START,
        days=14,
        seed=21,
        scale=scale,
        kinds=kinds,
        provinces=(province,),
        scenario=scenario,
    )
    sim = Simulator(config, _reference())
    return tuple(orjson.loads(line) for line in sim.lines())


def _in(ev: dict[str, Any], ep: Episode, *, window: bool = True, loose: bool = False) -> bool:
    """Whether the episode acts on this event (its kind, place, programme and time).

    ``loose``: also the province's events without a ward, which may come from the episode's
    commune (the simulator knows, the log does not).
    """
    if ev["kind"] != ep.resolved_kind:
        return False
    if ep.signal != "feed_outage" and ev["province_code"] != ep.province_code:
        return False
    other_ward = ev["ward_code"] != ep.ward and not (loose and ev["ward_code"] is None)
    if ep.ward is not None and other_ward:
        return False
    if ep.resolved_program is not None and ev.get("program") != ep.resolved_program:
        return False
    moment = datetime.fromisoformat(ev["occurred_at"])
    return not window or ep.start <= moment < ep.end


def _ids(evs: tuple[dict[str, Any], ...], keep: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {ev["event_id"] for ev in evs if keep(ev)}


def _share(evs: list[dict[str, Any]], channel: str) -> float:
    return sum(ev["channel"] == channel for ev in evs) / max(1, len(evs))


CASES: list[tuple[dict[str, Any], tuple[str, ...], float, str]] = [
    (
        {
            "signal": "activation_rate_drop",
            "province": THANH_HOA,
            "start": "2025-03-10",
            "end": "2025-03-13",
            "factor": 0.05,
        },
        ("identity.activation",),
        1.0,
        "rate",
    ),
    (
        {
            "signal": "activation_rate_drop",
            "ward": HAC_THANH,
            "start": "2025-03-03",
            "end": "2025-03-14",
            "factor": 0.0,
        },
        ("identity.activation",),
        3.0,
        "rate",
    ),
    (
        {
            "signal": "qr_rate_drop",
            "ward": HAC_THANH,
            "start": "2025-03-08",
            "end": "2025-03-11",
            "factor": 0.1,
        },
        ("payment.qr",),
        0.5,
        "rate",
    ),
    (
        {
            "signal": "service_rate_drop",
            "province": THANH_HOA,
            "start": "2025-03-10",
            "end": "2025-03-12",
        },
        ("service.payment",),
        0.5,
        "rate",
    ),
    (
        {
            "signal": "welfare_rate_drop",
            "province": THANH_HOA,
            "start": "2025-03-03",
            "end": "2025-03-06",
        },
        ("welfare.disbursement",),
        0.05,
        "rate",
    ),
    (
        {
            "signal": "gradual_decline",
            "kind": "identity.activation",
            "province": "01",
            "start": "2025-03-03",
            "end": "2025-03-15",
            "factor": 0.0,
        },
        ("identity.activation",),
        0.3,
        "decline",
    ),
    (
        {
            "signal": "missing_batch",
            "province": THANH_HOA,
            "start": "2025-03-03",
            "end": "2025-03-05",
        },
        ("welfare.disbursement",),
        0.05,
        "missing",
    ),
    (
        {
            "signal": "online_share_regression",
            "province": THANH_HOA,
            "start": "2025-03-05",
            "end": "2025-03-13",
            "factor": 0.3,
        },
        ("service.payment",),
        0.5,
        "online",
    ),
    (
        {
            "signal": "cashless_share_regression",
            "province": THANH_HOA,
            "program": "pension",
            "start": "2025-03-01",
            "end": "2025-03-10",
            "factor": 0.4,
        },
        ("welfare.disbursement",),
        0.05,
        "cashless",
    ),
    (
        {
            "signal": "feed_outage",
            "kind": "payment.qr",
            "start": "2025-03-09T08:00:00+07:00",
            "end": "2025-03-09T20:00:00+07:00",
        },
        ("payment.qr", "identity.activation"),
        0.05,
        "outage",
    ),
]


@pytest.mark.parametrize(("fields", "kinds", "scale", "check"), CASES)
def test_injected_episodes_show_in_the_log(
    fields: dict[str, Any], kinds: tuple[str, ...], scale: float, check: str
) -> None:
    episode = Episode.model_validate(fields)
    scenario = Scenario(name="one", episodes=(episode,))
    province = episode.province_code or THANH_HOA
    baseline = _run(kinds, scale, None, province)
    injected = _run(kinds, scale, scenario, province)
    before = [ev for ev in baseline if _in(ev, episode)]
    after = [ev for ev in injected if _in(ev, episode)]
    assert len(before) >= 40, "the episode must have something to act on"

    if check != "cashless":  # a scenario changes the log only where and when it acts
        outside = _ids(baseline, lambda ev: not _in(ev, episode, loose=True))
        assert outside == _ids(injected, lambda ev: not _in(ev, episode, loose=True))
    if check == "rate":
        assert len(after) <= (episode.level + 0.1) * len(before)
    elif check == "decline":
        middle = episode.start + (episode.end - episode.start) / 2
        first = sum(datetime.fromisoformat(ev["occurred_at"]) < middle for ev in after)
        assert len(after) - first < 0.6 * first
        assert len(after) < 0.75 * len(before)
    elif check == "missing":
        assert [ev for ev in after if ev["channel"] == "bank_account"] == []
        assert any(ev["channel"] == "bank_account" for ev in before)
        assert _ids(tuple(before), lambda ev: ev["channel"] == "cash") == _ids(
            tuple(after), lambda ev: True
        )
    elif check == "online":
        assert len(after) == len(before)
        assert _share(after, "online") == pytest.approx(
            episode.level * _share(before, "online"), abs=0.06
        )
    elif check == "cashless":
        round_before = [ev for ev in baseline if _in(ev, episode, window=False)]
        round_after = [ev for ev in injected if _in(ev, episode, window=False)]
        assert len(round_after) == len(round_before)
        expected = episode.level * _share(round_before, "bank_account")
        assert _share(round_after, "bank_account") == pytest.approx(expected, abs=0.03)
    elif check == "outage":
        assert after == []
        assert any(ev["kind"] == "identity.activation" for ev in injected)


def test_the_truth_lists_the_episodes() -> None:
    episode = Episode.model_validate(CASES[0][0])
    sim = Simulator(
        SimulationConfig(
            start=START,
            days=14,
            seed=1,
            scale=0.001,
            provinces=(THANH_HOA,),
            scenario=Scenario(name="one", episodes=(episode,)),
        ),
        _reference(),
    )
    for _ in sim.lines():
        pass
    truth = sim.truth.to_dict()
    assert truth["scenario"] == "one"
    assert truth["episodes"] == [
        {
            "kind": "identity.activation",
            "province_code": THANH_HOA,
            "ward_code": None,
            "signal": "activation_rate_drop",
            "start": "2025-03-10T00:00:00+07:00",
            "end": "2025-03-13T00:00:00+07:00",
            "factor": 0.05,
            "program": None,
            "source": None,
            "effect": 0,  # at this volume; test_simulator_effects checks the count
        }
    ]


# --- the file format --------------------------------------------------------------------------


def test_the_example_scenarios_are_valid() -> None:
    files = sorted(SCENARIOS.glob("*.yaml"))
    assert files
    for path in files:
        scenario = load_scenario(path)
        assert scenario.episodes
    signals = {ep.signal for path in files for ep in load_scenario(path).episodes}
    assert signals == set(SIGNALS)


def _episode(*lines: str) -> str:
    """A scenario with one episode made of these YAML lines."""
    return "episodes:\n  - " + "\n    ".join(lines) + "\n"


DAY = ("start: 2025-03-01", "end: 2025-03-02")
QR38 = ("signal: qr_rate_drop", 'province: "38"')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _episode("signal: activation_rate_drop", "province: 38", *DAY),
            "x.yaml:3: episodes[0].province: write the code as a quoted string",
        ),
        (
            _episode("signal: activation_rate_drop", "ward: 00070", *DAY),
            "x.yaml:3: episodes[0].ward: write the code as a quoted string of 5 digits",
        ),
        (
            _episode("signal: stall", 'province: "38"', *DAY),
            "x.yaml:2: episodes[0].signal: Input should be 'activation_rate_drop'",
        ),
        (
            _episode(*QR38, "start: 2025-03-02", "end: 2025-03-01"),
            "x.yaml:2: episodes[0]: end must be after start",
        ),
        (
            _episode("signal: qr_rate_drop", 'province: "99"', *DAY),
            "province 99 is not one of the 34",
        ),
        (
            _episode("signal: qr_rate_drop", 'province: "01"', 'ward: "14797"', *DAY),
            "ward 14797 is in province 38, not 01",
        ),
        (
            _episode("signal: feed_outage", "kind: payment.qr", 'province: "38"', *DAY),
            "a feed_outage is everywhere: give no province or ward",
        ),
        (
            _episode("signal: gradual_decline", 'province: "38"', *DAY),
            "a gradual_decline episode needs kind:",
        ),
        (
            _episode(*QR38, "kind: service.payment", *DAY),
            "qr_rate_drop concerns payment.qr, not service.payment",
        ),
        (
            _episode(*QR38, *DAY, "factor: 1.5"),
            "x.yaml:6: episodes[0].factor: Input should be less than 1",
        ),
        (
            _episode(*QR38, "start: soon", "end: 2025-03-02"),
            "x.yaml:4: episodes[0].start: not a date",
        ),
        (
            _episode(*QR38, *DAY, "colour: red"),
            "x.yaml:6: episodes[0].colour: unknown field",
        ),
        (
            _episode(*QR38, "program: pension", *DAY),
            "program applies to welfare.disbursement episodes only",
        ),
        (
            _episode("signal: feed_outage", "kind: payment.qr", "source: vss", *DAY),
            "the simulated payment.qr sources are napas",
        ),
        ("- just a list\n", "x.yaml:1: a scenario is a mapping"),
        ("episodes: [\n", "x.yaml: not valid YAML"),
    ],
)
def test_scenario_errors_name_the_line_and_field(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {
                "signal": "qr_rate_drop",
                "province": "38",
                "start": "2024-01-01",
                "end": "2024-01-02",
            },
            "outside the simulated period",
        ),
        (
            {
                "signal": "missing_batch",
                "province": "38",
                "start": "2025-03-06",
                "end": "2025-03-08",
            },
            "no pension bank-transfer day",
        ),
    ],
)
def test_episodes_must_fit_the_run(fields: dict[str, Any], message: str) -> None:
    scenario = Scenario(episodes=(Episode.model_validate(fields),))
    with pytest.raises(ScenarioError, match=message):
        Simulator(SimulationConfig(start=START, days=14, seed=1, scenario=scenario), _reference())


def test_a_date_is_midnight_vietnam_time() -> None:
    ep = Episode.model_validate(
        {
            "signal": "qr_rate_drop",
            "province": "38",
            "start": date(2025, 3, 1),
            "end": "2025-03-02T12:00:00",
        }
    )
    assert ep.start.isoformat() == "2025-03-01T00:00:00+07:00"
    assert ep.end.isoformat() == "2025-03-02T12:00:00+07:00"


# --- random scenarios ------------------------------------------------------------------------


def test_random_scenarios_are_deterministic_varied_and_mix_every_signal() -> None:
    populations = {code: f.population for code, f in _reference().communes.items()}
    first = random_scenario(4, date(2025, 2, 20), 30, populations=populations)
    again = random_scenario(4, date(2025, 2, 20), 30, populations=populations)
    other = random_scenario(5, date(2025, 2, 20), 30, populations=populations)
    assert first == again
    assert first != other
    assert {ep.signal for ep in first.episodes} == set(SIGNALS)
    begin = datetime.fromisoformat("2025-02-20T00:00:00+07:00")
    for ep in first.episodes:
        assert begin <= ep.start < ep.end <= datetime.fromisoformat("2025-03-22T00:00:00+07:00")
        if ep.ward is not None:
            assert populations[ep.ward] >= 20_000
    first.check_period(begin, datetime.fromisoformat("2025-03-22T00:00:00+07:00"))


def test_a_random_scenario_runs_and_its_truth_is_written(tmp_path: Path) -> None:
    from producers.simulator import simulate

    scenario = random_scenario(9, date(2025, 3, 1), 10)
    out = tmp_path / "r.jsonl"
    simulate(SimulationConfig(start=START, days=10, seed=9, scale=0.001, scenario=scenario), out)
    truth = orjson.loads((tmp_path / "r.jsonl.truth.json").read_bytes())
    assert len(truth["episodes"]) == len(scenario.episodes) >= 5
    assert Counter(e["signal"] for e in truth["episodes"]).keys() <= set(SIGNALS)


# --- the command ---------------------------------------------------------------------------------


def _cli(*args: str) -> Any:
    from civicpulse.cli import app

    return CliRunner().invoke(app, list(args))


def test_the_simulate_command_writes_the_log_and_the_truth(tmp_path: Path) -> None:
    out = tmp_path / "log.jsonl.gz"
    result = _cli(
        "simulate", "--start", "2025-03-01", "--days", "21", "--seed", "3", "--out", str(out),
        "--scale", "0.0005", "--scenario", str(SCENARIOS / "thanh-hoa-march-2025.yaml"),
        "--duplicate-rate", "0.01", "--truth-out", str(tmp_path / "t.json"),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "distinct valid events" in result.output
    assert out.stat().st_size > 0
    assert orjson.loads((tmp_path / "t.json").read_bytes())["scenario"] == "thanh-hoa-march-2025"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", "03/03/2025"], "--start must be a date"),
        (["--scale", "-1"], "scale must be within"),
        (["--scenario", "missing.yaml"], "cannot read scenario"),
        (["--kinds", "payment.card"], "kinds must be among"),
        (["--scenario", "x.yaml", "--random-scenario"], "not both"),
    ],
)
def test_the_simulate_command_fails_clearly(tmp_path: Path, extra: list[str], message: str) -> None:
    args = [
        "simulate",
        "--start",
        "2025-03-03",
        "--days",
        "1",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "o.jsonl"),
    ]
    result = _cli(*args, *extra)
    assert result.exit_code == 1
    assert message in result.output
