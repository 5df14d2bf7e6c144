"""A "foreign" synthetic scenario: an event log with injected stalls, written independently.

    python -m benchmarks.foreign_scenario --start 2025-11-03 --days 28 --seed 501 \\
        --out var/foreign/s501.jsonl.gz --truth var/foreign/s501.truth.json [--scale 1.0]

This generator was written from the contract (event format) and the domain notes only, the way
a team that has never seen the project's own simulator or detector would write one. It produces
its own calendar, its own commune figures, its own noise and its own stalls and outages, and a
ground-truth file listing every injected episode with the number of events it removed or moved.
All randomness comes from ``--seed``: the same arguments give the same bytes.

Modelling choices (all ours)
----------------------------
Localities. The 34 provinces and 3,321 communes of ``schemas.localities``. Commune sizes start
from ``reference`` and are perturbed: each commune's population is multiplied by a lognormal
factor (sigma 0.5) and the province is rescaled to its reference population times a lognormal
factor (sigma 0.08). Pensioners and social-allowance beneficiaries follow the commune's size
with their own lognormal factors (0.2, 0.3; allowances weigh more in rural communes). "Phường"
are urban, "Xã" rural, "Đặc khu" special zones (treated as rural). Each province draws its own
pension cashless share (0.22-0.55), allowance cashless share (0.60-0.92), online share of service
payments (0.42-0.72) and day of month for allowance transfers (6th-13th); each commune deviates
on the logit scale (urban communes are more digital) and gets its own post-office cash days.

Volumes at ``--scale 1`` (a 28-day log holds about 4.5 million events):
- ``payment.qr``: 105,000 a day nationally (reality is a few hundred times more; scaled down),
  weighted by size, urban x1.8 / rural x0.8, a commune factor (lognormal 0.35) and a province
  factor (lognormal 0.25). Sources ``napas`` (60 %), ``vcb_qr`` and ``agri_qr`` (the latter
  stronger in rural communes). Payer unknown (null ``payer_ref``) for 35 %.
- ``identity.activation``: 9,000 level-2 activations a working day at police offices (source
  ``c06_dancu``, office hours, a quarter on Saturday mornings) plus 5,000 app activations a day
  (source ``vneid``, 85 % level 1), weighted by the commune's eligible adults who are not yet
  covered (coverage from the reference province figure, perturbed per commune), a commune factor
  (lognormal 0.3) and a province factor (lognormal 0.2). Community-team
  campaign bursts: about 7 % of communes per 28 days get 2-5 days at x1.8-x3.5.
- ``service.payment``: 24,000 a working day, online (``dvcqg`` 70 %, ``dvc_tinh`` 30 %) or at
  the counter (``motcua``) by the commune's online share; online payments continue at 20-30 % on
  weekends, counters open only on working days and Saturday mornings (12 %).
- ``welfare.disbursement``: one payment per beneficiary and monthly round, for 12 % of the
  reference pensioners and allowance beneficiaries (about 575,000 a round).

Calendar. Vietnam's public holidays from ``holidays`` (country VN). The Tết closure is the run of
holidays and weekends around the day named "Lunar New Year" (2026: 14-22 February): offices are
shut (activations at police offices 0, app activations x0.15, online payments x0.06), QR falls
to x0.45 for the first four days of the year and x0.75 for the next four, and rises over the
two weeks before Tết (up to x1.75 two days before, x1.2 on New Year's Eve). The two working
days before the closure run at x0.7 and the first three after it at x0.6 for offices.
Weekends: QR x1.08 (Sat) / x1.12 (Sun), app activations x0.6. Hour-of-day profiles (local time
+07:00): QR peaks at morning market hours and in the evening; offices 07:00-11:30 and
13:30-17:00; apps all day with an evening peak; bank transfers land in a morning batch
(04:00-12:00).

Welfare cycle. Pensions: bank transfers on the first working day from the 2nd of the month
(70 %) and the next working day (30 %); cash at the post office over 3 working days starting
0-5 working days after the transfer day (weights 0.5/0.3/0.2, per commune). Social allowances:
bank transfers on the province's day (6th-13th, next working day), cash over 2 working days
starting 1-3 working days after it. Before Tết: a round whose transfer day falls in the closure
or in the week after it is paid from the 6th working day before the closure, and a round that
would still run into the closure is compressed to end on the last working day before it.
Sources: ``vss`` (pension transfers), ``sonv_ck`` (allowance transfers), ``vnpost`` (cash).

Noise. Counts are Poisson given a rate, and the rate of each commune, kind and day carries
(1) a gamma factor with mean 1 (shape 5 for activations, 30 for QR, 10 for service payments:
together with the Poisson draw this makes the daily count negative binomial), (2) a commune
AR(1) lognormal factor (sigma 0.25 / 0.12 / 0.18, rho 0.5-0.7), (3) a province-day AR(1) factor
and (4) a national-day factor. The online and counter streams get their own small factor, so the
online share wobbles from day to day; the cashless share of welfare wobbles per commune and
round (logit sigma 0.1). A source that knows only the province sends a null ``ward_code``:
3 % of ``napas``, 1.5 % of ``vneid``, 2.5 % of ``dvcqg`` and 1 % of ``sonv_ck`` events.

Injected episodes (about 14 per 28 days, never in the first 7 days of the log)
-----------------------------------------------------------------------------
``activation_stall`` (a commune's activations keep 0-25 % for 3-8 days), ``rate_drop`` (a
province's activations, QR or service payments keep 25-60 % for 1-4 days), ``commune_drop``
(a commune's QR or service payments keep 0-35 % for 2-6 days), ``missing_batch`` (a province's
or commune's bank transfers of one welfare round never arrive), ``cashless_regression`` (50-90 %
of a round's bank transfers become post-office cash payments over the commune's cash days:
volume holds), ``online_regression`` (50-90 % of online service payments of a commune or
province move to the counter on working days for 4-9 days: volume holds), ``gradual_decline``
(a commune or province falls linearly to 15-45 % over 60 % of a 6-12 day window and stays
there) and ``feed_outage`` (one source of a kind silent nationwide for 2-8 busy hours).
Removals are drawn event by event (binomial thinning) with a random stream of their own, so a
run without episodes has exactly the same baseline counts; ``effect`` in the truth file is the
number of events removed or moved, counted as they are generated.

Observability rule: an episode is kept only if a careful monitor could know it from the log.
From the model's expected rates (never from the drawn counts) we compute, for the affected
events in the episode's window, the expected count ``mu`` without the episode, its variance
under the noise model above (Poisson + gamma + correlated commune, province and national
factors) and the expected count ``mu_e`` with it. Then:
- count episodes: the expected loss ``mu - mu_e`` is at least 25 events and the probability,
  under a negative binomial with that mean and variance, of seeing ``mu_e`` events or fewer
  without any episode is at most 1e-5;
- a commune count or online-share episode needs a commune whose ordinary active day (a working
  day for activations and service payments, any day for QR) holds at least 8 expected events of
  that kind: a quiet day in a small commune is noise, not a stall;
- share regressions: at least 25 events moved, a share shift of at least 0.10 and at least
  4.5 standard deviations of the share's noise (binomial plus day-to-day or round-to-round);
- missing batches: at least 25 expected bank transfers in the batch;
- feed outages: at least 150 expected events of the source lost, and every hour of the window
  at half or more of the source's peak hourly profile (no night hours, no office source on a
  day its offices are shut);
- no activation, service or welfare episode, and no gradual decline, within a day of the Tết
  closure (short QR drops and QR outages may fall in it: QR still flows then); no two episodes
  of one kind overlapping (with a day's margin) on intersecting localities, so that every
  removed event belongs to exactly one episode.
A candidate that fails is redrawn (another place or time); a signal that cannot be placed in
300 tries gives way to another signal.

Truth file: ``{"days", "start", "seed", "scale", "generator", "events": {kind: count},
"episodes": [{"kind", "province_code", "ward_code", "signal", "start", "end", "effect",
"detail"}]}``; ``province_code`` null is a nationwide feed outage, ``ward_code`` null a whole
province; ``start``/``end`` are RFC 3339 in +07:00, ``end`` exclusive; ``detail`` holds the
episode's parameters (``keep``, ``move``, ``source``, ``round``, ``ramp_hours``). Extra options:
``--no-episodes`` writes the same log without any episode (a baseline with identical counts
elsewhere), ``--compresslevel`` sets the gzip level (default 4).
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import hmac
import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Final, get_args

import holidays
import orjson

from reference import load_reference
from schemas.events import MerchantCategory
from schemas.localities import all_wards

# --- constants ----------------------------------------------------------------------------------

ACT: Final = "identity.activation"
QR: Final = "payment.qr"
WEL: Final = "welfare.disbursement"
SVC: Final = "service.payment"
KINDS: Final = (ACT, QR, WEL, SVC)

TZ: Final = timezone(timedelta(hours=7))
DAY_S: Final = 86_400
LEARN_DAYS: Final = 7  # no episode in the first week: a monitor must learn first

QR_PER_DAY: Final = 105_000.0
ACT_OFFICE_PER_DAY: Final = 9_000.0
ACT_APP_PER_DAY: Final = 5_000.0
SVC_PER_DAY: Final = 24_000.0
WELFARE_FRACTION: Final = 0.12
EPISODES_PER_28_DAYS: Final = 14

PENSION: Final = "pension"
ALLOWANCE: Final = "social_allowance"
BANK: Final = "bank_account"
CASH: Final = "cash"

# Hour-of-day weights, local time. Normalised below.
_QR_H = (0.25, 0.12, 0.08, 0.08, 0.15, 0.6, 1.8, 2.8, 2.6, 2.0, 1.9, 2.5,
         2.7, 1.9, 1.5, 1.6, 1.9, 2.7, 3.3, 3.5, 3.1, 2.3, 1.3, 0.6)  # fmt: skip
_OFFICE_H = (0, 0, 0, 0, 0, 0, 0, 1.0, 2.4, 2.7, 2.5, 1.4,
             0.2, 0.6, 2.0, 2.3, 2.0, 0.7, 0, 0, 0, 0, 0, 0)  # fmt: skip
_SAT_OFFICE_H = (0, 0, 0, 0, 0, 0, 0, 1.2, 2.4, 2.6, 2.0, 0.8,
                 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)  # fmt: skip
_APP_H = (0.25, 0.1, 0.05, 0.05, 0.1, 0.35, 0.9, 1.5, 1.9, 2.0, 2.0, 1.8,
          1.3, 1.4, 1.7, 1.8, 1.6, 1.4, 1.5, 1.9, 2.2, 2.0, 1.3, 0.6)  # fmt: skip
_ONLINE_H = (0.1, 0.05, 0.02, 0.02, 0.05, 0.2, 0.6, 1.6, 2.6, 2.8, 2.6, 1.8,
             0.9, 1.3, 2.4, 2.6, 2.3, 1.4, 1.0, 1.1, 1.2, 1.0, 0.6, 0.25)  # fmt: skip
_BANK_H = (0, 0, 0, 0, 0.3, 1.5, 3.5, 4.5, 3.8, 2.4, 1.4, 0.9,
           0.5, 0.5, 0.4, 0.3, 0.2, 0.1, 0, 0, 0, 0, 0, 0)  # fmt: skip


def _norm(weights: Sequence[float]) -> tuple[float, ...]:
    total = sum(weights)
    return tuple(w / total for w in weights)


QR_PROFILE: Final = _norm(_QR_H)
OFFICE_PROFILE: Final = _norm(_OFFICE_H)
SAT_OFFICE_PROFILE: Final = _norm(_SAT_OFFICE_H)
APP_PROFILE: Final = _norm(_APP_H)
ONLINE_PROFILE: Final = _norm(_ONLINE_H)
BANK_PROFILE: Final = _norm(_BANK_H)


def _cum(profile: Sequence[float]) -> tuple[float, ...]:
    out, acc = [], 0.0
    for w in profile:
        acc += w
        out.append(acc)
    return tuple(out)


_HOURS: Final = tuple(range(24))
_CUM: Final = {
    id(p): _cum(p)
    for p in (QR_PROFILE, OFFICE_PROFILE, SAT_OFFICE_PROFILE, APP_PROFILE, ONLINE_PROFILE)
}
_CUM_BANK: Final = _cum(BANK_PROFILE)
_CUM_OFFICE: Final = _cum(OFFICE_PROFILE)
_CLOCK: Final = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(DAY_S))


@dataclass(frozen=True)
class NoiseParams:
    """Day-to-day variation of one kind's rate (see the module docstring)."""

    shape: float  # gamma factor shape (mean 1, variance 1/shape)
    commune_sigma: float  # commune AR(1) lognormal factor
    commune_rho: float
    province_sigma: float
    province_rho: float
    national_sigma: float
    stream_sigma: float  # each stream's own small factor


