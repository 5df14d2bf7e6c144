"""Grafana as code: a small dashboard builder, the dashboards, provisioning, validation."""

from __future__ import annotations

from typing import Final

DATASOURCE_UID: Final = "civicpulse-prometheus"
DATASOURCE_NAME: Final = "CivicPulse Prometheus"
FOLDER_UID: Final = "civicpulse"
FOLDER_TITLE: Final = "CivicPulse"
