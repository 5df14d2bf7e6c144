"""Raw citizen IDs: finding and masking them on the wire, and the HMAC producers send instead."""

from __future__ import annotations

import json
import random

import pytest

from schemas import BaseEvent, find_raw_id, hmac_ref, mask_raw_ids, parse_event
from schemas.privacy import contains_raw_id
from schemas.samples import SAMPLE_NOW, sample_bytes

ID12 = "001099012345"
STARS = "*" * 12


def escaped(digits: str) -> str:
    """Digits as JSON \\u escapes, as some encoders write them."""
    return "".join(f"\\u{ord(c):04x}" for c in digits)


FIND = [
    ("id-alone", ID12, True),
    ("id-in-text", f"cccd {ID12}.", True),
    ("id-between-letters", f"a{ID12}b", True),
    ("id-in-json", json.dumps({"x": ID12}), True),
    ("id-as-json-number", '{"x":123456789012}', True),
    ("negative-number", "-123456789012", True),
    ("two-ids", f"{ID12} {ID12}", True),
    ("11-digits", "12345678901", False),
    ("13-digits", "1234567890123", False),
    ("24-digits", ID12 * 2, False),
    ("digit-groups", "0010 9901 2345", False),
    ("empty", "", False),
    ("arabic-indic", "٠٠١٠٩٩٠١٢٣٤٥", False),
    ("fullwidth", "００１０９９０１２３４５", False),
    ("uuid-tail-is-text", "3f2b8c1e-9a4d-4e2f-8b7a-123456789012", True),
    ("escaped-digits", escaped(ID12), True),
    ("half-escaped", ID12[:6] + escaped(ID12[6:]), True),
    ("after-hex-escape", "\\u0041" + ID12, True),
    ("after-escaped-quote", '\\"' + ID12, True),
    ("after-escaped-backslash", "\\\\" + ID12, True),
    ("13-with-escape", escaped("1") + ID12, False),
    # Escapes are not paired from the start of the text, so a longer escaped run may be read
    # from inside its first escape: over-detection, the safe direction for a rejected payload.
    ("escaped-13-over-detected", escaped(ID12 + "1"), True),
    ("escaped-backslash-then-u", "\\\\u" + escaped(ID12), True),
    ("invalid-escape-is-text", "\\1" + ID12[1:] + "9", False),
]


@pytest.mark.parametrize(("text", "found"), [f[1:] for f in FIND], ids=[f[0] for f in FIND])
def test_find_raw_id(text: str, found: bool) -> None:
    assert find_raw_id(text) is found
    assert find_raw_id(text.encode()) is found


MASK = [
    ("id-alone", ID12, STARS),
    ("id-in-text", f"cccd {ID12}.", f"cccd {STARS}."),
    ("two-ids", f"{ID12},{ID12}", f"{STARS},{STARS}"),
    ("13-digits-kept", "1234567890123", "1234567890123"),
    ("11-digits-kept", "12345678901", "12345678901"),
    ("json-string", json.dumps({"x": ID12}), json.dumps({"x": STARS})),
    ("escaped-run", f'"{escaped(ID12)}"', f'"{STARS}"'),
    ("after-hex-escape", f'"\\u00e9{ID12}"', f'"\\u00e9{STARS}"'),
    ("other-escapes-kept", '"a\\n\\u00e9\\\\"', '"a\\n\\u00e9\\\\"'),
    ("arabic-kept", "٠٠١٠٩٩٠١٢٣٤٥", "٠٠١٠٩٩٠١٢٣٤٥"),
]


@pytest.mark.parametrize(("text", "masked"), [m[1:] for m in MASK], ids=[m[0] for m in MASK])
def test_mask_raw_ids(text: str, masked: str) -> None:
    assert mask_raw_ids(text) == masked
    assert mask_raw_ids(text.encode()) == masked.encode()


def test_mask_keeps_json_valid_and_removes_the_id() -> None:
    raw = sample_bytes("service.payment", dossier_ref=f"H56-{ID12}").decode()
    masked = mask_raw_ids(raw)
    assert json.loads(masked)["dossier_ref"] == f"H56-{STARS}"
    assert not find_raw_id(masked)


def test_mask_works_on_bytes_that_are_not_utf8() -> None:
    assert mask_raw_ids(b"\xff" + ID12.encode() + b"\xfe") == b"\xff" + STARS.encode() + b"\xfe"


def test_masking_leaves_nothing_to_find() -> None:
    rng = random.Random(12)
    for _ in range(2000):
        text = "".join(rng.choice("0123456789a -") for _ in range(rng.randint(0, 60)))
        masked = mask_raw_ids(text)
        assert not find_raw_id(masked)
        assert mask_raw_ids(masked) == masked
        assert len(masked) == len(text)


@pytest.mark.parametrize(
    ("value", "found"),
    [(ID12, True), (escaped(ID12), False), ("1234567890123", False), ("x", False)],
    ids=["id", "escape-text-is-not-digits", "13-digits", "text"],
)
def test_contains_raw_id_reads_decoded_text(value: str, found: bool) -> None:
    assert contains_raw_id(value) is found


def test_hmac_ref_is_hmac_sha256() -> None:
    # RFC 4231, test case 2
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert hmac_ref("what do ya want for nothing?", b"Jefe") == expected


def test_hmac_ref_is_a_valid_citizen_ref() -> None:
    ref = hmac_ref(ID12, b"producer-secret")
    assert len(ref) == 64
    assert ref == ref.lower()
    assert ref != hmac_ref(ID12, b"another-secret")
    raw = sample_bytes("identity.activation", citizen_ref=ref)
    assert isinstance(parse_event(raw, now=SAMPLE_NOW), BaseEvent)


def test_hmac_ref_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="key"):
        hmac_ref(ID12, b"")