NOISE: Final = {
    ACT: NoiseParams(5.0, 0.25, 0.5, 0.08, 0.5, 0.05, 0.10),
    QR: NoiseParams(30.0, 0.12, 0.7, 0.05, 0.6, 0.03, 0.0),
    SVC: NoiseParams(10.0, 0.18, 0.5, 0.07, 0.5, 0.05, 0.12),
}

# A stream: (kind, name). Streams of one kind share its day-level noise.
STREAMS: Final = (
    (QR, "qr"),
    (ACT, "act_office"),
    (ACT, "act_app"),
    (SVC, "svc_online"),
    (SVC, "svc_counter"),
)
STREAMS_OF: Final = {
    QR: ("qr",),
    ACT: ("act_office", "act_app"),
    SVC: ("svc_online", "svc_counter"),
}

QR_SOURCES: Final = ("napas", "vcb_qr", "agri_qr")
NULL_WARD_SHARE: Final = {"napas": 0.03, "vneid": 0.015, "dvcqg": 0.025, "sonv_ck": 0.01}

_CATEGORIES: Final = get_args(MerchantCategory)  # the contract's, in its order
_CAT_MEDIAN: Final = (60e3, 150e3, 55e3, 400e3, 250e3, 1.2e6, 40e3, 120e3, 200e3)
_CAT_SIGMA: Final = (0.7, 0.9, 0.6, 0.7, 0.9, 0.8, 0.7, 0.8, 1.0)
_CAT_CUM_URBAN: Final = _cum(_norm((0.12, 0.25, 0.28, 0.08, 0.04, 0.03, 0.08, 0.02, 0.10)))
_CAT_CUM_RURAL: Final = _cum(_norm((0.30, 0.20, 0.20, 0.08, 0.04, 0.03, 0.04, 0.03, 0.08)))
_CAT_IDX: Final = tuple(range(len(_CATEGORIES)))

# Public-service procedures: (code, fee in VND); a fee of 0 is a free procedure.
_SERVICES: Final = (
    ("1.001612", 0),
    ("1.004227", 20_000),
    ("1.000894", 50_000),
    ("1.001193", 0),
    ("2.000748", 100_000),
    ("1.003596", 30_000),
    ("1.010819", 15_000),
    ("2.001023", 200_000),
    ("1.000775", 0),
    ("1.008901", 500_000),
    ("2.000986", 25_000),
    ("1.005461", 10_000),
    ("1.012087", 150_000),
    ("2.002155", 300_000),
    ("1.002252", 0),
    ("1.009972", 50_000),
)
_ALLOWANCE_LEVELS: Final = (500_000, 750_000, 1_000_000, 1_250_000, 1_500_000)
_ALLOWANCE_CUM: Final = _cum(_norm((5, 3, 2, 1, 1)))


