"""Turning the bytes of one message into an ``Event`` or a ``Rejection``: the worker's hot path.

The checks are hand-written rather than delegated to pydantic because the contract fixes the
*reason* of each rejection and its precedence, and because the worker needs >= 50k events/s on
one core. The models in ``schemas.events`` remain the schema of record; a unit test proves that
``parse_event`` and full pydantic validation accept exactly the same events.

Precedence, first match wins:

1. ``too_large``, ``not_utf8``, ``not_json``, ``not_object``: the payload is not a readable
   object. If its bytes hold a run of exactly 12 digits the reason is ``personal_data`` instead,
   since the dead-letter writer masks only for that reason.
2. ``personal_data``: a raw citizen ID anywhere it is not a valid value of its field (free-text
   fields always, ``*_ref`` fields unless 64 hex, unknown keys and values, nested values, and
   invalid values of the other fields).
3. ``duplicate_key``, then ``bad_schema_version`` (checked before the kind and the field list so
   that a future version is reported as such), ``missing_field``/``wrong_type``/``unknown_kind``
   for ``kind``, ``wrong_topic``, ``unknown_field``, ``missing_field``.
4. Each field in contract order: ``wrong_type`` then its value rule.
5. The time window last (``time_too_old``, ``time_in_future``): it depends on the clock, so any
   other fault is reported the same way whenever the message is replayed.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Final

import orjson

from schemas.events import (
    FUTURE_TOLERANCE_S,
    KINDS,
    MAX_AMOUNT_VND,
    MAX_EVENT_BYTES,
    MODEL_BY_KIND,
    OLDEST_EPOCH_S,
    PROVINCE_CODE_PATTERN,
    REF_PATTERN,
    RFC3339_PATTERN,
    SOURCE_PATTERN,
    UUID_PATTERN,
    WARD_CODE_PATTERN,
    Event,
    occurred_at_epoch,
)
from schemas.localities import all_provinces, all_wards
from schemas.privacy import RAW_ID_LENGTH, contains_raw_id, find_raw_id, mask_raw_ids
from schemas.reasons import Reason

__all__ = ["Rejection", "event_key", "parse_event", "sniff_kind"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message is not an event. ``detail`` is for humans and never holds a raw ID."""

    reason: Reason
    detail: str


# --- compiled rules -----------------------------------------------------------------------------

_UUID_RE: Final = re.compile(UUID_PATTERN)
_RFC3339_RE: Final = re.compile(RFC3339_PATTERN)
_PROVINCE_RE: Final = re.compile(PROVINCE_CODE_PATTERN)
_WARD_RE: Final = re.compile(WARD_CODE_PATTERN)
_SOURCE_RE: Final = re.compile(SOURCE_PATTERN)
_REF_RE: Final = re.compile(REF_PATTERN)
_ESCAPE_RE: Final = re.compile(rb"\\.", re.DOTALL)

_PROVINCES: Final = dict(all_provinces())  # plain dicts: faster lookups than the proxies
_WARD_PROVINCE: Final = dict(all_wards())

_FIELD_ORDER: Final = {kind: tuple(model.model_fields) for kind, model in MODEL_BY_KIND.items()}
_FIELDS: Final = {kind: frozenset(order) for kind, order in _FIELD_ORDER.items()}
_FIELD_COUNT: Final = {kind: len(order) for kind, order in _FIELD_ORDER.items()}
_STRING_FIELDS: Final = {  # fields that hold a string in a valid event (when not null)
    kind: sum(1 for name in order if name not in {"schema_version", "level", "amount_vnd"})
    for kind, order in _FIELD_ORDER.items()
}
_FIELD_SETS: Final = {kind: set(order) for kind, order in _FIELD_ORDER.items()}  # copied per event
_ALL_FIELDS: Final = frozenset().union(*_FIELDS.values())
_FREE_TEXT: Final = frozenset({"source", "service_code", "dossier_ref"})

