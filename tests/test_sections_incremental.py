"""tracker.text.sections: a text split from the text it was edited from is split exactly as alone.

`split(text, previous=old)` reuses the old split where the edit left the text alone and
skips the heading scan of stretches edited in plain words (tracker.text.sections._quiet_edit).
These tests compare it with a split from scratch, on generated histories and on random
edits of tricky wikitext, and check the edits it reports.
"""

from __future__ import annotations

import random

import pytest
from genhistory import generate
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.text import sections
from tracker.text.headings import scan_quiet
from tracker.text.sections import DEFAULT_TAGS, edits, split


def _alone(text: str) -> sections._Split:
    """The split of `text` from scratch, whatever the cache holds."""
    found, cuts, _stop, counts, quiet, _resumed = scan_quiet(text, DEFAULT_TAGS)
    starts, heads = sections._relative(found)
    starts.insert(0, 0)
    built = sections._build(text, starts, heads)
    return sections._made(built, starts, heads, cuts, counts=counts, quiet=quiet)


def _quiet_lines(text: str, done: sections._Split) -> dict[int, int]:
    """The lines its split says start with nothing open: {where: heading nodes before}."""
    lines = {}
    for lo, hi, before in done.quiet:
        line = text.find("\n", max(lo, 1) - 1, hi)
        while 0 <= line and line + 1 < len(text):
            lines[line + 1] = before
            line = text.find("\n", line + 1, hi)
    return lines


def _check(old: str, new: str) -> sections._Split:
    sections._CACHE.clear()
    split(old)
    got = sections._split(new, DEFAULT_TAGS, old)
    want = _alone(new)
    assert got.sections == want.sections
    assert (got.starts, got.heads, got.cuts) == (want.starts, want.heads, want.cuts)
    assert list(got.counts) == list(want.counts)
    # The quiet lines it keeps for the next split are quiet lines, some may be left out.
    got_lines, want_lines = _quiet_lines(new, got), _quiet_lines(new, want)
    assert got_lines.items() <= want_lines.items()
    old_sections = split(old)
    for index, (j, (start, end, added)) in edits(new, old).items():
        before = old_sections[j].text
        assert got.sections[index].text == before[:start] + added + before[end:]
    return got


def test_split_from_previous_on_a_generated_history(monkeypatch):
    resumed = []

    def spy(*args):
        found = scan_quiet(*args)
        resumed.append(found.resumed is not None)
        return found

    monkeypatch.setattr(sections, "scan_quiet", spy)
    texts = [r.text or "" for r in generate(60, size=20_000, seed=11)]
    quiet = 0
    for old, new in zip(texts, texts[1:], strict=False):
        quiet += len(_check(old, new).edits)
    assert quiet > 20  # the plain-words path is taken, and checked
    assert sum(resumed) > 5  # scans stopped where the rest was the old text's, and checked


def test_a_long_section_is_scanned_from_the_quiet_line_before_the_edit_to_the_one_after(
    monkeypatch,
):
    body = "".join(f"Line {k} with [[a link]] and {{{{a|template}}}}.\n" for k in range(200))
    old = f"Lead.\n== One ==\n{body}== Two ==\nEnd.\n"
    new = old.replace("Line 3 with", "Line 3 {{new}} with")
    scanned = []

    def spy(text, tags, start=0, stops=(), number=1, resume=()):
        found = scan_quiet(text, tags, start, stops, number, resume)
        scanned.append((start, found.stop, found.resumed))
        return found

    monkeypatch.setattr(sections, "scan_quiet", spy)
    got = _check(old, new)
    assert [s.heading for s in got.sections] == ["", "One", "Two"]
    (_old_alone, (start, stop, resumed)) = scanned  # the old text's, then the edited one's
    line_4 = new.index("Line 4")
    assert resumed is not None and stop == line_4 and resumed[0] == line_4
    assert start == new.index("Line 3")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # The text now starts with a heading line.
        ("a b x === h3 ===\ny}} ==\n== H0 ==\nz", "=== h3 ===\ny}} ==\n== H0 ==\nz"),
        # "\n" and "=" meet: a heading line.
        ("\n== A ==\nx\nyy== B ==\nz\n", "\n== A ==\nx\n== B ==\nz\n"),
        # "</ref  x >" becomes a closing tag: the rest of the section is text again.
        ("<ref>a\n== A ==\n</ref  x >\n== B ==\nc\n", "<ref>a\n== A ==\n</ref  >\n== B ==\nc\n"),
        # ... also when the tag's name ends the line before the edit.
        (
            "a\n== A ==\nfoo <ref></ref\n x>{{</ref>\n== B ==\n}}\n== C ==\nbar\n",
            "a\n== A ==\nfoo <ref></ref\n >{{</ref>\n== B ==\n}}\n== C ==\nbar\n",
        ),
        # A comment alone on its line.
        ("== A ==\nx <!-- c -->\n== B ==\ny\n", "== A ==\n <!-- c -->\n== B ==\ny\n"),
        # Words in a heading's line, and in a multi-line heading.
        ("== A ==\nx\n== B {{t\n|a}} ==\ny\n", "== A ==\nx\n== B {{t\n|ab}} ==\ny\n"),
        ("== A ==\n[[link|label]] x\n== B ==\n", "== A ==\n[[link|label]] [[new]] x\n== B ==\n"),
        ("== A ==\n[[li\n== B ==\nnk]]\n", "== A ==\n[[lix\n== B ==\nnk]]\n"),
    ],
)
def test_split_from_previous_tricky_edits(old, new):
    _check(old, new)


