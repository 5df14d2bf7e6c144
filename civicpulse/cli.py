"""`civicpulse`: the command line of contract section 5."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streams.config import Settings

app = typer.Typer(
    help="CivicPulse: streaming monitor of Vietnam's digital-citizen programme.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
kafka_app = typer.Typer(
    help="Run the local single-node Kafka broker (KRaft).", no_args_is_help=True
)
app.add_typer(kafka_app, name="kafka")
err = Console(stderr=True)


class CliError(Exception):
    """An error the user can act on: printed as one readable message, exit status 1."""


def _settings() -> Settings:
    return Settings()


@app.command()
def worker() -> None:
    """Run the stream worker (metrics at http://127.0.0.1:6066/metrics unless configured)."""
    from streams.app import run_worker

    run_worker(_settings())


@app.command()
def schema() -> None:
    """Print the JSON Schema of the events (contract section 1), for other teams."""
    from schemas import json_schema

    typer.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


@kafka_app.command("up")
def kafka_up(
    data_dir: Annotated[Path | None, typer.Option(help="broker data directory")] = None,
    port: Annotated[int, typer.Option(help="client port")] = 9092,
    controller_port: Annotated[int, typer.Option(help="KRaft controller port")] = 9093,
) -> None:
    """Start the broker on localhost (idempotent), wait until it serves, create the topics."""
    from civicpulse import kafka_local

    info = kafka_local.up(
        data_dir or kafka_local.default_data_dir(), port=port, controller_port=controller_port
    )
    typer.echo(f"kafka serving on {info.bootstrap} (pid {info.pid}, data {info.data_dir})")


@kafka_app.command("down")
def kafka_down(
    data_dir: Annotated[Path | None, typer.Option(help="broker data directory")] = None,
) -> None:
    """Stop the local broker (no error if it is not running)."""
    from civicpulse import kafka_local

    kafka_local.down(data_dir or kafka_local.default_data_dir())
    typer.echo("kafka stopped")


@kafka_app.command("status")
def kafka_status(
    data_dir: Annotated[Path | None, typer.Option(help="broker data directory")] = None,
) -> None:
    """Say whether the local broker runs."""
    from civicpulse import kafka_local

    typer.echo(kafka_local.status(data_dir or kafka_local.default_data_dir()))


@app.command()
def replay(
    paths: Annotated[list[Path], typer.Argument(help="event logs (.jsonl or .jsonl.gz), in order")],
    speed: Annotated[
        float | None,
        typer.Option(help="times event time (60 = one hour of events per minute); default: max"),
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap (default CIVICPULSE_KAFKA_BOOTSTRAP)")
    ] = None,
    legacy_codes: Annotated[
        bool,
        typer.Option(
            "--legacy-codes",
            help="rewrite pre-July-2025 province and commune codes to the current 34/3,321",
        ),
    ] = False,
) -> None:
    """Send every line of the logs, byte for byte and in file order, to its kind's topic."""
    from producers.legacy import translate_line
    from producers.replay import replay as run_replay

    if speed is not None and speed <= 0:
        raise CliError("--speed must be greater than 0")
    settings = _settings()
    summary = asyncio.run(
        run_replay(
            paths,
            bootstrap=bootstrap or settings.kafka_bootstrap,
            speed=speed,
            progress=sys.stderr.isatty(),
            client_kwargs=settings.aiokafka_kwargs() if bootstrap is None else None,
            transform=translate_line if legacy_codes else None,
        )
    )
    typer.echo(summary.render())


@app.command()
def produce(
    speed: Annotated[
        float,
        typer.Option(min=1, help="1: live from now on; X > 1: the last --days, X times faster"),
    ] = 1.0,
    days: Annotated[int, typer.Option(min=1, help="days to stream (live) or to catch up")] = 7,
    seed: Annotated[int, typer.Option(help="random seed (same seed, same events)")] = 1,
    scale: Annotated[float, typer.Option(help="volume multiplier of the calibrated feeds")] = 1.0,
    scenario: Annotated[
        Path | None, typer.Option(help="scenario YAML injecting stalls and outages")
    ] = None,
    bootstrap: Annotated[
        str | None, typer.Option(help="Kafka bootstrap (default CIVICPULSE_KAFKA_BOOTSTRAP)")
    ] = None,
) -> None:
    """Stream calibrated simulated events into Kafka, live or accelerated, until Ctrl-C."""
    from producers.live import produce as run_produce
    from producers.simulator import load_scenario

    settings = _settings()
    summary = asyncio.run(
        run_produce(
            bootstrap or settings.kafka_bootstrap,
            seed=seed,
            speed=speed,
            days=days,
            scale=scale,
            scenario=load_scenario(scenario) if scenario else None,
            client_kwargs=settings.aiokafka_kwargs() if bootstrap is None else None,
            progress=sys.stderr.isatty(),
        )
    )
    typer.echo(summary.render())


def _register_areas() -> None:
    """Commands owned by other modules (simulation, import, detection, ...)."""
    import importlib
    import pkgutil

    import civicpulse.commands as commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        module = importlib.import_module(f"civicpulse.commands.{info.name}")
        module.register(app)


_register_areas()


def main() -> None:
    """Entry point: readable one-line errors instead of tracebacks for what users can fix."""
    from civicpulse.errors import user_errors

    try:
        app()
    except user_errors() as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise SystemExit(1) from None
