"""Topic watches through a real MediaWiki: watch sets of each kind, membership changing
between polls, cascade to templates, polling through recent changes (one request when
nothing changed, 1 + ceil(k/50) for k changed pages) and the fall back to each page's
status when recent changes cannot tell everything.

One wiki for the module; each test makes pages of its own (titles start with its name).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mediawiki import TestWiki
from trackerutil import write_config

from tracker.config import load_config
from tracker.fetch.api import ApiSource
from tracker.fetch.poll import PollResult, poll_wiki
from tracker.store import Store


@pytest.fixture(scope="module")
def wiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestWiki]:
    started = TestWiki.start(tmp_path_factory.mktemp("topics-wiki"))
    # Category membership changes as recent changes (Wikimedia's wikis record them; off by
    # default in MediaWiki 1.39). PHP reads the settings at every request.
    with started.conf.open("a", encoding="utf-8") as settings:
        settings.write("\n$wgRCWatchCategoryMembership = true;\n")
    yield started
    started.stop()


class Tracker:
    """One config and store on the module's wiki, polled in-process."""

    def __init__(self, directory: Path, wiki: TestWiki, watches: list[dict], **extra: object):
        self.wiki = wiki
        self.path = write_config(
            directory,
            wikis=[
                {
                    "name": "test",
                    "api_url": wiki.api_url,
                    "contact": "tests@example.org",
                    "max_retries": 1,
                    "recent_changes": True,
                    **extra,
                }
            ],
            watches=[{"wiki": "test", **w} for w in watches],
        )
        self.config = load_config(self.path)
        self.store = Store(self.config.database_path)
        self.source = ApiSource(self.config.wiki("test"))
        self.asked: list[dict] = []  # the parameters of each request
        call = self.source.call

        def counted(action: str = "query", **params: object) -> dict:
            self.asked.append(params)
            return call(action, **params)

        self.source.call = counted  # type: ignore[method-assign]

    def poll(self, later: float = 0.0) -> PollResult:
        """One poll cycle, as if ``later`` seconds from now (a set's refresh due)."""
        # Category, link and template tables are filled by the wiki's jobs: run them, as
        # a wiki's job runner would have between two polls.
        self.wiki.run_maintenance("runJobs")
        result = poll_wiki(
            self.store,
            self.config,
            self.config.wiki("test"),
            source=self.source,
            clock=lambda: time.time() + later,
        )
        assert not result.errors, result.errors
        return result

    def members(self, key: str, current: bool = True) -> list[str]:
        found = self.store.find_watch_set("test", key)
        assert found is not None, key
        return [m["title"] for m in self.store.set_members(found["id"], current=current)]

    def revisions(self, title: str) -> list[int]:
        page = self.store.find_page(title, "test")
        assert page is not None, title
        return [r["revid"] for r in self.store.revisions(page["id"])]

    def close(self) -> None:
        self.store.close()


@pytest.fixture
def make_tracker(tmp_path: Path, wiki: TestWiki) -> Iterator:
    made: list[Tracker] = []

    def make(watches: list[dict], **extra: object) -> Tracker:
        found = Tracker(tmp_path / f"t{len(made)}", wiki, watches, **extra)
        made.append(found)
        return found

    yield make
    for found in made:
        found.close()


