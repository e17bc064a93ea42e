"""The bounds on what a wiki sends, against a real MediaWiki (issue 15, item 3): revisions
too large to keep, or for the wiki's own replies, stored with their metadata; queries that
continue without end stopped, what came before kept, the rest fetched by the next poll."""

from __future__ import annotations

import sqlite3
import urllib.request
from pathlib import Path

from faultproxy import FaultProxy
from genhistory import write_history
from trackerutil import history_json, tracker, wiki_config
from waits import wait_until

from tracker.config import MIB
from tracker.fetch.snapshot import SnapshotSource

TITLE = "A very large article"
HUGE = "== Data ==\n" + ("word " * 19 + "word\n") * 30_000  # 3 MB of plain lines


def large_history(wiki, settings: str = "") -> list[dict]:
    """A page whose second revision is about 3 MB (MediaWiki's default limit is 2 MiB)."""
    with wiki.conf.open("a") as conf:
        conf.write("\n$wgMaxArticleSize = 4096; // KiB: room for a 3 MB revision\n" + settings)
    # PHP's built-in server caches compiled scripts (OPcache, checked every 2 s): wait until
    # the wiki reads the new settings, which siteinfo shows.
    wait_until(
        lambda: (
            wiki.anon_site().api("query", "GET", meta="siteinfo")["query"]["general"][
                "maxarticlesize"
            ]
            == 4096 * 1024
        ),
        30,
        "the wiki reading its new settings",
        every=0.1,
    )
    wiki.edit(TITLE, "== Data ==\nnone yet\n", "start")
    wiki.edit(TITLE, HUGE, "the whole table")
    wiki.edit(TITLE, "== Data ==\nmoved to [[Elsewhere]]\n", "cut")
    return wiki_revisions(wiki)


def wiki_revisions(wiki) -> list[dict]:
    result = wiki.site().api(
        "query",
        "GET",
        prop="revisions",
        titles=TITLE,
        rvlimit="max",
        rvdir="newer",
        rvprop="ids|timestamp|size|sha1|comment",
        formatversion=2,
    )
    return result["query"]["pages"][0]["revisions"]


def check_stored(config: Path, theirs: list[dict]) -> None:
    """Every revision stored with the wiki's metadata; the large one without its text."""
    mine = history_json(config, TITLE)
    assert [(r["revid"], r["size"], r["sha1"], r["comment"]) for r in mine] == [
        (r["revid"], r["size"], r["sha1"], r["comment"]) for r in theirs
    ]
    assert not any(r["texthidden"] for r in mine)
    with sqlite3.connect(config.parent / "tracker.db") as db:
        assert [
            row[0] for row in db.execute("SELECT has_text FROM revisions ORDER BY timestamp, revid")
        ] == [1, 0, 1]
    first, last = theirs[0]["revid"], theirs[-1]["revid"]
    diff = tracker(config, "diff", TITLE, "--from", str(first), "--to", str(last), "--json")
    assert diff.exit_code == 0 and "Elsewhere" in diff.output, diff.output


def test_track_revision_over_max_revision_size(make_wiki, tmp_path: Path) -> None:
    wiki = make_wiki()
    theirs = large_history(wiki)
    assert theirs[1]["size"] > 3_000_000
    config = wiki_config(tmp_path, wiki.api_url, [TITLE], max_revision_size="1MiB")
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0, result.output
    check_stored(config, theirs)

    # The wiki's own export of the page, read with the same bound: the same revisions.
    url = (
        f"{wiki.index_url}?title=Special:Export&pages={TITLE.replace(' ', '_')}"
        "&history=1&action=submit"
    )
    exported = tmp_path / "export.xml"
    with urllib.request.urlopen(url, timeout=60) as reply:  # noqa: S310 - loopback
        exported.write_bytes(reply.read())
    source = SnapshotSource("export", exported, max_revision_size=MIB)
    status = source.page_status(titles=[TITLE])[0]
    revisions = [rev for batch in source.fetch_revisions(status.pageid) for rev in batch]
    assert [(r.revid, r.size, r.sha1, r.toolarge) for r in revisions] == [
        (r["revid"], r["size"], r["sha1"], i == 1) for i, r in enumerate(theirs)
    ]
    assert revisions[1].text is None and revisions[2].text.endswith("[[Elsewhere]]")


def test_track_revision_over_the_wikis_own_result_size(make_wiki, tmp_path: Path) -> None:
    """MediaWiki cannot put a revision larger than $wgAPIMaxResultSize into any reply: it
    answers without it and continues at it, again and again. It is stored without text."""
    wiki = make_wiki()
    theirs = large_history(wiki, "$wgAPIMaxResultSize = 2 * 1024 * 1024;\n")
    config = wiki_config(tmp_path, wiki.api_url, [TITLE])  # the default bounds
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0, result.output
    check_stored(config, theirs)


def test_track_continuations_capped_then_resumed(make_wiki, tmp_path: Path) -> None:
    wiki = make_wiki()
    title = "Long history"
    write_history(tmp_path / "long.xml", title, 130, size=2_000)
    wiki.import_xml(tmp_path / "long.xml")
    config = wiki_config(tmp_path, wiki.api_url, [title], max_continuations=1)

    # Anonymously 50 revisions a reply: the backfill needs two continuations.
    first = tracker(config, "run", "--once")
    assert first.exit_code == 1
    assert "past max_continuations (1 continuation requests)" in first.output
    assert len(history_json(config, title)) == 100  # the replies before the cap are kept

    second = tracker(config, "run", "--once")  # from the last stored revision on
    assert second.exit_code == 0, second.output
    revids = [r["revid"] for r in history_json(config, title)]
    assert revids == [r["revid"] for r in wiki.revisions(title)]


def test_track_repeating_continuation_from_the_wiki(make_wiki, tmp_path: Path) -> None:
    wiki = make_wiki()
    title = "Looping history"
    write_history(tmp_path / "loop.xml", title, 130, size=2_000)
    wiki.import_xml(tmp_path / "loop.xml")

    def repeat(params: dict, result: dict) -> dict:
        # A broken wiki: from the second reply on, it continues where it was asked to.
        if "rvcontinue" in params and "continue" in result:
            result["continue"]["rvcontinue"] = params["rvcontinue"]
        return result

    with FaultProxy(wiki.host) as proxy:
        config = wiki_config(tmp_path, proxy.api_url, [title])
        proxy.mode("rewrite", reply=repeat)
        looping = tracker(config, "run", "--once")
        assert looping.exit_code == 1
        assert "sent the same continuation twice" in looping.output
        assert proxy.counts["content"] == 2  # the second reply repeats the first: stop
        assert len(history_json(config, title)) == 100

        proxy.heal()
        healed = tracker(config, "run", "--once")
        assert healed.exit_code == 0, healed.output
    revids = [r["revid"] for r in history_json(config, title)]
    assert len(revids) == len(set(revids)) == 130
