"""What an episode is expected to change in a run, before the run: its expected effect.

The effect is what the simulator counts as it writes (``effect`` in the truth): the events an
episode removes, or moves to the counter or to cash. Here it is the expectation of that count,
from the seed's communes (``model.Country``), the calendar and the payment rounds: a random
scenario draws its episodes where they change the log (``random_scenario(effect=...)``). A feed
outage while the feed is silent anyway, or a stall in a commune that expects a handful of events,
changes nothing a detector or an operator could see: it is a stall in the truth only.

The community teams' campaign days count too: an activation stall thins their extra sign-ups.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from producers.simulator.calendar import (
    CASH,
    PENSION,
    SOCIAL_ALLOWANCE,
    VN_TZ,
    Cycle,
    calendar_for,
    cycles_between,
    hour_weights,
)
from producers.simulator.config import SimulationConfig
from producers.simulator.engine import (
    BANK_WINDOW_S,
    MODES,
    PROFILES,
    STREAMS,
    acts_on,
    bank_part,
    day_factor,
    regresses,
)
from producers.simulator.model import RATE_STREAMS, S_ACT, Country
from producers.simulator.scenario import MIN_EFFECT, Episode, Scenario, random_scenario
from reference.models import ReferenceData

_HOUR = timedelta(hours=1)
_CASH_HOURS = hour_weights(CASH)


class EffectModel:
    """Expected effects of episodes on one run (``config``; its scenario is ignored)."""

    def __init__(self, config: SimulationConfig, reference: ReferenceData) -> None:
        self._config = config
        # The run draws the same communes, levels and campaigns: same seed and period.
        self.country = Country(config, reference)
        self._calendar = calendar_for(
            config.start.year, (config.start + timedelta(days=config.days)).year
        )
        self._provinces = sorted(config.provinces or self.country.province_wards)
        self._hours = {s: hour_weights(PROFILES[s]) for s in RATE_STREAMS}

    def expected(self, ep: Episode) -> float:
        """Events ``ep`` is expected to remove or move within the run."""
        cfg = self._config
        first, last = max(ep.start, cfg.start_moment), min(ep.end, cfg.end_moment)
        if last <= first or ep.resolved_kind not in cfg.kinds:
            return 0.0
        wards = self._wards(ep)
        if MODES.get(ep.signal) == "cycle":
            return self._moved_to_cash(ep, wards)
        streams = [s for s in range(len(STREAMS)) if acts_on(ep, s)]
        sums = _Sums(self, wards)
        span = (ep.end - ep.start).total_seconds()
        total = 0.0
        # Hour by hour (an outage covers part of a day); episodes start on whole hours.
        hour = first.astimezone(VN_TZ).replace(minute=0, second=0, microsecond=0)
        while hour < last:
            a, b = max(hour, first), min(hour + _HOUR, last)
            middle = a + (b - a) / 2
            weight = (b - a) / _HOUR * self._weight(ep, (middle - ep.start).total_seconds() / span)
            if weight > 0.0:
                total += weight * sum(self._in_hour(s, sums, hour) for s in streams)
            hour += _HOUR
        return total

    # --- parts ---------------------------------------------------------------------------------

    def _wards(self, ep: Episode) -> dict[str, list[int]]:
        """The communes the episode covers, by province (generated provinces only)."""
        m = self.country
        if ep.ward is not None:
            i = m.ward_index[ep.ward]
            chosen = {m.ward_province[i]: [i]}
        elif ep.province_code is not None:
            chosen = {ep.province_code: m.province_wards[ep.province_code]}
        else:
            chosen = m.province_wards
        return {p: chosen[p] for p in self._provinces if p in chosen}

    @staticmethod
    def _weight(ep: Episode, progress: float) -> float:
        """The fraction of the covered events the episode removes or moves, at ``progress``."""
        mode = MODES.get(ep.signal, "thin")
        if mode == "drop":
            return 1.0
        if mode == "decline":
            return (1.0 - ep.level) * progress
        return 1.0 - ep.level  # thin; convert (online payments only: ``acts_on``)

    def _in_hour(self, s: int, sums: _Sums, hour: datetime) -> float:
        day, h = hour.date(), hour.hour
        if s in RATE_STREAMS:
            level = sums.base(s) * day_factor(self._calendar, s, day)
            if s == S_ACT and not (self._calendar.in_tet(day) or self._calendar.is_holiday(day)):
                level += sums.campaigns((day - self._config.start).days)
            return level * self._hours[s][h]
        _kind, _source, detail = STREAMS[s]
        program, channel = detail.split(":")
        total = 0.0
        for cycle in cycles_between(program, day, day):
            if channel == "bank_account":
                share = next((w for d, w in cycle.bank_days if d == day), 0.0)
                for p in sums.wards if share else ():
                    landed = self._landed(self.country.batch_hour[(program, p)], h)
                    total += share * landed * sums.paid(cycle, p, bank=True) if landed else 0.0
            else:
                share = next((w for d, w in cycle.cash_days if d == day), 0.0)
                if share:
                    paid = sum(sums.paid(cycle, p, bank=False) for p in sums.wards)
                    total += share * _CASH_HOURS[h] * paid
        return total

    @staticmethod
    def _landed(batch_hour: int, h: int) -> float:
        """The part of a bank batch landing at ``batch_hour`` that lands in hour ``h``."""
        hours = BANK_WINDOW_S / 3600
        return 1.0 / hours if batch_hour <= h < batch_hour + hours else 0.0

    def paid(self, cycle: Cycle, idx: Sequence[int], *, bank: bool) -> float:
        """A round's beneficiaries among communes ``idx`` paid to accounts (or in cash)."""
        m, scale, total = self.country, self._config.scale, 0.0
        for i in idx:
            share = m.bank_share(cycle.program, i, cycle.first_day)
            total += m.roll(cycle.program, i) * scale * (share if bank else 1.0 - share)
        return total

    def _moved_to_cash(self, ep: Episode, wards: dict[str, list[int]]) -> float:
        """A cashless regression: the bank payments of the rounds it covers, moved to cash."""
        cfg = self._config
        end = cfg.end_moment.date()
        total = 0.0
        for program in (PENSION, SOCIAL_ALLOWANCE):
            for cycle in cycles_between(program, cfg.start, end - timedelta(days=1)):
                if regresses(ep, cycle):  # the engine's own test (programme, first noon)
                    bank = sum(self.paid(cycle, idx, bank=True) for idx in wards.values())
                    total += bank * (1.0 - ep.level) * bank_part(cycle, cfg.start, end)
        return total


