"""The detector's thresholds: one frozen dataclass per level, in one place.

Tuned on simulated scenarios of seeds 1-3 and their null runs (see docs/detection.md); every
number here is in event time. `Rules.windows` are the lengths (hours) of the trailing windows a
rate drop is tested on: short ones see big localities stall within hours, long ones give small
ones enough expected events to be significant.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from streams.detect.alerts import CRITICAL, WARNING

RING_HOURS: Final = 72  # hourly bins kept per locality (the longest window)
DAY_RING: Final = 35  # daily bins kept per locality (baseline and decline reference)


@dataclass(frozen=True, slots=True)
class Rules:
    """Thresholds of one level (province-wide or commune)."""

    windows: tuple[int, ...]  # rate-drop windows, hours
    drop_ratio: float  # a drop: observed <= drop_ratio * expected ...
    alpha: float  # ... and P(X <= observed) <= alpha under the expectation
    min_expected: float  # no test on a window expecting fewer events (small communes)
    day_shape: float  # gamma shape of a locality's day-to-day noise (variance mean**2/shape)
    hour_shape: float  # gamma shape of hour-to-hour noise (province level; inf: none)
    decline_window: int  # gradual decline: a long window ...
    decline_ratio: float  # ... whose ratio is at or below this ...
    decline_alpha: float  # ... with this significance
    share_windows: tuple[int, ...]  # cashless / online share regression windows, hours
    share_ratio: float  # observed share <= share_ratio * expected share ...
    share_z: float  # ... and z <= -share_z
    share_min_trials: int  # payments needed in the window to judge a share
    # A share with nothing of its own to go by (a round's first in the log) is judged against
    # its peers' (the parent's other children, same window): only where peers are alike.
    share_peers: bool
    batch_window: int  # missing batch: bank-account payments in this window ...
    batch_ratio: float  # ... at or below this fraction of the expected
    close_window: int  # hysteresis: closes when this window's ratio ...
    close_ratio: float  # ... is back at or above this ...
    close_hours: int  # ... at this many consecutive evaluations
    severity: str
    every: int = 1  # hours between two evaluations


PROVINCE: Final = Rules(
    windows=(1, 3, 6, 24, 72),
    drop_ratio=0.4,
    alpha=1e-7,
    min_expected=20.0,
    day_shape=60.0,
    hour_shape=20.0,
    decline_window=72,
    decline_ratio=0.65,
    decline_alpha=1e-7,
    share_windows=(6, 24, 72),
    share_ratio=0.75,
    share_z=6.0,
    share_min_trials=100,
    share_peers=True,
    batch_window=24,
    batch_ratio=0.15,
    close_window=6,
    close_ratio=0.75,
    close_hours=2,
    severity=CRITICAL,
)
# Welfare at province level: each province's bank transfers land at its own hour, so a province
# is compared with the nation over whole local days only, judged when a day closes.
PROVINCE_DAILY: Final = replace(
    PROVINCE,
    windows=(24, 72),
    hour_shape=float("inf"),
    share_windows=(24, 72),
    close_window=24,
    close_hours=1,
    every=24,
)
COMMUNE: Final = Rules(
    windows=(6, 24, 48, 72),
    drop_ratio=0.35,
    alpha=1e-6,
    min_expected=8.0,
    day_shape=6.0,
    hour_shape=float("inf"),
    decline_window=72,
    decline_ratio=0.55,
    decline_alpha=1e-7,
    share_windows=(24, 72),
    share_ratio=0.7,
    share_z=5.0,
    share_min_trials=40,
    # Off: a commune's cashless share spreads about 0.6 in log-odds around its province's (seed
    # 44: a commune at -4.5 sd of its peers on a round with no regression), against 0.2 for a
    # province around the nation's; a first-round regression hides among the communes.
    share_peers=False,
    batch_window=24,
    batch_ratio=0.15,
    close_window=24,
    close_ratio=0.7,
    close_hours=3,
    severity=WARNING,
)


@dataclass(frozen=True, slots=True)
class OutageRules:
    """A feed (kind, source) silent everywhere: how much silence is an outage."""

    min_silence: float = 600.0  # seconds without an event before anything is judged
    min_expected: float = 30.0  # events the silence should have held (P(0) = e^-30)
    profile_days: int = 4  # recent days of the same class whose hour profile is the expectation
    profile_min_days: int = 1  # ... at least this many (a first weekend is enough, scaled by today)
    level_hours: int = 6  # hours before the silence that scale the expectation to today
    level_min_expected: float = 20.0  # expected events those hours must hold to scale it
    # A same-day feed is scaled by the hours just before its silence, back until they hold this
    # share of a day in its profile: the current rate, not the morning's bank batch.
    level_min_share: float = 0.1
    # ... and spread by its own profile once it has this many active days of the class (one odd
    # day, an outage in it, would set it), before that pooled with its kind's other sources.
    own_profile_days: int = 2
    check_every: float = 300.0  # seconds of event time between checks within an hour


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    province: Rules = PROVINCE
    province_daily: Rules = PROVINCE_DAILY
    commune: Rules = COMMUNE
    outage: OutageRules = field(default_factory=OutageRules)
    baseline_days: int = 28  # closed days a locality's share of its parent is learnt from
    baseline_lag_days: int = 2  # the newest closed days are not learnt from (a stall starting)
    baseline_min_days: int = 3  # fewer closed days learnt from: the locality is not judged yet
    decline_lag_days: int = 7  # the share a gradual decline is measured against: a week old
    decline_min_days: int = 7  # ... learnt over at least this many days
    # Peers judging a first-round share: at least this many with `share_min_trials` payments,
    # their spread (robust, in log-odds) taken no tighter than `peer_sd_floor`.
    peer_min: int = 8
    peer_sd_floor: float = 0.1
    # A component not learnt yet (a round's first in the log) expects the locality's part of
    # its roll (`rolls.Rolls`) in windows of at least `roll_window` hours (whole days: a
    # commune with few bank accounts gets little of the morning's bank batch, its cash later),
    # its uncertainty a gamma of shape `roll_shape` (a roll a third off).
    roll_window: int = 24
    roll_shape: float = 9.0
    burst_cap: float = 2.5  # days above this multiple of the median share (campaigns) are left out
    allowed_lateness: float = 900.0  # seconds an hour waits for late events before it is judged
    same_day_outage_kinds: tuple[str, ...] = ("welfare.disbursement",)  # no day-level forecast
    # Kinds judged with `province_daily` at province level (batches land at provincial hours).
    daily_province_kinds: tuple[str, ...] = ("welfare.disbursement",)
    # Kinds whose counts follow rolls, not moods: every beneficiary is paid once per round, so a
    # locality's day is no busier or quieter than its share (no day-to-day noise beyond Poisson).
    steady_kinds: tuple[str, ...] = ("welfare.disbursement",)
    # Kinds paid on schedules that may differ between localities (a province's allowance day,
    # a commune's post-office days): a locality's part of its parent's round is then stable over
    # the round, not within a window of it. Before a rate drop or missing batch is raised, its
    # variance is taken at least as wide as the siblings' scatter around their own shares in
    # the same window (`detector._Siblings`): no wider where they keep to them, as on a
    # national schedule. A scenario written without our simulator (benchmarks/
    # foreign_scenario.py), with local payment days, raised 1,150 false welfare alerts without.
    timing_kinds: tuple[str, ...] = ("welfare.disbursement",)
    timing_min_siblings: int = 5  # fewer siblings expect anything there: not judged
    # a share is not judged in a window without transfers when the programme's came within this
    # many closed days: they were early, not missing
    timing_recent_days: int = 7
    # a round paid in cash with none of its bank transfers in this many days (today included)
    # is a missing batch: longer than a round lasts (a pension's cash over ten post-office days
    # after its transfers, more around Tết), shorter than a month (the previous round's).
    timing_round_days: int = 21
    # ... judged on the round's first cash day: cash after this many closed days without
    timing_round_gap_days: int = 7
    # ... unless more than this many siblings show the same that day: a schedule that pays cash
    # before transfers (a round squeezed before Tết), not a stall
    timing_cash_first_max: int = 1
    # ... so they are learnt from yesterday on (a round's first day teaches its second day), from
    # a single day: a steady stall is seen the day it starts, before it could be learnt.
    steady_lag_days: int = 0
    steady_min_days: int = 1
    steady_decline_min_days: int = 3
    # ... and over more days than the others: a round's bank transfers land on one or two days a
    # month, 28 to 32 days after the previous round's (36 to 49 around Tết). Learnt over 28 days,
    # the previous round had nearly always just left the baseline when the next one landed: the
    # bank share was unknown on the bank days, so neither a missing batch (but by the first-round
    # rule) nor a cashless regression could be judged against it. The daily ring holds
    # `DAY_RING` days: at most `DAY_RING - 1` closed ones.
    steady_baseline_days: int = DAY_RING - 1
    # Kinds with campaign bursts (community teams): a parent is judged without its bursting
    # children's excess, so their siblings do not look stalled next to them.
    burst_kinds: tuple[str, ...] = ("identity.activation",)
    # ... and a commune of theirs is judged once its share is learnt over a week of days that
    # were no campaign: learnt over three days that were all a campaign, the campaign's end
    # looked like a stall (2 false alerts in the first week of a log, seed 61 from 2026-01-26).
    burst_min_days: int = 7
