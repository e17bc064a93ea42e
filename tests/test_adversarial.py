"""Issue 15: no wikitext of any size or nesting raises out of the diff or makes it take
minutes.

Each hostile case of tests/adversarial.py is diffed at a size and at twice that size, in
the same run: doubling the input may multiply the work by GROWTH at most (a quadratic path
makes it 4). Work is CPU time, the least of runs alternating between the sizes with the
caches emptied (up to five each while it looks too much: other processes make noise, not a
quadratic path); no fixed time limit, so a slow machine is slow at both sizes. Timings
under FLOOR at the double size are noise and pass. A fuzz test does the same with random
nested markup, and checks that the diff is well formed (tests/diffcheck.py) with little
stack.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from adversarial import CASES, Pair
from diffcheck import assert_well_formed, clear_caches
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.errors import Unreadable
from tracker.text import lineage, worddiff
from tracker.text.diff import diff_texts
from tracker.text.headline import heading_text
from tracker.text.sections import split
from tracker.text.semantic import extract, semantic_changes
from tracker.text.wikiparse import MAX_DEPTH, Budget, excess, tokenize

GROWTH = 3.0  # the most doubling the input may multiply the work by (quadratic: 4)
FLOOR = 0.1  # seconds: below this at the double size, timings are noise
STACK = 400  # Python frames the diff may use beyond its caller's, on any text

# The size each case is measured at (and at twice it): big enough that the old quadratic
# paths took seconds there, small enough for the suite.
SIZES = {
    "nested {{": 2_000,
    "nested {{{": 2_000,
    "nested {{ in a heading": 2_000,
    "templates, links, refs, tags nested": 400,
    "nested lists and tables": 1_000,
    "identical references, one added": 2_000,
    "identical references, section added": 2_000,
    "unnamed references rewritten": 500,
    "headings renamed": 1_000,
    "headings renamed and edited": 1_000,
    "same heading, one inserted": 1_000,
    "headings with markup": 500,
    "tiny sections": 5_000,
    "one link moved between sections": 500,
    "unclosed templates": 2_000,
    "unclosed templates, one a paragraph": 1_000,
    "unclosed links before headings": 2_000,
    "a line of '=' runs": 20_000,
    "huge line with references": 30_000,
    "gaps without anchors": 500,
}


def cpu(run: Callable[[], object]) -> float:
    """The CPU time of `run`, with empty caches."""
    clear_caches()
    gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        run()
        return time.process_time() - start
    finally:
        gc.enable()


def assert_linear(make: Callable[[int], Pair], n: int) -> None:
    """Diffing make(2n) costs at most GROWTH times diffing make(n)."""
    small, large = make(n), make(2 * n)
    once = twice = float("inf")
    for attempt in range(10):  # (other processes make noise: the least of up to 10 runs)
        once = min(once, cpu(lambda: diff_texts(*small)))
        twice = min(twice, cpu(lambda: diff_texts(*large)))
        if attempt >= 2 and (twice < FLOOR or twice <= GROWTH * once):
            break
    assert twice < FLOOR or twice <= GROWTH * once, (
        f"doubling the input took {twice / once:.1f} times as long ({once:.3f} s, {twice:.3f} s)"
    )


@contextmanager
def shallow_stack(frames: int = STACK) -> Iterator[None]:
    """Allow only `frames` Python frames more than the caller has."""
    depth = 0
    frame = sys._getframe()
    while frame is not None:
        depth += 1
        frame = frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


def well_formed(old: str, new: str) -> dict:
    ids = [f"o{i}" for i in range(len(split(old)))]
    with shallow_stack():
        result = diff_texts(old, new, ids, id_prefix="n")
    assert_well_formed(old, new, ids, result)
    return {
        "skipped": [c for e in result.sections for c in e["changes"]
                    if c["type"] == "semantics_skipped"] + [
                    c for c in result.page_changes if c["type"] == "semantics_skipped"],
        "result": result,
    }  # fmt: skip


# ---- each case ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_adversarial_case_is_well_formed_and_linear(name):
    make, _reported = CASES[name]
    n = SIZES[name]
    clear_caches()
    well_formed(*make(n))
    assert_linear(make, n)


def test_adversarial_cases_are_all_measured():
    assert set(SIZES) == set(CASES)


@pytest.mark.parametrize("name", ["nested {{", "nested {{{", "templates, links, refs, tags nested"])
def test_adversarial_deep_markup_skips_semantics_and_says_why(name):
    make, reported = CASES[name]
    found = well_formed(*make(reported))
    assert found["skipped"]
    reasons = (
        f"markup nested deeper than {MAX_DEPTH} levels",
        f"more than {MAX_DEPTH} constructs open at once ({{{{, [[, <tag>...)",
    )
    assert all(c["reason"] in reasons for c in found["skipped"])
    edited = [e for e in found["result"].sections if "edited" in e["kinds"]]
    assert edited and any(c["type"] == "insert" for c in edited[0]["changes"])  # words kept


def test_adversarial_heading_too_deep_shows_its_wikitext():
    raw = " A " + "{{" * 300 + "x" + "}}" * 300 + " "
    assert heading_text(raw) == raw.strip()
    old, new = CASES["nested {{ in a heading"][0](300)
    found = well_formed(old, new)
    renamed = [e for e in found["result"].sections if "renamed" in e["kinds"]]
    assert renamed[0]["path"] == ["A " + "{{" * 300 + "x" + "}}" * 300]


def test_adversarial_heading_line_of_equals_is_not_tokenized():
    # (The C tokenizer recurses once per run of "=": 100,000 of them kill the process.)
    old, new = CASES["a line of '=' runs"][0](100_000)
    found = well_formed(old, new)
    assert found["skipped"][0]["reason"].startswith("a line starting with '='")


def test_adversarial_budget_is_shared_by_a_diff_and_each_call_has_one():
    clear_caches()
    budget = Budget(1_000)
    text = "A [[link]] and {{tpl|a=b}}. " * 100
    with pytest.raises(Unreadable) as raised:
        extract(text, budget=budget)
    assert not raised.value.lasting and budget.left == 1_000  # nothing taken
    assert extract(text)["links"] == {"Link": True}  # its own budget, and not remembered
    other = "A [[link]] and {{tpl|a=c}}. " * 100  # (what was read costs nothing)
    assert semantic_changes("x", other, budget=Budget(10)) == [
        {"type": "semantics_skipped", "reason": "more markup to read than one diff reads "
         "(10 units)"}]  # fmt: skip


def test_adversarial_unreadable_reasons():
    with pytest.raises(Unreadable, match="open at once"):
        tokenize("{{a|" * (MAX_DEPTH + 1) + "}}" * (MAX_DEPTH + 1))
    tokenize("{{a|" * MAX_DEPTH + "}}" * MAX_DEPTH)  # as deep as allowed
    with pytest.raises(Unreadable, match="nested deeper than"):
        # (32 open by count, and an entity in the innermost: 33 levels of tokens.)
        tokenize("{{a|" * MAX_DEPTH + "&amp;" + "}}" * MAX_DEPTH)
    with pytest.raises(Unreadable, match="open at once"):
        tokenize("{{a|" * 2_000)
    with pytest.raises(Unreadable, match="never close"):
        tokenize(("{{a|" + "x " * 15_000) * 20)  # 20 read to the end of 600 KB again
    with pytest.raises(Unreadable, match="runs of '='"):
        tokenize("=x" * (MAX_DEPTH + 1) + " [[a]]")
    tokenize("x=" * 1_000 + " [[a]]")  # not at a line start: no heading
    with pytest.raises(Unreadable, match="longer than"):
        tokenize("[[a]] " * 400_000)


def test_adversarial_excess_counts_what_never_closes():
    assert excess("plain words") == 0
    assert excess("{{a|b}} [[c]] <ref>d</ref> <!-- e --> {|\n|f\n|}") == 0
    assert excess("<ref name=a/> <br> <references />") == 0  # need no closing
    text = "{{a| [[b]] x"
    assert excess(text) == len(text)  # one template read to the end again
    assert excess("}} {{a") == len("}} {{a")  # a closer before does not close it
    assert excess("<nowiki>{{</nowiki> x") == 0  # not read inside
    line = "[http://a.org x [[y]] z\nnext line"
    assert excess(line) == len("[http://a.org x [[y]] z")  # to the end of its line


def test_adversarial_word_diff_coarsened_says_so(monkeypatch):
    monkeypatch.setattr(worddiff, "_MAX_WORK", 1_000)
    make = CASES["gaps without anchors"][0]
    old, new = make(50)
    found = well_formed(old, new)  # the word operations still rebuild the new text
    lead = found["result"].sections[0]
    coarse = [c for c in lead["changes"] if c["type"] == "words_coarsened"]
    assert coarse and "1,000 pairs of words" in coarse[0]["reason"]


def test_adversarial_lineage_index_pairs_as_all_pairs_when_few(monkeypatch):
    # Through the index or pair by pair, the same sections pair (when few enough for the
    # index's bounds to leave none out).
    make = CASES["headings renamed and edited"][0]
    old, new = make(12)
    old_sections, new_sections = split(old), split(new)
    free_old, free_new = list(range(1, len(old_sections))), list(range(1, len(new_sections)))
    want = sorted(lineage._all_pairs(old_sections, new_sections, free_old, free_new))
    got = sorted(lineage._indexed_pairs(old_sections, new_sections, free_old, free_new))
    assert got == want and len(want) == 12 * 12  # (the boilerplate makes all alike)


# ---- fuzz --------------------------------------------------------------------------------

# Openers, closers and separators of every construct, unbalanced and deep.
_MARKUP = ["{{", "}}", "{{{", "}}}", "[[", "]]", "<ref>", "</ref>", "<ref name=a/>", "<!--",
           "-->", "\n==", "==\n", "=", "\n{|", "\n|-", "\n|}", "|", "||", "-{", "}-", "[",
           "]", "[http://a.org ", "<span>", "</span>", "<gallery>\nFile:A.jpg|", "</gallery>",
           "''", "'''", "\n*", "\n#", "\n:", ";", "&amp;", "<nowiki>", "</nowiki>", "__TOC__",
           "[[Category:C]]", "[[File:F.png|thumb|", "{{cite web|url=http://b.org|title=T}}",
           "\n\n", "\n", " "]  # fmt: skip
_WORD = st.sampled_from(["alpha", "beta", "gamma", "x", "Foo bar.", "1994"])
_PIECE = st.one_of(
    st.sampled_from(_MARKUP),
    _WORD,
    st.tuples(st.sampled_from(["{{", "{{{", "[[", "<ref>", "<span>", "{{a|", "\n{|\n|",
                               "\n=", "=x", "[[a|", "<!--", "-{"]),
              st.integers(1, 300)).map(lambda t: t[0] * t[1]),
)  # fmt: skip
_TEXT = st.lists(_PIECE, max_size=30).map("".join)


@st.composite
def _pairs(draw):
    """An old text, and a new one: another, or the old one with pieces put in and out."""
    old = draw(_TEXT)
    if draw(st.booleans()):
        return old, draw(_TEXT)
    new = old
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(new)))
        if draw(st.booleans()):
            new = new[:at] + draw(_PIECE) + new[at:]
        else:
            new = new[:at] + new[at + draw(st.integers(1, 20)) :]
    return old, new


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(_pairs())
def test_adversarial_fuzz_nested_markup_gives_a_well_formed_diff(pair):
    well_formed(*pair)


@settings(max_examples=20, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(_pairs())
def test_adversarial_fuzz_repeated_markup_costs_in_proportion(pair):
    # Hostile text is a pattern repeated: repeated to 16 KB and to 32 KB, the diff's work
    # may double, not more than GROWTH times.
    old, new = pair
    unit = max(len(old), len(new), 1)
    k = max(1, 16_000 // unit)

    def make(m: int) -> Pair:
        return (old + "\n") * m, (new + "\n") * m

    well_formed(*make(k))
    assert_linear(make, k)
