"""Word-level diff of two texts, as operations that rebuild the new text from the old.

Operations (dicts, JSON-ready), positions are character offsets into the *old* text:

    {"type": "insert", "at": int, "text": str, "before": str}
    {"type": "delete", "at": int, "text": str, "before": str}
    {"type": "move", "from": int, "at": int, "text": str}

A replacement is a delete and an insert at the same ``at``. A move is a sentence or
paragraph (three words or more) cut at ``from`` and put back at ``at``. ``before`` is up to
40 characters of old text just before the change, on the same line, for a reader.
`apply_word_diff(old, word_diff(old, new)) == new` always holds, byte for byte.

The diff is hierarchical so that it stays fast on any input: lines first (a wikitext
paragraph is one line), then sentences inside changed lines, then words with their trailing
spaces, then words, spaces and punctuation inside small changed runs. Each level trims the
common head and tail, anchors on tokens found once on each side (patience diff, then rare
tokens as histogram diff does), and lets difflib match only small gaps; a gap too big for
that is one replacement, so no pair of texts costs quadratic time (a 250 KB worst case takes
tenths of a second). For a reader, short equal runs between two changes are folded into one
replacement, and lone insertions and deletions slide to line and word boundaries.

Where the two texts start and stop differing (said by an edit, or found in C for long
texts) spares most of that work with the same result: the lines, sentences and words they
share around it are cut off at places where both split the same, not split and compared.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import accumulate, compress, count
from operator import ne
from typing import Any

from tracker.text.sections import _common_prefix, _common_suffix
from tracker.text.sequences import Work, opcodes

__all__ = [
    "apply_word_diff",
    "count_section_words",
    "count_words",
    "overlay",
    "word_counts",
    "word_diff",
]

Op = dict[str, Any]

_WORD = re.compile(r"\w+")
# Each byte (an ASCII or Latin-1 character) \w does not match, as a space: what is left between
# spaces are the words.
_BYTE_WORDS = bytes(c if _WORD.match(chr(c)) else 0x20 for c in range(256))
# A sentence: up to terminators followed by a space, with its trailing spaces. Possessive
# runs: the same matches as one character at a time, five times faster.
_SENTENCE = re.compile(r"(?:[^.!?\n]++|[.!?](?!\s))*+[.!?]*+[^\S\n]*+\n?")
# What ends a sentence before a word (_SENTENCE) in a line, when a word follows.
_STOPS = (". ", "! ", "? ")
# What makes a text more than one sentence (_SENTENCE): a terminator, or a line after a line.
_SENTENCES_APART = re.compile(r"[.!?]|\n.", re.DOTALL)
_UNIT = re.compile(r"\w+\s*|[^\w\s]\s*|\s+")
_FINE = re.compile(r"\w+|\s+|[^\w\s]")

# Above these sizes a level does not look deeper: the run is one replacement.
_MAX_WORK = (
    1 << 24
)  # token pairs difflib may look at in all the gaps of one word_diff: then gaps are replaced whole
_MAX_FINE = 60  # units on either side for the word/space/punctuation level
_MIN_MOVE_WORDS = 3
_MAX_SLIDE = 1024  # characters a lone insertion or deletion may slide, each way


def count_words(text: str) -> int:
    """How many word tokens (letters, digits) a text has; spaces and punctuation are not."""
    if text.isascii():  # the same count as the pattern's, six times faster
        return len(text.encode("ascii").translate(_BYTE_WORDS).split())
    if max(text) <= "\xff":  # Latin-1 (most European text): the same, byte by byte
        return len(text.encode("latin-1").translate(_BYTE_WORDS).split())
    return len(_WORD.findall(text))


@lru_cache(maxsize=256)
def _count_cached(text: str) -> int:
    return count_words(text)


def count_section_words(text: str) -> int:
    """count_words of a whole section's content; the same text again (a section removed
    and restored, as in blanking wars) is counted once."""
    return _count_cached(text) if len(text) <= 16_384 else count_words(text)


def word_diff(
    old: str,
    new: str,
    edit: tuple[int, int, str] | None = None,
    *,
    coarse: list[str] | None = None,
    by_words: bool = False,
) -> list[Op]:
    """The operations that turn `old` into `new`, in the order `apply_word_diff` needs.

    `edit`, if known: `new` is `old` with old[start:end] replaced by `new` text. It only
    saves time (the result is the same). `coarse`: if given, the reason is appended to it
    when the diff is coarser than usual because it would take too long otherwise: more
    than `_MAX_WORK` token pairs for difflib (megabytes of text without anchors), the
    stretches beyond are each one replacement.
    `by_words`: words matched across the whole texts, not line by line first, and short
    equal runs between changes kept, not folded into the change: as a word diff tool
    pairs them (what a reader sees, tracker.text.reader).
    """
    if old == new:
        return []
    work = Work(_MAX_WORK)
    ops = _operations(old, new, edit, work, by_words)
    if work.coarse and coarse is not None:
        coarse.append(
            f"more than {_MAX_WORK:,} pairs of words to compare: long stretches without "
            "a word in common replaced whole"
        )
    for op in ops:
        if op["type"] != "move":
            op["before"] = _before(old, op["at"])
    return ops


def word_counts(old: str, new: str, edit: tuple[int, int, str] | None = None) -> tuple[int, int]:
    """The words (`count_words`) that `word_diff(old, new, edit)` inserts and deletes; moved
    words are neither. (What the store keeps of a word diff: its operations are not made.)"""
    if old == new:
        return 0, 0
    added = removed = 0
    for op in _operations(old, new, edit, Work(_MAX_WORK)):
        if op["type"] == "insert":
            added += count_words(op["text"])
        elif op["type"] == "delete":
            removed += count_words(op["text"])
    return added, removed


def _operations(
    old: str, new: str, edit: tuple[int, int, str] | None, work: Work, by_words: bool = False
) -> list[Op]:
    """`word_diff`'s operations, without their ``before``."""
    ops: list[Op] = []
    line = _edited_line(old, edit) if edit is not None and not by_words else None
    if by_words:
        _diff(old, new, 0, 2, ops, work, fold=False)
    elif line is not None:
        # One line changed: what the line level would find; diff its sentences.
        start, end = line
        at, to, added = edit  # type: ignore[misc]
        delta = len(added) - (to - at)
        ends = None
        if at == min(len(old), len(new)) or old[at] != new[at]:  # (where they start to differ)
            ends = at - start, end - to
        _diff(old[start:end], new[start : end + delta], start, 1, ops, work, ends=ends)
    else:
        _diff_lines(old, new, ops, work, edit)
    _slide(old, ops)
    return _find_moves(ops)


