"""Tracking through a real MediaWiki's api.php: backfill, incremental polls, moves, deletions,
hidden revisions, redirects, missing titles, a wiki that is down or is not a MediaWiki.
"""

from __future__ import annotations

import http.server
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import mwxml
import pytest
from mediawiki import TestWiki
from trackerutil import SEED_SNAPSHOT, SEED_TITLE, history_json, tracker, wiki_config

from tracker.model import base36_to_hex

CONTRACT_FIELDS = {"revid", "parentid", "timestamp", "user", "comment", "minor", "size", "sha1"}


def api_revisions(wiki: TestWiki, title: str) -> list[dict]:
    """The wiki's own account of a page's history, oldest first."""
    return wiki.revisions(title, "ids|timestamp|user|userid|comment|flags|size|sha1")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestWiki, Path]]:
    """A wiki with the bundled history imported, tracked once through api.php."""
    wiki = TestWiki.start(tmp_path_factory.mktemp("seeded-wiki"))
    wiki.import_xml(SEED_SNAPSHOT)
    config = wiki_config(tmp_path_factory.mktemp("seeded-tracker"), wiki.api_url, [SEED_TITLE])
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0, result.output
    yield wiki, config
    wiki.stop()


def test_track_backfill_matches_the_wikis_own_api(seeded: tuple[TestWiki, Path]) -> None:
    wiki, config = seeded
    stored = history_json(config, SEED_TITLE)
    reported = api_revisions(wiki, SEED_TITLE)
    assert len(stored) == len(reported) >= 12
    for mine, theirs in zip(stored, reported, strict=True):
        assert CONTRACT_FIELDS <= set(mine)
        assert mine["revid"] == theirs["revid"]
        assert mine["parentid"] == theirs["parentid"]
        assert mine["sha1"] == theirs["sha1"] and len(mine["sha1"]) == 40
        assert mine["user"] == theirs["user"]
        assert mine["comment"] == theirs["comment"]
        assert mine["timestamp"] == theirs["timestamp"] and mine["timestamp"].endswith("Z")
        assert mine["minor"] == theirs["minor"]
        assert mine["size"] == theirs["size"]
    assert [r["revid"] for r in stored] == sorted(r["revid"] for r in stored)


def test_track_backfill_matches_the_snapshot(seeded: tuple[TestWiki, Path]) -> None:
    _, config = seeded
    with SEED_SNAPSHOT.open("rb") as handle:
        page = next(iter(mwxml.Dump.from_file(handle)))
        expected = [
            (base36_to_hex(r.sha1), r.comment or "", r.minor, r.timestamp.long_format())
            for r in page
        ]
    stored = [
        (r["sha1"], r["comment"], r["minor"], r["timestamp"])
        for r in history_json(config, SEED_TITLE)
    ]
    assert stored == expected


def test_track_stored_text_equals_the_wikis(seeded: tuple[TestWiki, Path]) -> None:
    wiki, config = seeded
    latest = history_json(config, SEED_TITLE)[-1]
    shown = json.loads(tracker(config, "show", str(latest["revid"]), "--json").stdout)
    page = wiki.site().pages[SEED_TITLE]
    assert shown["text"] == page.text()
    assert shown["title"] == SEED_TITLE


def test_track_two_edits_between_polls_are_both_stored(mediawiki: TestWiki, tmp_path: Path) -> None:
    title = "Incremental polling"
    first = mediawiki.edit(title, "== A ==\nOne.\n", "create")
    config = wiki_config(tmp_path, mediawiki.api_url, [title])
    assert tracker(config, "run", "--once").exit_code == 0
    second = mediawiki.edit(title, "== A ==\nOne. Two.\n", "second")
    third = mediawiki.edit(title, "== A ==\nOne. Two. Three.\n", "third", minor=True)
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0, result.output
    history = history_json(config, title)
    assert [r["revid"] for r in history] == [first, second, third]
    assert [r["parentid"] for r in history] == [0, first, second]
    assert history[2]["minor"] is True and history[1]["minor"] is False


