"""The contract's Kafka topics, declared in ``deploy/kafka/topics.yaml`` and applied to a broker.

``load_topics`` reads and checks the file; ``ensure_topics`` creates the missing topics and reports
(never alters) existing ones that differ; ``recreate_topics`` wipes them for the integration tests.

This module imports nothing from ``civicpulse`` so that it also runs as a plain script, which is how
``deploy/kafka/docker-compose.yml`` creates the topics::

    python civicpulse/topics_admin.py --bootstrap kafka:19092 --file deploy/kafka/topics.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiokafka.admin import (
    AIOKafkaAdminClient,
    NewTopic,
)
from aiokafka.admin.config_resource import (
    ConfigResource,
    ConfigResourceType,
)
from aiokafka.errors import (
    KafkaError,
    for_code,
)

DEFAULT_TOPICS_FILE = Path(__file__).resolve().parents[1] / "deploy" / "kafka" / "topics.yaml"
# Faust names its internal topics (table changelogs, the leader-assignor topic) "<app id>-...".
FAUST_INTERNAL_PREFIX = "civicpulse-"

_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_TOPIC_KEYS = frozenset({"partitions", "replication_factor", "config", "copartition"})
_NO_ERROR = 0
_UNKNOWN_TOPIC_OR_PARTITION = 3
_TOPIC_ALREADY_EXISTS = 36
_POLL_S = 0.2


class TopicsError(Exception):
    """Base of this module's errors."""


class TopicsFileError(TopicsError):
    """topics.yaml is malformed or breaks a rule (e.g. co-partitioned topics that differ)."""


