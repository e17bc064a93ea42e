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

import heapq
import math
import operator
import re
from collections import defaultdict, deque
from collections.abc import Container, Sequence
from functools import lru_cache
from typing import Any

from tracker.text.sections import Section
from tracker.text.sequences import longest_increasing, opcodes
from tracker.text.worddiff import count_words

__all__ = ["content", "match_sections", "moved_sections"]

_PARENT = operator.attrgetter("parent")
_PATH = operator.attrgetter("path")
_SIMILAR = 0.5  # content similarity that makes two differently headed sections one
_SAME_HEADING_SIMILAR = 0.3  # same heading elsewhere in the outline: weaker evidence needed
_SAME_PLACE_SIMILAR = 0.2  # alone in the same place in the outline: weaker still
_FEW_WORDS = 5  # sections this small are judged by their heading and place only
# Work bounds, for thousands of sections renamed or sharing a heading at once (the results
# of fewer are the same as without them):
_ALIGN_CELLS = 2_500  # pairs of same-headed sections aligned by similarity, else by a diff
_ALL_PAIRS = 10_000  # pairs of unmatched sections compared all, else through an index
_POSTINGS = 512  # postings of its rarest word pairs read per new section, at most
_COMPARED = 16  # old sections compared with each new one, at most (those sharing the most)


def content(section: Section) -> str:
    """The text a section's changes are about: its body without surrounding blank space."""
    return section.content


def match_sections(
    old: Sequence[Section], new: Sequence[Section], known: dict[int, int] | None = None
) -> dict[int, int]:
    """Relate sections: {index in new: index in old}; each old section is used once.

    `known`: pairs {new index: old index} already known to be the same section (stored
    lineage); they are kept, the others are matched around them.
    """
    match = {0: 0}
    if not known and len(old) == len(new) and list(map(_PATH, old)) == list(map(_PATH, new)):
        # The usual edit: the same outline. Pairing by path pairs every section in order.
        return {j: j for j in range(len(new))}
    taken = {0}  # the old sections matched (match's values)
    for j, i in (known or {}).items():
        if j and i and 0 <= j < len(new) and 0 <= i < len(old) and i not in taken:
            match[j] = i
            taken.add(i)
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
                    taken.add(i)
        free_old[:] = [i for i in free_old if i not in taken]
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
    if len(is_) * len(js) > _ALIGN_CELLS:
        return _align_many(is_, js, old, new, threshold)
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


def _align_many(
    is_: list[int],
    js: list[int],
    old: Sequence[Section],
    new: Sequence[Section],
    threshold: float | None,
) -> list[tuple[int, int]]:
    """`_align` of hundreds of sections with one heading (the same "Notes" a thousand times):
    sections with equal contents pair as a diff of the two sequences pairs them; each run of
    changed ones between is aligned as `_align` does if small, else paired in order (those
    alike enough, for a heading found elsewhere)."""
    pairs: list[tuple[int, int]] = []
    a, b = [content(old[i]) for i in is_], [content(new[j]) for j in js]
    for tag, i1, i2, j1, j2 in opcodes(a, b):
        if tag == "equal":
            pairs += zip(js[j1:j2], is_[i1:i2], strict=True)
        elif tag == "replace":
            if (i2 - i1) * (j2 - j1) <= _ALIGN_CELLS:
                pairs += _align(is_[i1:i2], js[j1:j2], old, new, threshold)
            else:
                pairs += [
                    (j, i) for j, i in zip(js[j1:j2], is_[i1:i2], strict=False)
                    if threshold is None or _tiny(old[i], new[j])
                    or _similarity(old[i], new[j]) >= threshold
                ]  # fmt: skip
    return pairs


def _pair_by_content(
    old: Sequence[Section],
    new: Sequence[Section],
    free_old: list[int],
    free_new: list[int],
    match: dict[int, int],
) -> None:
    """Renamed sections: pair the most similar contents first."""
    if len(free_new) * len(free_old) <= _ALL_PAIRS:
        candidates = _all_pairs(old, new, free_old, free_new)
    else:
        candidates = _indexed_pairs(old, new, free_old, free_new)
    candidates.sort()
    free = set(free_old)
    for _score, j, i in candidates:
        if j not in match and i in free:
            match[j] = i
            free.remove(i)
    free_old[:] = [i for i in free_old if i in free]
    free_new[:] = [j for j in free_new if j not in match]


def _all_pairs(
    old: Sequence[Section], new: Sequence[Section], free_old: list[int], free_new: list[int]
) -> list[tuple[float, int, int]]:
    """(-similarity, new index, old index) of every pair alike enough."""
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
    return candidates


