"""Paragraphs of a text (`blocks`), which of them changed between two texts, and what a small
edit does to a paragraph's extraction without reading it again: an edit of plain words in
plain text keeps it (`_plain_edit`), one that adds or removes simple [[links]] there
changes just those (`_link_edit`).
"""

from __future__ import annotations

import bisect
import operator
import re
from collections import Counter
from functools import lru_cache
from itertools import chain
from typing import Any

from tracker.text.sections import Edit, _common_prefix, _common_suffix
from tracker.text.semantic.read import (
    _BLANK_LINES,
    _DEFAULT_SITE,
    _EMPTY,
    _PLAIN,
    _REF_CLOSE,
    _REF_OPEN,
    Item,
    _cache,
    _remember,
    _Shape,
    _tokenized,
)
from tracker.text.siteinfo import SiteInfo
from tracker.text.wikiparse import Budget


def blocks(text: str) -> list[str]:
    """Paragraphs (split at blank lines) that keep templates, tables, references whole."""
    return list(_blocks(text)[0])


# Text -> (its paragraphs, where each starts and ends in it). A dict, not an LRU: entries
# are made from others too (_quiet_change).
_BLOCKS: dict[str, tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]] = {}


def _blocks(text: str) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    done = _BLOCKS.get(text)
    if done is None:
        done = _paragraphs(text)
        if len(_BLOCKS) >= 2048:
            _BLOCKS.clear()  # simpler than an LRU, and safe across threads
        _BLOCKS[text] = done
    return done


def _paragraphs(text: str) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pending: list[str] = []
    depth = pos = first = 0
    for blank in chain(_BLANK_LINES.finditer(text), [None]):
        end = blank.start() if blank else len(text)
        piece = text[pos:end]
        if not pending:
            first = pos
        pending.append(piece)
        # Each counted string has a brace or an angle bracket: most paragraphs have neither.
        if "{" in piece or "}" in piece or "<" in piece or ">" in piece:
            depth += _depth(piece)
        if depth <= 0 or blank is None:
            out.append("\n\n".join(pending))
            starts.append(first)
            ends.append(end)
            pending = []
            depth = 0
        pos = blank.end() if blank else len(text)
    return tuple(out), tuple(starts), tuple(ends)


@lru_cache(maxsize=4096)
def _depth(piece: str) -> int:
    # Cached: most pieces are the same from revision to revision (hashing one is faster).
    depth = piece.count("{{") - piece.count("}}") + piece.count("{|") - piece.count("|}")
    depth += piece.count("<!--") - piece.count("-->")
    lowered = piece.lower()
    if "<ref" in lowered or "</ref" in lowered:
        depth += len(_REF_OPEN.findall(piece)) - len(_REF_CLOSE.findall(piece))
    return depth


