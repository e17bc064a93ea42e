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
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable
from functools import lru_cache
from itertools import accumulate, compress, count
from operator import ne
from typing import Any

from tracker.text.sequences import Work, opcodes

__all__ = ["apply_word_diff", "count_section_words", "count_words", "overlay", "word_diff"]

Op = dict[str, Any]

_WORD = re.compile(r"\w+")
# Each ASCII byte \w does not match, as a space: what is left between spaces are the words.
_ASCII_WORDS = bytes(c if _WORD.match(chr(c)) else 0x20 for c in range(256))
# A sentence: up to terminators followed by a space, with its trailing spaces. Possessive
# runs: the same matches as one character at a time, five times faster.
_SENTENCE = re.compile(r"(?:[^.!?\n]++|[.!?](?!\s))*+[.!?]*+[^\S\n]*+\n?")
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
        return len(text.encode("ascii").translate(_ASCII_WORDS).split())
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
    ops: list[Op] = []
    work = Work(_MAX_WORK)
    line = _edited_line(old, edit) if edit is not None and not by_words else None
    if by_words:
        _diff(old, new, 0, 2, ops, work, fold=False)
    elif line is None:
        _diff(old, new, 0, 0, ops, work)
    else:
        # One line changed: what the line level would find; diff its sentences.
        start, end = line
        delta = len(edit[2]) - (edit[1] - edit[0])  # type: ignore[index]
        _diff(old[start:end], new[start : end + delta], start, 1, ops, work)
    if work.coarse and coarse is not None:
        coarse.append(
            f"more than {_MAX_WORK:,} pairs of words to compare: long stretches without "
            "a word in common replaced whole"
        )
    _slide(old, ops)
    ops = _find_moves(ops)
    for op in ops:
        if op["type"] != "move":
            op["before"] = _before(old, op["at"])
    return ops


# What str.splitlines() splits at besides "\n".
_OTHER_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def _edited_line(old: str, edit: tuple[int, int, str]) -> tuple[int, int] | None:
    """The line of `old` (start, end) holding the edit, if it holds it all and it and the
    edit break lines at "\n" only: then it is the one line that the line level finds
    changed (the lines around it are the same, whatever breaks them)."""
    start, end, added = edit
    if "\n" in added or old.find("\n", start, end) >= 0 or _OTHER_LINE_BREAKS.search(added):
        return None
    line_start = old.rfind("\n", 0, start) + 1
    line_end = old.find("\n", end)
    line_end = len(old) if line_end < 0 else line_end + 1
    if _OTHER_LINE_BREAKS.search(old, line_start, line_end):
        return None
    return line_start, line_end


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
) -> None:
    """Append the operations turning `old` (at offset `base` of the whole old text) into `new`."""
    if not old:
        ops.append({"type": "insert", "at": base, "text": new})
        return
    if not new:
        ops.append({"type": "delete", "at": base, "text": old})
        return
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
    for tag, i1, i2, j1, j2 in found:
        if tag == "equal":
            continue
        old_part = "".join(a_mid[i1:i2])
        new_part = "".join(b_mid[j1:j2])
        at = positions[i1]
        if tag == "replace" and _deeper(level, i2 - i1, j2 - j1):
            _diff(old_part, new_part, at, level + 1, ops, work, fold)
        else:
            _emit_text(old_part, new_part, at, ops)


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
    if len(ops) < 2:
        return ops  # (the usual case: one insertion or deletion)
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
