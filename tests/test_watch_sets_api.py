"""The fetch layer of topic watches (issue 14) against a real MediaWiki: the members of each
kind of watch set, recent changes from a cursor (edits, log entries, categorize changes, a
cursor purged or deleted, a wiki that hides them), and revisions fetched 50 pages or ids
per request.

MediaWiki answers an edit before it writes the page's link tables (categories, links,
templates: LinksUpdate is a post-send deferred update, and the reply's Content-Length lets
the client go), and queues the job that records categorize changes after it answers too:
the tests wait for those (``wait_for_links``, ``run_jobs_until``), never for a time."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest
from mediawiki import MEDIAWIKI_DIR, TestWiki
from waits import wait_until

from tracker.config import Wiki
from tracker.errors import WikiError
from tracker.fetch.api import ApiSource
from tracker.fetch.snapshot import write_export
from tracker.fetch.source import ChangeFeed, Member, RcCursor
from tracker.model import sha1_hex


def api_source(wiki: TestWiki, **settings: object) -> ApiSource:
    return ApiSource(
        Wiki(name="test", api_url=wiki.api_url, contact="tests@example.org", **settings)
    )


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A title prefix of this test's own on the shared wiki."""
    return "Ws " + request.node.name.removeprefix("test_").replace("_", " ")


def titles(members: list[Member]) -> list[str]:
    return [member.title for member in members]


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message
    return message


LIMITS = {"categories": "cllimit", "links": "pllimit", "templates": "tllimit"}


def wait_for_links(wiki: TestWiki, prop: str, pages: list[str]) -> None:
    """Wait until each page shows its ``prop`` (categories, links or templates), which the
    wiki writes after answering the edit."""

    def written() -> bool:
        result = wiki.api("query", prop=prop, titles="|".join(pages), formatversion=2,
                          **{LIMITS[prop]: "max"})  # fmt: skip
        return all(page.get(prop) for page in result["query"]["pages"])

    wait_until(written, 30, f"the {prop} of {pages} to be written", every=0.05)


def categorize_changes(wiki: TestWiki) -> int:
    result = wiki.api("query", list="recentchanges", rctype="categorize", rclimit="max")
    return len(result["query"]["recentchanges"])


def run_jobs_until(wiki: TestWiki, count: int) -> None:
    """Run the wiki's jobs until it has recorded ``count`` categorize changes (the edits
    queue their jobs after answering)."""

    def recorded() -> bool:
        wiki.run_maintenance("runJobs.php")
        return categorize_changes(wiki) >= count

    wait_until(recorded, 60, f"{count} categorize changes", every=0.1)


def asked(source: ApiSource, call) -> tuple[object, int]:
    """What ``call()`` returns and the requests it made (the source checked before)."""
    source.check()
    before = source.requests
    value = call()
    return value, source.requests - before


# --- watch sets ---------------------------------------------------------------------------


def test_set_members_category_depth_and_cycle(mediawiki: TestWiki, name: str) -> None:
    root, sub1, sub2, sub3 = (f"{name} {n}" for n in ("root", "sub1", "sub2", "sub3"))
    mediawiki.edit(f"Category:{root}", f"[[Category:{sub2}]]")  # a cycle: root in sub2
    mediawiki.edit(f"Category:{sub1}", f"[[Category:{root}]]")
    mediawiki.edit(f"Category:{sub2}", f"[[Category:{sub1}]]")
    mediawiki.edit(f"Category:{sub3}", f"[[Category:{sub2}]]")
    mediawiki.edit(f"{name} a", f"[[Category:{root}]]")
    mediawiki.edit(f"{name} b", f"[[Category:{root}]] [[Category:{sub1}]]")  # in two
    mediawiki.edit(f"Talk:{name} c", f"[[Category:{sub1}]]")
    mediawiki.edit(f"{name} d", f"[[Category:{sub2}]]")
    mediawiki.edit(f"{name} e", f"[[Category:{sub3}]]")
    edited = [f"Category:{c}" for c in (root, sub1, sub2, sub3)]
    wait_for_links(mediawiki, "categories", [*edited, *(f"{name} {p}" for p in "abde")])
    wait_for_links(mediawiki, "categories", [f"Talk:{name} c"])
    source = api_source(mediawiki)

    assert titles(source.set_members("category", root)) == [f"{name} a", f"{name} b"]
    assert source.last_tree == [f"Category:{root}"]
    one = source.set_members("category", f"Category:{root}", depth=1)
    assert titles(one) == [f"Talk:{name} c", f"{name} a", f"{name} b"]  # sorted by title
    assert len({m.pageid for m in one}) == 3 and one[0].ns == 1
    two, requests = asked(source, lambda: source.set_members("category", root, depth=2))
    assert titles(two) == [f"Talk:{name} c", f"{name} a", f"{name} b", f"{name} d"]
    assert requests == 3  # one category a request, each read once
    assert source.last_tree == [f"Category:{n}" for n in (root, sub1, sub2)]
    # The cycle root -> sub1 -> sub2 -> root ends; sub3 is three levels down.
    deep, requests = asked(source, lambda: source.set_members("category", root, depth=10))
    assert titles(deep)[-1] == f"{name} e" and len(deep) == 5
    assert requests == 4
    only_talk = source.set_members("category", root, depth=2, namespace=1)
    assert titles(only_talk) == [f"Talk:{name} c"]
    assert source.set_members("category", f"{name} nothing here") == []


