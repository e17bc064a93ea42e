"""tracker.text.sequences: a longest increasing subsequence, checked against brute force; the
patience diff's opcodes."""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tracker.text import sequences
from tracker.text.sequences import Work, longest_increasing, opcodes


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
    assert longest_increasing([1, 4, 7]) == [0, 1, 2]  # in order: all (the shortcut)
    assert longest_increasing([1, 4, 4, 7]) == [0, 2, 3]  # not strictly: not all


@given(
    st.lists(st.sampled_from("abcdefgh"), max_size=60),
    st.lists(st.sampled_from("abcdefghxy"), max_size=60),
)
@example(list("abcdefgh" * 3), list("abcdefgh" * 3))  # all anchors in one run
@example(list("xabcdefghy"), list("zabcdefghw"))
def test_opcodes_rebuild_b_in_merged_runs(a: list[str], b: list[str]) -> None:
    """The opcodes cover both lists in order, their equal ranges are equal, and runs of
    matches (a trimmed head or tail, anchors one after the other) are one opcode each."""
    ops = opcodes(a, b)
    rebuilt: list[str] = []
    i = j = 0
    for tag, i1, i2, j1, j2 in ops:
        assert (i1, j1) == (i, j)
        if tag == "equal":
            assert a[i1:i2] == b[j1:j2]
        rebuilt += b[j1:j2]
        i, j = i2, j2
    assert (i, j) == (len(a), len(b)) and rebuilt == b
    tags = [op[0] for op in ops]
    assert all(x != "equal" or y != "equal" for x, y in zip(tags, tags[1:], strict=False))
    if a == b and a:
        assert ops == [("equal", 0, len(a), 0, len(b))]


@given(
    st.lists(st.lists(st.sampled_from("abcx"), min_size=1, max_size=4), max_size=8),
    st.lists(st.lists(st.sampled_from("abcy"), min_size=1, max_size=4), max_size=8),
    st.integers(0, 40),
)
@example([["a"]], [["b"]], 100)  # one word replaced by another
@example([["a"]], [["b", "a", "a"]], 100)  # found more than once: difflib's first
@example([["a", "b", "a"]], [["a"]], 0)  # no work left: replaced whole
def test_opcodes_one_token_gaps_are_the_general_ones(
    a_parts: list[list[str]], b_parts: list[list[str]], budget: int
) -> None:
    # Gaps with one token on a side (anchors apart: "|" is one) matched without difflib:
    # the same opcodes, work spent and coarseness as through the anchors and difflib.
    a = [t for part in a_parts for t in [*part, "|"]]
    b = [t for part in b_parts for t in [*part, "|"]]
    shortcut, general = Work(budget), Work(budget)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sequences, "_ONE_TOKEN", 0)
        want = opcodes(a, b, general)
    assert opcodes(a, b, shortcut) == want
    assert (shortcut.pairs, shortcut.coarse) == (general.pairs, general.coarse)
