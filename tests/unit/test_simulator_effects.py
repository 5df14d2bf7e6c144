"""Episode effects: counted by the simulator as it writes, expected before the run, and random
scenarios drawn only where an episode changes the log."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from producers.simulator import (
    Episode,
    Scenario,
    SimulationConfig,
    Simulator,
    random_scenario,
)
from producers.simulator.effects import EffectModel, draw_scenario
from producers.simulator.scenario import MIN_EFFECT
from reference import load_reference

THANH_HOA, HAC_THANH = "38", "14797"
START = date(2025, 3, 1)
DAYS = 14


@cache
def _reference() -> Any:
    return load_reference(use_env=False)


def _config(kinds: tuple[str, ...], scale: float, province: str) -> SimulationConfig:
    return SimulationConfig(
        start=START, days=DAYS, seed=5, scale=scale, kinds=kinds, provinces=(province,)
    )


@cache
def _run(
    kinds: tuple[str, ...], scale: float, province: str, scenario: Scenario | None
) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The run's events by id, and its truth's episodes."""
    config = _config(kinds, scale, province)
    sim = Simulator(replace(config, scenario=scenario), _reference())
    events = {ev["event_id"]: ev for ev in map(orjson.loads, sim.lines())}
    return events, sim.truth.to_dict()["episodes"]


# (episode, kinds simulated, scale, how its effect shows against the run without it)
CASES: list[tuple[dict[str, Any], tuple[str, ...], float, str]] = [
    (
        {"signal": "activation_rate_drop", "province": THANH_HOA, "start": "2025-03-10",
         "end": "2025-03-13", "factor": 0.1},
        ("identity.activation",), 0.5, "removed",
    ),
    (
        {"signal": "qr_rate_drop", "ward": HAC_THANH, "start": "2025-03-08", "end": "2025-03-11",
         "factor": 0.1},
        ("payment.qr",), 1.0, "removed",
    ),
    (
        {"signal": "gradual_decline", "kind": "service.payment", "province": THANH_HOA,
         "start": "2025-03-04", "end": "2025-03-12", "factor": 0.0},
        ("service.payment",), 0.5, "removed",
    ),
    (
        {"signal": "welfare_rate_drop", "province": THANH_HOA, "start": "2025-03-03",
         "end": "2025-03-06", "factor": 0.2},
        ("welfare.disbursement",), 0.05, "removed",
    ),
    (
        {"signal": "missing_batch", "province": THANH_HOA, "start": "2025-03-03",
         "end": "2025-03-04"},
        ("welfare.disbursement",), 0.05, "removed",
    ),
    (
        {"signal": "feed_outage", "kind": "payment.qr", "start": "2025-03-09T08:00:00+07:00",
         "end": "2025-03-09T14:00:00+07:00"},
        ("payment.qr",), 0.2, "removed",
    ),
    (
        {"signal": "online_share_regression", "province": THANH_HOA, "start": "2025-03-05",
         "end": "2025-03-10", "factor": 0.4},
        ("service.payment",), 0.5, "converted",
    ),
    (
        {"signal": "cashless_share_regression", "province": THANH_HOA, "program": "pension",
         "start": "2025-03-01", "end": "2025-03-10", "factor": 0.4},
        ("welfare.disbursement",), 0.05, "to cash",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "kinds", "scale", "shows"), CASES)
def test_the_truth_counts_what_each_episode_changed_and_the_model_expects_it(
    fields: dict[str, Any], kinds: tuple[str, ...], scale: float, shows: str
) -> None:
    episode = Episode.model_validate(fields)
    province = episode.province_code or THANH_HOA
    base, _ = _run(kinds, scale, province, None)
    after, truth = _run(kinds, scale, province, Scenario(name="one", episodes=(episode,)))
    effect = truth[0]["effect"]
    # The run without the episode draws the same events: the difference is exactly its effect.
    if shows == "removed":
        assert after.keys() <= base.keys()
        changed = len(base) - len(after)
    elif shows == "converted":
        assert after.keys() == base.keys()
        changed = sum(base[k]["channel"] != after[k]["channel"] for k in base)
        assert all(after[k]["channel"] == "counter" for k in base if base[k] != after[k])
    else:  # a round's bank payments moved to cash (beneficiaries redrawn: the ids differ)
        bank = [sum(ev.get("channel") == "bank_account" for ev in run.values())
                for run in (base, after)]  # fmt: skip
        changed = bank[0] - bank[1]
    assert changed >= 40, "the case must change something"
    if shows == "to cash":  # counted as expected moves of the round's realised beneficiaries
        assert effect == pytest.approx(changed, rel=0.03, abs=5)
    else:
        assert effect == changed
    expected = EffectModel(_config(kinds, scale, province), _reference()).expected(episode)
    assert expected == pytest.approx(effect, rel=0.25)