def test_set_members_limit(mediawiki: TestWiki, name: str) -> None:
    for n in range(4):
        mediawiki.edit(f"{name} {n}", f"[[Category:{name}]]")
    wait_for_links(mediawiki, "categories", [f"{name} {n}" for n in range(4)])
    source = api_source(mediawiki)
    assert len(source.set_members("category", name, limit=4)) == 4
    with pytest.raises(WikiError) as error:
        source.set_members("category", name, limit=3)
    assert one_line(error) == (
        f"test: the category set {name!r} has more than 3 pages (max_pages): raise "
        "max_pages or narrow the set (a smaller depth)"
    )
    with pytest.raises(WikiError, match="more than 1 pages"):
        source.set_members("prefix", name, limit=1)


def test_set_members_invalid_titles(mediawiki: TestWiki) -> None:
    source = api_source(mediawiki)
    for kind, target in (("category", "Bad<title"), ("transcluding", "A|b"), ("prefix", "<")):
        with pytest.raises(WikiError) as error:
            source.set_members(kind, target)
        assert "invalidtitle" in one_line(error)
    with pytest.raises(WikiError) as error:
        source.set_members("linked_from", "A<b")
    assert one_line(error) == "test: 'A<b' is not a valid title; check the watch"
    with pytest.raises(WikiError, match="unknown kind of watch set"):
        source.set_members("backlinks", "X")


def test_set_members_prefix(mediawiki: TestWiki, name: str) -> None:
    mediawiki.edit(f"{name}/one", "1")
    mediawiki.edit(f"{name}/two", "2")
    mediawiki.edit(f"{name}/moved", "3")
    mediawiki.move(f"{name}/moved", f"{name}/three")  # leaves a redirect: not a member
    mediawiki.edit(f"Help:{name}/four", "4")
    mediawiki.edit(f"{name}x", "not under the prefix")
    source = api_source(mediawiki)
    assert titles(source.set_members("prefix", f"{name}/")) == [
        f"{name}/one",
        f"{name}/three",
        f"{name}/two",
    ]
    assert titles(source.set_members("prefix", f"{name}/", namespace=12)) == [f"Help:{name}/four"]
    assert titles(source.set_members("prefix", f"Help:{name}/")) == [f"Help:{name}/four"]
    assert source.set_members("prefix", f"{name} nothing/") == []


