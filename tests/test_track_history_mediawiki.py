"""The stored revision set stays equal to a real MediaWiki's: imports with old timestamps and
new ids, undeletions that bring old ids back, revisions deleted or hidden after they were
stored. Found through the wiki's log (recent changes' log entries) or, for what the log does
not show (importDump.php), by the periodic comparison of the page's revision list.
"""

from __future__ import annotations

import time
from pathlib import Path
from xml.sax.saxutils import escape

from mediawiki import TestWiki
from trackerutil import history_json, tracker, wiki_config

from tracker.config import load_config
from tracker.fetch.cycle import LOG_INTERVAL
from tracker.fetch.poll import poll_wiki
from tracker.history import page_diff
from tracker.store import Store
from tracker.store.search import index_new_blobs
from tracker.web.search import phrase_query, search


def export_xml(title: str, revisions: list[tuple[str, str, str]]) -> str:
    """A Special:Export file of one page: (timestamp, user, text) per revision."""
    parts = [
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" '
        'xml:lang="en"><siteinfo><sitename>X</sitename><dbname>x</dbname>'
        "<base>http://x/</base><generator>MediaWiki 1.39</generator>"
        '<case>first-letter</case><namespaces><namespace key="0" case="first-letter" />'
        f"</namespaces></siteinfo><page><title>{escape(title)}</title><ns>0</ns>"
        "<id>1</id>"
    ]
    for k, (timestamp, user, text) in enumerate(revisions, start=1):
        parts.append(
            f"<revision><id>{k}</id><timestamp>{timestamp}</timestamp><contributor>"
            f"<username>{user}</username><id>0</id></contributor><comment>edit {k}"
            "</comment><model>wikitext</model><format>text/x-wiki</format>"
            f'<text xml:space="preserve">{escape(text)}</text></revision>'
        )
    parts.append("</page></mediawiki>\n")
    return "".join(parts)


def poll_later(config: Path, seconds: float) -> None:
    """One poll cycle as if `seconds` had passed (the log and recheck intervals are due)."""
    settings = load_config(config)
    with Store(settings.database_path) as store:
        result = poll_wiki(
            store, settings, settings.wikis[0], progress=False, clock=lambda: time.time() + seconds
        )
    assert result.ok, result.errors


def test_track_import_with_old_timestamps_is_found_by_the_recheck(
    make_wiki, tmp_path: Path
) -> None:
    wiki: TestWiki = make_wiki()
    title = "Article with imported history"
    first = wiki.edit(title, "== History ==\nToday's text.\n", "create")
    config = wiki_config(tmp_path, wiki.api_url, [title])
    assert tracker(config, "run", "--once").exit_code == 0
    source = tmp_path / "old.xml"
    source.write_text(
        export_xml(
            title,
            [
                ("2015-03-01T10:00:00Z", "Pioneer", "== History ==\nThe first words.\n"),
                ("2015-04-01T10:00:00Z", "Second", "== History ==\nThe first words, improved.\n"),
            ],
        ),
        encoding="utf-8",
    )
    wiki.import_xml(source)  # importDump.php: no log entry, the page's latest stays
    # Within the recheck interval nothing says the history changed.
    poll_later(config, LOG_INTERVAL + 60)
    assert len(history_json(config, title)) == 1
    poll_later(config, 8 * 86400)  # the weekly comparison of the revision list
    history = history_json(config, title)
    assert len(history) == 3
    assert [r["user"] for r in history[:2]] == ["imported>Pioneer", "imported>Second"]
    assert history[2]["revid"] == first
    assert all(r["revid"] > first for r in history[:2])  # new ids, old timestamps
    with Store(tmp_path / "tracker.db") as store:
        diff = page_diff(store, title, to_revid=first)  # re-derived in history order
    assert diff["from"]["revid"] == history[1]["revid"]
    words = [c["text"] for s in diff["sections"] for c in s["changes"] if c["type"] == "insert"]
    assert any("Today" in w for w in words)


def test_track_undeleted_revision_with_an_old_id_is_put_in_its_place(
    make_wiki, tmp_path: Path
) -> None:
    wiki: TestWiki = make_wiki()
    title = "Article restored in parts"
    texts = ["One.\n", "One. Two.\n", "One. Two. Three.\n"]
    stamps = ["2020-01-01T00:00:00Z", "2020-02-01T00:00:00Z", "2020-03-01T00:00:00Z"]
    source = tmp_path / "parts.xml"
    source.write_text(
        export_xml(title, [(s, "Writer", t) for s, t in zip(stamps, texts, strict=True)]),
        encoding="utf-8",
    )
    wiki.import_xml(source)
    ids = [r["revid"] for r in wiki.revisions(title)]
    wiki.delete(title, "test")
    wiki._write("undelete", title=title, timestamps=f"{stamps[0]}|{stamps[2]}")
    config = wiki_config(tmp_path, wiki.api_url, [title])
    assert tracker(config, "run", "--once").exit_code == 0
    assert [r["revid"] for r in history_json(config, title)] == [ids[0], ids[2]]
    wiki._write("undelete", title=title, timestamps=stamps[1])  # logged: delete/restore
    poll_later(config, LOG_INTERVAL + 60)
    history = history_json(config, title)
    assert [r["revid"] for r in history] == ids  # the old id, in its place
    with Store(tmp_path / "tracker.db") as store:
        diff = page_diff(store, title)
    assert diff["from"]["revid"] == ids[1]  # the last diff follows history order


