"""Three weeks of calibrated history for one province, ending now, with a commune stall.

The detector learns each commune's share over past days, so a stall test needs history; the
log ends at the moment it is written so that its feeds look fresh to Prometheus. The stall is
QR payments stopping in the province's largest commune for the last two days (the detector
finds it within a day). One province and two kinds keep it small: ~190 k lines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from producers.simulator import SimulationConfig
from producers.simulator.calendar import VN_TZ
from producers.simulator.engine import Simulator
from producers.simulator.scenario import parse_scenario
from reference import load_reference

PROVINCE = "38"  # Thanh Hóa
KINDS = ("payment.qr", "identity.activation")


@dataclass(frozen=True)
class History:
    path: Path
    lines: int
    end: float  # Unix seconds: no event after this
    ward: str  # the stalled commune
    ward_name: str


def write_history(path: Path, days: int = 21, seed: int = 5) -> History:
    ref = load_reference(use_env=False)
    communes = [c for c in ref.communes.values() if c.province == PROVINCE]
    stalled = max(communes, key=lambda c: c.population)
    end = time.time()
    today = datetime.fromtimestamp(end, VN_TZ).date()
    scenario = parse_scenario(
        "name: e2e-stall\n"
        "episodes:\n"
        "  - signal: qr_rate_drop\n"
        f'    province: "{PROVINCE}"\n'
        f'    ward: "{stalled.code}"\n'
        f"    start: {today - timedelta(days=2)}\n"
        f"    end: {today + timedelta(days=1)}\n"
        "    factor: 0.0\n"
    )
    config = SimulationConfig(
        start=today - timedelta(days=days - 1),
        days=days,
        seed=seed,
        provinces=(PROVINCE,),
        kinds=KINDS,
        scenario=scenario,
    )
    n = 0
    with path.open("wb") as out:
        for line in Simulator(config, ref).lines():
            # The simulator writes whole days: drop what would lie in the future.
            at = orjson.loads(line)["occurred_at"]
            if datetime.fromisoformat(at).timestamp() <= end:
                out.write(line + b"\n")
                n += 1
    return History(path, n, end, stalled.code, stalled.name)
