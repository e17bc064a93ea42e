"""Replies of lists and recent changes read by hand-made examples (issue 14): what MediaWiki
sends is read into records; what no MediaWiki sends (a field missing, of another type) is
one line of WikiError, never a traceback. The fault server (tests/faultproxy.py) plays the
wiki where a request is needed; nothing sits behind it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from faultproxy import FaultProxy

from tracker.config import Wiki
from tracker.errors import WikiError
from tracker.fetch.api import ApiSource
from tracker.fetch.replies import (
    ENGLISH_CATEGORIZE,
    CategorizeComments,
    list_members,
    recent_change_from,
)
from tracker.fetch.snapshot import SnapshotSource, write_export
from tracker.fetch.source import ChangeFeed, Member, RcCursor, RecentChange
from tracker.model import sha1_hex

SITEINFO = {
    "batchcomplete": True,
    "query": {"general": {"generator": "MediaWiki 1.39.0", "sitename": "Fake"}},
}
EDIT = {
    "type": "edit",
    "ns": 0,
    "title": "Page",
    "pageid": 7,
    "revid": 12,
    "old_revid": 11,
    "rcid": 30,
    "user": "Someone",
    "timestamp": "2026-01-02T03:04:05Z",
    "comment": "typo",
}


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


Replies = Callable[[dict], dict]


@pytest.fixture
def wiki() -> Iterator[Callable[[Replies], ApiSource]]:
    """wiki(replies) -> an ApiSource whose requests (after siteinfo) ``replies`` answers."""
    with FaultProxy("127.0.0.1:9") as server:

        def make(replies: Replies) -> ApiSource:
            server.mode(
                "reply",
                reply=lambda params: (
                    SITEINFO if "siteinfo" in params.get("meta", "") else replies(params)
                ),
            )
            return ApiSource(
                Wiki(name="fake", api_url=server.api_url, contact="t@example.org", max_retries=0)
            )

        yield make


# --- the parsers --------------------------------------------------------------------------


def test_list_members_reads_entries() -> None:
    reply = {"query": {"allpages": [{"pageid": 3, "ns": 4, "title": "Project:A"}]}}
    assert list_members(reply, "allpages") == [Member(3, "Project:A", 4)]
    assert list_members({"batchcomplete": True}, "allpages") == []


@pytest.mark.parametrize(
    "reply",
    [
        {"query": {"allpages": [{"ns": 0, "title": "No id"}]}},
        {"query": {"allpages": [{"pageid": "3", "ns": 0, "title": "Id as text"}]}},
        {"query": {"allpages": [{"pageid": 3, "ns": 0}]}},
        {"query": {"allpages": {"3": {"pageid": 3, "title": "A"}}}},
        {"query": {"allpages": ["A"]}},
        {"query": ["allpages"]},
    ],
)
def test_list_members_malformed(reply: dict) -> None:
    with pytest.raises(WikiError) as error:
        list_members(reply, "allpages")
    assert one_line(error).startswith("malformed ")


def test_recent_change_from_an_edit_and_log_entries() -> None:
    assert recent_change_from(EDIT) == RecentChange(
        30, "edit", "Page", 7, 0, "2026-01-02T03:04:05Z", 12, 11, "Someone"
    )
    move = {
        **EDIT,
        "type": "log",
        "revid": 0,
        "old_revid": 0,
        "logtype": "move",
        "logaction": "move",
        "logparams": {"target_ns": 0, "target_title": "Elsewhere", "suppressredirect": False},
    }
    read = recent_change_from(move)
    assert (read.revid, read.old_revid, read.logtype, read.titles) == (
        None,
        None,
        "move",
        ("Elsewhere",),
    )
    hidden = {"type": "log", "rcid": 31, "timestamp": "2026-01-02T03:04:05Z", "ns": 0}
    hidden |= {"actionhidden": True, "userhidden": True}
    assert recent_change_from(hidden) == RecentChange(
        31, "log", "", None, 0, "2026-01-02T03:04:05Z"
    )


@pytest.mark.parametrize(
    "change",
    [
        {key: value for key, value in EDIT.items() if key != "rcid"},
        {key: value for key, value in EDIT.items() if key != "timestamp"},
        {key: value for key, value in EDIT.items() if key != "type"},
        {**EDIT, "rcid": "30"},
        {**EDIT, "rcid": True},
        {**EDIT, "pageid": [7]},
        {**EDIT, "timestamp": "yesterday"},
    ],
)
def test_recent_change_from_malformed(change: dict) -> None:
    with pytest.raises(WikiError) as error:
        recent_change_from(change)
    assert one_line(error).startswith("malformed recent change in the API reply")


def test_categorize_comments() -> None:
    english = CategorizeComments.of(ENGLISH_CATEGORIZE)
    assert english.read("[[:Pear]] added to category") == ("Pear", True)
    assert english.read("[[:File:A b.png]] removed from category") == ("File:A b.png", False)
    bundled = (
        "[[:Template:Box]] added to category, [[Special:WhatLinksHere/Template:Box|this "
        "page is included within other pages]]"
    )
    assert english.read(bundled) == ("Template:Box", True)
    assert english.read("[[:Pear]] added to category, and more") is None
    german = CategorizeComments.of(
        {
            "recentchanges-page-added-to-category": "[[:$1]] wurde zur Kategorie hinzugefügt",
            "recentchanges-page-removed-from-category": "[[:$1]] aus der Kategorie entfernt",
        }
    )
    assert german.read("[[:Birne]] aus der Kategorie entfernt") == ("Birne", False)


# --- through a made-up wiki -----------------------------------------------------------------


def recent(*changes: dict, cont: dict | None = None) -> dict:
    reply: dict = {"batchcomplete": True, "query": {"recentchanges": list(changes)}}
    if cont:
        reply["continue"] = cont
    return reply


def test_recent_changes_through_continuations(wiki) -> None:
    asked: list[dict] = []
    first = {**EDIT, "rcid": 30}
    second = {**EDIT, "rcid": 31, "timestamp": "2026-01-02T03:04:06Z", "revid": 13}
    before = {**EDIT, "rcid": 29, "timestamp": "2026-01-02T03:04:05Z"}

    def replies(params: dict) -> dict:
        asked.append(params)
        if "rccontinue" not in params:
            return recent(before, first, cont={"rccontinue": "x|31", "continue": "-||"})
        return recent(second)

    source = wiki(replies)
    feed = source.recent_changes(RcCursor("2026-01-02T03:04:05Z", 30))
    assert feed.complete and [c.rcid for c in feed.changes] == [31]
    assert feed.cursor == RcCursor("2026-01-02T03:04:06Z", 31)
    # Read from ten minutes before the cursor, every type but external.
    assert asked[0]["rcstart"] == "2026-01-02T02:54:05Z" and asked[0]["rcdir"] == "newer"
    assert asked[0]["rctype"] == "edit|new|log|categorize" and len(asked) == 2


def test_recent_changes_categorize_in_the_wikis_language(wiki) -> None:
    categorize = {
        **EDIT,
        "type": "categorize",
        "ns": 14,
        "title": "Kategorie:Obst",
        "rcid": 31,
        "comment": "[[:Birne]] wurde zur Kategorie hinzugefügt",
    }
    messages = {
        "batchcomplete": True,
        "query": {
            "allmessages": [
                {
                    "name": "recentchanges-page-added-to-category",
                    "content": "[[:$1]] wurde zur Kategorie hinzugefügt",
                },
                {"name": "recentchanges-page-removed-from-category", "missing": True},
            ]
        },
    }
    asked: list[dict] = []

    def replies(params: dict) -> dict:
        asked.append(params)
        return messages if "allmessages" in params.get("meta", "") else recent(EDIT, categorize)

    source = wiki(replies)
    for _ in range(2):
        feed = source.recent_changes(RcCursor(EDIT["timestamp"], 30))
        change = feed.changes[0]
        assert (change.title, change.pageid, change.member, change.added) == (
            "Kategorie:Obst",
            7,
            "Birne",
            True,
        )
    # The wiki's messages asked for once (mwclient adds meta=userinfo to every request).
    assert ["allmessages" in p.get("meta", "") for p in asked] == [False, True, False]
    assert asked[1]["uselang"] == "content"


def test_recent_changes_unreadable_comment(wiki) -> None:
    categorize = {**EDIT, "type": "categorize", "rcid": 31, "commenthidden": True}
    del categorize["comment"]
    source = wiki(lambda params: recent(EDIT, categorize))
    change = source.recent_changes(RcCursor(EDIT["timestamp"], 30)).changes[0]
    assert change.type == "categorize" and change.member is None and change.added is None


@pytest.mark.parametrize(
    "reply",
    [
        {"error": {"code": "permissiondenied", "info": "You may not."}},
        {"batchcomplete": True, "warnings": {"main": {"warnings": "Unrecognized value"}}},
    ],
)
def test_recent_changes_hidden(wiki, reply: dict, caplog: pytest.LogCaptureFixture) -> None:
    source = wiki(lambda params: reply)
    with caplog.at_level(logging.WARNING, logger="tracker.fetch.lists"):
        for cursor in (None, RcCursor(EDIT["timestamp"], 30), None):
            assert source.recent_changes(cursor) == ChangeFeed([], False, None)
    assert len([r for r in caplog.records if r.name == "tracker.fetch.lists"]) == 1


@pytest.mark.parametrize(
    "reply",
    [
        {"query": {"recentchanges": {"30": EDIT}}},
        {"query": {"recentchanges": [{**EDIT, "rcid": None}]}},
        {"query": {"recentchanges": [EDIT]}, "continue": ["rccontinue"]},
    ],
)
def test_recent_changes_malformed(wiki, reply: dict) -> None:
    source = wiki(lambda params: reply)
    with pytest.raises(WikiError) as error:
        source.recent_changes(RcCursor(EDIT["timestamp"], 30))
    assert one_line(error).startswith("malformed ")


@pytest.mark.parametrize(
    ("kind", "reply"),
    [
        ("category", {"query": {"categorymembers": [{"pageid": 1, "ns": 0}]}}),
        ("user", {"query": {"usercontribs": [{"title": "A", "ns": 0}]}}),
        ("linked_from", {"query": {"pages": [{"title": "A", "ns": 0, "pageid": None}]}}),
    ],
)
def test_set_members_malformed(wiki, kind: str, reply: dict) -> None:
    source = wiki(lambda params: reply)
    with pytest.raises(WikiError) as error:
        source.set_members(kind, "Target")
    assert one_line(error).startswith("malformed ")


def test_revisions_malformed(wiki) -> None:
    revision = {"revid": 5, "parentid": 0, "timestamp": EDIT["timestamp"], "size": 1}
    for pages in (
        [{"title": "No id", "revisions": [revision]}],
        [{"pageid": 3, "revisions": ["not a revision"]}],
        [{"pageid": 3, "revisions": [{"revid": 5}]}],  # no timestamp
        {"3": {"pageid": 3, "revisions": [revision]}},
    ):
        source = wiki(lambda params, pages=pages: {"query": {"pages": pages}})
        with pytest.raises(WikiError) as error:
            source.latest_revisions([3])
        assert "\n" not in one_line(error)


def test_templates_malformed(wiki) -> None:
    for page in ({"pageid": 3, "title": "A", "templates": "x"}, {"pageid": 3, "title": "A",
                 "templates": [{"ns": 10}]}):  # fmt: skip
        source = wiki(lambda params, page=page: {"query": {"pages": [page]}})
        with pytest.raises(WikiError) as error:
            source.templates_of([3])
        assert one_line(error).startswith("malformed template")


# --- an export -----------------------------------------------------------------------------


def test_snapshot_watch_sets(tmp_path: Path) -> None:
    def page(pageid: int, title: str, ns: int, *texts: str, redirect: str = "") -> tuple:
        revisions = [
            (
                {
                    "revid": pageid * 10 + n,
                    "parentid": pageid * 10 + n - 1 if n else 0,
                    "timestamp": f"2024-01-0{n + 1}T00:00:00Z",
                    "user": "Someone",
                    "userid": 1,
                    "sha1": sha1_hex(text),
                },
                text,
            )
            for n, text in enumerate(texts)
        ]
        return {"title": title, "ns": ns, "pageid": pageid, "redirect_to": redirect}, revisions

    path = tmp_path / "export.xml"
    with path.open("w", encoding="utf-8") as out:
        write_export(
            out,
            [
                page(1, "Proj/a", 0, "a1", "a2"),
                page(2, "Proj/b", 0, "b1"),
                page(3, "Proj/r", 0, "#REDIRECT [[Proj/a]]", redirect="Proj/a"),
                page(4, "Help:Proj/c", 12, "c1"),
                page(5, "Other", 0, "o1"),
            ],
        )
    source = SnapshotSource("snap", path)
    assert source.set_members("prefix", "Proj/") == [Member(1, "Proj/a"), Member(2, "Proj/b")]
    assert source.set_members("prefix", "Proj/", namespace=12) == [Member(4, "Help:Proj/c", 12)]
    assert source.set_members("prefix", "Help:Proj/") == [Member(4, "Help:Proj/c", 12)]
    with pytest.raises(WikiError) as error:
        source.set_members("prefix", "Proj/", limit=1)
    assert "more than 1 pages (max_pages)" in one_line(error)
    for kind in ("category", "linked_from", "transcluding", "user"):
        with pytest.raises(WikiError) as error:
            source.set_members(kind, "X")
        assert one_line(error).startswith(f"{kind} watches need a wiki's API (api_url)")
    assert source.recent_changes(None) == ChangeFeed([], False, None)
    latest = source.latest_revisions([1, 2, 99])
    assert {pageid: rev.text for pageid, rev in latest.items()} == {1: "a2", 2: "b1"}
    found = source.revisions_by_id([11, 10, 20, 999])
    assert {pageid: [r.text for r in revs] for pageid, revs in found.items()} == {
        1: ["a1", "a2"],
        2: ["b1"],
    }
    assert source.templates_of([1, 2]) == {}
