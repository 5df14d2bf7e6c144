"""The country as one seed draws it: communes, their activity levels, shares and campaigns.

Everything here is drawn once per run, before the first day: each commune's lasting activity
level per stream, its logit offset for each share (re-centred on its province's share), the
daily bases of the rate streams, the hour each province's bank batches land, and the community
teams' campaign days.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from producers.simulator import calibration as cal
from producers.simulator.calendar import PENSION, SOCIAL_ALLOWANCE, VN_TZ, calendar_for
from producers.simulator.config import SimulationConfig
from producers.simulator.sampling import poisson
from reference.models import ReferenceData
from schemas.localities import all_wards, ward_name

# Streams: the rate streams first, then the bank and cash payments of each welfare programme.
S_ACT, S_QR, S_ONLINE, S_COUNTER, S_PEN_BANK, S_PEN_CASH, S_SA_BANK, S_SA_CASH = range(8)
RATE_STREAMS: Final = (S_ACT, S_QR, S_ONLINE, S_COUNTER)
SHARES: Final = ("pension_bank", "welfare_bank", "service_online")


class Country:
    """Communes (by index, in ward-code order) and what the seed drew for them."""

    def __init__(self, config: SimulationConfig, reference: ReferenceData) -> None:
        self.config = config
        self.reference = reference
        wards = sorted(all_wards().items())
        self.ward_codes = [w for w, _ in wards]
        self.ward_province = [p for _, p in wards]
        self.ward_index = {w: i for i, w in enumerate(self.ward_codes)}
        self.province_wards: dict[str, list[int]] = {}
        for i, p in enumerate(self.ward_province):
            self.province_wards.setdefault(p, []).append(i)
        self.urban = [(ward_name(w) or "").startswith("Phường") for w in self.ward_codes]
        # A commune's QR payers: a quarter of its residents (at least 50) pay by QR.
        self.payers = [max(50, reference.communes[w].population // 4) for w in self.ward_codes]
        self.expected_shares: dict[str, dict[str, float]] = {}
        self.campaign_truth: list[dict[str, Any]] = []
        rng = random.Random(f"{config.seed}:setup")
        intensity = self._intensity(rng)
        self.logit = self._shares(rng)
        self.base = self._bases(intensity)
        # Bank batches: the hour each province's transfers land, per programme.
        self.batch_hour = {
            (prog, p): rng.randint(6, 13)
            for prog in (PENSION, SOCIAL_ALLOWANCE)
            for p in sorted(self.province_wards)
        }
        self.campaigns = self._campaigns(rng)

    def share(self, key: str, i: int, years: float) -> float:
        """Commune ``i``'s share ``key`` (one of ``SHARES``), ``years`` after the anchor date."""
        return cal.logistic(self.logit[key][i] + cal.TREND_LOGIT_PER_YEAR * years)

    def roll(self, program: str, i: int) -> int:
        """Commune ``i``'s beneficiaries of ``program`` (reference figures, before the scale)."""
        figures = self.reference.communes[self.ward_codes[i]]
        return figures.pensioners if program == PENSION else figures.welfare_beneficiaries

    def bank_share(self, program: str, i: int, first_day: date) -> float:
        """Commune ``i``'s share of ``program``'s round starting ``first_day`` paid to accounts."""
        key = "pension_bank" if program == PENSION else "welfare_bank"
        return self.share(key, i, cal.years_since_anchor(first_day))

    # --- drawn once ------------------------------------------------------------------------

    def _intensity(self, rng: random.Random) -> dict[int, list[float]]:
        shape, n = cal.COMMUNE_INTENSITY_SHAPE, len(self.ward_codes)
        return {s: [rng.gammavariate(shape, 1 / shape) for _ in range(n)] for s in RATE_STREAMS}

    def _shares(self, rng: random.Random) -> dict[str, list[float]]:
        """Province shares at the anchor date, commune logits centred on them."""
        communes = [self.reference.communes[w] for w in self.ward_codes]
        n = len(communes)
        urban_share = {
            p: sum(self.urban[i] for i in idx) / len(idx) for p, idx in self.province_wards.items()
        }
        urban_th = urban_share[cal.THANH_HOA]
        anchors = dict(
            zip(
                SHARES,
                (cal.TH_PENSION_BANK, cal.TH_WELFARE_BANK, cal.TH_SERVICE_ONLINE),
                strict=True,
            )
        )
        weights_of = {
            "pension_bank": [c.pensioners for c in communes],
            "welfare_bank": [c.welfare_beneficiaries for c in communes],
            "service_online": [c.population for c in communes],
        }
        logit: dict[str, list[float]] = {k: [0.0] * n for k in anchors}
        for key, anchor in anchors.items():
            noise = [rng.gauss(0.0, cal.COMMUNE_SPREAD) for _ in range(n)]
            for p, idx in self.province_wards.items():
                target = cal.province_share(anchor, urban_share[p], urban_th)
                offsets = [
                    cal.URBAN_COMMUNE_LOGIT * (self.urban[i] - urban_share[p]) + noise[i]
                    for i in idx
                ]
                shift = cal.centre(offsets, [weights_of[key][i] for i in idx], target)
                for i, o in zip(idx, offsets, strict=True):
                    logit[key][i] = o + shift
        self.logit = logit
        years = cal.years_since_anchor(self.config.start)
        for p in sorted(self.province_wards):
            idx = self.province_wards[p]
            shares = {}
            for key in anchors:
                w = [weights_of[key][i] for i in idx]
                mean = sum(wi * self.share(key, i, years) for wi, i in zip(w, idx, strict=True))
                shares[key] = round(mean / (sum(w) or 1), 4)
            self.expected_shares[p] = shares
        return logit

    def _bases(self, intensity: dict[int, list[float]]) -> dict[int, list[float]]:
        """Each commune's events on an ordinary working day (QR: an ordinary weekday)."""
        ref, n = self.reference, len(self.ward_codes)
        people = [max(ref.communes[w].population, cal.ACTIVITY_FLOOR) for w in self.ward_codes]
        years = cal.years_since_anchor(self.config.start)
        base: dict[int, list[float]] = {s: [0.0] * n for s in RATE_STREAMS}
        gap = {
            p: max(cal.MIN_GAP_SHARE * f.eligible_16plus, f.eligible_16plus - f.eid_l2_baseline)
            for p, f in ref.provinces.items()
        }
        act_th = thanh_hoa_activation_weekday()
        for p, idx in self.province_wards.items():
            act_total = act_th * gap[p] / gap[cal.THANH_HOA]
            act = [people[i] * intensity[S_ACT][i] for i in idx]
            act_sum = sum(act) or 1.0
            for i, w in zip(idx, act, strict=True):
                base[S_ACT][i] = act_total * w / act_sum
            for i in idx:
                urban = cal.QR_WARD_FACTOR if self.urban[i] else 1.0
                base[S_QR][i] = cal.QR_PER_CAPITA * (people[i] * urban * intensity[S_QR][i])
            svc_week = cal.SERVICE_PER_CAPITA_WEEKDAY * 5 * ref.provinces[p].population
            svc = [people[i] * intensity[S_ONLINE][i] for i in idx]
            svc_total = sum(svc) or 1.0
            for i, weight in zip(idx, svc, strict=True):
                online = self.share("service_online", i, years)
                weekly = svc_week * weight / svc_total
                # An ordinary week: 5 working days, 2 weekend days at the calendar's factors.
                base[S_ONLINE][i] = weekly * online / (5 + 2 * 0.3)
                base[S_COUNTER][i] = weekly * (1 - online) / (5 + 2 * 0.03)
        scale = self.config.scale
        return {s: [b * scale for b in base[s]] for s in RATE_STREAMS}

    def _campaigns(self, rng: random.Random) -> dict[int, list[tuple[int, float]]]:
        """Campaign bursts of the community teams: day offset -> [(commune, boost)]."""
        cfg = self.config
        days, end = cfg.days, cfg.start + timedelta(days=cfg.days)
        campaigns: dict[int, list[tuple[int, float]]] = {}
        for i in range(len(self.ward_codes)):
            for _ in range(poisson(rng, days * cal.CAMPAIGNS_PER_DAY)):
                first = rng.randrange(days)
                length = rng.randint(*cal.CAMPAIGN_DAYS)
                boost = rng.uniform(*cal.CAMPAIGN_BOOST)
                for d in range(first, min(first + length, days)):
                    campaigns.setdefault(d, []).append((i, boost))
                day0 = cfg.start + timedelta(days=first)
                self.campaign_truth.append(
                    {
                        "province_code": self.ward_province[i],
                        "ward_code": self.ward_codes[i],
                        "start": _midnight(day0),
                        "end": _midnight(min(day0 + timedelta(days=length), end)),
                        "boost": round(boost, 2),
                    }
                )
        self.campaign_truth.sort(key=lambda c: (c["start"], c["ward_code"]))
        return campaigns


def _midnight(day: date) -> str:
    return datetime.combine(day, time(0), VN_TZ).isoformat()


def thanh_hoa_activation_weekday() -> float:
    """Thanh Hóa's activations on an ordinary working day, such that Q1 2025 sums to 30,000."""
    q1 = calendar_for(2025, 2025)
    office_days, open_days, day = 0.0, 0, date(2025, 1, 1)
    while day < date(2025, 4, 1):
        office_days += q1.office_factor(day)
        open_days += not (q1.in_tet(day) or q1.is_holiday(day))  # campaigns rest then
        day += timedelta(days=1)
    campaign_days = open_days * cal.CAMPAIGNS_PER_DAY * sum(cal.CAMPAIGN_DAYS) / 2
    boost = sum(cal.CAMPAIGN_BOOST) / 2
    return cal.TH_ACTIVATIONS_Q1_2025 / (office_days + campaign_days * boost)
