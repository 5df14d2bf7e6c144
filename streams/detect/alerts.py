"""Alerts: contract section 4, exactly (`kind, province_code, ward_code, signal, started_at,
detected_at, severity`), and the project's signal vocabulary.

Localities: a commune alert names its ward; a province-wide alert has `ward_code` null. A feed
outage concerns every province at once: it is ONE alert with `province_code` `NATIONAL` ("00",
which is no province's code) and `ward_code` null, so that it reaches the central on-call team
rather than being routed to one province, and never as 3,321 commune alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from streams.detect.calendar import parse_rfc3339, rfc3339

NATIONAL: Final = "00"  # province_code of a feed-outage alert: every province

RATE_DROP: Final = {
    "identity.activation": "activation_rate_drop",
    "payment.qr": "qr_rate_drop",
    "service.payment": "service_rate_drop",
    "welfare.disbursement": "welfare_rate_drop",
}
CASHLESS_SHARE: Final = "cashless_share_regression"
ONLINE_SHARE: Final = "online_share_regression"
MISSING_BATCH: Final = "missing_batch"
GRADUAL_DECLINE: Final = "gradual_decline"
FEED_OUTAGE: Final = "feed_outage"
SIGNALS: Final = (*RATE_DROP.values(), CASHLESS_SHARE, ONLINE_SHARE, MISSING_BATCH,
                  GRADUAL_DECLINE, FEED_OUTAGE)  # fmt: skip

WARNING: Final = "warning"
CRITICAL: Final = "critical"


@dataclass(frozen=True, slots=True)
class Alert:
    """One raised alert. Times are Unix seconds of event time."""

    kind: str
    province_code: str
    ward_code: str | None
    signal: str
    started_at: float
    detected_at: float
    severity: str

    @property
    def is_outage(self) -> bool:
        return self.signal == FEED_OUTAGE

    @property
    def locality(self) -> tuple[str, str, str]:
        """(kind, province, ward or "") as in the `civicpulse_stalled` labels."""
        return (self.kind, self.province_code, self.ward_code or "")

    def to_contract(self) -> dict[str, Any]:
        """The alert as contract section 4's JSON object (times RFC 3339, +07:00)."""
        return {
            "kind": self.kind,
            "province_code": self.province_code,
            "ward_code": self.ward_code,
            "signal": self.signal,
            "started_at": rfc3339(self.started_at),
            "detected_at": rfc3339(self.detected_at),
            "severity": self.severity,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_contract())

    @classmethod
    def from_contract(cls, data: dict[str, Any]) -> Alert:
        return cls(
            kind=str(data["kind"]),
            province_code=str(data["province_code"]),
            ward_code=None if data.get("ward_code") is None else str(data["ward_code"]),
            signal=str(data["signal"]),
            started_at=parse_rfc3339(str(data["started_at"])),
            detected_at=parse_rfc3339(str(data["detected_at"])),
            severity=str(data["severity"]),
        )
