"""Valid example events, for tests and benchmarks (deterministic, no I/O)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import orjson

from schemas.events import KINDS
from schemas.localities import all_wards
from schemas.privacy import hmac_ref

SAMPLE_OCCURRED_AT: Final = "2025-03-14T08:15:00+07:00"
SAMPLE_TS: Final = 1_741_914_900.0  # SAMPLE_OCCURRED_AT in Unix seconds
SAMPLE_NOW: Final = SAMPLE_TS + 3600.0  # a worker clock one hour later
SAMPLE_KEY: Final = b"civicpulse-sample-key"  # not a secret: only for made-up citizens

_REF: Final = hmac_ref("001099012345", SAMPLE_KEY)
_COMMON: Final[dict[str, Any]] = {
    "event_id": "3f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b",
    "occurred_at": SAMPLE_OCCURRED_AT,
    "province_code": "38",  # Thanh Hóa
    "ward_code": "14797",  # Phường Hạc Thành, in Thanh Hóa
    "source": "sample",
    "schema_version": 1,
}
_SPECIFIC: Final[dict[str, dict[str, Any]]] = {
    "identity.activation": {"level": 2, "citizen_ref": _REF},
    "payment.qr": {"amount_vnd": 125_000, "merchant_category": "market", "payer_ref": _REF},
    "welfare.disbursement": {
        "program": "pension",
        "channel": "bank_account",
        "amount_vnd": 3_500_000,
        "beneficiary_ref": _REF,
    },
    "service.payment": {
        "channel": "online",
        "amount_vnd": 50_000,
        "service_code": "1.001757.000.00.00.H56",
        "dossier_ref": "000.00.38.H56-250314-0001",
    },
}


def sample_event(kind: str = "payment.qr", **overrides: Any) -> dict[str, Any]:
    """A valid event of ``kind`` as a dict, in contract field order, with ``overrides`` applied."""
    event = {"event_id": _COMMON["event_id"], "kind": kind}
    event.update(_COMMON)
    event.update(_SPECIFIC[kind])
    event.update(overrides)
    return event


def sample_bytes(kind: str = "payment.qr", **overrides: Any) -> bytes:
    """``sample_event`` encoded as a message value."""
    return orjson.dumps(sample_event(kind, **overrides))


def generate_events(count: int, *, seed: int = 0, end: datetime | None = None) -> Iterator[bytes]:
    """``count`` valid, varied events over the 24 h before ``end``, QR payments the majority."""
    rng = random.Random(seed)
    wards = sorted(all_wards().items())
    end = end or datetime.fromtimestamp(SAMPLE_TS, UTC)
    ict = timezone(timedelta(hours=7))
    weights = {
        "identity.activation": 2,
        "payment.qr": 6,
        "welfare.disbursement": 1,
        "service.payment": 1,
    }
    kinds = rng.choices(KINDS, weights=[weights[k] for k in KINDS], k=count)
    for kind in kinds:
        ward, province = rng.choice(wards)
        at = end - timedelta(seconds=rng.uniform(0, 86_400))
        event = sample_event(
            kind,
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            occurred_at=at.astimezone(ict).isoformat(timespec="seconds"),
            province_code=province,
            ward_code=ward if rng.random() < 0.9 else None,
            source=rng.choice(("vneid", "napas", "vss", "dvcqg")),
        )
        if "amount_vnd" in event:
            event["amount_vnd"] = rng.randint(1, 5_000_000)
        yield orjson.dumps(event)
