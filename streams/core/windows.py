"""Event-time windows, aligned to Vietnam's local time (UTC+07:00, no daylight saving)."""

from __future__ import annotations

HOUR = 3600
DAY = 86400
VN_OFFSET = 7 * HOUR


def hour_start(ts: float) -> int:
    """Start (Unix seconds) of the clock hour containing `ts` (hours align in any zone)."""
    return int(ts // HOUR) * HOUR


def day_start(ts: float) -> int:
    """Start (Unix seconds) of the Vietnamese calendar day containing `ts`."""
    return int((ts + VN_OFFSET) // DAY) * DAY - VN_OFFSET
