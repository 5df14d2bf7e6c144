"""Rewriting pre-July-2025 locality codes in event lines (``civicpulse replay --legacy-codes``).

Before 2025-07-01 Vietnam had 63 provinces and ~10,000 communes; event logs from then carry
their codes. ``translate_line`` rewrites one line's ``province_code`` and ``ward_code`` to the
34-province / 3,321-commune list with ``reference.crosswalk``:

- ``province_code``: a former province becomes the current one it is part of (``"36"`` Nam Định
  -> ``"37"`` Ninh Bình). A code that is not a former province is left as it is.
- ``ward_code``: a former commune wholly merged into one current commune becomes it. A former
  commune split between several current ones becomes ``null``: the event still counts for its
  province, and the split is not guessed. A code unknown to the crosswalk is left as it is.

Everything else is kept byte for byte: the two values are replaced in place when each key
occurs once in plain form, else the object is re-encoded (same key order). A line that cannot be
read as one JSON object with distinct keys goes through unchanged, so that the worker rejects it
visibly, with its own reason.

Codes overlap between the two lists (``"24"`` was Bắc Giang and is now Bắc Ninh), so a line
cannot tell which list it uses: every line given is taken as old. With ``cutover`` (Unix seconds,
e.g. 2025-07-01T00:00:00+07:00), lines whose ``occurred_at`` is at or after it are left alone.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from reference.crosswalk import new_province_for, new_wards_for
from schemas.events import occurred_at_epoch

CUTOVER_2025: Final = 1_751_302_800.0  # 2025-07-01T00:00:00+07:00

_PROVINCE_RE: Final = re.compile(rb'"province_code"(\s*:\s*)"([0-9]{2})"')
_WARD_RE: Final = re.compile(rb'"ward_code"(\s*:\s*)"([0-9]{5})"')


class _RepeatedKey(Exception):
    pass


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _RepeatedKey
    return obj


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: the worker says not_json


@dataclass
class LegacyTranslator:
    """``translate`` with counts of what it did, for a replay summary."""

    cutover: float | None = None
    counts: Counter[str] = field(default_factory=Counter)

    def translate(self, raw: bytes) -> bytes:
        out, what = _translate(raw, self.cutover)
        self.counts[what] += 1
        return out


def translate_line(raw: bytes, *, cutover: float | None = None) -> bytes:
    """One event line with former province and commune codes rewritten to current ones."""
    return _translate(raw, cutover)[0]


def _translate(raw: bytes, cutover: float | None) -> tuple[bytes, str]:
    try:
        obj = json.loads(raw, object_pairs_hook=_no_repeats, parse_constant=_no_constant)
    except (ValueError, _RepeatedKey, RecursionError):  # not UTF-8 / not JSON / repeated key
        return raw, "unreadable"
    if type(obj) is not dict:
        return raw, "unreadable"
    if cutover is not None:
        at = obj.get("occurred_at")
        epoch = occurred_at_epoch(at) if type(at) is str else None
        if epoch is not None and epoch >= cutover:
            return raw, "after_cutover"
    province = obj.get("province_code")
    ward = obj.get("ward_code")
    new_province = new_province_for(province) if type(province) is str else None
    new_ward: str | None = ward if type(ward) is str else None
    ward_changed = False
    what = "translated"
    if type(ward) is str:
        targets = new_wards_for(ward)
        if len(targets) == 1:
            new_ward, ward_changed = targets[0], targets[0] != ward
        elif targets:
            new_ward, ward_changed, what = None, True, "ward_split"
    province_changed = new_province is not None and new_province != province
    if not province_changed and not ward_changed:
        return raw, "translated" if new_province is not None else "unknown_codes"
    return _rewrite(
        raw, obj, new_province if province_changed else None, new_ward, ward_changed
    ), what


def _rewrite(
    raw: bytes, obj: dict[str, Any], province: str | None, ward: str | None, ward_changed: bool
) -> bytes:
    out = raw
    if province is not None:
        found = _PROVINCE_RE.findall(out)
        if len(found) != 1 or raw.count(b'"province_code"') != 1:
            return _reencode(obj, province, ward, ward_changed)
        out = _PROVINCE_RE.sub(
            lambda m: b'"province_code"' + m[1] + b'"' + province.encode() + b'"', out
        )
    if ward_changed:
        found = _WARD_RE.findall(out)
        if len(found) != 1 or raw.count(b'"ward_code"') != 1:
            return _reencode(obj, province, ward, ward_changed)
        value = b"null" if ward is None else b'"' + ward.encode() + b'"'
        out = _WARD_RE.sub(lambda m: b'"ward_code"' + m[1] + value, out)
    return out


def _reencode(
    obj: dict[str, Any], province: str | None, ward: str | None, ward_changed: bool
) -> bytes:
    if province is not None:
        obj["province_code"] = province
    if ward_changed:
        obj["ward_code"] = ward
    try:
        return orjson.dumps(obj)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: keep the stdlib's form
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
