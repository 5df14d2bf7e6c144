"""Stage 1's event-time synchronisation: partitions move together, nothing is lost or repeated,
and a silent partition does not hold the others back."""

from __future__ import annotations

import math
import random

import pytest

from streams.core.packing import Accepted, PackedBatch, Rejected
from streams.core.timesync import TimeSync

HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def batch(
    topic: str, events: list[tuple[int, float]], rejects: tuple[int, ...] = ()
) -> PackedBatch:
    return PackedBatch(
        topic,
        0,
        [Accepted(o, f"{topic}{o}", ts, "38", "", "src", {}) for o, ts in events],
        [Rejected(o, "MALFORMED_JSON", b"{}") for o in rejects],
    )


def test_a_partition_ahead_waits_for_the_slow_one() -> None:
    clock = Clock()
    sync = TimeSync(horizon=300, clock=clock)
    sync.add(batch("fast", [(i, i * 600.0) for i in range(48)]))  # 8 hours
    assert sync.release([("slow", 0)]) == []  # the slow partition has data nobody fetched yet
    assert sync.holding() == {("fast", 0)}
    sync.add(batch("slow", [(0, 0.0), (1, 1200.0)]))
    out = sync.release([("slow", 0)])  # more of "slow" is still in the broker
    released: dict[str, list[float]] = {}
    for b in out:
        released.setdefault(b.topic, []).extend(a.ts for a in b.accepted)
    assert released == {"fast": [0.0, 600.0, 1200.0], "slow": [0.0, 1200.0]}
    assert sync.holding() == {("fast", 0)}


def test_a_partition_caught_up_but_still_delivering_holds_the_others() -> None:
    """The replay's regression: "sparse" has fetched all the broker holds, but its producer
    is still filling its next batch while "dense" runs days ahead. Until "sparse" has been
    silent for `idle_s`, it stands at the newest it released."""
    clock = Clock()
    sync = TimeSync(horizon=300, idle_s=5, clock=clock)
    applied: dict[tuple[str, int], int] = {}
    released: dict[str, list[float]] = {"sparse": [], "dense": []}

    def release() -> None:
        for _ in range(10):  # stage 2 applies whatever was released, until nothing moves
            out = sync.release([], applied=dict(applied))
            for b in out:
                released[b.topic] += [a.ts for a in b.accepted]
                applied[(b.topic, b.partition)] = b.last_offset

    sync.add(batch("sparse", [(0, 0.0), (1, HOUR)]))
    sync.add(batch("dense", [(i, i * 600.0) for i in range(48 * 6)]))  # two days
    release()  # neither has more in the broker
    assert released["sparse"] == [0.0, HOUR]
    assert max(released["dense"]) <= HOUR + 300
    assert sync.floor() <= HOUR  # where "sparse"'s next record may start
    clock.now = 2.0
    sync.add(batch("sparse", [(2, 3 * HOUR)]))  # its next batch came
    release()
    assert 3 * HOUR <= max(released["dense"]) <= 3 * HOUR + 300
    clock.now = 8.0  # silent for longer than idle_s: it no longer holds "dense"
    release()
    assert max(released["dense"]) == (48 * 6 - 1) * 600.0
    assert sync.floor() == math.inf


def test_a_silent_partition_does_not_hold_the_others() -> None:
    clock = Clock()
    sync = TimeSync(horizon=300, idle_s=5, clock=clock)
    sync.add(batch("fast", [(i, i * 600.0) for i in range(10)]))
    assert [len(b.accepted) for b in sync.release([])] == [10]  # nobody else has data
    sync.add(batch("fast", [(10, 6000.0)]))
    assert sync.release([("stuck", 0)]) == []
    clock.now = 6.0  # "stuck" has not delivered anything for longer than idle_s
    assert [b.accepted[0].offset for b in sync.release([("stuck", 0)])] == [10]