# --- small random helpers -----------------------------------------------------------------------


# Our own, like everything here: this module imports nothing of the project's simulator.
def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0.0:
        return 0
    if lam < 30.0:
        limit, k, p = math.exp(-lam), 0, rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, int(rng.gauss(lam, math.sqrt(lam)) + 0.5))


def _binomial(rng: random.Random, n: int, p: float) -> int:
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if n < 60:
        rnd = rng.random
        return sum(1 for _ in range(n) if rnd() < p)
    sd = math.sqrt(n * p * (1.0 - p))
    return min(n, max(0, int(rng.gauss(n * p, sd) + 0.5)))


def _lognormal_factor(rng: random.Random, sigma: float) -> float:
    """A lognormal factor with mean 1."""
    return math.exp(rng.gauss(-0.5 * sigma * sigma, sigma)) if sigma > 0 else 1.0


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1.0 - p))


def _split(rng: random.Random, n: int, weights: Sequence[float]) -> list[int]:
    """Multinomial split of ``n`` by ``weights`` (sum 1)."""
    out, left, rest = [], n, 1.0
    for w in weights[:-1]:
        k = _binomial(rng, left, w / rest if rest > 0 else 0.0)
        out.append(k)
        left -= k
        rest -= w
    out.append(left)
    return out


def _lower_tail(x: float, mu: float, var: float) -> float:
    """P(X <= x) for a count X with mean ``mu`` and variance ``var`` (negative binomial,
    or Poisson when not overdispersed). Returns 1.0 when x is obviously not in the tail."""
    if x < 0:
        return 0.0
    if mu <= 0 or x >= mu:
        return 1.0
    if (mu - x) / math.sqrt(max(var, mu)) < 1.0:
        return 1.0  # within a standard deviation: not in the tail at all
    k = math.floor(x)
    if var <= mu * 1.000001:
        log_p = -mu + k * math.log(mu) - math.lgamma(k + 1)

        def ratio(j: int) -> float:  # p(j-1)/p(j)
            return j / mu
    else:
        r = mu * mu / (var - mu)
        q = mu / (mu + r)
        log_p = (
            math.lgamma(k + r)
            - math.lgamma(r)
            - math.lgamma(k + 1)
            + r * math.log1p(-q)
            + k * math.log(q)
        )

        def ratio(j: int) -> float:
            return j / ((j - 1 + r) * q)

    term = math.exp(log_p) if log_p > -700 else 0.0
    total = term
    j = k
    while j > 0 and term > 1e-18 * max(total, 1e-300):
        term *= ratio(j)
        total += term
        j -= 1
    return min(1.0, total)


# --- calendar -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayFactors:
    """Calendar multipliers of one day (1.0 = an ordinary working day)."""

    qr: float
    act_office: float
    act_app: float
    svc_online: float
    svc_counter: float
    office: bool  # offices open all day
    saturday_office: bool  # offices open in the morning only
    tet: bool  # inside the Tết closure


class Calendar:
    """Working days, public holidays and Tết closures around the log's period."""

    def __init__(self, start: date, days: int) -> None:
        self.start = start
        self.days = days
        lo = start - timedelta(days=80)
        hi = start + timedelta(days=days + 80)
        self.holidays: dict[date, str] = dict(
            holidays.country_holidays(
                "VN", years=range(lo.year, hi.year + 1), language="en_US"
            ).items()
        )
        self.closures: list[tuple[date, date, date]] = []  # (first day, last day, Lunar New Year)
        for day, name in sorted(self.holidays.items()):
            if name == "Lunar New Year":
                first = last = day
                while self._off(first - timedelta(days=1)):
                    first -= timedelta(days=1)
                while self._off(last + timedelta(days=1)):
                    last += timedelta(days=1)
                self.closures.append((first, last, day))
        self.working: list[date] = []
        d = lo
        while d <= hi:
            if d.weekday() < 5 and d not in self.holidays and not self.in_closure(d):
                self.working.append(d)
            d += timedelta(days=1)
        self.factors = [self._factors(start + timedelta(days=i)) for i in range(days)]

    def _off(self, d: date) -> bool:
        return d.weekday() >= 5 or d in self.holidays

    def in_closure(self, d: date, margin: int = 0) -> bool:
        pad = timedelta(days=margin)
        return any(first - pad <= d <= last + pad for first, last, _ in self.closures)

    def is_working(self, d: date) -> bool:
        i = bisect.bisect_left(self.working, d)
        return i < len(self.working) and self.working[i] == d

    def shift_wd(self, d: date, k: int) -> date:
        """k >= 0: the k-th working day after the first working day on or after ``d``;
        k < 0: the |k|-th working day strictly before ``d``."""
        i = bisect.bisect_left(self.working, d) + k
        return self.working[min(max(i, 0), len(self.working) - 1)]

    def index(self, d: date) -> int:
        return (d - self.start).days

    def _factors(self, d: date) -> DayFactors:
        weekday = d.weekday()
        tet = self.in_closure(d)
        holiday = d in self.holidays
        office = weekday < 5 and not holiday and not tet
        saturday_office = weekday == 5 and not holiday and not tet
        qr = {5: 1.08, 6: 1.12}.get(weekday, 1.0) * (0.9 if holiday and not tet else 1.0)
        office_adj = 1.0
        for first, last, lny in self.closures:
            before = (lny - d).days
            if 2 <= before <= 15:
                qr *= 1.0 + 0.75 * (15 - before) / 13
            elif before == 1:
                qr *= 1.2
            elif -3 <= before <= 0:
                qr *= 0.45
            elif -7 <= before <= -4:
                qr *= 0.75
            if office:
                wd_before = sum(1 for w in self.working if d <= w < first)
                if d < first and wd_before <= 2:
                    office_adj = 0.7
                wd_after = sum(1 for w in self.working if last < w <= d)
                if d > last and wd_after <= 3:
                    office_adj = 0.6
        if tet:
            return DayFactors(qr, 0.0, 0.15, 0.06, 0.0, False, False, True)
        if office:
            return DayFactors(
                qr, office_adj, 1.0, 0.85 + 0.15 * office_adj, office_adj, True, False, False
            )
        if saturday_office:
            return DayFactors(qr, 0.25, 0.6, 0.3, 0.12, False, True, False)
        if holiday:
            return DayFactors(qr, 0.0, 0.5, 0.2, 0.0, False, False, False)
        return DayFactors(qr, 0.0, 0.6, 0.2, 0.0, False, False, False)  # Sunday


# --- the world: communes and their parameters ---------------------------------------------------


@dataclass
class Commune:
    idx: int
    code: str
    province: str
    urban: bool
    size: float
    eligible: float
    pensioners: float
    allowance: float
    act_w: float = 0.0  # share of national activations
    qr_w: float = 0.0
    svc_w: float = 0.0
    online: float = 0.5  # online share of service payments
    pension_cashless: float = 0.4
    allowance_cashless: float = 0.8
    cash_offset_pension: int = 0
    cash_offset_allowance: int = 1
    qr_source_cum: tuple[float, ...] = (0.6, 0.85, 1.0)


@dataclass(frozen=True)
class Province:
    code: str
    allowance_day: int  # day of month of the social-allowance transfers


