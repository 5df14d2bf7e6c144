"""Errors of the monitoring generators: one base, one line each."""

from __future__ import annotations


class MonitoringError(Exception):
    """Base of every error of `civicpulse.monitoring` (printed as one line by the CLI)."""


class ThresholdsError(MonitoringError):
    """The threshold or channel file is not valid."""


class ArtifactValidationError(MonitoringError):
    """A generated artefact (dashboard, rule file, config) breaks a structural rule."""


class StaleArtifactsError(MonitoringError):
    """Committed generated files differ from what the code generates."""


class ToolError(MonitoringError):
    """promtool or amtool failed, or is not installed."""
