"""tracker.text.semantic: templates, references, categories and links, and what changed in them."""

from __future__ import annotations

import random
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from mwparserfromhell.parser import CTokenizer as _Tokenizer
from mwparserfromhell.parser import tokens as tk

from tracker.text import semantic
from tracker.text.semantic import blocks, extract, semantic_changes
from tracker.text.semantic import paragraphs as semantic_paragraphs
from tracker.text.semantic import read as semantic_read

INFOBOX = """{{Infobox bilateral relations
| name = Pakistan–NATO relations
| envoytitle1 = Ambassador
| map = [[File:Map.png|250px]]
}}"""


def test_extract_templates_outside_references_only():
    text = (
        INFOBOX + "\nText.{{Citation needed|date=January 2023}}"
        "<ref>{{cite web |url=https://a.org |title=A}}</ref> {{Citation needed}}"
    )
    data = extract(text)
    assert set(data["templates"]) == {
        "Infobox bilateral relations",
        "Citation needed",
        "Citation needed#2",
    }
    infobox = data["templates"]["Infobox bilateral relations"]
    assert infobox["envoytitle1"] == "Ambassador"
    assert infobox["@name"] == "Infobox bilateral relations"
    assert data["templates"]["Citation needed"] == {
        "@name": "Citation needed",
        "date": "January 2023",
    }


def test_extract_template_names_are_normalized():
    data = extract("{{template:cite_web|x=1}} {{ infobox  country }}")
    assert set(data["templates"]) == {"Cite web", "Infobox country"}


def test_extract_references():
    text = (
        'A.<ref name="nato">{{cite web |url=https://nato.int/a'
        " |title=Relations with Pakistan}}</ref>"
        " B.<ref>[http://example.org/b Some page]</ref>"
        " C.<ref>Smith, J. (2001). A book.</ref>"
        ' D.<ref name="nato" />'
    )
    refs = extract(text)["refs"]
    assert refs["nato"] == {
        "name": "nato",
        "title": "Relations with Pakistan",
        "url": "https://nato.int/a",
        "text": "{{cite web |url=https://nato.int/a |title=Relations with Pakistan}}",
    }
    assert refs["http://example.org/b"]["title"] == "Some page"
    assert refs["Smith, J. (2001). A book."]["url"] is None
    assert len(refs) == 3  # the reuse of "nato" is not a reference of its own


def test_extract_categories_and_links():
    text = (
        "[[north_Atlantic Treaty|NATO]] and [[Pakistan#History]]"
        " [[File:X.jpg|thumb|[[Caption link]]]]"
        " [[:Category:Shown as a link]] [[Category:Military history of Pakistan|Sort]]"
    )
    data = extract(text)
    assert set(data["links"]) == {
        "North Atlantic Treaty",
        "Pakistan",
        "Caption link",
        "Category:Shown as a link",
    }
    assert data["categories"] == {"Military history of Pakistan": "Sort"}


def test_extract_plain_text_needs_no_parse():
    assert extract("Just words, no markup.") == {
        "templates": {},
        "refs": {},
        "links": {},
        "files": {},
        "interwiki": {},
        "categories": {},
        "interlanguage": {},
        "defaultsort": {},
        "switches": {},
    }


def test_blocks_keep_constructs_whole():
    text = "One.\n\n{{Infobox\n\n| a = b\n}}\n\nTwo.<ref>x\n\ny</ref>\n \n\nThree."
    assert blocks(text) == ["One.", "{{Infobox\n\n| a = b\n}}", "Two.<ref>x\n\ny</ref>", "Three."]


def test_semantic_changes_infobox_parameter():
    new = INFOBOX.replace("Ambassador", "Permanent Representative")
    assert semantic_changes(INFOBOX, new) == [
        {
            "type": "template_param",
            "template": "Infobox bilateral relations",
            "param": "envoytitle1",
            "old": "Ambassador",
            "new": "Permanent Representative",
        }
    ]


def test_semantic_changes_parameter_added_and_removed():
    old = "{{Foo|a=1|b=2}}"
    new = "{{Foo|a=1|c=3}}"
    assert semantic_changes(old, new) == [
        {"type": "template_param", "template": "Foo", "param": "b", "old": "2", "new": None},
        {"type": "template_param", "template": "Foo", "param": "c", "old": None, "new": "3"},
    ]


