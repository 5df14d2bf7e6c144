"""Loading the reference data: the shipped defaults, then an operator's override file on top.

Override file (CSV, UTF-8, one header line; see docs/reference-data.md)::

    code,population,eligible_16plus,eid_l2_baseline,target_eid_l2_coverage,as_of,source
    38,4324783,3300000,2350000,0.95,2025-12-31,Thanh Hóa police report Dec 2025
    14797,152000,118000,,,,Hạc Thành ward census

``code`` (2 digits: a province, 5 digits: a commune) is required; every other column is optional
and an empty cell keeps the default. Province totals are authoritative: the communes of a province
that the file does not give are re-estimated from the province figures (less the communes it
does give), so that communes always add up to their province. Every problem in the file is
reported at once, as ``file:line: code C: field F: what is wrong``.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from pydantic import ValidationError

from reference.exceptions import ReferenceDataError
from reference.models import (
    COUNT_FIELDS,
    FIGURE_FIELDS,
    TARGET_FIELDS,
    LocalityFigures,
    ReferenceData,
)
from reference.split import split_total
from schemas.localities import all_provinces, all_wards, province_name, ward_province

ENV_VAR: Final = "CIVICPULSE_REFERENCE_FILE"
OVERRIDE_COLUMNS: Final = ("code", "name", *FIGURE_FIELDS, "approx", "as_of", "source")
_INT_RE: Final = re.compile(r"[0-9]{1,3}(?:([,._ ])[0-9]{3})(?:\1[0-9]{3})*|[0-9]+")
_TRUE: Final = frozenset({"true", "yes", "1", "y"})
_FALSE: Final = frozenset({"false", "no", "0", "n"})


# --- reading CSV --------------------------------------------------------------------------------


@dataclass
class _Row:
    """One CSV record, with where it came from."""

    where: str  # "file:line"
    values: dict[str, str]


def _read_csv(text: str, name: str, required: Sequence[str], allowed: Sequence[str]) -> list[_Row]:
    problems: list[str] = []
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        raise ReferenceDataError(f"{name}: the file is empty (a header line is needed)")
    reader.fieldnames = header
    for column in header:
        if column not in allowed:
            hint = _closest(column, allowed)
            problems.append(
                f"{name}:1: unknown column {column!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
            )
    if len(set(header)) != len(header):
        problems.append(f"{name}:1: a column appears twice in the header")
    problems += [f"{name}:1: missing column {c!r}" for c in required if c not in header]
    if problems:
        raise ReferenceDataError(f"{name}: the header is invalid", tuple(problems))
    rows = []
    for record in reader:
        where = f"{name}:{reader.line_num}"
        if None in record:
            problems.append(f"{where}: more cells than columns in the header")
            continue
        values = {k: (v or "").strip() for k, v in record.items()}
        if not any(values.values()):
            continue  # a blank line
        rows.append(_Row(where, values))
    if problems:
        raise ReferenceDataError(f"{name}: invalid rows", tuple(problems))
    return rows


def _closest(word: str, choices: Sequence[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.75)
    return found[0] if found else None


def _parse_count(text: str) -> int:
    cleaned = text.replace("\u00a0", " ")
    if _INT_RE.fullmatch(cleaned) is None:
        if cleaned.startswith("-"):
            raise ValueError(f"must not be negative, got {text!r}")
        raise ValueError(f"must be a whole number of people, got {text!r}")
    return int(re.sub(r"[,._ ]", "", cleaned))


def _parse_target(text: str) -> float:
    percent = text.endswith("%")
    try:
        value = float(text[:-1] if percent else text)
    except ValueError:
        raise ValueError(
            f"must be a fraction like 0.95 or a percentage like 95%, got {text!r}"
        ) from None
    if percent:
        value /= 100.0
    if not 0.0 <= value <= 1.0:
        hint = " (write 0.95 or 95% for 95 %)" if 1.0 < value <= 100.0 and not percent else ""
        raise ValueError(f"must be between 0 and 1, got {text!r}{hint}")
    return value


def _parse_bool(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError(f"must be true or false, got {text!r}")


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"must be a date YYYY-MM-DD, got {text!r}") from None


# --- the defaults -------------------------------------------------------------------------------


def _data_text(name: str) -> str:
    return resources.files("reference").joinpath("data", name).read_text(encoding="utf-8")


@dataclass
class _Draft:
    """Figures being assembled for one locality, before the final validation."""

    code: str
    name: str
    province: str
    values: dict[str, Any]
    estimated: bool
    source: str
    weight: float = 0.0
    where: str = ""  # the override line that set figures here, if any
    given: set[str] = field(default_factory=set)  # count fields the override gave

    def build(self) -> LocalityFigures:
        return LocalityFigures(
            code=self.code,
            name=self.name,
            province=self.province,
            estimated=self.estimated,
            source=self.source,
            **self.values,
        )


@dataclass
class _Defaults:
    provinces: dict[str, _Draft]
    communes: dict[str, _Draft]
    as_of: date
    sources: dict[str, str]


@cache
def _defaults() -> _Defaults:
    """The shipped CSVs, checked against the 34 / 3,321-unit list."""
    provinces: dict[str, _Draft] = {}
    as_of: set[date] = set()
    problems: list[str] = []
    for row in _read_csv(_data_text("province.csv"), "province.csv", ("code",), _PROVINCE_FILE):
        try:
            values = _figures(row.values)
            as_of.add(_parse_date(row.values["as_of"]))
            approx = _parse_bool(row.values["approx"])
        except ValueError as exc:
            problems.append(f"{row.where}: {exc}")
            continue
        code = row.values["code"]
        provinces[code] = _Draft(
            code, row.values["name"], code, values, approx, row.values["source"]
        )
    communes: dict[str, _Draft] = {}
    for row in _read_csv(_data_text("commune.csv"), "commune.csv", ("code",), _COMMUNE_FILE):
        try:
            values = _figures(row.values)
            weight = float(row.values["weight"])
            estimated = _parse_bool(row.values["estimated"])
        except ValueError as exc:
            problems.append(f"{row.where}: {exc}")
            continue
        v = row.values
        communes[v["code"]] = _Draft(
            v["code"], v["name"], v["province"], values, estimated, v["source"], weight
        )
    if set(provinces) != set(all_provinces()):
        problems.append("province.csv: the codes are not the 34 provinces of schemas.localities")
    if {c: d.province for c, d in communes.items()} != dict(all_wards()):
        problems.append("commune.csv: the codes are not the 3,321 communes of schemas.localities")
    if len(as_of) != 1:
        problems.append(f"province.csv: expected one as_of date, found {sorted(as_of)}")
    sources = {
        r.values["id"]: f"{r.values['description']} ({r.values['year']}, {r.values['kind']})"
        for r in _read_csv(_data_text("sources.csv"), "sources.csv", ("id",), _SOURCES_FILE)
    }
    if problems:
        raise ReferenceDataError("the shipped reference data is invalid", tuple(problems))
    return _Defaults(provinces, communes, as_of.pop(), sources)


_PROVINCE_FILE: Final = (
    "code", "name", *FIGURE_FIELDS, "approx", "as_of", "source",
)  # fmt: skip
_COMMUNE_FILE: Final = (
    "code", "name", "province", "division_type", "weight", *FIGURE_FIELDS, "estimated", "source",
)  # fmt: skip
_SOURCES_FILE: Final = ("id", "year", "kind", "description")


def _figures(values: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in COUNT_FIELDS:
        out[name] = _parse_count(values[name])
    for name in TARGET_FIELDS:
        out[name] = _parse_target(values[name])
    return out


# --- the override -------------------------------------------------------------------------------


@dataclass
class _Override:
    rows: dict[str, tuple[str, dict[str, Any], bool | None, str | None]]  # code -> row
    as_of: date | None


def _read_override(path: Path) -> _Override:
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ReferenceDataError(
            f"cannot read reference file {name}: {exc.strerror or exc}"
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReferenceDataError(
            f"{name}: not UTF-8 text (byte {exc.start}); save the file as CSV UTF-8"
        ) from None
    if path.suffix.lower() not in (".csv", ".txt", ""):
        raise ReferenceDataError(f"{name}: an override is a .csv file (see docs/reference-data.md)")
    problems: list[str] = []
    rows: dict[str, tuple[str, dict[str, Any], bool | None, str | None]] = {}
    first_line: dict[str, str] = {}
    as_of: dict[date, str] = {}
    for row in _read_csv(text, name, ("code",), OVERRIDE_COLUMNS):
        code = row.values.get("code", "")
        label = f"{row.where}: code {code or '(empty)'}"
        if not code:
            problems.append(f"{row.where}: field 'code': missing (a province or commune code)")
            continue
        if not re.fullmatch(r"[0-9]{2}|[0-9]{5}", code):
            problems.append(
                f"{row.where}: field 'code': {code!r} is not a 2-digit province or 5-digit commune "
                "code (keep the leading zeros: format the column as text)"
            )
            continue
        if len(code) == 2 and province_name(code) is None:
            problems.append(f"{label}: field 'code': unknown province (not one of the 34)")
            continue
        if len(code) == 5 and ward_province(code) is None:
            problems.append(f"{label}: field 'code': unknown commune (not one of the 3,321)")
            continue
        if code in first_line:
            problems.append(f"{label}: the code is already given at {first_line[code]}")
            continue
        first_line[code] = row.where
        values: dict[str, Any] = {}
        approx: bool | None = None
        for column, text_value in row.values.items():
            if not text_value or column in ("code", "name"):
                continue
            try:
                if column in COUNT_FIELDS:
                    values[column] = _parse_count(text_value)
                elif column in TARGET_FIELDS:
                    values[column] = _parse_target(text_value)
                elif column == "approx":
                    approx = _parse_bool(text_value)
                elif column == "as_of":
                    as_of.setdefault(_parse_date(text_value), row.where)
            except ValueError as exc:
                problems.append(f"{label}: field {column!r}: {exc}")
        rows[code] = (row.where, values, approx, row.values.get("source") or None)
    if len(as_of) > 1:
        seen = ", ".join(f"{d} ({w})" for d, w in sorted(as_of.items()))
        problems.append(f"{name}: the as_of column must hold one date, found {seen}")
    if problems:
        raise ReferenceDataError(f"invalid reference file {name}", tuple(problems))
    return _Override(rows, next(iter(as_of)) if as_of else None)


def _apply(
    defaults: _Defaults, override: _Override, name: str
) -> tuple[dict[str, _Draft], dict[str, _Draft]]:
    """The override's values on copies of the defaults; the communes of a touched province
    re-estimated. Province figures are validated first: a wrong province total would make
    every commune of it wrong too, and one message is clearer than a hundred."""
    provinces = {c: _copy(d) for c, d in defaults.provinces.items()}
    communes = {c: _copy(d) for c, d in defaults.communes.items()}
    touched: set[str] = set()
    for code, (where, values, approx, source) in override.rows.items():
        draft = provinces[code] if len(code) == 2 else communes[code]
        draft.values.update(values)
        draft.where = where
        draft.given = {f for f in values if f in COUNT_FIELDS}
        line = where.rsplit(":", 1)[-1]
        label = source or f"override {Path(name).name} line {line}"
        fields = ", ".join(values) or "none"
        draft.source = f"{label} ({fields}); defaults: {draft.source}"
        if approx is not None:
            draft.estimated = approx
        else:
            draft.estimated = draft.estimated and len(draft.given) < len(COUNT_FIELDS)
        touched.add(draft.province)
    _, problems = _build_all({c: provinces[c] for c in sorted(touched)})
    if not problems:
        for province in sorted(touched):
            mine = [d for d in communes.values() if d.province == province]
            problems += _resplit(provinces[province], mine)
    if problems:
        raise ReferenceDataError(f"invalid reference file {name}", tuple(problems))
    return provinces, communes


def _copy(draft: _Draft) -> _Draft:
    return _Draft(
        draft.code,
        draft.name,
        draft.province,
        dict(draft.values),
        draft.estimated,
        draft.source,
        draft.weight,
    )


def _resplit(province: _Draft, communes: list[_Draft]) -> list[str]:
    """Re-estimate the communes of a province that the override does not give."""
    problems = []
    for name in COUNT_FIELDS:
        fixed = [c for c in communes if name in c.given]
        free = [c for c in communes if name not in c.given]
        remainder = province.values[name] - sum(c.values[name] for c in fixed)
        if remainder < 0 or (remainder > 0 and not free):
            where = province.where or fixed[0].where
            if remainder < 0:
                problems.append(
                    f"{where}: province {province.code}: field {name!r}: the communes given add "
                    f"up to {province.values[name] - remainder:,}, more than the province's "
                    f"{province.values[name]:,} (raise the province figure or fix the communes)"
                )
            continue  # every commune given: their sum may differ from the province, keep both
        caps = None
        if name not in ("population", "eid_l2_baseline"):
            caps = [c.values["population"] for c in free]
            if remainder > sum(caps):
                problems.append(
                    f"{province.where or free[0].where}: province {province.code}: field {name!r}: "
                    f"{remainder:,} people to spread over communes holding only {sum(caps):,}"
                )
                continue
        parts = split_total(remainder, [c.weight for c in free], caps)
        for c, part in zip(free, parts, strict=True):
            c.values[name] = part
    for c in communes:
        if not c.given:  # an estimated commune follows its province's targets
            for name in TARGET_FIELDS:
                c.values[name] = province.values[name]
    return problems


# --- the public entry point ---------------------------------------------------------------------


def load_reference(override: Path | None = None, *, use_env: bool = True) -> ReferenceData:
    """The reference data: shipped defaults, with ``override`` (a CSV file) applied on top.

    Without ``override`` the file named by ``CIVICPULSE_REFERENCE_FILE`` is used, if set (and
    ``use_env``). Raises ``ReferenceDataError`` listing every problem of the file.
    """
    defaults = _defaults()
    if override is None and use_env:
        env = os.environ.get(ENV_VAR, "").strip()
        override = Path(env) if env else None
    if override is None:
        provinces, communes, as_of = defaults.provinces, defaults.communes, defaults.as_of
    else:
        parsed = _read_override(Path(override))
        provinces, communes = _apply(defaults, parsed, str(override))
        as_of = parsed.as_of or defaults.as_of
    built_provinces, problems = _build_all(provinces)
    built_communes, more = _build_all(communes)
    if problems or more:
        what = (
            f"invalid reference file {override}" if override else "invalid shipped reference data"
        )
        raise ReferenceDataError(what, tuple(problems + more))
    return ReferenceData(
        provinces=MappingProxyType(built_provinces),
        communes=MappingProxyType(built_communes),
        as_of=as_of,
        sources=MappingProxyType(dict(defaults.sources)),
    )


def _build_all(drafts: Mapping[str, _Draft]) -> tuple[dict[str, LocalityFigures], list[str]]:
    built: dict[str, LocalityFigures] = {}
    problems: list[str] = []
    for code, draft in drafts.items():
        try:
            built[code] = draft.build()
        except ValidationError as exc:
            where = draft.where or "(defaults)"
            for error in exc.errors():
                loc = ".".join(str(p) for p in error["loc"]) or "row"
                message = error["msg"].removeprefix("Value error, ")
                problems.append(f"{where}: code {code}: {loc}: {message}")
    return built, problems


def iter_override_template(data: ReferenceData, province: str) -> Iterator[dict[str, str]]:
    """Rows of an override file holding a province and its communes as loaded: a template."""
    rows = [data.provinces[province], *data.communes_of(province)]
    for f in rows:
        out = {"code": f.code, "name": f.name}
        out.update({n: str(getattr(f, n)) for n in FIGURE_FIELDS})
        out.update({"approx": "true" if f.estimated else "false", "as_of": "", "source": ""})
        yield out
