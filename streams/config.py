"""Worker configuration: environment variables prefixed `CIVICPULSE_` (pydantic-settings)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting can be given as `CIVICPULSE_<NAME>` (e.g. `CIVICPULSE_KAFKA_BOOTSTRAP`)."""

    model_config = SettingsConfigDict(env_prefix="CIVICPULSE_", extra="ignore")

    kafka_bootstrap: str = Field(
        "localhost:9092", description="Kafka bootstrap servers, comma-separated"
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers")
    kafka_ssl_certfile: Path | None = Field(None, description="client certificate (mutual TLS)")
    kafka_ssl_keyfile: Path | None = None

    app_id: str = Field("civicpulse", description="consumer group and prefix of internal topics")
    instance_id: str = Field(
        default_factory=lambda: f"worker-{socket.gethostname()}",
        description="static group membership: a restarted worker takes its partitions back "
        "at once instead of waiting for its old session to expire; unique per worker process",
    )
    session_timeout: float = Field(
        15.0, gt=0, description="seconds before a silent worker is dropped"
    )
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    partitions: int = Field(4, ge=1, description="partitions of each event topic and changelog")
    replication_factor: int = Field(1, ge=1, description="of the worker's internal topics")
    batch_max: int = Field(10000, ge=1, description="most source messages ingested in one fetch")
    group_max: int = Field(
        32, ge=1, description="packed batches applied together before state is written"
    )
    group_within: float = Field(0.5, gt=0, description="seconds to wait to fill a group")
    reference_file: Path | None = Field(
        None, description="operator's reference data (denominators, targets) over the defaults"
    )
    kpi_refresh_s: float = Field(15.0, gt=0, description="seconds a KPI snapshot is reused")
    sync_horizon_s: float = Field(
        6 * 3600.0,
        gt=0,
        le=8 * 3600.0,
        description="event-time seconds a source partition may run ahead of the slowest one "
        "with data on the way; at most 8 h (the detector holds 12 h ahead of its last hour)",
    )
    detect: bool = Field(
        True, description="run stall and outage detection (needs every partition in one worker)"
    )
    detector_snapshot_s: float = Field(
        60.0, gt=0, description="seconds between full detector snapshots in the changelog"
    )
    data_dir: Path = Field(Path("var/worker"), description="worker's local data (Faust datadir)")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.kafka_security_protocol not in ("SSL", "SASL_SSL"):
            return None
        ctx = ssl.create_default_context(
            cafile=str(self.kafka_ssl_cafile) if self.kafka_ssl_cafile else None
        )
        if self.kafka_ssl_certfile:
            keyfile = str(self.kafka_ssl_keyfile) if self.kafka_ssl_keyfile else None
            ctx.load_cert_chain(str(self.kafka_ssl_certfile), keyfile)
        return ctx

    def aiokafka_kwargs(self) -> dict[str, Any]:
        """Connection options for plain aiokafka clients (replay, producers)."""
        kwargs: dict[str, Any] = {
            "bootstrap_servers": self.kafka_bootstrap,
            "security_protocol": self.kafka_security_protocol,
        }
        ctx = self.ssl_context()
        if ctx is not None:
            kwargs["ssl_context"] = ctx
        if self.kafka_security_protocol.startswith("SASL"):
            kwargs["sasl_mechanism"] = self.kafka_sasl_mechanism
            kwargs["sasl_plain_username"] = self.kafka_sasl_username
            kwargs["sasl_plain_password"] = (
                self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None
            )
        return kwargs
