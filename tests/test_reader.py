"""Reader text and reader diff (tracker.text.reader): one case a construct, hostile content
in every output, and the diff's invariant as a property."""

from __future__ import annotations

import json
import re

import pytest
from hostile import active_html
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.text.reader import NOTE_MARK, format_citation, reader_diff, reader_text

RUBIN = (
    "{{Cite web |last=Rubin |first=Michael |date=2022-12-02 |title=Why Pakistan Can't Be "
    "Pulled Away From China |url=https://nationalinterest.org/feature/x |access-date=2023-05-25"
    " |website=The National Interest |language=en}}"
)

# (case, wikitext, the text a reader reads: ReaderText.plain(), what is hidden)
CASES = [
    ("link label", "See [[Paris|the capital]].", "See the capital.", ()),
    ("link", "See [[Paris]].", "See Paris.", ()),
    ("pipe trick", "[[Paris (France)|]] and [[Help:Editing|]]", "Paris and Editing", ()),
    ("link trail", "Many [[cat]]s here.", "Many cats here.", ()),
    ("category hidden", "Text.[[Category:Cities]]", "Text.", ("Category:Cities",)),
    ("interlanguage hidden", "Text.\n[[fr:Paris]]", "Text.", ("fr:Paris",)),
    ("file by caption", "[[File:X.jpg|thumb|left|upright=1.2|alt=A map|The caption]]",
     "[image: The caption]", ()),
    ("bold, italic, both", "'''bold''' ''italic'' '''''both'''''", "bold italic both", ()),
    ("four quotes: an apostrophe and bold", "'''L''''Ambassade", "L'Ambassade", ()),
    ("italic open at the line's end", "''open line\nnext line", "open line\nnext line", ()),
    ("refs numbered", "A.<ref>First.</ref> B.<ref>Second.</ref>",
     "A.[1] B.[2]\n\nReferences\n1. First.\n2. Second.", ()),
    ("named ref reused", 'A.<ref name="x">Src.</ref> B.<ref name="x"/>',
     "A.[1] B.[1]\n\nReferences\n1. Src.", ()),
    ("list-defined ref",
     'A.<ref name="a"/>\n<references>\n<ref name="a">Defined here.</ref>\n</references>',
     "A.[1]\n\nReferences\n1. Defined here.", ()),
    ("citation template in a ref", f"A.<ref>{RUBIN}</ref>",
     "A.[1]\n\nReferences\n1. Rubin, Michael (2022-12-02). \u201cWhy Pakistan Can't Be Pulled "
     "Away From China\u201d. The National Interest. Retrieved 2023-05-25.", ()),
    ("cite book", "{{cite book |last=Doe |first=J. |year=2001 |title=Book |publisher=Pub "
     "|location=City |page=5 |isbn=123}}", "Doe, J. (2001). Book. City: Pub. p.\xa05. "
     "ISBN\xa0123.", ()),
    ("cite news without author", "{{cite news |title=T |work=Paper |date=1 May 2004 "
     "|access-date=2 May 2004}}", "\u201cT\u201d. Paper. 1 May 2004. Retrieved 2 May 2004.", ()),
    ("cite journal", "{{cite journal |last=A |title=T |journal=J |volume=3 |issue=4 "
     "|pages=1-2 |doi=10.1/x}}", "A. \u201cT\u201d. J. 3 (4). pp.\xa01-2. doi:10.1/x.", ()),
    ("citation needed", "Claim.{{Citation needed|date=May 2020}}",
     "Claim.[citation needed]", ()),
    ("dead link", "Claim.{{dead link}}", "Claim.[dead link]", ()),
    ("maintenance templates hidden", "{{Multiple issues|x}}{{Use dmy dates|date=May 2020}}"
     "Text.", "Text.", ("{{Multiple issues}}", "{{Use dmy dates}}")),
    ("infobox fields", "{{Infobox country\n| name = Ruritania\n| capital = [[Strelsau]]\n"
     "| empty =\n}}", "Infobox country\nname: Ruritania\ncapital: Strelsau", ()),
    ("nested and numbered lists", "* one\n** two\n# first\n# second\n## sub",
     "\u2022 one\n  \u2022 two\n1. first\n2. second\n  1. sub", ()),
    ("table", '{| class="wikitable"\n! A !! B\n|-\n| 1 || 2\n|}', "A | B\n1 | 2", ()),
    ("comment", "Vis<!-- hidden -->ible", "Visible", ()),
    ("nowiki", "<nowiki>''not italic''</nowiki>", "''not italic''", ()),
    ("pre", "<pre>[[not a link]]</pre>", "[[not a link]]", ()),
    ("entities", "&amp; &eacute; &#x41;", "& \u00e9 A", ()),
    ("magic words", "__NOTOC__{{DEFAULTSORT:X}}Text.", "Text.",
     ("__NOTOC__", "{{DEFAULTSORT}}")),
    ("a template in capitals is a template", "{{IPA}}", "IPA", ()),
    ("hatnotes", "{{Main|Foo}}{{Main|A|B}}", "Main article: Foo\nMain articles: A and B", ()),
    ("other templates by name", "{{Foreign relations of Pakistan}}",
     "Foreign relations of Pakistan", ()),
]  # fmt: skip