def test_set_members_linked_from(mediawiki: TestWiki, name: str) -> None:
    mediawiki.edit(f"{name} x", "x")
    mediawiki.edit(f"Help:{name} y", "y")
    mediawiki.edit(f"{name} z", "z")
    mediawiki.edit(f"{name} to z", f"#REDIRECT [[{name} z]]")
    mediawiki.edit(
        f"{name} list",
        f"* [[{name} x]] and again [[{name} x|x]]\n* [[Help:{name} y]]\n* [[{name} to z]]\n"
        f"* [[{name} missing]]\n* [[Special:Random]]\n* [[:Category:{name} none]]\n"
        f"[[Category:{name} listed]]",
    )
    mediawiki.edit(f"{name} no links", "plain")
    wait_for_links(mediawiki, "links", [f"{name} list"])
    source = api_source(mediawiki)
    found = source.set_members("linked_from", f"{name} list")
    assert titles(found) == [f"Help:{name} y", f"{name} x", f"{name} z"]
    assert [m.ns for m in found] == [12, 0, 0]
    assert titles(source.set_members("linked_from", f"{name} list", namespace=12)) == [
        f"Help:{name} y"
    ]
    assert source.set_members("linked_from", f"{name} no links") == []
    with pytest.raises(WikiError) as error:
        source.set_members("linked_from", f"{name} no such list")
    assert one_line(error) == (f"'{name} no such list' does not exist on test; check the watch")


def test_set_members_transcluding(mediawiki: TestWiki, name: str) -> None:
    mediawiki.edit(f"Template:{name} box", "box")
    mediawiki.edit(f"Template:{name} wrapper", f"{{{{{name} box}}}}")
    mediawiki.edit(f"{name} direct", f"{{{{{name} box}}}}")
    mediawiki.edit(f"{name} through", f"{{{{{name} wrapper}}}}")  # transcludes box too
    mediawiki.edit(f"Talk:{name} talk", f"{{{{{name} box}}}}")
    mediawiki.edit(f"{name} plain", "none")
    users = [f"Template:{name} wrapper", f"{name} direct", f"{name} through", f"Talk:{name} talk"]
    wait_for_links(mediawiki, "templates", users)
    source = api_source(mediawiki)
    expected = [
        f"Talk:{name} talk",
        f"Template:{name} wrapper",
        f"{name} direct",
        f"{name} through",
    ]
    assert titles(source.set_members("transcluding", f"{name} box")) == expected
    assert titles(source.set_members("transcluding", f"Template:{name} box")) == expected
    assert titles(source.set_members("transcluding", f"{name} box", namespace=1)) == [
        f"Talk:{name} talk"
    ]
    assert titles(source.set_members("transcluding", f"Template:{name} wrapper")) == [
        f"{name} through"
    ]
    assert source.set_members("transcluding", f"{name} no such template") == []


def test_set_members_user(make_wiki) -> None:
    wiki = make_wiki()
    wiki.edit("Alpha", "1")
    wiki.edit("Alpha", "2")
    wiki.edit("Talk:Alpha", "talk")
    wiki.edit("Beta", "b")
    wiki.edit("Gone", "deleted later")
    wiki.delete("Gone")
    source = api_source(wiki)
    found = source.set_members("user", wiki.admin_user)
    assert titles(found) == ["Alpha", "Beta", "Talk:Alpha"]
    assert titles(source.set_members("user", wiki.admin_user, namespace=1)) == ["Talk:Alpha"]
    assert source.set_members("user", "Nobody of that name") == []
    with pytest.raises(WikiError, match="narrow the set \\(a namespace\\)"):
        source.set_members("user", wiki.admin_user, limit=2)


# --- recent changes -----------------------------------------------------------------------


def categorizing_wiki(make_wiki, settings: str = "") -> TestWiki:
    """A fresh wiki that records category membership changes (off by default in 1.39)."""
    wiki = make_wiki()
    with wiki.conf.open("a") as conf:
        conf.write("\n$wgRCWatchCategoryMembership = true;\n" + settings)
    return wiki


