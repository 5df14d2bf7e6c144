"""Raw citizen IDs (CCCD): detecting and masking them, and the keyed reference producers send.

A CCCD is 12 digits with a guessable structure, so a plain hash of it is reversible: only an
HMAC under the producer's secret key may travel (``hmac_ref``). Anything that still looks like
a raw ID, a run of exactly 12 ASCII digits, must never be stored, hence ``mask_raw_ids`` for
the dead-letter writer.

The wire functions (``find_raw_id``, ``mask_raw_ids``) look at the payload as it is stored,
which for JSON means digits may also be written as escapes (``\\u0031``): a producer's encoder
may emit them, and masking only literal digits would then store the ID. They take the union of
two readings, plain text and JSON-escape aware, because over-masking a rejected payload is
harmless and under-masking is not. ``contains_raw_id`` is for decoded JSON strings.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final, overload

RAW_ID_LENGTH: Final = 12
_MASK: Final = "*" * RAW_ID_LENGTH
_MASK_B: Final = _MASK.encode()

# Exactly 12 ASCII digits, not part of a longer run. `[0-9]`, not `\d`: only ASCII digits are
# IDs here, and `\d` would also take Arabic-Indic or full-width digits.
_PLAIN: Final = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")
_PLAIN_B: Final = re.compile(rb"(?<![0-9])[0-9]{12}(?![0-9])")

# The same run read with JSON escapes: a digit is `[0-9]` or `\u003X`, and a run may start right
# after a whole escape such as `\u00e9` (its last hex digit is not part of the run), never after
# a digit escape. Escapes are not paired from the start of the text, so this may see a run that
# is not there (inside a longer escaped run, or after an escaped backslash), never the reverse:
# over-masking a rejected payload is harmless, under-masking is not. Each branch opens with
# what it consumes and checks the text before it by lookbehind, so that the regex engine can
# skip to candidate characters instead of testing every position.
_WIRE_PATTERN: Final = (
    r"(?:[0-9](?:(?<![0-9]{2})|(?<=\\u[0-9A-Fa-f]{4}[0-9]))(?<!\\u003[0-9]{2})"
    r"|\\u003[0-9](?:(?<![0-9]\\u003[0-9])|(?<=\\u[0-9A-Fa-f]{4}\\u003[0-9]))"
    r"(?<!\\u003[0-9]\\u003[0-9]))"
    r"(?:[0-9]|\\u003[0-9]){11}(?![0-9]|\\u003[0-9])"
)
_WIRE: Final = re.compile(_WIRE_PATTERN)
_WIRE_B: Final = re.compile(_WIRE_PATTERN.encode())
# Without a digit escape, or an escape ending in a digit right before a digit, the escaped
# reading finds exactly what the plain one does: this cheap test skips it in almost all texts.
_ESCAPES_MATTER_PATTERN: Final = r"\\u(?:003[0-9]|[0-9A-Fa-f]{3}[0-9][0-9])"
_ESCAPES_MATTER: Final = re.compile(_ESCAPES_MATTER_PATTERN)
_ESCAPES_MATTER_B: Final = re.compile(_ESCAPES_MATTER_PATTERN.encode())


def contains_raw_id(value: str) -> bool:
    """True if a decoded string holds a run of exactly 12 ASCII digits (no JSON escapes here)."""
    return _PLAIN.search(value) is not None


def find_raw_id(text: str | bytes) -> bool:
    """True if the text (or raw bytes) holds a run of exactly 12 digits, escaped or not."""
    if isinstance(text, str):
        if _PLAIN.search(text) is not None:
            return True
        return _ESCAPES_MATTER.search(text) is not None and _WIRE.search(text) is not None
    if _PLAIN_B.search(text) is not None:
        return True
    return _ESCAPES_MATTER_B.search(text) is not None and _WIRE_B.search(text) is not None


@overload
def mask_raw_ids(text: str) -> str: ...
@overload
def mask_raw_ids(text: bytes) -> bytes: ...
def mask_raw_ids(text: str | bytes) -> str | bytes:
    """Replace every run of exactly 12 digits with 12 ``*`` (bytes in, bytes out).

    Bytes are accepted so that a payload that is not UTF-8 can be masked before it is base64
    encoded for the dead-letter topic. An escaped run (``\\u0031``...) becomes 12 ``*`` too.
    """
    if isinstance(text, str):
        if _ESCAPES_MATTER.search(text) is not None:
            text = _WIRE.sub(_MASK, text)
        return _PLAIN.sub(_MASK, text)
    if _ESCAPES_MATTER_B.search(text) is not None:
        text = _WIRE_B.sub(_MASK_B, text)
    return _PLAIN_B.sub(_MASK_B, text)


def hmac_ref(citizen_id: str, key: bytes) -> str:
    """The ``*_ref`` value for a citizen ID: HMAC-SHA256 under the producer's key, 64 hex chars.

    The ID is used as given (UTF-8): producers must pass the canonical 12-digit string so that the
    same citizen always gets the same reference.
    """
    if not key:
        # An empty key turns the HMAC into a plain, brute-forceable hash of a 12-digit number.
        raise ValueError("hmac_ref needs a non-empty secret key")
    return hmac.new(key, citizen_id.encode("utf-8"), hashlib.sha256).hexdigest()
