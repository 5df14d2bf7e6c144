"""A basic synthetic event feed, deterministic for a seed, with its ground truth.

For the demo and the benchmarks: events of the four kinds, valid per the contract, for every
province and commune, spread uniformly over the communes (so provinces weigh by their number of
communes) and arriving as a Poisson process of constant rate in event time. A calibrated simulator
(office hours, Tết, the pension cycle, stalls) comes later: it will decide *what happens where and
when* and call `SyntheticFeed.emit` for each event, reusing the serialisation, the faults and the
ground truth kept here.

On top of the valid events, three optional faults, each with its own rate:
- duplicates: a line already emitted is emitted again, byte for byte (same `event_id`);
- late arrivals: `occurred_at` hours before the feed's clock;
- hostile lines that the worker must reject (see `MALFORMATIONS`).

Personal data: every `*_ref` is an HMAC-SHA256 (64 hex) of a fake ID (`synthetic-citizen-N`,
never 12 digits). The one place 12 digits are written on purpose is the `raw_id` hostile line,
and its digits start with `999`, a province prefix that does not exist, so that nothing here
ever looks like a real citizen ID.
"""

from __future__ import annotations

import collections
import gzip
import itertools
import math
import os
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from functools import cache
from typing import Any, Final

import orjson

from schemas.localities import all_wards
from schemas.privacy import hmac_ref

VN_TZ: Final = timezone(timedelta(hours=7), "ICT")

IDENTITY: Final = "identity.activation"
PAYMENT_QR: Final = "payment.qr"
WELFARE: Final = "welfare.disbursement"
SERVICE: Final = "service.payment"

# QR payments dominate by orders of magnitude nationally (domain notes); the others are kept
# frequent enough that every kind shows up in every province of a small log.
DEFAULT_KIND_MIX: Final[Mapping[str, float]] = {
    PAYMENT_QR: 0.82,
    SERVICE: 0.08,
    IDENTITY: 0.06,
    WELFARE: 0.04,
}
SOURCE_BY_KIND: Final[Mapping[str, str]] = {
    IDENTITY: "vneid",
    PAYMENT_QR: "napas",
    WELFARE: "vss",
    SERVICE: "dvcqg",
}
MERCHANT_CATEGORIES: Final = (
    ("market", 0.22),
    ("food", 0.25),
    ("retail", 0.2),
    ("utility", 0.08),
    ("transport", 0.08),
    ("healthcare", 0.05),
    ("education", 0.04),
    ("public_service", 0.03),
    ("other", 0.05),
)
MALFORMATIONS: Final = (
    "bad_json",  # a line cut in half
    "not_object",  # valid JSON, but an array
    "not_utf8",  # a Latin-1 byte inside a string
    "repeated_key",  # the same key twice in one object
    "unknown_field",  # a field the contract does not name
    "wrong_type",  # "1" for 1, 5.0 for 5, a number for a code
    "raw_id",  # 12 digits in a row in dossier_ref
    "ward_not_in_province",
    "unknown_kind",
    "too_old",  # occurred_at before 2020-01-01
)

_MAX_AMOUNT: Final = 10_000_000_000_000
_EARLIEST: Final = datetime(2020, 1, 2, tzinfo=VN_TZ)
_DUPLICATE_HORIZON_S: Final = 86_400.0


@dataclass(frozen=True)
class Locality:
    province_code: str
    ward_code: str


@cache
def all_localities() -> tuple[Locality, ...]:
    """Every commune of the 34-province list in force since 2025-07-01, by ward code."""
    return tuple(Locality(p, w) for w, p in sorted(all_wards().items()))


@dataclass(frozen=True)
class SyntheticConfig:
    """What the basic feed generates. Rates are fractions of the lines emitted."""

    seed: int = 0
    start: datetime = datetime(2025, 9, 1, tzinfo=VN_TZ)
    events_per_second: float = 20.0  # mean rate in event time
    kind_mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_MIX))
    duplicate_rate: float = 0.0
    late_rate: float = 0.0
    malformed_rate: float = 0.0
    late_hours: tuple[float, float] = (1.0, 12.0)
    province_only_rate: float = 0.02  # valid events with ward_code null
    citizens: int = 5_000_000  # size of the fake population the refs are drawn from

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must carry a UTC offset")
        if self.start < _EARLIEST + timedelta(hours=self.late_hours[1]):
            raise ValueError("start is too early: late events would fall before 2020")
        for name in ("duplicate_rate", "late_rate", "malformed_rate", "province_only_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {rate}")
        if self.duplicate_rate + self.malformed_rate > 1.0:
            raise ValueError("duplicate_rate + malformed_rate must not exceed 1")
        if self.events_per_second <= 0:
            raise ValueError("events_per_second must be positive")
        unknown = set(self.kind_mix) - set(SOURCE_BY_KIND)
        if unknown or not any(w > 0 for w in self.kind_mix.values()):
            raise ValueError(
                f"kind_mix needs weights for known kinds only, got {unknown or 'none'}"
            )