# What str.splitlines() splits at besides "\n".
_OTHER_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_OTHER_LINE_BREAK = re.compile(f"[{_OTHER_LINE_BREAKS}]")


def _other_line_break(text: str, start: int = 0, end: int | None = None) -> bool:
    """Whether text[start:end] breaks lines at another character than "\n". (In a long
    stretch, a search for each: the pattern of them all reads a character at a time,
    twenty times slower.)"""
    end = len(text) if end is None else end
    if end - start < 256:
        return _OTHER_LINE_BREAK.search(text, start, end) is not None
    return any(text.find(c, start, end) >= 0 for c in _OTHER_LINE_BREAKS)


def _edited_line(old: str, edit: tuple[int, int, str]) -> tuple[int, int] | None:
    """The line of `old` (start, end) holding the edit, if it holds it all and it and the
    edit break lines at "\n" only: then it is the one line that the line level finds
    changed (the lines around it are the same, whatever breaks them)."""
    start, end, added = edit
    if "\n" in added or old.find("\n", start, end) >= 0 or _other_line_break(added):
        return None
    line_start = old.rfind("\n", 0, start) + 1
    line_end = old.find("\n", end)
    line_end = len(old) if line_end < 0 else line_end + 1
    if _other_line_break(old, line_start, line_end):
        return None
    return line_start, line_end


def _diff_lines(
    old: str, new: str, ops: list[Op], work: Work, edit: tuple[int, int, str] | None = None
) -> None:
    """`_diff` of two whole texts from the line level: the lines the texts share around
    their change are not split and compared (`_changed_lines`), the same operations."""
    found = _changed_lines(old, new, edit)
    if found is None:
        _diff(old, new, 0, 0, ops, work)
        return
    start, old_end, new_end, p, same = found
    a, b = old[start:old_end], new[start:new_end]
    same = min(same, len(old) - p, len(new) - p)  # (not overlapping the common start)
    ends = p - start, max(0, old_end - (len(old) - same))
    # One line each: replaced, as the line level would find; their sentences are diffed.
    level = 1 if a and b and a.find("\n", 0, -1) < 0 and b.find("\n", 0, -1) < 0 else 0
    _diff(a, b, start, level, ops, work, ends=ends)


