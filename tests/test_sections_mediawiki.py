"""The splitter against MediaWiki's own parser: action=parse&prop=sections is the oracle.

For each wikitext, MediaWiki's sections with a numeric ``index`` (the ones section editing
addresses: headings of the page's own text, not of templates) must be the splitter's
sections: same character offset (MediaWiki's ``byteoffset`` counts code points), same level,
the same section number (``index``: heading nodes in a template's arguments use up numbers
too), and the same heading text as a reader sees it (``line``, its tags dropped; a heading
with a template shows its wikitext instead, one that renders empty its wikitext too). A
saved page's sections (``rvsection=N``) must be those of tests/mwsections.py's getSection.

The wiki renders like Wikipedia where headings need it: Cite is on (<ref> is a tag there,
its footnote marker is no part of a heading), the files the cases show exist, and "de" is
an interlanguage prefix. The splitter is given the wiki's own list of extension tags.
"""

from __future__ import annotations

import html
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import yaml
from mediawiki import MEDIAWIKI_DIR, TestWiki
from mwsections import PHP_WHITESPACE, get_section

from tracker.text.sections import split

SNAPSHOT = Path(__file__).resolve().parent.parent / "snapshots" / "pakistan-nato-relations.xml"
# The cases of sections_cases.yaml but those for a wiki with other extension tags.
CASES = [
    case
    for case in yaml.safe_load(
        (Path(__file__).parent / "data" / "sections_cases.yaml").read_text("utf-8")
    )
    if not case.get("tags")
]

pytestmark = pytest.mark.mediawiki  # (the wiki fixture here is a wiki of its own)
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
    "heading in a label of a link with an unknown protocol": "[[foo://x|\n== Hidden ==\n]]\n",
    "heading in brackets around a URL": "[[https://x.org|\n== Shown ==\n]]\n",
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


# Files the cases show (tests/data/sections_cases.yaml, TRICKY), from Debian's MediaWiki.
FILES = {
    "Foobar.jpg": "skins/MonoBook/resources/images/headbg.jpg",
    "X.jpg": "skins/MonoBook/resources/images/headbg.jpg",
    "X.png": "resources/assets/poweredby_mediawiki_88x31.png",
}
# The tracker's choices where a wiki's line differs (tracker/text/headline.py says why): a
# template shows its wikitext, a bare [URL] its URL, not the page-dependent "[1]".
_OWN_CHOICE = re.compile(r"\{\{|\[(?:[a-z]+:)?//[^\s\]]*\]", re.I)
_FOOTNOTE = re.compile(r"<sup>&#91;\d+&#93;</sup>")  # Cite's marker: no part of the heading


@pytest.fixture(scope="module")
def wiki(tmp_path_factory: pytest.TempPathFactory):
    """A wiki of its own, rendering like Wikipedia where headings need it."""
    wiki = TestWiki.start(tmp_path_factory.mktemp("sections-wiki"))
    with wiki.conf.open("a") as settings:
        settings.write("wfLoadExtension( 'Cite' );\n$wgEnableUploads = true;\n")
    images = tmp_path_factory.mktemp("images")
    for name, source in FILES.items():
        shutil.copy(MEDIAWIKI_DIR / source, images / name)
    wiki.run_maintenance("importImages", images)
    wiki.run_maintenance(
        "sql", "--query", "INSERT INTO interwiki (iw_prefix, iw_url, iw_api, iw_wikiid, "
        "iw_local, iw_trans) VALUES ('de', 'https://de.wikipedia.org/wiki/$1', '', '', 1, 0)",
    )  # fmt: skip
    yield wiki
    wiki.stop()


def _get(wiki: TestWiki, **params: str) -> dict:
    response = requests.post(wiki.api_url, data={**params, "format": "json", "formatversion": "2"},
                             timeout=30)  # fmt: skip
    response.raise_for_status()
    return response.json()


def _sections(wiki: TestWiki, text: str) -> list[tuple[int, int, int, str]]:
    """MediaWiki's sections of `text`: (offset, level, number, line as text)."""
    reply = _get(wiki, action="parse", text=text, contentmodel="wikitext", prop="sections",
                 title="Sections oracle")  # fmt: skip
    out = []
    for section in reply["parse"]["sections"]:
        if not str(section["index"]).isdigit():
            continue  # a heading from a template, or an HTML <h2>: not the page's own
        line = html.unescape(re.sub(r"<[^>]*>", "", _FOOTNOTE.sub("", section["line"])))
        number = int(section["index"])
        out.append((section["byteoffset"], int(section["level"]), number, line))
    return out


def _split(text: str, tags: list[str]) -> list[tuple[int, int, int, str, str]]:
    out = []
    offset = 0
    for section in split(text, tags=tags):
        if section.index:
            out.append(
                (offset, section.level, section.number, section.heading, section.raw_heading)
            )
        offset += len(section.text)
    return out


