"""parse_event: one table row per rule of contract section 1, each asserting the exact reason."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest

from schemas import (
    KINDS,
    MAX_EVENT_BYTES,
    BaseEvent,
    IdentityActivation,
    QrPayment,
    Reason,
    Rejection,
    ServicePayment,
    WelfareDisbursement,
    event_key,
    find_raw_id,
    parse_event,
    sniff_kind,
)
from schemas.samples import SAMPLE_NOW, SAMPLE_TS, sample_bytes, sample_event

NOW = SAMPLE_NOW
ID12 = "001099012345"  # shaped like a CCCD: province 001, century/sex 0, year 99
HEX_WITH_12_DIGITS = "0123456789012" + "ab" * 25 + "c"  # valid HMAC shape, 13 digits in a row
UUID_WITH_12_DIGITS = "3f2b8c1e-9a4d-4e2f-8b7a-123456789012"
DROP = object()  # marks a field to remove


def event(template: str = "payment.qr", /, **changes: Any) -> bytes:
    """A sample event of kind ``template`` with fields changed (or dropped with DROP), encoded."""
    obj = sample_event(template)
    for name, value in changes.items():
        if value is DROP:
            del obj[name]
        else:
            obj[name] = value
    return orjson.dumps(obj)


def splice(kind: str, text: str) -> bytes:
    """A sample event with raw JSON text (which orjson could not produce) added at the end."""
    return sample_bytes(kind)[:-1] + b"," + text.encode() + b"}"


def reason_of(raw: bytes, **kwargs: Any) -> Reason | None:
    result = parse_event(raw, now=NOW, **kwargs)
    return result.reason if isinstance(result, Rejection) else None


# --- valid events ---------------------------------------------------------------------------------

VALID = {
    "identity": event("identity.activation"),
    "identity-level-1": event("identity.activation", level=1),
    "qr": event("payment.qr"),
    "qr-null-payer-and-ward": event("payment.qr", payer_ref=None, ward_code=None),
    "qr-max-amount": event("payment.qr", amount_vnd=10_000_000_000_000),
    "qr-amount-12-digits": event("payment.qr", amount_vnd=123_456_789_012),
    "welfare": event("welfare.disbursement"),
    "welfare-cash-allowance": event(
        "welfare.disbursement", program="social_allowance", channel="cash"
    ),
    "service": event("service.payment"),
    "service-zero-amount-counter": event("service.payment", amount_vnd=0, channel="counter"),
    "service-64-chars": event("service.payment", service_code="x" * 64, dossier_ref="đ" * 64),
    "service-13-digit-run": event("service.payment", dossier_ref="H56-1234567890123"),
    "service-11-digit-run": event("service.payment", dossier_ref="H56-12345678901"),
    "uuid-uppercase": event(event_id="3F2B8C1E-9A4D-4E2F-8B7A-1C2D3E4F5A6B"),
    "uuid-nil": event(event_id="00000000-0000-0000-0000-000000000000"),
    "uuid-v7": event(event_id="0195b2c4-7e10-7cc3-98c4-dc0c0c07398f"),
    "uuid-with-12-digits": event(event_id=UUID_WITH_12_DIGITS),
    "hmac-with-12-digits": event("identity.activation", citizen_ref=HEX_WITH_12_DIGITS),
    "payer-hmac-with-12-digits": event(payer_ref=HEX_WITH_12_DIGITS),
    "time-utc-z": event(occurred_at="2025-03-14T01:15:00Z"),
    "time-fraction": event(occurred_at="2025-03-14T08:15:00.5+07:00"),
    "time-12-digit-fraction": event(occurred_at="2025-03-14T08:15:00.123456789012+07:00"),
    "time-negative-offset": event(occurred_at="2025-03-13T20:45:00-05:30"),
    "time-minus-zero-offset": event(occurred_at="2025-03-14T01:15:00-00:00"),
    "time-oldest-allowed": event(occurred_at="2020-01-01T00:00:00Z"),
    "time-oldest-allowed-offset": event(occurred_at="2020-01-01T07:00:00+07:00"),
    "time-300s-ahead": event(occurred_at="2025-03-14T09:20:00+07:00"),
    "source-32-chars": event(source="a" * 32),
    "source-all-classes": event(source="vn.eid_2-x"),
    "whitespace-around": b" \n" + event() + b"\r\n\t ",
    "whitespace-inside": event().replace(b'":', b'" : ').replace(b",", b" ,\n"),
    "keys-reordered": orjson.dumps(dict(reversed(sample_event().items()))),
    "escaped-slash": event("service.payment", dossier_ref="000/38").replace(b"/", b"\\/"),
    "unicode-escape": event("service.payment", service_code="H\u00f3a").replace(
        "ó".encode(), b"\\u00f3"
    ),
    "escaped-quote-and-backslash": event("service.payment", service_code='a"b\\', dossier_ref="\\"),
    "python-json-dumps-ascii": json.dumps(
        sample_event("service.payment", dossier_ref="Hồ sơ số 1/2025")
    ).encode(),
    "exactly-64-KiB": event() + b" " * (MAX_EVENT_BYTES - len(event())),
}


@pytest.mark.parametrize("raw", VALID.values(), ids=VALID.keys())
def test_valid_events_are_accepted(raw: bytes) -> None:
    result = parse_event(raw, now=NOW)
    assert isinstance(result, BaseEvent), result


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        ("identity.activation", IdentityActivation),
        ("payment.qr", QrPayment),
        ("welfare.disbursement", WelfareDisbursement),
        ("service.payment", ServicePayment),
    ],
    ids=KINDS,
)
def test_each_kind_gives_its_model_with_every_field(kind: str, model: type[BaseEvent]) -> None:
    result = parse_event(sample_bytes(kind), now=NOW, expected_kind=kind)
    assert type(result) is model
    assert result.model_dump() == sample_event(kind)
    assert result.occurred_at == "2025-03-14T08:15:00+07:00"  # kept as sent
    assert result.ts == SAMPLE_TS


@pytest.mark.parametrize(
    ("occurred_at", "ts"),
    [
        ("2025-03-14T08:15:00+07:00", 1_741_914_900.0),
        ("2025-03-14T01:15:00Z", 1_741_914_900.0),
        ("2025-03-13T19:45:00.25-05:30", 1_741_914_900.25),
        ("2020-01-01T00:00:00Z", 1_577_836_800.0),
    ],
)
def test_ts_is_epoch_seconds_of_occurred_at(occurred_at: str, ts: float) -> None:
    result = parse_event(event(occurred_at=occurred_at), now=NOW)
    assert isinstance(result, BaseEvent)
    assert result.occurred_at == occurred_at
    assert result.ts == pytest.approx(ts, abs=1e-6)


def test_events_are_frozen() -> None:
    result = parse_event(event(), now=NOW)
    assert isinstance(result, QrPayment)
    with pytest.raises(ValueError, match="frozen"):
        result.amount_vnd = 1


# --- rejections -----------------------------------------------------------------------------------

R = Reason
REJECTED: list[tuple[str, bytes, Reason]] = [
    # size: the limit is on bytes, checked before anything else
    ("too-large", event() + b" " * (MAX_EVENT_BYTES + 1 - len(event())), R.TOO_LARGE),
    ("too-large-garbage", b"\xff" * (MAX_EVENT_BYTES + 1), R.TOO_LARGE),
    # UTF-8
    ("utf8-invalid-start-byte", b"\xff" + event(), R.NOT_UTF8),
    ("utf8-latin1-in-string", event(source="x").replace(b'"x"', b'"caf\xe9"'), R.NOT_UTF8),
    ("utf8-overlong-slash", event(source="x").replace(b'"x"', b'"\xc0\xaf"'), R.NOT_UTF8),
    ("utf8-encoded-surrogate", event(source="x").replace(b'"x"', b'"\xed\xa0\x80"'), R.NOT_UTF8),
    ("utf8-truncated-sequence", event(source="x").replace(b'"x"', b'"\xe1\xba"'), R.NOT_UTF8),
    ("utf16-with-bom", event().decode().encode("utf-16"), R.NOT_UTF8),
    ("utf16-le-is-utf8-nul-bytes", event().decode().encode("utf-16-le"), R.NOT_JSON),
    # JSON
    ("empty", b"", R.NOT_JSON),
    ("blank", b" \n ", R.NOT_JSON),
    ("truncated", event()[:-1], R.NOT_JSON),
    ("single-quotes", b"{'kind': 'payment.qr'}", R.NOT_JSON),
    ("trailing-comma", event()[:-1] + b",}", R.NOT_JSON),
    ("trailing-garbage", event() + b"x", R.NOT_JSON),
    ("two-objects", event() + event(), R.NOT_JSON),
    ("comment", b"/* hi */" + event(), R.NOT_JSON),
    ("bom", b"\xef\xbb\xbf" + event(), R.NOT_JSON),
    ("nan-literal", splice("payment.qr", '"x": NaN'), R.NOT_JSON),
    ("infinity-literal", event().replace(b"125000", b"Infinity"), R.NOT_JSON),
    ("minus-infinity-literal", event().replace(b"125000", b"-Infinity"), R.NOT_JSON),
    ("number-overflows-double", event().replace(b"125000", b"1e400"), R.NOT_JSON),
    ("lone-surrogate-escape", event(source="x").replace(b'"x"', b'"\\ud800"'), R.NOT_JSON),
    ("control-char-in-string", event(source="x").replace(b'"x"', b'"a\x01"'), R.NOT_JSON),
    ("leading-zero-number", event().replace(b"125000", b"0125000"), R.NOT_JSON),
    ("nesting-2000-deep", splice("payment.qr", '"x":' + "[" * 2000 + "]" * 2000), R.NOT_JSON),
    ("nesting-1000-deep", splice("payment.qr", '"x":' + "[" * 1000 + "]" * 1000), R.NOT_JSON),
    # not an object
    ("array", b"[]", R.NOT_OBJECT),
    ("array-of-event", b"[" + event() + b"]", R.NOT_OBJECT),
    ("string", b'"payment.qr"', R.NOT_OBJECT),
    ("number", b"42", R.NOT_OBJECT),
    ("null", b"null", R.NOT_OBJECT),
    ("true", b"true", R.NOT_OBJECT),
    # repeated keys, at any level; parsers disagree on which copy wins
    ("dup-same-value", splice("payment.qr", '"source":"sample"'), R.DUPLICATE_KEY),
    ("dup-other-value", splice("payment.qr", '"amount_vnd":1'), R.DUPLICATE_KEY),
    ("dup-kind", splice("payment.qr", '"kind":"identity.activation"'), R.DUPLICATE_KEY),
    ("dup-nested", splice("payment.qr", '"x":{"a":1,"a":1}'), R.DUPLICATE_KEY),
    ("dup-with-escape", splice("payment.qr", '"sourc\\u0065":"sample"'), R.DUPLICATE_KEY),
    ("dup-after-escaped-quote", splice("service.payment", '"source":"a\\"b"'), R.DUPLICATE_KEY),
    (
        "dup-after-escaped-backslash",
        event("service.payment", service_code="a\\")[:-1] + b',"source":"b"}',
        R.DUPLICATE_KEY,
    ),
    ("dup-whitespace", splice("payment.qr", '"level" : 1 , "level" : 2'), R.DUPLICATE_KEY),
    # schema_version: anything but the integer 1, checked before kind and the field list
    ("version-2", event(schema_version=2), R.BAD_SCHEMA_VERSION),
    ("version-0", event(schema_version=0), R.BAD_SCHEMA_VERSION),
    ("version-string", event(schema_version="1"), R.BAD_SCHEMA_VERSION),
    ("version-true", event(schema_version=True), R.BAD_SCHEMA_VERSION),
    ("version-float", event(schema_version=1.0), R.BAD_SCHEMA_VERSION),
    ("version-null", event(schema_version=None), R.BAD_SCHEMA_VERSION),
    ("version-2-new-field", event(schema_version=2, region="north"), R.BAD_SCHEMA_VERSION),
    ("version-2-new-kind", event(schema_version=2, kind="payment.card"), R.BAD_SCHEMA_VERSION),
    # kind
    ("kind-missing", event(kind=DROP), R.MISSING_FIELD),
    ("kind-number", event(kind=1), R.WRONG_TYPE),
    ("kind-null", event(kind=None), R.WRONG_TYPE),
    ("kind-unknown", event(kind="payment.card"), R.UNKNOWN_KIND),
    ("kind-case", event(kind="Payment.QR"), R.UNKNOWN_KIND),
    ("kind-empty", event(kind=""), R.UNKNOWN_KIND),
    ("kind-trailing-space", event(kind="payment.qr "), R.UNKNOWN_KIND),
    # fields not in the contract
    ("extra-field", event(note="hi"), R.UNKNOWN_FIELD),
    ("extra-ts", event(ts=1.0), R.UNKNOWN_FIELD),
    ("extra-field-of-other-kind", event(level=1), R.UNKNOWN_FIELD),
    ("extra-key-case", event(Source="sample"), R.UNKNOWN_FIELD),
    ("extra-field-nested-clean", event(meta={"a": [1, "b"]}), R.UNKNOWN_FIELD),
    ("extra-amount-in-identity", event("identity.activation", amount_vnd=5), R.UNKNOWN_FIELD),
    # event_id
    ("event-id-number", event(event_id=1), R.WRONG_TYPE),
    ("event-id-no-hyphens", event(event_id="3f2b8c1e9a4d4e2f8b7a1c2d3e4f5a6b"), R.BAD_VALUE),
    ("event-id-braces", event(event_id="{3f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b}"), R.BAD_VALUE),
    ("event-id-urn", event(event_id="urn:uuid:3f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b"), R.BAD_VALUE),
    ("event-id-not-hex", event(event_id="3f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6g"), R.BAD_VALUE),
    ("event-id-newline", event(event_id="3f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b\n"), R.BAD_VALUE),
    ("event-id-empty", event(event_id=""), R.BAD_VALUE),
    ("event-id-arabic-digits", event(event_id="٣f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b"), R.BAD_VALUE),
    # occurred_at: RFC 3339 with explicit offset
    ("time-number", event(occurred_at=1_741_914_900), R.WRONG_TYPE),
    ("time-no-offset", event(occurred_at="2025-03-14T08:15:00"), R.BAD_TIME),
    ("time-space-separator", event(occurred_at="2025-03-14 08:15:00+07:00"), R.BAD_TIME),
    ("time-lowercase-t", event(occurred_at="2025-03-14t08:15:00+07:00"), R.BAD_TIME),
    ("time-date-only", event(occurred_at="2025-03-14"), R.BAD_TIME),
    ("time-no-seconds", event(occurred_at="2025-03-14T08:15+07:00"), R.BAD_TIME),
    ("time-basic-offset", event(occurred_at="2025-03-14T08:15:00+0700"), R.BAD_TIME),
    ("time-basic-format", event(occurred_at="20250314T081500Z"), R.BAD_TIME),
    ("time-feb-30", event(occurred_at="2025-02-30T08:15:00Z"), R.BAD_TIME),
    ("time-month-13", event(occurred_at="2025-13-01T08:15:00Z"), R.BAD_TIME),
    ("time-hour-24", event(occurred_at="2025-03-14T24:00:00Z"), R.BAD_TIME),
    ("time-leap-second", event(occurred_at="2016-12-31T23:59:60Z"), R.BAD_TIME),
    ("time-offset-24h", event(occurred_at="2025-03-14T08:15:00+24:00"), R.BAD_TIME),
    ("time-empty-fraction", event(occurred_at="2025-03-14T08:15:00.+07:00"), R.BAD_TIME),
    ("time-arabic-digits", event(occurred_at="٢٠٢٥-03-14T08:15:00Z"), R.BAD_TIME),
    ("time-trailing-newline", event(occurred_at="2025-03-14T08:15:00Z\n"), R.BAD_TIME),
    ("time-year-0000", event(occurred_at="0000-01-01T00:00:00Z"), R.BAD_TIME),
    ("time-too-old", event(occurred_at="2019-12-31T23:59:59Z"), R.TIME_TOO_OLD),
    ("time-too-old-by-offset", event(occurred_at="2020-01-01T06:59:59+07:00"), R.TIME_TOO_OLD),
    ("time-301s-ahead", event(occurred_at="2025-03-14T09:20:01+07:00"), R.TIME_IN_FUTURE),
    ("time-next-year", event(occurred_at="2026-03-14T08:15:00+07:00"), R.TIME_IN_FUTURE),
    # province_code: two ASCII digits, one of the 34
    ("province-number", event(province_code=38), R.WRONG_TYPE),
    ("province-null", event(province_code=None), R.WRONG_TYPE),
    ("province-arabic-indic", event(province_code="٣٨"), R.BAD_CODE),
    ("province-fullwidth", event(province_code="３８"), R.BAD_CODE),
    ("province-one-digit", event(province_code="8"), R.BAD_CODE),
    ("province-three-digits", event(province_code="038"), R.BAD_CODE),
    ("province-space", event(province_code=" 38"), R.BAD_CODE),
    ("province-newline", event(province_code="38\n"), R.BAD_CODE),
    ("province-empty", event(province_code=""), R.BAD_CODE),
    ("province-unknown", event(province_code="99", ward_code=None), R.UNKNOWN_PROVINCE),
    ("province-pre-2025", event(province_code="36", ward_code=None), R.UNKNOWN_PROVINCE),
    ("province-00", event(province_code="00", ward_code=None), R.UNKNOWN_PROVINCE),
    # ward_code: null or five ASCII digits, known, in the province
    ("ward-number", event(ward_code=14797), R.WRONG_TYPE),
    ("ward-list", event(ward_code=["14797"]), R.WRONG_TYPE),
    ("ward-arabic-indic", event(ward_code="١٤٧٩٧"), R.BAD_CODE),
    ("ward-four-digits", event(ward_code="4797"), R.BAD_CODE),
    ("ward-unpadded", event(ward_code="70", province_code="01"), R.BAD_CODE),
    ("ward-empty", event(ward_code=""), R.BAD_CODE),
    ("ward-unknown", event(ward_code="99999"), R.UNKNOWN_WARD),
    ("ward-of-hanoi-in-thanh-hoa", event(ward_code="00070"), R.WARD_NOT_IN_PROVINCE),
    # source
    ("source-number", event(source=7), R.WRONG_TYPE),
    ("source-null", event(source=None), R.WRONG_TYPE),
    ("source-empty", event(source=""), R.BAD_VALUE),
    ("source-33-chars", event(source="a" * 33), R.BAD_VALUE),
    ("source-uppercase", event(source="NAPAS"), R.BAD_VALUE),
    ("source-space", event(source="na pas"), R.BAD_VALUE),
    ("source-newline", event(source="napas\n"), R.BAD_VALUE),
    ("source-arabic-digits", event(source="napas١"), R.BAD_VALUE),
    # identity.activation
    ("level-0", event("identity.activation", level=0), R.BAD_VALUE),
    ("level-3", event("identity.activation", level=3), R.BAD_VALUE),
    ("level-true", event("identity.activation", level=True), R.WRONG_TYPE),
    ("level-string", event("identity.activation", level="2"), R.WRONG_TYPE),
    ("level-float", event("identity.activation", level=2.0), R.WRONG_TYPE),
    (
        "level-exponent",
        event("identity.activation").replace(b'"level":2', b'"level":2e0'),
        R.WRONG_TYPE,
    ),
    ("citizen-ref-uppercase", event("identity.activation", citizen_ref="AB" * 32), R.BAD_VALUE),
    ("citizen-ref-63", event("identity.activation", citizen_ref="a" * 63), R.BAD_VALUE),
    ("citizen-ref-65", event("identity.activation", citizen_ref="a" * 65), R.BAD_VALUE),
    ("citizen-ref-null", event("identity.activation", citizen_ref=None), R.WRONG_TYPE),
    ("citizen-ref-missing", event("identity.activation", citizen_ref=DROP), R.MISSING_FIELD),
    # payment.qr
    ("qr-amount-zero", event(amount_vnd=0), R.BAD_VALUE),
    ("qr-amount-negative", event(amount_vnd=-5), R.BAD_VALUE),
    ("qr-amount-over-max", event(amount_vnd=10_000_000_000_001), R.BAD_VALUE),
    ("qr-amount-beyond-int64", event().replace(b"125000", b"1" + b"0" * 30), R.BAD_VALUE),
    ("qr-amount-string", event(amount_vnd="125000"), R.WRONG_TYPE),
    ("qr-amount-float", event(amount_vnd=125000.0), R.WRONG_TYPE),
    ("qr-amount-exponent", event().replace(b"125000", b"1.25e5"), R.WRONG_TYPE),
    ("qr-amount-true", event(amount_vnd=True), R.WRONG_TYPE),
    ("qr-amount-null", event(amount_vnd=None), R.WRONG_TYPE),
    ("qr-category-unknown", event(merchant_category="casino"), R.BAD_VALUE),
    ("qr-category-case", event(merchant_category="Market"), R.BAD_VALUE),
    ("qr-category-number", event(merchant_category=1), R.WRONG_TYPE),
    ("qr-payer-ref-bad", event(payer_ref="not-hex"), R.BAD_VALUE),
    ("qr-payer-ref-number", event(payer_ref=5), R.WRONG_TYPE),
    ("qr-payer-ref-missing", event(payer_ref=DROP), R.MISSING_FIELD),
    # welfare.disbursement
    ("welfare-program-unknown", event("welfare.disbursement", program="bonus"), R.BAD_VALUE),
    ("welfare-channel-online", event("welfare.disbursement", channel="online"), R.BAD_VALUE),
    ("welfare-amount-zero", event("welfare.disbursement", amount_vnd=0), R.BAD_VALUE),
    ("welfare-ref-null", event("welfare.disbursement", beneficiary_ref=None), R.WRONG_TYPE),
    ("welfare-program-missing", event("welfare.disbursement", program=DROP), R.MISSING_FIELD),
    # service.payment
    ("service-channel-cash", event("service.payment", channel="cash"), R.BAD_VALUE),
    ("service-amount-negative", event("service.payment", amount_vnd=-1), R.BAD_VALUE),
    ("service-code-empty", event("service.payment", service_code=""), R.BAD_VALUE),
    ("service-code-65", event("service.payment", service_code="x" * 65), R.BAD_VALUE),
    ("service-dossier-65", event("service.payment", dossier_ref="đ" * 65), R.BAD_VALUE),
    ("service-dossier-number", event("service.payment", dossier_ref=1), R.WRONG_TYPE),
    ("service-code-missing", event("service.payment", service_code=DROP), R.MISSING_FIELD),
    # precedence among non-personal reasons
    ("unknown-before-missing", event(note="x", source=DROP), R.UNKNOWN_FIELD),
    ("missing-before-wrong-type", event(source=DROP, amount_vnd="1"), R.MISSING_FIELD),
    ("field-order-event-id-first", event(event_id="x", province_code="99"), R.BAD_VALUE),
    (
        "static-faults-before-time",
        event(occurred_at="2030-01-01T00:00:00Z", amount_vnd=0),
        R.BAD_VALUE,
    ),
]

PERSONAL: list[tuple[str, bytes]] = [
    # free-text fields
    ("source-12-digits", event(source=ID12)),
    ("source-12-digits-inside", event(source=f"vneid.{ID12}")),
    ("service-code-12-digits", event("service.payment", service_code=f"CCCD {ID12}")),
    ("dossier-ref-12-digits", event("service.payment", dossier_ref=f"H56-{ID12}")),
    (
        "dossier-ref-escaped-digits",
        event("service.payment", dossier_ref="d").replace(
            b'"d"', b'"' + b"".join(b"\\u003" + bytes([c]) for c in ID12.encode()) + b'"'
        ),
    ),
    # *_ref fields holding the ID instead of an HMAC
    ("citizen-ref-is-id", event("identity.activation", citizen_ref=ID12)),
    ("citizen-ref-is-id-int", event("identity.activation", citizen_ref=int(ID12) + 10**11)),
    ("payer-ref-is-id", event(payer_ref=ID12)),
    ("payer-ref-labelled-id", event(payer_ref=f"cccd:{ID12}")),
    ("beneficiary-ref-is-id", event("welfare.disbursement", beneficiary_ref=ID12)),
    ("ref-64-chars-with-id", event(payer_ref="Z" * 52 + ID12)),
    # unknown fields: key, string value, 12-digit integer, nested values
    ("unknown-string", event(cccd=ID12)),
    ("unknown-int", event(cccd=123_456_789_012)),
    ("unknown-negative-int", event(cccd=-123_456_789_012)),
    ("unknown-float", event(cccd=123_456_789_012.5)),
    ("unknown-key", event(**{f"id_{ID12}": True})),
    ("unknown-nested-list", event(meta=[1, ["x", ID12]])),
    ("unknown-nested-dict-value", event(meta={"citizen": {"id": ID12}})),
    ("unknown-nested-dict-key", event(meta={ID12: "x"})),
    ("unknown-ref-name-with-id", event(customer_ref=ID12)),
    ("amount-in-wrong-kind", event("identity.activation", amount_vnd=123_456_789_012)),
    # known fields holding the ID (invalid for their own rule)
    ("nested-in-known-field", event(ward_code={"cccd": ID12})),
    ("event-id-is-id", event(event_id=ID12)),
    ("kind-is-id", event(kind=ID12)),
    ("occurred-at-is-id", event(occurred_at=ID12)),
    ("province-is-id", event(province_code=ID12)),
    ("ward-is-id", event(ward_code=ID12)),
    ("level-is-id", event("identity.activation", level=123_456_789_012)),
    ("amount-is-id-string", event(amount_vnd=ID12)),
    # personal data outranks every other reason once the bytes are an object
    ("over-unknown-kind", event(kind="payment.card", source=ID12)),
    ("over-wrong-type", event(amount_vnd="1", note=ID12)),
    ("over-missing", event(event_id=DROP, source=ID12)),
    ("over-bad-version", event(schema_version=2, source=ID12)),
    ("over-duplicate", splice("payment.qr", f'"source":"{ID12}"')),
    ("over-duplicate-losing-copy", event(source=ID12)[:-1] + b',"source":"napas"}'),
    ("over-duplicate-nested", splice("payment.qr", f'"x":{{"a":"{ID12}","a":1}}')),
    ("over-too-old", event(occurred_at="2019-01-01T00:00:00Z", source=ID12)),
    ("over-future", event(occurred_at="2030-01-01T00:00:00Z", source=ID12)),
    # not a readable object but holding a 12-digit run: over-mask (the safe side)
    ("not-json-with-id", event(source=ID12)[:-1]),
    (
        "not-json-with-escaped-id",
        b'{"x":"' + b"".join(b"\\u003" + bytes([c]) for c in ID12.encode()),
    ),
    ("not-utf8-with-id", b"\xff" + ID12.encode()),
    ("not-object-with-id", b"[" + ID12.encode() + b"]"),
    ("bare-id", ID12.encode()),
    ("bom-with-id", b"\xef\xbb\xbf" + event(source=ID12)),
    ("too-large-with-id", event(note=ID12) + b" " * MAX_EVENT_BYTES),
    ("not-json-with-valid-uuid", event(event_id=UUID_WITH_12_DIGITS)[:-1]),
]


@pytest.mark.parametrize(
    ("raw", "reason"), [(raw, reason) for _, raw, reason in REJECTED], ids=[r[0] for r in REJECTED]
)
def test_rejections_give_the_exact_reason(raw: bytes, reason: Reason) -> None:
    result = parse_event(raw, now=NOW)
    assert isinstance(result, Rejection), result
    assert result.reason == reason, result.detail


@pytest.mark.parametrize("raw", [raw for _, raw in PERSONAL], ids=[p[0] for p in PERSONAL])
def test_raw_citizen_ids_are_personal_data(raw: bytes) -> None:
    result = parse_event(raw, now=NOW)
    assert isinstance(result, Rejection), result
    assert result.reason == Reason.PERSONAL_DATA, result.detail


@pytest.mark.parametrize(
    "raw",
    [raw for _, raw, _ in REJECTED] + [raw for _, raw in PERSONAL],
    ids=[r[0] for r in REJECTED] + [p[0] for p in PERSONAL],
)
def test_details_never_hold_a_raw_id(raw: bytes) -> None:
    result = parse_event(raw, now=NOW)
    assert isinstance(result, Rejection)
    assert result.detail
    assert not find_raw_id(result.detail)


@pytest.mark.parametrize(
    "non_ascii", ["٠٠١٠٩٩٠١٢٣٤٥", "００１０９９０１２３４５"], ids=["arabic", "fullwidth"]
)
def test_only_ascii_digit_runs_are_ids(non_ascii: str) -> None:
    # The contract's ID is ASCII digits; other scripts' digits are just text in a free field.
    assert isinstance(
        parse_event(event("service.payment", dossier_ref=non_ascii), now=NOW), BaseEvent
    )


EVERY_FIELD = [(kind, name) for kind in KINDS for name in sample_event(kind)]


@pytest.mark.parametrize(("kind", "name"), EVERY_FIELD, ids=[f"{k}.{n}" for k, n in EVERY_FIELD])
def test_every_field_is_required(kind: str, name: str) -> None:
    assert reason_of(event(kind, **{name: DROP})) == R.MISSING_FIELD


@pytest.mark.parametrize("wrong", [True, [], {}, 1.5], ids=["true", "array", "object", "float"])
@pytest.mark.parametrize(("kind", "name"), EVERY_FIELD, ids=[f"{k}.{n}" for k, n in EVERY_FIELD])
def test_every_field_has_a_json_type(kind: str, name: str, wrong: Any) -> None:
    expected = R.BAD_SCHEMA_VERSION if name == "schema_version" else R.WRONG_TYPE
    assert reason_of(event(kind, **{name: wrong})) == expected


# --- topic, clock and input types -----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_expected_kind_accepts_its_own_kind(kind: str) -> None:
    assert isinstance(parse_event(sample_bytes(kind), now=NOW, expected_kind=kind), BaseEvent)


@pytest.mark.parametrize(
    ("raw", "expected_kind", "reason"),
    [
        (sample_bytes("payment.qr"), "identity.activation", R.WRONG_TOPIC),
        (sample_bytes("service.payment"), "welfare.disbursement", R.WRONG_TOPIC),
        (event(kind="payment.card"), "payment.qr", R.UNKNOWN_KIND),
        (event(note="x"), "identity.activation", R.WRONG_TOPIC),
        (event(source=ID12), "identity.activation", R.PERSONAL_DATA),
        (b"[]", "payment.qr", R.NOT_OBJECT),
    ],
    ids=[
        "qr-on-identity",
        "service-on-welfare",
        "unknown-kind-first",
        "topic-before-fields",
        "personal-first",
        "not-object-first",
    ],
)
def test_wrong_topic(raw: bytes, expected_kind: str, reason: Reason) -> None:
    assert reason_of(raw, expected_kind=expected_kind) == reason


def test_default_clock_is_now() -> None:
    # No `now`: the sample (2025) is in the past of the real clock, a far-future event is not.
    assert isinstance(parse_event(event()), BaseEvent)
    far = parse_event(event(occurred_at="2999-01-01T00:00:00Z"))
    assert isinstance(far, Rejection)
    assert far.reason == R.TIME_IN_FUTURE


@pytest.mark.parametrize("wrap", [bytearray, memoryview], ids=["bytearray", "memoryview"])
def test_bytes_like_input(wrap: Any) -> None:
    assert isinstance(parse_event(wrap(event()), now=NOW), BaseEvent)


@pytest.mark.parametrize(
    ("value", "reason"),
    [(event().decode(), None), ("\ud800", R.NOT_UTF8), (None, R.NOT_JSON), (12, R.NOT_JSON)],
    ids=["str", "str-lone-surrogate", "kafka-tombstone", "int"],
)
def test_odd_input_types_never_raise(value: Any, reason: Reason | None) -> None:
    assert reason_of(value) == reason


def test_never_raises_on_mutated_bytes() -> None:
    rng = random.Random(20250314)
    seeds = [sample_bytes(kind) for kind in KINDS] + [event(meta={"a": [1, {"b": None}]})]
    alphabet = b'{}[]",:0123456789.-eE\\u \xff\xc3\xa9tfn'
    for _ in range(3000):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            action = rng.random()
            pos = rng.randrange(len(raw))
            if action < 0.4:
                raw[pos] = rng.choice(alphabet)
            elif action < 0.7:
                del raw[pos]
            else:
                raw.insert(pos, rng.choice(alphabet))
        result = parse_event(bytes(raw), now=NOW)
        assert isinstance(result, BaseEvent | Rejection)
        if isinstance(result, Rejection):
            assert not find_raw_id(result.detail)


# --- keys and routing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (event(), b"3f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b"),
        (
            event(event_id="3F2B8C1E-9A4D-4E2F-8B7A-1C2D3E4F5A6B"),
            b"3f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b",
        ),
        (
            event().replace(b'"event_id":', b'"event_id" :\n '),
            b"3f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b",
        ),
        (event()[:80], b"3f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b"),
        (event(event_id="not-a-uuid"), None),
        (event(event_id=DROP), None),
        (event(event_id=DROP, note='"event_id":"3f2b8c1e-9a4d-4e2f-8b7a-1c2d3e4f5a6b"'), None),
        (b"\xff\xfe", None),
        (b"", None),
    ],
    ids=[
        "plain",
        "lowercased",
        "whitespace",
        "truncated-message",
        "not-uuid",
        "missing",
        "only-inside-a-string",
        "binary",
        "empty",
    ],
)
def test_event_key(raw: bytes, key: bytes | None) -> None:
    assert event_key(raw) == key


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (sample_bytes("welfare.disbursement"), "welfare.disbursement"),
        (event(kind="payment.card"), "payment.card"),
        (event(kind=1), None),
        (event(kind=DROP), None),
        (event()[:-1], "payment.qr"),
        (b"[]", None),
        (b"\xff", None),
        (b"", None),
        (b'{"kind":"\xff"', None),
    ],
    ids=[
        "kind",
        "unknown-kind-is-still-read",
        "not-a-string",
        "missing",
        "truncated-json",
        "array",
        "binary",
        "empty",
        "binary-kind",
    ],
)
def test_sniff_kind(raw: bytes, kind: str | None) -> None:
    assert sniff_kind(raw) == kind
