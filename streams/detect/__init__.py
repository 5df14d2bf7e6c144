"""Stall and feed-outage detection: a pure core, in event time (see `detector`).

det = Detector()                              # or Detector.from_bytes(saved)
det.observe_accepted(kind, result.counted)    # after each Aggregator.apply
for alert in det.advance(watermark):          # event time: newest ts - allowed lateness
    send(alert.to_json())                     # contract section 4
det.open_stalls()                             # {(kind, province, ward or "")}: the gauge
saved = det.to_bytes()
"""

from streams.detect.alerts import NATIONAL, SIGNALS, Alert
from streams.detect.config import DetectorConfig, OutageRules, Rules
from streams.detect.detector import Detector
from streams.detect.exceptions import DetectError, StateError

__all__ = [
    "NATIONAL",
    "SIGNALS",
    "Alert",
    "DetectError",
    "Detector",
    "DetectorConfig",
    "OutageRules",
    "Rules",
    "StateError",
]