class _Sums:
    """One episode's communes summed once: rate bases per stream, a round's payments per
    province (an episode's hours would sum them again and again)."""

    def __init__(self, model: EffectModel, wards: dict[str, list[int]]) -> None:
        self.model, self.wards = model, wards
        self.chosen = frozenset(i for idx in wards.values() for i in idx)
        self._base: dict[int, float] = {}
        self._campaigns: dict[int, float] = {}
        self._paid: dict[tuple[str, tuple[int, int], str, bool], float] = {}

    def base(self, s: int) -> float:
        if s not in self._base:
            base = self.model.country.base[s]
            self._base[s] = sum(base[i] for idx in self.wards.values() for i in idx)
        return self._base[s]

    def campaigns(self, offset: int) -> float:
        """The community teams' extra activations on day ``offset`` (office hours)."""
        if offset not in self._campaigns:
            m = self.model.country
            chosen = self.chosen
            self._campaigns[offset] = sum(
                m.base[S_ACT][i] * boost for i, boost in m.campaigns.get(offset, ()) if i in chosen
            )
        return self._campaigns[offset]

    def paid(self, cycle: Cycle, p: str, *, bank: bool) -> float:
        key = (cycle.program, cycle.month, p, bank)
        if key not in self._paid:
            self._paid[key] = self.model.paid(cycle, self.wards[p], bank=bank)
        return self._paid[key]


def draw_scenario(
    config: SimulationConfig, reference: ReferenceData, *, min_effect: float = MIN_EFFECT
) -> Scenario:
    """The random scenario of ``config``'s seed and period, each episode expected to change at
    least ``min_effect`` events of the run (in communes of 20,000 people or more)."""
    populations = {code: f.population for code, f in reference.communes.items()}
    model = EffectModel(config, reference)
    return random_scenario(
        config.seed,
        config.start,
        config.days,
        populations=populations,
        effect=model.expected,
        min_effect=min_effect,
    )


__all__ = ["EffectModel", "draw_scenario"]