# Texts shorter than this (both together) are split into lines whole: faster than finding
# where they differ (`_changed_lines`) when no edit says it.
_SEARCH_ENDS = 8_000


def _changed_lines(
    old: str, new: str, edit: tuple[int, int, str] | None = None
) -> tuple[int, int, int, int, int] | None:
    """(start, old end, new end, ...): the lines that the line level of `_diff` would not find in
    the common head and tail of two different texts' lines, as one stretch of each, from
    the common start and end of the texts (`edit`, if it says them), not from their lines.
    None if the stretch breaks lines at other characters than "\n" (there the two ways
    may differ), or the texts are short and no edit says where they differ.

    The stretch starts at the line holding the first difference (the lines before are the
    head; that line differs) and ends where the common end starts a line in both texts
    (not before the head ends: the tail of whole lines, as the line level takes it). Then
    where the texts start to differ, and how long their common end is (up to the start)."""
    shorter = min(len(old), len(new))
    p = -1
    if edit is not None:
        p, same = edit[0], len(old) - edit[1]
        if p < shorter and old[p] == new[p]:
            p = -1  # (not where they start to differ)
    if p < 0:
        if len(old) + len(new) < _SEARCH_ENDS:
            return None
        p = _common_prefix(old, new, 0)
        same = -1
    start = old.rfind("\n", 0, p) + 1
    limit = shorter - start
    if same < 0:
        same = _common_suffix(old, new, limit)
    elif same >= limit:
        same = limit
    elif old[-same - 1] == new[-same - 1]:  # (an edit's end may not be where they differ)
        same = _common_suffix(old, new, limit, at_least=same)
    old_end, new_end = len(old) - same, len(new) - same
    if same and not (
        (old_end == 0 or old[old_end - 1] == "\n") and (new_end == 0 or new[new_end - 1] == "\n")
    ):
        # The next line start in the common end: one in both texts.
        newline = old.find("\n", old_end)
        shift = len(old) - old_end if newline < 0 else newline + 1 - old_end
        old_end += shift
        new_end += shift
    if _other_line_break(old, start, old_end) or _other_line_break(new, start, new_end):
        return None
    return start, old_end, new_end, p, same


def overlay(old: str, ops: Iterable[Op]) -> list[tuple[str, str]] | None:
    """The old text with `word_diff` operations laid over it, as (kind, text) pieces in
    reading order, or None when they do not fit it (a deletion that is not there, an
    operation past the end or overlapping another).

    Kinds: "equal" (old text kept), "insert", "delete", "moved_delete" (where a move took
    its words from), "moved_insert" (where it put them). At one position a deletion comes
    before the insertion that replaces it (old words struck out, then the new ones): the
    kept and inserted pieces, in order, are the new text (`apply_word_diff`). Every output
    that shows word edits (terminal, digests, web) lays them over the text with this.
    """
    events: list[tuple[int, int, int, str, str]] = []
    for index, op in enumerate(ops):
        kind, text = op["type"], str(op.get("text", ""))
        if kind == "insert":
            events.append((int(op["at"]), 0, index, "insert", text))
        elif kind == "delete":
            events.append((int(op["at"]), 1, index, "delete", text))
        elif kind == "move":
            events.append((int(op["from"]), 1, index, "moved_delete", text))
            events.append((int(op["at"]), 0, index, "moved_insert", text))
        else:
            raise ValueError(f"unknown operation type {kind!r}")
    events.sort(key=lambda e: (e[0], -e[1], e[2]))
    pieces: list[tuple[str, str]] = []
    cursor = 0
    deleted_at = -1  # where the last deletion started: an insertion there follows it
    for pos, is_delete, _index, kind, text in events:
        if pos > len(old) or (pos < cursor and (is_delete or pos != deleted_at)):
            return None
        if pos >= cursor:
            pieces.append(("equal", old[cursor:pos]))
            cursor = pos
        if is_delete:
            if old[pos : pos + len(text)] != text:
                return None
            cursor, deleted_at = pos + len(text), pos
        pieces.append((kind, text))
    pieces.append(("equal", old[cursor:]))
    return [piece for piece in pieces if piece[1]]


def apply_word_diff(old: str, ops: Iterable[Op]) -> str:
    """Apply `word_diff` operations to the old text; raises ValueError if they do not fit."""
    pieces = overlay(old, ops)
    if pieces is None:
        raise ValueError("the operations do not fit the old text")
    return "".join(text for kind, text in pieces if kind in ("equal", "insert", "moved_insert"))


