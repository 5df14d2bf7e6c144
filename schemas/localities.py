"""Province and ward codes of the 34-province / 3,321-commune list in force since 2025-07-01.

Codes are handled as the strings that travel in events and metric labels: ``"38"`` for a
province, ``"14797"`` for a ward. The tables are built once from ``vietnam_provinces``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import NamedTuple

from vietnam_provinces import Province, Ward


class _Tables(NamedTuple):
    province_names: Mapping[str, str]
    ward_provinces: Mapping[str, str]
    ward_names: Mapping[str, str]


@cache
def _tables() -> _Tables:
    # The library's codes are IntEnums; events carry zero-padded ASCII strings.
    provinces = {f"{int(p.code):02d}": p.name for p in Province.iter_all()}
    wards = list(Ward.iter_all())
    return _Tables(
        province_names=MappingProxyType(provinces),
        ward_provinces=MappingProxyType(
            {f"{int(w.code):05d}": f"{int(w.province_code):02d}" for w in wards}
        ),
        ward_names=MappingProxyType({f"{int(w.code):05d}": w.name for w in wards}),
    )


def province_name(code: str) -> str | None:
    """Name of the province with this two-digit code, or None if there is none."""
    return _tables().province_names.get(code)


def ward_province(code: str) -> str | None:
    """Two-digit code of the province a five-digit ward code belongs to, or None if unknown."""
    return _tables().ward_provinces.get(code)


def ward_name(code: str) -> str | None:
    """Name of the commune/ward with this five-digit code, or None if unknown."""
    return _tables().ward_names.get(code)


def is_ward_in_province(ward: str, province: str) -> bool:
    """True when ``ward`` is a known ward of ``province``."""
    return _tables().ward_provinces.get(ward) == province


def all_provinces() -> Mapping[str, str]:
    """Read-only mapping of every province code to its name (34 entries)."""
    return _tables().province_names


def all_wards() -> Mapping[str, str]:
    """Read-only mapping of every ward code to its province code (3,321 entries)."""
    return _tables().ward_provinces
