"""Unit-test fixtures. `ward_table`: a fabricated commune crosswalk (the mechanism, not the
official data, which is not shipped)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reference import crosswalk

COLUMNS = (
    "old_ward_code,old_ward_name,old_province_code,"
    "new_ward_code,new_ward_code_official,new_province_code,whole"
)
ROWS = [
    "90001,Phường Cũ Một,01,00070,00070,01,true",  # merged whole into Hoàn Kiếm
    "90002,Xã Cũ Hai,01,00070,00070,01,false",  # split between two current wards
    "90002,Xã Cũ Hai,01,00073,00073,01,false",
    "90003,Xã Cũ Ba,36,14464,14464,37,true",  # a Nam Định commune, now in Ninh Bình
]


@pytest.fixture
def ward_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "crosswalk_ward.csv"
    path.write_text("\n".join([COLUMNS, *ROWS]) + "\n", encoding="utf-8")
    monkeypatch.setenv(crosswalk.WARD_TABLE_ENV, str(path))
    crosswalk.reload()
    yield path
    monkeypatch.delenv(crosswalk.WARD_TABLE_ENV)
    crosswalk.reload()
