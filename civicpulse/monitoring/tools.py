"""promtool and amtool, run on the generated files (Debian: packages prometheus and
prometheus-alertmanager; deploy/install-system-deps.sh installs them)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from civicpulse.monitoring.exceptions import ToolError


def available(tool: str) -> bool:
    return shutil.which(tool) is not None


def run(tool: str, *args: str | Path, cwd: Path | None = None, timeout: float = 120) -> str:
    """Run `tool args...`; its output, or `ToolError` with the output when it fails."""
    exe = shutil.which(tool)
    if exe is None:
        raise ToolError(f"{tool} is not installed (bash deploy/install-system-deps.sh)")
    proc = subprocess.run(
        [exe, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise ToolError(f"{tool} {' '.join(map(str, args))} failed:\n{output}")
    return output


def check_config(prometheus_yml: Path) -> str:
    # --syntax-only: the rule files are checked on their own (check_rules), and file_sd files
    # may legitimately be absent.
    return run("promtool", "check", "config", prometheus_yml)


def check_rules(rule_files: Sequence[Path]) -> str:
    return run("promtool", "check", "rules", *rule_files)


def run_rule_tests(test_files: Sequence[Path], cwd: Path | None = None) -> str:
    return run("promtool", "test", "rules", *test_files, cwd=cwd)


def check_alertmanager(config: Path) -> str:
    return run("amtool", "check-config", config)


def route_receivers(config: Path, labels: Sequence[str]) -> list[str]:
    """Receivers Alertmanager's routing gives an alert with `labels` (``name=value``)."""
    out = run("amtool", "config", "routes", "test", f"--config.file={config}", *labels)
    # amtool also warns on stderr that --config.file overrides --alertmanager.url.
    lines = [line for line in out.splitlines() if line and not line.startswith("Warning:")]
    return [r for r in lines[-1].strip().split(",") if r]