def test_track_poll_without_change_fetches_no_content(mediawiki: TestWiki, tmp_path: Path) -> None:
    titles = [f"Quiet page {i}" for i in range(3)]
    for title in titles:
        mediawiki.edit(title, f"Text of {title}.", "create")
    config = wiki_config(tmp_path, mediawiki.api_url, titles)
    assert tracker(config, "run", "--once").exit_code == 0
    db = sqlite3.connect(tmp_path / "tracker.db")
    before = db.execute("SELECT count(*) FROM revisions").fetchone()[0]
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0
    # The site check (siteinfo) and one status request for the three pages: no content.
    requests = db.execute(
        "SELECT requests, revisions_added FROM poll_runs ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert requests == (2, 0)
    assert db.execute("SELECT count(*) FROM revisions").fetchone()[0] == before


def test_track_moved_page_keeps_history_and_records_new_title(
    mediawiki: TestWiki, tmp_path: Path
) -> None:
    old, new = "Page before the move", "Page after the move"
    created = mediawiki.edit(old, "Some text.", "create")
    config = wiki_config(tmp_path, mediawiki.api_url, [old])
    assert tracker(config, "run", "--once").exit_code == 0
    mediawiki.move(old, new, "better title")
    edited = mediawiki.edit(new, "Some more text.", "after the move")
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0, result.output
    history = history_json(config, new)
    assert history[0]["revid"] == created and history[-1]["revid"] == edited
    assert len(history) == 3  # the move's null revision in between
    assert history_json(config, old) == history  # found by its former title too
    status = json.loads(tracker(config, "status", "--json").stdout)["watches"][0]
    assert status["current_title"] == new and status["status"] == "moved"


def test_track_deleted_page_is_marked_and_history_kept(mediawiki: TestWiki, tmp_path: Path) -> None:
    title = "Page to be deleted"
    mediawiki.edit(title, "Short-lived.", "create")
    mediawiki.edit(title, "Short-lived, edited.", "edit")
    config = wiki_config(tmp_path, mediawiki.api_url, [title])
    assert tracker(config, "run", "--once").exit_code == 0
    mediawiki.delete(title, "test")
    result = tracker(config, "run", "--once")
    assert result.exit_code == 1
    assert "was deleted" in result.output and "history is kept" in result.output
    assert "Traceback" not in result.output
    assert len(history_json(config, title)) == 2
    status = json.loads(tracker(config, "status", "--json").stdout)["watches"][0]
    assert status["status"] == "deleted" and "deleted" in status["last_error"]


def test_track_hidden_revision_is_stored_as_hidden(mediawiki: TestWiki, tmp_path: Path) -> None:
    title = "Page with a hidden revision"
    mediawiki.edit(title, "Clean text.", "create")
    bad = mediawiki.edit(
        title,
        "Clean text. Libel!",
        "libel",
    )
    mediawiki.edit(title, "Clean text.", "remove libel")
    mediawiki.hide_revision(bad, text=True, user=True, comment=True)
    config = wiki_config(tmp_path, mediawiki.api_url, [title])
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0, result.output
    history = history_json(config, title)
    hidden = next(r for r in history if r["revid"] == bad)
    assert hidden["texthidden"] and hidden["userhidden"] and hidden["commenthidden"]
    assert hidden["user"] is None and hidden["comment"] is None
    shown = tracker(config, "show", str(bad))
    assert shown.exit_code == 0 and "hidden" in shown.output and "Libel" not in shown.output
    assert len(history) == 3


def test_track_redirect_is_reported_not_followed(mediawiki: TestWiki, tmp_path: Path) -> None:
    mediawiki.edit("Redirect target page", "The real article.", "create")
    mediawiki.edit("Redirecting title", "#REDIRECT [[Redirect target page]]", "redirect")
    config = wiki_config(tmp_path, mediawiki.api_url, ["Redirecting title"])
    result = tracker(config, "run", "--once")
    assert result.exit_code == 1
    assert "is a redirect to 'Redirect target page'" in result.output
    db = sqlite3.connect(tmp_path / "tracker.db")
    assert db.execute("SELECT count(*) FROM revisions").fetchone()[0] == 0


def test_track_missing_title_gives_clear_message(mediawiki: TestWiki, tmp_path: Path) -> None:
    config = wiki_config(tmp_path, mediawiki.api_url, ["No such page anywhere"])
    result = tracker(config, "run", "--once")
    assert result.exit_code == 1
    assert "'No such page anywhere' does not exist" in result.output
    assert "Traceback" not in result.output


def test_track_wiki_down_keeps_store_intact(make_wiki, tmp_path: Path) -> None:
    wiki = make_wiki()
    title = "Page on a wiki that goes down"
    wiki.edit(title, "Before.", "create")
    config = wiki_config(tmp_path, wiki.api_url, [title])
    assert tracker(config, "run", "--once").exit_code == 0
    before = history_json(config, title)
    with wiki.down():
        result = tracker(config, "run", "--once")
        assert result.exit_code == 1
        lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(lines) == 1 and "not reachable" in lines[0]
        assert history_json(config, title) == before
        status = json.loads(tracker(config, "status", "--json").stdout)["watches"][0]
        assert "not reachable" in status["last_error"] and status["unreachable_since"]
    wiki.edit(title, "After.", "edit")
    assert tracker(config, "run", "--once").exit_code == 0
    assert len(history_json(config, title)) == 2


class _NotAWiki(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        body = b"<html><body>Just a web page</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_track_url_that_is_not_a_mediawiki(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotAWiki)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        config = wiki_config(tmp_path, f"http://127.0.0.1:{server.server_port}/api.php", ["X"])
        result = tracker(config, "run", "--once")
    finally:
        server.shutdown()
    assert result.exit_code == 1
    assert "did not answer like a MediaWiki api.php" in result.output
    assert "Traceback" not in result.output


def test_track_non_wikitext_page_is_stored_and_flagged(mediawiki: TestWiki, tmp_path: Path) -> None:
    title = "Tracker test data"
    data = '{"== not a heading ==": [1, 2, 3]}'
    mediawiki.api(
        "edit",
        title=title,
        text=data,
        summary="data",
        contentmodel="json",
        token=mediawiki.site().get_token("csrf"),
    )
    config = wiki_config(tmp_path, mediawiki.api_url, [title])
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0, result.output
    (record,) = history_json(config, title)
    assert record["content_model"] == "json"
    shown = json.loads(tracker(config, "show", str(record["revid"]), "--json").stdout)
    assert json.loads(shown["text"]) == json.loads(data)


def test_track_revert_is_recognised_with_mediawikis_tags(
    mediawiki: TestWiki, tmp_path: Path
) -> None:
    title = "Page with an undone edit"
    good = mediawiki.edit(title, "== A ==\nGood text.\n", "create")
    bad = mediawiki.edit(title, "== A ==\nGood text. Spam spam spam.\n", "spam")
    mediawiki.api(
        "edit", title=title, undo=bad, summary="undo spam", token=mediawiki.site().get_token("csrf")
    )
    config = wiki_config(tmp_path, mediawiki.api_url, [title])
    assert tracker(config, "run", "--once").exit_code == 0
    first, spam, undo = history_json(config, title)
    assert (first["revid"], spam["revid"]) == (good, bad)
    assert undo["revert_of"] == good and spam["reverted_by"] == undo["revid"]
    assert "mw-undo" in undo["tags"]
    diff = json.loads(tracker(config, "diff", title, "--json").stdout)
    assert diff["revert_of"] == good