def test_an_episode_that_changes_nothing_has_no_effect_either_way() -> None:
    # Pensions are paid in the daytime: a welfare outage at night removes nothing.
    episode = Episode.model_validate(
        {"signal": "feed_outage", "kind": "welfare.disbursement",
         "start": "2025-03-04T20:00:00+07:00", "end": "2025-03-05T05:00:00+07:00"}
    )  # fmt: skip
    kinds = ("welfare.disbursement",)
    base, _ = _run(kinds, 0.05, THANH_HOA, None)
    after, truth = _run(kinds, 0.05, THANH_HOA, Scenario(name="night", episodes=(episode,)))
    assert after.keys() == base.keys()
    assert len(base) > 1000
    assert truth[0]["effect"] == 0
    model = EffectModel(_config(kinds, 0.05, THANH_HOA), _reference())
    assert model.expected(episode) == 0.0
    # ... and an episode of a kind the run does not simulate changes nothing of it.
    qr = Episode.model_validate(
        {"signal": "qr_rate_drop", "province": THANH_HOA, "start": "2025-03-04",
         "end": "2025-03-06"}
    )  # fmt: skip
    assert model.expected(qr) == 0.0


def test_random_scenarios_are_drawn_where_their_episodes_change_the_run() -> None:
    ref = _reference()
    config = SimulationConfig(start=date(2025, 2, 17), days=28, seed=44)
    model = EffectModel(config, ref)
    populations = {code: f.population for code, f in ref.communes.items()}
    # Drawn blind, seed 44 holds two feed outages at hours when their feed is silent anyway.
    blind = random_scenario(44, config.start, config.days, populations=populations)
    assert sum(model.expected(ep) < 1.0 for ep in blind.episodes) >= 2
    drawn = draw_scenario(config, ref)
    assert drawn == draw_scenario(config, ref)  # deterministic for the seed
    assert len(drawn.episodes) == len(blind.episodes)
    assert min(model.expected(ep) for ep in drawn.episodes) >= MIN_EFFECT
    assert {ep.signal for ep in drawn.episodes} == {ep.signal for ep in blind.episodes}
    # A run of one kind: episodes of the others could change nothing, so none is drawn.
    qr_only = SimulationConfig(start=date(2025, 2, 17), days=28, seed=44, kinds=("payment.qr",))
    kinds = {ep.resolved_kind for ep in draw_scenario(qr_only, ref).episodes}
    assert kinds == {"payment.qr"}


def test_the_simulate_command_draws_a_random_scenario_that_changes_the_run(
    tmp_path: Path,
) -> None:
    from civicpulse.cli import app

    out = tmp_path / "log.jsonl"
    result = CliRunner().invoke(
        app,
        ["simulate", "--start", "2025-03-01", "--days", "9", "--seed", "7", "--out", str(out),
         "--random-scenario", "--kinds", "payment.qr", "--provinces", THANH_HOA],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    truth = orjson.loads(Path(f"{out}.truth.json").read_bytes())
    assert truth["episodes"], "a QR run of Thanh Hoa has room for QR stalls"
    for ep in truth["episodes"]:
        assert ep["kind"] == "payment.qr"
        assert ep["province_code"] in (THANH_HOA, None)
        assert ep["effect"] >= MIN_EFFECT / 2, ep  # expected at least MIN_EFFECT; drawn close
    moments = [datetime.fromisoformat(ep["start"]) for ep in truth["episodes"]]
    assert moments == sorted(moments)
