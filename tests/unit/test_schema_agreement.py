"""The hand-written fast path and full pydantic validation accept exactly the same events.

``parse_event`` checks the rules itself and builds models without validating them again; the
pydantic models are the schema of record. This test feeds both a large table of valid and
invalid inputs (every field of every kind replaced by hostile values, dropped, or joined by an
extra field, plus generated events) and requires the same verdict and, when accepted, equal
models with the same ``ts``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas import (
    KINDS,
    MAX_EVENT_BYTES,
    MODEL_BY_KIND,
    BaseEvent,
    Rejection,
    parse_event,
    validate_event_dict,
)
from schemas.samples import SAMPLE_NOW, generate_events, sample_event

NOW = SAMPLE_NOW
ID12 = "001099012345"

# Replacement values tried in every field: right and wrong types, boundaries, look-alikes.
HOSTILE: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    2,
    3,
    -1,
    1.0,
    2.0,
    0.5,
    "",
    " ",
    "1",
    "2",
    "x" * 64,
    "x" * 65,
    "a" * 33,
    ID12,
    f"x{ID12}",
    "1234567890123",
    "٣٨",
    "３８",
    "38",
    "01",
    "99",
    "00070",
    "14797",
    "16522",
    "99999",
    "1479",
    "market",
    "Market",
    "pension",
    "social_allowance",
    "bank_account",
    "cash",
    "online",
    "counter",
    "payment.qr",
    "identity.activation",
    "welfare.disbursement",
    "service.payment",
    "vneid",
    "vn.eid_2-x",
    "VNEID",
    "3f2b8c1e-9a4d-4e2f-8b7a-123456789012",
    "3F2B8C1E-9A4D-4E2F-8B7A-1C2D3E4F5A6B",
    "3f2b8c1e9a4d4e2f8b7a1c2d3e4f5a6b",
    "2025-03-14T08:15:00Z",
    "2025-03-14T08:15:00.123456789012+07:00",
    "2025-03-14 08:15:00+07:00",
    "2025-03-14T08:15:00",
    "2025-02-30T08:15:00Z",
    "2019-12-31T23:59:59Z",
    "2020-01-01T00:00:00Z",
    "2025-03-14T09:20:00+07:00",
    "2025-03-14T09:20:01+07:00",
    "0123456789012" + "ab" * 25 + "c",
    "ab" * 32,
    "AB" * 32,
    "a" * 63,
    0,
    10_000_000_000_000,
    10_000_000_000_001,
    123_456_789_012,
    -123_456_789_012,
    10**30,
    [],
    {},
    [ID12],
    {"a": 1},
]


def _mutations() -> Iterator[tuple[str, Any]]:
    for kind in KINDS:
        base = sample_event(kind)
        yield f"{kind}:valid", base
        for field in base:
            for index, value in enumerate(HOSTILE):
                yield f"{kind}:{field}={index}", {**base, field: value}
            yield f"{kind}:-{field}", {k: v for k, v in base.items() if k != field}
        for other in KINDS:  # every kind's fields on every kind, and kinds swapped
            yield f"{kind}:kind={other}", {**base, "kind": other}
            for field, value in sample_event(other).items():
                yield f"{kind}:+{other}.{field}", {**base, field: value}
        yield f"{kind}:+extra", {**base, "note": "x"}
        yield f"{kind}:+nested", {**base, "note": {"id": ID12}}


def _strict_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("repeated key")
    return obj


def reference(raw: bytes) -> BaseEvent | None:
    """The event per full pydantic validation, or None when rejected.

    The JSON layer is shared on purpose (orjson decides what is JSON, the stdlib finds
    repeated keys and keeps big integers exact): what is compared here are the event rules.
    """
    if len(raw) > MAX_EVENT_BYTES:
        return None
    try:
        orjson.loads(raw)
        obj = json.loads(raw.decode("utf-8"), object_pairs_hook=_strict_pairs)
    except (ValueError, RecursionError):
        return None
    try:
        event = validate_event_dict(obj, now=NOW)
    except ValidationError:
        return None
    assert isinstance(event, BaseEvent)
    return event


def _dumps(obj: Any) -> bytes:
    # The stdlib, not orjson: it can write integers beyond 64 bits.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


CASES = [(name, _dumps(obj)) for name, obj in _mutations()]
CASES += [(f"generated-{i}", raw) for i, raw in enumerate(generate_events(500, seed=7))]
CASES += [
    ("dup-key", orjson.dumps(sample_event())[:-1] + b',"source":"sample"}'),
    ("float-exponent", orjson.dumps(sample_event()).replace(b"125000", b"1.25e5")),
    ("huge-int", orjson.dumps(sample_event()).replace(b"125000", b"1" + b"0" * 30)),
    ("escaped", orjson.dumps(sample_event()).replace(b"sample", b"sampl\\u0065")),
]


def test_the_table_is_large_and_mixed() -> None:
    verdicts = [isinstance(parse_event(raw, now=NOW), BaseEvent) for _, raw in CASES]
    assert len(CASES) > 3500
    assert 600 < sum(verdicts) < len(CASES) - 2500


def test_fast_path_agrees_with_pydantic() -> None:
    disagreements = []
    for name, raw in CASES:
        fast = parse_event(raw, now=NOW)
        full = reference(raw)
        if isinstance(fast, Rejection) or full is None:
            if not (isinstance(fast, Rejection) and full is None):
                disagreements.append((name, fast, full))
            continue
        same = (
            type(fast) is type(full)
            and fast == full
            and fast.model_dump() == full.model_dump()
            and fast.ts == full.ts
            and fast.model_fields_set == full.model_fields_set
        )
        if not same:
            disagreements.append((name, fast, full))
    assert disagreements == []


@pytest.mark.parametrize("kind", KINDS)
def test_built_models_behave_like_validated_ones(kind: str) -> None:
    raw = orjson.dumps(sample_event(kind))
    fast = parse_event(raw, now=NOW)
    full = reference(raw)
    assert isinstance(fast, MODEL_BY_KIND[kind])
    assert full is not None
    assert hash(fast) == hash(full)
    assert fast.model_dump_json() == full.model_dump_json()
    assert repr(fast) == repr(full)
    copy = fast.model_copy(update={"source": "other"})
    assert copy.source == "other"
    assert fast.source == "sample"