# fmt: off
_TOKENS = [
    "\n", "\n", "=", "==", "===", " ", "a", "b c", "{{", "}}", "{{{", "}}}", "[[", "]]", "|",
    "-{", "}-", "<!--", "-->", "<nowiki>", "</nowiki>", "<ref>", "</ref>", "<pre>", "</pre>",
    "''", "\t", "<includeonly>", "{|", "|}", "x=y", "\n== h ==\n", "\n=== h ===\n",
    "<ref name=x/>", "[[a|", "</ref  >", "<ref ", "</ref\n", "<ref\n", "words here. ",
    "<!-- c -->", "é", "/", "-",
]
_PLAIN = ["alpha", "beta", " ", "x", ".", ",", "  ", "\t", "ref", "[[a]]", "[[b|c]]", "", "''"]
# fmt: on


def _text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(3, 50)):
        roll = rng.random()
        if roll < 0.15:
            parts.append(f"\n== H{rng.randint(0, 5)} ==\n")
        elif roll < 0.5:
            parts.append(rng.choice(_PLAIN) + " ")
        else:
            parts.append(rng.choice(_TOKENS))
    return "".join(parts)


def _edit(rng: random.Random, text: str) -> str:
    # Mostly plain words, often right next to the characters the heading scanner looks at.
    spots = [k for k, c in enumerate(text) if c in "\n=<>[]{}|-/ "] or [0]
    at = rng.choice([rng.randrange(len(text) + 1), rng.choice(spots) + rng.choice([-1, 0, 1])])
    at = max(0, min(len(text), at))
    end = min(len(text), at + rng.choice([0, 0, 1, 2, 5]))
    pool = _PLAIN if rng.random() < 0.8 else _TOKENS
    return text[:at] + "".join(rng.choice(pool) for _ in range(rng.randint(0, 2))) + text[end:]


@pytest.mark.parametrize("seed", range(2))
def test_split_from_previous_in_a_chain(seed):
    # Each text split from the one before, itself split so: what a split keeps for the
    # next one (its quiet lines) was made from a split from another text, and so on.
    rng = random.Random(seed)
    sections._CACHE.clear()
    for _ in range(100):
        text = _text(rng)
        split(text)
        for _ in range(8):
            new = _edit(rng, text)
            got = sections._split(new, DEFAULT_TAGS, text)
            want = _alone(new)
            assert (got.starts, got.heads, got.cuts) == (want.starts, want.heads, want.cuts)
            assert _quiet_lines(new, got).items() <= _quiet_lines(new, want).items()
            text = new


@pytest.mark.parametrize("seed", range(4))
def test_split_from_previous_random_edits(seed):
    rng = random.Random(seed)
    for _ in range(300):
        text = _text(rng)
        for _ in range(6):
            new = _edit(rng, text)
            if new != text:
                _check(text, new)
            text = new


def _chunks(text: str) -> list[str]:
    """The text cut before each line starting with "=" (mostly sections)."""
    cuts = [
        0,
        *(k + 1 for k, c in enumerate(text[:-1]) if c == "\n" and text[k + 1] == "="),
        len(text),
    ]
    return [text[a:b] for a, b in zip(cuts, cuts[1:], strict=False)]


@pytest.mark.parametrize("seed", range(4))
def test_split_from_previous_sections_moved(seed):
    # Whole sections moved, copied or removed: the old ones are found again elsewhere.
    rng = random.Random(seed)
    for _ in range(200):
        text = _text(rng)
        for _ in range(5):
            chunks = _chunks(text)
            if len(chunks) < 3:
                break
            roll = rng.random()
            i = rng.randrange(1, len(chunks))
            if roll < 0.5:
                chunks.insert(rng.randrange(1, len(chunks)), chunks.pop(i))
            elif roll < 0.75:
                chunks.insert(rng.randrange(1, len(chunks) + 1), chunks[i])
            else:
                chunks.pop(i)
            new = "".join(chunks)
            if new != text:
                _check(text, new)
            text = new


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(st.sampled_from(_TOKENS + _PLAIN), max_size=40).map("".join),
    st.integers(0, 400),
    st.integers(0, 5),
    st.lists(st.sampled_from(_TOKENS + _PLAIN), max_size=3).map("".join),
)
def test_split_from_previous_is_split_alone(old, at, length, inserted):
    at = min(at, len(old))
    _check(old, old[:at] + inserted + old[at + length :])


