"""Who a payment round pays, per locality: the share of a round to expect before one is learnt.

Every beneficiary on a roll is paid once per round, so a commune's part of its province's round
is its part of the province's beneficiaries, and a province's part of the nation's likewise. The
detector learns each locality's share from the days it has seen; on the first day of a round in
its log it has none, and a commune already silent that day would learn its silence as its share
and never be judged. The rolls (the reference data's pensioners and social-allowance
beneficiaries) give the part to expect until the locality has a round of its own.

Rolls are only as good as the reference data: a figure estimated from population (``estimated``
in the reference) may be a third off, which is why the detector uses them for rate drops only
(a commune paid a third of its part or less), never for shares or batches.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from reference.models import LocalityFigures, ReferenceData

# kind -> programme (the component's prefix, as in `detector.COMPONENTS`) -> the roll that
# programme pays
ROLL_FIELDS: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "welfare.disbursement": MappingProxyType(
            {"pension": "pensioners", "social_allowance": "welfare_beneficiaries"}
        )
    }
)


@dataclass(frozen=True)
class Rolls:
    """Per kind, locality code and programme: the locality's part of its parent's roll (a
    commune of its province, a province of the nation)."""

    parts: Mapping[str, Mapping[str, Mapping[str, float]]]

    def part(self, kind: str, code: str, programme: str) -> float | None:
        """The part of ``code`` (commune or province) in its parent's ``programme`` round, or
        None when no roll is known."""
        return self.parts.get(kind, {}).get(code, {}).get(programme)

    @classmethod
    def from_reference(cls, reference: ReferenceData) -> Rolls:
        """Parts from the reference data (communes of their province's communes' sum, so that
        they add up to 1 whatever the province figure says)."""
        by_province: dict[str, list[LocalityFigures]] = {}
        for figures in reference.communes.values():
            by_province.setdefault(figures.province, []).append(figures)
        parts: dict[str, dict[str, dict[str, float]]] = {}
        for kind, fields in ROLL_FIELDS.items():
            out = parts[kind] = {}
            national = {
                prog: sum(getattr(f, name) for f in reference.communes.values())
                for prog, name in fields.items()
            }
            for province, communes in by_province.items():
                totals = {
                    prog: sum(getattr(f, name) for f in communes) for prog, name in fields.items()
                }
                out[province] = {
                    prog: totals[prog] / national[prog] for prog in fields if national[prog] > 0
                }
                for f in communes:
                    out[f.code] = {
                        prog: getattr(f, name) / totals[prog]
                        for prog, name in fields.items()
                        if totals[prog] > 0
                    }
        return cls(parts)