def _indexed_pairs(
    old: Sequence[Section], new: Sequence[Section], free_old: list[int], free_new: list[int]
) -> list[tuple[float, int, int]]:
    """`_all_pairs` for thousands of sections, with work in proportion to their text.

    Equal contents pair in order (what sorting all their pairs would give). A new section
    is compared only with the old ones sharing its rarest word pairs (an inverted index):
    two sections alike enough share at least one of the rarest half plus one of either's
    (prefix filtering); the postings read and the sections compared per new section are
    bounded (`_POSTINGS`, `_COMPARED`), so boilerplate shared by hundreds of sections costs
    no quadratic time: of sections alike by such word pairs only, some may go unpaired.
    """
    candidates: list[tuple[float, int, int]] = []
    same: dict[str, deque[int]] = defaultdict(deque)
    for i in free_old:
        same[content(old[i])].append(i)
    rest = []
    for j in free_new:
        text = content(new[j])
        found = same.get(text)
        if found and _has_words(text):
            candidates.append((-1.0, j, found.popleft()))
        else:
            rest.append(j)
    words_old = {i: _shingles(content(old[i])) for i in free_old}  # (more than the cache)
    postings: dict[Any, list[int]] = defaultdict(list)
    for i in free_old:
        for shingle in words_old[i]:
            postings[shingle].append(i)
    for j in rest:
        words_new = _shingles(content(new[j]))
        if not words_new:
            continue
        rare = sorted(words_new, key=lambda g: (len(postings.get(g, ())), g))
        shared: dict[int, int] = defaultdict(int)
        budget = _POSTINGS
        for shingle in rare[: len(rare) - math.ceil(_SIMILAR * len(rare)) + 1]:
            found_in = postings.get(shingle, ())
            budget -= len(found_in)
            if budget < 0:
                break
            for i in found_in:
                shared[i] += 1
        for i in heapq.nsmallest(_COMPARED, shared, key=lambda i: (-shared[i], i)):
            sa = words_old[i]
            if min(len(sa), len(words_new)) < _SIMILAR * max(len(sa), len(words_new)):
                continue
            score = len(sa & words_new) / max(len(sa), len(words_new))
            if score >= _SIMILAR:
                candidates.append((-score, j, i))
    return candidates


def _pair_by_place(
    old: Sequence[Section],
    new: Sequence[Section],
    free_old: list[int],
    free_new: list[int],
    match: dict[int, int],
) -> None:
    """One unmatched section on each side between the same matched neighbours: the same."""
    matched_old = {i: j for j, i in match.items()}
    # The matched sections around each place (the lead is matched): of the new text as the
    # old sections they are, of the old text as themselves.
    before_new, after_new = _neighbours(len(new), match)
    before_old, after_old = _neighbours(len(old), matched_old)

    def slot_new(j: int) -> tuple[int, int | None]:
        after = after_new[j]
        return match[before_new[j]], (match[after] if after is not None else None)

    def slot_old(i: int) -> tuple[int, int | None]:
        return before_old[i], after_old[i]

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
    taken = set(match.values())
    free_old[:] = [i for i in free_old if i not in taken]
    free_new[:] = [j for j in free_new if j not in match]


def _neighbours(size: int, matched: Container[int]) -> tuple[list[int], list[int | None]]:
    """For each index below `size`: the last matched one before it, the first after it."""
    before: list[int] = [0] * size
    after: list[int | None] = [None] * size
    last = 0
    for k in range(size):
        before[k] = last
        if k in matched:
            last = k
    upcoming: int | None = None
    for k in range(size - 1, -1, -1):
        after[k] = upcoming
        if k in matched:
            upcoming = k
    return before, after


_WORDS = re.compile(r"\w+")


# Lines of the page-level block: links with a prefix (categories, interlanguage links; a
# file's line has a caption or options and stays), DEFAULTSORT, behaviour switches.
_PAGE_LEVEL = re.compile(
    r"^[ \t]*(?:(?:\[\[[^\[\]|:\n]+:[^\[\]|\n]*(?:\|[^\[\]|\n]*)?\]\]|"
    r"\{\{DEFAULTSORT[:|][^{}\n]*\}\}|__[A-Z]+__)[ \t]*)+$",
    re.M,
)


@lru_cache(maxsize=128)  # the unpaired sections of two revisions, and more: 20 MB at 1024
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
        keep = set(longest_increasing([i for _j, i in group]))
        moved.update(j for k, (j, _i) in enumerate(group) if k not in keep)
    return moved
