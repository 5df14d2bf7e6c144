"""The stall detector: pure, in event time, fed with counted events, driven by a watermark.

How it judges a locality. A commune is compared with its province, a province with the nation,
hour by hour: its expected count over a window is its *share* of its parent's count over the same
window, the share being learnt over the last four weeks of closed days (welfare: the last 34,
so that the previous monthly round is still in it when the next one lands). Weekends, public
holidays, Tết, office hours and the monthly disbursement days move a commune and its province
together, so the calendar cancels out; a province that stalls as a whole does not page for each
of its communes (they keep their share of it); a feed outage empties parent and child together
and raises no stall at all. The nation itself is watched by `outage.FeedMonitor`, against a
seasonal expectation (hour of day by class of day, from the `holidays` package).

Rules, per kind x locality, evaluated when the watermark passes the end of an hour:
- missing batch (welfare): the bank-account payments of a round stay near zero while the peers'
  arrive;
- rate drop: observed <= `drop_ratio` x expected over a window, significant under a negative
  binomial of the expected count (day-to-day noise and the share's own uncertainty included);
  windows expecting fewer than `min_expected` events are not tested (a quiet day in a small
  commune is noise, not a stall);
- share regression: the cashless share (welfare, per programme) or online share (service
  payments) falls well below the peers' while the payments keep coming;
- gradual decline: a long window at or below `decline_ratio`.
A round's first in the log (a welfare component not learnt yet): a locality's volume expects its
part of the beneficiary rolls (`rolls.Rolls`, over whole days), a province's cashless share the
other provinces' share over the same window (`_peer_share_test`).
One alert at a time per kind x locality (the first rule that fires, in that order). It closes
with hysteresis: its window must be back above `close_ratio` at `close_hours` consecutive
evaluations; then no new alert looks at the hours it covered.
"""

from __future__ import annotations

import math
import statistics
import zlib
from collections.abc import Iterable
from typing import Any, Final

import orjson

from streams.core.aggregator import classify
from streams.core.packing import Accepted
from streams.detect.alerts import (
    CASHLESS_SHARE,
    GRADUAL_DECLINE,
    MISSING_BATCH,
    ONLINE_SHARE,
    RATE_DROP,
    Alert,
)
from streams.detect.cells import HOURS_PER_DAY, Cell
from streams.detect.config import DAY_RING, RING_HOURS, DetectorConfig, Rules
from streams.detect.exceptions import StateError
from streams.detect.outage import FeedMonitor
from streams.detect.rolls import Rolls
from streams.detect.stats import nb_cdf

HOUR: Final = 3600
STATE_VERSION: Final = 1
_VN_HOURS: Final = 7

# kind -> the classes (`aggregator.classify`) of its components; unknown classes go to the first.
COMPONENTS: Final[dict[str, tuple[str, ...]]] = {
    "identity.activation": ("l1",),
    "payment.qr": ("",),
    "welfare.disbursement": (
        "pension.bank_account",
        "pension.cash",
        "social_allowance.bank_account",
        "social_allowance.cash",
    ),
    "service.payment": ("online", "counter"),
}
# kind -> (numerator component, other component, signal) of each share watched
SHARES: Final[dict[str, tuple[tuple[int, int, str], ...]]] = {
    "welfare.disbursement": ((0, 1, CASHLESS_SHARE), (2, 3, CASHLESS_SHARE)),
    "service.payment": ((0, 1, ONLINE_SHARE),),
}
# kind -> components paid in batches (bank transfers of a disbursement round)
BATCHES: Final[dict[str, tuple[int, ...]]] = {"welfare.disbursement": (0, 2)}

# A locality's bank share can be a quarter of its peers' (rural communes, few accounts): the
# expected bank transfers of a first round, from today's cash payments, are scaled down by that.
FIRST_BATCH_PRIOR: Final = 0.25

_INDEX: Final = {kind: {c: i for i, c in enumerate(cs)} for kind, cs in COMPONENTS.items()}
# Extra wiggle room of the ring beyond the longest window: events this many hours ahead of the
# last judged hour are held without overwriting a window still to be judged.
_LEAD: Final = 12


BinKey = tuple[str, str, int, int, str]  # province, ward or "", hour, component, source