# ---- the levels ------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _sentences(text: str) -> list[str]:
    found = _SENTENCE.findall(text)
    if found and not found[-1]:
        found.pop()  # the empty match at the end (the only empty one: \n? ends any other)
    return found


def _units(text: str) -> list[str]:
    return _UNIT.findall(text)


def _fine(text: str) -> list[str]:
    return _FINE.findall(text)


_LEVELS: list[Callable[[str], list[str]]] = [_lines, _sentences, _units, _fine]


def _diff(
    old: str,
    new: str,
    base: int,
    level: int,
    ops: list[Op],
    work: Work | None = None,
    fold: bool = True,
    *,
    ends: tuple[int, int] | None = None,
) -> None:
    """Append the operations turning `old` (at offset `base` of the whole old text) into `new`.

    `ends`, if known: (where they start to differ, the length of a common end of theirs
    not overlapping that start). Sentences and words around that are not split and
    compared (`_around`): the same operations."""
    if ends is not None and 0 < level < 3 and len(old) + len(new) > _AROUND:
        old, new, base, ends = _around(old, new, base, level, ends)
    if not old:
        ops.append({"type": "insert", "at": base, "text": new})
        return
    if not new:
        ops.append({"type": "delete", "at": base, "text": old})
        return
    if level == 1 and not _SENTENCES_APART.search(old) and not _SENTENCES_APART.search(new):
        level = 2  # one sentence each: replaced whole, as the sentence level would find
        if ends is not None and len(old) + len(new) > _AROUND:
            old, new, base, ends = _around(old, new, base, level, ends)
    a = _LEVELS[level](old)
    b = _LEVELS[level](new)
    # The common head and tail: most edits touch a small part of a section. (The index of
    # the first unequal pair of tokens, found in C: the end of the loop it replaces.)
    limit = min(len(a), len(b))
    head = next(compress(count(), map(ne, a, b)), limit)
    tail = min(next(compress(count(), map(ne, reversed(a), reversed(b))), limit), limit - head)
    a_mid = a[head : len(a) - tail]
    b_mid = b[head : len(b) - tail]
    offset = base + sum(map(len, a[:head]))
    if not a_mid or not b_mid:
        _emit(a_mid, b_mid, offset, ops)
        return
    if len(a_mid) == 1 == len(b_mid) or set(a_mid).isdisjoint(b_mid):
        # No token in common (as for one changed line): what opcodes says, without difflib.
        found = [("replace", 0, len(a_mid), 0, len(b_mid))]
    else:
        found = opcodes(a_mid, b_mid, work)
    positions = list(accumulate(map(len, a_mid), initial=offset))
    if fold and level > 0 and len(found) > 2:
        found = _absorb_small_equalities(found, positions, b_mid)
    inner = None  # the ends of the one replacement of all the middle, if so
    if ends is not None and len(found) == 1:
        behind = base + len(old) - positions[-1]  # (the tail's length)
        inner = ends[0] - (offset - base), max(0, ends[1] - behind)
    for tag, i1, i2, j1, j2 in found:
        if tag == "equal":
            continue
        old_part = "".join(a_mid[i1:i2])
        new_part = "".join(b_mid[j1:j2])
        at = positions[i1]
        if tag == "replace" and _deeper(level, i2 - i1, j2 - j1):
            _diff(old_part, new_part, at, level + 1, ops, work, fold, ends=inner)
        else:
            _emit_text(old_part, new_part, at, ops)


_AROUND = 120  # characters (both texts) from which a level cuts what they share (`_around`)


def _around(
    old: str, new: str, base: int, level: int, ends: tuple[int, int]
) -> tuple[str, str, int, tuple[int, int]]:
    """`old` and `new` without the sentences (`level` 1) or words (2) they share before
    and after where they differ, as their splits into those would have them: the
    stretches left, the offset of the old one and their `ends`.

    Cut where a sentence or word starts in both: after a line break (for words, before
    a word), a space before a word, a terminator and a space before a word (sentences),
    with these characters in the common start or end that `ends` say."""
    p, same = ends
    marks = _STOPS if level == 1 else (" ", "\n")
    start = 0
    if p > 0:
        if level == 1:
            start = old.rfind("\n", 0, p - 1) + 1
        for mark in marks:
            m = old.rfind(mark, start, p - 1)
            while m >= 0 and old[m + len(mark)].isspace():
                m = old.rfind(mark, start, m + len(mark) - 1)
            if m >= 0:
                start = m + len(mark)
    tail = len(old) - same
    end = len(old)
    if level == 1:
        end = old.find("\n", tail) + 1 or end
    for mark in marks:
        m = old.find(mark, tail, end)
        while m >= 0 and m + len(mark) < end and old[m + len(mark)].isspace():
            m = old.find(mark, m + 1, end)
        if m >= 0 and m + len(mark) < end:
            end = m + len(mark)
    if not start and end == len(old):
        return old, new, base, ends
    shift = len(new) - len(old)
    cut = (p - start, same - (len(old) - end))
    return old[start:end], new[start : end + shift], base + start, cut


