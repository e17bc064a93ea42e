"""Watch sets in the history browser (issue 14, item 5) through Flask's test client: the
sets on the pages list, a set's page (its pages with when each joined, those that left and
when, its last reading and error), cascade sets, the list in pages, hostile values escaped;
test_web_sets_browser.py shows the same store in a real Chromium."""

from __future__ import annotations

import re
import sqlite3
from html import unescape
from pathlib import Path
from urllib.parse import quote

import pytest
from markupsafe import escape
from setstore import BIG, DAY1, DAY2, HOSTILE_ERROR, HOSTILE_KEY, SLASHED, build_set_store
from webstore import HOSTILE_TITLE

from tracker.fetch.ingest import PageIngestor
from tracker.model import Revision, web_title
from tracker.store import Store
from tracker.web import create_app


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return build_set_store(tmp_path_factory.mktemp("sets"))


@pytest.fixture(scope="module")
def client(stored: dict):
    return create_app(stored["path"]).test_client()


def html_of(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def scripts(html: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", html)


def rows(html: str, table: str) -> list[str]:
    """The rows of a table (its class), tags dropped, one string each."""
    match = re.search(rf'<table class="plain {table}">(.*?)</table>', html, re.S)
    assert match is not None, f"no table {table}"
    body = match.group(1).split("<tbody>")[1]
    return [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_index_lists_the_sets_with_links(client) -> None:
    html = html_of(client, "/")
    assert '<h2 id="sets-head">Watch sets</h2>' in html
    for key in ("category:Physics", "cascade:category:Physics", "prefix:Big_", "user:Nobody_yet"):
        assert f'href="/sets/local/{key}"' in html, key
    assert f'href="{escape("/sets/local/" + web_title(HOSTILE_KEY))}"' in html
    assert ">1200<" in html  # the big set's pages now
    # The failed reading, as text.
    assert "The last reading failed: &lt;script&gt;window.__pwned=" in html
    assert scripts(html) == ['<script src="/static/app.js" defer>']


def test_set_page_members_joined_left_and_error(client) -> None:
    html = html_of(client, "/sets/local/category:Physics")
    assert '<h1>category:Physics <span class="sub">watch set</span></h1>' in html
    assert 'The pages in category\n<span class="target">Physics</span>, on local.' in html
    assert "<div><dt>pages now</dt><dd>5</dd></div>" in html
    assert "<div><dt>pages that left</dt><dd>1</dd></div>" in html
    assert f'<time datetime="{DAY2}">2026-12-02 10:00</time>' in html
    assert "The last reading of its list failed: &lt;script&gt;" in html
    members = rows(html, "members")
    assert members == [  # by title
        "&lt;script&gt;window.__pwned=&#39;title&#39;&lt;/script&gt; Evil &amp; &lt;b "
        "onmouseover=alert(1)&gt;page&lt;/b&gt; 2026-12-01 10:00 first reading",
        "Alpha 2026-12-01 10:00 first reading",
        f"{SLASHED} 2026-12-02 10:00",
        "Told by recent changes (not stored yet) 2026-12-02 10:00 recent changes",
        "Unfetched (not stored yet) 2026-12-02 10:00",
    ]
    assert rows(html, "left") == ["Beta 2026-12-01 10:00 first reading 2026-12-02 10:00"]
    assert '<a href="/#sets-head">watch sets</a>' in html
    # Each stored member links to its history, by wiki and title.
    assert 'href="/wiki/local/Alpha"' in html and 'href="/wiki/local/Beta"' in html
    assert f'href="/wiki/local/{web_title(SLASHED)}"' in html
    assert scripts(html) == ['<script src="/static/app.js" defer>']
    assert HOSTILE_ERROR not in html and HOSTILE_TITLE not in html


def test_set_page_links_answer(client) -> None:
    html = html_of(client, "/sets/local/category:Physics")
    links = sorted({unescape(href) for href in re.findall(r'href="(/wiki/[^"]+)"', html)})
    assert len(links) == 4  # Alpha, Beta (left), the hostile page, the slashed one
    for href in links:
        assert client.get(href).status_code == 200, href


def test_hostile_set_page_is_text(client) -> None:
    html = html_of(client, f"/sets/local/{web_title(HOSTILE_KEY)}")
    assert "<h1>category:&lt;script&gt;window.__pwned=&#39;title&#39;&lt;/script&gt;" in html
    assert scripts(html) == ['<script src="/static/app.js" defer>']
    assert "onmouseover=alert(1)>" not in html


def test_cascade_sets_link_to_their_watch(client) -> None:
    html = html_of(client, "/sets/local/cascade:category:Physics")
    assert "The templates and modules used by" in html
    assert '<a href="/sets/local/category:Physics">category:Physics</a>' in html
    assert rows(html, "members") == [
        "Template:Navbox (not stored yet) 2026-12-01 10:00 first reading"
    ]
    html = html_of(client, "/sets/local/cascade:Alpha")
    assert '<a href="/wiki/local/Alpha">Alpha</a>' in html


def test_set_keys_spelled_as_in_urls(client) -> None:
    # Underscores are spaces in the target; "linked_from"-like kinds keep theirs.
    assert "<dd>1200</dd>" in html_of(client, "/sets/local/prefix:Big_")
    assert "<dd>1200</dd>" in html_of(client, "/sets/local/prefix:Big%20")
    html = html_of(client, "/sets/local/user:Nobody_yet")
    assert "Its list has not been read yet." in html and "<dd>never</dd>" in html
    assert "<dt>pages now</dt><dd>–</dd>" in html
    assert "None has left it." in html


def test_big_set_in_pages(client) -> None:
    html = html_of(client, "/sets/local/prefix:Big_")
    members = rows(html, "members")
    assert len(members) == 500 and members[0].startswith("Big 0000")
    assert "<span>1–500 of 1200</span>" in html
    assert 'href="/sets/local/prefix:Big_?page=2" rel="next"' in html
    last = html_of(client, "/sets/local/prefix:Big_?page=3")
    assert rows(last, "members")[-1].startswith(f"Big {BIG - 1:04d}")
    assert "<span>1001–1200 of 1200</span>" in last and 'rel="next"' not in last
    assert "there is no page 4" in html_of(client, "/sets/local/prefix:Big_?page=4", 404)
    assert "must be a whole number" in html_of(client, "/sets/local/prefix:Big_?page=x", 400)


@pytest.mark.parametrize(
    "url",
    [
        "/sets/local/category:Nothing",
        "/sets/nowhere/category:Physics",
        "/sets/local/Alpha",  # a page, not a set
        "/sets/local/" + quote("category:<script>alert(1)</script>"),
    ],
)
def test_unknown_set_is_404(client, url: str) -> None:
    html = html_of(client, url, 404)
    assert "There is no stored watch set" in html
    assert "<script>alert" not in html


def test_app_over_a_config_lists_sets_of_a_wiki_without_pages(tmp_path: Path) -> None:
    """A set's wiki may have no stored page yet: the config names it."""
    from tracker.store import Store

    config = tmp_path / "config.toml"
    config.write_text(
        '[storage]\ndatabase = "tracker.db"\n\n[[wikis]]\nname = "other"\n'
        'api_url = "http://127.0.0.1:9/api.php"\n\n[[watches]]\nwiki = "other"\n'
        'category = "Empty"\n',
        encoding="utf-8",
    )
    with Store(tmp_path / "tracker.db") as store:
        wiki = store.wiki_id("other", "http://127.0.0.1:9/api.php")
        found = store.watch_set(wiki, "category:Empty", "category", "Empty")
        store.mark_set_refreshed(found["id"], DAY1, None)
    client = create_app(config).test_client()
    assert 'href="/sets/other/category:Empty"' in html_of(client, "/")
    assert "No pages are in this set now." in html_of(client, "/sets/other/category:Empty")


def test_database_older_than_watch_sets(tmp_path: Path) -> None:
    """A database the web reads without migrating it (read-only) may predate watch sets."""
    from tracker.store import Store

    path = tmp_path / "old.db"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.executescript("DROP TABLE set_members; DROP TABLE watch_sets;")
    client = create_app(path).test_client()
    assert "Watch sets" not in html_of(client, "/")
    html_of(client, "/sets/local/category:Physics", 404)


def test_pages_list_shows_the_pages_changed_last_when_there_are_many(tmp_path, monkeypatch) -> None:
    """A set of thousands of pages makes thousands of stored pages: the pages list shows
    those changed last (INDEX_PAGES) and says how many more there are."""
    from tracker.web import pages as web_pages

    monkeypatch.setattr(web_pages, "INDEX_PAGES", 2)
    path = tmp_path / "many.db"
    with Store(path) as db:
        wiki_id = db.wiki_id("w", "http://127.0.0.1:1/api.php")
        for number, stamp in (
            (1, "2026-01-01T00:00:00Z"),
            (2, "2026-03-01T00:00:00Z"),
            (3, "2026-02-01T00:00:00Z"),
        ):
            page = db.upsert_page(wiki_id, number, f"Page {number}")
            PageIngestor(db, wiki_id, page["id"]).add(
                [
                    Revision(
                        revid=number,
                        parentid=0,
                        timestamp=stamp,
                        user="U",
                        userid=1,
                        comment="",
                        minor=False,
                        size=5,
                        sha1=None,
                        text=f"Text {number}",
                    )
                ]
            )
    client = create_app(path).test_client()
    html = client.get("/").get_data(as_text=True)
    assert "Page 2" in html and "Page 3" in html and "Page 1" not in html
    assert "1 more are on their watch sets" in html
