"""The worker's internal topics, created before Faust starts.

Why not let Faust declare them: it subscribes right after creating a topic, and when the new
topic is not yet in the metadata it is "ignored" until the next metadata refresh (minutes), so
the aggregating agent sits with no partitions. Creating them first, and waiting until they are
visible, removes the race.
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
    return f"{settings.app_id}-{STATE_TABLE}-changelog"  # Faust's naming for table changelogs


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
