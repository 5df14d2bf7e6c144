"""Prometheus durations ("90s", "15m", "2h", "35d", "1h30m") to seconds and back."""

from __future__ import annotations

import re
from typing import Final

_UNITS: Final = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART: Final = re.compile(r"(\d+)(w|d|h|m|s)")
_WHOLE: Final = re.compile(r"(?:\d+(?:w|d|h|m|s))+")


def parse_duration(text: str) -> int:
    """Whole seconds of a Prometheus duration; units w, d, h, m, s, largest first."""
    if not _WHOLE.fullmatch(text):
        raise ValueError(f"not a duration like 15m, 2h or 1h30m: {text!r}")
    seconds = 0
    last_unit = float("inf")
    for amount, unit in _PART.findall(text):
        if _UNITS[unit] >= last_unit:
            raise ValueError(f"duration units must go from largest to smallest: {text!r}")
        last_unit = _UNITS[unit]
        seconds += int(amount) * _UNITS[unit]
    return seconds


def format_duration(seconds: int) -> str:
    """The canonical Prometheus spelling of a whole number of seconds (``0s`` for zero)."""
    if seconds < 0:
        raise ValueError(f"negative duration: {seconds}")
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in _UNITS.items():
        if unit == "w":
            continue  # "14d" reads better than "2w" in a threshold file
        amount, seconds = divmod(seconds, size)
        if amount:
            out.append(f"{amount}{unit}")
    return "".join(out)


def human_duration(seconds: int) -> str:
    """For summaries and docs: "15 min", "2 h", "35 days", "1 h 30 min"."""
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day" + ("s" if days != 1 else ""))
    if hours:
        parts.append(f"{hours} h")
    if minutes:
        parts.append(f"{minutes} min")
    if secs or not parts:
        parts.append(f"{secs} s")
    return " ".join(parts)
