"""`civicpulse monitoring ...`: generate and check the monitoring files (rules, Alertmanager,
Grafana) from civicpulse/monitoring and deploy/thresholds.yaml."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from civicpulse.monitoring import alertmanager, artifacts, tools
from civicpulse.monitoring.exceptions import MonitoringError, StaleArtifactsError

monitoring_app = typer.Typer(
    help="Prometheus rules, Alertmanager and Grafana provisioning, as code.",
    no_args_is_help=True,
)

RootOption = Annotated[
    Path | None,
    typer.Option(help="repository root (default: found from the working directory)"),
]


def register(app: typer.Typer) -> None:
    app.add_typer(monitoring_app, name="monitoring")


def _fail(exc: MonitoringError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


@monitoring_app.command()
def generate(root: RootOption = None) -> None:
    """(Re)write every generated file from the code and deploy/thresholds.yaml."""
    base = root or artifacts.find_root()
    try:
        files = artifacts.generate(artifacts.Inputs.load(base))
        artifacts.validate_grafana(files)
    except MonitoringError as exc:
        _fail(exc)
    changed = artifacts.write(base, files)
    for rel in changed:
        typer.echo(f"wrote {rel}")
    typer.echo(f"{len(files)} generated files, {len(changed)} changed")


@monitoring_app.command()
def check(
    root: RootOption = None,
    tools_: Annotated[
        bool, typer.Option("--tools/--no-tools", help="also run promtool and amtool")
    ] = True,
) -> None:
    """Fail unless the committed files are what the code generates, the dashboards and
    provisioning are valid, and promtool/amtool accept the rules, their tests and configs."""
    base = root or artifacts.find_root()
    try:
        files = artifacts.generate(artifacts.Inputs.load(base))
        artifacts.validate_grafana(files)
        diffs = artifacts.stale(base, files)
        if diffs:
            for diff in diffs.values():
                typer.echo(diff, err=True)
            raise StaleArtifactsError(
                f"{len(diffs)} generated file(s) out of date: run `civicpulse monitoring "
                "generate` and commit the result"
            )
        typer.echo(f"ok: {len(files)} generated files up to date; dashboards valid")
        if not tools_:
            return
        prom = base / artifacts.PROMETHEUS_DIR
        tools.check_config(prom / "prometheus.yml")
        typer.echo("ok: promtool check config")
        tools.check_rules(sorted((prom / "rules").glob("*.yml")))
        tests = sorted((prom / "tests").glob("*.yml"))
        tools.run_rule_tests([t.relative_to(prom / "tests") for t in tests], cwd=prom / "tests")
        typer.echo(f"ok: promtool check rules, test rules ({len(tests)} files)")
        tools.check_alertmanager(base / artifacts.ALERTMANAGER_YML)
        typer.echo("ok: amtool check-config")
    except MonitoringError as exc:
        _fail(exc)


@monitoring_app.command("render-alertmanager")
def render_alertmanager(
    out: Annotated[Path, typer.Option(help="where to write the deployable configuration")],
    root: RootOption = None,
) -> None:
    """Write alertmanager.yml with the ${CIVICPULSE_...} secrets filled from the environment
    (mode 0600) and the templates path made absolute; then checks it with amtool."""
    base = root or artifacts.find_root()
    try:
        inputs = artifacts.Inputs.load(base)
        templates = (base / "deploy/alertmanager" / alertmanager.TEMPLATES_GLOB).resolve()
        text = alertmanager.alertmanager_yml(
            inputs.thresholds, inputs.channels, templates=[str(templates)]
        )
        rendered = alertmanager.render(text)
    except MonitoringError as exc:
        _fail(exc)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".alertmanager-", suffix=".yml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:  # mkstemp: mode 0600
            f.write(rendered)
        if tools.available("amtool"):
            try:
                tools.check_alertmanager(Path(tmp))
            except MonitoringError as exc:
                # amtool echoes offending values: keep secrets out of the terminal.
                _fail(MonitoringError(re.sub(r"bot_token: .*", "bot_token: ***", str(exc))))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    typer.echo(f"wrote {out}")
