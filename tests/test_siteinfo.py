"""tracker.text.siteinfo: a wiki's namespaces, interwiki prefixes, tags and magic words."""

from __future__ import annotations

import io

import mwxml
import pytest

from tracker.text.sections import DEFAULT_TAGS
from tracker.text.siteinfo import SiteInfo

# The `query` of action=query&meta=siteinfo&siprop=general|namespaces|namespacealiases|
# interwikimap|extensiontags|magicwords&formatversion=2 on German Wiktionary, shortened.
DE_WIKTIONARY = {
    "general": {"lang": "de", "case": "case-sensitive"},
    "namespaces": {
        "-2": {"id": -2, "case": "first-letter", "name": "Medium", "canonical": "Media"},
        "0": {"id": 0, "case": "case-sensitive", "name": "", "content": True},
        "2": {"id": 2, "case": "first-letter", "name": "Benutzer", "canonical": "User"},
        "6": {"id": 6, "case": "first-letter", "name": "Datei", "canonical": "File"},
        "10": {"id": 10, "case": "case-sensitive", "name": "Vorlage", "canonical": "Template"},
        "14": {"id": 14, "case": "case-sensitive", "name": "Kategorie", "canonical": "Category"},
        "15": {"id": 15, "case": "case-sensitive", "name": "Kategorie Diskussion",
               "canonical": "Category talk"},
    },
    "namespacealiases": [{"id": 6, "alias": "Bild"}, {"id": 2, "alias": "Benutzerin"}],
    "interwikimap": [
        {"prefix": "nl", "language": "Nederlands", "url": "https://nl.wiktionary.org/wiki/$1"},
        {"prefix": "de", "language": "Deutsch", "localinterwiki": True,
         "url": "https://de.wiktionary.org/wiki/$1"},
        {"prefix": "w", "url": "https://de.wikipedia.org/wiki/$1"},
    ],
    "extensiontags": ["<pre>", "<nowiki>", "<gallery>", "<ref>", "<references>"],
    "magicwords": [
        {"name": "defaultsort", "aliases": ["SORTIERUNG:", "DEFAULTSORT:"],
         "case-sensitive": True},
        {"name": "notoc", "aliases": ["__KEIN_INHALTSVERZEICHNIS__", "__NOTOC__"],
         "case-sensitive": False},
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def de() -> SiteInfo:
    return SiteInfo.from_api(DE_WIKTIONARY)


def test_default_is_english_wikipedia():
    site = SiteInfo.default()
    assert site.extension_tags == DEFAULT_TAGS
    assert site.namespace("category") == site.namespace("Category") == 14
    assert site.namespace("Image") == site.namespace("file") == 6
    assert site.namespace("WP") == site.namespace("project") == site.namespace("Wikipedia") == 4
    assert site.namespace("Kategorie") is None
    assert "nl" in site.interlanguage and "simple" in site.interlanguage
    assert "wikt" in site.interwiki and "wikt" not in site.interlanguage


@pytest.mark.parametrize(
    "target, kind, full",
    [
        ("Category:Foo bar", "category", "Category:Foo bar"),
        ("category:foo_bar", "category", "Category:Foo bar"),
        (":Category:Foo", "link", "Category:Foo"),
        ("File:a.jpg", "file", "File:A.jpg"),
        ("Image:a.jpg", "file", "File:A.jpg"),
        (":File:a.jpg", "link", "File:A.jpg"),
        ("Media:x.ogg", "media", "Media:X.ogg"),
        ("nl:Hallo", "interlanguage", "nl:Hallo"),
        (":nl:Hallo", "interwiki", "nl:Hallo"),
        ("wikt:hallo", "interwiki", "wikt:hallo"),
        ("en:foo", "link", "Foo"),  # a prefix pointing to this wiki
        ("  north_Atlantic  Treaty #History", "link", "North Atlantic Treaty"),
        ("Kategorie:X", "link", "Kategorie:X"),
    ],
)
def test_link_target_on_english_wikipedia(target, kind, full):
    found = SiteInfo.default().link_target(target)
    assert (found.kind, found.full) == (kind, full)


@pytest.mark.parametrize(
    "target, kind, full",
    [
        ("hallo", "link", "hallo"),  # case-sensitive main namespace
        ("Kategorie:substantiv (Deutsch)", "category", "Kategorie:substantiv (Deutsch)"),
        ("category:Substantiv", "category", "Kategorie:Substantiv"),  # canonical name
        ("Bild:hallo.ogg", "file", "Datei:Hallo.ogg"),
        ("Benutzerin:x", "link", "Benutzer:X"),  # always capitalized
        ("nl:hallo", "interlanguage", "nl:hallo"),
        ("w:Hallo", "interwiki", "w:Hallo"),
        ("de:hallo", "link", "hallo"),
        ("fr:hallo", "link", "fr:hallo"),  # not in this wiki's interwiki map
    ],
)
def test_link_target_on_german_wiktionary(de, target, kind, full):
    found = de.link_target(target)
    assert (found.kind, found.full) == (kind, full)


def test_template_names_and_magic_words(de):
    site = SiteInfo.default()
    assert site.template_name("template:cite_web") == "Cite web"
    assert site.template_name("Wikipedia:X") == "Wikipedia:X"
    assert site.template_name(":main") == ":Main"
    assert de.template_name("Vorlage:Wortart") == de.template_name("Wortart") == "Wortart"
    assert de.template_name("wortart") == "wortart"  # case-sensitive Vorlage namespace
    assert site.is_defaultsort("DEFAULTSORT") and not site.is_defaultsort("defaultsort")
    assert de.is_defaultsort("SORTIERUNG") and not de.is_defaultsort("Sortierung")
    assert de.switch("__kein_inhaltsverzeichnis__") == de.switch("__NOTOC__") == "notoc"
    assert de.switch_name("notoc") == "__KEIN_INHALTSVERZEICHNIS__"
    assert site.switch("__NOINDEX__") == "noindex" and site.switch("__noindex__") is None


def test_from_api_reads_tags_and_interwiki(de):
    assert de.extension_tags == {"pre", "nowiki", "gallery", "ref", "references"}
    assert de.interlanguage == {"nl", "de"} and de.interwiki == {"nl", "de", "w"}
    assert de.local_interwiki == {"de"} and de.lang == "de"


def test_from_api_without_the_interwiki_map_uses_language_codes():
    site = SiteInfo.from_api({"namespaces": DE_WIKTIONARY["namespaces"]})
    assert site.link_target("fr:hallo").kind == "interlanguage"


def test_json_round_trip(de):
    again = SiteInfo.from_json(de.to_json())
    assert again == de and again.key == de.key
    assert again.link_target("hallo") == de.link_target("hallo")
    assert SiteInfo.default().key != de.key


EXPORT = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11"
 xml:lang="de">
  <siteinfo>
    <sitename>Wiktionary</sitename>
    <dbname>dewiktionary</dbname>
    <base>https://de.wiktionary.org/wiki/Wiktionary:Hauptseite</base>
    <generator>MediaWiki 1.42.0-wmf.5</generator>
    <case>case-sensitive</case>
    <namespaces>
      <namespace key="-2" case="first-letter">Medium</namespace>
      <namespace key="0" case="case-sensitive" />
      <namespace key="6" case="first-letter">Datei</namespace>
      <namespace key="14" case="case-sensitive">Kategorie</namespace>
    </namespaces>
  </siteinfo>
</mediawiki>
"""


def test_from_export_reads_namespaces_and_case():
    dump = mwxml.Dump.from_file(io.BytesIO(EXPORT.encode()))
    site = SiteInfo.from_export(dump.site_info)
    assert site.lang == "de"
    assert site.link_target("hallo").full == "hallo"
    assert site.link_target("Kategorie:x").kind == "category"
    assert site.link_target("Category:x").full == "Kategorie:x"  # canonical names work
    assert site.link_target("Image:x.png").full == "Datei:X.png"  # core alias
    assert site.link_target("nl:hallo").kind == "interlanguage"  # no map: language codes
    assert site.link_target("de:hallo").full == "hallo"