def test_semantic_changes_reference_changed_keeps_its_identity():
    old = 'X.<ref name="a">{{cite web |url=https://a.org/1 |title=Old}}</ref>'
    new = 'X.<ref name="a">{{cite web |url=https://a.org/2 |title=Old}}</ref>'
    assert semantic_changes(old, new) == [
        {
            "type": "ref_changed",
            "name": "a",
            "title": "Old",
            "url": "https://a.org/2",
            "fields": {"url": {"old": "https://a.org/1", "new": "https://a.org/2"}},
        }
    ]


def test_semantic_changes_of_a_new_and_a_removed_text():
    text = "A [[Link]].<ref>{{cite news |title=T |url=http://t}}</ref>\n[[Category:C]]"
    assert [c["type"] for c in semantic_changes(None, text)] == [
        "ref_added",
        "category_added",
        "link_added",
    ]
    assert [c["type"] for c in semantic_changes(text, None)] == [
        "ref_removed",
        "category_removed",
        "link_removed",
    ]


def test_semantic_changes_moved_paragraph_changes_nothing():
    one = "A [[Link]] here.<ref>{{cite web |url=https://a.org |title=A}}</ref>"
    two = "Another [[Page]] there."
    assert semantic_changes(f"{one}\n\n{two}", f"{two}\n\n{one}") == []


def test_semantic_changes_none_for_plain_words():
    assert semantic_changes("A [[link]]. Old words.", "A [[link]]. New words.") == []


# ---- the fast paths give the full parse's results ---------------------------------------

# fmt: off
_PIECES = [
    "word", "words here", " ", "  ", ".", ",", "[[link]]", "[[a|b c]]", "[[Category:X]]",
    "<ref>{{cite web |title=T report |url=https://example.org/12 }}</ref>", "<ref name=x/>",
    '<ref name="n">plain</ref>', "http://free.org/x", "http://free.org/x.", "(http://a.b)",
    "{{tpl}}", "{{tpl|a=b}}", "''", "it's", "--", "}}", "]]", "|", "&amp;", "&", "a:b", "x=y",
    "<b>bold</b>", "<!-- c -->", "[http://e.org title]", "{{", "[[", "<", ";", "*", "mailto:a@b.c",
    "{{{a}}}", "}}}", "&nbsp;", "<nowiki>x{{</nowiki>", "[[File:f.png|thumb|[[cap]]]]", "\n",
    "__NOTOC__", "[[nl:Hallo]]", "[[wikt:x]]", "{{DEFAULTSORT:K}}",
    "<gallery>a.jpg|[[g]]</gallery>",
]
_PLAIN_WORDS = ["NOTOC", "__", "a", "word", " ", "  ", ".", ",", "x y", "?", "(", ")", '"', "é",
                "1", "", "tp", "http", "\\", "_", "@", "+", "\t", "ftp", "mailto", "a.b", "\xa0"]
# fmt: on


def _paragraph(rng: random.Random) -> str:
    return "".join(rng.choice(_PIECES) + rng.choice(["", " "]) for _ in range(rng.randint(1, 12)))


@pytest.mark.parametrize("seed", range(3))
def test_extract_construct_by_construct_is_the_full_parse(seed):
    rng = random.Random(seed)
    for _ in range(1500):
        text = _paragraph(rng)
        assert semantic_read._tokenized(text)[0] == semantic_read._extract_parsed(text), text


_LINE_PIECES = [
    "word", "[[link]]", "[[a|b c]]", "[[Category:X|k]]", "[[:Category:Y]]", "[[#s]]", "&amp;",
    "http://free.org/x.", "[http://e.org title]", "''", "a:b", "]]", "[", "[[", "\n", "\n* ",
    "\n# ", "\n: ", "\n; ", "\n== h ==", "\n----", "\n ", "[[File:f.png|thumb|[[cap]]]]",
    "__NOTOC__", "[[nl:x]]", "[[Image:y.png]]",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(2))
def test_extract_line_by_line_is_the_full_parse(seed):
    """A list (lines without templates, tags or comments) is read line by line (_by_lines)."""
    rng = random.Random(seed)
    by_lines = 0
    for _ in range(2000):
        pieces = (rng.choice(_LINE_PIECES) + rng.choice(["", " "]) for _ in range(12))
        text = "".join(pieces)
        if "\n" not in text or "[" not in text:
            continue
        semantic_read._EXTRACTED.clear()
        by_lines += semantic_read._by_lines(text) is not None
        assert semantic_read._tokenized(text)[0] == semantic_read._extract_parsed(text), text
    assert by_lines > 200