class World:
    """Communes, their parameters, campaign bursts and day-level noise for one seed."""

    def __init__(self, cal: Calendar, seed: int, scale: float) -> None:
        self.cal = cal
        self.scale = scale
        days = cal.days
        rng = random.Random(f"foreign:{seed}:world")
        ref = load_reference()
        wards = dict(all_wards())
        self.provinces: dict[str, Province] = {}
        prov_params: dict[str, tuple[float, ...]] = {}
        for code in sorted(ref.provinces):
            p = ref.provinces[code]
            coverage = p.eid_l2_baseline / p.eligible_16plus if p.eligible_16plus else 1.0
            prov_params[code] = (
                _lognormal_factor(rng, 0.08),  # size
                rng.uniform(0.22, 0.55),  # pension cashless
                rng.uniform(0.60, 0.92),  # allowance cashless
                rng.uniform(0.42, 0.72),  # online share
                _lognormal_factor(rng, 0.25),  # QR intensity
                _lognormal_factor(rng, 0.20),  # activation intensity
                coverage,
            )
            self.provinces[code] = Province(code, rng.randint(6, 13))
        communes: list[Commune] = []
        for code in sorted(wards):
            f = ref.communes[code]
            size = f.population * _lognormal_factor(rng, 0.5)
            urban = f.name.startswith("Phường")
            pop = max(f.population, 1)
            communes.append(
                Commune(
                    idx=len(communes),
                    code=code,
                    province=wards[code],
                    urban=urban,
                    size=size,
                    eligible=f.eligible_16plus / pop,  # a ratio for now
                    pensioners=f.pensioners / pop * _lognormal_factor(rng, 0.2),
                    allowance=f.welfare_beneficiaries
                    / pop
                    * _lognormal_factor(rng, 0.3)
                    * (0.8 if urban else 1.3),
                )
            )
        self.communes = communes
        by_prov: dict[str, list[Commune]] = {}
        for c in communes:
            by_prov.setdefault(c.province, []).append(c)
        self.by_province = by_prov
        for code, members in by_prov.items():
            total = sum(c.size for c in members)
            target = ref.provinces[code].population * prov_params[code][0]
            for c in members:
                c.size = c.size * target / total if total > 0 else 0.0
                c.eligible *= c.size
                c.pensioners *= c.size
                c.allowance *= c.size
        for c in communes:
            (_, pension_cl, allowance_cl, online, qr_int, act_int, coverage) = prov_params[
                c.province
            ]
            cov = coverage * _lognormal_factor(rng, 0.1) * (1.05 if c.urban else 0.97)
            c.act_w = c.eligible * max(0.03, 1.0 - cov) * _lognormal_factor(rng, 0.3) * act_int
            c.qr_w = c.size * (1.8 if c.urban else 0.8) * _lognormal_factor(rng, 0.35) * qr_int
            c.svc_w = c.size * (1.3 if c.urban else 0.9) * _lognormal_factor(rng, 0.3)
            c.online = _logistic(_logit(online) + (0.6 if c.urban else 0.0) + rng.gauss(0, 0.4))
            c.pension_cashless = _logistic(
                _logit(pension_cl) + (0.7 if c.urban else -0.1) + rng.gauss(0, 0.4)
            )
            c.allowance_cashless = _logistic(
                _logit(allowance_cl) + (0.4 if c.urban else 0.0) + rng.gauss(0, 0.5)
            )
            c.cash_offset_pension = rng.randint(0, 5)
            c.cash_offset_allowance = rng.randint(1, 3)
            c.qr_source_cum = (0.6, 0.85, 1.0) if c.urban else (0.6, 0.72, 1.0)
        for attr in ("act_w", "qr_w", "svc_w"):
            total = sum(getattr(c, attr) for c in communes)
            for c in communes:
                setattr(c, attr, getattr(c, attr) / total)

        # Community-team campaign bursts (activations), a fixed part of the scenario.
        self.burst: dict[tuple[int, int], float] = {}
        p_burst = 0.07 * days / 28
        for c in communes:
            if rng.random() < p_burst:
                d0, length, mult = rng.randrange(days), rng.randint(2, 5), rng.uniform(1.8, 3.5)
                for d in range(d0, min(days, d0 + length)):
                    self.burst[(c.idx, d)] = mult

        # Day-level noise: gamma x commune AR(1) x province AR(1) x national, per kind.
        nrng = random.Random(f"foreign:{seed}:noise")
        self.noise: dict[str, list[list[float]]] = {}
        for kind, prm in NOISE.items():
            national = [_lognormal_factor(nrng, prm.national_sigma) for _ in range(days)]
            province: dict[str, list[float]] = {}
            for code in sorted(by_prov):
                province[code] = self._ar1(nrng, days, prm.province_sigma, prm.province_rho)
            rows = []
            for c in communes:
                ar = self._ar1(nrng, days, prm.commune_sigma, prm.commune_rho)
                pv = province[c.province]
                rows.append(
                    [
                        nrng.gammavariate(prm.shape, 1.0 / prm.shape) * ar[d] * pv[d] * national[d]
                        for d in range(days)
                    ]
                )
            self.noise[kind] = rows

    @staticmethod
    def _ar1(rng: random.Random, days: int, sigma: float, rho: float) -> list[float]:
        z = rng.gauss(0.0, sigma)
        out = []
        for _ in range(days):
            out.append(math.exp(z - 0.5 * sigma * sigma))
            z = rho * z + math.sqrt(1.0 - rho * rho) * rng.gauss(0.0, sigma)
        return out

    def mean(self, stream: str, c: Commune, d: int) -> float:
        """Expected events of one stream in one commune on day ``d`` (no noise)."""
        f = self.cal.factors[d]
        s = self.scale
        if stream == "qr":
            return QR_PER_DAY * s * c.qr_w * f.qr * (1.1 if (c.idx, d) in self.burst else 1.0)
        if stream == "act_office":
            return ACT_OFFICE_PER_DAY * s * c.act_w * f.act_office * self.burst.get((c.idx, d), 1)
        if stream == "act_app":
            return ACT_APP_PER_DAY * s * c.act_w * f.act_app * self.burst.get((c.idx, d), 1.0)
        if stream == "svc_online":
            return SVC_PER_DAY * s * c.svc_w * c.online * f.svc_online
        if stream == "svc_counter":
            return SVC_PER_DAY * s * c.svc_w * (1.0 - c.online) * f.svc_counter
        raise ValueError(stream)

    def kind_mean(self, kind: str, c: Commune, d: int) -> float:
        return sum(self.mean(s, c, d) for s in STREAMS_OF[kind])

    def profile(self, stream: str, d: int) -> tuple[float, ...]:
        f = self.cal.factors[d]
        if stream == "qr":
            return QR_PROFILE
        if stream in ("act_office", "svc_counter"):
            return SAT_OFFICE_PROFILE if f.saturday_office else OFFICE_PROFILE
        if stream == "act_app":
            return APP_PROFILE
        return ONLINE_PROFILE


# --- welfare rounds -----------------------------------------------------------------------------


@dataclass
class Round:
    """One monthly round of one programme: its days per commune (indexes into the log)."""

    key: str  # "pension:2025-11"
    program: str
    bank: dict[int, list[tuple[int, float]]] = field(default_factory=dict)  # commune -> days
    cash: dict[int, list[tuple[int, float]]] = field(default_factory=dict)


def _schedule(
    cal: Calendar, first_bank: date, bank_w: Sequence[float], offset: int, cash_w: Sequence[float]
) -> tuple[list[tuple[date, float]], list[tuple[date, float]]]:
    for first, last, _ in cal.closures:
        if first <= first_bank <= last + timedelta(days=7):
            first_bank = cal.shift_wd(first, -6)  # paid early, before Tết
    first_bank = cal.shift_wd(first_bank, 0)
    banks = [(cal.shift_wd(first_bank, i), w) for i, w in enumerate(bank_w)]
    cashes = [(cal.shift_wd(first_bank, offset + i), w) for i, w in enumerate(cash_w)]
    for first, _, _ in cal.closures:
        runs_into = any(d >= first for d, _ in banks + cashes)
        if banks[0][0] < first and runs_into:
            end = cal.shift_wd(first, -1)
            banks = [(min(d, end), w) for d, w in banks]
            n = len(cashes)
            cashes = [(cal.shift_wd(end, -(n - 1 - i)) if i < n - 1 else end, w)
                      for i, (_, w) in enumerate(cashes)]  # fmt: skip
    return banks, cashes


