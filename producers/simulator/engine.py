"""The simulation loop: per day, counts per commune and hour, then one line per event.

Per day and stream (activations, QR, online and counter service payments, and the bank and cash
payments of each welfare programme), every commune gets a count, and every event an hour and a
second: gamma-Poisson counts (a commune's day is busier or quieter than its mean; a province's
hours are jittered too), shaped by the stream's day factor and hour profile (``calendar``).
Welfare is not drawn as a rate: every beneficiary is paid once per monthly round.

The day's events are packed into integers (second, stream, commune, beneficiary), sorted by
time, then written one by one. Each stream draws from its own random generator, seeded from
(seed, stream, day), and draws every attribute of an event before the scenario decides whether
to drop it: a scenario changes the log only where and when it acts.

Faults come last: a late line is written up to 12 hours after its neighbours in event time, a
duplicate (the same bytes) up to 3 hours later, a hostile line (``producers.synthetic``'s
malformations) right after the event it was made from.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from heapq import heappop, heappush
from typing import Any, Final

import orjson

from producers.simulator import calibration as cal
from producers.simulator.calendar import (
    CASH,
    COUNTER,
    OFFICE,
    ONLINE,
    PENSION,
    QR,
    SOCIAL_ALLOWANCE,
    VN_TZ,
    Calendar,
    Cycle,
    calendar_for,
    cycles_between,
)
from producers.simulator.config import SimulationConfig, SimulationTruth
from producers.simulator.model import (
    RATE_STREAMS,
    S_ACT,
    S_COUNTER,
    S_ONLINE,
    S_PEN_BANK,
    S_PEN_CASH,
    S_QR,
    S_SA_BANK,
    S_SA_CASH,
    Country,
)
from producers.simulator.sampling import (
    CLOCK,
    Hmac,
    amount,
    cumulative,
    poisson,
    random_round,
    uuid_prefix,
)
from producers.simulator.scenario import Episode, Scenario
from producers.synthetic import Locality, SyntheticConfig, SyntheticFeed
from reference.models import ReferenceData
from schemas.events import KINDS

IDENTITY, PAYMENT_QR, WELFARE, SERVICE = KINDS

# Streams: (kind, source, detail). Welfare detail is "program:channel".
STREAMS: Final = (
    (IDENTITY, "vneid", ""),
    (PAYMENT_QR, "napas", ""),
    (SERVICE, "dvcqg", "online"),
    (SERVICE, "dvcqg", "counter"),
    (WELFARE, "vss", "pension:bank_account"),
    (WELFARE, "vss", "pension:cash"),
    (WELFARE, "social_affairs", "social_allowance:bank_account"),
    (WELFARE, "social_affairs", "social_allowance:cash"),
)
_WELFARE_PARTS: Final = {
    s: (detail.split(":")[0], detail.split(":")[1])
    for s, (_kind, _source, detail) in enumerate(STREAMS)
    if ":" in detail
}
PROFILES: Final = {S_ACT: OFFICE, S_QR: QR, S_ONLINE: ONLINE, S_COUNTER: COUNTER}
BANK_WINDOW_S: Final = 7_200  # a bank batch lands over two hours
# How an episode acts on the events it covers (thin: the default, a rate drop).
MODES: Final = {
    "feed_outage": "drop",
    "missing_batch": "drop",
    "gradual_decline": "decline",
    "online_share_regression": "convert",
    "cashless_share_regression": "cycle",
}

_SEC_SHIFT, _STREAM_SHIFT, _WARD_SHIFT = 45, 41, 29
_WARD_MASK, _EXTRA_MASK = (1 << 12) - 1, (1 << 29) - 1

_LATE_HOURS: Final = (1.0, 12.0)
_DUPLICATE_HOURS: Final = (0.0, 3.0)


def day_factor(calendar: Calendar, s: int, day: date) -> float:
    """Rate stream ``s``'s volume on ``day`` relative to an ordinary one (its base)."""
    if s == S_QR:
        return calendar.qr_factor(day) * math.exp(
            cal.QR_GROWTH_PER_YEAR * cal.years_since_anchor(day)
        )
    if s == S_ONLINE:
        return calendar.online_factor(day)
    return calendar.office_factor(day)


