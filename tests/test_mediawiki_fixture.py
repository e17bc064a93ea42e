"""The real-MediaWiki fixture itself: if these fail, every integration test is suspect."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests
from mediawiki import MediaWikiError, TestWiki

SITEINFO = {"action": "query", "meta": "siteinfo", "format": "json"}

# A Special:Export file (format 0.11) of one page with two revisions: a registered
# contributor unknown to the importing wiki, then a minor edit by an IP. <sha1> (base 36,
# as in real exports) is what lets MediaWiki skip revisions it already has on re-import.
EXPORT_XML = """\
<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xsi:schemaLocation="http://www.mediawiki.org/xml/export-0.11/ \
http://www.mediawiki.org/xml/export-0.11.xsd" version="0.11" xml:lang="en">
  <siteinfo>
    <sitename>Elsewhere</sitename>
    <dbname>elsewhere</dbname>
    <base>https://elsewhere.example/wiki/Main_Page</base>
    <generator>MediaWiki 1.39.17</generator>
    <case>first-letter</case>
    <namespaces>
      <namespace key="0" case="first-letter" />
    </namespaces>
  </siteinfo>
  <page>
    <title>Imported page</title>
    <ns>0</ns>
    <id>4242</id>
    <revision>
      <id>90001</id>
      <timestamp>2021-03-04T05:06:07Z</timestamp>
      <contributor>
        <username>Alice</username>
        <id>77</id>
      </contributor>
      <comment>create</comment>
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text bytes="23" xml:space="preserve">== Intro ==
First text.</text>
      <sha1>4po87qdvyv04tv7137rcfqbmgddv4z1</sha1>
    </revision>
    <revision>
      <id>90002</id>
      <parentid>90001</parentid>
      <timestamp>2021-03-05T00:00:00Z</timestamp>
      <contributor>
        <ip>192.0.2.7</ip>
      </contributor>
      <minor />
      <comment>typo</comment>
      <model>wikitext</model>
      <format>text/x-wiki</format>
      <text bytes="24" xml:space="preserve">== Intro ==
Second text.</text>
      <sha1>46fxfug2hu0elmmwbh9j5pj82shb4rs</sha1>
    </revision>
  </page>
