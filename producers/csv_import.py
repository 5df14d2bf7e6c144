"""``civicpulse import-csv``: turning a CSV export of a real system into contract events.

A mapping file (YAML) says how each contract field is made from the CSV's columns::

    kind: welfare.disbursement
    source: vss                          # the contract's `source`, a constant
    time: {column: "Ngày chi trả", format: "%d/%m/%Y %H:%M", timezone: Asia/Ho_Chi_Minh}
    event_id: {columns: ["Số chứng từ"]} # what identifies a row in the source system
    fields:
      province_code: {column: "Mã tỉnh"}
      ward_code: {column: "Mã xã", optional: true}
      program: {value: pension}
      channel: {column: "Hình thức", map: {"Chuyển khoản": bank_account, "Tiền mặt": cash}}
      amount_vnd: {column: "Số tiền", type: amount}
      beneficiary_ref: {citizen_id_column: "Số CCCD"}

Field sources: ``column`` (with an optional value ``map``, a ``default`` for unmapped values,
``type`` string / integer / amount, ``optional`` for empty cells -> null), ``value`` (a constant)
or ``citizen_id_column`` (a raw 12-digit CCCD, turned into ``hmac_ref`` under the key of
``CIVICPULSE_HMAC_KEY`` or of the file named by ``CIVICPULSE_HMAC_KEY_FILE``). A raw ID never
leaves this module: not in the output, not in messages, not in the rejects file (which keeps
only the columns the mapping reads: the ID column as ``<redacted>``, the others through
``mask_raw_ids``). It does not enter the
``event_id`` either: the id is a UUID v5 of the kind, source and identity columns, citizen IDs
replaced by their HMAC, so re-importing an export gives the same ids and the worker counts each
row once.

Every produced line passes ``schemas.validate.parse_event``; a row that does not is written to
the rejects file (JSON lines: file, line, row, reason, masked row) and counted. Nothing is
dropped silently.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from producers.exceptions import ProducersError
from reference.crosswalk import new_province_for, new_wards_for
from schemas.events import MODEL_BY_KIND, SOURCE_PATTERN
from schemas.privacy import hmac_ref, mask_raw_ids
from schemas.validate import Rejection, parse_event

KEY_ENV: Final = "CIVICPULSE_HMAC_KEY"
KEY_FILE_ENV: Final = "CIVICPULSE_HMAC_KEY_FILE"
MIN_KEY_BYTES: Final = 16
NAMESPACE: Final = uuid.uuid5(uuid.NAMESPACE_URL, "https://civicpulse.invalid/import-csv")
REDACTED: Final = "<redacted>"
VN_TZ: Final = timezone(timedelta(hours=7), "ICT")
_VN_ZONES: Final = frozenset({"asia/ho_chi_minh", "asia/saigon", "ict", "vietnam"})
_AUTOMATIC: Final = frozenset({"event_id", "kind", "occurred_at", "source", "schema_version"})
_CODE_WIDTH: Final = {"province_code": 2, "ward_code": 5}
_AMOUNT_RE: Final = re.compile(r"[0-9]{1,3}(?:([.,  ])[0-9]{3})(?:\1[0-9]{3})*|[0-9]+")
_CCCD_RE: Final = re.compile(r"[0-9]{12}")


class CsvImportError(ProducersError):
    """Base of the importer's errors."""


class MappingError(CsvImportError):
    """The mapping file is unreadable or invalid."""


class HmacKeyError(CsvImportError):
    """No usable HMAC key for citizen IDs."""


class CsvInputError(CsvImportError):
    """An input CSV cannot be read, or lacks a column the mapping names."""


# --- the mapping ----------------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnField(_Spec):
    column: Annotated[str, Field(min_length=1)]
    map: dict[str, str | int] | None = None
    default: str | int | None = None  # for a value the map does not name (else: reject)
    type: Literal["string", "integer", "amount"] = "string"
    optional: bool = False  # an empty cell gives null (else: reject)


