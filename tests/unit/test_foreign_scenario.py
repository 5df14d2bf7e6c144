"""The independent scenario generator (benchmarks/foreign_scenario.py) on tiny runs."""

from __future__ import annotations

import gzip
import hmac
import math
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from benchmarks import foreign_scenario as fs
from schemas.localities import all_provinces, all_wards
from schemas.privacy import hmac_ref
from schemas.validate import Rejection, parse_event

START = date(2025, 11, 3)  # a Monday; the November pension transfers land on 3 and 4 November
DAYS = 4
SCALE = 0.1
SEED = 11


def _lines(path: Path) -> list[bytes]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        return [line.rstrip(b"\n") for line in fh if line.strip()]


def _events(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in _lines(path)]


def _busiest_activation_commune() -> fs.Commune:
    world = fs.World(fs.Calendar(START, DAYS), SEED, SCALE)
    return max(world.communes, key=lambda c: c.act_w)


def _injected() -> list[fs.Episode]:
    commune = _busiest_activation_commune()
    return [
        fs.Episode(
            "activation_stall",
            fs.ACT,
            commune.province,
            commune.code,
            1 * 86_400,
            3 * 86_400,
            keep=0.0,
        ),
        fs.Episode(
            "missing_batch",
            fs.WEL,
            "38",
            None,
            0,
            2 * 86_400,
            keep=0.0,
            round_key="pension:2025-11",
        ),
    ]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("foreign")
    out: dict[str, Any] = {"dir": base}
    out["baseline"] = fs.generate(
        START, DAYS, SEED, base / "base.jsonl.gz", base / "base.json", SCALE, episodes=[]
    )
    out["injected"] = fs.generate(
        START, DAYS, SEED, base / "inj.jsonl.gz", base / "inj.json", SCALE, episodes=_injected()
    )
    return out


def test_every_line_is_a_valid_contract_event_in_time_order(runs: dict[str, Any]) -> None:
    lines = _lines(runs["dir"] / "base.jsonl.gz")
    assert len(lines) > 10_000
    stamps = []
    for raw in lines:
        parsed = parse_event(raw)
        assert not isinstance(parsed, Rejection), (parsed, raw)
        stamps.append(datetime.fromisoformat(orjson.loads(raw)["occurred_at"]))
    assert stamps == sorted(stamps)
    assert stamps[0] >= datetime(2025, 11, 3, tzinfo=fs.TZ)
    assert stamps[-1] < datetime(2025, 11, 3, tzinfo=fs.TZ) + timedelta(days=DAYS)
    events = [orjson.loads(raw) for raw in lines]
    assert {e["kind"] for e in events} == set(fs.KINDS)
    assert {e["province_code"] for e in events} == set(all_provinces())
    assert len({e["ward_code"] for e in events}) > 0.8 * len(all_wards())
    assert 0 < sum(e["ward_code"] is None for e in events) < 0.05 * len(events)
    assert len({e["event_id"] for e in events}) == len(events)


def test_refs_are_hmacs_as_the_contract_says() -> None:
    gen_key = b"k"
    assert hmac.digest(gen_key, b"038012345678", "sha256").hex() == hmac_ref("038012345678", b"k")


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> bytes:
        path = tmp_path / f"{name}.jsonl.gz"
        fs.generate(date(2025, 12, 20), 9, seed, path, tmp_path / f"{name}.json", 0.02)
        return path.read_bytes() + (tmp_path / f"{name}.json").read_bytes()

    first = run("a", 3)
    assert run("b", 3) == first
    assert run("c", 4) != first