def test_category_set_with_subcategories_joins_and_leaves(wiki: TestWiki, make_tracker) -> None:
    wiki.edit("Category:Cat14 top", "Top.")
    wiki.edit("Category:Cat14 sub", "[[Category:Cat14 top]]")
    wiki.edit("Category:Cat14 subsub", "[[Category:Cat14 sub]]")
    wiki.edit("Category:Cat14 deeper", "[[Category:Cat14 subsub]]")
    wiki.edit("Cat14 A", "A. [[Category:Cat14 top]]")
    wiki.edit("Cat14 B", "B. [[Category:Cat14 top]]")
    wiki.edit("Cat14 C", "C. [[Category:Cat14 subsub]]")  # depth 2
    wiki.edit("Cat14 D", "D. [[Category:Cat14 deeper]]")  # depth 3: not in the set
    tracker = make_tracker([{"category": "Cat14 top", "depth": 2}])
    tracker.poll()
    assert tracker.members("category:Cat14 top") == ["Cat14 A", "Cat14 B", "Cat14 C"]
    for title in ("Cat14 A", "Cat14 B", "Cat14 C"):
        assert len(tracker.revisions(title)) == 1  # from now on: the current revision

    # Between two polls: a page put in the category, one taken out, one edited.
    wiki.edit("Cat14 E", "E. [[Category:Cat14 top]]")
    wiki.edit("Cat14 F", "F. [[Category:Cat14 subsub]]")  # into a subcategory, 2 down
    wiki.edit("Cat14 B", "B, out of it now.")
    new_a = wiki.edit("Cat14 A", "A, edited. [[Category:Cat14 top]]")
    tracker.poll()
    assert tracker.members("category:Cat14 top") == ["Cat14 A", "Cat14 C", "Cat14 E", "Cat14 F"]
    assert "Cat14 B" in tracker.members("category:Cat14 top", current=False)
    assert tracker.revisions("Cat14 A")[-1] == new_a
    assert len(tracker.revisions("Cat14 E")) == 1
    wiki_id = tracker.store.find_wiki_id("test")
    assert wiki_id is not None
    changes = tracker.store.membership_changes(wiki_id, None, "9999")
    told = {(c["event"], c["title"]) for c in changes}
    assert ("joined", "Cat14 E") in told and ("left", "Cat14 B") in told
    assert ("joined", "Cat14 F") in told
    assert ("joined", "Cat14 A") not in told  # the set's first reading is no change


def test_no_change_cycle_is_one_request_and_k_changes_are_one_plus_k_over_50(
    wiki: TestWiki, make_tracker
) -> None:
    for i in range(60):
        wiki.edit(f"Many14/{i:02d}", f"Page {i}.")
    tracker = make_tracker([{"prefix": "Many14/"}])
    first = tracker.poll()
    assert len(tracker.members("prefix:Many14/")) == 60
    # The first fetch of 60 one-revision pages: a few requests, not two per page, and
    # counted as what the cycle stored.
    assert first.requests <= 10, first.requests
    assert first.revisions_added == 60 and first.pages_changed == 60
    assert sum(1 for p in tracker.asked if p.get("meta") == "siteinfo") == 1
    assert tracker.poll().requests == 1  # nothing changed: the recent changes alone
    assert tracker.poll().requests == 1
    for i in range(3):
        wiki.edit(f"Many14/{i:02d}", f"Page {i}, edited.")
    changed = tracker.poll()
    assert changed.pages_changed == 3 and changed.revisions_added == 3
    # 1 (recent changes) + 1 (the 3 revisions by id) (+ 1 for the editors' groups).
    assert changed.requests <= 3, changed.requests
    assert tracker.poll().requests == 1


def test_without_recent_changes_a_new_sets_pages_are_not_asked_again(
    wiki: TestWiki, make_tracker
) -> None:
    for i in range(60):
        wiki.edit(f"Plain14/{i:02d}", f"Page {i}.")
    tracker = make_tracker([{"prefix": "Plain14/"}], recent_changes=False)
    first = tracker.poll()
    assert first.revisions_added == 60
    # Their revisions were just read: no status of them in the same cycle.
    assert not [p for p in tracker.asked if p.get("prop") == "info"], tracker.asked
    tracker.asked.clear()
    assert tracker.poll().revisions_added == 0
    assert len([p for p in tracker.asked if p.get("prop") == "info"]) == 2  # 60 pages / 50


def test_recent_changes_out_of_reach_fall_back_to_each_pages_status(
    wiki: TestWiki, make_tracker
) -> None:
    wiki.edit("Gone14 page", "One.")
    tracker = make_tracker([{"title": "Gone14 page"}])
    tracker.poll()
    assert tracker.poll().requests == 1
    wiki_id = tracker.store.find_wiki_id("test")
    assert wiki_id is not None
    cursor = tracker.store.rc_cursor(wiki_id)
    assert cursor is not None
    edited = wiki.edit("Gone14 page", "Two.")
    # The wiki purges its oldest recent changes (as $wgRCMaxAge does after 90 days), the
    # one the tracker read up to included; the edit after it is still there.
    with sqlite3.connect(wiki.directory / "data" / "wiki.sqlite") as db:
        db.execute("DELETE FROM recentchanges WHERE rc_id <= ?", [cursor[1]])
    result = tracker.poll()
    assert tracker.revisions("Gone14 page")[-1] == edited
    assert result.requests >= 2  # recent changes, then the page's status
    assert tracker.poll().requests == 1  # on from the newest change again