@pytest.mark.parametrize(("wikitext", "plain", "hidden"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_reader_text_case(wikitext: str, plain: str, hidden: tuple[str, ...]) -> None:
    found = reader_text(wikitext)
    assert found.plain() == plain + "\n"
    assert found.hidden == hidden
    assert found.unreadable is None


def test_reader_text_runs_styles() -> None:
    runs = reader_text("'''B''' [[Paris|P]]<ref>R.</ref>{{cn}}").runs
    assert ("B", "b", None) in runs
    assert ("P", "link", "Paris") in runs
    assert (NOTE_MARK, "note", 1) in runs
    assert ("[citation needed]", "mark", "cn") in runs
    assert ("R.", "cite", 1) in runs


def test_format_citation_rubin() -> None:
    params = {"last": "Rubin", "first": "Michael", "date": "2022-12-02", "title": "Why",
              "website": "The National Interest", "url": "https://x.example"}  # fmt: skip
    assert (
        format_citation(params)
        == "Rubin, Michael (2022-12-02). \u201cWhy\u201d. The National Interest."
    )


# ---- reader diff --------------------------------------------------------------------------


def test_reader_diff_infobox_line() -> None:
    old = "{{Infobox bilateral relations\n| envoytitle1 = Ambassador\n}}"
    new = "{{Infobox bilateral relations\n| envoytitle1 = Permanent Representative\n}}"
    assert reader_diff(old, new).lines == [
        "Infobox: envoytitle1: Ambassador \u2192 Permanent Representative"
    ]


def test_reader_diff_new_source_line() -> None:
    diff = reader_diff("Claim.{{Citation needed|date=January 2023}}", f"Claim.<ref>{RUBIN}</ref>")
    assert diff.lines == [
        "New source: Rubin, Michael (2022-12-02). \u201cWhy Pakistan Can't Be Pulled Away From "
        "China\u201d. The National Interest. Retrieved 2023-05-25."
    ]
    kinds = {(p[0], p[2]) for p in diff.pieces}
    assert ("delete", "mark") in kinds and ("insert", "note") in kinds


def test_reader_diff_markup_only() -> None:
    diff = reader_diff("A [[Paris]] b.", "A [[Paris|Paris]] b.<!-- x -->")
    assert diff.markup_only and not diff.changed
    assert reader_diff("A b.", "A b.").markup_only is False


def test_reader_diff_hidden_changes() -> None:
    diff = reader_diff("Text.", "Text.\n[[Category:X]]{{Use dmy dates}}")
    assert diff.hidden == ["added Category:X", "added {{Use dmy dates}}"]


def test_reader_diff_move() -> None:
    first = "The first paragraph has several words in it."
    second = "The second paragraph says something else entirely."
    diff = reader_diff(f"{first}\n\n{second}", f"{second}\n\n{first}")
    kinds = {p[0] for p in diff.pieces}
    assert {"moved_insert", "moved_delete"} & kinds
    assert diff.words_added == diff.words_removed == 0


# ---- hostile content ----------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>Text",
    '<img src=x onerror="alert(1)">',
    '[[Foo|"><script>x</script>]] \'quoted\' "double"',
    '[javascript:alert(1) click] [[javascript:alert(1)]] http://x.example/"onmouseover=1',
    "{{cite web |url=javascript:alert(1) |title=<b onclick=x>T</b>}}",
    "bidi \u202eevil\u202c zero\u200bwidth \x00 \x07 \x1b[31m",
    '<a href="http://evil.example/">a</a> <iframe src="http://evil.example/"></iframe>',
    "<style>body{background:url(http://evil.example/)}</style>",
    "{{" * 400 + "x" + "}}" * 400,
    "[[" * 300 + "x" + "]]" * 300,
    "<ref>" * 200 + "x" + "</ref>" * 200,
    "*" * 5000 + " deep",
    "<div>" * 2000 + "x",
]


def _safe_html(html: str) -> None:
    # Hostile markup shows as text, escaped, as MediaWiki shows it: no element it makes acts,
    # and the reader's HTML has no link or resource of its own at all.
    assert active_html(html) == []
    assert "<a " not in html.lower() and not re.search(r"<[^>]*\s(?:src|href)\s*=", html)


@pytest.mark.parametrize("wikitext", HOSTILE, ids=range(len(HOSTILE)))
def test_reader_hostile_content_is_escaped(wikitext: str) -> None:
    found = reader_text(wikitext)
    _safe_html(found.html())
    found.plain()
    diff = reader_diff("Before.", wikitext)
    _safe_html(diff.html())
    _safe_html(diff.html(context=None))
    diff.text()
    json.dumps(diff.to_json())
    back = reader_diff(wikitext, "After.")
    _safe_html(back.html())


def test_reader_enormous_nesting_is_unreadable_not_an_error() -> None:
    found = reader_text("{{a|" * 20000 + "}}" * 20000)
    assert found.text  # as written, or read: never a traceback
    _safe_html(found.html())


# ---- the property -------------------------------------------------------------------------

_PIECES = st.sampled_from(
    ["word", "other", " ", "\n", "\n\n", "'''", "''", "[[Link|label]]", "[[Link]]s",
     "<ref>Src.</ref>", '<ref name="a"/>', '<ref name="a">A.</ref>', "{{cn}}", "{{Tpl|x}}",
     "{{cite web |title=T |work=W}}", "* ", "# ", "{|\n| a || b\n|}", "[[Category:C]]",
     "<!-- c -->", "&amp;", ".", "{{Infobox x\n| a = b\n}}", "==H==\n"]
)  # fmt: skip
_TEXTS = st.lists(_PIECES, max_size=30).map("".join)


@settings(max_examples=150, deadline=None)
@given(_TEXTS, _TEXTS)
def test_reader_diff_rebuilds_both_texts(old: str, new: str) -> None:
    diff = reader_diff(old, new)
    pieces = diff.pieces
    new_text = "".join(t for k, t, _s, _e in pieces if k in ("equal", "insert", "moved_insert"))
    old_text = "".join(t for k, t, _s, _e in pieces if k in ("equal", "delete", "moved_delete"))
    assert new_text == reader_text(new).text
    assert old_text == reader_text(old).text
