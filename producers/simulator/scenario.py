"""Scenario files: stalls and outages injected into a simulated log, and their ground truth.

A scenario is YAML (see docs/simulator.md)::

    name: thanh-hoa-march
    episodes:
      - signal: activation_rate_drop     # activations dry up in one commune
        province: "38"
        ward: "14797"
        start: 2025-03-10                # a date is 00:00 Vietnam time
        end: 2025-03-15
        factor: 0.05                     # 5 % of the normal rate is left
      - signal: feed_outage              # a feed silent everywhere
        kind: payment.qr
        start: 2025-03-12T09:00:00+07:00
        end: 2025-03-12T13:00:00+07:00

Codes are quoted strings: YAML reads ``00070`` as the number 56. Every problem of the file is
reported at once, as ``file:line: episodes[i].field: what is wrong``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from producers.exceptions import ProducersError
from producers.simulator.calendar import VN_TZ, cycles_between
from schemas.events import KINDS
from schemas.localities import all_wards, province_name, ward_province

IDENTITY, QR, WELFARE, SERVICE = KINDS[0], KINDS[1], KINDS[2], KINDS[3]

Signal = Literal[
    "activation_rate_drop",
    "qr_rate_drop",
    "service_rate_drop",
    "welfare_rate_drop",
    "cashless_share_regression",
    "online_share_regression",
    "missing_batch",
    "gradual_decline",
    "feed_outage",
]
SIGNALS: Final[tuple[str, ...]] = get_args(Signal)
# The kind a signal concerns; None: the episode names it (``kind:``).
SIGNAL_KIND: Final[Mapping[str, str | None]] = {
    "activation_rate_drop": IDENTITY,
    "qr_rate_drop": QR,
    "service_rate_drop": SERVICE,
    "welfare_rate_drop": WELFARE,
    "cashless_share_regression": WELFARE,
    "online_share_regression": SERVICE,
    "missing_batch": WELFARE,
    "gradual_decline": None,
    "feed_outage": None,
}
# What ``factor`` means and its default: the rate (or share) left during the episode.
DEFAULT_FACTOR: Final[Mapping[str, float]] = {
    "activation_rate_drop": 0.05,
    "qr_rate_drop": 0.1,
    "service_rate_drop": 0.1,
    "welfare_rate_drop": 0.1,
    "cashless_share_regression": 0.5,
    "online_share_regression": 0.5,
    "missing_batch": 0.0,
    "gradual_decline": 0.1,
    "feed_outage": 0.0,
}
SOURCES_BY_KIND: Final[Mapping[str, tuple[str, ...]]] = {
    IDENTITY: ("vneid",),
    QR: ("napas",),
    WELFARE: ("vss", "social_affairs"),
    SERVICE: ("dvcqg",),
}


class ScenarioError(ProducersError):
    """A scenario file is unreadable or invalid; the message lists every problem."""


def _moment(value: Any) -> Any:
    """A date is 00:00 Vietnam time; a naive date-time is Vietnam time."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not a date or RFC 3339 date-time: {value!r}") from None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=VN_TZ)
    if isinstance(value, date):
        return datetime.combine(value, time(0), VN_TZ)
    raise ValueError(f"not a date or date-time: {value!r}")


def _code(digits: int) -> Any:
    def check(value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, str):
            example = '"38"' if digits == 2 else '"14797"'
            raise ValueError(
                f"write the code as a quoted string of {digits} digits, e.g. {example} "
                "(YAML reads 00070 as the number 56)"
            )
        return value

    return check


Moment = Annotated[datetime, BeforeValidator(_moment)]
ProvinceCode = Annotated[str | None, BeforeValidator(_code(2)), Field(pattern=r"^[0-9]{2}$")]
WardCode = Annotated[str | None, BeforeValidator(_code(5)), Field(pattern=r"^[0-9]{5}$")]