def regresses(ep: Episode, cycle: Cycle) -> bool:
    """Whether cashless regression ``ep`` lowers ``cycle``'s bank share: it is in force at noon
    of the round's first day."""
    noon = datetime.combine(cycle.first_day, time(12), VN_TZ)
    return (
        ep.signal == "cashless_share_regression"
        and ep.resolved_program in (None, cycle.program)
        and ep.start <= noon < ep.end
    )


def bank_part(cycle: Cycle, first: date, end: date) -> float:
    """The part of ``cycle``'s bank transfers landing on days within [first, end)."""
    return sum(w for d, w in cycle.bank_days if first <= d < end)


def acts_on(ep: Episode, s: int) -> bool:
    """Whether episode ``ep`` changes stream ``s``'s events (a cashless regression: its rounds)."""
    kind, source, detail = STREAMS[s]
    if kind != ep.resolved_kind:
        return False
    program = detail.split(":")[0] if kind == WELFARE else None
    if ep.signal == "feed_outage" and ep.source is not None and ep.source != source:
        return False
    if ep.resolved_program is not None and program != ep.resolved_program:
        return False
    if ep.signal == "missing_batch" and not detail.endswith("bank_account"):
        return False
    return not (ep.signal == "online_share_regression" and s != S_ONLINE)


@dataclass
class _ActiveEpisode:
    episode: Episode
    wards: frozenset[int] | None  # None: everywhere
    start_s: float
    end_s: float
    mode: str  # drop, thin, decline, convert, cycle
    rng: random.Random
    index: int  # in the scenario: where its effect is counted


@dataclass
class _CycleState:
    cycle: Cycle
    bank: list[int]  # commune -> beneficiaries paid to a bank account
    total: list[int]  # commune -> beneficiaries paid this round