def test_recent_changes_from_a_cursor(make_wiki) -> None:
    wiki = categorizing_wiki(make_wiki)
    source = api_source(wiki)
    start, requests = asked(source, lambda: source.recent_changes(None))
    assert requests == 1
    assert start.changes == [] and not start.complete and start.cursor is not None
    first = wiki.revisions("Main Page")[0]["revid"]
    assert start.cursor.rcid == 1 and first == 1  # the install's Main Page

    fruit = wiki.edit("Category:Fruit", "fruits")
    wiki.edit("Apple", "An apple [[Category:Fruit]]")
    pear1 = wiki.edit("Pear", "A pear")
    pear2 = wiki.edit("Pear", "A pear [[Category:Fruit]]")
    pear3 = wiki.edit("Pear", "A pear, no longer a fruit")
    wiki.move("Apple", "Malus", reason="botany")
    wiki.delete("Malus")
    run_jobs_until(wiki, 2)  # categorize changes come from the job queue

    feed, requests = asked(source, lambda: source.recent_changes(start.cursor))
    assert requests == 1 and feed.complete
    seen = [(c.type, c.title, c.revid, c.logtype) for c in feed.changes]
    move = next(c for c in feed.changes if c.logtype == "move")
    # Apple's own changes went with its deletion (MediaWiki deletes a page's rows).
    assert [s for s in seen if s[0] != "categorize"] == [
        ("new", "Category:Fruit", fruit, None),
        ("new", "Pear", pear1, None),
        ("edit", "Pear", pear2, None),
        ("edit", "Pear", pear3, None),
        ("log", "Apple", move.revid, "move"),  # the move's null revision
        ("log", "Malus", None, "delete"),
    ]
    assert move.titles == ("Malus",) and move.logaction == "move" and move.pageid
    pear = next(c for c in feed.changes if c.type == "new" and c.title == "Pear")
    categorize = [c for c in feed.changes if c.type == "categorize"]
    assert [(c.title, c.member, c.added, c.pageid, c.revid) for c in categorize] == [
        ("Category:Fruit", "Pear", True, pear.pageid, pear2),
        ("Category:Fruit", "Pear", False, pear.pageid, pear3),
    ]
    # The job recorded the categorize changes after the deletion, with their edits' times:
    # the cursor is the change recorded last.
    delete = next(c for c in feed.changes if c.logtype == "delete")
    assert [c.rcid for c in categorize] == [9, 10] and delete.rcid == 8
    assert categorize[-1].timestamp <= delete.timestamp
    assert feed.cursor == RcCursor(categorize[-1].timestamp, 10)

    # A cycle without changes: one request, nothing, the same cursor.
    quiet, requests = asked(source, lambda: source.recent_changes(feed.cursor))
    assert requests == 1 and quiet == ChangeFeed([], True, feed.cursor)
    # A change recorded after the cursor's (often in the same second) comes after it.
    later = wiki.edit("Pear", "Pear again")
    after = source.recent_changes(feed.cursor)
    assert after.complete and [c.revid for c in after.changes] == [later]


def test_recent_changes_recorded_late(make_wiki) -> None:
    """A categorize change the job queue records after the cursor was taken, with the time
    of the edit before the cursor's change, is still read."""
    wiki = categorizing_wiki(make_wiki)
    source = api_source(wiki)
    wiki.edit("Category:Late", "late")
    added = wiki.edit("Member", "[[Category:Late]]")
    after = wiki.edit("Other", "edited after")
    cursor = source.recent_changes(None).cursor
    assert cursor is not None and source.recent_changes(cursor).changes == []
    run_jobs_until(wiki, 1)
    feed = source.recent_changes(cursor)
    assert feed.complete
    assert [(c.type, c.member, c.added, c.revid) for c in feed.changes] == [
        ("categorize", "Member", True, added)
    ]
    assert feed.changes[0].timestamp <= cursor.timestamp and added < after
    assert source.recent_changes(feed.cursor) == ChangeFeed([], True, feed.cursor)


def test_recent_changes_cursor_deleted_with_its_page(make_wiki) -> None:
    wiki = make_wiki()
    wiki.edit("Kept", "kept")
    wiki.edit("Doomed", "doomed")
    source = api_source(wiki)
    cursor = source.recent_changes(None).cursor
    assert cursor is not None
    wiki.delete("Doomed")
    kept = wiki.edit("Kept", "kept, edited")
    feed = source.recent_changes(cursor)
    assert not feed.complete  # the cursor's change went with its page
    assert [(c.type, c.title, c.revid) for c in feed.changes] == [
        ("log", "Doomed", None),
        ("edit", "Kept", kept),
    ]
    assert feed.cursor is not None and feed.cursor.rcid == feed.changes[-1].rcid
    assert source.recent_changes(feed.cursor).complete


def purge_recent_changes(wiki: TestWiki) -> None:
    """Run MediaWiki's own purge of expired recent changes (RecentChangesUpdateJob, which
    edits queue now and then) once, with the wiki's $wgRCMaxAge."""
    subprocess.run(
        ["php", str(MEDIAWIKI_DIR / "maintenance" / "eval.php"), "--conf", str(wiki.conf)],
        input="RecentChangesUpdateJob::newPurgeJob()->run();\n",
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env={**os.environ, "MW_CONFIG_FILE": str(wiki.conf)},
    )


