"""Dead-letter records (contract section 2): the reason, where the message was, its bytes."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson

from schemas.privacy import mask_raw_ids
from schemas.reasons import Reason


@dataclass(frozen=True, slots=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    reason: str
    detail: str
    payload: bytes


def encode_dead_letter(dl: DeadLetter) -> bytes:
    """The JSON value written to `civic.deadletter`.

    The payload is kept as text when it is UTF-8, else base64; when the reason is personal data
    every run of exactly 12 digits is masked first, so that no raw citizen ID is ever stored.
    """
    record: dict[str, object] = {
        "reason": dl.reason,
        "detail": dl.detail,
        "topic": dl.topic,
        "partition": dl.partition,
        "offset": dl.offset,
    }
    try:
        text = dl.payload.decode("utf-8")
    except UnicodeDecodeError:
        payload = dl.payload
        if dl.reason == Reason.PERSONAL_DATA:
            # Mask in the bytes before encoding: base64 would hide the digits from any scanner.
            payload = mask_raw_ids(payload)
        record["payload"] = base64.b64encode(payload).decode("ascii")
        record["payload_encoding"] = "base64"
    else:
        record["payload"] = mask_raw_ids(text) if dl.reason == Reason.PERSONAL_DATA else text
    return orjson.dumps(record)
