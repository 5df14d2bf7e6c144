"""How much happens, where: volumes and shares, calibrated to the figures of the domain notes.

Anchors (seed article 000, Thanh Hóa, to end of March 2025):
- activations: +30,000 e-ID accounts in Q1 2025, i.e. ~330 a calendar day. The weekday rate is
  solved so that the expected Q1 2025 total (calendar, Tết and campaigns included) is 30,000.
- pensions paid to bank accounts 36.49 %, social allowances 84.3 %, service fees online 58.93 %.

Other provinces have no published shares: their logit is Thanh Hóa's shifted by how urban they
are (share of wards, phường, among their communes), ``URBAN_LOGIT`` per unit of urban share.
Within a province each commune draws once per seed a logit offset (urban or rural, plus normal
noise of sd ``COMMUNE_SPREAD``), re-centred so that the province's beneficiary-weighted mean is
exactly its share. Shares then rise slowly, ``TREND_LOGIT_PER_YEAR`` from ``ANCHOR``.

Volumes at ``scale=1``: activations as above, spread by each province's remaining gap to full
coverage (eligible - baseline); one welfare payment per beneficiary per month (reference data);
service payments ~1,800 a working day in Thanh Hóa (its 450,684 dossiers a year), per capita
elsewhere; QR payments ``QR_PER_CAPITA`` a day, a sample of the real volume (which is orders of
magnitude larger) sized so that QR stays the largest feed.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Final

ANCHOR: Final = date(2025, 3, 31)  # the date the Thanh Hóa figures describe
THANH_HOA: Final = "38"

TH_ACTIVATIONS_Q1_2025: Final = 30_000.0
TH_PENSION_BANK: Final = 59_991 / 164_382  # 36.49 %
TH_WELFARE_BANK: Final = 45_158 / 53_571  # 84.3 %
TH_SERVICE_ONLINE: Final = 265_588 / 450_684  # 58.93 %

URBAN_LOGIT: Final = 2.0  # logit shift per unit of urban share (wards / communes)
URBAN_COMMUNE_LOGIT: Final = 0.5  # a ward (phường) vs a rural commune, within a province
COMMUNE_SPREAD: Final = 0.55  # sd of a commune's logit offset, drawn once per seed
TREND_LOGIT_PER_YEAR: Final = 0.15  # slow adoption: ~ +3.5 points a year around 40 %
QR_GROWTH_PER_YEAR: Final = 0.12  # QR volume grows ~12 % a year

SERVICE_PER_CAPITA_WEEKDAY: Final = 1_800 / 4_324_783  # Thanh Hóa's ~450 k dossiers a year
QR_PER_CAPITA: Final = 0.0015  # a day; ~150 k a day nationally at scale 1 (a sample)
QR_WARD_FACTOR: Final = 1.6  # more QR per resident in urban wards
ACTIVITY_FLOOR: Final = 2_000  # people: every commune (even uninhabited zones) has a trickle

LEVEL2_SHARE: Final = 0.7  # activations verified at level 2 (in person)
PAYER_KNOWN: Final = 0.9  # QR payments with a payer_ref
PROVINCE_ONLY_RATE: Final = 0.003  # valid events whose source knows only the province

# Over-dispersion (gamma shapes; CV = 1/sqrt(shape)): a commune's day, a province's hour.
COMMUNE_DAY_SHAPE: Final = 6.0
PROVINCE_HOUR_SHAPE: Final = 20.0
COMMUNE_INTENSITY_SHAPE: Final = 4.0  # a commune's lasting activity level, drawn once per seed

# Campaign bursts of the community digital teams: extra activations, as weekday multiples.
CAMPAIGNS_PER_DAY: Final = 1 / 45  # per commune
CAMPAIGN_DAYS: Final = (1, 3)
CAMPAIGN_BOOST: Final = (2.0, 5.0)

MIN_GAP_SHARE: Final = 0.05  # activations never stop where coverage already exceeds 95 %

# Amounts (VND).
SOCIAL_ALLOWANCE_BASE: Final = 500_000  # monthly social-assistance standard (Decree 76/2024)
SOCIAL_ALLOWANCE_COEFFICIENTS: Final = (1.0, 1.0, 1.5, 1.5, 2.0, 2.5, 3.0)
PENSION_MEDIAN: Final = 5_500_000
PENSION_SIGMA: Final = 0.45
QR_AMOUNT: Final = {  # category: (weight, log-median VND, sigma)
    "market": (0.22, math.log(60_000), 0.8),
    "food": (0.25, math.log(45_000), 0.6),
    "retail": (0.2, math.log(150_000), 1.0),
    "utility": (0.08, math.log(400_000), 0.7),
    "transport": (0.08, math.log(40_000), 0.7),
    "healthcare": (0.05, math.log(250_000), 1.0),
    "education": (0.04, math.log(1_500_000), 0.8),
    "public_service": (0.03, math.log(100_000), 0.9),
    "other": (0.05, math.log(200_000), 1.1),
}
# Public-service procedures with a fee (code, fee VND; 0 = free): a small, plausible catalogue.
SERVICES: Final = (
    ("1.001757.000.00.00.H56", 0, 0.10),  # residence registration
    ("1.000894.000.00.00.H56", 50_000, 0.08),
    ("2.000908.000.00.00.H56", 15_000, 0.12),  # certified copies
    ("1.004227.000.00.00.H56", 100_000, 0.08),  # business household registration
    ("1.001193.000.00.00.H56", 8_000, 0.10),  # birth registration extract
    ("1.003005.000.00.00.H56", 500_000, 0.06),  # land-use certificate procedures
    ("1.002425.000.00.00.H56", 200_000, 0.07),
    ("2.001035.000.00.00.H56", 40_000, 0.09),
    ("1.010011.000.00.00.H56", 135_000, 0.08),  # driving licence renewal
    ("1.000121.000.00.00.H56", 30_000, 0.12),  # judicial record
    ("2.002154.000.00.00.H56", 1_200_000, 0.05),  # construction permit
    ("1.009994.000.00.00.H56", 20_000, 0.05),
)


def logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def logistic(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def years_since_anchor(day: date) -> float:
    return (day - ANCHOR).days / 365.25


def province_share(anchor_share: float, urban: float, urban_th: float) -> float:
    """A province's share at ``ANCHOR``: Thanh Hóa's, shifted by its urban share."""
    return logistic(logit(anchor_share) + URBAN_LOGIT * (urban - urban_th))


def centre(offsets: list[float], weights: list[float], target: float) -> float:
    """The shift ``d`` such that the weighted mean of logistic(offset + d) equals ``target``."""
    total = sum(weights)
    if total <= 0:
        return logit(target)
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        mean = sum(w * logistic(o + mid) for o, w in zip(offsets, weights, strict=True)) / total
        if mean < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