def test_recent_changes_cursor_purged(make_wiki) -> None:
    wiki = make_wiki()
    wiki.edit("Old news", "old")
    source = api_source(wiki)
    cursor = source.recent_changes(None).cursor
    assert cursor is not None and source.recent_changes(cursor).complete
    # Retention of nothing older than now: the changes of earlier seconds go at the purge.
    with wiki.conf.open("a") as conf:
        conf.write("\n$wgRCMaxAge = 0;\n")

    def purged() -> bool:
        purge_recent_changes(wiki)
        return not source.recent_changes(cursor).complete

    wait_until(purged, 30, "the cursor's change to be purged", every=0.2)
    fresh = wiki.edit("New news", "new")
    feed = source.recent_changes(cursor)
    assert not feed.complete
    assert [(c.type, c.revid) for c in feed.changes] == [("new", fresh)]
    assert feed.cursor == RcCursor(feed.changes[0].timestamp, feed.changes[0].rcid)
    assert source.recent_changes(feed.cursor).complete


def test_recent_changes_hidden_by_the_wiki(make_wiki, caplog: pytest.LogCaptureFixture) -> None:
    wiki = make_wiki()
    wiki.edit("Page", "text")
    source = api_source(wiki)
    cursor = source.recent_changes(None).cursor
    assert cursor is not None
    with wiki.conf.open("a") as conf:
        conf.write("\n$wgAPIListModules['recentchanges'] = 'ApiQueryDisabled';\n")
    with caplog.at_level(logging.WARNING, logger="tracker.fetch.lists"):
        assert source.recent_changes(cursor) == ChangeFeed([], False, None)
        assert source.recent_changes(None) == ChangeFeed([], False, None)
    warnings = [r.getMessage() for r in caplog.records if r.name == "tracker.fetch.lists"]
    assert len(warnings) == 1 and "does not show its recent changes" in warnings[0]
    with wiki.down(), pytest.raises(WikiError) as error:  # a failure is not a refusal
        api_source(wiki, max_retries=0).recent_changes(cursor)
    assert "not reachable" in one_line(error)


# --- revisions in batches -----------------------------------------------------------------


def import_pages(wiki: TestWiki, path: Path, texts: dict[str, str]) -> dict[str, int]:
    """One revision per page, imported (importDump.php): their page ids by title."""
    rows = [
        (
            {"title": title, "ns": 0, "pageid": n + 1},
            [
                (
                    {
                        "revid": n + 1,
                        "timestamp": "2024-01-01T00:00:00Z",
                        "user": "Importer",
                        "comment": "imported",
                        "sha1": sha1_hex(text),
                    },
                    text,
                )
            ],
        )
        for n, (title, text) in enumerate(texts.items())
    ]
    with path.open("w", encoding="utf-8") as out:
        write_export(out, rows)
    wiki.import_xml(path)
    ids: dict[str, int] = {}
    names = list(texts)
    for start in range(0, len(names), 50):
        result = wiki.site().api(
            "query", "GET", titles="|".join(names[start : start + 50]), formatversion=2
        )
        ids.update({p["title"]: p["pageid"] for p in result["query"]["pages"]})
    return ids


def test_latest_revisions_and_by_id_50_a_request(make_wiki, tmp_path: Path) -> None:
    wiki = make_wiki()
    texts = {f"Bulk {n:03}": f"== Page {n} ==\nText of page {n}." for n in range(120)}
    ids = import_pages(wiki, tmp_path / "bulk.xml", texts)
    wiki.edit("Bulk 007", "A newer text")
    source = api_source(wiki)
    latest, requests = asked(source, lambda: source.latest_revisions([*ids.values(), 99999]))
    assert requests == 3
    assert set(latest) == set(ids.values())  # the missing page left out
    assert {title: latest[pageid].text for title, pageid in ids.items()} == {
        **texts,
        "Bulk 007": "A newer text",
    }
    assert latest[ids["Bulk 007"]].parentid == latest[ids["Bulk 006"]].revid + 1
    # The same revisions by their ids: 50 a request too, one a page.
    revids = [rev.revid for rev in latest.values()]
    found, requests = asked(source, lambda: source.revisions_by_id(revids))
    assert requests == 3 and sorted(found) == sorted(ids.values())
    assert [revs[0] for revs in found.values()] == [latest[pageid] for pageid in found]


