"""Section lineage: which section of a revision each section of the next one continues.

The lead matches the lead; sections known to be the same (a far-apart pair whose stored
lineage gives both ends the same stable id) match each other; then sections with the same
heading path (duplicates by order, or by similarity when their numbers differ); then the
same heading elsewhere in the outline (with some shared content); then content similarity
alone (shared word pairs over the larger side, at least 0.5), which finds renamed sections;
last, one unmatched section on each side in the same place in the outline (between the same
matched neighbours) with similar or empty content. Similarity leaves out the page-level
block (categories, interlanguage links, DEFAULTSORT): it belongs to the page and moves to
whichever section is last, so it says nothing about which section is which.
`moved_sections` then says which matched sections changed place:
another parent, or another order among the siblings they kept (a longest increasing
subsequence keeps the most, so only the sections that really moved are marked).
"""

from __future__ import annotations

import operator
import re
from collections import defaultdict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from tracker.sections import Section
from tracker.worddiff import count_words

__all__ = ["content", "match_sections", "moved_sections"]

_PARENT = operator.attrgetter("parent")
_PATH = operator.attrgetter("path")
_SIMILAR = 0.5  # content similarity that makes two differently headed sections one
_SAME_HEADING_SIMILAR = 0.3  # same heading elsewhere in the outline: weaker evidence needed
_SAME_PLACE_SIMILAR = 0.2  # alone in the same place in the outline: weaker still
_FEW_WORDS = 5  # sections this small are judged by their heading and place only


def content(section: Section) -> str:
    """The text a section's changes are about: its body without surrounding blank space."""
    return section.content


def match_sections(old: Sequence[Section], new: Sequence[Section],
                   known: dict[int, int] | None = None) -> dict[int, int]:
    """Relate sections: {index in new: index in old}; each old section is used once.

    `known`: pairs {new index: old index} already known to be the same section (stored
    lineage); they are kept, the others are matched around them.
    """
    match = {0: 0}
    if not known and len(old) == len(new) and list(map(_PATH, old)) == list(map(_PATH, new)):
        # The usual edit: the same outline. Pairing by path pairs every section in order.
        return {j: j for j in range(len(new))}
    for j, i in (known or {}).items():
        if j and i and 0 <= j < len(new) and 0 <= i < len(old) and i not in match.values():
            match[j] = i
    taken = set(match.values())
    free_old = [s.index for s in old[1:] if s.index not in taken]
    free_new = [s.index for s in new[1:] if s.index not in match]

    def pair_groups(key_old, key_new, threshold: float | None) -> None:
        groups_old: dict[Any, list[int]] = defaultdict(list)
        groups_new: dict[Any, list[int]] = defaultdict(list)
        for i in free_old:
            groups_old[key_old(old[i])].append(i)
        for j in free_new:
            groups_new[key_new(new[j])].append(j)
        for key, js in groups_new.items():
            is_ = groups_old.get(key)
            if is_:
                for j, i in _align(is_, js, old, new, threshold):
                    match[j] = i
        free_old[:] = [i for i in free_old if i not in match.values()]
        free_new[:] = [j for j in free_new if j not in match]

    # The same path; then the same heading elsewhere in the outline.
    pair_groups(lambda s: s.path, lambda s: s.path, None)
    pair_groups(lambda s: s.heading, lambda s: s.heading, _SAME_HEADING_SIMILAR)
    if free_old and free_new:
        _pair_by_content(old, new, free_old, free_new, match)
    if free_old and free_new:
        _pair_by_place(old, new, free_old, free_new, match)
    return match


def _align(
    is_: list[int],
    js: list[int],
    old: Sequence[Section],
    new: Sequence[Section],
    threshold: float | None,
) -> list[tuple[int, int]]:
    """Pair sections sharing a heading: in order, or by similarity if their counts differ."""
    if threshold is None and len(is_) == len(js):
        return list(zip(js, is_, strict=True))
    # An order-keeping alignment that maximizes the total similarity (sizes are small).
    score = [[_similarity(old[i], new[j]) for j in js] for i in is_]
    if threshold is not None:
        score = [
            [
                v if v >= threshold or _tiny(old[i], new[j]) else -1.0
                for v, j in zip(row, js, strict=True)
            ]
            for row, i in zip(score, is_, strict=True)
        ]
    n, m = len(is_), len(js)
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for a in range(n - 1, -1, -1):
        for b in range(m - 1, -1, -1):
            take = score[a][b] + 1.0 + best[a + 1][b + 1] if score[a][b] >= 0 else -1.0
            best[a][b] = max(take, best[a + 1][b], best[a][b + 1])
    pairs = []
    a = b = 0
    while a < n and b < m:
        if score[a][b] >= 0 and best[a][b] == score[a][b] + 1.0 + best[a + 1][b + 1]:
            pairs.append((js[b], is_[a]))
            a += 1
            b += 1
        elif best[a][b] == best[a + 1][b]:
            a += 1
        else:
            b += 1
    return pairs


def _pair_by_content(
    old: Sequence[Section],
    new: Sequence[Section],
    free_old: list[int],
    free_new: list[int],
    match: dict[int, int],
) -> None:
    """Renamed sections: pair the most similar contents first."""
    candidates = []
    for j in free_new:
        size_new = -1
        for i in free_old:
            if content(old[i]) == content(new[j]):
                # A renamed section with its content untouched (mostly the same object):
                # similarity 1.0, without reading its words.
                if _has_words(content(new[j])):
                    candidates.append((-1.0, j, i))
                continue
            if size_new < 0:
                size_new = len(_shingles(content(new[j])))
            size_old = len(_shingles(content(old[i])))
            # The similarity is at most the ratio of the sizes: skip hopeless pairs.
            if (
                not size_new
                or not size_old
                or min(size_new, size_old) < _SIMILAR * max(size_new, size_old)
            ):
                continue
            score = _similarity(old[i], new[j])
            if score >= _SIMILAR:
                candidates.append((-score, j, i))
    candidates.sort()
    for _score, j, i in candidates:
        if j not in match and i in free_old:
            match[j] = i
            free_old.remove(i)
    free_new[:] = [j for j in free_new if j not in match]


