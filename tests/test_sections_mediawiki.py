"""The splitter against MediaWiki's own parser: action=parse&prop=sections is the oracle.

For each wikitext, MediaWiki's sections with a numeric ``index`` (the ones section editing
addresses: headings of the page's own text, not of templates) must be the splitter's
sections: same character offset (MediaWiki's ``byteoffset`` counts code points), same level,
same heading text as a reader sees it. The splitter is given the wiki's own list of
extension tags: a wiki without Cite parses inside <ref>, one with Cite does not.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from tracker.sections import DEFAULT_TAGS, split

SNAPSHOT = Path(__file__).resolve().parent.parent / "snapshots" / "pakistan-nato-relations.xml"
EXPORT_NS = "{http://www.mediawiki.org/xml/export-0.11/}"

# One wikitext a line of intent; what MediaWiki 1.39 does with each was checked by hand.
TRICKY = {
    "plain headings": "Lead.\n== A ==\nText.\n=== B ===\nMore.\n== C ==\n",
    "heading on the first line": "== First ==\nText.",
    "heading at the end without newline": "Text.\n== Last ==",
    "trailing spaces and tabs": "== A ==  \t\nText.\n",
    "trailing comment": "== A == <!-- note -->  \nText.\n",
    "two trailing comments": "== A ==<!-- one --> <!-- two -->\nText.\n",
    "text after a trailing comment": "== A == <!-- note --> more\nText.\n",
    "equals inside": "== a = b ==\n==a==b==\n",
    "unbalanced left": "=a==\n",
    "unbalanced right": "==a=\n",
    "equals signs alone": "=\n==\n===\n====\n=====\n=======\n",
    "blank titles": "= =\n== ==\n",
    "level above six": "======== Deep ========\n",
    "tabs inside": "==\tTabbed\t==\n",
    "heading inside a comment": "<!--\n== Hidden ==\n-->\n== Shown ==\n",
    "comment alone on its line before a heading": "Text.\n<!-- c -->\n== After ==\n",
    "comment then heading on one line": "Text.\n<!-- c -->== Not ==\n",
    "unclosed comment": "== A ==\n<!--\n== Hidden ==\n",
    "nowiki and pre": "<nowiki>\n== No ==\n</nowiki>\n<pre>\n== Pre ==\n</pre>\n== Yes ==\n",
    "unclosed nowiki": "<nowiki>\n== Shown ==\n",
    "includeonly, noinclude, onlyinclude": (
        "<includeonly>\n== I ==\n</includeonly>\n<noinclude>\n== N ==\n</noinclude>\n"
        "<onlyinclude>\n== O ==\n</onlyinclude>\n"
    ),
    "heading in a template argument": "{{Foo|\n== Hidden ==\n}}\n== Shown ==\n",
    "heading in a named template argument": "{{Foo\n| a =\n== Hidden ==\n| b = x\n}}\n",
    "heading after an unclosed template": "{{Foo|\n== Shown ==\n",
    "single equals in an unclosed template": "{{Foo|\n=Not a heading=\n",
    "heading in a template argument's argument": "{{{1|\n== Hidden ==\n}}}\n",
    "nested templates": "{{A|{{B|\n== Hidden ==\n}}\n== Hidden too ==\n}}\n== Shown ==\n",
    "template closing on the heading line": "{{Foo|x\n== A }} ==\n",
    "heading in a table cell": "{|\n|-\n| cell\n== In cell ==\n|}\n",
    "heading directly in a table": '{| class="wikitable"\n== In table ==\n|}\n',
    "heading in a link without label": "[[Target\n== Shown ==\n]]\n",
    "heading in a link label": "[[Target|\n== Hidden ==\n]]\n",
    "heading in a thumbnail caption": "[[File:X.jpg|thumb|\n== Caption ==\n]]\n",
    "heading in a category sort key": "[[Category:X|\n== Hidden ==\n]]\n",
    "heading in language conversion": "-{\n== Shown ==\n}-\n",
    "unbalanced italics": "== ''Italic ==\n== '''Bold'' ==\n",
    "markup in headings": "== [[Page|Label]] and [[Other]] ==\n== ''The'' '''Treaty''' ==\n",
    "entities and html": "== A &amp; B ==\n== <span>Span</span> &ndash; x ==\n",
    "a reference in a heading": "== Claim<ref>Source.</ref> ==\nText.\n",
    "extension tags": (
        "<ref>\n== In ref ==\n</ref>\n<math>\n== In math ==\n</math>\n"
        "<gallery>\n== In gallery ==\n</gallery>\n== After ==\n"
    ),
    "syntaxhighlight and source": (
        '<syntaxhighlight lang="python">\n== Code ==\n</syntaxhighlight>\n'
        "<source>\n== Src ==\n</source>\n== After ==\n"
    ),
    "unicode before headings": "Pakistan–NATO — ünïcödé 😀\n== Après ==\nTexte.\n",
}


def _sections(api_url: str, text: str) -> list[tuple[int, int, str]]:
    response = requests.post(
        api_url,
        data={
            "action": "parse",
            "text": text,
            "contentmodel": "wikitext",
            "prop": "sections",
            "title": "Sections oracle",
            "format": "json",
            "formatversion": "2",
        },
        timeout=30,
    )
    response.raise_for_status()
    out = []
    for section in response.json()["parse"]["sections"]:
        if not str(section["index"]).isdigit():
            continue  # a heading from a template, or an HTML <h2>: not the page's own
        line = html.unescape(re.sub(r"<[^>]*>", "", section["line"]))
        line = re.sub(r"\[\d+\]", "", line).strip()  # footnote markers are not the heading
        out.append((section["byteoffset"], int(section["level"]), line))
    return out


def _split(text: str, tags: list[str]) -> list[tuple[int, int, str, str]]:
    out = []
    offset = 0
    for section in split(text, tags=tags):
        if section.index:
            out.append((offset, section.level, section.heading, section.raw_heading))
        offset += len(section.text)
    return out


@pytest.fixture(scope="module")
def oracle(mediawiki):
    tags_reply = requests.get(
        mediawiki.api_url,
        params={"action": "query", "meta": "siteinfo", "siprop": "extensiontags", "format": "json"},
        timeout=30,
    ).json()
    tags = [tag.strip("<>") for tag in tags_reply["query"]["extensiontags"]]
    foreign = DEFAULT_TAGS - set(tags)  # tags this wiki shows as text

    def compare(text: str) -> None:
        expected = _sections(mediawiki.api_url, text)
        got = _split(text, tags)
        assert [e[:2] for e in expected] == [g[:2] for g in got], (
            f"offsets/levels differ for {text!r}:\n  MediaWiki {expected}\n  split     {got}"
        )
        for (_offset, _level, line), (_o, _l, heading, raw) in zip(expected, got, strict=True):
            # Only a wiki can expand a template; heading_text reads tags as Wikipedia does.
            if "{{" not in raw and not any(f"<{tag}" in raw.lower() for tag in foreign):
                assert heading == line, f"heading of {raw!r} in {text!r}"

    return compare


@pytest.mark.parametrize("name", list(TRICKY))
def test_split_matches_mediawiki_tricky(oracle, name):
    oracle(TRICKY[name])


def test_split_matches_mediawiki_snapshot(oracle):
    root = ET.parse(SNAPSHOT).getroot()
    texts = [rev.findtext(f"{EXPORT_NS}text") or "" for rev in root.iter(f"{EXPORT_NS}revision")]
    assert len(texts) >= 2
    for text in texts:
        oracle(text)
