"""The four event kinds of contract section 1: the schema of record.

The models are strict (no coercion), forbid extra fields and are frozen. ``schemas.validate``
checks the same rules by hand for speed and builds these models without validating twice; a
unit test proves both agree on a large table of inputs. Custom checks raise
``PydanticCustomError`` whose type is the ``Reason`` string.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from schemas.localities import province_name, ward_province
from schemas.privacy import contains_raw_id
from schemas.reasons import Reason

# --- limits -------------------------------------------------------------------------------------

MAX_EVENT_BYTES: Final = 64 * 1024
MAX_AMOUNT_VND: Final = 10_000_000_000_000
FUTURE_TOLERANCE_S: Final = 300.0
OLDEST_EPOCH_S: Final = 1_577_836_800.0  # 2020-01-01T00:00:00Z
SCHEMA_VERSION: Final = 1

# --- patterns -----------------------------------------------------------------------------------
# `[0-9]`, never `\d`: `\d` also matches non-ASCII digits ("٣٨"). Both pydantic (Rust regex) and
# Python use these strings; `fullmatch` makes `$` unable to accept a trailing newline in Python.

UUID_PATTERN: Final = (
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
RFC3339_PATTERN: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
PROVINCE_CODE_PATTERN: Final = r"^[0-9]{2}$"
WARD_CODE_PATTERN: Final = r"^[0-9]{5}$"
SOURCE_PATTERN: Final = r"^[a-z0-9_.-]{1,32}$"
REF_PATTERN: Final = r"^[0-9a-f]{64}$"

_RFC3339_RE: Final = re.compile(RFC3339_PATTERN)


def occurred_at_epoch(value: str) -> float | None:
    """Unix seconds of an RFC 3339 timestamp with explicit offset, or None if it is not one.

    The regex pins the contract's format (``fromisoformat`` alone would accept a space separator,
    basic format or a missing offset); ``fromisoformat`` then rejects impossible dates.
    """
    if _RFC3339_RE.fullmatch(value) is None:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:  # 2025-02-30, hour 25, second 60, offset +24:00 ...
        return None


# --- field types --------------------------------------------------------------------------------

EventId = Annotated[str, Field(pattern=UUID_PATTERN, description="A UUID (any version).")]
OccurredAt = Annotated[
    str,
    Field(
        pattern=RFC3339_PATTERN,
        description="Event time, RFC 3339 with an explicit offset; kept as sent.",
    ),
]
ProvinceCode = Annotated[
    str, Field(pattern=PROVINCE_CODE_PATTERN, description="One of the 34 province codes.")
]
WardCode = Annotated[
    str, Field(pattern=WARD_CODE_PATTERN, description="A ward of the event's province.")
]
Source = Annotated[str, Field(pattern=SOURCE_PATTERN, description="Producing system.")]
CitizenRef = Annotated[
    str,
    Field(pattern=REF_PATTERN, description="HMAC-SHA256 of the citizen ID, lowercase hex."),
]
# Integers are plain `int` with bounds, not `Literal[1]`: pydantic accepts `true` and `1.0` for
# an int Literal even in strict mode, which the contract forbids.
SchemaVersion = Annotated[int, Field(ge=1, le=1, json_schema_extra={"const": SCHEMA_VERSION})]
Level = Annotated[int, Field(ge=1, le=2, json_schema_extra={"enum": [1, 2]})]
Amount = Annotated[int, Field(ge=1, le=MAX_AMOUNT_VND)]
ServiceAmount = Annotated[int, Field(ge=0, le=MAX_AMOUNT_VND)]
FreeText64 = Annotated[str, Field(min_length=1, max_length=64)]

MerchantCategory = Literal[
    "market",
    "retail",
    "food",
    "utility",
    "healthcare",
    "education",
    "transport",
    "public_service",
    "other",
]


def _fail(reason: Reason, message: str) -> PydanticCustomError:
    return PydanticCustomError(reason.value, message)


# --- models -------------------------------------------------------------------------------------


class BaseEvent(BaseModel):
    """Fields common to every kind."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    event_id: EventId
    kind: str
    occurred_at: OccurredAt
    province_code: ProvinceCode
    ward_code: WardCode | None
    source: Source
    schema_version: SchemaVersion

    @cached_property
    def ts(self) -> float:
        """``occurred_at`` as Unix seconds, computed once (validation pre-fills it)."""
        epoch = occurred_at_epoch(self.occurred_at)
        if epoch is None:  # only reachable for a model built with model_construct
            raise ValueError("occurred_at is not an RFC 3339 timestamp")
        return epoch

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Copy, forgetting the cached ``ts`` when ``occurred_at`` changes."""
        copy = super().model_copy(update=update, deep=deep)
        if update and "occurred_at" in update:
            copy.__dict__.pop("ts", None)
        return copy

    @model_validator(mode="after")
    def _check_cross_field_rules(self, info: ValidationInfo) -> Self:
        # Rules a field type cannot say: real dates, known codes, ward-in-province, no raw ID,
        # and the time window, which needs the worker's clock (context["now"]).
        epoch = occurred_at_epoch(self.occurred_at)
        if epoch is None:
            raise _fail(Reason.BAD_TIME, "occurred_at is not a valid RFC 3339 date-time")
        if province_name(self.province_code) is None:
            raise _fail(Reason.UNKNOWN_PROVINCE, "province_code is not one of the 34 provinces")
        if self.ward_code is not None:
            owner = ward_province(self.ward_code)
            if owner is None:
                raise _fail(Reason.UNKNOWN_WARD, "ward_code is not a known ward")
            if owner != self.province_code:
                raise _fail(Reason.WARD_NOT_IN_PROVINCE, "ward_code is not in province_code")
        self._check_free_text()
        if epoch < OLDEST_EPOCH_S:
            raise _fail(Reason.TIME_TOO_OLD, "occurred_at is before 2020-01-01")
        context: Any = info.context
        now = context.get("now") if isinstance(context, dict) else None
        if epoch > (time.time() if now is None else now) + FUTURE_TOLERANCE_S:
            raise _fail(Reason.TIME_IN_FUTURE, "occurred_at is more than 5 minutes ahead")
        self.__dict__["ts"] = epoch  # fill the cached_property: frozen models allow this
        return self

    def _check_free_text(self) -> None:
        if contains_raw_id(self.source):
            raise _fail(Reason.PERSONAL_DATA, "source holds a 12-digit run")


class IdentityActivation(BaseEvent):
    """A citizen's e-ID (VNeID) activated at level 1 or 2."""

    kind: Literal["identity.activation"]
    level: Level
    citizen_ref: CitizenRef


