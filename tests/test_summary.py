"""Edit summaries as MediaWiki shows them (tracker.text.summary), with MediaWiki itself as
the oracle: its API's ``parsedcomment`` of the same summaries."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from tracker.text.siteinfo import SiteInfo
from tracker.text.summary import (
    SectionLink,
    Text,
    WikiLink,
    parse_summary,
    summary_html,
    summary_text,
)

BASE = "https://wiki.example/index.php"


def page_url(title: str) -> str:
    from urllib.parse import quote

    return f"{BASE}?title={quote(title.replace(' ', '_'))}"


def links_of(comment: str) -> list[tuple[str, str, str]]:
    """(kind, target, label) of every link: kind "link" (target "title#fragment") or
    "section" (target the anchor); an autocomment without an anchor is no link."""
    out = []
    for part in parse_summary(comment):
        if isinstance(part, WikiLink):
            out.append(
                ("link", part.title + ("#" + part.fragment if part.fragment else ""), part.label)
            )
        elif isinstance(part, SectionLink) and part.anchor is not None:
            out.append(("section", part.anchor, part.label))
    return out


# Cases ported from MediaWiki 1.39's tests/phpunit/includes/LinkerTest.php
# (provideCasesForFormatComment, provideCasesForFormatLinksInComment): their inputs and the
# link targets and labels they expect (anchors in the html5 fragment mode, as MediaWiki
# 1.39 has by default, where the test pins the legacy one).
LINKER_TEST_CASES = [
    ("/* autocomment */", [("section", "autocomment", "autocomment")]),
    ("/* [[linkie?]] */", [("section", "linkie?", "[[linkie?]]")]),
    ("/*  */ // Edit via via", []),
    ("/**/ foobar", []),
    ("/* autocomment */ post", [("section", "autocomment", "autocomment")]),
    ("pre /* autocomment */", [("section", "autocomment", "autocomment")]),
    (
        "/* autocomment */ multiple? /* autocomment2 */",
        [("section", "autocomment", "autocomment"), ("section", "autocomment2", "autocomment2")],
    ),
    (
        "/* autocomment containing /* */ T70361",
        [("section", "autocomment_containing_/*", "autocomment containing /*")],
    ),
    (
        '/* autocomment containing "quotes" */',
        [("section", 'autocomment_containing_"quotes"', 'autocomment containing "quotes"')],
    ),
    (
        "/* autocomment containing <script>tags</script> */",
        [
            (
                "section",
                "autocomment_containing_<script>tags</script>",
                "autocomment containing <script>tags</script>",
            )
        ],
    ),
    ("/* */", []),
    ("/* [[ */", []),
    ("abc [[link]] def", [("link", "Link", "link")]),
    ("abc [[link|text]] def", [("link", "Link", "text")]),
    ("abc [[Special:BlankPage|]] def", [("link", "Special:BlankPage", "Special:BlankPage")]),
    ("abc [[%C4%85%C5%9B%C5%BC]] def", [("link", "Ąśż", "ąśż")]),
    ("abc [[#section]] def", [("link", "#section", "#section")]),
    ("abc [[/subpage]] def", [("link", "/subpage", "/subpage")]),
    ('abc [["evil!"]] def', [("link", '"evil!"', '"evil!"')]),
    ("abc [[<script>very evil</script>]] def", []),
    ("abc [[|]] def", []),
    ("[[Media:LinkerTest.jpg]]", [("link", "File:LinkerTest.jpg", "Media:LinkerTest.jpg")]),
    ("[[:Special:BlankPage]]", [("link", "Special:BlankPage", "Special:BlankPage")]),
    ("[[link]]trail...", [("link", "Link", "linktrail")]),
    ("foo bar [[Special:BlankPage]]", [("link", "Special:BlankPage", "Special:BlankPage")]),
    ("[[ :Special:BlankPage]]", [("link", "Special:BlankPage", "Special:BlankPage")]),
    ("[[::Special:BlankPage]]", [("link", "Special:BlankPage", ":Special:BlankPage")]),
    ("[[Foo[[Special:BlankPage]]", [("link", "Special:BlankPage", "Special:BlankPage")]),
    ("[[Foo'bar]]", [("link", "Foo'bar", "Foo'bar")]),
    ("foo bar [[Image:Example]]", [("link", "File:Example", "Image:Example")]),
]


@pytest.mark.parametrize(("comment", "expected"), LINKER_TEST_CASES)
def test_summary_linker_cases(comment: str, expected: list[tuple[str, str, str]]) -> None:
    assert links_of(comment) == expected


# One case a rule (our own, beside MediaWiki's).
RULE_CASES = [
    # autocomments: text before and after, the ": " only when text follows
    ("/* Stability in Afghanistan */ fix", "→ Stability in Afghanistan: fix"),
    ("fix /* Stability */", "fix → Stability"),
    ("/* A */ and /* B */ both", "→ A: and → B: both"),
    ("/* A */x", "→ A: x"),
    # links as their labels, categories with the colon, trails, no pipe trick
    ("[[dog]]s and [[cat|kitten]]s", "dogs and kittens"),
    ("[[:Category:Rivers]]", "Category:Rivers"),
    ("[[Foo (bar)|]]", "Foo (bar)"),
    ("[[dog]]'s", "dog's"),
    # no external links, no templates, no bold; entities decoded
    ("see https://example.org [https://example.org x] {{tl}} '''b'''",
     "see https://example.org [https://example.org x] {{tl}} '''b'''"),
    ("caf&eacute; &lt;b&gt; &#60;i&#62; &amp;amp; &bogus;", "café <b> <i> &amp; &bogus;"),
    # an autocomment's text is never read for links
    ("/* [[Linked]] heading */ and [[Linked]]", "→ [[Linked]] heading: and Linked"),
]  # fmt: skip


@pytest.mark.parametrize(("comment", "expected"), RULE_CASES)
def test_summary_text_rules(comment: str, expected: str) -> None:
    assert summary_text(comment) == expected


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        ("/* Café & crème */", [("section", "Café_&_crème", "Café & crème")]),
        ("/* With__under_ */", [("section", "With_under", "With__under_")]),
        ("/* 50%AB x */", [("section", "50%2525AB_x", "50%AB x")]),
        ("[[Foo#bar baz|x]]", [("link", "Foo#bar_baz", "x")]),
        ("[[#Early life|see]]", [("link", "#Early_life", "see")]),
        ("[[talk:foo]] [[help:x#y]]", [("link", "Talk:Foo", "talk:foo"), ("link", "Help:X#y", "help:x#y")]),  # noqa: E501
        ("[[a]][[b]]c", [("link", "A", "a"), ("link", "B", "bc")]),
        ("[[Talk:File:x]] [[foo~~~bar]] [[./x]] [[a%zz]]", [("link", "A%zz", "a%zz")]),
        ("[[Foo|a]]]", [("link", "Foo", "a")]),
        ("[[w:Foo]]", [("link", "w:Foo", "w:Foo")]),
    ],
)  # fmt: skip
def test_summary_targets_and_anchors(comment: str, expected: list) -> None:
    assert links_of(comment) == expected


def test_summary_parts_are_structured() -> None:
    parts = parse_summary("/* History */ see [[Foo|bar]]")
    assert parts == [
        SectionLink("History", "History", True),
        Text(" see "),
        WikiLink("Foo", "", "bar"),
    ]


def test_summary_case_sensitive_wiki_keeps_the_first_letter() -> None:
    site = SiteInfo.from_api({"namespaces": [{"id": 0, "name": "", "case": "case-sensitive"}]})
    assert links_of("[[dog]]") == [("link", "Dog", "dog")]
    assert [p for p in parse_summary("[[dog]]", site) if isinstance(p, WikiLink)] == [
        WikiLink("dog", "", "dog")
    ]


def test_summary_html_links_to_the_wiki() -> None:
    html = summary_html("/* Early life */ see [[Foo bar|x]]s [[#Top]]", page_url, "Page")
    assert html == (
        '<span class="autocomment" dir="auto"><a class="summary-section" '
        f'href="{BASE}?title=Page#Early_life">→\u200eEarly life</a>: </span> see '
        f'<a class="summary-link" href="{BASE}?title=Foo_bar">xs</a> '
        f'<a class="summary-link" href="{BASE}?title=Page#Top">#Top</a>'
    )


def test_summary_html_without_a_wiki_url_shows_labels() -> None:
    html = summary_html("/* S */ [[Foo|x]]", lambda title: None, "Page")
    assert "<a" not in html
    assert str(html) == '<span class="autocomment" dir="auto">→\u200eS: </span> x'


def test_summary_hidden_or_empty() -> None:
    assert parse_summary(None) == [] and summary_text("") == ""
    assert summary_html(None, page_url, "P") == ""


# --- hostile content -------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script> /* <img src=x onerror=alert(1)> */",
    "[[javascript:alert(1)|x]] [[x|<b onmouseover=alert(1)>]]",
    '"quoted" \'single\' [[Foo|"><script>alert(2)</script>]]',
    '/* "><script>alert(3)</script> */ [[#"><svg onload=alert(4)>]]',
    "&lt;script&gt;alert(5)&lt;/script&gt; &#x3C;iframe&#x3E;",
    "\u202eevil\u202c [[\u202eFoo]] \x00\x07\x1b[31m",
    "[[data:text/html,<script>alert(6)</script>|y]] [[//evil.example/x|z]]",
]


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text += data


@pytest.mark.parametrize("comment", HOSTILE)
def test_summary_html_escapes_hostile_content(comment: str) -> None:
    html = str(summary_html(comment, page_url, "Page"))
    parsed = _Collect()
    parsed.feed(html)
    assert {tag for tag, _ in parsed.tags} <= {"a", "span"}
    for _tag, attrs in parsed.tags:
        assert set(attrs) <= {"class", "href", "dir"}
        if "href" in attrs:
            assert attrs["href"].startswith(BASE + "?title="), attrs["href"]
    assert "\x00" not in html and "\x1b" not in html and "\x07" not in html


def test_summary_html_refuses_a_non_wiki_url() -> None:
    html = summary_html("[[Foo]] /* S */", lambda title: "javascript:alert(1)", "P")
    assert "href" not in html and "javascript" not in html


def test_summary_huge_is_linear_and_escaped() -> None:
    comment = ("[[a|<b>]] /* s */ " * 5000) + "[[" * 20000 + "/*" * 20000
    html = summary_html(comment, page_url, "P")
    assert html.count('class="summary-link"') == 5000
    assert "<b>" not in html


# --- MediaWiki as the oracle -----------------------------------------------------------------

ORACLE_SUMMARIES = [
    "/* Stability in Afghanistan */ fix",
    "Reverted edits by [[Special:Contributions/203.0.113.9|203.0.113.9]] "
    "([[User talk:203.0.113.9|talk]])",
    "/* History */",
    "pre /* History */ post",
    "/* a */ multiple? /* b */",
    "/**/ foobar",
    "/* [[linkie?]] */",
    "/* autocomment containing /* */ T70361",
    '/* autocomment containing "quotes" */',
    "/* autocomment containing <script>tags</script> */",
    "/* A */x",
    "abc [[link]] def [[link|text]] [[Special:BlankPage|]]",
    "abc [[%C4%85%C5%9B%C5%BC]] def",
    "abc [[#section]] def [[#Early life|see]]",
    'abc [[/subpage]] [["evil!"]] [[<script>very evil</script>]] [[|]]',
    "[[Media:LinkerTest.jpg]] [[:Special:BlankPage]] [[link]]trail...",
    "[[ :Special:BlankPage]] [[::Special:BlankPage]] [[Foo[[Special:BlankPage]]",
    "[[Foo'bar]] [[Image:Example]] [[AT&T]]",
    "[[dog]]s, [[Cat|kitten]]s and [[Mouse]]'s",
    "[[:Category:Rivers]] and [[Category:Lakes]]",
    "[[Foo (bar)|]] pipe trick",
    "[[Pakistan–NATO relations#History]] [[Foo#bar_baz|x]]",
    "/* Café & crème */ accents",
    "/* 50%AB x */",
    "/* Section_with__underscores */ x",
    "caf&eacute; &lt;b&gt; &#60;i&#62; &amp;amp; &bogus;",
    "[[javascript:alert(1)|x]] <script>alert(1)</script> ' \"",
    "/* [[Linked]] heading */ and [[Linked]]",
    "[[talk:foo]] [[user:bar]] [[help:x#y z]]",
    "[[Talk:File:x]] [[foo~~~bar]] [[./x]] [[a%zz]]",
    "see https://example.org [https://example.org x] {{tl}} '''b'''",
    "[[Foo|label with ] bracket]] [[Foo|a]]]",
    "/* Ελληνικά κεφάλαια */ unicode [[Ελληνικά]]",
    "[[a]][[b]]c",
    "[[Bar /* t */]] [[Foo|x]]/* s */",
    "\u202eevil\u202c [[Foo]] \u200fmark",
    "tab\there  two spaces [[Help:X|]]",
    "[[Foo#]] [[Foo#%C3%A9t%C3%A9]] [[#]]",
]
# Pages the cases link to with a fragment: a link to a missing page goes to its edit form,
# where MediaWiki drops the fragment.
ORACLE_PAGES = ["Foo", "Help:X", "Pakistan–NATO relations"]


class _ParsedComment(HTMLParser):
    """The visible text and the links of a parsedcomment (ours or MediaWiki's)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text = ""
        self.links: list[tuple[str, str]] = []  # (decoded href target, label)
        self._open: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "a":
            self._open.append([dict(attrs).get("href") or "", ""])

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            href, label = self._open.pop()
            self.links.append((_target(href), label))

    def handle_data(self, data: str) -> None:
        self.text += data
        for link in self._open:
            link[1] += data


def _target(href: str) -> str:
    """ "Title#fragment" of a link to a wiki page: the title from ?title= or the path, the
    fragment percent-decoded once (as a browser reads it), underscores as spaces."""
    url = urlparse(href)
    query = parse_qs(url.query)
    if "title" in query:
        title = query["title"][0]
    else:
        title = unquote(url.path.rsplit("/index.php/", 1)[-1])
    if title == "Special:Upload" and "wpDestFile" in query:
        title = "File:" + query["wpDestFile"][0]  # a media link to a missing file
    fragment = unquote(url.fragment)
    return title.replace("_", " ") + ("#" + fragment if url.fragment else "")


def test_summary_matches_mediawiki_parsedcomment(mediawiki) -> None:  # type: ignore[no-untyped-def]
    title = "Summary oracle"
    for page in ORACLE_PAGES:
        mediawiki.edit(page, "exists")
    for number, summary in enumerate(ORACLE_SUMMARIES):
        mediawiki.edit(title, f"text {number}", summary=summary)
    revisions = mediawiki.revisions(title, prop="ids|comment|parsedcomment")
    assert len(revisions) == len(ORACLE_SUMMARIES)
    query = mediawiki.api(
        "query", meta="siteinfo", siprop="general|namespaces|namespacealiases|interwikimap",
        formatversion=2,
    )["query"]  # fmt: skip
    site = SiteInfo.from_api(query)
    base = mediawiki.index_url

    def url_of(page: str) -> str:
        from urllib.parse import quote

        return f"{base}?title={quote(page.replace(' ', '_'))}"

    differences = []
    for rev in revisions:
        theirs, ours = _ParsedComment(), _ParsedComment()
        theirs.feed(rev["parsedcomment"])
        ours.feed(str(summary_html(rev["comment"], url_of, title, site)))
        if (theirs.text, theirs.links) != (ours.text, ours.links):
            differences.append((rev["comment"], theirs.text, theirs.links, ours.text, ours.links))
    assert not differences, "\n".join(map(repr, differences))


def test_summary_link_label_across_an_autocomment_stays_text() -> None:
    # The one difference from MediaWiki known here: MediaWiki makes [[Foo|x /* s */ y]] a
    # link whose label holds the section link (an <a> inside an <a>, which browsers split
    # apart); here the link stays text around the section link.
    assert links_of("[[Foo|x /* s */ y]]") == [("section", "s", "s")]
    assert summary_text("[[Foo|x /* s */ y]]") == "[[Foo|x → s: y]]"


# --- digests ---------------------------------------------------------------------------------


def _digest_with(comment: str, formats: tuple[str, ...]) -> dict[str, str]:
    from hostile import hostile_model

    from tracker.digest.render import render_digest
    from tracker.text.summary import summary_pieces

    model = hostile_model("plain")
    for page in model["pages"]:
        for rev in page["revisions"]:
            rev["comment"] = comment
            rev["summary"] = summary_pieces(comment, page_url, "Some page")
    return render_digest(model, formats)


def test_digests_show_summaries_as_mediawiki_does() -> None:
    comment = "/* Early life */ see [[Foo bar|x]]s <b>&amp;</b> [[javascript:alert(1)|y]]"
    out = _digest_with(comment, ("text", "markdown", "html", "html_body"))
    assert "→ Early life: see xs <b>&</b> y" in out["text"]
    assert "→ Early life: see xs &lt;b&gt;&&lt;/b&gt; y" in out["markdown"]
    assert "[[" not in out["markdown"] and "/*" not in out["markdown"]
    for fmt in ("html", "html_body"):
        html = out[fmt]
        assert (
            f'<a class="summary-section" href="{BASE}?title=Some_page#Early_life">'
            "→\u200eEarly life</a>: </span> see "
            f'<a class="summary-link" href="{BASE}?title=Foo_bar">xs</a> &lt;b&gt;&amp;&lt;/b&gt; '
            f'<a class="summary-link" href="{BASE}?title=Javascript%3Aalert%281%29">y</a>'
        ) in html, fmt


@pytest.mark.parametrize("comment", HOSTILE)
def test_digests_escape_hostile_summaries(comment: str) -> None:
    out = _digest_with(comment, ("markdown", "html"))
    parsed = _Collect()
    parsed.feed(out["html"])
    hrefs = [attrs["href"] for tag, attrs in parsed.tags if tag == "a" and "href" in attrs]
    assert all(href.startswith(("https://", "http://")) for href in hrefs), hrefs
    assert "<script" not in out["html"].lower() and "<img" not in out["html"].lower()
    assert "<" not in out["markdown"].replace("&lt;", "")


def test_digest_hidden_summary_stays_as_worded() -> None:
    from hostile import hostile_model

    from tracker.digest.render import render_digest

    model = hostile_model("plain")
    for page in model["pages"]:
        for rev in page["revisions"]:
            rev["comment"], rev["summary"] = "(summary hidden)", None
    out = render_digest(model, ("text", "html"))
    assert "(summary hidden)" in out["text"] and "(summary hidden)" in out["html"]


def test_summary_keeps_escape_characters_for_the_outputs_to_show() -> None:
    # MediaWiki shows ESC as a space; here it stays, for every output to show as "␛".
    comment = "/* S */ \x1b[31mred [[Foo]] [[Bar\x1b]] \ue000 /* T */"
    assert summary_text(comment) == "→ S: \x1b[31mred Foo [[Bar\x1b]] \ue000 → T"
    assert "␛[31mred" in summary_html(comment, page_url, "P")
    assert [label for _kind, _target, label in links_of(comment)] == ["S", "Foo", "T"]