def test_extract_of_the_bundled_snapshot_is_the_full_parse():
    for text in _snapshot_texts():
        for block in blocks(text):
            assert semantic_read._tokenized(block)[0] == semantic_read._extract_parsed(block)


@pytest.mark.parametrize("seed", range(3))
def test_plain_edit_changes_no_construct(seed):
    """Where _plain_edit says an edit keeps the extraction, the tokenizer agrees."""
    rng = random.Random(seed)
    kept = 0
    for _ in range(2500):
        text = _paragraph(rng)
        extraction, shape = semantic_read._tokenized(text)
        for _ in range(4):
            at = rng.randint(0, len(text))
            end = min(len(text), at + rng.choice([0, 0, 1, 2, 4]))
            added = rng.choice(_PLAIN_WORDS) + rng.choice(_PLAIN_WORDS)
            new_shape = semantic_paragraphs._plain_edit(text, shape, at, end, added)
            if new_shape is None or text[at:end] == added:
                continue
            new = text[:at] + added + text[end:]
            kept += 1
            assert semantic_read._tokenized(new) == (extraction, new_shape), (text, new)
            if shape is not semantic_read._PLAIN:
                assert _constructs(new) == _constructs(text), (text, new)
    assert kept > 500  # the shortcut is taken, and checked


_LINKS = ["[[a]]", "[[Foo bar]]", "[[x1]]", "[[link]]", "[[B c d]]", "[[é]]"]


@pytest.mark.parametrize("seed", range(3))
def test_link_edit_is_what_the_tokenizer_reads(seed):
    """Where _link_edit says what an edit adding or removing [[links]] makes, the tokenizer
    agrees: the same extraction and shape."""
    rng = random.Random(seed)
    kept = 0
    for _ in range(3000):
        text = _paragraph(rng).replace("\n", " ")
        done = semantic_read._tokenized(text)
        links = [m.span() for m in re.finditer(r"\[\[[^\]]*\]\]", text)]
        for _ in range(4):
            if links and rng.random() < 0.5:  # over a link, and maybe some text around it
                at, end = rng.choice(links)
                at, end = max(0, at - rng.randint(0, 3)), min(len(text), end + rng.randint(0, 3))
            else:
                at = rng.randint(0, len(text))
                end = min(len(text), at + rng.choice([0, 0, 1, 2, 4, 8]))
            added = "".join(rng.choice(_PLAIN_WORDS + _LINKS) for _ in range(rng.randint(0, 3)))
            found = semantic_paragraphs._link_edit(text, done, at, end, added)
            if found is None or text[at:end] == added:
                continue
            new = text[:at] + added + text[end:]
            kept += 1
            assert semantic_read._tokenized(new) == found, (text, at, end, added)
    assert kept > 120  # the shortcut is taken, and checked


def test_edits_that_start_a_line_with_markup_are_read():
    # Without its leading blanks the line starts with "*": a list item (no word changed).
    for text, at, end, added in [("  *<b>bold</b> ", 0, 2, ""), (" # [[a]] x", 0, 1, "")]:
        done = semantic_read._tokenized(text)
        assert semantic_paragraphs._plain_edit(text, done[1], at, end, added) is None
        assert semantic_paragraphs._link_edit(text, done, at, end, added) is None


def _constructs(text: str) -> list:
    tokens = _Tokenizer().tokenize(text, 0, True)
    return [(type(t), tuple(t.items())) for t in tokens if type(t) is not tk.Text]


@pytest.mark.parametrize("seed", range(2))
def test_semantic_changes_with_the_edit_known_are_the_same(seed):
    rng = random.Random(seed)
    for _ in range(300):
        old = "\n\n".join(_paragraph(rng).replace("\n", " ") for _ in range(rng.randint(1, 4)))
        at = rng.randrange(len(old) + 1)
        end = min(len(old), at + rng.randint(0, 5))
        pool = _PLAIN_WORDS if rng.random() < 0.8 else _PIECES
        new = old[:at] + rng.choice(pool) + old[end:]
        if new == old:
            continue
        want = semantic_changes(old, new)
        for cache in (semantic_read._EXTRACTED, semantic_paragraphs._BLOCKS):
            cache.clear()
        assert semantic_changes(old, new, (at, end, new[at : end + len(new) - len(old)])) == want


def _snapshot_texts() -> list[str]:
    path = Path(__file__).resolve().parent.parent / "snapshots" / "pakistan-nato-relations.xml"
    root = ET.parse(path).getroot()
    return [e.text for e in root.iter() if e.tag.endswith("}text") and e.text]


