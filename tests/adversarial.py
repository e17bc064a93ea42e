"""Pairs of wikitexts built to hurt the diff (issue 15): deep nesting, thousands of identical
references, headings renamed by the thousand, constructs that never close, one huge line.

Each case makes (old, new) from a size `n` (its count of repeated parts), so that a test can
double it and see what the diff's work grows by (tests/test_adversarial.py), and
bench/bench_diff.py can time it at the size of the issue's report.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Pair = tuple[str, str]

LEAD = "Intro text with a [[link]] and {{tpl|a=b}}.\n\n"


def nested_braces(n: int) -> Pair:
    """n nested "{{" (issue: 300 raise RecursionError)."""
    bad = "{{" * n + "x" + "}}" * n
    return LEAD + "== A ==\nWords.\n", LEAD + "== A ==\nWords. " + bad + "\n"


def nested_arguments(n: int) -> Pair:
    """n nested "{{{" (issue: 200 raise RecursionError)."""
    bad = "{{{" * n + "x" + "}}}" * n
    return LEAD + "== A ==\nWords.\n", LEAD + "== A ==\nWords. " + bad + "\n"


def nested_heading(n: int) -> Pair:
    """A heading with n nested "{{" in it: too deep to render, shown as its wikitext."""
    bad = "{{" * n + "x" + "}}" * n
    return LEAD + "== A ==\nWords.\n", LEAD + f"== A {bad} ==\nWords.\n"


def nested_mixed(n: int) -> Pair:
    """Templates, links, references and tags in one another, n deep."""
    bad = "{{a|1=[[b|<ref><span>" * n + "x" + "</span></ref>]]}}" * n
    return LEAD + "== A ==\nWords.\n", LEAD + "== A ==\nWords. " + bad + "\n"


def nested_lists_tables(n: int) -> Pair:
    """Lists n levels deep and tables in tables."""
    lists = "".join("*" * (k + 1) + f" item {k}\n" for k in range(n))
    tables = "{|\n|\n" * n + "x\n" + "|}\n" * n
    old = LEAD + "== A ==\n" + lists + "\n" + tables
    return old, old.replace("item 0", "item zero").replace("x\n", "y\n")


def identical_refs(n: int) -> Pair:
    """n identical "<ref>x</ref>" (issue: 16,000 took 24 s an edit): one more added."""
    refs = "<ref>x</ref>" * n
    return LEAD + "Text " + refs + "\n", LEAD + "Text <ref>x</ref>" + refs + " more\n"


def identical_refs_section_added(n: int) -> Pair:
    """A section of n identical references, in n paragraphs, added."""
    body = "\n\n".join(["Text <ref>x</ref>"] * n)
    return LEAD, LEAD + "== Refs ==\n" + body + "\n"


def rewritten_refs(n: int) -> Pair:
    """n references without names, each rewritten (paired by similarity)."""
    old = " ".join(f"A<ref>Author {k}, Book about topic {k}, page {k}.</ref>" for k in range(n))
    new = " ".join(f"A<ref>Author {k}, Book about topic {k}, p. {k + 1}.</ref>" for k in range(n))
    return LEAD + old + "\n", LEAD + new + "\n"


def renamed_headings(n: int) -> Pair:
    """n sections, every heading renamed, bodies kept (issue: 2,000 took 15 s, 5,000 108 s)."""
    body = "Body {k} of the section, words alpha beta gamma {k}.\n"
    old = LEAD + "".join(f"== Heading {k} ==\n" + body.format(k=k) for k in range(n))
    new = LEAD + "".join(f"== Title {k} ==\n" + body.format(k=k) for k in range(n))
    return old, new


def renamed_and_edited(n: int) -> Pair:
    """n sections renamed and edited, with boilerplate shared by all (an index's worst)."""
    boiler = "See also the list of common things and the other usual text here. "
    old = LEAD + "".join(
        f"== H{k} ==\n{boiler}Unique words {k} number {k * 7}.\n" for k in range(n)
    )
    new = LEAD + "".join(
        f"== T{k} ==\n{boiler}Unique words {k} number {k * 7}, more.\n" for k in range(n)
    )
    return old, new


def same_heading_many(n: int) -> Pair:
    """n sections all headed "Notes", one inserted at the top (same-heading alignment)."""
    old = LEAD + "".join(f"== Notes ==\nNote number {k} about things.\n" for k in range(n))
    return old, old.replace("== Notes ==", "== Notes ==\nA new note.\n\n== Notes ==", 1)


def many_headings(n: int) -> Pair:
    """n headings with markup to render; one section edited."""
    old = LEAD + "".join(f"== [[Page {k}|Heading {k}]] ''x'' ==\nBody {k}.\n" for k in range(n))
    return old, old.replace("Body 1.", "Body one.")


def tiny_sections(n: int) -> Pair:
    """n one-line sections; one removed in the middle."""
    old = "".join(f"=H{k}=\n" for k in range(n))
    return old, old.replace(f"=H{n // 2}=\n", "")


def links_moved(n: int) -> Pair:
    """The same link removed from n sections and added to n others (moves between sections)."""
    old = LEAD + "".join(f"== A{k} ==\nSee [[Target]] here {k}.\n" for k in range(n))
    old += "".join(f"== B{k} ==\nNothing {k}.\n" for k in range(n))
    new = LEAD + "".join(f"== A{k} ==\nSee here {k}.\n" for k in range(n))
    new += "".join(f"== B{k} ==\nNothing {k} [[Target]].\n" for k in range(n))
    return old, new


def unclosed_templates(n: int) -> Pair:
    """n "{{a|" that never close, in one paragraph (the tokenizer reads to the end for each)."""
    return LEAD + "Words.\n", LEAD + "Words. " + "{{a|" * n + "\n"


def unclosed_spread(n: int) -> Pair:
    """n unclosed "{{a|", one per paragraph (each within the limits, together a budget)."""
    body = "\n\n".join(f"Paragraph {k} {{{{a|x [[l]] <ref>r{k}</ref>" for k in range(n))
    return LEAD, LEAD + "== A ==\n" + body + "\n"


def unclosed_links_headings(n: int) -> Pair:
    """n "[[" that never close, each before a heading (link labels of headings)."""
    old = LEAD + "".join(f"[[a|\n== H{k} ==\nx\n" for k in range(n))
    return old, old.replace("x\n", "y\n", 1)


def heading_line_equals(n: int) -> Pair:
    """A line starting with "=" with n runs of "=" (the C tokenizer recurses once a run)."""
    bad = "=x" * n + " [[a]]"
    return LEAD + "Words.\n", LEAD + "Words.\n" + bad + "\n"


def huge_line(n: int) -> Pair:
    """One line of n words with references and links, both ends edited (issue: 9 MB with
    references, not done in 600 s)."""
    rng = random.Random(n)
    parts = ["alpha", "beta", "gamma.", "<ref>x</ref>", "[[Link]]", "{{tpl}}", "delta"]
    line = " ".join(
        f"<ref>{{{{cite web|url=http://a.org/{k}|title=T{k}}}}}</ref>"
        if k % 50 == 0
        else rng.choice(parts)
        for k in range(n)
    )
    return LEAD + line + "\n", LEAD + "Start " + line + " end\n"


def unrelated_gaps(n: int) -> Pair:
    """n stretches of tokens without anchors, between unique ones (the word diff's gaps)."""
    rng = random.Random(n)
    vocab = [f"w{k}" for k in range(150)]
    old = " ".join(f"U{k} " + " ".join(rng.choice(vocab) for _ in range(60)) for k in range(n))
    new = " ".join(f"U{k} " + " ".join(rng.choice(vocab) for _ in range(60)) for k in range(n))
    return LEAD + old + "\n", LEAD + new + "\n"


# name -> (how a pair is made from n, the n of the report or of a bench row)
CASES: dict[str, tuple[Callable[[int], Pair], int]] = {
    "nested {{": (nested_braces, 300),
    "nested {{{": (nested_arguments, 200),
    "nested {{ in a heading": (nested_heading, 300),
    "templates, links, refs, tags nested": (nested_mixed, 100),
    "nested lists and tables": (nested_lists_tables, 300),
    "identical references, one added": (identical_refs, 16_000),
    "identical references, section added": (identical_refs_section_added, 16_000),
    "unnamed references rewritten": (rewritten_refs, 4_000),
    "headings renamed": (renamed_headings, 5_000),
    "headings renamed and edited": (renamed_and_edited, 5_000),
    "same heading, one inserted": (same_heading_many, 5_000),
    "headings with markup": (many_headings, 5_000),
    "tiny sections": (tiny_sections, 50_000),
    "one link moved between sections": (links_moved, 2_000),
    "unclosed templates": (unclosed_templates, 16_000),
    "unclosed templates, one a paragraph": (unclosed_spread, 16_000),
    "unclosed links before headings": (unclosed_links_headings, 10_000),
    "a line of '=' runs": (heading_line_equals, 100_000),
    "huge line with references": (huge_line, 1_300_000),
    "gaps without anchors": (unrelated_gaps, 2_000),
}