def test_injected_commune_stall_removes_exactly_its_effect(runs: dict[str, Any]) -> None:
    commune = _busiest_activation_commune()
    stall = runs["injected"].episodes[0]
    base = _events(runs["dir"] / "base.jsonl.gz")
    inj = _events(runs["dir"] / "inj.jsonl.gz")
    t0 = datetime(2025, 11, 4, tzinfo=fs.TZ)
    t1 = datetime(2025, 11, 6, tzinfo=fs.TZ)

    def in_window(e: dict[str, Any]) -> bool:
        return t0 <= datetime.fromisoformat(e["occurred_at"]) < t1

    def commune_acts(events: list[dict[str, Any]], inside: bool) -> int:
        return sum(
            1
            for e in events
            if e["kind"] == fs.ACT and e["ward_code"] == commune.code and in_window(e) == inside
        )

    before = commune_acts(base, True)
    assert before >= 5, "the busiest commune should see activations on two working days"
    assert commune_acts(inj, True) == 0  # keep = 0: the commune went silent
    assert commune_acts(inj, False) == commune_acts(base, False) > 0  # outside: untouched
    # Every removed activation is counted, and nothing else of the kind changed.
    acts_base = sum(e["kind"] == fs.ACT for e in base)
    acts_inj = sum(e["kind"] == fs.ACT for e in inj)
    assert stall.effect == acts_base - acts_inj >= before
    # Other communes keep exactly their counts.
    others = Counter(e["ward_code"] for e in base if e["kind"] == fs.ACT)
    others_inj = Counter(e["ward_code"] for e in inj if e["kind"] == fs.ACT)
    del others[commune.code], others_inj[commune.code]
    others.pop(None, None)
    others_inj.pop(None, None)
    assert others == others_inj


def test_missing_batch_removes_the_provinces_bank_transfers(runs: dict[str, Any]) -> None:
    batch = runs["injected"].episodes[1]

    def pension_bank_38(events: list[dict[str, Any]]) -> int:
        return sum(
            1
            for e in events
            if e["kind"] == fs.WEL
            and e["province_code"] == "38"
            and e["program"] == "pension"
            and e["channel"] == "bank_account"
            and e["occurred_at"] < "2025-11-05"
        )

    base = _events(runs["dir"] / "base.jsonl.gz")
    inj = _events(runs["dir"] / "inj.jsonl.gz")
    assert pension_bank_38(base) == batch.effect > 25
    assert pension_bank_38(inj) == 0
    cash = [e for e in inj if e["kind"] == fs.WEL and e["province_code"] == "38"]
    assert any(e["channel"] == "cash" for e in cash)  # post offices still pay


def test_drawn_episodes_lie_in_the_log_after_the_learning_week(tmp_path: Path) -> None:
    truth = tmp_path / "t.json"
    summary = fs.generate(
        date(2026, 3, 2), 12, 5, tmp_path / "d.jsonl", truth, scale=0.05, compresslevel=1
    )
    doc = orjson.loads(truth.read_bytes())
    assert doc["days"] == 12
    assert doc["seed"] == 5
    start = datetime.fromisoformat(doc["start"])
    assert start == datetime(2026, 3, 2, tzinfo=fs.TZ)
    assert doc["episodes"], "this seed draws episodes even at a small scale"
    assert len(doc["episodes"]) == len(summary.episodes)
    wards = all_wards()
    for ep in doc["episodes"]:
        assert set(ep) >= {"kind", "province_code", "ward_code", "signal", "start", "end", "effect"}
        assert ep["kind"] in fs.KINDS
        assert ep["signal"] in fs.SIGNALS
        t0, t1 = datetime.fromisoformat(ep["start"]), datetime.fromisoformat(ep["end"])
        assert ep["start"].endswith("+07:00")
        assert start + timedelta(days=fs.LEARN_DAYS) <= t0 < t1 <= start + timedelta(days=12)
        if ep["ward_code"] is not None:
            assert wards[ep["ward_code"]] == ep["province_code"]
        assert isinstance(ep["effect"], int)
        assert ep["effect"] > 0
    counted = Counter(orjson.loads(line)["kind"] for line in _lines(tmp_path / "d.jsonl"))
    assert counted == Counter(doc["events"])


def test_future_logs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="past"):
        fs.generate(date.today(), 3, 1, tmp_path / "x.jsonl", None, 0.01)


def test_lower_tail_matches_direct_sums() -> None:
    mu = 20.0
    poisson = sum(math.exp(-mu) * mu**k / math.factorial(k) for k in range(4))
    assert fs._lower_tail(3, mu, mu) == pytest.approx(poisson, rel=1e-9)
    var = 60.0  # negative binomial with r = mu^2 / (var - mu) = 10
    r = mu * mu / (var - mu)
    q = mu / (mu + r)
    nb = sum(
        math.exp(math.lgamma(k + r) - math.lgamma(r) - math.lgamma(k + 1) + r * math.log1p(-q))
        * q**k
        for k in range(3)
    )
    assert fs._lower_tail(2, mu, var) == pytest.approx(nb, rel=1e-9)
    assert fs._lower_tail(15, mu, var) == 1.0  # within a standard deviation: not in the tail