class Binned:
    """Detector input of some events: counts per (kind, bin), newest event time per feed.

    Merging two `Binned` (`merge`) then observing is the same as observing both: the worker
    bins each batch as it comes and hands the detector one `Binned` per group."""

    __slots__ = ("bins", "newest")

    def __init__(self) -> None:
        self.bins: dict[str, dict[BinKey, int]] = {}
        self.newest: dict[tuple[str, str], float] = {}

    def __bool__(self) -> bool:
        return any(self.bins.values())

    def merge(self, other: Binned) -> None:
        for kind, bins in other.bins.items():
            mine = self.bins.setdefault(kind, {})
            get = mine.get
            for key, n in bins.items():
                mine[key] = get(key, 0) + n
        for fk, ts in other.newest.items():
            if ts > self.newest.get(fk, 0.0):
                self.newest[fk] = ts

    def to_json(self) -> dict[str, Any]:
        return {
            "bins": {kind: [[*key, n] for key, n in b.items()] for kind, b in self.bins.items()},
            "newest": [[kind, source, ts] for (kind, source), ts in self.newest.items()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Binned:
        out = cls()
        try:
            out.bins = {
                str(kind): {(str(p), str(w), int(h), int(c), str(s)): int(n)
                            for p, w, h, c, s, n in rows}
                for kind, rows in data["bins"].items()
            }  # fmt: skip
            out.newest = {(str(k), str(s)): float(ts) for k, s, ts in data["newest"]}
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise StateError(f"inconsistent detector input: {exc}") from exc
        return out


def bin_rows(kind: str, rows: Iterable[tuple[str, str, float, str, str]]) -> Binned:
    """Bin events of one kind, (province, ward or "", ts, class, source) each, by hour."""
    out = Binned()
    index = _INDEX.get(kind)
    if index is None:
        return out
    bins: dict[BinKey, int] = out.bins.setdefault(kind, {})
    newest = out.newest
    get = bins.get
    for province, ward, ts, cls, source in rows:
        key = (province, ward, int(ts // HOUR), index.get(cls, 0), source)
        bins[key] = get(key, 0) + 1
        if ts > newest.get((kind, source), 0.0):
            newest[(kind, source)] = ts
    return out


def bin_accepted(kind: str, events: Iterable[Accepted]) -> Binned:
    """`bin_rows` of the aggregator's accepted events."""
    return bin_rows(kind, ((e.province, e.ward, e.ts, classify(e.attrs), e.source) for e in events))


class Detector:
    """Stall and outage detection over counted events. See the module docstring.

    Use: `observe` (or `observe_accepted`) each counted event, in arrival order; `advance` with
    the event-time watermark, which returns the alerts raised; `open_stalls` / `open_alerts`
    for gauges; `to_bytes` / `from_bytes` to persist.
    """

    def __init__(self, config: DetectorConfig | None = None, rolls: Rolls | None = None) -> None:
        self.config = config or DetectorConfig()
        self.rolls = rolls
        cfg = self.config
        self._ring = max(max(r.windows) for r in (cfg.province, cfg.commune)) + _LEAD + 1
        self._ring = max(self._ring, RING_HOURS + _LEAD + 1)
        self._nation: dict[str, Cell] = {}
        self._provinces: dict[str, dict[str, Cell]] = {k: {} for k in COMPONENTS}
        self._communes: dict[str, dict[str, list[Cell]]] = {k: {} for k in COMPONENTS}
        self._cells: dict[str, dict[str, Cell]] = {k: {} for k in COMPONENTS}  # code -> cell
        self._feeds: dict[tuple[str, str], FeedMonitor] = {}
        self.first_hour = -1  # first hour with data: windows never reach before it
        self.judged = -1  # newest hour evaluated
        self.watermark = 0.0
        self.too_late = 0  # events older than the hourly ring when they arrived
        self._pending: dict[str, dict[tuple[str, str, int, int, str], int]] = {}
        self._newest: dict[tuple[str, str], float] = {}
        self._raised: list[Alert] = []  # raised while time moved on by itself

    # ---- input -------------------------------------------------------------------------------

    def observe(
        self, kind: str, province: str, ward: str, ts: float, cls: str, source: str
    ) -> None:
        """Count one distinct accepted event (`cls` from `aggregator.classify`)."""
        self.observe_many(kind, ((province, ward, ts, cls, source),))

    def observe_accepted(self, kind: str, events: Iterable[Accepted]) -> None:
        """Count `BatchResult.counted` of a batch of `kind` (the aggregator's output)."""
        self.observe_many(
            kind, ((e.province, e.ward, e.ts, classify(e.attrs), e.source) for e in events)
        )

    def observe_many(self, kind: str, rows: Iterable[tuple[str, str, float, str, str]]) -> None:
        """Count events of one kind: (province, ward or "", ts, class, source) each.

        Events are binned here and applied to the series when time next moves (`advance`), so
        the per-event work is one dictionary update."""
        if kind in _INDEX:
            self.observe_binned(bin_rows(kind, rows))

    def observe_binned(self, binned: Binned) -> None:
        """Count events already binned by `bin_rows` (or read back from a saved delta).

        The worker logs each group's `Binned` input and replays it after a crash: the same
        calls in the same order rebuild the same state as the original run."""
        for kind, bins in binned.bins.items():
            pending = self._pending.setdefault(kind, {})
            get = pending.get
            for key, n in bins.items():
                pending[key] = get(key, 0) + n
        newest = self._newest
        for fk, ts in binned.newest.items():
            if ts > newest.get(fk, 0.0):
                newest[fk] = ts

    def _flush(self) -> None:
        """Apply the binned events to the series (oldest hours first)."""
        pending = {kind: bins for kind, bins in self._pending.items() if bins}
        if not pending:
            return
        self._pending = {}
        newest, self._newest = self._newest, {}
        if self.first_hour < 0:
            first = min(key[2] for bins in pending.values() for key in bins)
            self.first_hour, self.judged = first, first - 1
        top = max(key[2] for bins in pending.values() for key in bins)
        if top > self.judged + _LEAD:
            # A watermark that stays far behind the events cannot let the ring overwrite hours
            # not judged yet: time moves on by itself, `_LEAD` hours behind the newest event.
            early = {k: {key: n for key, n in b.items() if key[2] <= top - _LEAD}
                     for k, b in pending.items()}  # fmt: skip
            late = {k: {key: n for key, n in b.items() if key[2] > top - _LEAD}
                    for k, b in pending.items()}  # fmt: skip
            # the feeds' newest events among the early bins: at most the end of their last hour
            upto: dict[tuple[str, str], int] = {}
            for k, b in early.items():
                for key in b:
                    fk = (k, key[4])
                    upto[fk] = max(upto.get(fk, key[2]), key[2])
            self._apply(early, {fk: min(newest.get(fk, 0.0), (h + 1) * HOUR - 1.0)
                                for fk, h in upto.items()})  # fmt: skip
            self._raised += self._advance_hours((top - _LEAD + 1) * HOUR)
            self._apply(late, newest)
        else:
            self._apply(pending, newest)

    def _apply(
        self,
        pending: dict[str, dict[tuple[str, str, int, int, str], int]],
        newest: dict[tuple[str, str], float],
    ) -> None:
        first_hour = self.first_hour
        ring = self._ring
        for kind, bins in pending.items():
            nation = self._nation.get(kind)
            if nation is None:
                nation = self._nation[kind] = self._new_cell(kind, "", "", None)
            nc = nation.ncomp
            cells = self._cells[kind]
            feeds = self._feeds
            for (province, ward, hour, comp, source), n in bins.items():
                if hour < first_hour or not nation.add(hour, comp, n):
                    self.too_late += n
                    continue
                slot = (hour % ring) * nc + comp
                prov = cells.get(province)
                if prov is None:
                    prov = self._new_cell(kind, province, "", nation)
                if hour == prov.upto:
                    prov.hr[slot] += n
                else:
                    prov.add(hour, comp, n)
                if ward:
                    com = cells.get(ward)
                    if com is None:
                        com = self._new_cell(kind, province, ward, prov)
                    if hour == com.upto:
                        com.hr[slot] += n
                    else:
                        com.add(hour, comp, n)
                feed = feeds.get((kind, source))
                if feed is None:
                    same_day = kind in self.config.same_day_outage_kinds
                    feed = feeds[(kind, source)] = FeedMonitor(kind, source, same_day)
                    # Watched since the detector's first hour: silent until its first event.
                    feed.first = first_hour
                feed.add(hour, n, newest.get((kind, source), 0.0))

    def _new_cell(self, kind: str, province: str, ward: str, parent: Cell | None) -> Cell:
        cell = Cell(province, ward, len(COMPONENTS[kind]), self._ring, DAY_RING, parent)
        cell.steady = kind in self.config.steady_kinds
        if self.rolls is not None and parent is not None:
            parts = [
                self.rolls.part(kind, ward or province, c.split(".")[0]) for c in COMPONENTS[kind]
            ]
            if any(x is not None for x in parts):
                cell.prior = [math.nan if x is None else x for x in parts]
        if self.judged >= 0:
            cell.sync(self.judged)
        if ward:
            self._cells[kind][ward] = cell
            self._communes[kind].setdefault(province, []).append(cell)
        elif province:
            self._cells[kind][province] = cell
            self._provinces[kind][province] = cell
        return cell

    # ---- time --------------------------------------------------------------------------------

    def advance(self, watermark: float) -> list[Alert]:
        """Move event time to `watermark` (no event before it is expected any more, late ones
        aside): judge every hour that ended, check the feeds. Returns the alerts raised."""
        self._flush()
        raised, self._raised = self._raised, []
        return raised + self._advance_hours(watermark)

    def _advance_hours(self, watermark: float) -> list[Alert]:
        raised: list[Alert] = []
        if watermark <= self.watermark or self.first_hour < 0:
            return raised
        self.watermark = watermark
        rules = self.config.outage
        last_done = int(watermark // HOUR) - 1
        while self.judged < last_done:
            hour = self.judged + 1
            self._check_feeds((hour + 1) * HOUR, raised)
            self._judge_hour(hour, raised)
            self.judged = hour
            if (hour + 1 + _VN_HOURS) % HOURS_PER_DAY == 0:
                self._close_day((hour + 1 + _VN_HOURS) // HOURS_PER_DAY - 1, hour)
        feeds = self._feeds.values()
        if any(watermark - f.checked >= rules.check_every for f in feeds):
            self._check_feeds(watermark, raised)
        return raised

    def _check_feeds(self, now: float, raised: list[Alert]) -> None:
        rules = self.config.outage
        feeds = self._feeds
        for (kind, _source), feed in feeds.items():
            if now > feed.checked:
                peers = [f for (k, _s), f in feeds.items() if k == kind and f is not feed]
                alert = feed.check(now, rules, peers)
                if alert is not None:
                    raised.append(alert)

    # ---- judging an hour ---------------------------------------------------------------------

    def _judge_hour(self, hour: int, raised: list[Alert]) -> None:
        cfg = self.config
        out = {k for (k, _s), f in self._feeds.items() if f.alert is not None}
        day_end = (hour + 1 + _VN_HOURS) % HOURS_PER_DAY == 0
        for kind, nation in self._nation.items():
            nation.sync(hour)
            if kind in out:
                continue  # the feed is out: its silence is one outage, not stalls
            steady = kind in cfg.steady_kinds
            prules: Rules | None = cfg.province
            if kind in cfg.daily_province_kinds:
                prules = cfg.province_daily if day_end else None
            provinces = self._provinces[kind]
            for prov in provinces.values():
                prov.sync(hour)
            pw = _windows(nation, hour, prules) if prules is not None else {}
            crules = cfg.commune
            parents: dict[str, dict[int, list[int]]] = {}
            minus: dict[str, dict[int, float]] = {}
            # A commune of a bursting kind is judged once learnt over `burst_min_days` (its
            # share still serves at once to take its campaigns out of its parent's count).
            young = cfg.burst_min_days if kind in cfg.burst_kinds else 0
            if kind in cfg.burst_kinds:
                # Campaigns: judge everyone without the excess of the bursting communes.
                widths = _widths(crules) | (_widths(prules) if prules is not None else set())
                national = dict.fromkeys(widths, 0.0)
                for code, prov in provinces.items():
                    kids = self._communes[kind].get(code, [])
                    for com in kids:
                        com.sync(hour)
                    cw = {w: prov.comps(hour, w) for w in widths}
                    excess = _excess(cw, kids, hour, cfg.burst_cap)
                    minus[code] = excess
                    parents[code] = _less(cw, excess)
                    for w in widths:
                        national[w] += excess[w]
                pw = _less(pw, national)
            peers = None
            # only for a share some province has not learnt (a round's first): service shares,
            # always learnt, do not pay for medians every hour
            if (
                prules is not None
                and prules.share_peers
                and kind in SHARES
                and any(_unlearnt_share(kind, p) for p in provinces.values())
            ):
                peers = _peer_shares(kind, provinces.values(), hour, prules, cfg)
            timed = kind in cfg.timing_kinds
            psib = None
            if timed and prules is not None:
                psib = _Siblings(self, kind, list(provinces.values()), pw, hour, prules, steady)
            for code, prov in provinces.items():
                if prules is not None:
                    self._judge(
                        kind,
                        prov,
                        pw,
                        hour,
                        prules,
                        steady,
                        raised,
                        minus.get(code),
                        peers,
                        psib,
                    )
                communes = self._communes[kind].get(code)
                if communes:
                    cw = parents.get(code) or _windows(prov, hour, crules)
                    csib = (
                        _Siblings(self, kind, communes, cw, hour, crules, steady) if timed else None
                    )
                    for com in communes:
                        if com.alert is not None or (com.s is not None and com.nbdays >= young):
                            com.sync(hour)
                            self._judge(
                                kind,
                                com,
                                cw,
                                hour,
                                crules,
                                steady,
                                raised,
                                None,
                                None,
                                csib,
                            )

    def _judge(
        self,
        kind: str,
        cell: Cell,
        par: dict[int, list[int]],
        hour: int,
        rules: Rules,
        steady: bool,
        raised: list[Alert],
        minus: dict[int, float] | None,
        peers: dict[tuple[int, int], tuple[float, float]] | None = None,
        sib: _Siblings | None = None,
    ) -> None:
        if cell.alert is not None:
            self._maybe_close(kind, cell, par, hour, rules)
            return
        s = cell.s
        if s is None:
            return
        start = max(self.first_hour, cell.quiet_from)
        known = all(x == x for x in s)  # no NaN: every component has been learnt
        day_shape = math.inf if steady else rules.day_shape
        nb = cell.nbase
        ms = self.config.timing_min_siblings
        # missing batch: bank-account payments of a round that never arrive
        for b in BATCHES.get(kind, ()):
            w = rules.batch_window
            if hour - w + 1 < start:
                break
            exp = s[b] * par[w][b]
            if exp >= rules.min_expected:  # False for a NaN share too
                obs = cell.comps(hour, w)[b]
                if obs <= rules.batch_ratio * exp:
                    bvar = 1.0 / max(nb[b], 1.0)
                    if _below(
                        obs,
                        exp,
                        rules.alpha,
                        w,
                        rules,
                        day_shape,
                        bvar,
                        sib,
                        (w, b),
                        (exp, obs),
                        ms,
                    ):
                        raised.append(self._open(kind, cell, MISSING_BATCH, hour, w, rules, (b,)))
                        return
        # a round's first batch, with nothing learnt yet: the locality is paid in cash today,
        # its peers got their bank transfers, and not one reached it; on local schedules, a
        # round's cash without its transfers, learnt or not
        for num, oth, _signal in SHARES.get(kind, ()) if kind in BATCHES else ():
            w = rules.batch_window
            if hour - w + 1 < start:
                break
            if sib is None:
                if s[num] == s[num]:
                    continue
                pw, oc = par[w], cell.comps(hour, w)
                prior = oc[oth] * pw[num] / pw[oth] * FIRST_BATCH_PRIOR if pw[oth] > 0 else 0.0
                missing = oc[num] == 0 and oc[oth] > 0 and _significant(prior, rules)
            else:  # paid on local schedules: the whole round, judged when a day closes
                missing = (
                    (hour + 1 + _VN_HOURS) % HOURS_PER_DAY == 0
                    and self._cash_only(cell, hour, num, oth, start, rules)
                    # several siblings alike (itself counted): cash paid before the transfers
                    # (rounds squeezed before Tết: 6 provinces on 2026-02-12, foreign seed 502)
                    and sib.cash_only(num, oth) - 1 <= self.config.timing_cash_first_max
                )
            if missing:
                raised.append(self._open(kind, cell, MISSING_BATCH, hour, w, rules, (num,)))
                return
        # rate drop, then gradual decline on the long window
        roll_var = 1.0 / self.config.roll_shape
        # the learnt share's own uncertainty, per component from the counts it rests on: an
        # allowance cash share learnt from 4 payments is no firmer for the pensions learnt beside
        comp_var = [1.0 / max(x, 1.0) for x in nb]
        for w in rules.windows:
            if hour - w + 1 < start:
                break
            pw = par[w]
            exp, obs, parts = _window_rate(
                cell, _window_shares(cell, w, self.config.roll_window), pw, hour, w
            )
            if exp < rules.min_expected:
                continue
            weights = [(e / exp) ** 2 if e == e else 0.0 for e in parts]
            rel = sum(
                wt * (v if x == x else roll_var)
                for wt, x, v in zip(weights, s, comp_var, strict=True)
            )
            # Each component has its own good and bad days (online and counter payments are
            # different people), as `_share_test` assumes: the sum's day noise is the weighted
            # sum of theirs, for the window and for the days the share was learnt over alike.
            own_days = day_shape / sum(weights)
            days_var = 1.0 / (own_days * max(cell.nbdays, 1))
            if minus:
                obs = max(0, round(obs - minus.get(w, 0.0)))
            base = rel + days_var
            if obs <= rules.drop_ratio * exp and _below(
                obs, exp, rules.alpha, w, rules, own_days, base, sib, (w, -1), (exp, obs), ms
            ):
                raised.append(self._open(kind, cell, RATE_DROP[kind], hour, w, rules, None))
                return
            # against the share of a week ago: a slow slide is not learnt as the norm (not for a
            # kind paid on local schedules: a round has no slow slide, and a week-old share of a
            # round's days says nothing of today's)
            if w == rules.decline_window and cell.s_old is not None and known and sib is None:
                old = sum(x * y for x, y in zip(cell.s_old, pw, strict=True))
                if (
                    old >= rules.min_expected
                    and obs <= rules.decline_ratio * old
                    and nb_cdf(obs, old, _shape(w, rules, own_days, base)) <= rules.decline_alpha
                ):
                    raised.append(self._open(kind, cell, GRADUAL_DECLINE, hour, w, rules, None))
                    return
        # share regression: the cashless / online share falls back while payments continue
        for num, oth, signal in SHARES.get(kind, ()):
            for w in rules.share_windows:
                if hour - w + 1 < start:
                    break
                if s[num] == s[num] and s[oth] == s[oth]:
                    z = _share_test(cell, par[w], num, oth, hour, w, rules, day_shape)
                    if sib is not None and z <= -rules.share_z:
                        # as far out as the siblings stray from their own shares in this window?
                        mid, sd = sib.share(num, oth, w)
                        z = (z - mid) / max(1.0, sd)
                elif peers is not None and (num, w) in peers:
                    z = _peer_share_test(cell, peers[(num, w)], num, oth, hour, w, rules)
                else:
                    continue
                if z > -rules.share_z or (
                    # its transfers landed before the window (a local schedule)
                    sib is not None
                    and not cell.comps(hour, w)[num]
                    and _paid_lately(cell, hour, num, self.config.timing_recent_days)
                ):
                    continue
                raised.append(self._open(kind, cell, signal, hour, w, rules, (num, oth)))
                return

    def _cash_only(
        self, cell: Cell, hour: int, num: int, oth: int, start: int, rules: Rules
    ) -> bool:
        """A round paid in cash without its bank transfers, for a kind paid on local schedules:
        the locality's cash of the programme began again today (the day ending with `hour`),
        after `timing_round_gap_days` closed days without, and none of its transfers came in
        `timing_round_days` days; yet its learnt ratio of transfers to cash (the previous
        round's; with none, its parent's in those days, scaled by `FIRST_BATCH_PRIOR`) says
        today's cash alone should have come with enough of them to be sure. A province's
        allowance day is its own: its missing batch shows when its cash follows, not on a
        national day (benchmarks/foreign_scenario.py: 4,161 transfers of a province missed).
        Judged on a round's first cash day only, so a round raises one alert."""
        today = cell.comps(hour, HOURS_PER_DAY)
        if not today[oth] or today[num]:
            return False
        cfg = self.config
        last = (hour + 1 + _VN_HOURS) // HOURS_PER_DAY - 2  # yesterday, the newest closed day
        gap = last - cfg.timing_round_gap_days + 1
        # days with an hour at or after `start` (the log's first day may be partial) ...
        first = -((HOURS_PER_DAY - 1 - _VN_HOURS - start) // HOURS_PER_DAY)
        if gap < first:  # ... must hold the whole gap: a round may have begun before the log
            return False
        if _days_sum(cell, gap, last, first)[oth]:
            return False  # a round under way: its transfers were judged on its first day
        if _days_sum(cell, last - cfg.timing_round_days + 2, last, first)[num]:
            return False
        nb = cell.nbase
        if nb[num] + nb[oth] > 0:
            ratio = nb[num] / (nb[oth] + 1.0)
        else:
            parent = cell.parent
            assert parent is not None
            par = _days_sum(parent, last - cfg.timing_round_days + 2, last, first)
            pt = parent.comps(hour, HOURS_PER_DAY)
            ratio = FIRST_BATCH_PRIOR * (par[num] + pt[num]) / (par[oth] + pt[oth] + 1.0)
        return _significant(today[oth] * ratio, rules)

    def _open(
        self,
        kind: str,
        cell: Cell,
        signal: str,
        hour: int,
        width: int,
        rules: Rules,
        comps: tuple[int, ...] | None,
    ) -> Alert:
        start_hour = self._change_point(cell, hour, width, signal, comps)
        cell.alert = Alert(
            kind,
            cell.province,
            cell.ward or None,
            signal,
            float(start_hour * HOUR),
            float((hour + 1) * HOUR),
            rules.severity,
        )
        cell.recover = cell.idle = 0
        first_day = (start_hour + _VN_HOURS) // HOURS_PER_DAY
        cell.excl.update(range(first_day, (hour + _VN_HOURS) // HOURS_PER_DAY + 1))
        self._baseline(cell, cell.dmark)  # forget the days the stall already spoiled
        return cell.alert

    def _change_point(
        self, cell: Cell, hour: int, width: int, signal: str, comps: tuple[int, ...] | None
    ) -> int:
        """The most likely first hour of the stall: where the log-likelihood ratio of "dropped"
        against "as usual", summed from that hour to now, is largest (a CUSUM read backwards)."""
        parent = cell.parent
        if cell.s is None or parent is None:
            return hour - width + 1
        # unknown components expect nothing; for a rate drop, their roll's part (as judged)
        prior = cell.prior if signal not in (MISSING_BATCH, CASHLESS_SHARE, ONLINE_SHARE) else None
        if prior is None:
            s = [x if x == x else 0.0 for x in cell.s]
        else:
            s = [x if x == x else 0.0 for x in _rolled(cell.s, prior)]
        earliest = max(self.first_hour, cell.quiet_from, hour - self._ring + _LEAD + 1)
        rho = 0.6 if signal == GRADUAL_DECLINE else 0.25
        log_rho = math.log(rho)
        best, best_hour, acc = 0.0, hour - width + 1, 0.0
        share = signal in (CASHLESS_SHARE, ONLINE_SHARE)
        for h in range(hour, earliest - 1, -1):
            ph, oh = parent.hour(h), cell.hour(h)
            if share and comps is not None:
                num, oth = comps
                en, eo = s[num] * ph[num], s[oth] * ph[oth]
                n = oh[num] + oh[oth]
                if en + eo <= 0 or n == 0:
                    continue
                p = min(max(en / (en + eo), 1e-6), 1 - 1e-6)
                q = p * 0.5
                acc += oh[num] * math.log(q / p) + oh[oth] * math.log((1 - q) / (1 - p))
            else:
                idx = comps if comps is not None else range(len(s))
                exp = sum(s[c] * ph[c] for c in idx)
                obs = sum(oh[c] for c in idx)
                acc += exp * (1 - rho) + obs * log_rho
            if acc > best:
                best, best_hour = acc, h
        return best_hour

    def _maybe_close(
        self, kind: str, cell: Cell, par: dict[int, list[int]], hour: int, rules: Rules
    ) -> None:
        alert = cell.alert
        assert alert is not None
        # nothing learnt to judge a recovery by: it idles out; unknown components expect nothing
        s = [0.0] * cell.ncomp if cell.s is None else [x if x == x else 0.0 for x in cell.s]
        w = rules.close_window
        parent = cell.parent
        assert parent is not None  # only communes and provinces open alerts: both have a parent
        pw = par.get(w) or parent.comps(hour, w)
        if alert.signal in (CASHLESS_SHARE, ONLINE_SHARE):
            pairs = [(n, o) for n, o, _ in SHARES[kind]]
            oc = cell.comps(hour, w)
            ok = judged = 0
            for num, oth in pairs:
                en, eo = s[num] * pw[num], s[oth] * pw[oth]
                n = oc[num] + oc[oth]
                if n >= rules.share_min_trials and en + eo > 0:
                    judged += 1
                    ok += oc[num] / n >= (1 + rules.share_ratio) / 2 * en / (en + eo)
            recovered: bool | None = None if judged == 0 else ok == judged
        else:
            prior = cell.prior
            if (
                alert.signal != MISSING_BATCH
                and prior is not None
                and cell.s is not None
                and w >= self.config.roll_window
            ):  # judged as it was opened: the components not learnt yet by their roll
                s = [x if x == x else 0.0 for x in _rolled(cell.s, prior)]
            idx: Iterable[int] = BATCHES[kind] if alert.signal == MISSING_BATCH else range(len(s))
            idx = tuple(idx)
            exp = sum(s[c] * pw[c] for c in idx)
            if exp < rules.min_expected:
                recovered = None
            else:
                oc = cell.comps(hour, w)
                recovered = sum(oc[c] for c in idx) >= rules.close_ratio * exp
        if recovered is None:
            cell.idle += rules.every  # hours
            if cell.idle >= RING_HOURS:  # nothing to judge for days: let it go
                self._close(cell, hour)
            return
        cell.idle = 0
        cell.recover = cell.recover + 1 if recovered else 0
        if cell.recover >= rules.close_hours:
            self._close(cell, hour)

    def _close(self, cell: Cell, hour: int) -> None:
        cell.alert = None
        cell.recover = cell.idle = 0
        cell.quiet_from = hour + 1

    # ---- closing a day: baselines ------------------------------------------------------------

    def _close_day(self, day: int, last_hour: int) -> None:
        first_hour = last_hour - HOURS_PER_DAY + 1
        for kind, nation in self._nation.items():
            nation.close_day(day, first_hour)
            for prov in self._provinces[kind].values():
                prov.close_day(day, first_hour)
                if prov.alert is not None:
                    prov.excl.add(day)
            for communes in self._communes[kind].values():
                for com in communes:
                    com.close_day(day, first_hour)
                    if com.alert is not None:
                        com.excl.add(day)
            for prov in self._provinces[kind].values():
                self._baseline(prov, day)
            for communes in self._communes[kind].values():
                for com in communes:
                    self._baseline(com, day)

    def _baseline(self, cell: Cell, today: int) -> None:
        """Learn the cell's share of its parent, per component, over the closed days: the recent
        share (rate drops, shares, batches) and an older one (gradual declines)."""
        parent = cell.parent
        if parent is None or today < 0:
            return
        cfg = self.config
        if cell.steady:
            lag, min_days = cfg.steady_lag_days, cfg.steady_min_days
            old_min = cfg.steady_decline_min_days
            span = min(cfg.steady_baseline_days, DAY_RING - 1)
        else:
            lag, min_days = cfg.baseline_lag_days, cfg.baseline_min_days
            old_min = cfg.decline_min_days
            span = cfg.baseline_days
        recent = self._learn(cell, parent, today - lag, min_days, span)
        if recent is None:
            cell.s, cell.nbdays = None, 0
        else:
            cell.s, cell.nbase, cell.nbdays = recent
        old = self._learn(cell, parent, today - cfg.decline_lag_days, old_min, span)
        cell.s_old = None if old is None else old[0]

    def _learn(
        self, cell: Cell, parent: Cell, last: int, min_days: int, span: int
    ) -> tuple[list[float], list[float], int] | None:
        cfg = self.config
        nc = cell.ncomp
        days = []
        for d in range(last - span + 1, last + 1):
            if d in cell.excl:
                continue
            own, par = cell.day(d), parent.day(d)
            if own is None or par is None or not any(par):
                continue
            days.append((sum(own), sum(par), own, par))
        if len(days) < min_days:
            return None
        # Campaign days (a burst of the community teams) would inflate the share: leave out the
        # days far above the share of the others, allowing for Poisson noise on small counts.
        kept = days
        for _ in range(3):
            share = sum(r[0] for r in kept) / max(1, sum(r[1] for r in kept))
            again = [
                r
                for r in days
                if r[0] <= cfg.burst_cap * share * r[1] + 3.0 + 3.0 * math.sqrt(share * r[1])
            ]
            if len(again) == len(kept) or not again:
                break
            kept = again
        own_c = [0] * nc
        par_c = [0] * nc
        for _o, _p, own, par in kept or days:
            for c in range(nc):
                own_c[c] += own[c]
                par_c[c] += par[c]
        # A component the parent never had in these days (a round not seen yet) is unknown:
        # NaN, and left out of the locality's expectation and of its observed count alike.
        shares = [own_c[c] / par_c[c] if par_c[c] else math.nan for c in range(nc)]
        return shares, [float(x) for x in own_c], len(kept or days)

    # ---- read views --------------------------------------------------------------------------

    def open_alerts(self) -> list[Alert]:
        """Every alert open now: stalls (communes, provinces) and feed outages."""
        self._flush()
        out = [f.alert for f in self._feeds.values() if f.alert is not None]
        for cells in self._cells.values():
            out += [c.alert for c in cells.values() if c.alert is not None]
        return out

    def open_stalls(self) -> set[tuple[str, str, str]]:
        """(kind, province, ward or "") of every open stall alert: `civicpulse_stalled` = 1.

        Feed outages are not stalls and are not in this set (see `open_outages`)."""
        return {a.locality for a in self.open_alerts() if not a.is_outage}

    def open_outages(self) -> set[tuple[str, str]]:
        """(kind, source) of every feed now judged out."""
        return {key for key, f in self._feeds.items() if f.alert is not None}

    # ---- persistence -------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The whole state, compressed: restore it with `from_bytes` and the same config."""
        data = {
            "v": STATE_VERSION,
            "ring": self._ring,
            "first": self.first_hour,
            "judged": self.judged,
            "wm": self.watermark,
            "late": self.too_late,
            "cells": {
                kind: [
                    nation.dump(),
                    *(c.dump() for c in self._provinces[kind].values()),
                    *(c.dump() for cs in self._communes[kind].values() for c in cs),
                ]
                for kind, nation in self._nation.items()
            },
            "feeds": [f.dump() for f in self._feeds.values()],
            "pending": {
                kind: [[*key, n] for key, n in bins.items()] for kind, bins in self._pending.items()
            },
            "newest": [[k, s, ts] for (k, s), ts in self._newest.items()],
            "raised": [a.to_contract() for a in self._raised],
        }
        return zlib.compress(orjson.dumps(data), 1)

    @classmethod
    def from_bytes(
        cls, raw: bytes, config: DetectorConfig | None = None, rolls: Rolls | None = None
    ) -> Detector:
        try:
            data: dict[str, Any] = orjson.loads(zlib.decompress(raw))
        except (zlib.error, orjson.JSONDecodeError) as exc:
            raise StateError(f"unreadable detector state: {exc}") from exc
        if data.get("v") != STATE_VERSION:
            raise StateError(f"detector state version {data.get('v')!r}, {STATE_VERSION} needed")
        det = cls(config, rolls)
        if data["ring"] != det._ring:
            raise StateError("detector state was saved with other windows: cannot restore")
        det.first_hour, det.judged = int(data["first"]), int(data["judged"])
        det.watermark, det.too_late = float(data["wm"]), int(data["late"])
        try:
            for kind, rows in data["cells"].items():
                nation = det._nation[kind] = det._new_cell(kind, "", "", None)
                nation.restore(rows[0], kind)
                for row in rows[1:]:
                    province, ward = str(row[0]), str(row[1])
                    if ward:
                        parent = det._cells[kind][province]
                        cell = det._new_cell(kind, province, ward, parent)
                    else:
                        cell = det._new_cell(kind, province, "", nation)
                    cell.restore(row, kind)
            for row in data["feeds"]:
                same_day = row[0] in det.config.same_day_outage_kinds
                feed = FeedMonitor.restore(row, same_day)
                det._feeds[(feed.kind, feed.source)] = feed
            det._pending = {
                kind: {
                    (str(p), str(w), int(h), int(c), str(s)): int(n) for p, w, h, c, s, n in rows
                }
                for kind, rows in data["pending"].items()
            }
            det._newest = {(str(k), str(s)): float(ts) for k, s, ts in data["newest"]}
            det._raised = [Alert.from_contract(a) for a in data["raised"]]
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise StateError(f"inconsistent detector state: {exc}") from exc
        return det


def _widths(rules: Rules) -> set[int]:
    return {*rules.windows, *rules.share_windows, rules.batch_window, rules.close_window}


def _windows(cell: Cell, hour: int, rules: Rules) -> dict[int, list[int]]:
    """The parent's counts per component over every window a child may be judged on."""
    return {w: cell.comps(hour, w) for w in _widths(rules)}


def _excess(
    par: dict[int, list[int]], children: Iterable[Cell], hour: int, cap: float
) -> dict[int, float]:
    """Per window, the events of bursting children above their expectation (a campaign in a
    few communes, on a weekend, can be most of a province's activations: next to it, all the
    others would look stalled)."""
    kids = [c for c in children if c.s is not None]
    out = {}
    for w, comps in par.items():
        excess = 0.0
        for c in kids:
            s = c.s
            assert s is not None
            exp = sum(x * y for x, y in zip(s, comps, strict=True))
            obs = c.total(hour, w)
            if obs > cap * exp + 3.0 + 3.0 * math.sqrt(exp):
                excess += obs - exp
        out[w] = excess
    return out


def _less(par: dict[int, list[int]], excess: dict[int, float]) -> dict[int, list[int]]:
    out = {}
    for w, comps in par.items():
        total, ex = sum(comps), excess.get(w, 0.0)
        if ex <= 0 or total <= 0:
            out[w] = comps
        else:
            keep = max(0.0, 1.0 - ex / total)
            out[w] = [round(x * keep) for x in comps]
    return out


def _shape(width: int, rules: Rules, day_shape: float, base_var: float) -> float:
    """Gamma shape of the negative binomial over a window: day-to-day noise (independent days),
    hour-to-hour noise (independent hours) and the relative variance of the learnt share."""
    inv = base_var
    if math.isfinite(day_shape):
        inv += 1.0 / (day_shape * max(1.0, width / HOURS_PER_DAY))
    if math.isfinite(rules.hour_shape):
        inv += 1.0 / (rules.hour_shape * width)
    return 1.0 / inv if inv > 0 else math.inf


def _share_test(
    cell: Cell,
    pw: list[int],
    num: int,
    oth: int,
    hour: int,
    width: int,
    rules: Rules,
    day_shape: float,
    raw: bool = False,
) -> float:
    """z of the locality's log-odds share against its peers' (0.0 when there is nothing to judge;
    `raw`: NaN then, and a z either way, not only for a share fallen below `share_ratio`).

    Expected share: the locality's learnt shares of the parent's two components, applied to the
    parent's counts of the window (so the disbursement days and office hours cancel). Variance:
    binomial sampling, the baseline's own counts, and, for kinds whose two components have their
    own day-to-day noise, that noise twice."""
    s = cell.s
    assert s is not None
    en, eo = s[num] * pw[num], s[oth] * pw[oth]
    if not (en > 0 and eo > 0) or en + eo < rules.share_min_trials:  # NaN: not learnt yet
        return math.nan if raw else 0.0
    oc = cell.comps(hour, width)
    k, n = oc[num], oc[num] + oc[oth]
    if n < rules.share_min_trials or n < 0.5 * (en + eo):
        return math.nan if raw else 0.0  # the payments themselves stopped: a rate drop
    p = en / (en + eo)
    if k > rules.share_ratio * p * n and not raw:
        return 0.0
    var = 1.0 / (k + 0.5) + 1.0 / (n - k + 0.5)
    var += 1.0 / max(cell.nbase[num], 0.5) + 1.0 / max(cell.nbase[oth], 0.5)
    if math.isfinite(day_shape):
        days = max(1.0, width / HOURS_PER_DAY)
        var += 2.0 / (day_shape * days) + 2.0 / (day_shape * max(cell.nbdays, 1))
    return (_log_odds(k, n) - math.log(p / (1.0 - p))) / math.sqrt(var)


def _window_shares(cell: Cell, width: int, roll_window: int) -> list[float]:
    """The shares a rate is expected by: those not learnt yet (a round's first) at their roll's
    part in windows of at least `roll_window` hours."""
    s = cell.s
    assert s is not None
    prior = cell.prior
    if prior is None or width < roll_window or all(x == x for x in s):
        return s
    return _rolled(s, prior)


def _window_rate(
    cell: Cell, shares: list[float], pw: list[int], hour: int, width: int
) -> tuple[float, int, list[float]]:
    """Expected and observed events of the window, and the expectation per component: the
    shares applied to the parent's counts `pw`; an unknown component (NaN) is left out of
    both."""
    parts = [x * y for x, y in zip(shares, pw, strict=True)]
    exp = sum(e for e in parts if e == e)
    if all(e == e for e in parts):
        return exp, cell.total(hour, width), parts
    oc = cell.comps(hour, width)
    return exp, sum(o for e, o in zip(parts, oc, strict=True) if e == e), parts


def _paid_lately(cell: Cell, hour: int, comp: int, days: int) -> bool:
    """Whether the locality had any event of `comp` in the last 24 hours or `days` closed days."""
    if cell.comps(hour, HOURS_PER_DAY)[comp]:
        return True
    for d in range(cell.dmark - days + 1, cell.dmark + 1):
        counts = cell.day(d)
        if counts is not None and counts[comp]:
            return True
    return False


def _significant(expected: float, rules: Rules) -> bool:
    """Whether nothing where `expected` events were due is a stall: enough due, P(0) <= alpha."""
    return expected >= rules.min_expected and math.exp(-expected) <= rules.alpha


def _days_sum(cell: Cell, first: int, last: int, floor: int) -> list[int]:
    """Events per component over the closed days `first` .. `last`, none before day `floor`."""
    out = [0] * cell.ncomp
    for d in range(max(first, floor), last + 1):
        counts = cell.day(d)
        if counts is not None:
            for c, n in enumerate(counts):
                out[c] += n
    return out


def _rolled(s: list[float], prior: list[float]) -> list[float]:
    """The shares `s`, those not learnt yet (NaN) at their roll's part (NaN: no roll either)."""
    return [x if x == x else r for x, r in zip(s, prior, strict=True)]


def _unlearnt_share(kind: str, cell: Cell) -> bool:
    """True when a learnt cell lacks one component of a share `kind` watches."""
    s = cell.s
    return s is not None and any(s[n] != s[n] or s[o] != s[o] for n, o, _ in SHARES[kind])


def _log_odds(k: int, n: int) -> float:
    return math.log((k + 0.5) / (n - k + 0.5))


def _peer_shares(
    kind: str, cells: Iterable[Cell], hour: int, rules: Rules, cfg: DetectorConfig
) -> dict[tuple[int, int], tuple[float, float]]:
    """Per (numerator component, window): the median log-odds share of the localities with
    enough payments in the window, and their robust spread (1.4826 MAD, at least
    `peer_sd_floor`). Only where `peer_min` localities have a say."""
    out: dict[tuple[int, int], tuple[float, float]] = {}
    for w in rules.share_windows:
        window = [c.comps(hour, w) for c in cells]
        for num, oth, _signal in SHARES[kind]:
            odds = [
                _log_odds(oc[num], oc[num] + oc[oth])
                for oc in window
                if oc[num] + oc[oth] >= rules.share_min_trials
            ]
            if len(odds) < cfg.peer_min:
                continue
            mid = statistics.median(odds)
            mad = statistics.median(abs(x - mid) for x in odds)
            out[(num, w)] = (mid, max(1.4826 * mad, cfg.peer_sd_floor))
    return out


def _peer_share_test(
    cell: Cell,
    peer: tuple[float, float],
    num: int,
    oth: int,
    hour: int,
    width: int,
    rules: Rules,
) -> float:
    """z of the locality's log-odds share against its peers' over the same window (0.0 when
    there is nothing to judge): for a share with nothing of its own learnt yet, a round's first.

    The window is the same for every peer (the rounds' days are national), so the calendar
    cancels; the variance is the peers' own spread plus the locality's binomial sampling. A
    window in which the peers' share would expect fewer than `share_min_trials` payments of the
    numerator (the cash days of a round) is not judged. The observed share must also be down
    to `share_ratio` of the peers' in odds, not in share: near a share of 1 (allowances paid
    to accounts) a regression from 0.95 to 0.77 is a fourfold rise in cash payments."""
    mid, sd = peer
    oc = cell.comps(hour, width)
    k, n = oc[num], oc[num] + oc[oth]
    p = 1.0 / (1.0 + math.exp(-mid))
    if n < rules.share_min_trials or p * n < rules.share_min_trials:
        return 0.0
    if k > rules.share_ratio * p / (1.0 - p) * (n - k):
        return 0.0
    var = sd * sd + 1.0 / (k + 0.5) + 1.0 / (n - k + 0.5)
    return (_log_odds(k, n) - mid) / math.sqrt(var)


def _spread_var(sums: list[float] | None, exp: float, obs: int, min_siblings: int) -> float | None:
    """The siblings' variance of o/e beyond Poisson, Σ((o - e)² - o) / Σ e² (a negative
    binomial's 1/shape, by the method of moments), the locality's own terms left out; None
    when fewer than `min_siblings` others expect anything there (a schedule nobody else keeps
    is not a shared one: a province that alone got its allowances yesterday)."""
    if sums is None or sums[2] - 1 < min_siblings:
        return None
    num = sums[0] - ((obs - exp) ** 2 - obs)
    den = sums[1] - exp * exp
    return max(0.0, num / den) if den > 1e-9 else None


class _Siblings:
    """How far the siblings of a parent stray from their own shares of it in the windows of one
    hour, for a kind paid on local schedules: summed on first need (a test about to fire), at
    most once an hour and parent."""

    __slots__ = (
        "_cash",
        "_rates",
        "_shares",
        "cells",
        "day_shape",
        "det",
        "hour",
        "kind",
        "par",
        "rules",
    )

    def __init__(
        self,
        det: Detector,
        kind: str,
        cells: list[Cell],
        par: dict[int, list[int]],
        hour: int,
        rules: Rules,
        steady: bool,
    ) -> None:
        self.det, self.kind, self.cells = det, kind, cells
        self.par, self.hour, self.rules = par, hour, rules
        self.day_shape = math.inf if steady else rules.day_shape
        self._rates: dict[tuple[int, int], list[float] | None] = {}
        self._shares: dict[tuple[int, int], tuple[float, float]] = {}
        self._cash: dict[int, int] = {}

    def rate(self, key: tuple[int, int]) -> list[float] | None:
        """On (window, batch component or -1 for the rate): Σ((o - e)² - o), Σ e² and their
        number over the siblings with an expectation, those with an open alert left out (a
        known stall is no norm: two provinces stalled at once, seed 92 from 2025-10-06); None
        when none has one. `_spread_var` leaves out the judged locality's own terms: a stall
        never widens its own noise. One window at a time: most hours need none, some one."""
        if key in self._rates:
            return self._rates[key]
        sums = [0.0, 0.0, 0.0]
        hour = self.hour
        w, b = key
        pw = self.par[w]
        roll_window = self.det.config.roll_window
        for cell in self.cells:
            s = cell.s
            if s is None or cell.alert is not None:  # a known stall is no norm
                continue
            cell.sync(hour)
            if b < 0:
                exp, obs, _ = _window_rate(cell, _window_shares(cell, w, roll_window), pw, hour, w)
            else:
                exp, obs = s[b] * pw[b], cell.comps(hour, w)[b]
            if exp > 0:  # False for a NaN share too
                sums[0] += (obs - exp) ** 2 - obs
                sums[1] += exp * exp
                sums[2] += 1
        self._rates[key] = out = sums if sums[2] else None
        return out

    def cash_only(self, num: int, oth: int) -> int:
        """How many of the siblings, those with an open alert left out, have a round that began
        in cash only today (`Detector._cash_only`): counted on first need, once a day."""
        n = self._cash.get(num)
        if n is None:
            det, hour, rules = self.det, self.hour, self.rules
            n = 0
            for cell in self.cells:
                if cell.s is None or cell.alert is not None:
                    continue
                cell.sync(hour)
                start = max(det.first_hour, cell.quiet_from)
                n += det._cash_only(cell, hour, num, oth, start, rules)
            self._cash[num] = n
        return n

    def share(self, num: int, oth: int, width: int) -> tuple[float, float]:
        """The median and robust spread (1.4826 MAD) of the siblings' share z-scores
        (`_share_test`, both ways) of `num` against `oth` over the window, those with an open
        alert left out; (0, inf) with fewer than `timing_min_siblings` of them: nothing to say
        a schedule is shared."""
        key = (num, width)
        if key in self._shares:
            return self._shares[key]
        rules, pw, hour = self.rules, self.par[width], self.hour
        zs = []
        for cell in self.cells:
            s = cell.s
            if s is None or s[num] != s[num] or s[oth] != s[oth] or cell.alert is not None:
                continue
            cell.sync(hour)
            z = _share_test(cell, pw, num, oth, hour, width, rules, self.day_shape, True)
            if z == z:
                zs.append(z)
        out = (0.0, math.inf)
        if len(zs) > self.det.config.timing_min_siblings:
            mid = statistics.median(zs)
            out = (mid, 1.4826 * statistics.median(abs(z - mid) for z in zs))
        self._shares[key] = out
        return out


def _below(
    obs: int,
    exp: float,
    alpha: float,
    width: int,
    rules: Rules,
    day_shape: float,
    base_var: float,
    sib: _Siblings | None,
    key: tuple[int, int],
    own: tuple[float, int],
    min_siblings: int,
) -> bool:
    """P(X <= obs) under the window's negative binomial at or below `alpha`? For a kind paid
    on local schedules, also with a variance at least the siblings' spread (`_Siblings.rate`,
    the locality's own terms `own` left out): summed only once the first test passes (more
    variance can only make it pass less), in the rare hours something is about to fire."""
    if nb_cdf(obs, exp, _shape(width, rules, day_shape, base_var)) > alpha:
        return False
    if sib is None:
        return True
    spread = _spread_var(sib.rate(key), *own, min_siblings)
    if spread is None:
        return False
    # the siblings' scatter already holds what the model's own variance stands for (a roll a
    # third off, a share learnt from few counts): at least as wide as theirs, not on top of it
    return spread <= base_var or nb_cdf(obs, exp, _shape(width, rules, day_shape, spread)) <= alpha
