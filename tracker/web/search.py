"""Phrase search for the web UI: the user's text as an FTS5 query, and snippets of the hits.

The index and the query are the store's (tracker.store.search: which pages and revisions
contain the phrase, and when it came and went). What is here is how the web asks and
shows: `phrase_query` makes user text into a query that cannot carry FTS5 syntax, and
`snippet` cuts an excerpt around the hits from the latest text containing them, a port of
FTS5's snippet() (same window choice, same highlighting), since a contentless index has no
text for snippet(). Tokens come from the store's `TOKENIZER`, the index's own tokenizer
character for character, so the phrase found in the text is the one FTS5 matched.

Matching is FTS5's: case and diacritics are ignored and so is punctuation and markup between
words, so the phrase "Pakistan NATO relations" finds ``[[Pakistan]]–NATO relations``.
"""

from __future__ import annotations

import bisect
import logging
import re
from dataclasses import dataclass, field

from tracker.store import Store
from tracker.store.search import TOKENIZER, PageHits, find

log = logging.getLogger(__name__)

SNIPPET_TOKENS = 32
ELLIPSIS = "…"
MAX_QUERY_CHARS = 500


# --- queries -------------------------------------------------------------------------------


def phrase_query(text: str, all_words: bool = False) -> str | None:
    """An FTS5 query for user text: one quoted phrase, or every word quoted and ANDed.

    Quoting every token keeps FTS5 syntax (AND, NEAR, *, column filters) out of user input.
    None when the text has no word characters at all.
    """
    words = [w for w in "".join(c if c.isalnum() else " " for c in text).split() if w]
    if not words:
        return None
    if all_words:
        return " AND ".join(f'"{w}"' for w in words)
    return '"' + " ".join(words) + '"'


def query_phrases(query: str) -> list[list[str]]:
    """The phrases of a `phrase_query` query, each as the folded tokens FTS5 matches."""
    return [
        [token for _, _, token in TOKENIZER.tokens(phrase)]
        for phrase in re.findall(r'"([^"]*)"', query)
    ]


@dataclass
class Result:
    """A page whose stored revisions contain the query: where (the store's hits), and an
    excerpt of its latest text containing it, as (text, is_hit) pieces."""

    hits: PageHits
    snippet: list[tuple[str, bool]] = field(default_factory=list)


def search(
    store: Store,
    query: str,
    page_id: int | None = None,
    max_runs: int = 50,
    snippets: int | None = None,
) -> list[Result]:
    """Every page whose stored revisions contain the FTS ``query`` (from `phrase_query`),
    with presence stretches and, for the first ``snippets`` pages (None: all), a snippet of
    the latest text containing it."""
    phrases = query_phrases(query)
    results: list[Result] = []
    for hits in find(store, query, page_id, max_runs):
        result = Result(hits)
        if snippets is None or len(results) < snippets:
            result.snippet = snippet(store.blob(hits.latest_blob), phrases)
            if not any(is_hit for _, is_hit in result.snippet):
                log.warning(
                    "search: blob %d matched %s but the text has no such words",
                    hits.latest_blob,
                    query,
                )
        results.append(result)
    return results


# --- snippets ------------------------------------------------------------------------------


