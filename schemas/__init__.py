"""CivicPulse event schemas: models, topics, localities, privacy helpers and validation.

Validate a message with ``parse_event(raw)``; it returns an ``Event`` or a ``Rejection``.
"""

from schemas.events import (
    EVENT_ADAPTER,
    FUTURE_TOLERANCE_S,
    KINDS,
    MAX_AMOUNT_VND,
    MAX_EVENT_BYTES,
    MODEL_BY_KIND,
    OLDEST_EPOCH_S,
    SCHEMA_VERSION,
    BaseEvent,
    Event,
    IdentityActivation,
    QrPayment,
    ServicePayment,
    WelfareDisbursement,
    json_schema,
    occurred_at_epoch,
    validate_event_dict,
)
from schemas.localities import (
    all_provinces,
    all_wards,
    is_ward_in_province,
    province_name,
    ward_name,
    ward_province,
)
from schemas.privacy import contains_raw_id, find_raw_id, hmac_ref, mask_raw_ids
from schemas.reasons import Reason
from schemas.topics import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    EVENT_TOPICS,
    KIND_BY_TOPIC,
    TOPIC_BY_KIND,
    UNROUTABLE_TOPIC,
)
from schemas.validate import Rejection, event_key, parse_event, sniff_kind

__all__ = [
    "ALERTS_TOPIC",
    "DEADLETTER_TOPIC",
    "EVENT_ADAPTER",
    "EVENT_TOPICS",
    "FUTURE_TOLERANCE_S",
    "KINDS",
    "KIND_BY_TOPIC",
    "MAX_AMOUNT_VND",
    "MAX_EVENT_BYTES",
    "MODEL_BY_KIND",
    "OLDEST_EPOCH_S",
    "SCHEMA_VERSION",
    "TOPIC_BY_KIND",
    "UNROUTABLE_TOPIC",
    "BaseEvent",
    "Event",
    "IdentityActivation",
    "QrPayment",
    "Reason",
    "Rejection",
    "ServicePayment",
    "WelfareDisbursement",
    "all_provinces",
    "all_wards",
    "contains_raw_id",
    "event_key",
    "find_raw_id",
    "hmac_ref",
    "is_ward_in_province",
    "json_schema",
    "mask_raw_ids",
    "occurred_at_epoch",
    "parse_event",
    "province_name",
    "sniff_kind",
    "validate_event_dict",
    "ward_name",
    "ward_province",
]
