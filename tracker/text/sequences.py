"""A longest increasing subsequence: what a word diff anchors on (worddiff) and which
sections kept their order among their siblings (lineage)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence


def longest_increasing(values: Sequence[int]) -> list[int]:
    """Positions, ascending, of a longest strictly increasing subsequence of `values`
    (patience sorting: O(n log n))."""
    tails: list[int] = []  # the smallest last value of an increasing run of each length
    ends: list[int] = []  # ...and its position
    back = [-1] * len(values)
    for k, value in enumerate(values):
        length = bisect.bisect_left(tails, value)
        back[k] = ends[length - 1] if length else -1
        if length == len(tails):
            tails.append(value)
            ends.append(k)
        else:
            tails[length] = value
            ends[length] = k
    run: list[int] = []
    k = ends[-1] if ends else -1
    while k >= 0:
        run.append(k)
        k = back[k]
    run.reverse()
    return run