class ConstantField(_Spec):
    value: str | int | None


class CitizenIdField(_Spec):
    citizen_id_column: Annotated[str, Field(min_length=1)]
    optional: bool = False


FieldSpec = ColumnField | ConstantField | CitizenIdField


class TimeSpec(_Spec):
    column: Annotated[str, Field(min_length=1)]
    format: str = "iso"  # "iso" (RFC 3339 / ISO 8601) or a strptime format
    timezone: str = "Asia/Ho_Chi_Minh"  # for times without an offset: a zone name or +07:00


class EventIdSpec(_Spec):
    columns: Annotated[list[str], Field(min_length=1)]


class CsvSpec(_Spec):
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    encoding: str = "utf-8-sig"


class ImportMapping(_Spec):
    kind: Literal["identity.activation", "payment.qr", "welfare.disbursement", "service.payment"]
    source: Annotated[str, Field(pattern=SOURCE_PATTERN)]
    time: TimeSpec
    fields: dict[str, FieldSpec]
    event_id: EventIdSpec | None = None  # default: every column of the row
    csv: CsvSpec = CsvSpec()
    legacy_codes: bool = False  # translate pre-July-2025 codes with reference.crosswalk

    @model_validator(mode="after")
    def _fields_of_the_kind(self) -> Self:
        model = MODEL_BY_KIND[self.kind]
        allowed = set(model.model_fields) - _AUTOMATIC
        unknown = sorted(set(self.fields) - allowed)
        if unknown:
            raise ValueError(
                f"fields {', '.join(unknown)} are not fields of {self.kind} "
                f"(its fields: {', '.join(sorted(allowed))}; event_id, kind, occurred_at, source "
                "and schema_version are set by the importer)"
            )
        missing = sorted(
            name
            for name in allowed - set(self.fields)
            if name != "ward_code" and name != "payer_ref"  # these two default to null
        )
        if missing:
            raise ValueError(f"{self.kind} needs fields {', '.join(missing)}")
        self.tz()  # fails early on an unknown zone
        return self

    def tz(self) -> tzinfo:
        name = self.time.timezone.strip()
        if name.lower() in _VN_ZONES:
            return VN_TZ  # no daylight saving since 1975: a fixed offset needs no tz database
        offset = re.fullmatch(r"([+-])([0-9]{2}):([0-9]{2})", name)
        if offset:
            sign = 1 if offset[1] == "+" else -1
            return timezone(sign * timedelta(hours=int(offset[2]), minutes=int(offset[3])))
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (use Asia/Ho_Chi_Minh or +07:00)"
            ) from None

    def columns(self) -> list[str]:
        """Every CSV column the mapping reads."""
        names = [self.time.column]
        for spec in self.fields.values():
            if isinstance(spec, ColumnField):
                names.append(spec.column)
            elif isinstance(spec, CitizenIdField):
                names.append(spec.citizen_id_column)
        if self.event_id is not None:
            names += self.event_id.columns
        return list(dict.fromkeys(names))

    def citizen_columns(self) -> set[str]:
        return {s.citizen_id_column for s in self.fields.values() if isinstance(s, CitizenIdField)}