def test_a_move_and_a_deletion_named_by_recent_changes(wiki: TestWiki, make_tracker) -> None:
    wiki.edit("Move14 from", "Moving.")
    wiki.edit("Delete14 me", "Deleting.")
    tracker = make_tracker([{"title": "Move14 from"}, {"title": "Delete14 me"}])
    tracker.poll()
    wiki.move("Move14 from", "Move14 to")
    wiki.delete("Delete14 me")
    result = poll_wiki(
        tracker.store, tracker.config, tracker.config.wiki("test"), source=tracker.source
    )
    assert any("was deleted" in e for e in result.errors)
    page = tracker.store.find_page("Move14 to", "test")
    assert page is not None and page["title"] == "Move14 to"


def test_linked_from_transcluding_and_user_sets(wiki: TestWiki, make_tracker) -> None:
    wiki.edit("Link14 target 1", "One.")
    wiki.edit("Link14 target 2", "Two.")
    wiki.edit("Link14 list", "[[Link14 target 1]] [[Link14 target 2]] [[Link14 nowhere]]")
    wiki.edit("Template:Box14", "A box.")
    wiki.edit("Uses14 one", "{{Box14}}")
    wiki.edit("Uses14 two", "{{Box14}} too")
    tracker = make_tracker(
        [
            {"linked_from": "Link14 list"},
            {"transcluding": "Template:Box14"},
        ]
    )
    tracker.poll()
    assert tracker.members("linked_from:Link14 list") == ["Link14 target 1", "Link14 target 2"]
    assert tracker.members("transcluding:Template:Box14") == ["Uses14 one", "Uses14 two"]
    # An edit of the list page reads its links again at the next poll.
    wiki.edit("Link14 target 3", "Three.")
    wiki.edit("Link14 list", "[[Link14 target 2]] [[Link14 target 3]]")
    tracker.poll()
    assert tracker.members("linked_from:Link14 list") == ["Link14 target 2", "Link14 target 3"]
    # A page that starts using the template joins when the set is read again (its refresh:
    # recent changes do not say which template an edit added).
    wiki.edit("Uses14 three", "Now {{Box14}} here too")
    tracker.poll()
    assert "Uses14 three" not in tracker.members("transcluding:Template:Box14")
    tracker.poll(later=7 * 3600)
    assert "Uses14 three" in tracker.members("transcluding:Template:Box14")


def test_user_set_follows_a_users_new_edits(wiki: TestWiki, make_tracker) -> None:
    wiki.edit("User14 page 1", "By the admin.")
    tracker = make_tracker([{"user": "Admin", "namespace": 0, "max_pages": 100000}])
    tracker.poll()
    assert "User14 page 1" in tracker.members("user:Admin")
    wiki.edit("User14 page 2", "A new page by the admin.")
    tracker.poll()
    assert "User14 page 2" in tracker.members("user:Admin")
    assert len(tracker.revisions("User14 page 2")) == 1


def test_a_set_larger_than_max_pages_says_so(wiki: TestWiki, make_tracker) -> None:
    for i in range(4):
        wiki.edit(f"Big14/{i}", "x")
    tracker = make_tracker([{"prefix": "Big14/", "max_pages": 3}])
    wiki.run_maintenance("runJobs")
    result = poll_wiki(
        tracker.store, tracker.config, tracker.config.wiki("test"), source=tracker.source
    )
    assert len(result.errors) == 1
    assert "max_pages" in result.errors[0] and "prefix:Big14/" in result.errors[0]


def test_cascade_follows_the_templates_watched_pages_use(wiki: TestWiki, make_tracker) -> None:
    wiki.edit("Template:Casc14", "Shared.")
    wiki.edit("Casc14 one", "{{Casc14}} one")
    wiki.edit("Casc14 two", "{{Casc14}} two")
    tracker = make_tracker([{"prefix": "Casc14 ", "cascade": True}])
    tracker.poll()  # the pages, then the templates they use
    assert tracker.members("cascade:prefix:Casc14 ") == ["Template:Casc14"]
    tracker.poll()  # the templates are polled as pages from the next cycle on
    edited = wiki.edit("Template:Casc14", "Shared, edited.")
    tracker.poll()
    assert tracker.revisions("Template:Casc14")[-1] == edited
    wiki_id = tracker.store.find_wiki_id("test")
    assert wiki_id is not None
    template = tracker.store.find_page("Template:Casc14", "test")
    assert template is not None
    assert len(tracker.store.template_users(wiki_id, template["pageid"])) == 2