class TopicsAdminError(TopicsError):
    """The broker is unreachable or refused a topic operation."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int = 1
    config: Mapping[str, str] = field(default_factory=dict)
    copartition: str | None = None


@dataclass(frozen=True)
class TopicsReport:
    created: tuple[str, ...]
    existing: tuple[str, ...]
    drift: tuple[str, ...]
    """One line per difference between an existing topic and its declaration; never fixed here:
    changing a partition count breaks co-partitioning, so that is a human decision."""


def load_topics(path: Path | str | None = None) -> tuple[TopicSpec, ...]:
    """Reads and checks a topics file (default: ``deploy/kafka/topics.yaml``)."""
    path = Path(path) if path is not None else DEFAULT_TOPICS_FILE
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TopicsFileError(f"cannot read topics file {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise TopicsFileError(f"{path}: expected a mapping with a `topics` key")
    unknown = sorted(k for k in doc if k != "topics" and not str(k).startswith("x-"))
    if unknown:
        raise TopicsFileError(f"{path}: unknown top-level keys {unknown}")
    topics = doc.get("topics")
    if not isinstance(topics, dict) or not topics:
        raise TopicsFileError(f"{path}: `topics` must be a non-empty mapping of name to settings")
    specs = tuple(_parse_topic(path, name, body) for name, body in topics.items())
    _check_copartitioning(path, specs)
    return specs


def _parse_topic(path: Path, name: object, body: object) -> TopicSpec:
    where = f"{path}: topic {name!r}"
    if not isinstance(name, str) or not _TOPIC_NAME.fullmatch(name) or name in {".", ".."}:
        raise TopicsFileError(f"{where}: not a valid Kafka topic name")
    if not isinstance(body, dict):
        raise TopicsFileError(f"{where}: settings must be a mapping")
    unknown = sorted(set(body) - _TOPIC_KEYS)
    if unknown:
        raise TopicsFileError(f"{where}: unknown keys {unknown}")
    partitions = _positive_int(where, "partitions", body.get("partitions"))
    replication = _positive_int(where, "replication_factor", body.get("replication_factor", 1))
    raw_config = body.get("config", {})
    if not isinstance(raw_config, dict):
        raise TopicsFileError(f"{where}: `config` must be a mapping")
    config = {str(k): _config_value(where, str(k), v) for k, v in raw_config.items()}
    copartition = body.get("copartition")
    if copartition is not None and not isinstance(copartition, str):
        raise TopicsFileError(f"{where}: `copartition` must be a string label")
    return TopicSpec(name, partitions, replication, config, copartition)


def _positive_int(where: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TopicsFileError(f"{where}: `{key}` must be a positive integer, got {value!r}")
    return value


def _config_value(where: str, key: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int):
        return str(value)
    raise TopicsFileError(f"{where}: config {key} must be a string or an integer, got {value!r}")


def _check_copartitioning(path: Path, specs: Sequence[TopicSpec]) -> None:
    groups: dict[str, dict[str, int]] = {}
    for spec in specs:
        if spec.copartition is not None:
            groups.setdefault(spec.copartition, {})[spec.name] = spec.partitions
    for label, members in groups.items():
        if len(set(members.values())) > 1:
            raise TopicsFileError(
                f"{path}: topics co-partitioned as {label!r} must have the same partition count "
                f"(the worker's tables are co-partitioned with them), got {members}"
            )


@contextlib.asynccontextmanager
async def admin_client(bootstrap: str, *, budget_s: float = 30.0) -> AsyncIterator[Any]:
    """A started ``AIOKafkaAdminClient``; retries the bootstrap for up to ``budget_s`` seconds."""
    deadline = time.monotonic() + budget_s
    while True:
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="civicpulse-topics-admin",
            request_timeout_ms=max(1000, int(budget_s * 1000)),
        )
        try:
            await admin.start()
            break
        except KafkaError as exc:
            await admin.close()
            if time.monotonic() >= deadline:
                raise TopicsAdminError(
                    f"no Kafka broker answered at {bootstrap} within {budget_s:.0f} s: {exc}"
                ) from exc
            await asyncio.sleep(0.5)
    try:
        yield admin
    finally:
        await admin.close()


async def ensure_topics(
    bootstrap: str, specs: Sequence[TopicSpec], *, budget_s: float = 30.0
) -> TopicsReport:
    """Creates the declared topics that are missing; waits until every partition has a leader."""
    deadline = time.monotonic() + budget_s
    async with admin_client(bootstrap, budget_s=budget_s) as admin:
        counts = await _partition_counts(admin, [s.name for s in specs])
        missing = [s for s in specs if counts.get(s.name) is None]
        existing = [s for s in specs if counts.get(s.name) is not None]
        await _create(admin, missing, deadline, exists_ok=True)
        drift = [
            f"{s.name}: {counts[s.name]} partitions, declared {s.partitions}"
            for s in existing
            if counts[s.name] != s.partitions
        ]
        drift += await _config_drift(admin, existing)
        await _wait_for_leaders(admin, specs, deadline)
    return TopicsReport(
        created=tuple(s.name for s in missing),
        existing=tuple(s.name for s in existing),
        drift=tuple(drift),
    )


async def recreate_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    *,
    delete_prefixes: Iterable[str] = (FAUST_INTERNAL_PREFIX,),
    budget_s: float = 60.0,
) -> tuple[str, ...]:
    """Deletes the declared topics and every topic whose name starts with one of
    ``delete_prefixes``, then creates the declared ones again, empty. Returns the deleted names."""
    deadline = time.monotonic() + budget_s
    prefixes = tuple(delete_prefixes)
    names = {s.name for s in specs}
    async with admin_client(bootstrap, budget_s=budget_s) as admin:
        doomed = sorted(
            t
            for t in await admin.list_topics()
            if t in names or (prefixes and str(t).startswith(prefixes))
        )
        if doomed:
            response = await admin.delete_topics(doomed)
            for entry in response.to_object()["topic_error_codes"]:
                code = entry["error_code"]
                if code not in (_NO_ERROR, _UNKNOWN_TOPIC_OR_PARTITION):
                    raise TopicsAdminError(f"cannot delete {entry['topic']}: {for_code(code)}")
            await _wait_until_gone(admin, doomed, deadline)
        # Until the controller has finished the deletion, a create says "already exists": retry.
        await _create(admin, specs, deadline, exists_ok=False)
        await _wait_for_leaders(admin, specs, deadline)
    return tuple(doomed)


async def topic_partitions(bootstrap: str, names: Sequence[str]) -> dict[str, int | None]:
    """Partition count of each named topic, None when it does not exist."""
    async with admin_client(bootstrap) as admin:
        return await _partition_counts(admin, names)


async def topic_configs(bootstrap: str, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Every config (defaults included) of each named, existing topic."""
    async with admin_client(bootstrap) as admin:
        resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
        return await _describe_configs(admin, resources)


async def _partition_counts(admin: Any, names: Sequence[str]) -> dict[str, int | None]:
    if not names:
        return {}
    counts: dict[str, int | None] = {}
    for topic in await admin.describe_topics(list(names)):
        code = topic["error_code"]
        if code == _UNKNOWN_TOPIC_OR_PARTITION:
            counts[topic["topic"]] = None
        elif code == _NO_ERROR:
            counts[topic["topic"]] = len(topic["partitions"])
        else:
            # e.g. LEADER_NOT_AVAILABLE right after creation: it exists.
            counts[topic["topic"]] = len(topic["partitions"]) or None
    return counts


