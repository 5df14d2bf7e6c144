"""`civicpulse replay --legacy-codes` rewrites pre-2025 province codes; without it, bytes stay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from tests.factories import event, raw


def test_legacy_codes_are_rewritten_only_when_asked(fresh_kafka: str, tmp_path: Path) -> None:
    old = raw(event(province_code="36", ward_code=None))  # Nam Định, part of Ninh Bình since 2025
    log = tmp_path / "old.jsonl"
    log.write_bytes(old + b"\n")
    for flag in ([], ["--legacy-codes"]):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "civicpulse",
                "replay",
                str(log),
                "--bootstrap",
                fresh_kafka,
                *flag,
            ],
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr.decode()
    out = subprocess.run(
        [
            "kcat",
            "-b",
            fresh_kafka,
            "-C",
            "-t",
            "civic.identity.activations",
            "-e",
            "-q",
            "-f",
            "%s\n",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()
    assert len(out) == 2
    assert old in out  # without the flag: byte for byte
    rewritten = [orjson.loads(line) for line in out if line != old]
    assert len(rewritten) == 1
    assert rewritten[0]["province_code"] == "37"
    assert rewritten[0]["event_id"] == orjson.loads(old)["event_id"]