def _changed(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The paragraphs of each side that the other lacks (a multiset difference)."""
    global _LAST_CHANGED
    last = _LAST_CHANGED
    if last[0] is old and last[1] is new:
        return last[2]  # a section's, asked again for the page's facts (page_changes)
    old_set, new_set = set(old), set(new)
    if len(old_set) == len(old) and len(new_set) == len(new):
        # No paragraph twice (the usual case): the same as below, in the same order.
        found = [b for b in old if b not in new_set], [b for b in new if b not in old_set]
    else:
        common = Counter(old) & Counter(new)
        found = list((Counter(old) - common).elements()), list((Counter(new) - common).elements())
    _LAST_CHANGED = (old, new, found)  # one tuple: safe across threads
    return found


_LAST_CHANGED: tuple = (None, None, None)


# ---- an edit of plain words --------------------------------------------------------------

# The tokenizer's markers: any other character is text wherever text is. And "_", which
# can make a behaviour switch ("__NOTOC__").
_MARKERS = re.compile(r"[{}\[\]<>|=&'#*;:/\-!\n\x00_]")
_MARKER_CHARS = frozenset("{}[]<>|=&'#*;:/-!\n\x00_")


def _plain_edit(block: str, shape: _Shape | None, p: int, end: int, added: str) -> _Shape | None:
    """The shape of `block` with block[p:end] replaced by `added`, if its tokens are the same
    but for one top-level text (so its extraction is the same); else None.

    Sure of a one-line paragraph whose tokenizer made every construct it tried (none it gave
    up on read past its end, into the edit), edited inside a top-level text without markers:
    plain characters start no construct, and only a free link reads them (its scheme back to
    a non-word character, its trailing punctuation on to a space). Text without "{", "[" or
    "<" has no construct at all. And the text around the edit must not join into a token
    ("}" "}", "-" "->": blocks() counts them). tests/test_semantic.py checks many edits.
    """
    removed = block[p:end]
    if shape is None:
        return None
    if (not removed or not added) and {block[p - 1 : p], block[end : end + 1]} <= _MARKER_CHARS:
        return None
    if not p and (added + block[end : end + 1])[:1] in _MARKER_CHARS:
        return None  # the line now starts with "*", "#", ";"... a list item, say
    if shape is _PLAIN:
        plain = not _NOT_PLAIN.search(removed) and not _NOT_PLAIN.search(added)
        return _PLAIN if plain else None
    if not shape[1] or "\n" in block or _MARKERS.search(removed) or _MARKERS.search(added):
        return None
    if "__" in block:
        return None  # letters edited between "__"s may make a behaviour switch
    spans = shape[0]
    # The first text that holds the edit: the first ending at or after it, if it starts by p
    # (texts are in order).
    k = bisect.bisect_left(spans, end, key=_END)
    if k == len(spans) or spans[k][0] > p:
        return None
    a, b, after_free, before_free = spans[k]
    if after_free and " " not in block[a:p]:
        return None  # maybe still a free link's trailing punctuation
    if (end == b and before_free) or (a == p and b == end and not added):
        return None  # a free link's scheme reads back to a non-word character; or no text
    delta = len(added) - len(removed)
    moved = (*spans[:k], (a, b + delta, after_free, before_free))
    texts = (*moved, *((x + delta, y + delta, f, g) for x, y, f, g in spans[k + 1 :]))
    return texts, True, _moved(shape[2], b, delta)


def _moved(
    constructs: tuple[tuple[int, int, list[Item]], ...], at: int, delta: int
) -> tuple[tuple[int, int, list[Item]], ...]:
    """The constructs, those from `at` on moved by `delta`."""
    if not delta:
        return constructs
    c = bisect.bisect_left(constructs, at, key=_START)
    return (*constructs[:c], *((x + delta, y + delta, i) for x, y, i in constructs[c:]))


_START = operator.itemgetter(0)
# A link the tokenizer reads as one wherever text is: letters, digits and spaces.
_SIMPLE_LINK = re.compile(r"\[\[([^\W_][^\W_ ]*(?: [^\W_]+)*)\]\]")


def _link_edit(
    block: str,
    done: tuple[dict[str, Any], _Shape | None],
    p: int,
    end: int,
    added: str,
    site: SiteInfo | None = None,
) -> tuple[dict[str, Any], _Shape] | None:
    """The extraction and shape of `block` (`done`: its own) with block[p:end] replaced by
    `added`, if that adds or removes simple [[links]] amid plain words; else None.

    As _plain_edit, but the edit may hold whole links (and the old text's constructs it
    covers must be such links): the tokens are the same, but for those links and the texts
    around them. Every text must stay (constructs never meet where they did not).
    """
    extraction, shape = done
    if shape is None or shape is _PLAIN or not shape[1] or "\n" in block or "__" in block:
        return None
    if not p and (added + block[end : end + 1])[:1] in _MARKER_CHARS:
        return None  # the line now starts with "*", "[["...: as in _plain_edit
    removed = block[p:end]
    pieces = _SIMPLE_LINK.split(added)  # text, link title, text, ...
    if _MARKERS.search(_SIMPLE_LINK.sub("", removed)) or any(map(_MARKERS.search, pieces[::2])):
        return None
    spans, _quiet, constructs = shape
    k1 = bisect.bisect_left(spans, p, key=_END)  # the texts the edit starts and ends in
    k2 = bisect.bisect_left(spans, end, key=_END)
    if k2 == len(spans) or spans[k1][0] > p or spans[k2][0] > end:
        return None
    first, last = spans[k1], spans[k2]
    if first[2] and " " not in block[first[0] : p]:
        return None  # maybe still a free link's trailing punctuation
    if end == last[1] and last[3]:
        return None  # a free link's scheme reads back to a non-word character
    c1 = bisect.bisect_left(constructs, first[1], key=_START)
    c2 = bisect.bisect_left(constructs, last[0], key=_START)
    if any(not _SIMPLE_LINK.fullmatch(block, x, y) for x, y, _i in constructs[c1:c2]):
        return None  # it takes away another construct
    head, tail = block[first[0] : p], block[end : last[1]]
    texts = [head + pieces[0], *pieces[2:-1:2], pieces[-1] + tail] if len(pieces) > 1 else []
    texts = texts or [head + added + tail]
    if not all(texts):
        return None
    if not any(map((block[:p] + added + block[end:]).__contains__, "{[<")):
        return _EMPTY, _PLAIN  # as _tokenized says of it
    new_spans, new_constructs = list(spans[:k1]), list(constructs[:c1])
    at = first[0]
    for n, text in enumerate(texts):
        if n:
            title = pieces[2 * n - 1]
            new_constructs.append((at, at + len(title) + 4, [("wikilink", title, None)]))
            at += len(title) + 4
        after = first[2] if n == 0 else False
        before = last[3] if n == len(texts) - 1 else False
        new_spans.append((at, at + len(text), after, before))
        at += len(text)
    delta = len(added) - len(removed)
    new_spans += ((x + delta, y + delta, f, g) for x, y, f, g in spans[k2 + 1 :])
    new_constructs += _moved(constructs[c2:], last[1], delta)
    # Only links change: as _assemble would make them (the first of each), the rest kept.
    site = site or _DEFAULT_SITE
    links = {}
    for _x, _y, found in new_constructs:
        for item in found:
            if item[0] == "wikilink" and item[1].strip() and not item[1].startswith("#"):
                target = site.link_target(item[1])
                if target.kind == "link" and target.full:
                    links[target.full] = True
    extraction = {**extraction, "links": links}
    return extraction, (tuple(new_spans), True, tuple(new_constructs))


_END = operator.itemgetter(1)
# What a paragraph without a construct must not get in an edit (and blocks() counts).
_NOT_PLAIN = re.compile(r"[{}\[\]<>|\-\n_]")


def _quiet_change(
    old_text: str, new_text: str, edit: Edit, site: SiteInfo, budget: Budget | None = None
) -> bool:
    """Whether `new_text`, `old_text` with `edit`, has plain words edited in one paragraph:
    then its extraction is the same, and so is every paragraph's (no change).

    Both are remembered for `new_text` (the old text of the next pair at ingest); so is the
    new paragraph's extraction if the edit added or removed links there (`_link_edit`).
    """
    paragraphs, starts, ends = _blocks(old_text)
    p, end, added = edit
    k = bisect.bisect_right(starts, p) - 1
    if k < 0 or end > ends[k] or ends[k] - starts[k] != len(paragraphs[k]):
        return False  # not in one paragraph, or in one joined from several (not one line)
    block, at = paragraphs[k], starts[k]
    done = _cache(site).get(block) or _remember(block, _tokenized(block, site, budget), site)
    shape = _plain_edit(block, done[1], p - at, end - at, added)
    found = None
    if shape is not None:
        found = done[0], shape
    elif "[[" in added or "[[" in block[p - at : end - at]:
        found = _link_edit(block, done, p - at, end - at, added, site)  # (a changed extraction)
    if found is None:  # (never when shape is not None)
        return False
    delta = len(new_text) - len(old_text)
    new_block = new_text[at : ends[k] + delta]
    _remember(new_block, found, site)
    _BLOCKS[new_text] = (
        (*paragraphs[:k], new_block, *paragraphs[k + 1 :]),
        (*starts[: k + 1], *(x + delta for x in starts[k + 1 :])),
        (*ends[:k], *(x + delta for x in ends[k:])),
    )
    return shape is not None


def _derive(old_block: str, new_block: str, site: SiteInfo, budget: Budget | None = None) -> None:
    """Remember the extraction of `new_block` without reading it if `_plain_edit` or
    `_link_edit` says what the one edit between the two (their common start and end kept)
    makes of `old_block`'s."""
    done = _cache(site).get(old_block) or _remember(
        old_block, _tokenized(old_block, site, budget), site
    )
    p = _common_prefix(old_block, new_block, 0)
    s = _common_suffix(old_block, new_block, min(len(old_block), len(new_block)) - p)
    added = new_block[p : len(new_block) - s]
    shape = _plain_edit(old_block, done[1], p, len(old_block) - s, added)
    if shape is not None:
        _remember(new_block, (done[0], shape), site)
    elif "[[" in added or "[[" in old_block[p : len(old_block) - s]:
        found = _link_edit(old_block, done, p, len(old_block) - s, added, site)
        if found is not None:
            _remember(new_block, found, site)
