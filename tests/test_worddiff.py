"""tracker.text.worddiff: word-level operations that rebuild the new text exactly, fast on
anything."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tracker.text import worddiff
from tracker.text.worddiff import (
    apply_word_diff,
    count_section_words,
    count_words,
    overlay,
    word_counts,
    word_diff,
)


def _texts(ops):
    return [(op["type"], op["text"]) for op in ops]


def test_word_diff_identical_is_empty():
    assert word_diff("Same text.", "Same text.") == []


def test_word_diff_replaced_word():
    ops = word_diff("The quick brown fox.", "The quick red fox.")
    assert ops == [
        {"type": "delete", "at": 10, "text": "brown", "before": "The quick "},
        {"type": "insert", "at": 10, "text": "red", "before": "The quick "},
    ]


def test_word_diff_from_and_to_nothing():
    assert _texts(word_diff("", "New text.")) == [("insert", "New text.")]
    assert _texts(word_diff("Old text.", "")) == [("delete", "Old text.")]


def test_word_diff_inserted_list_item_reads_naturally():
    ops = word_diff("* [[Foo]]", "* [[Foo]]\n* [[Bar]]")
    assert _texts(ops) == [("insert", "\n* [[Bar]]")]


def test_word_diff_inserted_line_starts_at_a_line():
    ops = word_diff("A\nC\n", "A\nB\nC\n")
    assert ops == [{"type": "insert", "at": 2, "text": "B\n", "before": ""}]


def test_word_diff_moved_sentence():
    old = "The treaty was signed in 1949. The alliance grew over decades. It has members."
    new = "The alliance grew over decades. The treaty was signed in 1949. It has members."
    ops = word_diff(old, new)
    moves = [op for op in ops if op["type"] == "move"]
    assert len(moves) == 1
    assert moves[0]["text"] in ("The treaty was signed in 1949.", "The alliance grew over decades.")
    # Nothing but the move and the spaces around it.
    assert all(op["type"] == "move" or not op["text"].strip() for op in ops)
    assert apply_word_diff(old, ops) == new


def test_word_diff_moved_paragraph():
    old = "First paragraph with words.\n\nSecond paragraph, other words.\n\nThird."
    new = "Second paragraph, other words.\n\nFirst paragraph with words.\n\nThird."
    ops = word_diff(old, new)
    assert [op["type"] for op in ops].count("move") == 1
    assert apply_word_diff(old, ops) == new


def test_word_diff_short_runs_are_not_moves():
    ops = word_diff("a b c d", "c d a b")
    assert all(op["type"] != "move" for op in ops)


def test_count_words():
    assert count_words("The [[North Atlantic|NATO]] (1949), 32 members!") == 7
    assert count_words(" ,.;\n ") == 0


@given(
    st.text(alphabet=st.characters(max_codepoint=0x7F))
    | st.text(alphabet=st.characters(max_codepoint=0xFF))
    | st.text()
)
@example("snake_case x2 \x0b\x0c\r\t-- a.b")
@example("déjà vu — 1,5 km")
@example("Straße, ½ µm, ª º ¹ × ÷ \xa0\x85 naïve")
def test_count_words_is_the_count_of_word_runs(text: str) -> None:
    """The ASCII and Latin-1 fast paths count what the pattern \\w+ finds, whatever the
    characters."""
    assert count_words(text) == len(re.findall(r"\w+", text))
    assert count_section_words(text) == count_words(text)


def test_apply_word_diff_rejects_wrong_old_text():
    ops = word_diff("one two", "one three")
    with pytest.raises(ValueError):
        apply_word_diff("one four", ops)


@pytest.mark.parametrize(
    "make",
    [
        # One huge line, edits at both ends: nothing in the middle to anchor on.
        lambda r: (" ".join(r.choice("abcdefgh") for _ in range(60_000)),) * 2,
        # Every other line of a long list changed: difflib alone is quadratic here.
        lambda r: (
            "".join(f"* item {i}\n" for i in range(20_000)),
            "".join(f"* {'entry' if i % 2 else 'item'} {i}\n" for i in range(20_000)),
        ),
        # Two unrelated texts of 250 KB.
        lambda r: tuple(
            "\n".join(" ".join(r.choice("xyzw") for _ in range(40)) for _ in range(3000))
            for _ in range(2)
        ),
        # The same few tokens, shuffled.
        lambda r: tuple(" ".join(r.choice(["a", "b"]) for _ in range(100_000)) for _ in range(2)),
    ],
    ids=["one huge line", "alternating lines", "unrelated texts", "two tokens"],
)
def test_word_diff_worst_cases_come_out_right(make):
    # How long they take is bench/bench_diff.py's business ("worst case" rows), not a test's.
    old, new = make(random.Random(3))
    if old == new:
        new = "start " + new[5:-5] + " end"
    ops = word_diff(old, new)
    assert apply_word_diff(old, ops) == new


# ---- properties --------------------------------------------------------------------------

# fmt: off
_PIECES = st.sampled_from(
    ["a", "b", "the", "cat", ".", " ", "  ", "\n", "\n\n", ",", "Foo", "[[x]]", "{{y}}",
     "]]", "[[", "*", "é", "😀", "1994", "\t", "=="]
)
# fmt: on
_TEXT = st.lists(_PIECES, max_size=50).map("".join)


@st.composite
def _edited(draw):
    """A text and an edit of it: words replaced, removed, inserted, moved."""
    old = draw(_TEXT)
    words = old.split(" ")
    for _ in range(draw(st.integers(0, 5))):
        action = draw(st.sampled_from(["replace", "delete", "insert", "move"]))
        k = draw(st.integers(0, len(words)))
        if action == "insert" or not words:
            words.insert(k, draw(_TEXT))
            continue
        k = min(k, len(words) - 1)
        if action == "replace":
            words[k] = draw(_TEXT)
        elif action == "delete":
            words.pop(k)
        else:
            words.insert(draw(st.integers(0, len(words) - 1)), words.pop(k))
    return old, " ".join(words)


@settings(max_examples=400, deadline=None, database=None)
@given(_edited() | st.tuples(st.text(max_size=80), st.text(max_size=80)))
# A lone deletion after a replacement slid into the replaced text (found by CI).
@example(("\n supply supply Pakistan NATO", "NATO supply Pakistan"))
def test_apply_word_diff_rebuilds_the_new_text(pair):
    old, new = pair
    for by_words in (False, True):
        ops = word_diff(old, new, by_words=by_words)
        assert apply_word_diff(old, ops) == new
        assert (ops == []) == (old == new)
        positions = [op["at"] for op in ops]
        assert positions == sorted(positions)


def test_by_words_keeps_the_words_a_rewritten_paragraph_kept():
    # Line by line, two rewritten paragraphs pair by position and the words they share are
    # folded into the replacement; word by word, the shared words stay.
    old = "The cat sat on the mat.\nDogs bark at night in the town.\n"
    new = "Dogs often bark at night.\nThe old cat sat on a mat in the town.\n"
    kept = "".join(
        piece for kind, piece in overlay(old, word_diff(old, new, by_words=True)) or []
        if kind == "equal"
    )  # fmt: skip
    by_lines = "".join(
        piece for kind, piece in overlay(old, word_diff(old, new)) or [] if kind == "equal"
    )
    assert len(kept.split()) > len(by_lines.split())
    assert "cat sat on" in kept


# ---- an edit's place, when known, changes nothing ------------------------------------------


def _common_ends(old: str, new: str) -> tuple[int, int]:
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    return head, tail


@pytest.mark.parametrize("seed", range(3))
def test_word_diff_with_the_edit_known_is_the_same(seed):
    rng = random.Random(seed)
    # fmt: off
    pieces = ["a", "b", " ", "\n", ".", "the ", "cat. ", "Dog! ", "[[x]]", "\n\n", "  ", "é",
              "ab", "\t", "x y z. ", "\xa0", "?! ", "3.5", "\r", "\u2028"]
    # fmt: on
    for _ in range(3000):
        old = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        at = rng.randrange(len(old) + 1)
        new = old[:at] + "".join(rng.choice(pieces[:16]) for _ in range(rng.randint(0, 3)))
        new += old[min(len(old), at + rng.randint(0, 6)) :]
        if old == new:
            continue
        head, tail = _common_ends(old, new)
        start, end = head, len(old) - tail
        if rng.random() < 0.3:  # an edit wider than it needs to be is one too
            start, end = max(0, start - rng.randint(0, 3)), min(len(old), end + rng.randint(0, 3))
        edit = (start, end, new[start : end + len(new) - len(old)])
        assert old[:start] + edit[2] + old[end:] == new
        assert word_diff(old, new, edit) == word_diff(old, new), (old, new, edit)


# ---- the shortcuts are the general diff --------------------------------------------------

# fmt: off
_MARKS = ["a", "b", "the", "cat", " ", "  ", ". ", "! ", "? ", ".", "?!", "3.5", "\n", "\n\n",
          "\t", "\xa0", ",", "é", "x y", "Dog. ", "\u2028", "\r\n", "\r", "[[x]]", "{{y|z}}",
          "Foo bar. Baz", " \n", ".\n", "_", "—"]
# fmt: on
_MARKED = st.lists(st.sampled_from(_MARKS), max_size=60).map("".join)


@st.composite
def _one_edit(draw):
    """A text, the same text with one stretch replaced, and an edit saying so (the
    narrowest, or one a little wider)."""
    old = draw(_MARKED)
    at = draw(st.integers(0, len(old)))
    gone = draw(st.integers(0, min(8, len(old) - at)))
    new = old[:at] + draw(_MARKED.filter(lambda s: len(s) < 30)) + old[at + gone :]
    head, tail = _common_ends(old, new)
    start, end = head, len(old) - tail
    if draw(st.booleans()):
        start = max(0, start - draw(st.integers(0, 3)))
        end = min(len(old), end + draw(st.integers(0, 3)))
    return old, new, (start, end, new[start : end + len(new) - len(old)])


def _general(old: str, new: str) -> list[dict]:
    """word_diff without its shortcuts: every level splits all it is given, lines first."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(worddiff, "_SEARCH_ENDS", 1 << 62)  # no common start and end searched
        patch.setattr(worddiff, "_AROUND", 1 << 62)  # no shared sentences and words cut off
        patch.setattr(worddiff, "_SENTENCES_APART", re.compile(""))  # every line split
        return word_diff(old, new)