def test_edits_are_only_from_the_text_split_from():
    old = "Lead.\n== A ==\nOne two.\n== B ==\nThree.\n"
    new = old.replace("two", "deux")
    sections._CACHE.clear()
    split(old)
    split(new, previous=old)
    assert edits(new, old) == {1: (1, (12, 15, "deux"))}
    assert edits(new, "another text") == {}
    assert edits("never split", old) == {}


# ---- the usual edit: one section's body ----------------------------------------------------


def _inside(old: str, new: str) -> sections._Split | None:
    """What the shortcut for an edit inside one section makes of `new`, split from `old`."""
    sections._CACHE.clear()
    sections._ENDS = ("", "", 0, 0)
    split(old)
    return sections._split_inside(old, sections._cached(old, DEFAULT_TAGS), new, DEFAULT_TAGS)


def _same_as_alone(new: str, got: sections._Split) -> None:
    want = _alone(new)
    assert got.sections == want.sections
    assert (got.starts, got.heads, got.cuts) == (want.starts, want.heads, want.cuts)
    assert list(got.counts) == list(want.counts)
    assert _quiet_lines(new, got).items() <= _quiet_lines(new, want).items()


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.lists(st.sampled_from(_TOKENS + _PLAIN), max_size=40).map("".join),
    st.integers(0, 400),
    st.integers(0, 5),
    st.lists(st.sampled_from(_TOKENS + _PLAIN), max_size=3).map("".join),
)
def test_split_inside_one_section_is_split_alone(old, at, length, inserted):
    # When it answers, the shortcut's split is the split from scratch; when it does not,
    # the walk does (the other tests).
    at = min(at, len(old))
    new = old[:at] + inserted + old[at + length :]
    if new == old:
        return
    got = _inside(old, new)
    if got is not None:
        _same_as_alone(new, got)
        old_sections = split(old)
        for index, (j, (start, end, added)) in got.edits.items():
            before = old_sections[j].text
            assert got.sections[index].text == before[:start] + added + before[end:]


def test_split_inside_one_section_answers_for_the_usual_edits():
    rng = random.Random(3)
    answered = tried = 0
    for _ in range(200):
        text = _text(rng)
        new = _edit(rng, text)
        if new == text:
            continue
        tried += 1
        got = _inside(text, new)
        if got is not None:
            answered += 1
            _same_as_alone(new, got)
    assert answered > tried // 3
    # Markup edited in a long section: scanned from the quiet line before the edit.
    body = "".join(f"Line {k} with [[a link]] and {{{{a|template}}}}.\n" for k in range(200))
    old = f"Lead.\n== One ==\n{body}== Two ==\nEnd.\n"
    for new in (
        old.replace("Line 3 with", "Line 3 {{new}} with"),
        old.replace("End.", "End {{x|y}}."),  # (the last section: nothing after to scan)
        old.replace("Lead.", "Lead [[z]]."),
    ):
        got = _inside(old, new)
        assert got is not None
        _same_as_alone(new, got)
    # A heading added or edited, a section's last line removed, a construct left open
    # over the next heading: the walk's business.
    for new in (
        old.replace("Line 3 with", "Line 3\n== New ==\nwith"),
        old.replace("== One ==", "== Once =="),
        old.replace("Line 199 with [[a link]] and {{a|template}}.\n", ""),
        old.replace("Line 199 with", "Line 199 {{open with"),
    ):
        assert _inside(old, new) is None
        _check(old, new)


def test_split_inside_the_last_section_keeps_its_quiet_lines_before_the_edit():
    # Nothing after the edit to scan (no heading line): the quiet lines before it are still
    # quiet, and the next edit there is scanned from the line before it, not the section's.
    body = "".join(f"Line {k} with {{{{a|template}}}}.\n" for k in range(50))
    texts = [f"== One ==\nx\n== Two ==\n{body}"]
    texts.append(texts[-1].replace("Line 40 with", "Line 40 {{b}} with"))
    texts.append(texts[-1].replace("Line 45 with", "Line 45 {{c}} with"))
    sections._CACHE.clear()
    split(texts[0])
    for old, new in zip(texts, texts[1:], strict=False):
        got = sections._split(new, DEFAULT_TAGS, old)
        _same_as_alone(new, got)
    quiet = _quiet_lines(texts[1], sections._cached(texts[1], DEFAULT_TAGS))
    assert texts[1].index("Line 39") in quiet and texts[1].index("Line 41") not in quiet


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # The only line starting with "=" edited away, in the last section: a split from
        # scratch keeps no quiet line then, nor does the shortcut.
        (
            "\t-</ref\nds  treaty:here. <includeonly>\n=word ==\n<ref>=x=ya\n4[[a]]=\nfoo. ",
            "\t-</ref\nds  treaty:here. <includeonlyx  =word ==\n<ref>=x=ya\n4[[a]]=\nfoo. ",
        ),
        (
            "éb c{{}}'' == H5 ==\n<includeonly>/</re-->ta alpha:betx,eta    \n== H2==\n=== h",
            "éb c{{}}'' == H5 ==\n<includeonly>/</re-->ta alpha:b== h",
        ),
    ],
)
def test_split_inside_one_section_when_no_heading_line_is_left(old, new):
    _check(old, new)
