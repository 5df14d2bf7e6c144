"""The figures the KPIs divide by: one ``LocalityFigures`` per province and per commune.

Counts are people; targets are fractions in [0, 1]. Ratios built on these figures may exceed
100 % (migration, stale denominators): nothing here clips them. A count may be 0 (Đặc khu Hoàng
Sa has no resident population), so a ratio can be undefined: callers must handle a 0 denominator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

COUNT_FIELDS: Final = (
    "population",
    "eligible_16plus",
    "pensioners",
    "welfare_beneficiaries",
    "eid_l2_baseline",
)
TARGET_FIELDS: Final = (
    "target_eid_l2_coverage",
    "target_pension_cashless",
    "target_welfare_cashless",
    "target_service_online",
)
FIGURE_FIELDS: Final = COUNT_FIELDS + TARGET_FIELDS

Count = Annotated[int, Field(ge=0, strict=True)]
Target = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class LocalityFigures(BaseModel):
    """Denominators and targets of one province (``code`` == ``province``) or one commune."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Annotated[str, Field(pattern=r"^(?:[0-9]{2}|[0-9]{5})$")]
    name: str
    province: Annotated[str, Field(pattern=r"^[0-9]{2}$")]
    population: Count
    eligible_16plus: Count
    pensioners: Count
    welfare_beneficiaries: Count
    eid_l2_baseline: Count  # e-ID level-2 accounts activated as of ``ReferenceData.as_of``
    target_eid_l2_coverage: Target  # of eligible_16plus
    target_pension_cashless: Target  # of pension payments, to bank accounts
    target_welfare_cashless: Target  # of social-allowance payments, to bank accounts
    target_service_online: Target  # of public-service payments, made online
    estimated: bool  # True when a count is an estimate or approximation (see ``source``)
    source: str  # where each figure comes from: ``field:source_id`` pairs (see sources.csv)

    @property
    def is_province(self) -> bool:
        return len(self.code) == 2

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.is_province and self.code != self.province:
            raise ValueError(f"a province's code ({self.code}) must equal its province field")
        for name in ("eligible_16plus", "pensioners", "welfare_beneficiaries"):
            if getattr(self, name) > self.population:
                raise ValueError(
                    f"{name} ({getattr(self, name):,}) is larger than population "
                    f"({self.population:,})"
                )
        return self


@dataclass(frozen=True)
class ReferenceData:
    """Every province and commune of the 2025 list, with the date the baselines refer to."""

    provinces: Mapping[str, LocalityFigures]  # "38" -> Thanh Hóa
    communes: Mapping[str, LocalityFigures]  # "14797" -> Phường Hạc Thành (province "38")
    as_of: date  # the date eid_l2_baseline (and the other counts) describe
    sources: Mapping[str, str]  # source id -> description with year

    def communes_of(self, province: str) -> tuple[LocalityFigures, ...]:
        """The communes of one province, by code."""
        return tuple(f for f in self.communes.values() if f.province == province)

    def figures(self, province: str, ward: str | None = None) -> LocalityFigures | None:
        """A commune's figures (``ward`` given) or its province's; None when unknown."""
        if ward is None:
            return self.provinces.get(province)
        found = self.communes.get(ward)
        return found if found is not None and found.province == province else None
