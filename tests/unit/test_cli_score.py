"""`civicpulse score`: the episodes that changed the log are scored apart too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from civicpulse.cli import app
from streams.detect.alerts import Alert
from streams.detect.calendar import parse_rfc3339
from streams.detect.scoring import TruthEpisode, merge_overlapping

QR = "payment.qr"
DAY = "2025-03-10T"


def _episode(
    signal: str, province: str | None, start: str, end: str, **extra: Any
) -> dict[str, Any]:
    return {"kind": QR, "province_code": province, "ward_code": None, "signal": signal,
            "start": DAY + start + "+07:00", "end": DAY + end + "+07:00", **extra}  # fmt: skip


def _files(tmp_path: Path, episodes: list[dict[str, Any]]) -> list[str]:
    truth, alerts = tmp_path / "truth.json", tmp_path / "alerts.jsonl"
    truth.write_text(json.dumps({"days": 10, "episodes": episodes}))
    found = Alert(QR, "38", None, "qr_rate_drop", parse_rfc3339(DAY + "08:00:00+07:00"),
                  parse_rfc3339(DAY + "11:00:00+07:00"), "critical")  # fmt: skip
    alerts.write_bytes(found.to_json() + b"\n")
    return ["score", "--alerts", str(alerts), "--truth", str(truth)]


def test_score_reports_the_observable_episodes_apart(tmp_path: Path) -> None:
    args = _files(
        tmp_path,
        [
            _episode("qr_rate_drop", "38", "08:00:00", "20:00:00", effect=900),
            # A QR outage at night: in the truth, not in the log.
            _episode("feed_outage", None, "02:00:00", "04:00:00", effect=3),
        ],
    )
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "missed: feed_outage payment.qr everywhere (effect: 3 events)" in result.output
    assert "observable (effect >= 20 events): recall 1.0 (1/1), precision 1.0" in result.output
    data = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    assert data["recall"] == 0.5
    assert data["observable"]["recall"] == 1.0
    assert data["observable"]["min_effect"] == 20.0
    stricter = json.loads(CliRunner().invoke(app, [*args, "--json", "--observable", "1000"]).output)
    assert stricter["observable"]["episodes"] == 0


def test_score_without_effects_in_the_truth_scores_every_episode_only(tmp_path: Path) -> None:
    args = _files(tmp_path, [_episode("qr_rate_drop", "38", "08:00:00", "20:00:00")])
    data = json.loads(CliRunner().invoke(app, [*args, "--json"]).output)
    assert data["recall"] == 1.0
    assert "observable" not in data
    assert "observable" not in CliRunner().invoke(app, args).output


def test_overlapping_episodes_merged_keep_the_larger_effect() -> None:
    start = parse_rfc3339(DAY + "03:00:00+07:00")
    truth = [
        TruthEpisode(QR, None, None, "feed_outage", start, start + 6 * 3600, effect=5000),
        TruthEpisode(QR, None, None, "feed_outage", start + 4 * 3600, start + 6 * 3600, effect=1),
    ]
    assert [ep.effect for ep in merge_overlapping(truth)] == [5000]
