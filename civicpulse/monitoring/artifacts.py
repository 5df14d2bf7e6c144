"""Every generated file, by path relative to the repository root; writing and diffing them.

Inputs: ``deploy/thresholds.yaml`` and ``deploy/alertmanager/channels.yaml``. Outputs: the
files listed by `generate`, all committed: `stale` tells which differ from the code's output.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from civicpulse.monitoring import alertmanager, prometheus, thresholds
from civicpulse.monitoring.grafana import dashboards, provisioning, validate

THRESHOLDS: Final = Path("deploy/thresholds.yaml")
CHANNELS: Final = Path("deploy/alertmanager/channels.yaml")
PROMETHEUS_DIR: Final = Path("deploy/prometheus")
ALERTMANAGER_YML: Final = Path("deploy/alertmanager/alertmanager.yml")
GRAFANA_DIR: Final = Path("deploy/grafana")


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest directory holding deploy/thresholds.yaml, from `start`
    (default: the working directory), else the checkout this package is installed from."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / THRESHOLDS).is_file():
            return candidate
    source = Path(__file__).resolve().parents[2]
    if (source / THRESHOLDS).is_file():
        return source
    raise FileNotFoundError(f"no {THRESHOLDS} in {here} or above")


@dataclass(frozen=True)
class Inputs:
    thresholds: thresholds.Thresholds
    channels: alertmanager.Channels

    @classmethod
    def load(cls, root: Path) -> Inputs:
        return cls(thresholds.load(root / THRESHOLDS), alertmanager.load_channels(root / CHANNELS))


def dashboard_json(dashboard: dict[str, Any]) -> str:
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


def generate(inputs: Inputs) -> dict[Path, str]:
    """Every generated file's text, by path relative to the repository root."""
    th, ch = inputs.thresholds, inputs.channels
    out: dict[Path, str] = {
        PROMETHEUS_DIR / "prometheus.yml": prometheus.prometheus_yml(),
        PROMETHEUS_DIR / prometheus.RECORDING_FILE: prometheus.recording_file(th),
        PROMETHEUS_DIR / prometheus.ALERTS_FILE: prometheus.alerts_file(th),
        PROMETHEUS_DIR / "targets/workers.yml.example": prometheus.FILE_SD_EXAMPLE,
        ALERTMANAGER_YML: alertmanager.alertmanager_yml(th, ch),
    }
    for rel, text in provisioning.files(th, ch).items():
        out[GRAFANA_DIR / "provisioning" / rel] = text
    for uid, dashboard in dashboards.dashboards(th).items():
        out[GRAFANA_DIR / "dashboards" / f"{uid}.json"] = dashboard_json(dashboard)
    return out


def write(root: Path, files: dict[Path, str]) -> list[Path]:
    """Write the files that changed; returns them."""
    changed = []
    for rel, text in files.items():
        path = root / rel
        if path.is_file() and path.read_text(encoding="utf-8") == text:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        changed.append(rel)
    return changed


def stale(root: Path, files: dict[Path, str]) -> dict[Path, str]:
    """Files whose committed text differs from `files`, with a unified diff each."""
    out = {}
    for rel, text in files.items():
        path = root / rel
        current = path.read_text(encoding="utf-8") if path.is_file() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                f"committed/{rel}",
                f"generated/{rel}",
                n=1,
            )
            out[rel] = "".join(diff)
    return out


def validate_grafana(files: dict[Path, str]) -> None:
    """Structural validation of the generated dashboards and provisioning."""
    boards = [
        json.loads(text) for rel, text in files.items() if rel.parent == GRAFANA_DIR / "dashboards"
    ]
    prov_dir = GRAFANA_DIR / "provisioning"
    prov = {
        rel.relative_to(prov_dir).as_posix(): yaml.safe_load(text)
        for rel, text in files.items()
        if prov_dir in rel.parents
    }
    validate.check_all(boards, prov)
