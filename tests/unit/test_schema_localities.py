"""Province and ward lookups over the 34-province / 3,321-commune list."""

from __future__ import annotations

import re

import pytest

from schemas import (
    all_provinces,
    all_wards,
    is_ward_in_province,
    province_name,
    ward_name,
    ward_province,
)


def test_counts_match_the_2025_list() -> None:
    assert len(all_provinces()) == 34
    assert len(all_wards()) == 3321


def test_codes_are_ascii_digit_strings() -> None:
    assert all(re.fullmatch(r"[0-9]{2}", code) for code in all_provinces())
    assert all(re.fullmatch(r"[0-9]{5}", code) for code in all_wards())


def test_every_ward_belongs_to_a_province_and_every_province_has_wards() -> None:
    assert set(all_wards().values()) == set(all_provinces())


@pytest.mark.parametrize(
    ("code", "name"),
    [("01", "Thành phố Hà Nội"), ("38", "Thanh Hóa"), ("25", "Phú Thọ")],
)
def test_province_name(code: str, name: str) -> None:
    assert province_name(code) == name


@pytest.mark.parametrize("code", ["1", "001", "36", "99", "٣٨", "３８", "38 ", ""], ids=repr)
def test_province_name_unknown(code: str) -> None:
    assert province_name(code) is None


@pytest.mark.parametrize(("ward", "province"), [("00070", "01"), ("14797", "38"), ("16522", "38")])
def test_ward_province(ward: str, province: str) -> None:
    assert ward_province(ward) == province
    assert is_ward_in_province(ward, province)
    assert ward_name(ward)


@pytest.mark.parametrize(
    ("ward", "province"),
    [("00070", "38"), ("14797", "01"), ("99999", "38"), ("70", "01"), ("١٤٧٩٧", "38")],
)
def test_ward_not_in_province(ward: str, province: str) -> None:
    assert not is_ward_in_province(ward, province)


@pytest.mark.parametrize("code", ["99999", "70", "0070", "١٤٧٩٧", ""], ids=repr)
def test_ward_unknown(code: str) -> None:
    assert ward_province(code) is None
    assert ward_name(code) is None


def test_tables_are_built_once_and_read_only() -> None:
    assert all_provinces() is all_provinces()
    with pytest.raises(TypeError):
        all_wards()["00001"] = "01"  # type: ignore[index]
