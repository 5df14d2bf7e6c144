"""The model of ``deploy/thresholds.yaml``: every number the alerting depends on, validated.

Durations stay strings in Prometheus spelling (they go into rule files as written) and are
checked, and converted to seconds where the generators compute with them.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Final, Literal, get_args

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from civicpulse.monitoring.durations import parse_duration
from civicpulse.monitoring.exceptions import ThresholdsError
from schemas.events import KINDS
from schemas.localities import all_provinces, ward_province

DEFAULT_PATH: Final = Path("deploy/thresholds.yaml")
Weekday = Literal["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]
WEEKDAYS: Final[tuple[str, ...]] = get_args(Weekday)  # PromQL's day_of_week() order

Severity = Literal["warning", "critical"]


def _duration(text: str) -> str:
    parse_duration(text)
    return text


def _clock(text: str) -> str:
    try:
        time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a time of day HH:MM: {text!r}") from None
    return text


Duration = Annotated[str, AfterValidator(_duration)]
ClockTime = Annotated[str, AfterValidator(_clock)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Links(_Model):
    runbook: str = "docs/operations.md"
    grafana: str = "http://localhost:3000"


class OfficeHours(_Model):
    weekdays: tuple[Weekday, ...] = (
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
    )
    start: ClockTime = "07:30"
    end: ClockTime = "17:00"

    def minutes(self) -> tuple[int, int]:
        """(start, end) as minutes after local midnight."""
        s, e = time.fromisoformat(self.start), time.fromisoformat(self.end)
        return s.hour * 60 + s.minute, e.hour * 60 + e.minute

    def weekday_numbers(self) -> tuple[int, ...]:
        """As PromQL's day_of_week(): 0 = Sunday."""
        return tuple(sorted(WEEKDAYS.index(d) for d in self.weekdays))

    @model_validator(mode="after")
    def _ordered(self) -> OfficeHours:
        start, end = self.minutes()
        if start >= end:
            raise ValueError("office_hours.start must come before office_hours.end")
        return self


class Calendar(_Model):
    utc_offset_hours: int = Field(7, ge=-12, le=14)
    location: str = "Asia/Ho_Chi_Minh"
    office_hours: OfficeHours = OfficeHours()
    holiday_years: tuple[int, ...] = (2025, 2026, 2027)
    tet_days_before: int = Field(3, ge=0, le=14)
    tet_days_after: int = Field(4, ge=0, le=14)


class Feed(_Model):
    silent_after: Duration
    for_: Duration = Field("5m", alias="for")
    severity: Severity = "warning"
    office_hours_only: bool = False


class StallLevel(_Model):
    for_: Duration = Field("0s", alias="for")
    severity: Severity = "warning"


class StallOverride(_Model):
    """A locality's own stall threshold: a province, or one commune (ward) of it."""

    province: str
    ward: str | None = None
    for_: Duration | None = Field(None, alias="for")
    severity: Severity | None = None

    @model_validator(mode="after")
    def _known(self) -> StallOverride:
        if self.province not in all_provinces():
            raise ValueError(f"unknown province code {self.province!r}")
        if self.ward is not None and ward_province(self.ward) != self.province:
            raise ValueError(f"{self.ward!r} is not a commune of province {self.province}")
        if self.for_ is None and self.severity is None:
            raise ValueError("an override sets `for`, `severity` or both")
        return self


class Stalls(_Model):
    commune: StallLevel = StallLevel(severity="warning")
    province: StallLevel = StallLevel(severity="critical")
    overrides: tuple[StallOverride, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> Stalls:
        keys = [(o.province, o.ward) for o in self.overrides]
        if len(keys) != len(set(keys)):
            raise ValueError("two stall overrides for the same locality")
        return self


class Worker(_Model):
    down_for: Duration = "2m"
    absent_for: Duration = "5m"


class Pipeline(_Model):
    stuck_for: Duration = "5m"
    lag_messages: int = Field(100_000, ge=1)
    lag_window: Duration = "10m"
    lag_for: Duration = "10m"


class Rejects(_Model):
    ratio: float = Field(0.05, gt=0, lt=1)
    window: Duration = "10m"
    min_rate: float = Field(1.0, ge=0)
    for_: Duration = Field("10m", alias="for")
    severity: Severity = "warning"


class Thresholds(_Model):
    links: Links = Links()
    calendar: Calendar = Calendar()
    feeds: dict[str, Feed]
    stalls: Stalls = Stalls()
    worker: Worker = Worker()
    pipeline: Pipeline = Pipeline()
    rejects: Rejects = Rejects()

    @model_validator(mode="after")
    def _every_kind(self) -> Thresholds:
        if set(self.feeds) != set(KINDS):
            missing = sorted(set(KINDS) - set(self.feeds))
            extra = sorted(set(self.feeds) - set(KINDS))
            raise ValueError(
                f"feeds must name every kind once (missing {missing}, unknown {extra})"
            )
        return self

    def feed(self, kind: str) -> Feed:
        return self.feeds[kind]

    def with_overrides(self, **changes: object) -> Thresholds:
        """A copy with top-level sections replaced (for tests: short e2e thresholds)."""
        data = self.model_dump(by_alias=True)
        data.update(changes)
        return Thresholds.model_validate(data)


def load(path: Path = DEFAULT_PATH) -> Thresholds:
    """Read and validate the threshold file; `ThresholdsError` says what is wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ThresholdsError(f"{path}: {exc}") from exc
    return parse(raw, str(path))


def parse(raw: object, where: str = "thresholds") -> Thresholds:
    try:
        return Thresholds.model_validate(raw)
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ThresholdsError(f"{where}: {errors}") from None