def _absorb_small_equalities(
    opcodes: list[tuple[str, int, int, int, int]], a_positions: list[int], b: list[str]
) -> list[tuple[str, int, int, int, int]]:
    """Merge a short equal run between two changes into one replacement.

    A rewritten sentence otherwise reads as a dozen changes aligned on "the", "is" or "|":
    noise. As diff-match-patch's semantic cleanup: an equal run no longer than the change
    on each side of it becomes part of the change.
    """
    b_positions = [0]
    for token in b:
        b_positions.append(b_positions[-1] + len(token))

    def size(op: tuple[str, int, int, int, int]) -> int:
        _tag, i1, i2, j1, j2 = op
        return max(a_positions[i2] - a_positions[i1], b_positions[j2] - b_positions[j1])

    out: list[tuple[str, int, int, int, int]] = []
    for op in opcodes:
        out.append(op)
        while (
            len(out) >= 3
            and out[-1][0] != "equal"
            and out[-2][0] == "equal"
            and out[-3][0] != "equal"
            and size(out[-2]) <= min(size(out[-3]), size(out[-1]))
        ):
            first, _equal, last = out[-3:]
            del out[-3:]
            out.append(("replace", first[1], last[2], first[3], last[4]))
    return out


def _deeper(level: int, n_old: int, n_new: int) -> bool:
    if level < 2:
        return True  # lines -> sentences -> words: each level is linear or bounded
    if level == 2:
        return n_old <= _MAX_FINE and n_new <= _MAX_FINE
    return False


def _emit(a: list[str], b: list[str], at: int, ops: list[Op]) -> None:
    _emit_text("".join(a), "".join(b), at, ops)


def _emit_text(old: str, new: str, at: int, ops: list[Op]) -> None:
    if old:
        ops.append({"type": "delete", "at": at, "text": old})
    if new:
        ops.append({"type": "insert", "at": at, "text": new})


def _before(old: str, at: int) -> str:
    """Up to 40 characters of context before `at`, on its line, from a word start."""
    start = max(old.rfind("\n", 0, at) + 1, at - 40)
    context = old[start:at]
    if start > 0 and old[start - 1 : start] not in ("\n", " ") and " " in context:
        context = context[context.index(" ") + 1 :]
    return context


# ---- readability -----------------------------------------------------------------------


def _slide(old: str, ops: list[Op]) -> None:
    """Shift lone insertions and deletions to the most natural of their equivalent places.

    Inserting "]\n* [[Bar]" before the last "]" of "* [[Foo]]" gives the same text as
    inserting "\n* [[Bar]]" after it; a reader wants the second. Like git's diff heuristics,
    prefer runs that begin and end at line, then word, boundaries. (Within `_MAX_SLIDE`
    characters each way: in a run of thousands of "a b a b" any place is as natural.)
    """
    n = len(ops)
    lower = 0  # where the old text the operations before this one touch ends
    for k, op in enumerate(ops):
        if k:
            last = ops[k - 1]
            lower = max(lower, last["at"] + (len(last["text"]) if last["type"] == "delete" else 0))
        at = op["at"]
        if (k and ops[k - 1]["at"] == at) or (k + 1 < n and ops[k + 1]["at"] == at):
            continue  # part of a replacement
        text = op["text"]
        size = len(text)
        upper = ops[k + 1]["at"] if k + 1 < n else len(old)
        if op["type"] == "insert":
            # Equivalent places: rotate the text through the equal characters around it.
            reach = min(size * 4, _MAX_SLIDE)
            left = 0
            while at - left > lower and old[at - left - 1] == text[(size - 1 - left) % size]:
                left += 1
                if left >= reach:
                    break
            right = 0
            while at + right < upper and old[at + right] == text[right % size]:
                right += 1
                if right >= reach:
                    break
            if not left and not right:
                continue
            # The text rotated by q - at starts at text[(q - at) % size].
            best = _best(old, at - left, at + right, 0, text, at)
            op["text"] = _rotate(text, best - at)
            op["at"] = best
        else:
            left = 0
            while at - left > lower and old[at - left - 1] == old[at + size - left - 1]:
                left += 1
                if left >= _MAX_SLIDE:
                    break
            right = 0
            while at + size + right < upper and old[at + right] == old[at + size + right]:
                right += 1
                if right >= _MAX_SLIDE:
                    break
            if not left and not right:
                continue
            best = _best(old, at - left, at + right, size, old, 0)
            op["text"] = old[best : best + size]
            op["at"] = best


