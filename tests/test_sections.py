"""tracker.text.sections: where sections start, what their headings say, and that nothing
is lost."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.text.diff import diff_texts, render_text
from tracker.text.sections import Section, heading_text, split

CASES = yaml.safe_load((Path(__file__).parent / "data" / "sections_cases.yaml").read_text("utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_split_cases(case):
    sections = split(case["text"], tags=case.get("tags"))
    assert "".join(s.text for s in sections) == case["text"]
    got = [[s.level, s.heading, s.parent] for s in sections[1:]]
    expected = [list(s) for s in case["sections"]]
    assert [g[: len(e)] for g, e in zip(got, expected, strict=False)] == expected
    assert len(got) == len(expected)
    if "numbers" in case:
        assert [s.number for s in sections[1:]] == case["numbers"]


def test_split_empty_text_is_an_empty_lead():
    assert split("") == [Section(0, 0, "", "", "", None, ())]


def test_split_section_fields():
    text = "Lead.\n== A ==\nBody a.\n=== ''B'' ===\nBody b.\n"
    lead, a, b = split(text)
    assert (lead.text, lead.body, lead.path, lead.parent) == ("Lead.\n", "Lead.\n", (), None)
    assert (a.index, a.level, a.heading, a.raw_heading) == (1, 2, "A", " A ")
    assert (a.text, a.body, a.path, a.parent) == ("== A ==\nBody a.\n", "Body a.\n", ("A",), None)
    assert (b.heading, b.raw_heading, b.path, b.parent) == ("B", " ''B'' ", ("A", "B"), 1)
    assert b.body == "Body b.\n"


def test_split_body_starts_after_a_multi_line_heading():
    text = "== A <!--\nnote\n--> ==\nBody.\n"
    (_lead, a) = split(text)
    assert a.heading == "A"
    assert a.body == "Body.\n"


def test_split_lead_is_never_a_parent():
    sections = split("Lead.\n=== Deep ===\nText.\n")
    assert sections[1].parent is None
    assert sections[1].path == ("Deep",)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("  Plain  ", "Plain"),
        ("[[a|b]]", "b"),
        ("[[Page]] and [[:Category:C|cat]]", "Page and cat"),
        ("''x''", "x"),
        ("'''''both'''''", "both"),
        ("x <!-- comment --> y", "x  y"),
        ("[https://example.org External]", "External"),
        ("A&nbsp;B &amp; C", "A\xa0B & C"),
        ("<small>small</small>", "small"),
        ("Claim<ref name=x>Source</ref>", "Claim"),
        ("{{anchor|a}}Title", "{{anchor|a}}Title"),
        ("<nowiki>[[not a link]]</nowiki>", "[[not a link]]"),
    ],
)
def test_heading_text(raw, text):
    assert heading_text(raw) == text


def test_split_a_long_article():
    # How long this takes is bench/bench_diff.py's business ("split" row), not a test's.
    paragraph = "Word [[link|label]] text.<ref>{{cite web |url=https://x.org |title=T}}</ref> " * 8
    text = "".join(
        f"\n== Section {n} ==\n{paragraph}\n\n=== Sub {n} ===\n{paragraph}\n" for n in range(300)
    )
    assert len(text) > 250_000
    sections = split(text + "<!-- uncached -->")
    assert len(sections) == 601
    assert "".join(s.text for s in sections) == text + "<!-- uncached -->"


# ---- properties --------------------------------------------------------------------------

# fmt: off
_TOKENS = st.sampled_from(
    [
        "\n", "\n", "\n", "=", "==", "===", " ", "a", "b c", "{{", "}}", "{{{", "}}}", "[[", "]]",
        "|", "-{", "}-", "<!--", "-->", "<nowiki>", "</nowiki>", "<ref>", "</ref>", "<pre>",
        "</pre>", "''", "'''", "\t", "<includeonly>", "</includeonly>", "{|", "|}", "x=y",
        "\n== h ==\n", "\n=== h ===\n", "<ref name=x/>", "[[a|", "é", "😀",
    ]
)
# fmt: on
_WIKITEXT = st.lists(_TOKENS, max_size=60).map("".join)


@settings(max_examples=300, deadline=None, database=None)
@given(_WIKITEXT | st.text(max_size=200))
def test_split_is_lossless(text):
    sections = split(text)
    assert "".join(s.text for s in sections) == text
    assert sections[0].index == 0 and sections[0].level == 0 and sections[0].path == ()
    for n, section in enumerate(sections[1:], 1):
        assert section.index == n
        assert section.number >= n and section.number > sections[n - 1].number
        assert section.heading.strip(), "only the lead has no heading"
        assert 1 <= section.level <= 6
        assert section.text.startswith("=")
        assert section.text[section.body_start :] == section.body
        if section.parent is None:
            assert section.path == (section.heading,)
        else:
            parent = sections[section.parent]
            assert 0 < section.parent < n and parent.level < section.level
            assert section.path == parent.path + (section.heading,)


# ---- issue 9: template headings are headings ----------------------------------------------

_COMMONS = (
    "{{Information |description=A photo |date=2020-01-01}}\n"
    "== {{int:filedesc}} ==\nA photo of a harbour at dawn, taken from the pier.\n"
    "== {{int:license-header}} ==\n{{self|cc-by-sa-4.0}}\n"
)
_WIKTIONARY = (
    "== Hallo ({{Sprache|Deutsch}}) ==\n"
    "=== {{Wortart|Substantiv|Deutsch}}, {{n}} ===\n{{Deutsch Substantiv Übersicht}}\n"
    "{{Bedeutungen}}\n:[1] Gruß zur Begrüßung\n"
)


@pytest.mark.parametrize(
    ("old", "new", "old_path", "new_path"),
    [
        (
            _COMMONS,
            _COMMONS.replace("{{int:license-header}}", "{{int:license}}"),
            ["{{int:license-header}}"],
            ["{{int:license}}"],
        ),
        (
            _WIKTIONARY,
            _WIKTIONARY.replace("{{n}}", "{{f}}"),
            ["Hallo ({{Sprache|Deutsch}})", "{{Wortart|Substantiv|Deutsch}}, {{n}}"],
            ["Hallo ({{Sprache|Deutsch}})", "{{Wortart|Substantiv|Deutsch}}, {{f}}"],
        ),
    ],
)
def test_template_heading_change_is_a_rename_not_the_lead(old, new, old_path, new_path):
    result = diff_texts(old, new, id_prefix="n.")
    changed = [entry for entry in result.sections if entry["kinds"]]
    assert [(e["old_path"], e["path"], e["kinds"]) for e in changed] == [
        (old_path, new_path, ["renamed"])
    ]
    text = render_text({"sections": result.sections})
    assert "(lead)" not in text
    assert " › ".join(new_path) in text and "was: " + " › ".join(old_path) in text


class _Site:
    """A wiki where "de" is an interlanguage prefix (as tracker.text.siteinfo.SiteInfo tells)."""

    def link_target(self, target: str) -> SimpleNamespace:
        prefix = target.partition(":")[0].strip().lower()
        return SimpleNamespace(kind="interlanguage" if prefix == "de" else "link")


def test_split_site_tells_interlanguage_links():
    text = "Lead.\n== Hallo [[de:Hallo]] ==\nText.\n"
    assert split(text)[1].heading == "Hallo de:Hallo"  # no interlanguage prefixes known
    site = _Site()
    assert split(text, site=site)[1].heading == "Hallo"
    edited = text.replace("Text.", "More text.")
    assert split(edited, previous=text, site=site)[1].heading == "Hallo"
    assert split(edited, previous=text)[1].heading == "Hallo de:Hallo"
