"""Push through a real daemon: a real MediaWiki sends its recent changes over UDP (the JSON
feed Wikimedia's EventStreams serves), a loopback EventStreams server streams them, and the
daemon, following it, stores an edit long before its polling interval; with the stream
down, polling goes on as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from mediawiki import TestWiki
from processes import DaemonProcess, stored_revids
from ssefixture import Drop, FeedBridge, RcFeedReceiver, SseServer, refused_url
from trackerutil import wiki_table, write_config
from waits import wait_until

from tracker.daemon.push import Interest
from tracker.fetch.source import RecentChange


@pytest.fixture
def fed_wiki(make_wiki) -> Iterator[tuple[TestWiki, SseServer]]:
    wiki = make_wiki()
    with RcFeedReceiver() as feed, SseServer() as server:
        with wiki.conf.open("a", encoding="utf-8") as settings:
            settings.write(feed.settings())
        with FeedBridge(feed, server):
            yield wiki, server


def _config(
    tmp_path: Path, wiki: TestWiki, title: str, url: str, interval: str, api_url: str = ""
) -> Path:
    return write_config(
        tmp_path,
        wikis=[
            wiki_table(
                "local",
                api_url or wiki.api_url,
                contact="tests@example.org",
                eventstreams=True,
                eventstreams_url=url,
            )
        ],
        watches=[{"wiki": "local", "title": title, "interval": interval}],
    )


def test_daemon_stores_a_pushed_edit_before_its_interval(fed_wiki, tmp_path) -> None:
    wiki, server = fed_wiki
    title = "Pushed page"
    first = wiki.edit(title, "First.")
    # The first connection is cut mid-way through an event after the page's creation: the
    # daemon takes the stream up again from there.
    server.drops = {0: Drop(1, mid_event=True)}
    config = _config(tmp_path, wiki, title, server.url, "6h")
    db = tmp_path / "tracker.db"
    with DaemonProcess(config) as daemon:
        wait_until(
            lambda: stored_revids(db, title) == [first], 60, "the first poll", diagnose=daemon.tail
        )
        wait_until(lambda: "following its recent changes" in daemon.log(), 30, "the log line")
        second = wiki.edit(title, "Second, pushed.")
        # The interval is 6 hours: only the stream can have brought it.
        wait_until(
            lambda: second in stored_revids(db, title),
            60,
            "the pushed edit stored",
            diagnose=daemon.tail,
        )
        other = wiki.edit("Not watched page", "Not watched.")
        assert other not in stored_revids(db, "Not watched page")
        # Taken up after the cut from the last whole event, not from the start.
        resumed = server.wait_requests(2, 30)[1]
        assert resumed.last_event_id is not None
    # Where the stream was read up to is kept, to resume from after a restart.
    with DaemonProcess(config) as daemon:
        asked = server.wait_requests(3, 30)
        assert asked[-1].last_event_id is not None


def test_a_change_pushed_while_its_wiki_is_polled_is_polled_when_that_poll_ends(
    fed_wiki, tmp_path
) -> None:
    wiki, server = fed_wiki
    title = "Pushed twice page"
    first = wiki.edit(title, "First.")
    with FaultProxy(wiki.host) as proxy:
        config = _config(tmp_path, wiki, title, server.url, "6h", api_url=proxy.api_url)
        db = tmp_path / "tracker.db"
        with DaemonProcess(config) as daemon:
            wait_until(
                lambda: stored_revids(db, title) == [first],
                60,
                "the first poll",
                diagnose=daemon.tail,
            )
            wait_until(lambda: "following its recent changes" in daemon.log(), 30, "following")
            # The pushed poll reads the wiki's recent changes, then waits for the new
            # revision's text: the third edit comes after that reading, while it waits.
            proxy.hold("content")
            second = wiki.edit(title, "Second, pushed.")
            wait_until(lambda: proxy.held == 1, 60, "the poll waiting", diagnose=daemon.tail)
            third = wiki.edit(title, "Third, pushed during the poll.")
            daemon.wait_for_log("its stream named a watched page", count=2)
            proxy.release()
            # The interval is 6 hours: only a poll repeated for the push can bring it.
            wait_until(
                lambda: stored_revids(db, title) == [first, second, third],
                60,
                "the change pushed during the poll stored",
                diagnose=daemon.tail,
            )


def test_daemon_polls_as_usual_while_the_stream_is_down(mediawiki, tmp_path) -> None:
    title = "Push down page"
    first = mediawiki.edit(title, "First.")
    config = _config(tmp_path, mediawiki, title, refused_url(), "1s")
    db = tmp_path / "tracker.db"
    with DaemonProcess(config) as daemon:
        wait_until(
            lambda: stored_revids(db, title) == [first], 60, "the first poll", diagnose=daemon.tail
        )
        second = mediawiki.edit(title, "Second, polled.")
        wait_until(
            lambda: second in stored_revids(db, title), 60, "the edit polled", diagnose=daemon.tail
        )
        wait_until(
            lambda: "stream of recent changes not followed" in daemon.log(),
            60,
            "the stream's failure told",
            diagnose=daemon.tail,
        )


def _change(**fields: object) -> RecentChange:
    base: dict = {
        "rcid": 1,
        "type": "edit",
        "title": "X",
        "pageid": None,
        "ns": 0,
        "timestamp": "2026-01-01T00:00:00Z",
    }
    return RecentChange(**{**base, **fields})  # type: ignore[arg-type]


def test_interest_names_what_is_worth_a_poll() -> None:
    interest = Interest(
        titles={"Watched page"},
        categories={"Physics"},
        prefixes=[(0, "Project/"), (4, "Noticeboard/")],
        users={"Some editor"},
    )
    assert interest.wants(_change(title="Watched_page"))
    assert interest.wants(
        _change(type="log", logtype="move", title="Old", titles=("Watched page",))
    )
    assert not interest.wants(_change(title="Other page"))
    assert interest.wants(_change(type="categorize", title="Category:Physics", ns=14))
    assert not interest.wants(_change(type="categorize", title="Category:Biology", ns=14))
    assert interest.wants(_change(type="new", title="Project/New"))
    assert not interest.wants(_change(type="edit", title="Project/Old"))  # (not watched)
    assert interest.wants(_change(type="new", title="Wikipedia:Noticeboard/1", ns=4))
    assert not interest.wants(_change(type="new", title="Noticeboard/1", ns=0))
    assert interest.wants(_change(user="Some_editor", title="Anything"))


def test_a_saved_position_the_stream_refuses_is_forgotten(tmp_path) -> None:
    from tracker.config import load_config
    from tracker.daemon.push import FORGET_AFTER, PushFollower
    from tracker.store import Store

    with SseServer() as server:
        config_path = _config(tmp_path, _FakeWiki(), "Some page", server.url, "1h")
        config = load_config(config_path)
        wiki = config.wiki("local")
        with Store(config.database_path) as store:
            wiki_id = store.wiki_id("local", wiki.api_url)
            store.set_stream_position(wiki_id, "not a position the stream has")
        follower = PushFollower(
            config, wiki, lambda name: None, backoff=lambda n: 0, retry=lambda n: 0
        )
        follower.start()
        try:
            asked = wait_until(
                lambda: [a for a in server.requests if a.last_event_id is None],
                30,
                "a request without the refused position",
            )
            assert asked
            refused = [a for a in server.requests if a.last_event_id is not None]
            assert len(refused) >= FORGET_AFTER  # (each round tries several times)
            with Store(config.database_path) as store:
                assert store.stream_position(wiki_id) is None
        finally:
            follower.close()


class _FakeWiki:
    """Only the API URL of a wiki that is never asked anything (the stream is all)."""

    api_url = "http://127.0.0.1:9/api.php"
