"""`civicpulse backtest --reference`: the rolls come from the operator's reference data, as the
worker's do (`CIVICPULSE_REFERENCE_FILE` when no file is given); a bad file is a one-line error
and exit 1, before anything is read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _backtest(
    tmp_path: Path, reference: str, *, from_env: bool = False
) -> subprocess.CompletedProcess[str]:
    log = tmp_path / "log.jsonl"
    log.write_text("")
    ref = tmp_path / "ref.csv"
    ref.write_text(reference)
    out = tmp_path / "alerts.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "CIVICPULSE_REFERENCE_FILE"}
    args = [sys.executable, "-m", "civicpulse", "backtest", str(log), "--alerts-out", str(out)]
    if from_env:  # as the worker reads it
        env["CIVICPULSE_REFERENCE_FILE"] = str(ref)
    else:
        args += ["--reference", str(ref)]
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=120, env=env)


@pytest.mark.parametrize("from_env", [False, True])
def test_a_bad_reference_file_is_an_error_naming_the_line(tmp_path: Path, from_env: bool) -> None:
    result = _backtest(tmp_path, "code,pensioners\n99999,5\n", from_env=from_env)
    assert result.returncode == 1
    said = " ".join(result.stderr.split())  # the console wraps long lines
    assert "ref.csv:2: code 99999: field 'code': unknown commune" in said
    assert not (tmp_path / "alerts.jsonl").exists()


def test_a_good_reference_file_is_used(tmp_path: Path) -> None:
    result = _backtest(tmp_path, "code,pensioners\n14797,4000\n")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "alerts.jsonl").read_text() == ""
