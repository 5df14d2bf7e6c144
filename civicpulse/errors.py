"""The exceptions a user can act on: the CLI prints them as one line and exits 1."""

from __future__ import annotations


def user_errors() -> tuple[type[BaseException], ...]:
    from civicpulse.cli import CliError
    from civicpulse.kafka_local import KafkaLocalError
    from producers.exceptions import ProducersError
    from reference.exceptions import ReferenceDataError

    return (CliError, KafkaLocalError, ProducersError, ReferenceDataError, FileNotFoundError)
