"""The commune oracle (`benchmarks/commune_oracle.py`): its best run of days and its noise."""

from __future__ import annotations

import pytest

from benchmarks.commune_oracle import oracle


def test_the_oracle_takes_the_best_run_of_whole_days_below_the_drop_ratio() -> None:
    p, run = oracle([[20.0]] * 4, [20, 1, 0, 19])
    assert run == (2, 1, 40.0)  # days 2-3: the drop itself, not diluted by the days around it
    assert p < 1e-4
    assert oracle([[20.0]] * 3, [20, 18, 22]) == (1.0, None)  # nothing at or below 35 %


def test_components_with_their_own_day_noise_make_a_steadier_sum() -> None:
    one, _ = oracle([[30.0]] * 3, [1, 1, 0])
    two, _ = oracle([[15.0, 15.0]] * 3, [1, 1, 0])
    assert two < one / 10
    # a day that expects little weighs little: the run's shape follows the expected counts
    uneven, _ = oracle([[1.0], [89.0]], [0, 2])
    even, _ = oracle([[45.0], [45.0]], [0, 2])
    assert uneven > even
    assert uneven == pytest.approx(oracle([[89.0]], [2])[0], rel=0.5)