_MERCHANT_CATEGORIES: Final = frozenset(
    {
        "market",
        "retail",
        "food",
        "utility",
        "healthcare",
        "education",
        "transport",
        "public_service",
        "other",
    }
)
_PROGRAMS: Final = frozenset({"pension", "social_allowance"})
_WELFARE_CHANNELS: Final = frozenset({"bank_account", "cash"})
_SERVICE_CHANNELS: Final = frozenset({"online", "counter"})

_ID_MIN: Final = 10 ** (RAW_ID_LENGTH - 1)
_ID_END: Final = 10**RAW_ID_LENGTH

_GOOD_SOURCES: Final[set[str]] = set()  # sources seen valid; bounded against odd producers
_GOOD_SOURCES_MAX: Final = 1024

_MISSING: Final = object()
_JSON_TYPE: Final = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
    dict: "object",
    list: "array",
}
_object_setattr = object.__setattr__


# --- public API ---------------------------------------------------------------------------------


def parse_event(
    raw: bytes, *, now: float | None = None, expected_kind: str | None = None
) -> Event | Rejection:
    """Validate one message: the event, or why it is rejected. Never raises.

    ``now`` is the worker's clock in Unix seconds (default ``time.time()``), used only for the
    "more than 5 minutes ahead" rule. ``expected_kind`` is the kind of the topic the message
    arrived on; a different ``kind`` is ``wrong_topic``.
    """
    try:
        if type(raw) is not bytes:
            if raw is None:  # a Kafka tombstone: a message without a value
                return Rejection(Reason.NOT_JSON, "message has no value")
            if not isinstance(raw, bytearray | memoryview | str):
                return Rejection(Reason.NOT_JSON, f"payload is {type(raw).__name__}, not bytes")
            raw = _as_bytes(raw)
        return _parse(raw, now, expected_kind)
    except Exception:
        # A bug here must not stop the worker or drop the message: reject it visibly.
        _log.exception("event validation failed unexpectedly")
        return _safe_rejection(raw, Reason.BAD_VALUE, "internal validation error")


_EVENT_ID_KEY_RE: Final = re.compile(
    rb'"event_id"[ \t\r\n]*:[ \t\r\n]*"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}'
    rb'-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"'
)
_KIND_RE: Final = re.compile(rb'"kind"[ \t\r\n]*:[ \t\r\n]*"([^"\\]{1,64})"')


def event_key(raw: bytes) -> bytes | None:
    """The Kafka message key of an event: its ``event_id``, lowercased, or None if unreadable.

    A regex, not a JSON parse, keeps this cheap for producers. In JSON a quote inside a string
    is escaped, so ``"event_id":"`` only occurs as a key; a message where it is nested or
    repeated is rejected by the worker whatever its key. Lowercase because UUIDs are
    case-insensitive and all copies of an event must land on one partition.
    """
    try:
        match = _EVENT_ID_KEY_RE.search(raw)
    except TypeError:
        return None
    return match[1].lower() if match else None


def sniff_kind(raw: bytes) -> str | None:
    """The ``kind`` of a message if it can be read (for routing by replay), else None.

    Falls back to a regex when the message is not valid JSON, so that a truncated line still
    goes to the topic of its kind (where the worker rejects it as not_json).
    """
    try:
        obj = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        try:
            match = _KIND_RE.search(raw)
        except TypeError:
            return None
        if match is None:
            return None
        try:
            return match[1].decode("utf-8")
        except UnicodeDecodeError:
            return None
    if type(obj) is dict:
        kind = obj.get("kind")
        if type(kind) is str:
            return kind
    return None


# --- reading the bytes --------------------------------------------------------------------------


def _as_bytes(raw: bytearray | memoryview | str) -> bytes:
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogatepass")  # lone surrogates then fail as not_utf8
    return bytes(raw)


def _safe_rejection(raw: object, reason: Reason, detail: str) -> Rejection:
    try:
        if isinstance(raw, bytes | str) and find_raw_id(raw):
            return Rejection(Reason.PERSONAL_DATA, f"{detail}; payload holds a 12-digit run")
    except Exception:  # belt and braces for the never-raise promise
        return Rejection(Reason.PERSONAL_DATA, f"{detail}; payload could not be checked")
    return Rejection(reason, detail)


