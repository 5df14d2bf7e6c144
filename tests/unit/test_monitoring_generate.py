"""Monitoring as code: the committed files are what the code generates; the inputs validate."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from civicpulse.cli import app
from civicpulse.monitoring import artifacts, calendar, thresholds
from civicpulse.monitoring.durations import format_duration, human_duration, parse_duration
from civicpulse.monitoring.exceptions import ThresholdsError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generated() -> dict[Path, str]:
    return artifacts.generate(artifacts.Inputs.load(ROOT))


def test_committed_files_are_what_the_code_generates(generated: dict[Path, str]) -> None:
    diffs = artifacts.stale(ROOT, generated)
    assert not diffs, "run `civicpulse monitoring generate` and commit:\n" + "\n".join(
        diffs.values()
    )


def test_generation_is_deterministic() -> None:
    first = artifacts.generate(artifacts.Inputs.load(ROOT))
    second = artifacts.generate(artifacts.Inputs.load(ROOT))
    assert first == second


def test_every_generated_yaml_parses(generated: dict[Path, str]) -> None:
    for rel, text in generated.items():
        if rel.suffix in (".yml", ".yaml") or rel.name.endswith(".yml.example"):
            assert yaml.safe_load(text) is not None, rel


def test_cli_generate_writes_into_a_fresh_root_and_check_passes(tmp_path: Path) -> None:
    (tmp_path / "deploy/alertmanager").mkdir(parents=True)
    shutil.copy(ROOT / artifacts.THRESHOLDS, tmp_path / artifacts.THRESHOLDS)
    shutil.copy(ROOT / artifacts.CHANNELS, tmp_path / artifacts.CHANNELS)
    runner = CliRunner()
    result = runner.invoke(app, ["monitoring", "generate", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "16 generated files, 16 changed" in result.output
    result = runner.invoke(app, ["monitoring", "check", "--root", str(tmp_path), "--no-tools"])
    assert result.exit_code == 0, result.output

    # A stale file is reported with its diff and fails the check.
    alerts = tmp_path / "deploy/prometheus/rules/civicpulse-alerts.yml"
    alerts.write_text(alerts.read_text().replace("> 900", "> 901"))
    result = runner.invoke(app, ["monitoring", "check", "--root", str(tmp_path), "--no-tools"])
    assert result.exit_code == 1
    assert "out of date" in result.output
    assert "-          > 901" in result.output or "> 901" in result.output


@pytest.mark.parametrize(
    ("text", "seconds", "canonical"),
    [("90s", 90, "1m30s"), ("15m", 900, "15m"), ("2h", 7200, "2h"), ("35d", 3_024_000, "35d"),
     ("1h30m", 5400, "1h30m"), ("1w", 604_800, "7d"), ("0s", 0, "0s")],
)  # fmt: skip
def test_durations(text: str, seconds: int, canonical: str) -> None:
    assert parse_duration(text) == seconds
    assert format_duration(seconds) == canonical


@pytest.mark.parametrize("bad", ["", "15", "m", "1.5h", "30m1h", "2hh", "-5m"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_human_duration() -> None:
    assert human_duration(900) == "15 min"
    assert human_duration(3_024_000) == "35 days"
    assert human_duration(5400) == "1 h 30 min"


def _raw() -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / artifacts.THRESHOLDS).read_text())
    assert isinstance(loaded, dict)
    return loaded


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["feeds"].pop("payment.qr"), "missing \\['payment.qr'\\]"),
        (lambda d: d["feeds"].__setitem__("payment.card", {"silent_after": "5m"}), "unknown"),
        (lambda d: d["feeds"]["payment.qr"].__setitem__("silent_after", "15 minutes"), "dur"),
        (lambda d: d["feeds"]["payment.qr"].__setitem__("severity", "page"), "severity"),
        (lambda d: d["stalls"]["overrides"].append({"province": "99", "for": "1h"}), "99"),
        (
            lambda d: d["stalls"]["overrides"].append(
                {"province": "38", "ward": "00070", "for": "1h"}  # a Hà Nội ward
            ),
            "not a commune of province 38",
        ),
        (lambda d: d["stalls"]["overrides"].append({"province": "38"}), "sets `for`"),
        (lambda d: d["rejects"].__setitem__("ratio", 2), "ratio"),
        (lambda d: d.__setitem__("surprise", 1), "surprise"),
        (lambda d: d["calendar"]["office_hours"].__setitem__("weekdays", ["funday"]), "monday"),
    ],
    ids=["missing-kind", "unknown-kind", "bad-duration", "bad-severity", "unknown-province",
         "ward-elsewhere", "empty-override", "ratio", "unknown-key", "weekday"],
)  # fmt: skip
def test_threshold_file_errors_are_readable(change: object, message: str) -> None:
    raw = _raw()
    change(raw)  # type: ignore[operator]
    with pytest.raises(ThresholdsError, match=message):
        thresholds.parse(raw)


def test_office_hours_threshold_that_never_fits_is_refused() -> None:
    raw = _raw()
    raw["feeds"]["service.payment"]["silent_after"] = "10h"  # type: ignore[index]
    th = thresholds.parse(raw)
    with pytest.raises(ThresholdsError, match="never fits in office hours"):
        artifacts.generate(artifacts.Inputs(th, artifacts.Inputs.load(ROOT).channels))


def test_tet_ranges_come_from_the_holiday_calendar() -> None:
    cal = thresholds.load(ROOT / artifacts.THRESHOLDS).calendar
    ranges = {first.year: (first.isoformat(), last.isoformat())
              for first, last in calendar.tet_ranges(cal)}  # fmt: skip
    # Tết 2026: holidays 16-20 February, widened by 3 days before and 4 after.
    assert ranges[2026] == ("2026-02-13", "2026-02-24")
    intervals = calendar.mute_intervals(cal)[calendar.TET]
    # 2025 straddles January and February: split at the month end.
    assert {"years": ["2025"], "months": ["january"], "days_of_month": ["24:31"],
            "location": "Asia/Ho_Chi_Minh"} in intervals  # fmt: skip
    assert {"years": ["2025"], "months": ["february"], "days_of_month": ["1:5"],
            "location": "Asia/Ho_Chi_Minh"} in intervals  # fmt: skip