def build_rounds(world: World) -> list[Round]:
    cal = world.cal
    rounds: list[Round] = []
    y, m = cal.start.year, cal.start.month
    # from two months before the log to one after (an advanced round may land inside)
    months = []
    for delta in range(-2, cal.days // 28 + 3):
        mm = m - 1 + delta
        months.append((y + mm // 12, mm % 12 + 1))
    for year, month in months:
        for program in (PENSION, ALLOWANCE):
            rnd = Round(f"{program}:{year}-{month:02d}", program)
            for c in world.communes:
                if program == PENSION:
                    banks, cashes = _schedule(
                        cal,
                        date(year, month, 2),
                        (0.7, 0.3),
                        c.cash_offset_pension,
                        (0.5, 0.3, 0.2),
                    )
                else:
                    day = world.provinces[c.province].allowance_day
                    banks, cashes = _schedule(
                        cal, date(year, month, day), (1.0,), c.cash_offset_allowance, (0.6, 0.4)
                    )
                rnd.bank[c.idx] = [(cal.index(d), w) for d, w in banks]
                rnd.cash[c.idx] = [(cal.index(d), w) for d, w in cashes]
            rounds.append(rnd)
    return rounds


@dataclass
class WelfareCell:
    commune: int
    program: str
    channel: str
    count: int
    round_key: str


def _round_expected(world: World, rnd: Round, c: Commune) -> tuple[float, float]:
    """Expected (bank, cash) payments of a commune in a round."""
    if rnd.program == PENSION:
        n, share = c.pensioners, c.pension_cashless
    else:
        n, share = c.allowance, c.allowance_cashless
    n *= world.scale * WELFARE_FRACTION
    return n * share, n * (1.0 - share)


def draw_welfare_plan(world: World, rounds: list[Round], seed: int) -> dict[int, list[WelfareCell]]:
    rng = random.Random(f"foreign:{seed}:welfare")
    plan: dict[int, list[WelfareCell]] = {d: [] for d in range(world.cal.days)}
    for rnd in rounds:
        for c in world.communes:
            bank_mu, cash_mu = _round_expected(world, rnd, c)
            n = _poisson(rng, bank_mu + cash_mu)
            share = bank_mu / (bank_mu + cash_mu) if bank_mu + cash_mu > 0 else 0.0
            share = _logistic(_logit(share) + rng.gauss(0.0, 0.1)) if 0 < share < 1 else share
            n_bank = _binomial(rng, n, share)
            for channel, total, days in (
                (BANK, n_bank, rnd.bank[c.idx]),
                (CASH, n - n_bank, rnd.cash[c.idx]),
            ):
                for (d, _), k in zip(days, _split(rng, total, [w for _, w in days]), strict=True):
                    if 0 <= d < world.cal.days and k > 0:
                        plan[d].append(WelfareCell(c.idx, rnd.program, channel, k, rnd.key))
    return plan


# --- episodes -----------------------------------------------------------------------------------

SIGNALS: Final = (
    "activation_stall",
    "rate_drop",
    "commune_drop",
    "missing_batch",
    "cashless_regression",
    "online_regression",
    "gradual_decline",
    "feed_outage",
)
_SIGNAL_WEIGHTS: Final = (3.0, 2.0, 2.0, 1.0, 1.0, 1.0, 2.0, 1.5)
_OUTAGE_SOURCES: Final = (
    (QR, "napas", 3.0),
    (QR, "vcb_qr", 1.0),
    (QR, "agri_qr", 1.0),
    (ACT, "vneid", 1.5),
    (ACT, "c06_dancu", 1.0),
    (SVC, "dvcqg", 1.5),
    (SVC, "motcua", 0.5),
)

_SOURCE_STREAM: Final = {  # source -> (stream, its approximate share of the stream)
    "napas": ("qr", 0.6),
    "vcb_qr": ("qr", 0.18),
    "agri_qr": ("qr", 0.22),
    "vneid": ("act_app", 1.0),
    "c06_dancu": ("act_office", 1.0),
    "dvcqg": ("svc_online", 0.7),
    "motcua": ("svc_counter", 1.0),
}


@dataclass
class Episode:
    """One injected episode. Times are seconds from the start of the log."""

    signal: str
    kind: str
    province: str | None  # None: nationwide
    ward: str | None  # None: the whole province (or nation)
    t0: int
    t1: int
    keep: float = 1.0  # fraction kept (the floor, for a gradual decline)
    ramp: int = 0  # gradual decline: seconds to reach the floor
    move: float = 0.0  # share regressions: probability that an event moves
    source: str | None = None  # feed outage
    round_key: str | None = None  # welfare episodes
    effect: int = 0

    def keep_at(self, t: float) -> float:
        if self.ramp <= 0:
            return self.keep
        return 1.0 - (1.0 - self.keep) * min(1.0, max(0.0, (t - self.t0) / self.ramp))

    def covers(self, c: Commune) -> bool:
        if self.province is None:
            return True
        return self.province == c.province and (self.ward is None or self.ward == c.code)

    def truth(self, start: date) -> dict[str, Any]:
        base = datetime(start.year, start.month, start.day, tzinfo=TZ)
        detail: dict[str, Any] = {}
        if self.signal in ("activation_stall", "rate_drop", "commune_drop", "gradual_decline"):
            detail["keep"] = round(self.keep, 3)
        if self.ramp:
            detail["ramp_hours"] = self.ramp // 3600
        if self.move:
            detail["move"] = round(self.move, 3)
        if self.source:
            detail["source"] = self.source
        if self.round_key:
            detail["round"] = self.round_key
        return {
            "kind": self.kind,
            "province_code": self.province,
            "ward_code": self.ward,
            "signal": self.signal,
            "start": (base + timedelta(seconds=self.t0)).isoformat(),
            "end": (base + timedelta(seconds=self.t1)).isoformat(),
            "effect": self.effect,
            "detail": detail,
        }


class EpisodeDrawer:
    """Draws episodes at random places and times and keeps only observable ones."""

    MAX_TRIES: Final = 300

    def __init__(self, world: World, rounds: list[Round], seed: int) -> None:
        self.world = world
        self.cal = world.cal
        self.rounds = rounds
        self.rng = random.Random(f"foreign:{seed}:episodes")
        self.days = world.cal.days
        self.provinces = sorted(world.by_province)
        self.rejected = 0

    # -- placement helpers --

    def _commune(self) -> Commune:
        members = self.world.by_province[self.rng.choice(self.provinces)]
        return self.rng.choice(members)

    def _days(self, lo: int, hi: int) -> tuple[int, int] | None:
        """A window of lo..hi whole days after the learning week, or None if it cannot fit."""
        length = self.rng.randint(lo, hi)
        if LEARN_DAYS + length > self.days:
            return None
        d0 = self.rng.randint(LEARN_DAYS, self.days - length)
        return d0, d0 + length

    def _locality(self, p_commune: float) -> tuple[str, str | None, list[Commune]]:
        if self.rng.random() < p_commune:
            c = self._commune()
            return c.province, c.code, [c]
        prov = self.rng.choice(self.provinces)
        return prov, None, self.world.by_province[prov]

    # -- observability --

    def _active_day_mean(self, kind: str, c: Commune) -> float:
        vals = []
        for d, f in enumerate(self.cal.factors):
            if kind == QR or f.office:
                vals.append(self.world.kind_mean(kind, c, d))
        return sum(vals) / len(vals) if vals else 0.0

    def _count_stats(
        self, kind: str, communes: list[Commune], d0: int, d1: int, ep: Episode
    ) -> tuple[float, float, float]:
        """(mu, var, mu_with_episode) of the kind's events in the communes over days d0..d1."""
        prm = NOISE[kind]
        days = range(d0, d1)
        mu = mu_e = var = 0.0
        totals = [0.0] * len(days)
        for c in communes:
            m = [self.world.kind_mean(kind, c, d) for d in days]
            for i, d in enumerate(days):
                mu += m[i]
                mu_e += m[i] * ep.keep_at(d * DAY_S + DAY_S / 2)
                totals[i] += m[i]
                var += m[i] * m[i] * (1.0 / prm.shape + prm.stream_sigma**2)
            var += prm.commune_sigma**2 * _ar_quad(m, prm.commune_rho)
        var += mu + prm.province_sigma**2 * _ar_quad(totals, prm.province_rho)
        var += prm.national_sigma**2 * sum(t * t for t in totals)
        return mu, var, mu_e

    def _observable_count(self, ep: Episode, communes: list[Commune]) -> bool:
        if ep.ward is not None and self._active_day_mean(ep.kind, communes[0]) < 8.0:
            return False
        d0, d1 = ep.t0 // DAY_S, -(-ep.t1 // DAY_S)
        mu, var, mu_e = self._count_stats(ep.kind, communes, d0, d1, ep)
        return mu - mu_e >= 25.0 and _lower_tail(mu_e, mu, var) <= 1e-5

    def _observable_share(self, n_tot: float, n_moved: float, share: float, tau: float) -> bool:
        if n_tot <= 0 or n_moved < 25.0:
            return False
        shift = n_moved / n_tot
        sd = math.sqrt(share * (1.0 - share) / n_tot + tau * tau)
        return shift >= 0.10 and shift >= 4.5 * sd

    # -- one candidate per signal --

    def _thinning(self, signal: str) -> Episode | None:
        rng = self.rng
        if signal == "activation_stall":
            kind, p_commune, span, keep = ACT, 1.0, (3, 8), rng.choice((0.0, rng.uniform(0, 0.25)))
        elif signal == "commune_drop":
            kind = rng.choice((QR, SVC))
            p_commune = 1.0
            span = (2, 5) if kind == QR else (3, 6)
            keep = rng.uniform(0.05, 0.35) if kind == QR else rng.uniform(0.0, 0.3)
        elif signal == "rate_drop":
            kind, p_commune = rng.choice((ACT, QR, SVC)), 0.0
            span = (1, 3) if kind == QR else (2, 4)
            keep = rng.uniform(0.25, 0.6)
        else:  # gradual_decline
            kind, p_commune, span = rng.choice((ACT, QR, SVC)), 0.6, (6, 12)
            keep = rng.uniform(0.15, 0.45)
        window = self._days(*span)
        if window is None:
            return None
        prov, ward, communes = self._locality(p_commune)
        ep = Episode(signal, kind, prov, ward, window[0] * DAY_S, window[1] * DAY_S, keep=keep)
        if signal == "gradual_decline":
            ep.ramp = int(0.6 * (ep.t1 - ep.t0)) // 3600 * 3600
        if (kind != QR or signal == "gradual_decline") and self._near_tet(window):
            return None
        return ep if self._observable_count(ep, communes) else None

    def _near_tet(self, window: tuple[int, int]) -> bool:
        return any(
            self.cal.in_closure(self.cal.start + timedelta(days=d), margin=1)
            for d in range(window[0], window[1])
        )

    def _online_regression(self) -> Episode | None:
        window = self._days(4, 9)
        if window is None or self._near_tet(window):
            return None
        prov, ward, communes = self._locality(0.6)
        move = self.rng.uniform(0.5, 0.9)
        n_on = n_tot = 0.0
        office_days = 0
        for d in range(*window):
            f = self.cal.factors[d]
            office_days += f.office
            for c in communes:
                on = self.world.mean("svc_online", c, d)
                n_tot += on + self.world.mean("svc_counter", c, d)
                if f.office:
                    n_on += on
        if office_days == 0 or n_tot <= 0:
            return None
        share = sum(self.world.mean("svc_online", c, d) for c in communes for d in range(*window))
        share /= n_tot
        tau = 0.17 * share * (1 - share) / math.sqrt(office_days * len(communes))
        if ward is not None and self._active_day_mean(SVC, communes[0]) < 8.0:
            return None
        if not self._observable_share(n_tot, n_on * move, share, tau):
            return None
        t0, t1 = window[0] * DAY_S, window[1] * DAY_S
        return Episode("online_regression", SVC, prov, ward, t0, t1, move=move)

    def _welfare(self, signal: str) -> Episode | None:
        rnd = self.rng.choice(self.rounds)
        prov, ward, communes = self._locality(0.5)
        days: set[int] = set()
        bank_mu = cash_mu = 0.0
        for c in communes:
            b, k = _round_expected(self.world, rnd, c)
            bank_mu += b
            cash_mu += k
            days.update(d for d, _ in rnd.bank[c.idx])
            if signal == "cashless_regression":
                days.update(d for d, _ in rnd.cash[c.idx])
        if not days or min(days) < LEARN_DAYS or max(days) >= self.days:
            return None
        window = (min(days), max(days) + 1)
        if self._near_tet(window):
            return None
        t0, t1 = window[0] * DAY_S, window[1] * DAY_S
        if signal == "missing_batch":
            if bank_mu < 25.0:
                return None
            return Episode(signal, WEL, prov, ward, t0, t1, keep=0.0, round_key=rnd.key)
        move = self.rng.uniform(0.5, 0.9)
        share = bank_mu / (bank_mu + cash_mu) if bank_mu + cash_mu else 0.0
        tau = 0.1 * share * (1 - share) / math.sqrt(len(communes))
        if not self._observable_share(bank_mu + cash_mu, bank_mu * move, share, tau):
            return None
        return Episode(signal, WEL, prov, ward, t0, t1, move=move, round_key=rnd.key)

    def _outage(self) -> Episode | None:
        rng = self.rng
        kind, source, _ = rng.choices(_OUTAGE_SOURCES, weights=[w for *_, w in _OUTAGE_SOURCES])[0]
        d = rng.randint(LEARN_DAYS, self.days - 1)
        f = self.cal.factors[d]
        if kind != QR and (self._near_tet((d, d + 1)) or not f.office):
            return None
        hours = rng.randint(2, 8)
        first = rng.randint(6, 22 - hours)
        stream, share = _SOURCE_STREAM[source]
        profile = self.world.profile(stream, d)
        peak = max(profile)
        if any(profile[h] < 0.5 * peak for h in range(first, first + hours)):
            return None
        frac = sum(profile[first : first + hours])
        lost = sum(self.world.mean(stream, c, d) for c in self.world.communes) * frac * share
        if lost < 150.0:
            return None
        t0 = d * DAY_S + first * 3600
        return Episode("feed_outage", kind, None, None, t0, t0 + hours * 3600, source=source)

    def _candidate(self, signal: str) -> Episode | None:
        if signal in ("activation_stall", "commune_drop", "rate_drop", "gradual_decline"):
            return self._thinning(signal)
        if signal == "online_regression":
            return self._online_regression()
        if signal in ("missing_batch", "cashless_regression"):
            return self._welfare(signal)
        return self._outage()

    @staticmethod
    def _conflict(a: Episode, b: Episode) -> bool:
        if a.kind != b.kind:
            return False
        if a.t0 >= b.t1 + DAY_S or b.t0 >= a.t1 + DAY_S:
            return False
        if a.province is None or b.province is None or a.province != b.province:
            return a.province is None or b.province is None
        return a.ward is None or b.ward is None or a.ward == b.ward

    def _place(self, signal: str, chosen: list[Episode]) -> Episode | None:
        for _ in range(self.MAX_TRIES):
            ep = self._candidate(signal)
            if ep is not None and not any(self._conflict(ep, o) for o in chosen):
                return ep
            self.rejected += 1
        return None

    def draw(self, count: int) -> list[Episode]:
        signals = list(SIGNALS) if count >= len(SIGNALS) else []
        while len(signals) < count:
            signals.append(self.rng.choices(SIGNALS, weights=_SIGNAL_WEIGHTS)[0])
        self.rng.shuffle(signals)
        chosen: list[Episode] = []
        for first in signals:
            signal = first
            for _ in range(4):  # a signal that cannot be placed gives way to another one
                ep = self._place(signal, chosen)
                if ep is not None:
                    chosen.append(ep)
                    break
                signal = self.rng.choices(SIGNALS, weights=_SIGNAL_WEIGHTS)[0]
        chosen.sort(key=lambda e: (e.t0, e.kind, e.province or "", e.ward or ""))
        return chosen


def _ar_quad(m: Sequence[float], rho: float) -> float:
    """sum_i sum_j m_i m_j rho^|i-j|: the variance weight of an AR(1) factor over days."""
    total = 0.0
    for i, a in enumerate(m):
        if a == 0:
            continue
        for j, b in enumerate(m):
            total += a * b * rho ** abs(i - j)
    return total


# --- writing the log ----------------------------------------------------------------------------


@contextmanager
def _log_writer(path: Path, level: int) -> Iterator[Callable[[list[str]], None]]:
    """A function writing lines to the log, plain or gzip (no name and no time in the gzip
    header: same seed, same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "wb") as raw,
        (
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=level, mtime=0)
            if path.name.endswith(".gz")
            else nullcontext(raw)
        ) as fh,
    ):

        def write(lines: list[str]) -> None:
            if lines:
                fh.write("\n".join(lines).encode())
                fh.write(b"\n")

        yield write


@dataclass
class Summary:
    events: dict[str, int]
    episodes: list[Episode]
    seconds: float
    rejected_candidates: int


class Generator:
    """Writes the log day by day, in time order, applying the episodes."""

    def __init__(
        self, start: date, days: int, seed: int, scale: float, episodes: list[Episode] | None
    ) -> None:
        self.start, self.days, self.seed, self.scale = start, days, seed, scale
        self.cal = Calendar(start, days)
        self.world = World(self.cal, seed, scale)
        self.rounds = build_rounds(self.world)
        self.plan = draw_welfare_plan(self.world, self.rounds, seed)
        self.drawer = EpisodeDrawer(self.world, self.rounds, seed)
        if episodes is None:
            n = round(EPISODES_PER_28_DAYS * max(0, days - LEARN_DAYS) / (28 - LEARN_DAYS))
            n = max(0, n + self.drawer.rng.choice((-1, 0, 0, 1))) if n else 0
            episodes = self.drawer.draw(n)
        self.episodes = episodes
        self.key = f"foreign-scenario-producer-key-{seed}".encode()
        self.counts = dict.fromkeys(KINDS, 0)
        self._apply_welfare_episodes()

    # -- welfare episodes act on the plan --

    def _apply_welfare_episodes(self) -> None:
        rng = random.Random(f"foreign:{self.seed}:fx:welfare")
        rounds = {r.key: r for r in self.rounds}
        for ep in self.episodes:
            if ep.kind != WEL or ep.round_key is None:
                continue
            rnd = rounds[ep.round_key]
            for d in sorted(self.plan):
                for cell in self.plan[d]:
                    c = self.world.communes[cell.commune]
                    if cell.round_key != ep.round_key or cell.channel != BANK or not ep.covers(c):
                        continue
                    if ep.signal == "missing_batch":
                        ep.effect += cell.count
                        cell.count = 0
                    else:  # cashless regression: bank transfers become cash over the cash days
                        moved = _binomial(rng, cell.count, ep.move)
                        if moved == 0:
                            continue
                        cell.count -= moved
                        ep.effect += moved
                        days = [(cd, w) for cd, w in rnd.cash[c.idx] if 0 <= cd < self.days]
                        if not days:
                            days = [(d, 1.0)]
                        total_w = sum(w for _, w in days)
                        split = _split(rng, moved, [w / total_w for _, w in days])
                        for (cd, _), k in zip(days, split, strict=True):
                            if k:
                                self.plan[cd].append(
                                    WelfareCell(c.idx, rnd.program, CASH, k, rnd.key)
                                )

    # -- content --

    def _uuid(self, rng: random.Random) -> str:
        x = rng.getrandbits(128)
        x = (x & ~(0xF << 76)) | (4 << 76)
        x = (x & ~(0x3 << 62)) | (0x2 << 62)
        h = f"{x:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def _ref(self, rng: random.Random, province: str) -> str:
        # A synthetic 12-digit CCCD: 0 + province, century/sex, birth year, serial; never written.
        cid = f"0{province}{rng.randint(0, 3)}{rng.randint(0, 99):02d}{rng.randint(0, 999999):06d}"
        return hmac.digest(self.key, cid.encode(), "sha256").hex()

    # -- the day loop --

    def run(self, out: Path, level: int = 4) -> Summary:
        t_start = time.perf_counter()
        with _log_writer(out, level) as write:
            for d in range(self.days):
                write(self._day(d))
        return Summary(
            self.counts, self.episodes, time.perf_counter() - t_start, self.drawer.rejected
        )

    def _day(self, d: int) -> list[str]:
        rc = random.Random(f"foreign:{self.seed}:{d}:count")
        rx = random.Random(f"foreign:{self.seed}:{d}:fx")
        rt = random.Random(f"foreign:{self.seed}:{d}:content")
        day_date = self.start + timedelta(days=d)
        prefix = day_date.isoformat() + "T"
        yymmdd = day_date.strftime("%y%m%d")
        t_day = d * DAY_S
        f = self.cal.factors[d]
        active = [
            e for e in self.episodes if e.kind != WEL and e.t0 < t_day + DAY_S and e.t1 > t_day
        ]
        records: list[tuple[int, str]] = []
        for c in self.world.communes:
            if c.size <= 0:
                continue
            for kind, stream in STREAMS:
                mean = self.world.mean(stream, c, d)
                if mean <= 0:
                    continue
                mean *= self.world.noise[kind][c.idx][d]
                sigma = NOISE[kind].stream_sigma
                if sigma:
                    mean *= _lognormal_factor(rc, sigma)
                n = _poisson(rc, mean)
                if n == 0:
                    continue
                profile = self.world.profile(stream, d)
                hours = rc.choices(_HOURS, cum_weights=_CUM[id(profile)], k=n)
                rnd = rc.random
                secs = [h * 3600 + int(rnd() * 3600) for h in hours]
                ep = next((e for e in active if e.kind == kind and e.covers(c)), None)
                self.counts[kind] += self._emit(
                    records, stream, c, secs, ep, rc, rx, rt, prefix, yymmdd, t_day, f.office
                )
        for cell in self.plan[d]:
            if cell.count > 0:
                c = self.world.communes[cell.commune]
                self.counts[WEL] += self._emit_welfare(records, cell, c, rc, rt, prefix)
        records.sort(key=_first)
        return [r for _, r in records]

    def _emit(
        self,
        records: list[tuple[int, str]],
        stream: str,
        c: Commune,
        secs: list[int],
        ep: Episode | None,
        rc: random.Random,
        rx: random.Random,
        rt: random.Random,
        prefix: str,
        yymmdd: str,
        t_day: int,
        office: bool,
    ) -> int:
        dumps = orjson.dumps
        rnd, rrnd = rc.random, rt.random
        prov, code = c.province, c.code
        written = 0
        for sec in secs:
            this_stream = stream
            # structural attributes (count stream): source, ward, level / channel
            if stream == "qr":
                u = rnd()
                cum = c.qr_source_cum
                source = "napas" if u < cum[0] else ("vcb_qr" if u < cum[1] else "agri_qr")
            elif stream == "act_office":
                source = "c06_dancu"
            elif stream == "act_app":
                source = "vneid"
            elif stream == "svc_online":
                source = "dvcqg" if rnd() < 0.7 else "dvc_tinh"
            else:
                source = "motcua"
            null_share = NULL_WARD_SHARE.get(source)
            ward = None if null_share is not None and rnd() < null_share else code
            # the episode (its own random stream)
            if ep is not None and ep.t0 <= t_day + sec < ep.t1:
                if ep.signal == "feed_outage":
                    if source == ep.source:
                        ep.effect += 1
                        continue
                elif ep.signal == "online_regression":
                    if stream == "svc_online" and office and rx.random() < ep.move:
                        ep.effect += 1  # the payer goes to the counter instead, in office hours
                        this_stream, source, ward = "svc_counter", "motcua", code
                        h = rx.choices(_HOURS, cum_weights=_CUM_OFFICE)[0]
                        sec = h * 3600 + int(rx.random() * 3600)
                elif rx.random() >= ep.keep_at(t_day + sec):
                    ep.effect += 1
                    continue
            if stream == "qr":
                cat = rt.choices(
                    _CAT_IDX, cum_weights=_CAT_CUM_URBAN if c.urban else _CAT_CUM_RURAL
                )[0]
                amount = rt.lognormvariate(math.log(_CAT_MEDIAN[cat]), _CAT_SIGMA[cat])
                obj: dict[str, Any] = {
                    "event_id": self._uuid(rt),
                    "kind": QR,
                    "occurred_at": f"{prefix}{_CLOCK[sec]}+07:00",
                    "province_code": prov,
                    "ward_code": ward,
                    "source": source,
                    "schema_version": 1,
                    "amount_vnd": max(1_000, int(amount / 1000 + 0.5) * 1000),
                    "merchant_category": _CATEGORIES[cat],
                    "payer_ref": None if rrnd() < 0.35 else self._ref(rt, prov),
                }
                line = dumps(obj).decode()
            elif stream in ("act_office", "act_app"):
                level = 2 if stream == "act_office" or rrnd() < 0.15 else 1
                obj = {
                    "event_id": self._uuid(rt),
                    "kind": ACT,
                    "occurred_at": f"{prefix}{_CLOCK[sec]}+07:00",
                    "province_code": prov,
                    "ward_code": ward,
                    "source": source,
                    "schema_version": 1,
                    "level": level,
                    "citizen_ref": self._ref(rt, prov),
                }
                line = dumps(obj).decode()
            else:
                line = self._service(dumps, rt, prefix, sec, c, ward, source, this_stream, yymmdd)
            records.append((sec, line))
            written += 1
        return written

    def _service(
        self,
        dumps: Callable[[Any], bytes],
        rt: random.Random,
        prefix: str,
        sec: int,
        c: Commune,
        ward: str | None,
        source: str,
        stream: str,
        yymmdd: str,
    ) -> str:
        code, fee = _SERVICES[int(rt.random() * len(_SERVICES))]
        return dumps(
            {
                "event_id": self._uuid(rt),
                "kind": SVC,
                "occurred_at": f"{prefix}{_CLOCK[sec]}+07:00",
                "province_code": c.province,
                "ward_code": ward,
                "source": source,
                "schema_version": 1,
                "channel": "online" if stream == "svc_online" else "counter",
                "amount_vnd": fee,
                "service_code": code,
                "dossier_ref": f"G{c.province}.{ward or 'T'}-{yymmdd}-{rt.randrange(100000):05d}",
            }
        ).decode()

    def _emit_welfare(
        self,
        records: list[tuple[int, str]],
        cell: WelfareCell,
        c: Commune,
        rc: random.Random,
        rt: random.Random,
        prefix: str,
    ) -> int:
        dumps = orjson.dumps
        bank = cell.channel == BANK
        cum = _CUM_BANK if bank else _CUM_OFFICE
        source = ("vss" if cell.program == PENSION else "sonv_ck") if bank else "vnpost"
        null_share = NULL_WARD_SHARE.get(source, 0.0)
        rnd = rc.random
        hours = rc.choices(_HOURS, cum_weights=cum, k=cell.count)
        for h in hours:
            sec = h * 3600 + int(rnd() * 3600)
            ward = None if null_share and rnd() < null_share else c.code
            if cell.program == PENSION:
                amount = int(rt.lognormvariate(math.log(5.2e6), 0.45) / 1000 + 0.5) * 1000
            else:
                level = rt.choices(_ALLOWANCE_LEVELS, cum_weights=_ALLOWANCE_CUM)[0]
                amount = level
            obj = {
                "event_id": self._uuid(rt),
                "kind": WEL,
                "occurred_at": f"{prefix}{_CLOCK[sec]}+07:00",
                "province_code": c.province,
                "ward_code": ward,
                "source": source,
                "schema_version": 1,
                "program": cell.program,
                "channel": cell.channel,
                "amount_vnd": max(1, amount),
                "beneficiary_ref": self._ref(rt, c.province),
            }
            records.append((sec, dumps(obj).decode()))
        return cell.count


def _first(record: tuple[int, str]) -> int:
    return record[0]


# --- API and CLI --------------------------------------------------------------------------------


def generate(
    start: date,
    days: int,
    seed: int,
    out: Path,
    truth: Path | None = None,
    scale: float = 1.0,
    episodes: list[Episode] | None = None,
    compresslevel: int = 4,
) -> Summary:
    """Write one scenario. ``episodes=None`` draws them from the seed; ``[]`` injects none."""
    if days < 1:
        raise ValueError("days must be at least 1")
    if datetime(start.year, start.month, start.day, tzinfo=TZ) + timedelta(days=days) > (
        datetime.now(TZ)
    ):
        raise ValueError("the log must lie in the past: events may not be in the future")
    gen = Generator(start, days, seed, scale, episodes)
    summary = gen.run(out, compresslevel)
    if truth is not None:
        truth.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "days": days,
            "start": datetime(start.year, start.month, start.day, tzinfo=TZ).isoformat(),
            "seed": seed,
            "scale": scale,
            "generator": "benchmarks.foreign_scenario",
            "events": summary.events,
            "episodes": [e.truth(start) for e in summary.episodes],
        }
        truth.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2) + b"\n")
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--start", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    parser.add_argument("--days", required=True, type=int)
    parser.add_argument("--seed", required=True, type=int)
    parser.add_argument("--out", required=True, type=Path, help="LOG.jsonl or LOG.jsonl.gz")
    parser.add_argument("--truth", required=True, type=Path, help="TRUTH.json")
    parser.add_argument("--scale", type=float, default=1.0, help="volume multiplier (1.0)")
    parser.add_argument("--no-episodes", action="store_true", help="inject nothing (a baseline)")
    parser.add_argument("--compresslevel", type=int, default=4, help="gzip level (4)")
    args = parser.parse_args(argv)
    try:
        summary = generate(
            args.start,
            args.days,
            args.seed,
            args.out,
            args.truth,
            args.scale,
            [] if args.no_episodes else None,
            args.compresslevel,
        )
    except ValueError as exc:
        parser.error(str(exc))
    total = sum(summary.events.values())
    print(
        f"{total:,} events ({', '.join(f'{k} {v:,}' for k, v in summary.events.items())}), "
        f"{len(summary.episodes)} episodes ({summary.rejected_candidates} candidates redrawn), "
        f"{summary.seconds:.1f} s",
        file=sys.stderr,
    )
    for ep in summary.episodes:
        t = ep.truth(args.start)
        print(
            f"  {t['start'][:16]} .. {t['end'][:16]}  {t['signal']:<20} {t['kind']:<21} "
            f"{t['province_code'] or '--'} {t['ward_code'] or '-----'}  effect {t['effect']:,}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