@pytest.fixture(scope="module")
def tags(wiki) -> list[str]:
    reply = _get(wiki, action="query", meta="siteinfo", siprop="extensiontags")
    return [tag.strip("<>") for tag in reply["query"]["extensiontags"]]


@pytest.fixture(scope="module")
def oracle(wiki, tags):
    def compare(text: str) -> None:
        expected = _sections(wiki, text)
        got = _split(text, tags)
        assert [e[:3] for e in expected] == [g[:3] for g in got], (
            f"offsets/levels/numbers differ for {text!r}:\n  MediaWiki {expected}\n  split {got}"
        )
        for (*_, line), (*_, level, heading, raw) in zip(expected, got, strict=True):
            line = line.strip(PHP_WHITESPACE)
            if not line.strip():
                # Rendered empty: the heading is its wikitext (or, blank, its heading line).
                blank = "=" * level + raw + "=" * level
                assert heading in (raw.strip(PHP_WHITESPACE), blank), f"{raw!r} in {text!r}"
            elif not _OWN_CHOICE.search(raw):
                assert heading == line, f"heading of {raw!r} in {text!r}"

    return compare


@pytest.mark.parametrize("name", list(TRICKY))
def test_split_matches_mediawiki_tricky(oracle, name):
    oracle(TRICKY[name])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_split_matches_mediawiki_cases(oracle, case):
    oracle(case["text"])


def test_split_matches_mediawiki_snapshot(oracle):
    root = ET.parse(SNAPSHOT).getroot()
    texts = [rev.findtext(f"{EXPORT_NS}text") or "" for rev in root.iter(f"{EXPORT_NS}revision")]
    assert len(texts) >= 2
    for text in texts:
        oracle(text)


# Texts with a heading node at the top level that makes no section (in a link's label, or
# a heading line the parser does not render: a line break in a link). MediaWiki's section
# editing ends a section there too (Parser::extractSections breaks at every <h> node);
# a reader sees no heading there, and the tracker's section goes on.
EDIT_BREAKS = {
    TRICKY["heading in a link label"],
    TRICKY["heading in a label of a link with an unknown protocol"],
    TRICKY["heading in a category sort key"],
    *(c["text"] for c in CASES if c.get("edit_breaks")),
}


def test_section_numbers_get_mediawikis_section_text(wiki, tags):
    """rvsection=N of a saved page gives getSection(N) of tests/mwsections.py, for every N."""
    texts = [c["text"] for c in CASES if "numbers" in c] + list(TRICKY.values())
    assert len(EDIT_BREAKS) == 5
    for n, text in enumerate(texts):
        title = f"Section numbers {n}"
        wiki.edit(title, text)
        reply = _get(wiki, action="query", prop="revisions", titles=title, rvprop="content",
                     rvslots="main")  # fmt: skip
        saved = reply["query"]["pages"][0]["revisions"][0]["slots"]["main"]["content"]
        for section in split(saved, tags=tags):
            reply = _get(wiki, action="query", prop="revisions", titles=title, rvprop="content",
                         rvslots="main", rvsection=str(section.number))  # fmt: skip
            got = reply["query"]["pages"][0]["revisions"][0]["slots"]["main"]["content"]
            ours = get_section(saved, str(section.number), frozenset(tags))
            if text in EDIT_BREAKS:
                assert ours.startswith(got), f"section {section.number} of {saved!r}"
            else:
                assert ours == got, f"section {section.number} of {saved!r}"


def test_split_interlanguage_link_vanishes_from_headings(wiki, tags):
    """[[de:Foo]] is an interlanguage link where "de" is an interwiki prefix (T2087)."""
    reply = _get(wiki, action="query", meta="siteinfo", siprop="interwikimap|namespaces")
    languages = {i["prefix"] for i in reply["query"]["interwikimap"] if i.get("language")}
    assert "de" in languages

    class Site:  # what tracker.text.siteinfo.SiteInfo tells of links (the part split uses)
        def link_target(self, target: str) -> SimpleNamespace:
            prefix = target.partition(":")[0].strip().lower() if ":" in target else ""
            kinds = {"category": "category", "file": "file", "image": "file", "media": "media"}
            kind = "interlanguage" if prefix in languages else kinds.get(prefix, "link")
            return SimpleNamespace(kind=kind)

    site = Site()
    for raw in (
        " [[de:Foo]] x ",
        " x [[de:Foo]] ",
        " [[:de:Foo]] x ",
        " A [[Category:B]] [[de:C]] D ",
    ):
        text = f"=={raw}==\n"
        (line,) = (s[3] for s in _sections(wiki, text))
        assert split(text, tags=tags, site=site)[1].heading == line.strip(PHP_WHITESPACE)