def _pair_by_place(
    old: Sequence[Section],
    new: Sequence[Section],
    free_old: list[int],
    free_new: list[int],
    match: dict[int, int],
) -> None:
    """One unmatched section on each side between the same matched neighbours: the same."""
    matched_old = {i: j for j, i in match.items()}

    def slot_new(j: int) -> tuple[int, int | None]:
        before = max(k for k in range(j) if k in match)
        after = next((k for k in range(j + 1, len(new)) if k in match), None)
        return match[before], (match[after] if after is not None else None)

    def slot_old(i: int) -> tuple[int, int | None]:
        before = max(k for k in range(i) if k in matched_old)
        after = next((k for k in range(i + 1, len(old)) if k in matched_old), None)
        return before, after

    slots_old: dict[tuple[int, int | None], list[int]] = defaultdict(list)
    for i in free_old:
        slots_old[slot_old(i)].append(i)
    slots_new: dict[tuple[int, int | None], list[int]] = defaultdict(list)
    for j in free_new:
        slots_new[slot_new(j)].append(j)
    for slot, js in slots_new.items():
        is_ = slots_old.get(slot, [])
        if len(js) == 1 and len(is_) == 1:
            i, j = is_[0], js[0]
            both_empty = not content(old[i]) and not content(new[j])
            if old[i].level == new[j].level and (
                both_empty or _similarity(old[i], new[j]) >= _SAME_PLACE_SIMILAR
            ):
                match[j] = i
    free_old[:] = [i for i in free_old if i not in match.values()]
    free_new[:] = [j for j in free_new if j not in match]


_WORDS = re.compile(r"\w+")


# Lines of the page-level block: links with a prefix (categories, interlanguage links; a
# file's line has a caption or options and stays), DEFAULTSORT, behaviour switches.
_PAGE_LEVEL = re.compile(
    r"^[ \t]*(?:(?:\[\[[^\[\]|:\n]+:[^\[\]|\n]*(?:\|[^\[\]|\n]*)?\]\]|"
    r"\{\{DEFAULTSORT[:|][^{}\n]*\}\}|__[A-Z]+__)[ \t]*)+$", re.M)


@lru_cache(maxsize=1024)
def _shingles(text: str) -> frozenset[Any]:
    """Word pairs of a text (single words when it has one) without its page-level block:
    what similarity compares."""
    if "[[" in text or "__" in text or "DEFAULTSORT" in text:
        text = _PAGE_LEVEL.sub("", text)
    words = _WORDS.findall(text.lower())
    if len(words) < 2:
        return frozenset(words)
    return frozenset(zip(words, words[1:], strict=False))


def _has_words(text: str) -> bool:
    """Whether `text` has shingles (as _shingles reads it), without making them."""
    return _WORDS.search(text.lower()) is not None


def _similarity(a: Section, b: Section) -> float:
    """Shared word pairs over the larger side's: 1.0 the same, 0.0 nothing in common."""
    if content(a) == content(b):
        return 1.0 if _has_words(content(a)) else 0.0  # (sa & sb == sa == sb: no need)
    sa, sb = _shingles(content(a)), _shingles(content(b))
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / max(len(sa), len(sb))


def _tiny(a: Section, b: Section) -> bool:
    return count_words(content(a)) < _FEW_WORDS and count_words(content(b)) < _FEW_WORDS


def moved_sections(
    old: Sequence[Section],
    new: Sequence[Section],
    match: dict[int, int],
    old_ids: Sequence[str],
    new_ids: Sequence[str],
) -> set[int]:
    """New indices of matched sections whose place in the outline changed."""
    moved: set[int] = set()
    if (
        len(match) == len(old) == len(new)
        and all(map(operator.eq, match, match.values()))
        and list(map(_PARENT, old)) == list(map(_PARENT, new))
    ):
        return moved  # the same outline: every section under the same parent, in order
    siblings: dict[str | None, list[tuple[int, int]]] = defaultdict(list)
    for j, i in sorted(match.items()):
        if j == 0:
            continue
        up_new, up_old = new[j].parent, old[i].parent
        parent_new = new_ids[up_new] if up_new is not None else None
        parent_old = old_ids[up_old] if up_old is not None else None
        if parent_new != parent_old:
            moved.add(j)
        else:
            siblings[parent_new].append((j, i))
    for group in siblings.values():
        keep = _increasing([i for _j, i in group])
        moved.update(j for k, (j, _i) in enumerate(group) if k not in keep)
    return moved


def _increasing(values: list[int]) -> set[int]:
    """Positions of a longest strictly increasing subsequence of `values`."""
    tails: list[int] = []
    back = [-1] * len(values)
    for k, value in enumerate(values):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if values[tails[mid]] < value:
                lo = mid + 1
            else:
                hi = mid
        back[k] = tails[lo - 1] if lo else -1
        if lo == len(tails):
            tails.append(k)
        else:
            tails[lo] = k
    keep = set()
    k = tails[-1] if tails else -1
    while k >= 0:
        keep.add(k)
        k = back[k]
    return keep