def _unreadable(raw: bytes, reason: Reason, detail: str) -> Rejection:
    # No object to look into: any 12-digit run may be an ID, so over-mask (the safe side).
    if find_raw_id(raw):
        return Rejection(Reason.PERSONAL_DATA, f"{detail} ({reason}), and it holds a 12-digit run")
    return Rejection(reason, detail)


def _parse(raw: bytes, now: float | None, expected_kind: str | None) -> Event | Rejection:
    if len(raw) > MAX_EVENT_BYTES:
        return _unreadable(
            raw, Reason.TOO_LARGE, f"message is {len(raw)} bytes, over {MAX_EVENT_BYTES}"
        )
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return _not_json(raw, exc)
    if type(obj) is not dict:
        return _unreadable(raw, Reason.NOT_OBJECT, f"JSON {_json_type(obj)} is not an object")

    # orjson silently keeps the last of repeated keys and turns integers beyond 64 bits into
    # floats, so its verdict stands only when the object provably had neither: it is flat, so
    # every unescaped '"' delimits one of its keys or string values, and the count of those
    # then proves that no key was repeated. Otherwise the stdlib re-parses exactly (slowly).
    result = _rules(obj, now, expected_kind)
    if type(result) is Rejection:
        if not _is_lossless(raw, obj):
            return _parse_exact(raw, now, expected_kind)
        return _outrank_by_personal(obj, result)
    # A valid event is flat and its string fields are known: only the count is left to check.
    kind = obj["kind"]
    strings = _STRING_FIELDS[kind] - (obj["ward_code"] is None) - (obj.get("payer_ref", 0) is None)
    if _delimiters(raw) != 2 * (_FIELD_COUNT[kind] + strings):
        return _parse_exact(raw, now, expected_kind)
    return result


def _delimiters(raw: bytes) -> int:
    """How many '"' in valid JSON delimit strings (the others are escaped, as \\")."""
    quotes = raw.count(b'"')
    if b"\\" in raw:
        # Backslashes occur only inside strings, so pairing them from the left is exact.
        quotes -= _ESCAPE_RE.findall(raw).count(b'\\"')
    return quotes


def _is_lossless(raw: bytes, obj: dict[str, Any]) -> bool:
    strings = 0
    for value in obj.values():
        value_type = type(value)
        if value_type is str:
            strings += 1
        elif not (value_type is int or value is None or value_type is bool):
            return False  # nested, or a float that may stand for a huge integer
    return _delimiters(raw) == 2 * (len(obj) + strings)


def _not_json(raw: bytes, exc: orjson.JSONDecodeError) -> Rejection:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return _unreadable(raw, Reason.NOT_UTF8, f"invalid UTF-8 at byte {err.start}")
    if text.startswith("\ufeff"):
        return _unreadable(raw, Reason.NOT_JSON, "starts with a byte order mark")
    # orjson's message names the position, never the content.
    return _unreadable(raw, Reason.NOT_JSON, f"not JSON: {exc.msg} at char {exc.pos}")


class _PairsHook:
    """``object_pairs_hook`` that remembers every object with a repeated key."""

    __slots__ = ("repeated", "top")

    def __init__(self) -> None:
        self.repeated: list[list[tuple[str, Any]]] = []
        self.top: list[tuple[str, Any]] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            self.repeated.append(pairs)
        self.top = pairs  # the outermost object is completed last
        return obj


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _parse_exact(raw: bytes, now: float | None, expected_kind: str | None) -> Event | Rejection:
    hook = _PairsHook()
    try:
        obj = json.loads(
            raw.decode("utf-8"), object_pairs_hook=hook, parse_constant=_reject_constant
        )
    except RecursionError:  # orjson allows deeper nesting than the stdlib
        return _unreadable(raw, Reason.NOT_JSON, "not JSON: nesting too deep")
    except ValueError:  # orjson accepted it, so not expected
        return _unreadable(raw, Reason.NOT_JSON, "not JSON for the exact parser")
    if not hook.repeated:
        return _check(obj, now, expected_kind)
    # Look at every copy of a repeated key for IDs, not just the one that won.
    known = _known_fields(obj)
    where = _personal_location(hook.top, known)
    if where is None:
        for pairs in hook.repeated:
            if pairs is not hook.top and any(_carries_id(k) or _carries_id(v) for k, v in pairs):
                where = "a nested object"
                break
    if where is not None:
        return _personal(where)
    return Rejection(
        Reason.DUPLICATE_KEY, f"key {_show(_first_repeat(hook.repeated[0]))} appears more than once"
    )