def test_latest_revisions_past_the_result_size_cap(make_wiki, tmp_path: Path) -> None:
    """MediaWiki's $wgAPIMaxResultSize cuts a reply of many pages: the rest is asked for;
    a page whose latest text does not fit alone comes without it, marked too large."""
    wiki = make_wiki()
    with wiki.conf.open("a") as conf:
        conf.write("\n$wgAPIMaxResultSize = 40000;\n")
    texts = {f"Wide {n:02}": f"{n} " + "x" * 9000 for n in range(12)}
    texts["Wide huge"] = "y" * 60000
    ids = import_pages(wiki, tmp_path / "wide.xml", texts)
    source = api_source(wiki)
    latest, requests = asked(source, lambda: source.latest_revisions(ids.values()))
    assert set(latest) == set(ids.values())
    huge = latest.pop(ids["Wide huge"])
    assert huge.toolarge and huge.text is None and huge.size == 60000
    assert {rev.text for rev in latest.values()} == {
        t for n, t in texts.items() if n != "Wide huge"
    }
    assert 4 <= requests <= 12  # about 4 texts a reply, the huge one twice more


def test_revisions_by_id_across_pages(mediawiki: TestWiki, name: str) -> None:
    a1 = mediawiki.edit(f"{name} a", "a1")
    b1 = mediawiki.edit(f"{name} b", "b1")
    a2 = mediawiki.edit(f"{name} a", "a2")
    b2 = mediawiki.edit(f"{name} b", "b2")
    gone = mediawiki.edit(f"{name} gone", "deleted")
    mediawiki.delete(f"{name} gone")
    hidden = mediawiki.edit(f"{name} a", "a3, hidden")
    mediawiki.edit(f"{name} a", "a4")
    mediawiki.hide_revision(hidden)
    source = api_source(mediawiki)
    found, requests = asked(
        source, lambda: source.revisions_by_id([b2, a2, a1, b1, gone, hidden, 10**9])
    )
    assert requests == 1
    pages = {revs[0].text[0]: revs for revs in found.values()}
    assert [r.revid for r in pages["a"]] == [a1, a2, hidden]
    assert [r.text for r in pages["a"]] == ["a1", "a2", None]
    assert pages["a"][2].texthidden
    assert [(r.revid, r.text) for r in pages["b"]] == [(b1, "b1"), (b2, "b2")]
    assert len(found) == 2  # the deleted revision and the unknown id left out


# --- templates used -----------------------------------------------------------------------


def test_templates_of(mediawiki: TestWiki, name: str) -> None:
    mediawiki.edit(f"Template:{name} inner", "inner")
    mediawiki.edit(f"Template:{name} outer", f"outer {{{{{name} inner}}}}")
    mediawiki.edit(f"{name} user", f"{{{{{name} outer}}}} {{{{{name} missing}}}}")
    mediawiki.edit(f"{name} plain", "no templates")
    mediawiki.edit(f"{name} other", f"{{{{{name} inner}}}}")
    users = [f"Template:{name} outer", f"{name} user", f"{name} other"]
    wait_for_links(mediawiki, "templates", users)
    source = api_source(mediawiki)
    ids = {p.title: p.pageid for p in source.page_status(titles=[f"{name} {t}" for t in (
        "user", "plain", "other")]) if p.title and p.pageid}  # fmt: skip
    used, requests = asked(source, lambda: source.templates_of([*ids.values(), 10**9]))
    assert requests == 2  # the templates of 3 pages, then the ids of the templates
    assert {title: titles(used[pageid]) for title, pageid in ids.items()} == {
        f"{name} user": [f"Template:{name} inner", f"Template:{name} outer"],
        f"{name} plain": [],
        f"{name} other": [f"Template:{name} inner"],
    }
    inner = used[ids[f"{name} other"]][0]
    assert inner.ns == 10 and inner == used[ids[f"{name} user"]][0]
    assert source.templates_of([]) == {}