</mediawiki>
"""


def revisions(wiki: TestWiki, title: str) -> list[dict]:
    """All revisions of `title`, oldest first, as an anonymous reader sees them."""
    response = requests.get(
        wiki.api_url,
        params={
            "action": "query",
            "prop": "revisions",
            "titles": title,
            "rvprop": "ids|timestamp|user|comment|flags|sha1|content",
            "rvslots": "main",
            "rvlimit": "max",
            "rvdir": "newer",
            "format": "json",
            "formatversion": "2",
        },
        timeout=10,
    )
    response.raise_for_status()
    (page,) = response.json()["query"]["pages"]
    return page.get("revisions", [])


def test_wiki_answers_siteinfo(mediawiki: TestWiki) -> None:
    response = requests.get(mediawiki.api_url, params=SITEINFO, timeout=10)
    general = response.json()["query"]["general"]
    assert general["sitename"] == "TestWiki"
    assert general["generator"].startswith("MediaWiki 1.")
    assert mediawiki.host == f"127.0.0.1:{mediawiki.port}"
    assert mediawiki.api_url == f"http://{mediawiki.host}/api.php"


def test_site_logs_in_as_bot(mediawiki: TestWiki) -> None:
    userinfo = mediawiki.site().api("query", meta="userinfo", uiprop="groups|rights")
    info = userinfo["query"]["userinfo"]
    assert info["name"] == mediawiki.admin_user
    assert {"bot", "sysop", "suppress"} <= set(info["groups"])
    assert "apihighlimits" in info["rights"]


def test_edit_through_site_is_visible_via_api(mediawiki: TestWiki) -> None:
    page = mediawiki.site().pages["Fixture edit through site"]
    page.edit("== One ==\nHello.", summary="via mwclient")

    (revision,) = revisions(mediawiki, "Fixture edit through site")
    assert revision["slots"]["main"]["content"] == "== One ==\nHello."
    assert revision["comment"] == "via mwclient"
    assert revision["user"] == mediawiki.admin_user


def test_edit_returns_new_revid(mediawiki: TestWiki) -> None:
    first = mediawiki.edit("Fixture edit", "one", summary="first")
    second = mediawiki.edit("Fixture edit", "two", summary="second", minor=True)

    assert second > first
    old, new = revisions(mediawiki, "Fixture edit")
    assert (old["revid"], old["minor"], old["comment"]) == (first, False, "first")
    assert (new["revid"], new["parentid"], new["minor"]) == (second, first, True)


def test_edit_without_change_raises(mediawiki: TestWiki) -> None:
    mediawiki.edit("Fixture null edit", "same")
    with pytest.raises(MediaWikiError, match="no new revision"):
        mediawiki.edit("Fixture null edit", "same")


def test_import_xml_creates_two_revisions(mediawiki: TestWiki, tmp_path: Path) -> None:
    dump = tmp_path / "export.xml"
    dump.write_text(EXPORT_XML, encoding="utf-8")

    mediawiki.import_xml(dump)
    mediawiki.import_xml(dump)  # adds nothing

    first, second = revisions(mediawiki, "Imported page")
    # Ids are renumbered by the importing wiki; timestamps, comments, flags are kept.
    assert second["parentid"] == first["revid"] < second["revid"]
    assert (first["timestamp"], first["user"], first["comment"], first["minor"]) == (
        "2021-03-04T05:06:07Z",
        "imported>Alice",
        "create",
        False,
    )
    assert (second["timestamp"], second["user"], second["minor"]) == (
        "2021-03-05T00:00:00Z",
        "192.0.2.7",
        True,
    )
    assert second["slots"]["main"]["content"] == "== Intro ==\nSecond text."
    assert second["sha1"] == hashlib.sha1(b"== Intro ==\nSecond text.").hexdigest()


def test_hide_revision_shows_texthidden(mediawiki: TestWiki) -> None:
    hidden = mediawiki.edit("Fixture hidden", "secret", summary="oops")
    mediawiki.edit("Fixture hidden", "public")

    mediawiki.hide_revision(hidden, text=True, comment=True)

    old, new = revisions(mediawiki, "Fixture hidden")
    assert old["revid"] == hidden
    assert old["sha1hidden"] and old["commenthidden"]
    assert old["slots"]["main"]["texthidden"]
    assert "content" not in old["slots"]["main"]
    assert "comment" not in old
    assert new["slots"]["main"]["content"] == "public"


def test_move_and_delete(mediawiki: TestWiki) -> None:
    revid = mediawiki.edit("Fixture move source", "text")

    mediawiki.move("Fixture move source", "Fixture move target", reason="rename")

    moved = revisions(mediawiki, "Fixture move target")
    assert [r["revid"] for r in moved][0] == revid
    assert len(moved) == 2  # the move adds a null revision
    assert "#REDIRECT" in revisions(mediawiki, "Fixture move source")[0]["slots"]["main"]["content"]

    mediawiki.delete("Fixture move target", reason="cleanup")
    assert revisions(mediawiki, "Fixture move target") == []


def test_restart_serves_again_on_same_port(make_wiki) -> None:
    wiki = make_wiki()
    port = wiki.port
    revid = wiki.edit("Survives restarts", "kept")

    with wiki.down():
        with pytest.raises(requests.ConnectionError):
            requests.get(wiki.api_url, params=SITEINFO, timeout=5)
    assert requests.get(wiki.api_url, params=SITEINFO, timeout=5).ok

    wiki.restart()

    assert wiki.port == port
    assert [r["revid"] for r in revisions(wiki, "Survives restarts")] == [revid]
    # A fresh login works after a restart too.
    assert wiki.edit("Survives restarts", "kept, edited") > revid


def test_unavailable_answers_503(make_wiki) -> None:
    wiki = make_wiki()
    with wiki.unavailable():
        response = requests.get(wiki.api_url, params=SITEINFO, timeout=5)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
    assert requests.get(wiki.api_url, params=SITEINFO, timeout=5).ok


def test_wikis_are_independent(make_wiki) -> None:
    one, two = make_wiki(), make_wiki()
    one.edit("Only in one", "text")

    assert one.port != two.port
    assert revisions(two, "Only in one") == []
