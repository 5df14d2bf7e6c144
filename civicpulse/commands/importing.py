"""``civicpulse import-csv`` (real feeds from CSV exports) and ``civicpulse reference-check``."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

KINDS_HELP = "identity.activation, payment.qr, welfare.disbursement or service.payment"


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def import_csv(
    inputs: Annotated[list[Path], typer.Argument(help="CSV exports, read in order")],
    kind: Annotated[str, typer.Option(help=f"the kind the mapping produces ({KINDS_HELP})")],
    mapping: Annotated[Path, typer.Option(help="column mapping (YAML)")],
    out: Annotated[Path, typer.Option(help="event log to write (.jsonl or .jsonl.gz)")],
    rejects: Annotated[Path, typer.Option(help="rejected rows, JSON lines (raw IDs masked)")],
) -> None:
    """Convert CSV exports into contract events (citizen IDs become HMAC refs here)."""
    from producers.csv_import import CsvImportError, load_mapping
    from producers.csv_import import import_csv as run

    try:
        parsed = load_mapping(mapping)
        if parsed.kind != kind:
            _fail(f"--kind is {kind} but the mapping {mapping} produces {parsed.kind}")
        summary = run(inputs, parsed, out, rejects)
    except CsvImportError as exc:
        _fail(str(exc))
    typer.echo(summary.render())
    typer.echo(f"events: {out}\nrejects: {rejects}")


def reference_check(
    path: Annotated[
        Path | None, typer.Argument(help="override CSV (default: CIVICPULSE_REFERENCE_FILE)")
    ] = None,
    template: Annotated[
        str | None, typer.Option(help="print an override template for this province code")
    ] = None,
) -> None:
    """Validate reference data (shipped defaults plus an override file) and summarise it."""
    from reference import ReferenceDataError, load_reference
    from reference.loader import OVERRIDE_COLUMNS, iter_override_template

    try:
        data = load_reference(path)
    except ReferenceDataError as exc:
        _fail(str(exc))
    if template is not None:
        if template not in data.provinces:
            _fail(f"unknown province code {template!r}")
        writer = csv.DictWriter(sys.stdout, fieldnames=list(OVERRIDE_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(iter_override_template(data, template))
        return
    estimated = sum(f.estimated for f in data.communes.values())
    typer.echo(
        f"reference data as of {data.as_of}: {len(data.provinces)} provinces, "
        f"{len(data.communes):,} communes ({estimated:,} with estimated figures)"
    )
    population = sum(f.population for f in data.provinces.values())
    eligible = sum(f.eligible_16plus for f in data.provinces.values())
    baseline = sum(f.eid_l2_baseline for f in data.provinces.values())
    typer.echo(
        f"  population {population:,}, aged 16+ {eligible:,}, e-ID level 2 {baseline:,} "
        f"({baseline / eligible:.1%} of 16+)"
    )


def register(app: typer.Typer) -> None:
    app.command(name="import-csv")(import_csv)
    app.command(name="reference-check")(reference_check)
