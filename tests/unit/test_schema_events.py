"""The models (schema of record), their JSON Schema, topics and the reason vocabulary."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    ALERTS_TOPIC,
    DEADLETTER_TOPIC,
    EVENT_TOPICS,
    KIND_BY_TOPIC,
    KINDS,
    MODEL_BY_KIND,
    TOPIC_BY_KIND,
    QrPayment,
    Reason,
    json_schema,
    occurred_at_epoch,
    validate_event_dict,
)
from schemas.samples import SAMPLE_NOW, SAMPLE_TS, sample_event


def test_kinds_and_topics_are_the_contract_names() -> None:
    assert KINDS == ("identity.activation", "payment.qr", "welfare.disbursement", "service.payment")
    assert dict(TOPIC_BY_KIND) == {
        "identity.activation": "civic.identity.activations",
        "payment.qr": "civic.payments.qr",
        "welfare.disbursement": "civic.welfare.disbursements",
        "service.payment": "civic.services.payments",
    }
    assert {KIND_BY_TOPIC[topic]: topic for topic in EVENT_TOPICS} == dict(TOPIC_BY_KIND)
    assert DEADLETTER_TOPIC == "civic.deadletter"
    assert ALERTS_TOPIC == "civic.alerts"


def test_reason_vocabulary_is_fixed() -> None:
    assert [str(reason) for reason in Reason] == [
        "not_utf8",
        "not_json",
        "not_object",
        "too_large",
        "duplicate_key",
        "unknown_field",
        "missing_field",
        "wrong_type",
        "bad_value",
        "unknown_kind",
        "bad_code",
        "unknown_province",
        "unknown_ward",
        "ward_not_in_province",
        "bad_time",
        "time_in_future",
        "time_too_old",
        "personal_data",
        "wrong_topic",
        "bad_schema_version",
    ]
    assert Reason.PERSONAL_DATA == "personal_data"


def test_json_schema_describes_the_union() -> None:
    schema = json_schema()
    json.dumps(schema)  # serialisable as is
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == set(KINDS)
    for kind, model in MODEL_BY_KIND.items():
        definition = schema["$defs"][model.__name__]
        assert definition["additionalProperties"] is False
        assert set(definition["required"]) == set(sample_event(kind))
        assert set(definition["properties"]) == set(sample_event(kind))
        assert definition["properties"]["kind"]["const"] == kind
        assert definition["properties"]["schema_version"]["const"] == 1
        assert "ts" not in definition["properties"]


@pytest.mark.parametrize("kind", KINDS)
def test_pydantic_accepts_the_samples(kind: str) -> None:
    event = validate_event_dict(sample_event(kind), now=SAMPLE_NOW)
    assert type(event) is MODEL_BY_KIND[kind]
    assert event.ts == SAMPLE_TS


@pytest.mark.parametrize(
    ("changes", "error_type"),
    [
        ({"schema_version": True}, "int_type"),
        ({"schema_version": 1.0}, "int_type"),
        ({"amount_vnd": True}, "int_type"),
        ({"amount_vnd": "5"}, "int_type"),
        ({"note": 1}, "extra_forbidden"),
        ({"province_code": "٣٨"}, "string_pattern_mismatch"),
        ({"province_code": "99", "ward_code": None}, "unknown_province"),
        ({"ward_code": "00070"}, "ward_not_in_province"),
        ({"ward_code": "99999"}, "unknown_ward"),
        ({"occurred_at": "2025-02-30T00:00:00Z"}, "bad_time"),
        ({"occurred_at": "2019-12-31T23:59:59Z"}, "time_too_old"),
        ({"occurred_at": "2030-01-01T00:00:00Z"}, "time_in_future"),
        ({"source": "001099012345"}, "personal_data"),
    ],
    ids=lambda v: v if isinstance(v, str) else next(iter(v)),
)
def test_pydantic_is_strict_and_names_the_reason(changes: dict[str, Any], error_type: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_event_dict(sample_event("payment.qr", **changes), now=SAMPLE_NOW)
    assert info.value.errors()[0]["type"] == error_type


def test_level_true_is_not_one() -> None:
    # pydantic takes `true` for `Literal[1]` even when strict, hence bounded ints in the models.
    with pytest.raises(ValidationError):
        validate_event_dict(sample_event("identity.activation", level=True), now=SAMPLE_NOW)


def test_ts_of_a_constructed_model_is_computed_on_demand() -> None:
    event = QrPayment.model_construct(**sample_event("payment.qr"))
    assert event.ts == SAMPLE_TS
    broken = QrPayment.model_construct(**sample_event("payment.qr", occurred_at="yesterday"))
    with pytest.raises(ValueError, match="RFC 3339"):
        _ = broken.ts


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2025-03-14T08:15:00+07:00", SAMPLE_TS),
        ("2025-03-14T01:15:00.5Z", SAMPLE_TS + 0.5),
        ("2025-03-14T01:15:00-00:00", SAMPLE_TS),
        ("2025-03-14T01:15:00", None),
        ("2025-03-14T01:15:00z", None),
        ("2025-03-14T25:15:00Z", None),
        ("", None),
    ],
)
def test_occurred_at_epoch(text: str, epoch: float | None) -> None:
    assert occurred_at_epoch(text) == epoch


def test_copy_with_a_new_time_recomputes_ts() -> None:
    event = validate_event_dict(sample_event("payment.qr"), now=SAMPLE_NOW)
    assert event.ts == SAMPLE_TS
    later = event.model_copy(update={"occurred_at": "2025-03-14T09:15:00+07:00"})
    assert later.ts == SAMPLE_TS + 3600
    assert event.model_copy(update={"source": "x"}).ts == SAMPLE_TS