@settings(max_examples=600, deadline=None, database=None)
@given(_one_edit())
@example(("a. b c. d", "a. b x c. d", (5, 5, "x ")))
@example(("x\n\xa0y", "x\n\xa0z", (3, 4, "z")))
@example(("a  b", "a  cb", (3, 3, "c")))
def test_word_diff_shortcuts_are_the_general_diff(case):
    # Lines, sentences and words around an edit are cut off before they are split (at
    # places where both texts split the same), a line or sentence alone is not split into
    # sentences: the same operations, and the same counts without them.
    old, new, edit = case
    start, end, added = edit
    assert old[:start] + added + old[end:] == new
    if old == new:
        return
    want = _general(old, new)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(worddiff, "_SEARCH_ENDS", 0)
        patch.setattr(worddiff, "_AROUND", 0)
        for known in (None, edit):
            assert word_diff(old, new, known) == want
            added = sum(count_words(op["text"]) for op in want if op["type"] == "insert")
            removed = sum(count_words(op["text"]) for op in want if op["type"] == "delete")
            assert word_counts(old, new, known) == (added, removed)


def test_word_diff_shortcuts_on_long_paragraphs():
    # The sizes at which the shortcuts are taken by default: a sentence edited in a long
    # paragraph, a line in a long text.
    rng = random.Random(5)
    sentences = [" ".join(rng.choice(["alpha", "beta", "[[gamma]]", "{{d}}"]) for _ in range(12))
                 + rng.choice([". ", "! ", "? "]) for _ in range(40)]  # fmt: skip
    old = "".join(sentences[:20]) + "\n" + "".join(sentences[20:]) + "\n"
    for _ in range(200):
        at = rng.randrange(len(old))
        new = old[:at] + rng.choice(["x", " new words. ", "", "\n"]) + old[at + rng.randint(0, 9) :]
        if new != old:
            assert word_diff(old, new) == _general(old, new)
            head, tail = _common_ends(old, new)
            edit = (head, len(old) - tail, new[head : len(new) - tail])
            assert word_diff(old, new, edit) == _general(old, new)