def _first_repeat(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    return ""  # only called on objects with a repeat


# --- personal data ------------------------------------------------------------------------------


def _carries_id(value: object) -> bool:
    """Whether a decoded JSON value (keys of nested objects included) holds a raw ID."""
    if type(value) is str:
        return contains_raw_id(value)
    stack = [value]
    while stack:  # iterative: nesting may be deeper than Python's recursion limit
        item = stack.pop()
        if type(item) is str:
            if contains_raw_id(item):
                return True
        elif type(item) is int:  # `is`, so booleans are not integers here
            if _ID_MIN <= abs(item) < _ID_END:
                return True
        elif type(item) is float:
            if contains_raw_id(repr(item)):
                return True
        elif type(item) is dict:
            stack.extend(item.keys())
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
    return False


def _known_fields(obj: dict[str, Any]) -> frozenset[str]:
    kind = obj.get("kind")
    return _FIELDS.get(kind, _ALL_FIELDS) if type(kind) is str else _ALL_FIELDS


def _valid_value_may_hold_digits(key: str, value: object) -> bool:
    """True for valid values that can contain 12 digits in a row without being an ID."""
    if key == "event_id":
        return type(value) is str and _UUID_RE.fullmatch(value) is not None
    if key == "occurred_at":  # a long fraction of a second
        return type(value) is str and _RFC3339_RE.fullmatch(value) is not None
    if key == "amount_vnd":
        return type(value) is int and 0 <= value <= MAX_AMOUNT_VND
    return False


def _personal_location(pairs: Any, known: frozenset[str]) -> str | None:
    """Where a raw citizen ID sits in a top-level object's ``(key, value)`` pairs, or None."""
    for key, value in pairs:
        if key in _FREE_TEXT:
            exempt = False
        elif key.endswith("_ref"):  # citizen_ref, payer_ref, beneficiary_ref
            exempt = type(value) is str and _REF_RE.fullmatch(value) is not None
        elif key in known:
            exempt = _valid_value_may_hold_digits(key, value)
        else:
            exempt = False
        if contains_raw_id(key):  # contract names hold no digits, so this is an unknown key
            return "the name of an unknown field"
        if not exempt and _carries_id(value):
            return f"field {_show(key)}"
    return None


def _personal(where: str) -> Rejection:
    return Rejection(Reason.PERSONAL_DATA, f"raw citizen ID (12-digit run) in {where}")


# --- the rules ----------------------------------------------------------------------------------


def _check(obj: dict[str, Any], now: float | None, expected_kind: str | None) -> Event | Rejection:
    result = _rules(obj, now, expected_kind)
    if type(result) is Rejection:
        return _outrank_by_personal(obj, result)
    return result


def _outrank_by_personal(obj: dict[str, Any], rejection: Rejection) -> Rejection:
    # Personal data outranks every other reason; looking for it only on the rejection path
    # keeps valid events cheap (their free text was already checked by the rules).
    where = _personal_location(obj.items(), _known_fields(obj))
    return rejection if where is None else _personal(where)


def _rules(obj: dict[str, Any], now: float | None, expected_kind: str | None) -> Event | Rejection:
    version = obj.get("schema_version", _MISSING)
    if version is not _MISSING and (type(version) is not int or version != 1):
        return Rejection(Reason.BAD_SCHEMA_VERSION, "schema_version must be the integer 1")
    kind = obj.get("kind", _MISSING)
    if kind is _MISSING:
        return _missing("kind")
    if type(kind) is not str:
        return _wrong_type("kind", "a string", kind)
    fields = _FIELDS.get(kind)
    if fields is None:
        return Rejection(Reason.UNKNOWN_KIND, f"kind must be one of {', '.join(KINDS)}")
    if expected_kind is not None and kind != expected_kind:
        return Rejection(Reason.WRONG_TOPIC, f"a {kind} event on the topic of {expected_kind}")
    keys = obj.keys()
    if keys != fields:
        extra = keys - fields
        if extra:
            return Rejection(
                Reason.UNKNOWN_FIELD, f"field {_show(min(extra))} is not in the contract"
            )
        return _missing(next(name for name in _FIELD_ORDER[kind] if name not in keys))

    event_id = obj["event_id"]
    if type(event_id) is not str:
        return _wrong_type("event_id", "a string", event_id)
    if _UUID_RE.fullmatch(event_id) is None:
        return Rejection(Reason.BAD_VALUE, "event_id is not a UUID (8-4-4-4-12 hex)")

    occurred_at = obj["occurred_at"]
    if type(occurred_at) is not str:
        return _wrong_type("occurred_at", "a string", occurred_at)
    ts = occurred_at_epoch(occurred_at)
    if ts is None:
        return Rejection(
            Reason.BAD_TIME, "occurred_at is not RFC 3339 with an explicit offset (Z or ±hh:mm)"
        )

    province = obj["province_code"]
    if type(province) is not str:
        return _wrong_type("province_code", "a string", province)
    if province not in _PROVINCES:
        if _PROVINCE_RE.fullmatch(province) is None:
            return Rejection(Reason.BAD_CODE, "province_code is not two ASCII digits")
        return Rejection(Reason.UNKNOWN_PROVINCE, f"province_code {province} is not a province")

    ward = obj["ward_code"]
    if ward is not None:
        if type(ward) is not str:
            return _wrong_type("ward_code", "a string or null", ward)
        owner = _WARD_PROVINCE.get(ward)
        if owner is None:
            if _WARD_RE.fullmatch(ward) is None:
                return Rejection(Reason.BAD_CODE, "ward_code is not five ASCII digits")
            return Rejection(Reason.UNKNOWN_WARD, f"ward_code {ward} is not a ward")
        if owner != province:
            return Rejection(
                Reason.WARD_NOT_IN_PROVINCE,
                f"ward {ward} belongs to province {owner}, not {province}",
            )

    source = obj["source"]
    if type(source) is not str:
        return _wrong_type("source", "a string", source)
    if source not in _GOOD_SOURCES:  # a handful of producers: skip two regexes per event
        if _SOURCE_RE.fullmatch(source) is None:
            return Rejection(Reason.BAD_VALUE, "source must match [a-z0-9_.-]{1,32}")
        if contains_raw_id(source):
            return _personal("field 'source'")
        if len(_GOOD_SOURCES) < _GOOD_SOURCES_MAX:
            _GOOD_SOURCES.add(source)

    rejection = _KIND_RULES[kind](obj)
    if rejection is not None:
        return rejection

    if ts < OLDEST_EPOCH_S:
        return Rejection(Reason.TIME_TOO_OLD, "occurred_at is before 2020-01-01T00:00:00Z")
    if ts > (time.time() if now is None else now) + FUTURE_TOLERANCE_S:
        return Rejection(Reason.TIME_IN_FUTURE, "occurred_at is more than 5 minutes ahead")
    return _build(kind, obj, ts)


def _check_ref(obj: dict[str, Any], name: str, nullable: bool = False) -> Rejection | None:
    value = obj[name]
    if type(value) is str:
        if _REF_RE.fullmatch(value) is None:
            return Rejection(Reason.BAD_VALUE, f"{name} is not 64 lowercase hex characters")
        return None
    if value is None and nullable:
        return None
    return _wrong_type(name, "a string or null" if nullable else "a string", value)


def _check_amount(obj: dict[str, Any], low: int) -> Rejection | None:
    amount = obj["amount_vnd"]
    if type(amount) is not int:
        return _wrong_type("amount_vnd", "an integer", amount)
    if not low <= amount <= MAX_AMOUNT_VND:
        return Rejection(Reason.BAD_VALUE, f"amount_vnd must be {low}..{MAX_AMOUNT_VND:,}")
    return None


def _check_enum(obj: dict[str, Any], name: str, allowed: frozenset[str]) -> Rejection | None:
    value = obj[name]
    if type(value) is not str:
        return _wrong_type(name, "a string", value)
    if value not in allowed:
        return Rejection(Reason.BAD_VALUE, f"{name} must be one of {', '.join(sorted(allowed))}")
    return None


def _check_text64(obj: dict[str, Any], name: str) -> Rejection | None:
    value = obj[name]
    if type(value) is not str:
        return _wrong_type(name, "a string", value)
    if not 1 <= len(value) <= 64:
        return Rejection(Reason.BAD_VALUE, f"{name} must be 1..64 characters")
    if contains_raw_id(value):
        return _personal(f"field '{name}'")
    return None


def _identity_rules(obj: dict[str, Any]) -> Rejection | None:
    level = obj["level"]
    if type(level) is not int:
        return _wrong_type("level", "an integer", level)
    if level != 1 and level != 2:
        return Rejection(Reason.BAD_VALUE, "level must be 1 or 2")
    return _check_ref(obj, "citizen_ref")


def _qr_rules(obj: dict[str, Any]) -> Rejection | None:
    return (
        _check_amount(obj, 1)
        or _check_enum(obj, "merchant_category", _MERCHANT_CATEGORIES)
        or _check_ref(obj, "payer_ref", nullable=True)
    )


def _welfare_rules(obj: dict[str, Any]) -> Rejection | None:
    return (
        _check_enum(obj, "program", _PROGRAMS)
        or _check_enum(obj, "channel", _WELFARE_CHANNELS)
        or _check_amount(obj, 1)
        or _check_ref(obj, "beneficiary_ref")
    )


def _service_rules(obj: dict[str, Any]) -> Rejection | None:
    return (
        _check_enum(obj, "channel", _SERVICE_CHANNELS)
        or _check_amount(obj, 0)
        or _check_text64(obj, "service_code")
        or _check_text64(obj, "dossier_ref")
    )


_KIND_RULES: Final = {
    "identity.activation": _identity_rules,
    "payment.qr": _qr_rules,
    "welfare.disbursement": _welfare_rules,
    "service.payment": _service_rules,
}
assert set(_KIND_RULES) == set(KINDS)


def _build(kind: str, obj: dict[str, Any], ts: float) -> Event:
    # What BaseModel.model_construct does, without its generic per-field loop (which costs
    # more than all the checks above). Safe because every rule already held; the agreement test
    # compares the result with a pydantic-validated model. `obj` is a fresh dict from the
    # parser, so it becomes the instance dict as is (keeping the producer's key order).
    model = MODEL_BY_KIND[kind]
    obj["ts"] = ts  # pre-fills the `ts` cached_property
    event = model.__new__(model)
    _object_setattr(event, "__dict__", obj)
    _object_setattr(event, "__pydantic_fields_set__", _FIELD_SETS[kind].copy())
    _object_setattr(event, "__pydantic_extra__", None)
    _object_setattr(event, "__pydantic_private__", None)
    return event  # type: ignore[return-value]


# --- details ------------------------------------------------------------------------------------


def _json_type(value: object) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)


def _show(name: str) -> str:
    # Keys are shown only once the personal-data scan found no ID in them; masking again covers
    # a longer digit run that the cut at 40 characters would shorten to exactly 12.
    return mask_raw_ids(repr(name if len(name) <= 40 else name[:40] + "…"))


def _missing(name: str) -> Rejection:
    return Rejection(Reason.MISSING_FIELD, f"field {name!r} is missing")


def _wrong_type(name: str, expected: str, value: object) -> Rejection:
    return Rejection(Reason.WRONG_TYPE, f"{name} must be {expected}, not {_json_type(value)}")