def snippet(
    text: str, phrases: list[list[str]], tokens: int = SNIPPET_TOKENS
) -> list[tuple[str, bool]]:
    """An excerpt of ``text`` around the phrases (`query_phrases`), as (text, is_hit) pieces.

    FTS5's ``snippet(t, col, open, close, '…', tokens)`` in Python, for a contentless index:
    the window of ``tokens`` tokens scoring best (1000 for each phrase it shows, 1 for each
    further instance; +100 for starting a sentence, +120 the text), each phrase instance
    marked whole, "…" where the window cuts the text. No instance: the start of the text.
    """
    toks = TOKENIZER.tokens(text)
    size = len(toks)
    insts = _instances([folded for _, _, folded in toks], phrases)
    lengths = [len(p) for p in phrases]
    positions = [pos for pos, _ in insts]

    def score(start: int, seen: set[int]) -> tuple[int, int, int]:
        total, first, last = 0, -1, 0
        for i in range(
            bisect.bisect_left(positions, start), bisect.bisect_left(positions, start + tokens)
        ):
            pos, phrase = insts[i]
            total += 1 if phrase in seen else 1000
            seen.add(phrase)
            if first < 0:
                first = pos
            last = pos + lengths[phrase]
        return total, first, last

    firsts = _sentence_starts(text, toks)
    best_score, best_start = 0, 0
    for pos, _ in insts:
        total, first, last = score(pos, set())
        if total > best_score:
            adjusted = first - int((tokens - (last - first)) / 2)
            adjusted = max(0, min(adjusted, size - tokens))
            best_score, best_start = total, adjusted
        if firsts and size > tokens:
            k = max(0, bisect.bisect_right(firsts, pos) - 1)
            if firsts[k] < pos:
                total = score(firsts[k], set())[0] + (120 if firsts[k] == 0 else 100)
                if total > best_score:
                    best_score, best_start = total, firsts[k]
    return _cut(text, toks, _coalesce(insts, lengths), best_start, best_start + tokens - 1)


def _instances(folded: list[str], phrases: list[list[str]]) -> list[tuple[int, int]]:
    """(position, phrase index) of every instance of each phrase, by position."""
    found = []
    for index, words in enumerate(phrases):
        if not words:
            continue
        head, width = words[0], len(words)
        found += [
            (pos, index)
            for pos, token in enumerate(folded)
            if token == head and folded[pos : pos + width] == words
        ]
    found.sort()
    return found


def _sentence_starts(text: str, toks: list[tuple[int, int, str]]) -> list[int]:
    """Positions of tokens starting a sentence: the first, and each after ". " or ": "."""
    starts = [0] if toks else []
    for pos in range(1, len(toks)):
        i = toks[pos][0] - 1
        while i >= 0 and text[i] in " \t\n\r":
            i -= 1
        if i != toks[pos][0] - 1 and i >= 0 and text[i] in ".:":
            starts.append(pos)
    return starts


def _coalesce(insts: list[tuple[int, int]], lengths: list[int]) -> list[tuple[int, int]]:
    """Instances as (first, last) token positions, overlapping ones merged."""
    merged: list[tuple[int, int]] = []
    for pos, phrase in insts:
        end = pos + lengths[phrase] - 1
        if merged and pos <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((pos, end))
    return merged


def _cut(
    text: str, toks: list[tuple[int, int, str]], marks: list[tuple[int, int]], first: int, last: int
) -> list[tuple[str, bool]]:
    """Tokens ``first``..``last`` of ``text`` with the ``marks`` in them, as FTS5 highlights:
    a mark starting before the window is not shown; one cut by its end closes there."""
    pieces: list[tuple[str, bool]] = []
    if first > 0:
        pieces.append((ELLIPSIS, False))
    marks = [m for m in marks if m[0] >= first]
    mark = 0
    offset = toks[first][0] if first > 0 and first < len(toks) else 0
    open_ = False
    for pos in range(first, min(last, len(toks) - 1) + 1):
        start, end, _ = toks[pos]
        if mark < len(marks) and pos == marks[mark][0]:
            pieces.append((text[offset:start], False))
            offset, open_ = start, True
        if mark < len(marks) and pos == marks[mark][1]:
            pieces.append((text[offset:end], True))
            offset, open_ = end, False
            mark += 1
        if pos == last:
            pieces.append((text[offset:end], open_))
            offset = end
    if last >= len(toks) - 1:
        pieces.append((text[offset:], False))
    else:
        pieces.append((ELLIPSIS, False))
    merged: list[tuple[str, bool]] = []
    for piece, is_hit in pieces:
        if not piece:
            continue
        if merged and merged[-1][1] == is_hit:
            merged[-1] = (merged[-1][0] + piece, is_hit)
        else:
            merged.append((piece, is_hit))
    return merged