def _rotate(text: str, shift: int) -> str:
    shift %= len(text)
    return text[shift:] + text[:shift]


def _best(old: str, lo: int, hi: int, skip: int, run: str, at: int) -> int:
    """The place q in lo..hi where a run is most natural, the last of the best: its edges
    count 2 at a line end, 1 at a space (the outside or the inside one), on each side.

    The run at q: old[q : q + skip] (a deletion), or, `skip` 0, `run` (inserted at `at`)
    rotated to start at run[(q - at) % len(run)] (an insertion).
    """
    size = len(run) if not skip else skip
    best, top = hi, -1
    for q in range(hi, lo - 1, -1):  # down, so that the first best is the last
        first = run[(q - at) % size] if not skip else old[q]
        last = run[(q - at - 1) % size] if not skip else old[q + skip - 1]
        outside = old[q - 1] if q else ""
        score = (
            2
            if outside == "\n" or not outside or first == "\n"
            else 1
            if outside.isspace() or first.isspace()
            else 0
        )
        outside = old[q + skip] if q + skip < len(old) else ""
        score += (
            2
            if outside == "\n" or not outside or last == "\n"
            else 1
            if outside.isspace() or last.isspace()
            else 0
        )
        if score > top:
            best, top = q, score
            if score == 4:
                break  # none better
    return best


# ---- moves -----------------------------------------------------------------------------


def _find_moves(ops: list[Op]) -> list[Op]:
    """Pair a deleted and an inserted run with the same words (three or more) as a move."""
    if len(ops) < 2 or (len(ops) == 2 and ops[0]["at"] == ops[1]["at"]):
        return ops  # (the usual cases: one insertion, deletion or replacement: no move)
    inserts: dict[str, deque[int]] = {}  # the inserts not used yet, by their words
    for k, op in enumerate(ops):
        if op["type"] == "insert":
            core = op["text"].strip()
            if count_words(core) >= _MIN_MOVE_WORDS:
                inserts.setdefault(core, deque()).append(k)
    if not inserts:
        return ops
    result: list[tuple[int, int, Op]] = []  # (position, sequence, op) to sort stably
    used: set[int] = set()
    moves: dict[int, tuple[int, str]] = {}  # insert index -> (where the text was, the text)
    for k, op in enumerate(ops):
        if op["type"] != "delete":
            continue
        core = op["text"].strip()
        waiting = inserts.get(core)
        if not waiting:
            continue
        # The first not at the same place (a replacement's own insert: one at most).
        n = next((n for n, i in enumerate(waiting) if ops[i]["at"] != op["at"]), -1)
        if n < 0:
            continue
        i = waiting[n]
        del waiting[n]
        used.add(i)
        used.add(k)
        lead = op["text"][: len(op["text"]) - len(op["text"].lstrip())]
        trail = op["text"][len(lead) + len(core) :]
        # What is left of the deleted run is whitespace around the moved text.
        if lead:
            result.append((op["at"], k * 4, {"type": "delete", "at": op["at"], "text": lead}))
        if trail:
            at = op["at"] + len(lead) + len(core)
            result.append((at, k * 4 + 1, {"type": "delete", "at": at, "text": trail}))
        moves[i] = (op["at"] + len(lead), core)
    for k, op in enumerate(ops):
        if k in used and op["type"] == "delete":
            continue
        if k in moves:
            source, core = moves[k]
            text = op["text"]
            lead = text[: len(text) - len(text.lstrip())]
            trail = text[len(lead) + len(core) :]
            at = op["at"]
            if lead:
                result.append((at, k * 4, {"type": "insert", "at": at, "text": lead}))
            result.append((at, k * 4 + 1, {"type": "move", "from": source, "at": at, "text": core}))
            if trail:
                result.append((at, k * 4 + 2, {"type": "insert", "at": at, "text": trail}))
        else:
            result.append((op["at"], k * 4, op))
    result.sort(key=lambda item: (item[0], item[1]))
    return [op for _pos, _seq, op in result]