async def _create(
    admin: Any, specs: Sequence[TopicSpec], deadline: float, *, exists_ok: bool
) -> None:
    pending = {s.name: s for s in specs}
    while pending:
        new_topics = [
            NewTopic(s.name, s.partitions, s.replication_factor, topic_configs=dict(s.config))
            for s in pending.values()
        ]
        try:
            response = await admin.create_topics(new_topics)
        except KafkaError as exc:
            if not getattr(exc, "retriable", False) or time.monotonic() >= deadline:
                raise TopicsAdminError(f"cannot create topics {sorted(pending)}: {exc}") from exc
            await asyncio.sleep(_POLL_S)
            continue
        retry: list[str] = []
        for entry in response.to_object()["topic_errors"]:
            name, code = entry["topic"], entry["error_code"]
            if code == _NO_ERROR or (code == _TOPIC_ALREADY_EXISTS and exists_ok):
                pending.pop(name, None)
            elif code == _TOPIC_ALREADY_EXISTS or for_code(code).retriable:
                retry.append(name)
            else:
                detail = entry.get("error_message") or for_code(code).__name__
                raise TopicsAdminError(f"cannot create topic {name}: {detail}")
        if retry and time.monotonic() >= deadline:
            raise TopicsAdminError(f"topics {sorted(retry)} still not created at the deadline")
        if pending:
            await asyncio.sleep(_POLL_S)


async def _config_drift(admin: Any, specs: Sequence[TopicSpec]) -> list[str]:
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, s.name, dict(s.config)) for s in specs if s.config
    ]
    if not resources:
        return []
    actual = await _describe_configs(admin, resources)
    return [
        f"{s.name}: {key}={actual.get(s.name, {}).get(key)!s}, declared {want}"
        for s in specs
        for key, want in s.config.items()
        if actual.get(s.name, {}).get(key) != want
    ]


async def _describe_configs(admin: Any, resources: list[Any]) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            if resource["error_code"] != _NO_ERROR:
                raise TopicsAdminError(
                    f"cannot describe configs of {resource['resource_name']}: "
                    f"{resource.get('error_message') or for_code(resource['error_code']).__name__}"
                )
            result[resource["resource_name"]] = {
                entry["config_names"]: entry["config_value"] for entry in resource["config_entries"]
            }
    return result


async def _wait_for_leaders(admin: Any, specs: Sequence[TopicSpec], deadline: float) -> None:
    """Returns once the broker's metadata shows every partition of every topic with a leader,
    so that a producer started right after does not meet LEADER_NOT_AVAILABLE."""
    names = [s.name for s in specs]
    while True:
        topics = await admin.describe_topics(names)
        not_ready = [
            t["topic"]
            for t in topics
            if t["error_code"] != _NO_ERROR
            or not t["partitions"]
            or any(p["error_code"] != _NO_ERROR or p["leader"] < 0 for p in t["partitions"])
        ]
        if not not_ready:
            return
        if time.monotonic() >= deadline:
            raise TopicsAdminError(f"topics {sorted(not_ready)} have no leader yet")
        await asyncio.sleep(_POLL_S)


async def _wait_until_gone(admin: Any, names: Sequence[str], deadline: float) -> None:
    while True:
        left = set(names) & set(await admin.list_topics())
        if not left:
            return
        if time.monotonic() >= deadline:
            raise TopicsAdminError(f"topics {sorted(left)} are still not deleted")
        await asyncio.sleep(_POLL_S)


def main(argv: Sequence[str] | None = None) -> int:
    """``python civicpulse/topics_admin.py``: creates the declared topics (docker-compose)."""
    parser = argparse.ArgumentParser(description="Create the CivicPulse Kafka topics.")
    parser.add_argument(
        "--bootstrap",
        default=os.environ.get("CIVICPULSE_KAFKA_BOOTSTRAP", "localhost:9092"),
        help="host:port of a broker (default: $CIVICPULSE_KAFKA_BOOTSTRAP or localhost:9092)",
    )
    parser.add_argument("--file", type=Path, default=DEFAULT_TOPICS_FILE, help="topics.yaml")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the broker"
    )
    args = parser.parse_args(argv)
    # aiokafka logs every refused connection while the broker starts; the outcome is printed below.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        report = asyncio.run(
            ensure_topics(args.bootstrap, load_topics(args.file), budget_s=args.timeout)
        )
    except TopicsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"created: {', '.join(report.created) or '-'}")
    print(f"already there: {', '.join(report.existing) or '-'}")
    for line in report.drift:
        print(f"DRIFT (not changed): {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
