"""Diffs of token lists: difflib-style opcodes from a patience diff (worddiff's words,
lineage's section texts), and the longest increasing subsequence it anchors on (which
sections kept their order among their siblings, too)."""

from __future__ import annotations

import bisect
import operator
from collections.abc import Sequence
from difflib import SequenceMatcher


def longest_increasing(values: Sequence[int]) -> list[int]:
    """Positions, ascending, of a longest strictly increasing subsequence of `values`
    (patience sorting: O(n log n))."""
    if all(map(operator.lt, values, values[1:])):
        return list(range(len(values)))  # (the usual anchors of a small edit: all in order)
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


MAX_PAIRS = 1_000_000  # tokens(old) * tokens(new) in a gap difflib may look at


class Work:
    """What difflib may still compare in one diff, and whether a stretch was replaced
    whole because it could not."""

    __slots__ = ("pairs", "coarse")

    def __init__(self, pairs: int) -> None:
        self.pairs = pairs
        self.coarse = False


def opcodes(
    a: list[str], b: list[str], work: Work | None = None
) -> list[tuple[str, int, int, int, int]]:
    """difflib-style opcodes from a patience diff, robust to any input.

    Tokens found exactly once on each side are anchors (their longest increasing run);
    the gaps between anchors are trimmed and, when small enough, matched by difflib;
    a gap with no anchor and too big for difflib is one replacement. Linear-logarithmic
    on realistic text, never quadratic beyond `MAX_PAIRS`; and with `work`, difflib looks
    at `work.pairs` pairs at most in all, the gaps beyond are replacements (`work.coarse`).
    """
    blocks: list[tuple[int, int, int]] = []
    todo = [(0, len(a), 0, len(b))]
    while todo:
        alo, ahi, blo, bhi = todo.pop()
        # Trim the common head and tail of the gap (one block each).
        k, n = 0, min(ahi - alo, bhi - blo)
        while k < n and a[alo + k] == b[blo + k]:
            k += 1
        if k:
            blocks.append((alo, blo, k))
            alo += k
            blo += k
        k, n = 0, min(ahi - alo, bhi - blo)
        while k < n and a[ahi - 1 - k] == b[bhi - 1 - k]:
            k += 1
        if k:
            ahi -= k
            bhi -= k
            blocks.append((ahi, bhi, k))
        if alo == ahi or blo == bhi:
            continue
        if (ahi - alo == 1 or bhi - blo == 1) and max(ahi - alo, bhi - blo) < _ONE_TOKEN:
            # One token on a side (mostly one word replaced by another): it matches its
            # first equal on the other side, or nothing, as the anchors or difflib find it.
            found, anchored = _one_token(a, alo, ahi, b, blo, bhi)
            if not anchored:
                pairs = (ahi - alo) * (bhi - blo)  # (what difflib's part of the work is)
                if work is not None and MAX_PAIRS >= pairs > work.pairs:
                    work.coarse = True
                    continue
                if pairs > MAX_PAIRS:
                    continue
                if work is not None:
                    work.pairs -= pairs
            if found is not None:
                blocks.append(found)
            continue
        anchors = _anchors(a, alo, ahi, b, blo, bhi)
        if not anchors:
            pairs = (ahi - alo) * (bhi - blo)
            if work is not None and MAX_PAIRS >= pairs > work.pairs:
                work.coarse = True  # (too many in all: this one is a replacement)
            elif pairs <= MAX_PAIRS:
                if work is not None:
                    work.pairs -= pairs
                # difflib's junk heuristic ignores tokens filling over 1% of a long gap.
                matcher = SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=bhi - blo >= 200)
                for i, j, size in matcher.get_matching_blocks():
                    if size:
                        blocks.append((alo + i, blo + j, size))
            continue
        prev_i, prev_j = alo, blo
        for i, j in anchors:
            last = blocks[-1] if blocks else None
            if last and i == prev_i == last[0] + last[2] and j == prev_j == last[1] + last[2]:
                blocks[-1] = (last[0], last[1], last[2] + 1)  # a run of anchors: one block
            else:
                if i > prev_i or j > prev_j:
                    todo.append((prev_i, i, prev_j, j))
                blocks.append((i, j, 1))
            prev_i, prev_j = i + 1, j + 1
        todo.append((prev_i, ahi, prev_j, bhi))
    blocks.sort()
    runs: list[tuple[int, int, int]] = []
    for bi, bj, size in blocks:
        if runs and runs[-1][0] + runs[-1][2] == bi and runs[-1][1] + runs[-1][2] == bj:
            runs[-1] = (runs[-1][0], runs[-1][1], runs[-1][2] + size)
        else:
            runs.append((bi, bj, size))
    opcodes = []
    i = j = 0
    for bi, bj, size in runs + [(len(a), len(b), 0)]:
        if i < bi and j < bj:
            opcodes.append(("replace", i, bi, j, bj))
        elif i < bi:
            opcodes.append(("delete", i, bi, j, j))
        elif j < bj:
            opcodes.append(("insert", i, i, j, bj))
        if size:
            opcodes.append(("equal", bi, bi + size, bj, bj + size))
        i, j = bi + size, bj + size
    return opcodes


# A gap with one token on a side, the other shorter than this, is matched without difflib
# (`_one_token`). (From 200 tokens difflib may take a frequent token for junk.)
_ONE_TOKEN = 200


def _one_token(
    a: list[str], alo: int, ahi: int, b: list[str], blo: int, bhi: int
) -> tuple[tuple[int, int, int] | None, bool]:
    """The match (i, j, 1) in a gap with one token on a side: that token where the other
    side first has it, or None; and whether it is an anchor (found once there: `_anchors`),
    else difflib's (its longest match starts earliest, no junk below `_ONE_TOKEN`)."""
    if ahi - alo == 1:
        others = b[blo:bhi]
        found = others.count(a[alo])
        match = (alo, blo + others.index(a[alo]), 1) if found else None
    else:
        others = a[alo:ahi]
        found = others.count(b[blo])
        match = (alo + others.index(b[blo]), blo, 1) if found else None
    return match, found == 1


def _anchors(
    a: list[str], alo: int, ahi: int, b: list[str], blo: int, bhi: int
) -> list[tuple[int, int]]:
    """Pairs (i, j) of equal rare tokens, the longest run increasing in both i and j.

    Tokens found once on each side first (patience diff); failing those, tokens found the
    same small number of times on each side, paired in order (as histogram diff does).
    """
    where_a: dict[str, list[int]] = {}
    for k in range(alo, ahi):
        where_a.setdefault(a[k], []).append(k)
    where_b: dict[str, list[int]] = {}
    for k in range(blo, bhi):
        if b[k] in where_a:
            where_b.setdefault(b[k], []).append(k)
    pairs: list[tuple[int, int]] = []
    for rarity in (1, 2, 4, 8):
        for token, js in where_b.items():
            is_ = where_a[token]
            if len(js) == len(is_) and len(js) <= rarity:
                pairs.extend(zip(is_, js, strict=True))
        if pairs:
            break
    if not pairs:
        return []
    pairs.sort()
    # i already increasing: the longest run increasing in j too.
    return [pairs[n] for n in longest_increasing([j for _i, j in pairs])]
