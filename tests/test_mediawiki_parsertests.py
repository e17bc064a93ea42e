"""MediaWiki 1.39's own parser tests about sections and headings, run against tracker.text.sections.

The cases come from MediaWiki's test files (tests/data/mediawiki-parsertests/, read by
tests/parsertests.py); those MediaWiki's legacy parser runs (not disabled, with an
``html/php`` or ``html`` expectation) are about sections and headings when they are:

- ``section=N`` (also ``T-N``, ``new``): Parser::getSection(text, N), section N with its
  subsections, right-trimmed; here: the split's section whose `number` is N and the ones
  after it that are deeper.
- ``replace=N,text``: Parser::replaceSection: the text with that section (and its
  subsections) replaced by the new text and a blank line.
- headings rendered (``<span class="mw-headline">`` in the expected HTML): each heading of
  the page's own text (not from a template) has the split's level, MediaWiki's section
  number (its edit link's ``section=N``) and, as `heading`, the heading's visible text.

A case the tracker cannot or does not mean to match (it needs a template expanded, a
parser function, language conversion...) is listed, with the reason, in
tests/data/mediawiki-parsertests-out-of-scope.yaml; every other case must pass.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from mwsections import PHP_WHITESPACE, get_section, replace_section
from parsertests import ParserTest, read

from tracker.text.sections import split

DATA = Path(__file__).parent / "data"
FILES = ("parserTests.txt", "mediaParserTests.txt")
OUT_OF_SCOPE_FILE = DATA / "mediawiki-parsertests-out-of-scope.yaml"

# The tags whose content MediaWiki's parser tests do not parse: core's (CoreTagHooks:
# nowiki, pre, gallery, indicator, langconvert) and the test hooks (ParserTestParserHook).
TAGS = frozenset("nowiki pre gallery indicator langconvert tag tåg statictag asidetag".split())
STYLE_TAGS = frozenset({"style", "link"})  # with the option "styletag"


def _kind(test: ParserTest) -> str | None:
    """Which section or heading behaviour a test checks, if any, for the legacy parser."""
    options = test.options
    if test.wikitext is None or test.legacy_html is None or "disabled" in options:
        return None
    if options.get("preprocessor", "Preprocessor_Hash") != "Preprocessor_Hash":
        return None
    if "section" in options:
        return "section"
    if "replace" in options:
        return "replace"
    if {"pst", "msg", "comment", "preload"} & options.keys():
        return None
    if 'class="mw-headline"' in test.legacy_html:
        return "headings"
    return None


def _collect() -> list[tuple[str, ParserTest]]:
    found = []
    for name in FILES:
        for test in read(DATA / "mediawiki-parsertests" / name).tests:
            kind = _kind(test)
            if kind is not None:
                found.append((kind, test))
    return found


CASES = _collect()
OUT_OF_SCOPE: dict[str, str] = {
    entry["test"]: f"{entry['reason']}: {entry['why']}"
    for entry in yaml.safe_load(OUT_OF_SCOPE_FILE.read_text("utf-8"))
}


def _params():
    """The cases in scope (those out of scope are listed with their reason in the data file
    and accounted for by test_mediawiki_parser_tests_counts)."""
    for kind, test in CASES:
        if test.name not in OUT_OF_SCOPE:
            yield pytest.param(kind, test, id=f"{kind}: {test.name}")


def _tags(test: ParserTest) -> frozenset[str]:
    return TAGS | STYLE_TAGS if "styletag" in test.options else TAGS


# ---- headings in the expected HTML -----------------------------------------------------


class _Headlines(HTMLParser):
    """The <hN><span class="mw-headline"> of legacy parser output: (level, edit link's
    section or None, the headline's visible text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str | None, str]] = []
        self._level = 0
        self._depth = 0  # <span> depth inside the headline; 0: not in one
        self._text: list[str] = []
        self._edit: str | None = None
        self._hidden = 0  # inside <style> or <script>: not shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self._hidden += tag in ("style", "script")
        if re.fullmatch(r"h[1-6]", tag):
            self._level, self._edit = int(tag[1]), None
        elif self._depth:
            self._depth += tag == "span"
        elif tag == "span" and attributes.get("class") == "mw-headline" and self._level:
            self._depth, self._text = 1, []
        elif tag == "a" and self._level and "action=edit" in (attributes.get("href") or ""):
            m = re.search(r"[?&]section=([^&]+)", attributes["href"] or "")
            self._edit = m.group(1) if m else None

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("style", "script") and self._hidden > 0
        if self._depth and tag == "span":
            self._depth -= 1
            if not self._depth:
                self._headline = "".join(self._text)
        elif re.fullmatch(r"h[1-6]", tag) and self._level:
            if hasattr(self, "_headline"):
                self.found.append((self._level, self._edit, self._headline))
                del self._headline
            self._level = 0

    def handle_data(self, data: str) -> None:
        if self._depth and not self._hidden:
            self._text.append(data)


def _expected_headings(expected_html: str) -> list[tuple[int, str | None, str]]:
    parser = _Headlines()
    parser.feed(expected_html)
    parser.close()
    return [(level, edit, text.strip(PHP_WHITESPACE)) for level, edit, text in parser.found]


def _own_headings(test: ParserTest) -> list[tuple[int, int | None, str]]:
    """The sections of the test's own wikitext: (level, number or None, visible text).

    Edit links tell them: "section=N" for the page's own, "T-N" for a template's, none for
    headings that are no section (<h2> written as HTML; a heading line the preprocessor did
    not see as one, after a comment or in open brackets). __NOEDITSECTION__ hides them all.
    """
    found = _expected_headings(test.legacy_html or "")
    if not re.search("__NOEDITSECTION__", test.wikitext or "", re.I):
        found = [h for h in found if h[1] is not None and not h[1].startswith("T-")]
    return [(level, int(edit) if edit else None, text) for level, edit, text in found]


def _french_spaces(text: str) -> str:
    """What the HTML's tidying (Sanitizer::armorFrenchSpaces) does to a heading's text."""
    return re.sub("([«‹]) ", "\\1\xa0", re.sub(r" (?=[?:;!%»›](?!\w))", "\xa0", text))


# ---- the tests ---------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "test"), list(_params()))
def test_mediawiki_parser_test(kind: str, test: ParserTest) -> None:
    wikitext = test.wikitext or ""
    tags = _tags(test)
    if kind == "section":
        assert get_section(wikitext, test.options["section"], tags) == test.legacy_html
    elif kind == "replace":
        number, new = test.options["replace"]
        assert replace_section(wikitext, number, new, tags) == test.legacy_html
    else:
        expected = _own_headings(test)
        sections = split(wikitext, tags=tags)[1:]
        got = [(s.level, s.number, _french_spaces(s.heading)) for s in sections]
        numbers = [number for _level, number, _text in expected]
        if None in numbers:
            got = [(level, None, text) for level, _number, text in got]
        assert got == expected


def test_mediawiki_parser_tests_counts() -> None:
    """The cases found, and that each out-of-scope entry names one of them."""
    names = [test.name for _kind, test in CASES]
    assert not set(OUT_OF_SCOPE) - set(names), "out-of-scope entries for no case"
    kinds = Counter(kind for kind, _test in CASES)
    assert kinds["section"] >= 29 and kinds["replace"] >= 13 and kinds["headings"] >= 60
    assert len(list(_params())) + len(OUT_OF_SCOPE) == len(CASES) == 119


def summary() -> dict[str, int]:
    """Counts for the README and reports: found, in scope, out of scope by reason."""
    reasons = Counter(
        OUT_OF_SCOPE[t.name].split(":")[0] for _kind, t in CASES if t.name in OUT_OF_SCOPE
    )
    return {"found": len(CASES), "in scope": len(CASES) - sum(reasons.values()), **reasons}
