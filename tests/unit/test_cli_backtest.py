"""`civicpulse backtest --reference`: the rolls come from the operator's reference data, as the
worker's do; a bad file is a one-line error and exit 1, before anything is read."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _backtest(tmp_path: Path, reference: str) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "log.jsonl"
    log.write_text("")
    ref = tmp_path / "ref.csv"
    ref.write_text(reference)
    out = tmp_path / "alerts.jsonl"
    return subprocess.run(
        [sys.executable, "-m", "civicpulse", "backtest", str(log), "--alerts-out", str(out),
         "--reference", str(ref)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_a_bad_reference_file_is_an_error_naming_the_line(tmp_path: Path) -> None:
    result = _backtest(tmp_path, "code,pensioners\n99999,5\n")
    assert result.returncode == 1
    said = " ".join(result.stderr.split())  # the console wraps long lines
    assert "ref.csv:2: code 99999: field 'code': unknown commune" in said
    assert not (tmp_path / "alerts.jsonl").exists()


def test_a_good_reference_file_is_used(tmp_path: Path) -> None:
    result = _backtest(tmp_path, "code,pensioners\n14797,4000\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "alerts.jsonl").read_text() == ""