def test_track_revision_deleted_or_hidden_later(make_wiki, tmp_path: Path) -> None:
    wiki: TestWiki = make_wiki()
    title = "Article with a libel"
    first = wiki.edit(title, "Clean text.\n", "create")
    libel = wiki.edit(title, "Clean text. Libel about someone.\n", "libel")
    fixed = wiki.edit(title, "Clean text. A fair sentence.\n", "fix")
    config = wiki_config(tmp_path, wiki.api_url, [title])
    assert tracker(config, "run", "--once").exit_code == 0
    assert "Libel" in tracker(config, "show", str(libel)).output
    with Store(tmp_path / "tracker.db") as store:
        index_new_blobs(store)
        assert search(store, phrase_query("Libel about someone"))
    wiki.hide_revision(libel, text=True, user=True, comment=True)  # logged: delete/revision
    poll_later(config, LOG_INTERVAL + 60)
    history = {r["revid"]: r for r in history_json(config, title)}
    assert history[libel]["texthidden"] and history[libel]["user"] is None
    assert history[libel]["comment"] is None and history[libel]["sha1"] is None
    shown = tracker(config, "show", str(libel))
    assert shown.exit_code == 0 and "Libel" not in shown.output
    with Store(tmp_path / "tracker.db") as store:
        diff = page_diff(store, title)
        assert diff["from"]["revid"] == first  # the diff now skips the hidden text
        assert "Libel" not in str(diff)
        texts = [store.blob(b) for (b,) in store.db.execute("SELECT id FROM blobs")]
        assert not search(store, phrase_query("Libel about someone"))  # nor in the index
    assert history[fixed]["revid"] == fixed
    diffed = tracker(config, "diff", title, "--from", str(libel), "--to", str(fixed))
    assert diffed.exit_code == 1 and "hidden" in diffed.output  # a run-time fact, not usage
    assert not any("Libel" in t for t in texts)  # the hidden text is gone from the store


def test_track_reads_wikitext_as_the_wiki_does(make_wiki, tmp_path: Path) -> None:
    """Namespace aliases only this wiki has come from its siteinfo: `[[Kat:X]]` is a category
    here, not a link, and `[[xx:Page]]` a link where "xx" is no language of this wiki."""
    wiki: TestWiki = make_wiki()
    with wiki.conf.open("a", encoding="utf-8") as settings:
        settings.write('$wgNamespaceAliases["Kat"] = NS_CATEGORY;\n')
    title = "Article in an aliased category"
    wiki.edit(title, "== Body ==\nText.\n", "create")
    config = wiki_config(tmp_path, wiki.api_url, [title])
    assert tracker(config, "run", "--once").exit_code == 0
    revid = wiki.edit(title, "== Body ==\nText.\n[[Kat:Greetings]] [[de:Hallo]]\n", "more")
    assert tracker(config, "run", "--once").exit_code == 0
    with Store(tmp_path / "tracker.db") as store:
        diff = page_diff(store, title)
    # The wiki's own reading of the same text.
    parsed = wiki.site().api(
        "parse", "GET", oldid=revid, prop="links|langlinks|categories", formatversion=2
    )["parse"]
    assert [c["category"] for c in parsed["categories"]] == ["Greetings"]
    assert parsed["langlinks"] == [] and [link["title"] for link in parsed["links"]] == ["De:Hallo"]
    assert diff["page"] == [{"type": "category_added", "category": "Greetings"}]
    links = [c for s in diff["sections"] for c in s["changes"] if c["type"] == "link_added"]
    assert [link["target"] for link in links] == ["De:Hallo"]


def test_track_newest_revision_deleted_then_quiet(make_wiki, tmp_path: Path) -> None:
    wiki: TestWiki = make_wiki()
    title = "Article whose last edit was deleted"
    stamps = ["2021-01-01T00:00:00Z", "2021-02-01T00:00:00Z", "2021-03-01T00:00:00Z"]
    source = tmp_path / "three.xml"
    source.write_text(
        export_xml(title, [(s, "Writer", f"Text {k}.\n") for k, s in enumerate(stamps)]),
        encoding="utf-8",
    )
    wiki.import_xml(source)
    config = wiki_config(tmp_path, wiki.api_url, [title])
    assert tracker(config, "run", "--once").exit_code == 0
    ids = [r["revid"] for r in history_json(config, title)]
    wiki.delete(title, "test")
    wiki._write("undelete", title=title, timestamps=f"{stamps[0]}|{stamps[1]}")
    poll_later(config, LOG_INTERVAL + 60)
    history = history_json(config, title)
    assert [r["revid"] for r in history] == ids  # kept,
    assert [r["deleted"] for r in history] == [False, False, True]  # and marked
    poll_later(config, 2 * (LOG_INTERVAL + 60))
    with Store(tmp_path / "tracker.db") as store:
        assert store.find_page(title)["last_revid"] == ids[1]  # the wiki's latest
        requests = store.scalar("SELECT requests FROM poll_runs ORDER BY id DESC LIMIT 1")
    # The site check and the recent changes (nothing since): no status, no revision list.
    assert requests == 2
