"""Errors raised by the producers package: each carries a message fit to show a user as is."""

from __future__ import annotations


class ProducersError(Exception):
    """Base of every error the producers raise on purpose."""


class EventLogError(ProducersError):
    """An event log is missing, unreadable, or not a valid (gzip) stream."""


class BrokerUnavailableError(ProducersError):
    """The Kafka broker did not answer within the connection timeout."""


class DeliveryError(ProducersError):
    """The broker did not acknowledge every message: the replay is incomplete."""