def test_rejects_travel_with_their_neighbours() -> None:
    clock = Clock()
    sync = TimeSync(horizon=300, idle_s=30, clock=clock)
    sync.add(batch("a", [(0, 0.0), (2, 10 * HOUR)], rejects=(1, 3)))
    sync.add(batch("b", [(0, 0.0)]))
    out = {b.topic: b for b in sync.release([("b", 0)])}
    assert [r.offset for r in out["a"].rejected] == [1]
    assert [a.offset for a in out["a"].accepted] == [0]
    clock.now = 31.0  # "b" delivered nothing more for `idle_s`
    rest = sync.release([])
    [tail] = [b for b in rest if b.topic == "a"]
    assert ([a.offset for a in tail.accepted], [r.offset for r in tail.rejected]) == ([2], [3])


@pytest.mark.parametrize("seed", range(5))
def test_random_fetches_release_everything_once_in_event_time_step(seed: int) -> None:
    rng = random.Random(seed)
    clock = Clock()
    horizon = 300.0
    sync = TimeSync(horizon=horizon, clock=clock)
    # Three partitions of different densities over two days, each in time order.
    logs = {
        t: sorted(rng.uniform(0, 48 * HOUR) for _ in range(n))
        for t, n in (("a", 3000), ("b", 300), ("c", 40))
    }
    fetched = dict.fromkeys(logs, 0)
    released: dict[str, list[int]] = {t: [] for t in logs}
    newest = -math.inf
    for _round in range(100_000):
        if all(fetched[t] == len(logs[t]) for t in logs) and not sync.holding():
            break
        clock.now += 0.01
        for t, ts in logs.items():
            if (t, 0) in sync.holding() or fetched[t] == len(ts):
                continue  # paused, or nothing left
            n = rng.randint(1, 800)  # a fetch: up to 800 records of the partition
            first = fetched[t]
            chunk = list(enumerate(ts[first : first + n], first))
            fetched[t] += len(chunk)
            sync.add(batch(t, chunk))
        pending = [(t, 0) for t in logs if fetched[t] < len(logs[t])]
        for b in sync.release(pending):
            for a in b.accepted:
                # Nothing comes more than the horizon behind what was released before it.
                assert a.ts >= newest - horizon - 1e-6
                newest = max(newest, a.ts)
            released[b.topic] += [a.offset for a in b.accepted]
    for t, ts in logs.items():
        assert released[t] == list(range(len(ts)))


def test_records_an_earlier_process_left_in_flight_hold_the_others() -> None:
    """After a restart, stage 2 still has records of partition "old" to apply that this
    process never released: their place (where stage 2 has got to in them) is the floor."""
    sync = TimeSync(horizon=300, clock=Clock())
    sync.add(batch("new", [(0, 0.0), (1, 2 * HOUR)]))
    out = sync.release([], applied={("new", 0): -1}, backlog={("old", 0): 0.0})
    assert [a.offset for b in out for a in b.accepted] == [0]
    assert sync.marks([], {("new", 0): -1}, {("old", 0): 0.0})[("old", 0)] == 0.0
    out = sync.release([], applied={("new", 0): 0}, backlog={})  # stage 2 caught up on "old"
    assert [a.offset for b in out for a in b.accepted] == [1]


def test_the_floor_is_the_slowest_place_of_the_last_release() -> None:
    clock = Clock()
    sync = TimeSync(horizon=300, idle_s=30, clock=clock)
    assert sync.floor() == math.inf  # nothing on the way
    sync.add(batch("a", [(0, 100.0), (1, 5 * HOUR)]))
    sync.add(batch("b", [(0, 50.0)]))
    sync.release([], applied={})  # both released batches are in flight, unapplied
    assert sync.floor() == 50.0
    sync.release([], applied={("a", 0): 0, ("b", 0): 0})
    assert sync.floor() == 50.0  # "b" is caught up, but may deliver more any moment
    clock.now = 31.0
    sync.release([], applied={("a", 0): 0, ("b", 0): 0})
    assert sync.floor() == 5 * HOUR  # "b" went silent: what is left is "a"'s second event