@dataclass
class GroundTruth:
    """What a worker should count from the lines emitted so far."""

    events: Counter[tuple[str, str]] = field(default_factory=Counter)  # (kind, province)
    duplicates: Counter[str] = field(default_factory=Counter)  # kind -> extra copies
    rejects: Counter[str] = field(default_factory=Counter)  # malformation -> lines
    late: Counter[str] = field(default_factory=Counter)  # kind -> late (still valid) events
    lines: int = 0

    @property
    def valid_events(self) -> int:
        return sum(self.events.values())

    def events_by_kind(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (kind, _province), n in self.events.items():
            out[kind] += n
        return out

    def render(self) -> str:
        """A short human summary."""
        by_kind = self.events_by_kind()
        rows = [f"{self.lines:,} lines: {self.valid_events:,} distinct valid events"]
        rows += [f"  {kind:<22} {by_kind[kind]:>12,}" for kind in sorted(by_kind)]
        rows.append(f"  duplicates (extra copies): {sum(self.duplicates.values()):,}")
        rows.append(f"  late arrivals (valid, counted above): {sum(self.late.values()):,}")
        rows.append(f"  hostile lines (to be rejected): {sum(self.rejects.values()):,}")
        return "\n".join(rows)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, sorted so that two equal truths serialise identically."""
        events: dict[str, dict[str, int]] = {}
        for (kind, province), n in sorted(self.events.items()):
            events.setdefault(kind, {})[province] = n
        return {
            "lines": self.lines,
            "valid_events": self.valid_events,
            "events": events,
            "duplicates": dict(sorted(self.duplicates.items())),
            "late": dict(sorted(self.late.items())),
            "rejects": dict(sorted(self.rejects.items())),
            "rejects_total": sum(self.rejects.values()),
        }


class SyntheticFeed:
    """Emits lines (bytes without newline) and keeps the ground truth of what it emitted.

    `lines(n)` is the basic feed: Poisson arrivals from `config.start`. `emit(...)` writes one
    event of a given kind, place and time, applying the configured faults: the hook a richer
    simulator (or the live feed, with the wall clock) drives.
    """

    def __init__(self, config: SyntheticConfig | None = None) -> None:
        self.config = config or SyntheticConfig()
        self.truth = GroundTruth()
        self._rng = random.Random(self.config.seed)
        self._wards = all_localities()
        self._hmac_key = f"civicpulse-synthetic-{self.config.seed}".encode()
        kinds = [k for k, w in self.config.kind_mix.items() if w > 0]
        self._kinds = kinds
        self._kind_cum = _cumulative([self.config.kind_mix[k] for k in kinds])
        self._merchant_names = [name for name, _ in MERCHANT_CATEGORIES]
        self._merchant_cum = _cumulative([w for _, w in MERCHANT_CATEGORIES])
        # Recent valid lines (kind, event time, line): what a duplicate copies.
        self._recent: collections.deque[tuple[str, float, bytes]] = collections.deque(maxlen=4096)
        self._clock = self.config.start.timestamp()
        self._ts_cache: tuple[int, str] = (-1, "")
        self._dossier_seq = 0

    # --- the basic arrival model ---------------------------------------------------------

    def lines(self, n: int | None = None, *, until_s: float | None = None) -> Iterator[bytes]:
        """The next lines of the basic feed (faults included): `n` of them, or all the events
        before `until_s` (Unix seconds) on the feed's clock, whichever comes first."""
        if n is None and until_s is None:
            raise ValueError("lines() needs n or until_s: the feed is endless")
        rng = self._rng
        rate = self.config.events_per_second
        wards = self._wards
        left = n if n is not None else -1
        end = until_s if until_s is not None else math.inf
        while left:
            clock = self._clock + rng.expovariate(rate)
            if clock >= end:
                return
            self._clock = clock
            left -= 1
            kind = self._kinds[_pick(rng, self._kind_cum)]
            yield self.emit(kind, wards[int(rng.random() * len(wards))], clock)

    def random_line_at(self, t: float) -> bytes:
        """One line of a random kind and commune, at `t` (Unix seconds): for the live feed."""
        rng = self._rng
        kind = self._kinds[_pick(rng, self._kind_cum)]
        wards = self._wards
        return self.emit(kind, wards[int(rng.random() * len(wards))], t)

    # --- one event -----------------------------------------------------------------------

    def emit(self, kind: str, locality: Locality, t: float) -> bytes:
        """One line for an event of `kind` at `locality` and time `t` (Unix seconds).

        With the configured probabilities the line is instead a duplicate of a recent line, or
        a hostile line; a valid event may be made late. The truth is updated accordingly.
        """
        cfg = self.config
        rng = self._rng
        self.truth.lines += 1
        u = rng.random()
        if u < cfg.malformed_rate:
            variant = MALFORMATIONS[int(rng.random() * len(MALFORMATIONS))]
            self.truth.rejects[variant] += 1
            return self._malformed(variant, kind, locality, t)
        if u < cfg.malformed_rate + cfg.duplicate_rate and self._recent:
            dup_kind, dup_t, line = self._recent[int(rng.random() * len(self._recent))]
            # Well inside the contract's 7-day horizon, so that the copy is surely a duplicate.
            if t - dup_t < _DUPLICATE_HORIZON_S:
                self.truth.duplicates[dup_kind] += 1
                return line
        if cfg.late_rate and rng.random() < cfg.late_rate:
            lo, hi = cfg.late_hours
            t -= rng.uniform(lo, hi) * 3600.0
            self.truth.late[kind] += 1
        event = self.event(kind, locality, t)
        line = orjson.dumps(event)
        self._recent.append((kind, t, line))
        self.truth.events[kind, locality.province_code] += 1
        return line

    def event(self, kind: str, locality: Locality, t: float) -> dict[str, Any]:
        """A valid event as a dict (the truth is not touched)."""
        rng = self._rng
        ward: str | None = locality.ward_code
        if self.config.province_only_rate and rng.random() < self.config.province_only_rate:
            ward = None
        event: dict[str, Any] = {
            "event_id": self._uuid4(),
            "kind": kind,
            "occurred_at": self._timestamp(t),
            "province_code": locality.province_code,
            "ward_code": ward,
            "source": SOURCE_BY_KIND[kind],
            "schema_version": 1,
        }
        if kind == PAYMENT_QR:
            event["amount_vnd"] = self._amount(11.3, 1.1, minimum=1_000)  # median ~80 k VND
            event["merchant_category"] = self._merchant_names[_pick(rng, self._merchant_cum)]
            event["payer_ref"] = self._citizen_ref() if rng.random() < 0.9 else None
        elif kind == IDENTITY:
            event["level"] = 2 if rng.random() < 0.55 else 1
            event["citizen_ref"] = self._citizen_ref()
        elif kind == WELFARE:
            pension = rng.random() < 0.6
            event["program"] = "pension" if pension else "social_allowance"
            event["channel"] = "bank_account" if rng.random() < 0.6 else "cash"
            event["amount_vnd"] = (
                self._amount(15.4, 0.5, minimum=500_000)  # ~5 M VND
                if pension
                else self._amount(13.8, 0.3, minimum=360_000)  # ~1 M VND
            )
            event["beneficiary_ref"] = self._citizen_ref()
        elif kind == SERVICE:
            event["channel"] = "online" if rng.random() < 0.6 else "counter"
            event["amount_vnd"] = 0 if rng.random() < 0.15 else self._amount(11.5, 0.9, 10_000)
            event["service_code"] = f"{1 + int(rng.random() * 2)}.{int(rng.random() * 1e6):06d}"
            event["dossier_ref"] = self._dossier_ref(locality.province_code, t)
        else:
            raise ValueError(f"unknown kind {kind!r}")
        return event

    # --- hostile lines -------------------------------------------------------------------

    def _malformed(self, variant: str, kind: str, locality: Locality, t: float) -> bytes:
        rng = self._rng
        if variant == "raw_id":
            kind = SERVICE
        event = self.event(kind, locality, t)
        if variant == "bad_json":
            line = orjson.dumps(event)
            return line[: len(line) // 2]
        if variant == "not_object":
            return orjson.dumps(list(event.values()))
        if variant == "not_utf8":
            return orjson.dumps(event).replace(b'"source":"', b'"source":"\xe9', 1)
        if variant == "repeated_key":
            line = orjson.dumps(event)
            return line[:-1] + b',"province_code":"' + locality.province_code.encode() + b'"}'
        if variant == "unknown_field":
            event["national_id_hint"] = "synthetic"
        elif variant == "wrong_type":
            choice = int(rng.random() * 3)
            if choice == 0:
                event["schema_version"] = "1"
            elif choice == 1:
                event["province_code"] = int(event["province_code"])
            else:
                event["schema_version"] = 1.0
        elif variant == "raw_id":
            event["dossier_ref"] = f"HS-999{int(rng.random() * 1e9):09d}"
        elif variant == "ward_not_in_province":
            wards = self._wards
            other = wards[int(rng.random() * len(wards))]
            while other.province_code == locality.province_code:
                other = wards[int(rng.random() * len(wards))]
            event["ward_code"] = other.ward_code
        elif variant == "unknown_kind":
            event["kind"] = "payment.card"
        elif variant == "too_old":
            event["occurred_at"] = "2019-12-31T23:59:00+07:00"
        else:
            raise ValueError(f"unknown malformation {variant!r}")
        return orjson.dumps(event)

    # --- field values --------------------------------------------------------------------

    def _uuid4(self) -> str:
        bits = self._rng.getrandbits(128)
        bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
        bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
        h = f"{bits:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _citizen_ref(self) -> str:
        fake_id = f"synthetic-citizen-{int(self._rng.random() * self.config.citizens)}"
        return hmac_ref(fake_id, self._hmac_key)

    def _amount(self, mu: float, sigma: float, minimum: int) -> int:
        value = math.exp(self._rng.gauss(mu, sigma))
        return min(_MAX_AMOUNT, max(minimum, int(value) // 1000 * 1000))

    def _timestamp(self, t: float) -> str:
        second = int(t)
        cached_second, text = self._ts_cache
        if second != cached_second:
            text = datetime.fromtimestamp(second, VN_TZ).isoformat()
            self._ts_cache = (second, text)
        return text

    def _dossier_ref(self, province: str, t: float) -> str:
        self._dossier_seq += 1
        day = datetime.fromtimestamp(int(t), VN_TZ).strftime("%y%m%d")
        return (
            f"000.00.{int(self._rng.random() * 100):02d}.H{province}-{day}-{self._dossier_seq:04d}"
        )


def _cumulative(weights: list[float]) -> list[float]:
    total = sum(weights)
    out, acc = [], 0.0
    for w in weights:
        acc += w / total
        out.append(acc)
    out[-1] = 1.0
    return out


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    u = rng.random()
    for i, edge in enumerate(cumulative):
        if u < edge:
            return i
    return len(cumulative) - 1


def generate(n: int, config: SyntheticConfig | None = None) -> tuple[list[bytes], GroundTruth]:
    """`n` lines of the basic feed, in memory, and their ground truth."""
    feed = SyntheticFeed(config)
    lines = list(feed.lines(n))
    return lines, feed.truth


def write_log(
    path: str | os.PathLike[str],
    config: SyntheticConfig | None = None,
    *,
    n: int | None = None,
    days: float | None = None,
    start: str | date | datetime | None = None,
    seed: int | None = None,
    compresslevel: int = 3,
) -> GroundTruth:
    """Write the basic feed to a `.jsonl` log (gzip when the name ends in `.gz`).

    Either `n` lines, or `days` of event time from the start. `start` ("YYYY-MM-DD", a date:
    midnight Vietnam time, or an aware datetime) and `seed` override `config`'s. Returns the
    ground truth of what was written.
    """
    if (n is None) == (days is None):
        raise ValueError("write_log needs exactly one of n or days")
    cfg = config or SyntheticConfig()
    if start is not None:
        cfg = replace(cfg, start=parse_start(start))
    if seed is not None:
        cfg = replace(cfg, seed=seed)
    feed = SyntheticFeed(cfg)
    until = cfg.start.timestamp() + days * 86_400 if days is not None else None
    lines = feed.lines(n, until_s=until)
    name = os.fspath(path)
    with (
        gzip.open(name, "wb", compresslevel=compresslevel)
        if name.endswith(".gz")
        else open(name, "wb") as out
    ):
        while chunk := list(itertools.islice(lines, 8192)):
            out.write(b"\n".join(chunk) + b"\n")
    return feed.truth


def parse_start(value: str | date | datetime) -> datetime:
    """A feed start: an aware datetime as is; a date, or "YYYY-MM-DD", at 00:00 Vietnam time."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=VN_TZ)
    return datetime(value.year, value.month, value.day, tzinfo=VN_TZ)
