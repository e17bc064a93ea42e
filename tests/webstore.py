"""The store the web tests browse (test_web.py through Flask, test_web_browser.py in
Chromium): the bundled seed history, a page of hostile revisions (script tags, javascript:
links and event handlers in the title, headings, text, summaries and user names) and a page
on a wiki whose URL is a javascript: one."""

from __future__ import annotations

from pathlib import Path

from trackerutil import SEED_SNAPSHOT, SEED_TITLE

from tracker.fetch.archive import import_snapshot
from tracker.fetch.ingest import PageIngestor
from tracker.model import Revision, sha1_hex
from tracker.store import Store
from tracker.web.helpers import TitleConverter

SEED_WIKI = "everybodywiki-snapshot"
HOSTILE_TITLE = "<script>window.__pwned='title'</script> Evil & <b onmouseover=alert(1)>page</b>"
HOSTILE_USER = "<img src=x onerror=\"window.__pwned='user'\">Mallory<script>alert(1)</script>"
HOSTILE_SUMMARY = (
    "/* <svg onload=\"window.__pwned='autocomment'\"> */ "
    "<script>window.__pwned='summary'</script> "
    "<a href=\"javascript:window.__pwned='link'\">click</a>"
)
HOSTILE_HEADING = "<script>window.__pwned='heading'</script> Bad <i onclick=alert(1)>heading</i>"
HOSTILE_BODY = (
    "Some text <script>window.__pwned='body'</script> and "
    "[javascript:window.__pwned='extlink' a javascript link] and "
    "<a href=\"javascript:window.__pwned='a'\">an anchor</a> "
    "<img src=x onerror=\"window.__pwned='img'\"> "
    '"><iframe src="javascript:alert(1)"></iframe> marker phrase here.\n'
)


def revision(
    revid: int,
    parent: int,
    text: str,
    *,
    user: str = "Alice",
    comment: str = "edit",
    minutes: int = 0,
    **extra: object,
) -> Revision:
    """A revision of ``text`` as the wiki would send it (sha1 and size from the text)."""
    return Revision(
        revid=revid,
        parentid=parent,
        timestamp=f"2024-03-01T10:{minutes:02d}:00Z",
        user=user,
        userid=1,
        comment=comment,
        minor=False,
        size=len(text.encode()),
        sha1=sha1_hex(text),
        text=text,
        **extra,
    )  # type: ignore[arg-type]


def hostile_revisions() -> list[Revision]:
    first = f"Intro.\n\n== {HOSTILE_HEADING} ==\nPlain body.\n\n== Safe ==\nNothing.\n"
    second = (
        f"Intro <script>window.__pwned='lead'</script>.\n\n== {HOSTILE_HEADING} ==\n"
        f"{HOSTILE_BODY}\n== Safe ==\nNothing at all.\n"
    )
    return [
        revision(9001, 0, first, comment="create", minutes=1),
        revision(
            9002,
            9001,
            second,
            user=HOSTILE_USER,
            comment=HOSTILE_SUMMARY,
            minutes=2,
            tags=("<script>alert('tag')</script>",),
        ),
    ]


def build_store(directory: Path) -> dict:
    """The seed history, the hostile page, and a page on a wiki with a javascript: URL."""
    path = directory / "tracker.db"
    with Store(path) as store:
        import_snapshot(store, SEED_SNAPSHOT, SEED_WIKI)
        seed = store.find_page(SEED_TITLE)
        evil_wiki = store.wiki_id("evil", api_url="https://evil.example/w/api.php")
        with store.atomic():
            evil = store.upsert_page(evil_wiki, 666, HOSTILE_TITLE)
        PageIngestor(store, evil_wiki, evil["id"]).add(hostile_revisions())
        bad_wiki = store.wiki_id("badurl", api_url="javascript:alert(1)//x/api.php")
        with store.atomic():
            bad = store.upsert_page(bad_wiki, 777, "Bad URL page")
        PageIngestor(store, bad_wiki, bad["id"]).add([revision(9101, 0, "Hello.\n")])
    assert seed is not None
    ids = {"seed": seed["id"], "evil": evil["id"], "bad": bad["id"]}
    keys = {name: web_key(path, page_id) for name, page_id in ids.items()}
    return {"path": path, **ids, "keys": keys}


def web_key(path: Path, page_id: int) -> str:
    """How the web names a stored page in its URLs: "<wiki>/<title>" (/wiki/<key>,
    /diff/<key>, ...), made by the app's own converter."""
    with Store(path, readonly=True) as store:
        row = store.page_with_wiki(page_id)
    assert row is not None
    return f"{row['wiki']}/{TitleConverter(None).to_url(row['title'])}"
