"""`producers.legacy.translate_line`: former province and commune codes rewritten in place."""

from __future__ import annotations

import orjson
import pytest

from producers.legacy import CUTOVER_2025, LegacyTranslator, translate_line
from schemas.validate import Rejection, parse_event
from tests.factories import event, raw

NOW = 2_000_000_000.0


def line(**fields: object) -> bytes:
    return raw(event(**fields))


@pytest.mark.parametrize(
    ("province", "ward", "new_province", "new_ward"),
    [
        ("36", None, "37", None),  # Nam Định -> Ninh Bình, province only
        ("26", None, "25", None),  # Vĩnh Phúc -> Phú Thọ
        ("27", None, "24", None),  # Bắc Ninh -> Bắc Ninh under Bắc Giang's code
        ("01", "90001", "01", "00070"),  # a Hà Nội ward merged whole
        ("01", "90002", "01", None),  # a ward split between two: province only
        ("36", "90003", "37", "14464"),  # a Nam Định commune, now in Ninh Bình
        ("38", None, "38", None),  # unchanged province
    ],
)
@pytest.mark.usefixtures("ward_table")
def test_codes_are_rewritten(
    province: str, ward: str | None, new_province: str, new_ward: str | None
) -> None:
    old = line(province_code=province, ward_code=ward)
    new = translate_line(old)
    obj = orjson.loads(new)
    assert (obj["province_code"], obj["ward_code"]) == (new_province, new_ward)
    assert obj["event_id"] == orjson.loads(old)["event_id"]
    assert not isinstance(parse_event(new, now=NOW), Rejection)


def test_everything_else_keeps_its_bytes() -> None:
    old = b'{ "event_id" : "x",  "province_code" :  "36", "ward_code" : null, "note":"\\u00e9" }'
    assert translate_line(old) == old.replace(b'"36"', b'"37"')


def test_without_a_commune_table_old_communes_pass_unchanged() -> None:
    old = line(province_code="36", ward_code="14464")
    assert orjson.loads(translate_line(old))["ward_code"] == "14464"


@pytest.mark.parametrize(
    "unchanged",
    [
        b"not json",
        b"[1, 2]",
        b'{"province_code":"36","province_code":"37"}',  # repeated key: the worker rejects it
        b'{"province_code":"36", "amount": NaN}',
        b"\xff\xfe",
        b'{"province_code":"99","ward_code":"99999"}',  # unknown codes
        b'{"province_code":36}',  # wrong type: the worker says so
        b"",
    ],
)
def test_lines_it_cannot_read_go_through_unchanged(unchanged: bytes) -> None:
    assert translate_line(unchanged) == unchanged


def test_escaped_keys_are_re_encoded_keeping_the_order() -> None:
    old = b'{"event_id":"e","province\\u005fcode":"36","ward_code":null}'
    assert translate_line(old) == b'{"event_id":"e","province_code":"37","ward_code":null}'


def test_lines_after_the_cutover_are_left_alone() -> None:
    before = line(province_code="36", ward_code=None, occurred_at="2025-06-30T23:59:00+07:00")
    after = line(province_code="24", ward_code=None, occurred_at="2025-07-01T00:00:00+07:00")
    assert orjson.loads(translate_line(before, cutover=CUTOVER_2025))["province_code"] == "37"
    assert translate_line(after, cutover=CUTOVER_2025) == after


@pytest.mark.usefixtures("ward_table")
def test_the_translator_counts_what_it_did() -> None:
    translator = LegacyTranslator()
    for raw_line in (
        line(province_code="36", ward_code=None),
        line(province_code="01", ward_code="90002"),
        b"garbage",
    ):
        translator.translate(raw_line)
    assert translator.counts == {"translated": 1, "ward_split": 1, "unreadable": 1}
