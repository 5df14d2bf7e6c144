"""Kafka topic names of contract section 2."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from schemas.events import KINDS

TOPIC_BY_KIND: Final[Mapping[str, str]] = MappingProxyType(
    {
        "identity.activation": "civic.identity.activations",
        "payment.qr": "civic.payments.qr",
        "welfare.disbursement": "civic.welfare.disbursements",
        "service.payment": "civic.services.payments",
    }
)
KIND_BY_TOPIC: Final[Mapping[str, str]] = MappingProxyType(
    {topic: kind for kind, topic in TOPIC_BY_KIND.items()}
)
EVENT_TOPICS: Final[tuple[str, ...]] = tuple(TOPIC_BY_KIND[kind] for kind in KINDS)

DEADLETTER_TOPIC: Final = "civic.deadletter"
ALERTS_TOPIC: Final = "civic.alerts"

# Where `civicpulse replay` sends a line whose kind cannot be read, so the worker rejects it
# visibly instead of the line vanishing (contract section 5).
UNROUTABLE_TOPIC: Final = TOPIC_BY_KIND["identity.activation"]

assert set(TOPIC_BY_KIND) == set(KINDS), "every kind needs exactly one topic"