class Episode(BaseModel):
    """One injected stall or outage: what, where (None = everywhere), when [start, end)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    signal: Signal
    kind: (
        Literal["identity.activation", "payment.qr", "welfare.disbursement", "service.payment"]
        | None
    ) = None
    province: ProvinceCode = None
    ward: WardCode = None
    start: Moment
    end: Moment
    factor: Annotated[float | None, Field(ge=0.0, lt=1.0)] = None
    program: Literal["pension", "social_allowance"] | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        implied = SIGNAL_KIND[self.signal]
        if implied is None and self.kind is None:
            raise ValueError(f"a {self.signal} episode needs kind: (one of {', '.join(KINDS)})")
        if implied is not None and self.kind is not None and self.kind != implied:
            raise ValueError(f"{self.signal} concerns {implied}, not {self.kind}")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.signal == "feed_outage":
            if self.province is not None or self.ward is not None:
                raise ValueError("a feed_outage is everywhere: give no province or ward")
        else:
            if self.ward is not None:
                owner = ward_province(self.ward)
                if owner is None:
                    raise ValueError(f"ward {self.ward} is not one of the 3,321 communes")
                if self.province is not None and owner != self.province:
                    raise ValueError(
                        f"ward {self.ward} is in province {owner}, not {self.province}"
                    )
            elif self.province is None:
                raise ValueError("give a province (and optionally a ward)")
            if self.province is not None and province_name(self.province) is None:
                raise ValueError(f"province {self.province} is not one of the 34")
        if self.program is not None and self.resolved_kind != WELFARE:
            raise ValueError("program applies to welfare.disbursement episodes only")
        if self.source is not None:
            if self.signal != "feed_outage":
                raise ValueError("source applies to feed_outage episodes only")
            if self.source not in SOURCES_BY_KIND[self.resolved_kind]:
                known = ", ".join(SOURCES_BY_KIND[self.resolved_kind])
                raise ValueError(f"the simulated {self.resolved_kind} sources are {known}")
        return self

    @property
    def resolved_kind(self) -> str:
        kind = self.kind or SIGNAL_KIND[self.signal]
        assert kind is not None  # checked by the validator
        return kind

    @property
    def province_code(self) -> str | None:
        if self.ward is not None:
            return ward_province(self.ward)
        return self.province

    @property
    def level(self) -> float:
        """The factor in force: the rate (or share) left, the final one for gradual_decline."""
        return DEFAULT_FACTOR[self.signal] if self.factor is None else self.factor

    @property
    def resolved_program(self) -> str | None:
        if self.signal == "missing_batch" and self.program is None:
            return "pension"
        return self.program

    def truth(self) -> dict[str, Any]:
        """The ground-truth record of this episode (RFC 3339 times, Vietnam offset)."""
        return {
            "kind": self.resolved_kind,
            "province_code": self.province_code,
            "ward_code": self.ward,
            "signal": self.signal,
            "start": self.start.astimezone(VN_TZ).isoformat(),
            "end": self.end.astimezone(VN_TZ).isoformat(),
            "factor": self.level,
            "program": self.resolved_program,
            "source": self.source,
        }


class Scenario(BaseModel):
    """A named list of episodes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "scenario"
    description: str = ""
    episodes: tuple[Episode, ...] = ()

    def check_period(self, start: datetime, end: datetime) -> None:
        """Raise ``ScenarioError`` for episodes that cannot show in a run over [start, end)."""
        problems = []
        for i, ep in enumerate(self.episodes):
            if ep.end <= start or ep.start >= end:
                problems.append(
                    f"episodes[{i}] ({ep.signal}, {ep.start.date()} .. {ep.end.date()}) is outside "
                    f"the simulated period {start.date()} .. {end.date()}"
                )
            elif ep.signal == "missing_batch" and not _bank_days_in(ep):
                problems.append(
                    f"episodes[{i}]: missing_batch: no {ep.resolved_program} bank-transfer day "
                    f"between {ep.start.isoformat()} and {ep.end.isoformat()} "
                    "(see docs/simulator.md for the payment calendar)"
                )
        if problems:
            raise ScenarioError(
                f"scenario {self.name!r} does not fit the run:\n  " + "\n  ".join(problems)
            )


def _bank_days_in(ep: Episode) -> list[date]:
    program = ep.resolved_program or "pension"
    first, last = ep.start.astimezone(VN_TZ).date(), ep.end.astimezone(VN_TZ).date()
    days = []
    for cycle in cycles_between(program, first, last):
        for day, _share in cycle.bank_days:
            moment = datetime.combine(day, time(0), VN_TZ)
            if moment + timedelta(days=1) > ep.start and moment < ep.end:
                days.append(day)
    return days


