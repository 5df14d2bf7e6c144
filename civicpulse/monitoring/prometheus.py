"""Prometheus files: the recording and alerting rule files, and ``prometheus.yml``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from civicpulse.monitoring import yamlio
from civicpulse.monitoring.alerts import WORKER_JOB, AlertSpec, alert_specs
from civicpulse.monitoring.recording import recording_rules
from civicpulse.monitoring.thresholds import Thresholds

RECORDING_FILE: Final = "rules/civicpulse-recording.yml"
ALERTS_FILE: Final = "rules/civicpulse-alerts.yml"


def alert_rule(spec: AlertSpec, th: Thresholds) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": spec.name, "expr": spec.expr}
    if spec.for_ not in ("0s", "0m"):
        rule["for"] = spec.for_
    rule["labels"] = spec.labels()
    rule["annotations"] = spec.annotations(th)
    return rule


def alerts_file(th: Thresholds) -> str:
    groups: dict[str, list[dict[str, Any]]] = {}
    for spec in alert_specs(th):
        groups.setdefault(spec.group, []).append(alert_rule(spec, th))
    data = {"groups": [{"name": name, "rules": rules} for name, rules in groups.items()]}
    return yamlio.dump(data, f"{yamlio.GENERATED}\nAlerting rules; runbook: docs/operations.md.")


def recording_file(th: Thresholds) -> str:
    data = {
        "groups": [
            {"name": name, "rules": [{"record": r.record, "expr": r.expr} for r in rules]}
            for name, rules in recording_rules(th).items()
        ]
    }
    return yamlio.dump(
        data,
        f"{yamlio.GENERATED}\nRecording rules read by the Grafana dashboards "
        "(see civicpulse/monitoring/recording.py).",
    )


@dataclass(frozen=True)
class PrometheusSetup:
    """What differs between the shipped ``prometheus.yml`` and a test's."""

    worker_targets: Sequence[str] = ("127.0.0.1:6066",)
    alertmanagers: Sequence[str] = ("127.0.0.1:9093",)
    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"
    rule_files: Sequence[str] = ("rules/*.yml",)
    # file_sd: more workers listed in files Prometheus re-reads (none shipped; see the example).
    file_sd: Sequence[str] = ("targets/*.yml",)
    self_targets: dict[str, str] = field(
        default_factory=lambda: {"prometheus": "127.0.0.1:9090", "alertmanager": "127.0.0.1:9093"}
    )


def prometheus_config(setup: PrometheusSetup = PrometheusSetup()) -> dict[str, Any]:
    worker: dict[str, Any] = {
        "job_name": WORKER_JOB,
        "metrics_path": "/metrics",
        "static_configs": [{"targets": list(setup.worker_targets)}],
    }
    if setup.file_sd:
        worker["file_sd_configs"] = [{"files": list(setup.file_sd), "refresh_interval": "1m"}]
    scrapes = [worker] + [
        {"job_name": job, "static_configs": [{"targets": [target]}]}
        for job, target in setup.self_targets.items()
    ]
    return {
        "global": {
            "scrape_interval": setup.scrape_interval,
            "evaluation_interval": setup.evaluation_interval,
            "external_labels": {"monitor": "civicpulse"},
        },
        "rule_files": list(setup.rule_files),
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": list(setup.alertmanagers)}]}]
        },
        "scrape_configs": scrapes,
    }


def prometheus_yml(setup: PrometheusSetup = PrometheusSetup()) -> str:
    return yamlio.dump(
        prometheus_config(setup),
        f"{yamlio.GENERATED}\n"
        "Paths are relative to this file. One worker on 127.0.0.1:6066; for several workers,\n"
        "list them in targets/<name>.yml (see targets/workers.yml.example) and empty the\n"
        "static target. Run: prometheus --config.file=deploy/prometheus/prometheus.yml",
    )


FILE_SD_EXAMPLE: Final = """\
# Several CivicPulse workers, for Prometheus file-based discovery: copy this file to
# deploy/prometheus/targets/workers.yml (any *.yml there is read, and re-read when it changes,
# without restarting Prometheus). Each worker runs with its own CIVICPULSE_WEB_PORT and
# CIVICPULSE_INSTANCE_ID; remove the static 127.0.0.1:6066 target of prometheus.yml if it is
# listed here too, or it is scraped twice.
- targets:
    - 10.0.0.11:6066
    - 10.0.0.12:6066
    - 10.0.0.13:6066
  labels:
    site: hanoi-dc1
"""