def load_mapping(path: str | os.PathLike[str]) -> ImportMapping:
    """Read and validate a mapping file; ``MappingError`` says what is wrong and where."""
    name = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except OSError as exc:
        raise MappingError(f"cannot read mapping {name}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise MappingError(f"mapping {name} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise MappingError(f"{name}:1: a mapping is a YAML mapping (kind, source, time, fields)")
    try:
        return ImportMapping.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [p for p in error["loc"] if not str(p).endswith("Field") and "[" not in str(p)]
            where = ".".join(str(p) for p in loc) or "mapping"
            problems.append(f"{name}:{_line(node, loc)}: {where}: {_message(error)}")
        raise MappingError(
            f"invalid mapping {name}:\n  " + "\n  ".join(dict.fromkeys(problems))
        ) from None


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key (see the example mapping in scenarios/import-examples/)"
    return str(error["msg"]).removeprefix("Value error, ")


def _line(node: yaml.Node | None, loc: Sequence[Any]) -> int:
    line = 1 if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
    return line


# --- the key --------------------------------------------------------------------------------


def hmac_key_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    """The HMAC key: ``CIVICPULSE_HMAC_KEY`` (UTF-8 text) or the file ``CIVICPULSE_HMAC_KEY_FILE``.

    A trailing newline of the file is dropped. Raises ``HmacKeyError`` when neither or both are
    set, or the key is shorter than 16 bytes (a short key makes 12-digit IDs guessable).
    """
    env = os.environ if environ is None else environ
    text, file = env.get(KEY_ENV, ""), env.get(KEY_FILE_ENV, "")
    if text and file:
        raise HmacKeyError(f"set {KEY_ENV} or {KEY_FILE_ENV}, not both")
    if file:
        try:
            key = Path(file).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise HmacKeyError(
                f"cannot read the key file {file} ({KEY_FILE_ENV}): {exc.strerror}"
            ) from None
    elif text:
        key = text.encode("utf-8")
    else:
        raise HmacKeyError(
            f"no HMAC key for citizen IDs: set {KEY_ENV}, or {KEY_FILE_ENV} to a secret file "
            "(the producer's key: the same key must be used for every import)"
        )
    if len(key) < MIN_KEY_BYTES:
        raise HmacKeyError(f"the HMAC key is {len(key)} bytes: at least {MIN_KEY_BYTES} are needed")
    return key


# --- converting rows ------------------------------------------------------------------------


class _RowError(Exception):
    """Why one row gives no event; the message never holds a citizen ID."""


@dataclass
class ImportSummary:
    files: list[str] = field(default_factory=list)
    rows: int = 0
    written: int = 0
    rejected: Counter[str] = field(default_factory=Counter)  # reason -> rows
    repeated_ids: int = 0  # rows whose event_id an earlier row of this run already had

    def render(self) -> str:
        lines = [
            f"import-csv: {self.rows:,} rows in {len(self.files)} file(s): "
            f"{self.written:,} events written, {sum(self.rejected.values()):,} rejected"
        ]
        lines += [f"  rejected, {reason}: {n:,}" for reason, n in self.rejected.most_common()]
        if self.repeated_ids:
            lines.append(
                f"  {self.repeated_ids:,} rows repeat an earlier row's identity (same event_id: "
                "the worker counts them once)"
            )
        return "\n".join(lines)


class RowConverter:
    """Turns one CSV row (a dict) into an event line, or raises ``_RowError``."""

    def __init__(self, mapping: ImportMapping, key: bytes | None, now: float | None = None) -> None:
        if mapping.citizen_columns() and not key:
            raise HmacKeyError("the mapping reads citizen IDs: an HMAC key is needed")
        self.mapping = mapping
        self._key = key or b""
        self._tz = mapping.tz()
        self._now = now
        model_fields = list(MODEL_BY_KIND[mapping.kind].model_fields)
        self._order = [f for f in model_fields if f not in _AUTOMATIC]

    def convert(self, row: Mapping[str, str]) -> tuple[str, bytes]:
        """The event's id and line."""
        m = self.mapping
        refs: dict[str, str] = {}  # citizen-ID column -> its HMAC, for the event_id
        values: dict[str, Any] = {}
        for name in self._order:
            spec = m.fields.get(name)
            values[name] = None if spec is None else self._value(name, spec, row, refs)
        if m.legacy_codes:
            self._translate(values)
        event_id = self._event_id(row, refs)
        event: dict[str, Any] = {
            "event_id": event_id,
            "kind": m.kind,
            "occurred_at": self._time(row),
            "province_code": values.pop("province_code"),
            "ward_code": values.pop("ward_code"),
            "source": m.source,
            "schema_version": 1,
        }
        event.update(values)
        line = orjson.dumps(event)
        result = parse_event(line, now=self._now if self._now is not None else time.time())
        if isinstance(result, Rejection):
            raise _RowError(f"{result.reason.value}: {mask_raw_ids(result.detail)}")
        return event_id, line

    def _value(
        self, name: str, spec: FieldSpec, row: Mapping[str, str], refs: dict[str, str]
    ) -> Any:
        if isinstance(spec, ConstantField):
            return spec.value
        if isinstance(spec, CitizenIdField):
            raw = (row.get(spec.citizen_id_column) or "").strip().replace(" ", "")
            if not raw:
                if spec.optional:
                    return None
                raise _RowError(f"{name}: column {spec.citizen_id_column!r} is empty")
            if _CCCD_RE.fullmatch(raw) is None:
                raise _RowError(
                    f"{name}: column {spec.citizen_id_column!r} does not hold a 12-digit citizen ID"
                )
            ref = hmac_ref(raw, self._key)
            refs[spec.citizen_id_column] = ref
            return ref
        cell = (row.get(spec.column) or "").strip()
        if not cell:
            if spec.optional:
                return None
            raise _RowError(f"{name}: column {spec.column!r} is empty")
        value: str | int = cell
        if spec.map is not None:
            mapped = spec.map.get(cell)
            if mapped is None:
                folded = {k.casefold(): v for k, v in spec.map.items()}
                mapped = folded.get(cell.casefold(), spec.default)
            if mapped is None:
                known = ", ".join(repr(k) for k in list(spec.map)[:8])
                raise _RowError(f"{name}: {mask_raw_ids(cell)!r} is not in the value map ({known})")
            value = mapped
        if spec.type == "integer" and isinstance(value, str):
            if not re.fullmatch(r"-?[0-9]+", value):
                raise _RowError(f"{name}: {mask_raw_ids(value)!r} is not a whole number")
            value = int(value)
        elif spec.type == "amount" and isinstance(value, str):
            value = _amount(name, value)
        if name in _CODE_WIDTH and isinstance(value, str) and value.isascii() and value.isdigit():
            value = value.zfill(_CODE_WIDTH[name])  # spreadsheets drop leading zeros
        return value

    def _translate(self, values: dict[str, Any]) -> None:
        province, ward = values.get("province_code"), values.get("ward_code")
        if isinstance(province, str):
            values["province_code"] = new_province_for(province) or province
        if isinstance(ward, str):
            targets = new_wards_for(ward)
            if len(targets) == 1:
                values["ward_code"] = targets[0]
            elif targets:
                values["ward_code"] = None  # split between several communes: province only

    def _time(self, row: Mapping[str, str]) -> str:
        spec = self.mapping.time
        cell = (row.get(spec.column) or "").strip()
        if not cell:
            raise _RowError(f"occurred_at: column {spec.column!r} is empty")
        try:
            if spec.format == "iso":
                moment = datetime.fromisoformat(cell.replace("Z", "+00:00"))
            else:
                moment = datetime.strptime(cell, spec.format)
        except ValueError:
            raise _RowError(
                f"occurred_at: {mask_raw_ids(cell)!r} does not match the format {spec.format!r}"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self._tz)
        return moment.isoformat(timespec="seconds")

    def _event_id(self, row: Mapping[str, str], refs: Mapping[str, str]) -> str:
        spec = self.mapping.event_id
        columns = spec.columns if spec is not None else list(row)
        citizen = self.mapping.citizen_columns()
        parts = [self.mapping.kind, self.mapping.source]
        for column in columns:
            cell = (row.get(column) or "").strip()
            if column in citizen:  # never hash a raw ID into a public identifier
                cell = refs.get(column) or (hmac_ref(cell, self._key) if cell else "")
            parts.append(f"{column}={cell}")
        return str(uuid.uuid5(NAMESPACE, "\x1f".join(parts)))


def _amount(name: str, text: str) -> int:
    cleaned = re.sub(r"(?i)\s*(vnd|vnđ|đ|₫)$", "", text.replace("\u00a0", " ").strip())
    if _AMOUNT_RE.fullmatch(cleaned) is None:
        raise _RowError(f"{name}: {mask_raw_ids(text)!r} is not an amount in whole đồng")
    return int(re.sub(r"[.,  ]", "", cleaned))


# --- files ------------------------------------------------------------------------------------


def _open_out(path: str) -> io.BufferedIOBase:
    if path.endswith(".gz"):
        return gzip.open(path, "wb")
    return open(path, "wb")


def _rows(
    path: str, spec: CsvSpec, needed: Sequence[str]
) -> Iterator[tuple[int, int, dict[str, str]]]:
    """(line, row number, row) of one CSV; ``CsvInputError`` when it cannot be read."""
    try:
        handle = open(path, encoding=spec.encoding, newline="")  # noqa: SIM115
    except (OSError, LookupError) as exc:
        raise CsvInputError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    with handle:
        reader = csv.DictReader(handle, delimiter=spec.delimiter)
        try:
            header = [h.strip() for h in reader.fieldnames or []]
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CsvInputError(f"{path}: the header is unreadable ({exc})") from None
        if not header:
            raise CsvInputError(f"{path}: empty file (a header line is needed)")
        reader.fieldnames = header
        absent = [c for c in needed if c not in header]
        if absent:
            raise CsvInputError(
                f"{path}: column(s) {', '.join(map(repr, absent))} named in the mapping are not in "
                f"the header ({', '.join(map(repr, header))})"
            )
        number = 0
        try:
            for row in reader:
                number += 1
                yield reader.line_num, number, {k: v or "" for k, v in row.items() if k is not None}
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CsvInputError(f"{path}: unreadable after data row {number}: {exc}") from None


def import_csv(
    inputs: Sequence[str | os.PathLike[str]],
    mapping: ImportMapping,
    out: str | os.PathLike[str],
    rejects: str | os.PathLike[str],
    *,
    key: bytes | None = None,
    now: float | None = None,
) -> ImportSummary:
    """Convert every row of ``inputs`` (in order) into ``out``; bad rows into ``rejects``.

    ``key`` defaults to ``hmac_key_from_env()`` when the mapping reads citizen IDs.
    """
    if not inputs:
        raise CsvInputError("no input CSV given")
    if mapping.citizen_columns() and key is None:
        key = hmac_key_from_env()
    converter = RowConverter(mapping, key, now)
    citizen = mapping.citizen_columns()
    summary = ImportSummary()
    seen: set[str] = set()
    needed = mapping.columns()
    names = [os.fspath(p) for p in inputs]
    for name in names:  # fail before writing anything when a file is missing
        if not os.path.isfile(name):
            raise CsvInputError(f"no such input file: {name}")
    with _open_out(os.fspath(out)) as sink, open(os.fspath(rejects), "wb") as bad:
        for name in names:
            summary.files.append(name)
            for line_no, row_no, row in _rows(name, mapping.csv, needed):
                summary.rows += 1
                try:
                    event_id, line = converter.convert(row)
                except _RowError as exc:
                    reason = str(exc)
                    summary.rejected[reason.split(":")[0]] += 1
                    # Only the columns the mapping reads (a name column is nobody's business here).
                    masked = {
                        k: REDACTED if k in citizen and row[k] else mask_raw_ids(row[k])
                        for k in needed
                    }
                    record = {
                        "file": name,
                        "line": line_no,
                        "row": row_no,
                        "reason": reason,
                        "data": masked,
                    }
                    bad.write(orjson.dumps(record) + b"\n")
                    continue
                if event_id in seen:
                    summary.repeated_ids += 1
                seen.add(event_id)
                sink.write(line + b"\n")
                summary.written += 1
    return summary
