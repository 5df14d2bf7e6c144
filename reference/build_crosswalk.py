"""The old-to-new crosswalk, rebuilt from the two official tables (see ``reference.build``).

The statistics office's conversion table (*Bảng chuyển đổi ĐVHC mới - cũ*) lists, for every
current commune, the former communes it took whole or in part; its pre-2025 commune list gives
each former commune's province. New ward codes are matched to the list the worker validates
(``schemas.localities``): the pinned ``vietnam_provinces`` 2025.10.1 agrees with the official
codes on 3,175 communes and the others are found by name within their province.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Final

from schemas.localities import all_wards, ward_name

# Resolution 202/2025/QH15: each of the 63 former provinces and the province it is part of.
OLD_PROVINCES: Final = (
    ("01", "Thành phố Hà Nội", "01"),
    ("02", "Hà Giang", "08"),
    ("04", "Cao Bằng", "04"),
    ("06", "Bắc Kạn", "19"),
    ("08", "Tuyên Quang", "08"),
    ("10", "Lào Cai", "15"),
    ("11", "Điện Biên", "11"),
    ("12", "Lai Châu", "12"),
    ("14", "Sơn La", "14"),
    ("15", "Yên Bái", "15"),
    ("17", "Hòa Bình", "25"),
    ("19", "Thái Nguyên", "19"),
    ("20", "Lạng Sơn", "20"),
    ("22", "Quảng Ninh", "22"),
    ("24", "Bắc Giang", "24"),
    ("25", "Phú Thọ", "25"),
    ("26", "Vĩnh Phúc", "25"),
    ("27", "Bắc Ninh", "24"),
    ("30", "Hải Dương", "31"),
    ("31", "Thành phố Hải Phòng", "31"),
    ("33", "Hưng Yên", "33"),
    ("34", "Thái Bình", "33"),
    ("35", "Hà Nam", "37"),
    ("36", "Nam Định", "37"),
    ("37", "Ninh Bình", "37"),
    ("38", "Thanh Hóa", "38"),
    ("40", "Nghệ An", "40"),
    ("42", "Hà Tĩnh", "42"),
    ("44", "Quảng Bình", "44"),
    ("45", "Quảng Trị", "44"),
    ("46", "Thừa Thiên Huế", "46"),
    ("48", "Thành phố Đà Nẵng", "48"),
    ("49", "Quảng Nam", "48"),
    ("51", "Quảng Ngãi", "51"),
    ("52", "Bình Định", "52"),
    ("54", "Phú Yên", "66"),
    ("56", "Khánh Hòa", "56"),
    ("58", "Ninh Thuận", "56"),
    ("60", "Bình Thuận", "68"),
    ("62", "Kon Tum", "51"),
    ("64", "Gia Lai", "52"),
    ("66", "Đắk Lắk", "66"),
    ("67", "Đắk Nông", "68"),
    ("68", "Lâm Đồng", "68"),
    ("70", "Bình Phước", "75"),
    ("72", "Tây Ninh", "80"),
    ("74", "Bình Dương", "79"),
    ("75", "Đồng Nai", "75"),
    ("77", "Bà Rịa - Vũng Tàu", "79"),
    ("79", "Thành phố Hồ Chí Minh", "79"),
    ("80", "Long An", "80"),
    ("82", "Tiền Giang", "82"),
    ("83", "Bến Tre", "86"),
    ("84", "Trà Vinh", "86"),
    ("86", "Vĩnh Long", "86"),
    ("87", "Đồng Tháp", "82"),
    ("89", "An Giang", "91"),
    ("91", "Kiên Giang", "91"),
    ("92", "Thành phố Cần Thơ", "92"),
    ("93", "Hậu Giang", "92"),
    ("94", "Sóc Trăng", "92"),
    ("95", "Bạc Liêu", "96"),
    ("96", "Cà Mau", "96"),
)
WARD_CROSSWALK_COLUMNS: Final = (
    "old_ward_code",
    "old_ward_name",
    "old_province_code",
    "new_ward_code",
    "new_ward_code_official",
    "new_province_code",
    "whole",
)
_TONE_MOVES: Final = {
    "oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
    "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
    "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy",
}  # fmt: skip


def name_key(name: str) -> str:
    """A place name compared loosely: case, spacing and old/new tone placement ("Hoà"/"Hòa")."""
    text = unicodedata.normalize("NFC", name).lower()
    text = " ".join(text.replace("–", "-").replace("—", "-").replace("-", " - ").split())
    for old, new in _TONE_MOVES.items():
        text = text.replace(old, new)
    return text


def _code_in(text: str) -> str:
    found = re.search(r"\(([0-9]+)\)", text)
    if found is None:
        raise ValueError(f"no code in {text!r}")
    return found.group(1)


def _project_ward(official: str, name: str, province: str) -> str | None:
    """The code of the ward the worker knows for an official (code, name, province).

    The pinned ``vietnam_provinces`` list agrees with the official one on 3,175 codes; for the
    others the ward is found by name within its province.
    """
    wards = all_wards()
    if wards.get(official) == province and name_key(ward_name(official) or "") == name_key(name):
        return official
    same_name = [
        c
        for c, p in wards.items()
        if p == province and name_key(ward_name(c) or "") == name_key(name)
    ]
    if len(same_name) == 1:
        return same_name[0]
    return official if wards.get(official) == province else None


def crosswalk_rows(conversion_csv: Path, old_wards_csv: Path) -> list[dict[str, str]]:
    """crosswalk_ward.csv from the official conversion table and the pre-2025 ward list."""
    old_province: dict[str, str] = {}
    with old_wards_csv.open(encoding="utf-8-sig", newline="") as f:
        for entry in csv.DictReader(f):
            old_province[entry["Mã PX"].strip().zfill(5)] = entry["Mã TP"].strip().zfill(2)
    new_province_of = {old: new for old, _name, new in OLD_PROVINCES}
    rows: list[dict[str, str]] = []
    unresolved: Counter[str] = Counter()
    with conversion_csv.open(encoding="utf-8", newline="") as f:
        records = list(csv.reader(f))
    groups: dict[str, list[list[str]]] = defaultdict(list)
    for rec in records[2:]:
        if len(rec) < 8 or not rec[2].strip() or not rec[4].strip():
            continue  # a province heading
        groups[rec[4].strip().zfill(5)].append(rec)
    for old, recs in groups.items():
        whole = len({rec[2].strip() for rec in recs}) == 1  # one new ward takes it all
        for rec in recs:
            official = rec[2].strip().zfill(5)
            new_prov = _code_in(rec[0]).zfill(2)
            project = _project_ward(official, rec[1].strip(), new_prov)
            if project is None:
                unresolved[official] += 1
                continue
            prov_old = old_province.get(old) or _code_in(rec[7]).zfill(2)
            if new_province_of[prov_old] != new_prov:
                unresolved[f"{old}: old province {prov_old} -> {new_prov}"] += 1
            rows.append(
                {
                    "old_ward_code": old,
                    "old_ward_name": " ".join(rec[3].split()),
                    "old_province_code": prov_old,
                    "new_ward_code": project,
                    "new_ward_code_official": official,
                    "new_province_code": new_prov,
                    "whole": "true" if whole else "false",
                }
            )
    if unresolved:
        print(f"crosswalk: {sum(unresolved.values())} row(s) left out: {sorted(unresolved)}")
    rows.sort(key=lambda r: (r["old_ward_code"], r["new_ward_code"]))
    return rows