class Simulator:
    """Generates the lines of one run; ``truth`` is complete once ``lines()`` is exhausted."""

    def __init__(self, config: SimulationConfig, reference: ReferenceData) -> None:
        self.config = config
        self.truth = SimulationTruth()
        seed = config.seed
        self._ref = reference
        self._calendar: Calendar = calendar_for(
            config.start.year, (config.start + timedelta(days=config.days)).year
        )
        self._m = country = Country(config, reference)
        self._hmac = Hmac(f"civicpulse-simulator-{seed}".encode())
        self.truth.expected_shares = country.expected_shares
        self.truth.campaigns = country.campaign_truth
        self._cycles: dict[tuple[str, tuple[int, int]], _CycleState] = {}
        self._generated = sorted(config.provinces or country.province_wards)
        self._hostile = SyntheticFeed(
            SyntheticConfig(
                seed=seed,
                start=datetime.combine(max(config.start, date(2020, 2, 1)), time(0), VN_TZ),
                malformed_rate=1.0,
                province_only_rate=0.0,
            )
        )
        self._faults = random.Random(f"{seed}:faults")
        self._dossier_seq: Counter[str] = Counter()
        self._pending: list[tuple[float, int, bytes]] = []
        self._pending_seq = 0
        self._actives_cache: list[_ActiveEpisode] | None = None
        scenario = config.scenario or Scenario()
        scenario.check_period(config.start_moment, config.end_moment)
        self._episodes = list(scenario.episodes)
        self.truth.episodes = [ep.truth() for ep in self._episodes]
        # Per episode, the events it removed or moved (to the counter, to cash): its effect.
        self._effects = [0.0] * len(self._episodes)
        self.truth.meta = {
            "seed": seed,
            "start": config.start_moment.isoformat(),
            "end": config.end_moment.isoformat(),
            "days": config.days,
            "scale": config.scale,
            "kinds": list(config.kinds),
            "provinces": list(self._generated),
            "scenario": scenario.name,
            "rates": {
                "duplicate": config.duplicate_rate,
                "late": config.late_rate,
                "malformed": config.malformed_rate,
                "province_only": config.province_only_rate,
            },
            "reference_as_of": reference.as_of.isoformat(),
        }

    # --- the run ---------------------------------------------------------------------------

    def lines(self) -> Iterator[bytes]:
        """Every line of the log, in order (late and duplicate lines displaced)."""
        cfg = self.config
        for offset in range(cfg.days):
            day = cfg.start + timedelta(days=offset)
            yield from self._day(offset, day)
        while self._pending:
            yield heappop(self._pending)[2]
        self.truth.counts.rejects = Counter(self._hostile.truth.rejects)
        for record, effect in zip(self.truth.episodes, self._effects, strict=True):
            record["effect"] = round(effect)

    def _day(self, offset: int, day: date) -> Iterator[bytes]:
        cfg = self.config
        day_start = datetime.combine(day, time(0), VN_TZ).timestamp()
        seed = cfg.seed
        rngs = [random.Random(f"{seed}:{s}:{day.isoformat()}") for s in range(len(STREAMS))]
        stubs: list[int] = []
        kinds = set(cfg.kinds)
        for s in RATE_STREAMS:
            if STREAMS[s][0] in kinds:
                self._rate_stubs(s, offset, day, rngs[s], stubs)
        if WELFARE in kinds:
            self._welfare_stubs(day, rngs, stubs)
        stubs.sort()
        active = self._active(day_start)
        yield from self._emit(stubs, day, day_start, rngs, active)

    def _rate_stubs(
        self, s: int, offset: int, day: date, rng: random.Random, out: list[int]
    ) -> None:
        c = self._calendar
        factor = day_factor(c, s, day)
        profile = PROFILES[s]
        base = self._m.base[s]
        campaigns = dict(self._m.campaigns.get(offset, ())) if s == S_ACT else {}
        if c.in_tet(day) or c.is_holiday(day):
            campaigns = {}  # the community teams are off too
        rnd, gamma = rng.random, rng.gammavariate
        day_shape, hour_shape = cal.COMMUNE_DAY_SHAPE, cal.PROVINCE_HOUR_SHAPE
        stream_bits = s << _STREAM_SHIFT
        office = cumulative(OFFICE)
        for p in self._generated:
            hours = [w * gamma(hour_shape, 1 / hour_shape) if w else 0.0 for w in profile]
            cum = cumulative(hours)
            for i in self._m.province_wards[p]:
                lam = base[i] * factor * gamma(day_shape, 1 / day_shape)
                boost = campaigns.get(i)
                extra = poisson(rng, self._m.base[S_ACT][i] * boost) if boost else 0
                count = poisson(rng, lam) + extra
                ward_bits = stream_bits | i << _WARD_SHIFT
                for k in range(count):
                    table = office if k >= count - extra else cum  # campaign teams work by day
                    u = rnd()
                    hour = bisect.bisect_right(table, u)
                    sec = min(int((hour + rnd()) * 3600), 86_399)
                    out.append(sec << _SEC_SHIFT | ward_bits)

    def _welfare_stubs(self, day: date, rngs: list[random.Random], out: list[int]) -> None:
        for program, bank_stream, cash_stream in (
            (PENSION, S_PEN_BANK, S_PEN_CASH),
            (SOCIAL_ALLOWANCE, S_SA_BANK, S_SA_CASH),
        ):
            for cycle in cycles_between(program, day, day):
                state = self._cycle(cycle)
                self._cycle_day(state, day, bank_stream, cash_stream, rngs, out)

    def _cycle(self, cycle: Cycle) -> _CycleState:
        key = (cycle.program, cycle.month)
        state = self._cycles.get(key)
        if state is not None:
            return state
        cfg = self.config
        rng = random.Random(f"{cfg.seed}:{cycle.program}:{cycle.month[0]}-{cycle.month[1]:02d}")
        regressions = [a for a in self._scenario_actives() if regresses(a.episode, cycle)]
        # A regression's effect: the round's bank payments it moves to cash within the run.
        in_run = bank_part(cycle, cfg.start, cfg.end_moment.date())
        bank, total = [], []
        for i in range(len(self._m.ward_codes)):
            n = random_round(rng, self._m.roll(cycle.program, i) * cfg.scale)
            share = self._m.bank_share(cycle.program, i, cycle.first_day)
            for a in regressions:
                if a.wards is None or i in a.wards:
                    if self._m.ward_province[i] in self._generated:
                        self._effects[a.index] += n * share * (1.0 - a.episode.level) * in_run
                    share *= a.episode.level
            bank.append(min(n, random_round(rng, n * share)))
            total.append(n)
        state = self._cycles[key] = _CycleState(cycle, bank, total)
        return state

    def _cycle_day(
        self,
        state: _CycleState,
        day: date,
        bank_stream: int,
        cash_stream: int,
        rngs: list[random.Random],
        out: list[int],
    ) -> None:
        cycle = state.cycle
        for stream, days, is_bank in (
            (bank_stream, cycle.bank_days, True),
            (cash_stream, cycle.cash_days, False),
        ):
            position = next((j for j, (d, _) in enumerate(days) if d == day), None)
            if position is None:
                continue
            before = sum(w for _, w in days[:position])
            upto = before + days[position][1]
            rng = rngs[stream]
            rnd = rng.random
            stream_bits = stream << _STREAM_SHIFT
            for p in self._generated:
                if is_bank:  # the province's batch lands at its hour
                    start_s = self._m.batch_hour[(cycle.program, p)] * 3600
                    cum: list[float] = []
                else:
                    hour_shape = cal.PROVINCE_HOUR_SHAPE
                    cum = cumulative(
                        [
                            w * rng.gammavariate(hour_shape, 1 / hour_shape) if w else 0.0
                            for w in CASH
                        ]
                    )
                for i in self._m.province_wards[p]:
                    bank = state.bank[i]
                    # Beneficiaries 0 .. bank-1 are paid to accounts, the others in cash.
                    lo, size = (0, bank) if is_bank else (bank, state.total[i] - bank)
                    # A commune's own phase spreads the rounding over the days (floor alone
                    # would pile every remainder on the last day of the round).
                    phase = (i * 0.6180339887498949) % 1.0
                    a = lo + min(size, math.floor(size * before + phase))
                    b = lo + min(size, math.floor(size * upto + phase))
                    if position == len(days) - 1:
                        b = lo + size
                    ward_bits = stream_bits | i << _WARD_SHIFT
                    for beneficiary in range(a, b):
                        if is_bank:
                            sec = start_s + int(rnd() * BANK_WINDOW_S)
                        else:
                            hour = bisect.bisect_right(cum, rnd())
                            sec = min(int((hour + rnd()) * 3600), 86_399)
                        out.append(sec << _SEC_SHIFT | ward_bits | beneficiary)

    # --- scenario -----------------------------------------------------------------------------

    def _scenario_actives(self) -> list[_ActiveEpisode]:
        if self._actives_cache is not None:
            return self._actives_cache
        actives = []
        for n, ep in enumerate(self._episodes):
            if ep.signal == "feed_outage":
                wards = None
            elif ep.ward is not None:
                wards = frozenset({self._m.ward_index[ep.ward]})
            else:
                wards = frozenset(self._m.province_wards[ep.province_code or ""])
            actives.append(
                _ActiveEpisode(
                    ep,
                    wards,
                    ep.start.timestamp(),
                    ep.end.timestamp(),
                    MODES.get(ep.signal, "thin"),
                    random.Random(f"{self.config.seed}:episode:{n}"),
                    n,
                )
            )
        self._actives_cache = actives
        return actives

    def _active(self, day_start: float) -> list[list[_ActiveEpisode]]:
        """Per stream, the episodes acting on it during this day."""
        per_stream: list[list[_ActiveEpisode]] = [[] for _ in STREAMS]
        for a in self._scenario_actives():
            if a.mode == "cycle" or a.end_s <= day_start or a.start_s >= day_start + 86_400:
                continue
            for s in range(len(STREAMS)):
                if acts_on(a.episode, s):
                    per_stream[s].append(a)
        return per_stream

    # --- writing ------------------------------------------------------------------------------

    def _emit(
        self,
        stubs: Sequence[int],
        day: date,
        day_start: float,
        rngs: list[random.Random],
        active: list[list[_ActiveEpisode]],
    ) -> Iterator[bytes]:
        cfg = self.config
        prefix = day.isoformat() + "T"
        yymmdd = day.strftime("%y%m%d")
        ward_codes, ward_province = self._m.ward_codes, self._m.ward_province
        counts, breakdown = self.truth.counts, self.truth.breakdown
        pending = self._pending
        dumps = orjson.dumps
        faults = self._faults.random
        ref = self._hmac
        only_rate = cfg.province_only_rate
        fault_rate = cfg.duplicate_rate + cfg.late_rate + cfg.malformed_rate
        id_prefix = [uuid_prefix(r) for r in rngs]
        serial = [0] * len(STREAMS)
        qr_names = list(cal.QR_AMOUNT)
        qr_params = [cal.QR_AMOUNT[name][1:] for name in qr_names]
        qr_cum = cumulative([w for w, _, _ in cal.QR_AMOUNT.values()])
        payers = self._m.payers
        exp = math.exp
        svc_cum = cumulative([w for _, _, w in cal.SERVICES])
        for packed in stubs:
            sec = packed >> _SEC_SHIFT
            s = packed >> _STREAM_SHIFT & 15
            i = packed >> _WARD_SHIFT & _WARD_MASK
            extra = packed & _EXTRA_MASK
            t = day_start + sec
            while pending and pending[0][0] <= t:
                yield heappop(pending)[2]
            rng = rngs[s]
            rnd = rng.random
            kind, source, detail = STREAMS[s]
            province = ward_province[i]
            serial[s] += 1
            event_id = f"{id_prefix[s]}{serial[s]:012x}"
            ward = None if rnd() < only_rate else ward_codes[i]
            event: dict[str, Any] = {
                "event_id": event_id,
                "kind": kind,
                "occurred_at": prefix + CLOCK[sec],
                "province_code": province,
                "ward_code": ward,
                "source": source,
                "schema_version": 1,
            }
            if s == S_QR:
                c = bisect.bisect_right(qr_cum, rnd())
                mu, sigma = qr_params[c]
                event["amount_vnd"] = max(1_000, int(exp(rng.gauss(mu, sigma))) // 1000 * 1000)
                event["merchant_category"] = qr_names[c]
                if rnd() < cal.PAYER_KNOWN:
                    payer = int(rnd() * payers[i])
                    event["payer_ref"] = ref(f"payer:{ward_codes[i]}:{payer}")
                else:
                    event["payer_ref"] = None
                detail = "all"
            elif s == S_ACT:
                level = 2 if rnd() < cal.LEVEL2_SHARE else 1
                event["level"] = level
                event["citizen_ref"] = ref("citizen:" + event_id)
                detail = f"level{level}"
            elif s in (S_ONLINE, S_COUNTER):
                j = bisect.bisect_right(svc_cum, rnd())
                code, fee, _w = cal.SERVICES[j]
                self._dossier_seq[province] += 1
                seq = self._dossier_seq[province]
                event["channel"] = detail
                event["amount_vnd"] = fee
                event["service_code"] = code
                event["dossier_ref"] = f"000.{j:02d}.{province}.H{province}-{yymmdd}-{seq:05d}"
            else:
                program, channel = _WELFARE_PARTS[s]
                event["program"] = program
                event["channel"] = channel
                event["amount_vnd"] = amount(program, i, extra)
                event["beneficiary_ref"] = ref(f"{program}:{ward_codes[i]}:{extra}")
            if active[s] and not self._survives(active[s], i, t, s, event):
                continue
            if s in (S_ONLINE, S_COUNTER):
                detail = event["channel"]
            line = dumps(event)
            counts.events[kind, province] += 1
            breakdown[kind, province, detail] += 1
            counts.lines += 1
            if not fault_rate:
                yield line
                continue
            u = faults()
            if u < cfg.late_rate:
                counts.late[kind] += 1
                emit_at = t + self._faults.uniform(*_LATE_HOURS) * 3600
                self._push(emit_at, line)
            else:
                yield line
                emit_at = t
            u = faults()
            if u < cfg.duplicate_rate:
                counts.duplicates[kind] += 1
                counts.lines += 1
                self._push(emit_at + self._faults.uniform(*_DUPLICATE_HOURS) * 3600, line)
            u = faults()
            if u < cfg.malformed_rate:
                counts.lines += 1
                yield self._hostile.emit(kind, Locality(province, ward_codes[i]), t)

    def _push(self, at: float, line: bytes) -> None:
        self._pending_seq += 1
        heappush(self._pending, (at, self._pending_seq, line))

    def _survives(
        self, actives: list[_ActiveEpisode], i: int, t: float, s: int, event: dict[str, Any]
    ) -> bool:
        effects = self._effects
        for a in actives:
            if not (a.start_s <= t < a.end_s) or (a.wards is not None and i not in a.wards):
                continue
            if a.mode == "drop":
                effects[a.index] += 1
                return False
            if a.mode == "thin":
                if a.rng.random() >= a.episode.level:
                    effects[a.index] += 1
                    return False
            elif a.mode == "decline":
                progress = (t - a.start_s) / (a.end_s - a.start_s)
                if a.rng.random() >= 1.0 - (1.0 - a.episode.level) * progress:
                    effects[a.index] += 1
                    return False
            elif a.mode == "convert" and s == S_ONLINE and a.rng.random() >= a.episode.level:
                effects[a.index] += 1
                event["channel"] = "counter"
        return True