# --- loading ------------------------------------------------------------------------------------


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; ``ScenarioError`` names the file, line and field."""
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario {name}: {exc}") from exc
    return parse_scenario(text, name)


def parse_scenario(text: str, name: str = "<scenario>") -> Scenario:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{name}: not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{name}:1: a scenario is a mapping with name, description, episodes")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = list(error["loc"])
            line = _line_of(node, loc)
            where = _render_loc(loc)
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown field (see docs/simulator.md for the format)"
            problems.append(f"{name}:{line}: {where}: {message}")
        raise ScenarioError(f"invalid scenario {name}:\n  " + "\n  ".join(problems)) from None


def _render_loc(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith("function-") or part in KINDS or "[" in part:
            continue  # pydantic's union / validator branches
        else:
            out += f".{part}" if out else part
    return out or "scenario"


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int:
    """The 1-based line of the YAML node at ``loc`` (or of its nearest ancestor)."""
    line = 1 if node is None else node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if key.value == part:
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                break
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            continue
    return line


# --- random scenarios ---------------------------------------------------------------------------

_NEEDS_A_ROUND: Final = frozenset({"missing_batch", "cashless_share_regression"})
# An episode of a random scenario is drawn where it is expected to change at least this many
# events (``effects.EffectModel``), drawn again at most ``_ATTEMPTS`` times to get there.
MIN_EFFECT: Final = 20.0
_ATTEMPTS: Final = 30


def random_scenario(
    seed: int,
    start: date,
    days: int,
    *,
    count: int | None = None,
    populations: Mapping[str, int] | None = None,
    effect: Callable[[Episode], float] | None = None,
    min_effect: float = MIN_EFFECT,
) -> Scenario:
    """A scenario drawn at random for ``seed``: a mix of every signal, unseen by a detector.

    Episodes start after a warm-up (a third of the period, at least two days) so that a detector
    has a baseline; about half are commune-level, in communes of 20,000 people or more when
    ``populations`` (ward -> population) is given. ``missing_batch`` is only drawn when the
    period holds a pension bank day after the warm-up, ``cashless_share_regression`` when it
    holds the start of a payment round (its window then starts one).

    With ``effect`` (an episode's expected effect on the run: ``effects.EffectModel``), an episode
    expected to change fewer than ``min_effect`` events is drawn again, up to ``_ATTEMPTS``
    times, then left out: an outage while the feed is silent anyway, or a stall of a handful of
    events, is no stall anyone could see in the log.
    """
    if days < 3:
        raise ValueError("a random scenario needs a period of at least 3 days")
    rng = random.Random(f"civicpulse-scenario:{seed}:{start.isoformat()}:{days}")
    count = count if count is not None else max(len(SIGNALS), days // 2)
    draw = _Draw(rng, start, days, populations)
    signals = list(SIGNALS)
    rng.shuffle(signals)
    chosen = [signals[i % len(signals)] for i in range(count)]
    episodes: list[Episode] = []
    for signal in chosen:
        if (signal == "missing_batch" and not draw.bank_days) or (
            signal == "cashless_share_regression" and not draw.round_starts
        ):
            signal = rng.choice([s for s in SIGNALS if s not in _NEEDS_A_ROUND])
        for _attempt in range(1 if effect is None else _ATTEMPTS):
            episode = draw.episode(signal)
            if episode is not None and (effect is None or effect(episode) >= min_effect):
                episodes.append(episode)
                break
    episodes.sort(key=lambda e: (e.start, e.signal))
    return Scenario(
        name=f"random-{seed}",
        description=f"random scenario for seed {seed}, {days} days from {start.isoformat()}",
        episodes=tuple(episodes),
    )


class _Draw:
    """The period's facts a random episode is drawn from, and the draw of one."""

    def __init__(
        self, rng: random.Random, start: date, days: int, populations: Mapping[str, int] | None
    ) -> None:
        self.rng, self.days = rng, days
        self.begin = datetime.combine(start, time(0), VN_TZ)
        self.warmup = max(2, days // 3)
        self.end = self.begin + timedelta(days=days)
        wards = sorted(all_wards().items())
        self.big = [
            w for w in wards if populations is None or populations.get(w[0], 0) >= 20_000
        ] or wards
        self.provinces = sorted({p for _w, p in wards})
        first_day, last_day = start + timedelta(days=self.warmup), start + timedelta(days=days - 1)
        self.bank_days = [  # pension bank days after the warm-up: where a batch can go missing
            d
            for c in cycles_between("pension", first_day, last_day)
            for d, _ in c.bank_days
            if first_day <= d <= last_day
        ]
        self.round_starts = sorted(  # payment rounds starting after the warm-up, either programme
            c.first_day
            for program in ("pension", "social_allowance")
            for c in cycles_between(program, first_day, last_day)
            if first_day <= c.first_day <= last_day
        )

    def episode(self, signal: str) -> Episode | None:
        rng, begin, warmup, days = self.rng, self.begin, self.warmup, self.days
        fields: dict[str, Any] = {"signal": signal}
        if signal == "feed_outage":
            fields["kind"] = rng.choice(KINDS)
            length = timedelta(hours=rng.randint(2, 12))
            latest = max(warmup * 24, days * 24 - int(length.total_seconds() // 3600))
            first = begin + timedelta(hours=rng.randint(warmup * 24, latest))
        elif signal == "missing_batch":
            day = rng.choice(self.bank_days)
            first = datetime.combine(day, time(0), VN_TZ)
            length = timedelta(days=1)
        else:
            span = (5, 10) if signal in ("gradual_decline", "cashless_share_regression") else (2, 5)
            length = timedelta(days=min(rng.randint(*span), days - warmup))
            last_start = max(warmup, days - length.days)
            first = begin + timedelta(days=rng.randint(warmup, last_start))
            if signal == "gradual_decline":
                fields["kind"] = rng.choice(KINDS)
            if signal == "cashless_share_regression" and not any(
                first.date() <= d < (first + length).date() for d in self.round_starts
            ):
                # A share regression shows in a payment round: make the window start one.
                first = datetime.combine(rng.choice(self.round_starts), time(0), VN_TZ)
        if signal != "feed_outage":
            if rng.random() < 0.5:
                ward, province = rng.choice(self.big)
                fields["ward"], fields["province"] = ward, province
            else:
                fields["province"] = rng.choice(self.provinces)
        stop = min(first + length, self.end)
        if stop <= first:
            return None
        fields["start"], fields["end"] = first, stop
        factor_range = {
            "cashless_share_regression": (0.2, 0.6),
            "online_share_regression": (0.2, 0.6),
            "gradual_decline": (0.0, 0.3),
        }.get(signal, (0.0, 0.2))
        if signal not in ("missing_batch", "feed_outage"):
            fields["factor"] = round(rng.uniform(*factor_range), 2)
        return Episode.model_validate(fields)
