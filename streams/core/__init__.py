"""Pure aggregation core: bytes in, state deltas out. No Kafka, no Faust, no I/O.

The Faust shell (`streams.agents`) feeds it batches of (offset, raw bytes) per source
topic-partition and persists the entries it marks dirty.
"""

from streams.core.aggregator import Aggregator, BatchResult
from streams.core.entries import Entry

__all__ = ["Aggregator", "BatchResult", "Entry"]