# ---- wiki-aware extraction and changes (issue 9) ------------------------------------------


def test_extract_files_interwiki_and_page_facts():
    text = (
        "[[Image:a.jpg|thumb|[[Cap]]]] [[Media:b.ogg]] [[wikt:hallo]] [[nl:Hallo]] [[nl:Other]]"
        " {{DEFAULTSORT:Aigen, Karl}} __NOTOC__ <!-- __NOINDEX__ --> <nowiki>__NOGALLERY__</nowiki>"
        "\n<gallery>\nFile:c.jpg|The lake near [[Zürich]]\nd.png\n</gallery>"
    )
    data = extract(text)
    assert data["files"] == {"A.jpg": True, "B.ogg": True, "C.jpg": True, "D.png": True}
    assert data["links"] == {"Cap": True, "Zürich": True}
    assert data["interwiki"] == {"wikt:hallo": True}
    assert data["interlanguage"] == {"nl": "Hallo"}  # the first link of a language counts
    assert data["defaultsort"] == {"key": "Aigen, Karl"}
    assert data["switches"] == {"notoc": True}
    assert data["templates"] == {}  # DEFAULTSORT is a magic word, not a template


def test_semantic_changes_switch_typed_in_plain_words():
    old = "Some words here and there."
    new = "Some words __NOTOC__ here and there."
    at = old.index("here")
    assert semantic_changes(old, new, (at, at, "__NOTOC__ ")) == [
        {"type": "switch_added", "switch": "__NOTOC__"}
    ]
    assert semantic_changes(old, new, (at, at, "__NOTOC__ "), page_facts=False) == []


def test_semantic_changes_template_wrapped_into_a_reference():
    old = "Fact. {{cite book |title=The Book |year=2001}} More."
    new = "Fact.<ref>{{cite book |title=The Book |year=2001}}</ref> More."
    assert semantic_changes(old, new) == [
        {"type": "ref_added", "name": None, "title": "The Book", "url": None}
    ]
    assert semantic_changes(new, old) == [
        {"type": "ref_removed", "name": None, "title": "The Book", "url": None}
    ]


def test_semantic_changes_unnamed_references_edited_are_changed():
    old = "A.<ref>Smith, J. (2001). Cats. Oxford.</ref> B.<ref>Jones, K. Dogs and wolves.</ref>"
    new = "A.<ref>Smith, J. (2001). Cats. Oxford UP.</ref> B.<ref>Jones, K. Dogs, wolves.</ref>"
    changes = semantic_changes(old, new)
    assert [c["type"] for c in changes] == ["ref_changed", "ref_changed"]
    assert {c["title"] for c in changes} == {
        "Smith, J. (2001). Cats. Oxford UP.",
        "Jones, K. Dogs, wolves.",
    }
    # An unrelated reference is still one removed and one added.
    other = "A.<ref>Smith, J. (2001). Cats. Oxford.</ref> B.<ref>Völlig anderer Text.</ref>"
    assert [c["type"] for c in semantic_changes(old, other)] == ["ref_added", "ref_removed"]


def test_semantic_changes_on_a_case_sensitive_wiki():
    from tracker.text.siteinfo import Namespace, SiteInfo

    site = SiteInfo.from_parts(
        [Namespace(0, "", "", (), "case-sensitive"), Namespace(14, "Kategorie", "Category")]
    )
    assert semantic_changes("x", "x [[hallo]] [[Kategorie:a]]", site=site) == [
        {"type": "category_added", "category": "A"},
        {"type": "link_added", "target": "hallo"},
    ]
    # The default wiki's caches are not the other's.
    assert semantic_changes("x", "x [[hallo]] [[Kategorie:a]]") == [
        {"type": "link_added", "target": "Hallo"},
        {"type": "link_added", "target": "Kategorie:a"},
    ]


def test_page_changes_of_moved_and_repeated_facts():
    old = ["Lead.\n\n[[Category:A]]\n[[de:X]]", "Body."]
    moved = ["Lead.", "Body.\n\n[[Category:A]]\n[[de:X]]"]
    assert semantic.page_changes(old, moved) == []
    twice = ["Lead.\n\n[[Category:A]]\n[[de:X]]", "Body. [[Category:A]]"]
    assert semantic.page_changes(old, twice) == []
    gone = ["Lead.", "Body."]
    assert semantic.page_changes(old, gone) == [
        {"type": "category_removed", "category": "A"},
        {"type": "interlanguage_removed", "lang": "de", "title": "X"},
    ]
