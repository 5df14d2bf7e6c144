"""The calibrated simulator: ``civicpulse simulate`` (see docs/simulator.md).

    from producers.simulator import SimulationConfig, simulate
    truth = simulate(SimulationConfig(start=date(2025, 3, 1), days=7, seed=1), "log.jsonl")

Deterministic per seed (same configuration, same bytes), every province and commune present,
calibrated to the Thanh Hóa figures of the domain notes, with the calendar (office hours, Tết,
holidays, the monthly pension cycle), scenario episodes and their ground truth.
"""

from __future__ import annotations

import gzip
import itertools
import os
from pathlib import Path

import orjson

from producers.simulator.config import SimulationConfig, SimulationTruth
from producers.simulator.engine import Simulator
from producers.simulator.scenario import (
    SIGNAL_KIND,
    SIGNALS,
    Episode,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    random_scenario,
)
from reference import load_reference
from reference.models import ReferenceData

__all__ = [
    "SIGNALS",
    "SIGNAL_KIND",
    "Episode",
    "Scenario",
    "ScenarioError",
    "SimulationConfig",
    "SimulationTruth",
    "Simulator",
    "default_truth_path",
    "load_scenario",
    "parse_scenario",
    "random_scenario",
    "simulate",
]

_CHUNK = 8192


def default_truth_path(out: str | os.PathLike[str]) -> Path:
    """``<out>.truth.json`` (``log.jsonl`` -> ``log.jsonl.truth.json``)."""
    return Path(f"{os.fspath(out)}.truth.json")


def simulate(
    config: SimulationConfig,
    out: str | os.PathLike[str],
    *,
    truth_out: str | os.PathLike[str] | None = None,
    reference: ReferenceData | None = None,
    compresslevel: int = 3,
) -> SimulationTruth:
    """Write the log to ``out`` (gzip when it ends in ``.gz``) and its truth as JSON.

    ``reference`` defaults to the shipped reference data (``CIVICPULSE_REFERENCE_FILE`` is *not*
    read: a run depends on its arguments only). Returns the truth.
    """
    ref = reference or load_reference(use_env=False)
    sim = Simulator(config, ref)
    name = os.fspath(out)
    lines = sim.lines()
    with (
        gzip.open(name, "wb", compresslevel=compresslevel)
        if name.endswith(".gz")
        else open(name, "wb", buffering=1 << 20) as f
    ):
        while chunk := list(itertools.islice(lines, _CHUNK)):
            f.write(b"\n".join(chunk) + b"\n")
    truth_path = Path(truth_out) if truth_out is not None else default_truth_path(out)
    truth_path.write_bytes(orjson.dumps(sim.truth.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
    return sim.truth
