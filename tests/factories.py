"""Builders of contract events for tests: valid by default, any field overridable."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import orjson

THANH_HOA = "38"
HAC_THANH = "14797"  # a ward of Thanh Hóa
QUANG_PHU = "16522"  # another ward of Thanh Hóa
HA_NOI = "01"
HOAN_KIEM = "00070"  # a ward of Hà Nội

_REF = hashlib.sha256(b"test-citizen").hexdigest()

BASE: dict[str, dict[str, Any]] = {
    "identity.activation": {"level": 2, "citizen_ref": _REF},
    "payment.qr": {"amount_vnd": 50_000, "merchant_category": "market", "payer_ref": None},
    "welfare.disbursement": {
        "program": "pension",
        "channel": "bank_account",
        "amount_vnd": 3_500_000,
        "beneficiary_ref": _REF,
    },
    "service.payment": {
        "channel": "online",
        "amount_vnd": 20_000,
        "service_code": "1.001234",
        "dossier_ref": "H38.22-250314-0001",
    },
}


def event(kind: str = "identity.activation", **fields: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "kind": kind,
        "occurred_at": "2025-03-14T08:15:00+07:00",
        "province_code": THANH_HOA,
        "ward_code": HAC_THANH,
        "source": "vneid",
        "schema_version": 1,
        **BASE[kind],
    }
    ev.update(fields)
    return ev


def raw(ev: dict[str, Any]) -> bytes:
    return orjson.dumps(ev)


def event_bytes(kind: str = "identity.activation", **fields: Any) -> bytes:
    return raw(event(kind, **fields))