class QrPayment(BaseEvent):
    """One QR-code payment."""

    kind: Literal["payment.qr"]
    amount_vnd: Amount
    merchant_category: MerchantCategory
    payer_ref: CitizenRef | None


class WelfareDisbursement(BaseEvent):
    """One pension or social-allowance payment to a beneficiary."""

    kind: Literal["welfare.disbursement"]
    program: Literal["pension", "social_allowance"]
    channel: Literal["bank_account", "cash"]
    amount_vnd: Amount
    beneficiary_ref: CitizenRef


class ServicePayment(BaseEvent):
    """One fee paid for a public-service dossier."""

    kind: Literal["service.payment"]
    channel: Literal["online", "counter"]
    amount_vnd: ServiceAmount
    service_code: FreeText64
    dossier_ref: FreeText64

    def _check_free_text(self) -> None:
        super()._check_free_text()
        for name in ("service_code", "dossier_ref"):
            if contains_raw_id(getattr(self, name)):
                raise _fail(Reason.PERSONAL_DATA, f"{name} holds a 12-digit run")


Event = Annotated[
    IdentityActivation | QrPayment | WelfareDisbursement | ServicePayment,
    Field(discriminator="kind"),
]
"""Any valid event; pydantic picks the model from ``kind``."""

MODEL_BY_KIND: Final[dict[str, type[BaseEvent]]] = {
    "identity.activation": IdentityActivation,
    "payment.qr": QrPayment,
    "welfare.disbursement": WelfareDisbursement,
    "service.payment": ServicePayment,
}
KINDS: Final[tuple[str, ...]] = tuple(MODEL_BY_KIND)

EVENT_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(Event)


def validate_event_dict(data: object, *, now: float | None = None) -> Event:
    """Full pydantic validation of already-decoded JSON (raises ``ValidationError``).

    The slow reference path: ``schemas.validate.parse_event`` is the one to use on messages.
    """
    return EVENT_ADAPTER.validate_python(data, strict=True, context={"now": now})


def json_schema() -> dict[str, Any]:
    """JSON Schema of an event (for ``civicpulse schema``)."""
    schema = EVENT_ADAPTER.json_schema()
    schema["title"] = "CivicPulse event (contract v1)"
    return schema
