"""Old codes to new: the 63 provinces before 2025-07-01 to the 34 after, and their communes.

Province level follows Resolution 202/2025/QH15: every former province is wholly part of one
current province (``new_province_for("36") == "37"``: Nam Định is now in Ninh Bình). Commune
level follows the statistics office's conversion table (10,033 former communes): a former
commune wholly merged into one new commune maps to it; one split between several new communes
maps to all of them (``new_wards_for``) but to none in ``new_ward_for``, since an event cannot be
placed in one of them without its address. New ward codes are those of ``schemas.localities``
(see ``reference.build`` for the few where the pinned list and the official one differ).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import NamedTuple

from reference.exceptions import ReferenceDataError


class _Tables(NamedTuple):
    provinces: Mapping[str, str]  # old province code -> new
    province_names: Mapping[str, str]  # old province code -> its name before the merger
    wards: Mapping[str, tuple[str, ...]]  # old ward code -> new ward codes
    ward_provinces: Mapping[str, str]  # old ward code -> old province code


WARD_TABLE_ENV = "CIVICPULSE_WARD_CROSSWALK"


def _rows(name: str) -> list[dict[str, str]]:
    resource = resources.files("reference").joinpath("data", name)
    text = resource.read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _ward_rows() -> list[dict[str, str]]:
    """The commune crosswalk, from the file named by CIVICPULSE_WARD_CROSSWALK.

    Not shipped: it derives from the statistics office's conversion tables, which operators
    obtain and turn into this file with `python -m reference.build` (docs/reference-data.md).
    Without it, former commune codes pass through unchanged and the worker rejects them visibly.
    """
    path = os.environ.get(WARD_TABLE_ENV, "").strip()
    if not path:
        return []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except OSError as exc:
        raise ReferenceDataError(f"{path}: cannot read the commune crosswalk ({exc})") from exc


def reload() -> None:
    """Read the tables again (after CIVICPULSE_WARD_CROSSWALK changed)."""
    _tables.cache_clear()


@cache
def _tables() -> _Tables:
    provinces = {r["old_code"]: r["new_code"] for r in _rows("crosswalk_province.csv")}
    names = {r["old_code"]: r["old_name"] for r in _rows("crosswalk_province.csv")}
    wards: dict[str, list[str]] = {}
    ward_provinces: dict[str, str] = {}
    for r in _ward_rows():
        targets = wards.setdefault(r["old_ward_code"], [])
        if r["new_ward_code"] not in targets:
            targets.append(r["new_ward_code"])
        ward_provinces[r["old_ward_code"]] = r["old_province_code"]
    return _Tables(
        MappingProxyType(provinces),
        MappingProxyType(names),
        MappingProxyType({old: tuple(new) for old, new in wards.items()}),
        MappingProxyType(ward_provinces),
    )


def new_province_for(old_code: str) -> str | None:
    """The current province a former province (two digits, e.g. ``"26"``) is part of."""
    return _tables().provinces.get(old_code)


def new_ward_for(old_ward_code: str) -> str | None:
    """The one current commune a former commune (five digits) became; None when unknown or split."""
    targets = _tables().wards.get(old_ward_code)
    return targets[0] if targets is not None and len(targets) == 1 else None


def new_wards_for(old_ward_code: str) -> tuple[str, ...]:
    """Every current commune that took part of a former commune (empty when unknown)."""
    return _tables().wards.get(old_ward_code, ())


def old_province_of_ward(old_ward_code: str) -> str | None:
    """The former province of a former commune."""
    return _tables().ward_provinces.get(old_ward_code)


def old_province_name(old_code: str) -> str | None:
    """The name of a former province (``"36"`` -> ``"Nam Định"``)."""
    return _tables().province_names.get(old_code)


def old_provinces() -> Mapping[str, str]:
    """Every former province code (63) and the current one it is part of."""
    return _tables().provinces


def old_wards() -> Mapping[str, tuple[str, ...]]:
    """Every former commune code in the conversion table and its current commune(s)."""
    return _tables().wards
