"""``civicpulse simulate``: the calibrated synthetic log (``producers.simulator``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, NoReturn

import typer


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def simulate(
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD (Vietnam time)")],
    days: Annotated[int, typer.Option(min=1, help="number of days")],
    seed: Annotated[int, typer.Option(help="random seed (same seed and options, same bytes)")],
    out: Annotated[Path, typer.Option(help="output .jsonl or .jsonl.gz")],
    scenario: Annotated[
        Path | None, typer.Option(help="YAML scenario of stalls and outages to inject")
    ] = None,
    random_scenario: Annotated[
        bool, typer.Option("--random-scenario", help="inject a random scenario drawn for the seed")
    ] = False,
    truth_out: Annotated[
        Path | None, typer.Option(help="ground truth JSON (default: <out>.truth.json)")
    ] = None,
    duplicate_rate: Annotated[float, typer.Option(help="extra copies, per valid event")] = 0.0,
    late_rate: Annotated[float, typer.Option(help="late lines, per valid event")] = 0.0,
    malformed_rate: Annotated[float, typer.Option(help="hostile lines, per valid event")] = 0.0,
    scale: Annotated[float, typer.Option(help="volume multiplier (1 = calibrated volumes)")] = 1.0,
    kinds: Annotated[
        str | None, typer.Option(help="comma-separated kinds to simulate (default: all four)")
    ] = None,
    provinces: Annotated[
        str | None, typer.Option(help="comma-separated province codes to simulate (default: all)")
    ] = None,
    reference: Annotated[
        Path | None, typer.Option(help="reference override CSV (default: shipped figures)")
    ] = None,
) -> None:
    """Write a calibrated synthetic event log and its ground truth, deterministic for a seed."""
    from producers.simulator import (
        ScenarioError,
        SimulationConfig,
        default_truth_path,
        load_scenario,
    )
    from producers.simulator import (
        simulate as run,
    )
    from producers.simulator.effects import draw_scenario
    from reference import ReferenceDataError, load_reference
    from schemas.events import KINDS

    if scenario is not None and random_scenario:
        _fail("give --scenario or --random-scenario, not both")
    try:
        first = date.fromisoformat(start)
    except ValueError:
        _fail(f"--start must be a date YYYY-MM-DD, got {start!r}")
    chosen = tuple(k.strip() for k in kinds.split(",") if k.strip()) if kinds else KINDS
    try:
        ref = load_reference(reference, use_env=False)
    except ReferenceDataError as exc:
        _fail(str(exc))
    try:
        config = SimulationConfig(
            start=first,
            days=days,
            seed=seed,
            scale=scale,
            duplicate_rate=duplicate_rate,
            late_rate=late_rate,
            malformed_rate=malformed_rate,
            kinds=chosen,
            provinces=tuple(p.strip() for p in provinces.split(",")) if provinces else None,
        )
        if scenario is not None:
            config = replace(config, scenario=load_scenario(scenario))
        elif random_scenario:  # drawn where it changes this run (its kinds, provinces, volume)
            config = replace(config, scenario=draw_scenario(config, ref))
        truth = run(config, out, truth_out=truth_out, reference=ref)
    except (ValueError, ScenarioError) as exc:
        _fail(str(exc))
    typer.echo(truth.counts.render())
    typer.echo(f"  injected episodes: {len(truth.episodes)}")
    typer.echo(f"log: {out}")
    typer.echo(f"truth: {truth_out or default_truth_path(out)}")


def register(app: typer.Typer) -> None:
    """Add ``simulate`` (it replaces the basic placeholder of the same name)."""
    app.command(name="simulate")(simulate)
