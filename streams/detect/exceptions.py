"""Errors of the detector; one shared base so callers can catch them all."""

from __future__ import annotations


class DetectError(Exception):
    """Base of every detector error."""


class StateError(DetectError):
    """A saved detector state cannot be restored (corrupt, or from another format version)."""


class TruthError(DetectError):
    """A ground-truth or alerts file cannot be read for scoring."""
