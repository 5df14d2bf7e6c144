"""The fixed vocabulary of rejection reasons.

These strings are label values of ``civicpulse_events_rejected_total{reason=...}`` and the
``reason`` of dead-letter records, so dashboards and alert rules depend on them: add, never
rename.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why a message was rejected (contract section 1, "Rejected events")."""

    NOT_UTF8 = "not_utf8"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    TOO_LARGE = "too_large"
    DUPLICATE_KEY = "duplicate_key"
    UNKNOWN_FIELD = "unknown_field"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    BAD_VALUE = "bad_value"
    UNKNOWN_KIND = "unknown_kind"
    BAD_CODE = "bad_code"
    UNKNOWN_PROVINCE = "unknown_province"
    UNKNOWN_WARD = "unknown_ward"
    WARD_NOT_IN_PROVINCE = "ward_not_in_province"
    BAD_TIME = "bad_time"
    TIME_IN_FUTURE = "time_in_future"
    TIME_TOO_OLD = "time_too_old"
    PERSONAL_DATA = "personal_data"
    WRONG_TOPIC = "wrong_topic"
    BAD_SCHEMA_VERSION = "bad_schema_version"
