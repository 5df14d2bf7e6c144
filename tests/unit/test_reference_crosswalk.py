"""The crosswalk from the 63 former provinces (and ~10,000 communes) to the 2025 list."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from reference import crosswalk
from reference.exceptions import ReferenceDataError
from schemas.localities import all_provinces, province_name


@pytest.mark.parametrize(
    ("old", "new", "old_name"),
    [
        ("36", "37", "Nam Định"),  # seed 003: now part of Ninh Bình
        ("26", "25", "Vĩnh Phúc"),  # seed 004: now part of Phú Thọ
        ("17", "25", "Hòa Bình"),
        ("38", "38", "Thanh Hóa"),  # unchanged
        ("01", "01", "Thành phố Hà Nội"),
        ("27", "24", "Bắc Ninh"),  # merged with Bắc Giang under Bắc Giang's code
        ("24", "24", "Bắc Giang"),
        ("10", "15", "Lào Cai"),  # merged with Yên Bái under Yên Bái's code
        ("02", "08", "Hà Giang"),
        ("45", "44", "Quảng Trị"),
        ("64", "52", "Gia Lai"),
        ("72", "80", "Tây Ninh"),
        ("87", "82", "Đồng Tháp"),
        ("89", "91", "An Giang"),
        ("77", "79", "Bà Rịa - Vũng Tàu"),
        ("95", "96", "Bạc Liêu"),
    ],
)
def test_new_province_for(old: str, new: str, old_name: str) -> None:
    assert crosswalk.new_province_for(old) == new
    assert crosswalk.old_province_name(old) == old_name


@pytest.mark.parametrize("code", ["03", "99", "", "8", "038", "٣٨"])
def test_codes_that_were_never_provinces(code: str) -> None:
    assert crosswalk.new_province_for(code) is None


def test_63_former_provinces_fold_into_the_34() -> None:
    mapping = crosswalk.old_provinces()
    assert len(mapping) == 63
    assert set(mapping.values()) == set(all_provinces())
    sizes = Counter(mapping.values())
    assert sizes["37"] == 3
    assert sizes["38"] == 1


@pytest.mark.parametrize(
    ("old", "new_ward", "all_new"),
    [
        ("90001", "00070", ("00070",)),  # merged whole
        ("90002", None, ("00070", "00073")),  # split between two wards
        ("99999", None, ()),
        ("1", None, ()),
    ],
)
@pytest.mark.usefixtures("ward_table")
def test_new_ward_for(old: str, new_ward: str | None, all_new: tuple[str, ...]) -> None:
    assert crosswalk.new_ward_for(old) == new_ward
    assert crosswalk.new_wards_for(old) == all_new
    assert crosswalk.old_province_of_ward("90003") == "36"


def test_no_commune_table_means_no_commune_mapping() -> None:
    assert crosswalk.old_wards() == {}
    assert crosswalk.new_ward_for("90001") is None


def test_an_unreadable_commune_table_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(crosswalk.WARD_TABLE_ENV, str(tmp_path / "missing.csv"))
    crosswalk.reload()
    try:
        with pytest.raises(ReferenceDataError, match=r"missing\.csv"):
            crosswalk.new_ward_for("90001")
    finally:
        monkeypatch.delenv(crosswalk.WARD_TABLE_ENV)
        crosswalk.reload()


def test_the_named_examples_are_the_expected_places() -> None:
    assert province_name(crosswalk.new_province_for("36") or "") == "Ninh Bình"
