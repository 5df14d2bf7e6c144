"""``civicpulse backtest`` and ``civicpulse score``: stall detection offline, and its quality.

``backtest`` runs the worker's pipeline (validate, dedup and count, detect) over event logs in file
order and writes the alerts as JSON lines (contract section 4). ``score`` compares an alerts file
with a simulation's ground truth (``civicpulse simulate --truth-out``). See docs/detection.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def backtest(
    paths: Annotated[list[Path], typer.Argument(help="event logs (.jsonl or .jsonl.gz), in order")],
    alerts_out: Annotated[Path, typer.Option(help="where to write the alerts, one JSON per line")],
    naive_out: Annotated[
        Path | None,
        typer.Option(help="also write the naive rule's alerts (day < 50 % of 7-day mean) here"),
    ] = None,
    state_out: Annotated[
        Path | None, typer.Option(help="save the detector state at the end (bytes)")
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            help="reference override CSV (default: CIVICPULSE_REFERENCE_FILE, as the worker's, "
            "else the shipped figures)"
        ),
    ] = None,
) -> None:
    """Run validation, dedup, counting and detection over event logs, offline, in file order."""
    from producers.logs import check_readable, iter_raw_lines
    from reference import load_reference
    from streams.detect import Alert
    from streams.detect.backtest import run_backtest
    from streams.detect.rolls import Rolls

    names = check_readable(paths)
    # a bad override file is a user error: the CLI prints it and exits 1
    rolls = Rolls.from_reference(load_reference(reference))
    alerts_out.parent.mkdir(parents=True, exist_ok=True)
    with alerts_out.open("wb") as out:

        def write(alert: Alert) -> None:
            out.write(alert.to_json() + b"\n")

        result = run_backtest(
            iter_raw_lines(names), naive=naive_out is not None, on_alert=write, rolls=rolls
        )
    if naive_out is not None:
        naive_out.parent.mkdir(parents=True, exist_ok=True)
        naive_out.write_bytes(b"".join(a.to_json() + b"\n" for a in result.naive_alerts))
    if state_out is not None and result.detector is not None:
        state_out.write_bytes(result.detector.to_bytes())
    typer.echo(result.render())
    typer.echo(f"alerts: {alerts_out}")


def score(
    alerts: Annotated[Path, typer.Option(help="alerts, JSON lines (civicpulse backtest)")],
    truth: Annotated[Path, typer.Option(help="ground truth JSON (civicpulse simulate)")],
    grace_hours: Annotated[
        float, typer.Option(help="an alert may come this long after an episode ends")
    ] = 24.0,
    days: Annotated[
        float | None, typer.Option(help="days of the period (default: from the truth file)")
    ] = None,
    observable: Annotated[
        float,
        typer.Option(
            min=0,
            help="also score the episodes that changed at least this many events (their effect "
            "in the truth, as civicpulse simulate counts it)",
        ),
    ] = 20.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the score as JSON")] = False,
) -> None:
    """Recall, precision, latency and false alerts of an alerts file against a ground truth."""
    from streams.detect.scoring import load_alerts, load_truth
    from streams.detect.scoring import observable as seen
    from streams.detect.scoring import score as run_score

    episodes, truth_days = load_truth(truth.read_bytes())
    period = days if days is not None else truth_days
    if period is None:
        raise typer.BadParameter("the truth file does not say how many days: give --days")
    with alerts.open("rb") as f:
        alert_list = load_alerts(f)
    result = run_score(alert_list, episodes, days=period, grace_s=grace_hours * 3600)
    data = result.to_dict()
    visible = seen(episodes, observable)
    # An episode that changed a handful of events is in the truth only: scored apart too.
    kept = (
        None
        if visible is None
        else run_score(alert_list, visible, days=period, grace_s=grace_hours * 3600)
    )
    if kept is not None:
        data["observable"] = {"min_effect": observable, **kept.to_dict()}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for key, value in data.items():
        if key != "observable":
            typer.echo(f"{key:<30} {value}")
    for ep in result.missed:
        where = ep.ward_code or ep.province_code or "everywhere"
        effect = "" if ep.effect is None else f" (effect: {ep.effect} events)"
        typer.echo(f"  missed: {ep.signal} {ep.kind} {where}{effect}")
    if kept is not None:
        typer.echo(
            f"observable (effect >= {observable:g} events): recall {round(kept.recall, 4)} "
            f"({kept.matched_episodes}/{kept.episodes}), precision {round(kept.precision, 4)}"
        )


def register(app: typer.Typer) -> None:
    app.command(name="backtest")(backtest)
    app.command(name="score")(score)
