"""tracker.semantic: templates, references, categories and links, and what changed in them."""

from __future__ import annotations

from tracker.semantic import blocks, extract, semantic_changes

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
        "categories": {},
        "links": {},
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
