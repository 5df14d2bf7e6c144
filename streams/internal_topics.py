"""The worker's internal topics (the batch topic, the state changelog), created before the
worker's stages start and waited for until the metadata shows them, so that neither stage
subscribes to a topic the broker does not list yet.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

from streams.config import Settings

BATCH_TOPIC_RETENTION_MS = 7 * 24 * 3600 * 1000  # outlives any outage of stage 2 we plan for
# The detector snapshot is one message (~1.5 MB for the whole country): room to grow.
MAX_STATE_MESSAGE_BYTES = 16 * 1024 * 1024
STATE_TABLE = "state"


def batch_topic_name(settings: Settings) -> str:
    return f"{settings.app_id}-ingest-batches"


def changelog_topic_name(settings: Settings) -> str:
    return f"{settings.app_id}-{STATE_TABLE}-changelog"  # Faust's naming, kept for old deployments


def aggregate_group(settings: Settings) -> str:
    """Stage 2's consumer group: its offsets are committed in the state's transactions."""
    return f"{settings.app_id}-aggregate"


def internal_topics(settings: Settings) -> list[NewTopic]:
    p, rf = settings.partitions, settings.replication_factor
    return [
        NewTopic(
            batch_topic_name(settings),
            p,
            rf,
            topic_configs={"retention.ms": str(BATCH_TOPIC_RETENTION_MS)},
        ),
        NewTopic(changelog_topic_name(settings), p, rf, topic_configs=CHANGELOG_CONFIGS),
    ]


CHANGELOG_CONFIGS = {"cleanup.policy": "compact", "max.message.bytes": str(MAX_STATE_MESSAGE_BYTES)}


async def ensure_internal_topics(settings: Settings, wait_s: float = 30.0) -> None:
    kwargs = settings.aiokafka_kwargs()
    admin = AIOKafkaAdminClient(**kwargs)
    await admin.start()
    try:
        for topic in internal_topics(settings):
            try:
                await admin.create_topics([topic])
            except TopicAlreadyExistsError:  # idempotent: restarts find them
                if topic.name == changelog_topic_name(settings):
                    # One made by an earlier version lacks the larger message size.
                    resource = ConfigResource(
                        ConfigResourceType.TOPIC, topic.name, configs=CHANGELOG_CONFIGS
                    )
                    await admin.alter_configs([resource])
    finally:
        await admin.close()
    wanted = {t.name for t in internal_topics(settings)}
    probe = AIOKafkaConsumer(**kwargs)
    await probe.start()
    try:
        deadline = time.monotonic() + wait_s
        while not wanted <= await probe.topics():
            if time.monotonic() > deadline:
                raise RuntimeError(f"internal topics not visible after {wait_s}s: {wanted}")
            await asyncio.sleep(0.2)
    finally:
        await probe.stop()
