"""tracker.text.sequences: a longest increasing subsequence, checked against brute force."""

from __future__ import annotations

from itertools import combinations

from hypothesis import given
from hypothesis import strategies as st

from tracker.text.sequences import longest_increasing


def _longest_by_brute_force(values: list[int]) -> int:
    for size in range(len(values), 0, -1):
        for picked in combinations(range(len(values)), size):
            if all(values[a] < values[b] for a, b in zip(picked, picked[1:], strict=False)):
                return size
    return 0


@given(st.lists(st.integers(0, 8), max_size=10))
def test_longest_increasing_is_increasing_and_longest(values: list[int]) -> None:
    run = longest_increasing(values)
    assert run == sorted(set(run))
    assert all(values[a] < values[b] for a, b in zip(run, run[1:], strict=False))
    assert len(run) == _longest_by_brute_force(values)


def test_longest_increasing_examples() -> None:
    assert longest_increasing([]) == []
    assert longest_increasing([3, 1, 2]) == [1, 2]
    assert longest_increasing([2, 2, 2]) == [2]
