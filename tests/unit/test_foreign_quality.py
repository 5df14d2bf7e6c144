"""`benchmarks.foreign_quality`: one command generates, detects, scores and pools; --rescore
scores the saved alerts to the same report; bad input is an error, not a report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import foreign_quality


def test_a_run_and_its_rescore_give_the_same_report(tmp_path: Path) -> None:
    # 9 days at 2 % of the volume: quick, and the naive rule (a trailing week) already fires
    args = ["--runs", "11:2025-03-03", "--days", "9", "--scale", "0.02", "--dir", str(tmp_path)]
    assert foreign_quality.main([*args, "--json", str(tmp_path / "run.json")]) == 0
    for name in ("s11.jsonl.gz", "s11.truth.json", "s11.alerts.jsonl", "s11.naive.jsonl"):
        assert (tmp_path / name).exists(), name
    report = json.loads((tmp_path / "run.json").read_text())
    naive_alerts = (tmp_path / "s11.naive.jsonl").read_bytes().count(b"\n")
    assert naive_alerts > 0
    assert report["pooled"]["naive"]["alerts"] == naive_alerts
    assert report["pooled"] == {
        k: report["runs"]["11:2025-03-03"][k] for k in ("detector", "naive")
    }
    assert foreign_quality.main([*args, "--rescore", "--json", str(tmp_path / "re.json")]) == 0
    assert json.loads((tmp_path / "re.json").read_text()) == report


def test_rescoring_what_was_never_run_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        foreign_quality.main(["--runs", "12:2025-03-03", "--dir", str(tmp_path), "--rescore"]) == 2
    )
    assert "nothing saved for seed 12" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["501", "501:2025-13-01", "x:2025-11-03"])
def test_a_run_not_written_seed_colon_date_is_refused(bad: str) -> None:
    with pytest.raises(SystemExit) as exc:
        foreign_quality.main(["--runs", bad])
    assert exc.value.code == 2
