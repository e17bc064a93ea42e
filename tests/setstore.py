"""The store the watch set pages are browsed over (test_web_sets.py through Flask,
test_web_sets_browser.py in Chromium), filled through the Store's own methods as the poller
fills it: a category set read twice (a page joined, one left), its last reading failed with
a hostile error; a set whose target, members and error are hostile; the templates of a
set's pages and of a page (cascade); a set of 1,200 pages (more than one page of the list)."""

from __future__ import annotations

from pathlib import Path

from webstore import HOSTILE_TITLE, revision

from tracker.fetch.ingest import PageIngestor
from tracker.store import Store

WIKI = "local"
API = "http://127.0.0.1:9/api.php"
DAY1, DAY2 = "2026-12-01T10:00:00Z", "2026-12-02T10:00:00Z"
HOSTILE_ERROR = "<script>window.__pwned='error'</script> 503 <b onmouseover=alert(1)>x</b>"
HOSTILE_KEY = f"category:{HOSTILE_TITLE}"
SLASHED = "Sub/page with ? and # and %"
BIG = 1200


def build_set_store(directory: Path) -> dict:
    """The database (``path``) and the keys of its sets."""
    path = directory / "tracker.db"
    with Store(path) as store:
        wiki = store.wiki_id(WIKI, API)
        # The pages the category's members are (one with a revision stored).
        stored = {}
        for pageid, title in ((11, "Alpha"), (12, "Beta"), (13, HOSTILE_TITLE), (14, SLASHED)):
            with store.atomic():
                stored[title] = store.upsert_page(wiki, pageid, title)
            store.watch(wiki, title)
        PageIngestor(store, wiki, stored["Alpha"]["id"]).add([revision(501, 0, "Alpha text.\n")])

        physics = store.watch_set(wiki, "category:Physics", "category", "Physics")["id"]
        first = [(11, "Alpha", 0), (12, "Beta", 0), (13, HOSTILE_TITLE, 0)]
        store.replace_members(physics, first, DAY1, via="first")
        store.mark_set_refreshed(physics, DAY1, None)
        now = [(11, "Alpha", 0), (13, HOSTILE_TITLE, 0), (14, SLASHED, 0), (15, "Unfetched", 0)]
        store.replace_members(physics, now, DAY2)
        store.join_set(physics, (16, "Told by recent changes", 0), DAY2, "recentchanges")
        store.mark_set_refreshed(physics, DAY2, None)
        store.mark_set_refreshed(physics, None, HOSTILE_ERROR)

        evil = store.watch_set(wiki, HOSTILE_KEY, "category", HOSTILE_TITLE)["id"]
        store.replace_members(evil, [(13, HOSTILE_TITLE, 0)], DAY1, via="first")
        store.mark_set_refreshed(evil, DAY1, None)

        templates = store.watch_set(
            wiki, "cascade:category:Physics", "cascade", "category:Physics"
        )["id"]
        store.replace_members(templates, [(31, "Template:Navbox", 10)], DAY1, via="first")
        store.mark_set_refreshed(templates, DAY1, None)
        page_templates = store.watch_set(wiki, "cascade:Alpha", "cascade", "Alpha")["id"]
        store.replace_members(page_templates, [(32, "Module:Citation", 828)], DAY1, via="first")
        store.mark_set_refreshed(page_templates, DAY1, None)

        big = store.watch_set(wiki, "prefix:Big ", "prefix", "Big ")["id"]
        members = [(1000 + n, f"Big {n:04d}", 0) for n in range(BIG)]
        store.replace_members(big, members, DAY1, via="first")
        store.mark_set_refreshed(big, DAY1, None)

        store.watch_set(wiki, "user:Nobody yet", "user", "Nobody yet")  # never read
    return {"path": path, "wiki": WIKI}
