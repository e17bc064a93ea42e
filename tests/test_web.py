"""The history browser through Flask's test client: every view, bad input, escaping, CSP.

The store holds the bundled seed history plus a page of hostile revisions (script tags,
javascript: links and event handlers in the title, headings, text, summaries and user
names); test_web_browser.py drives the same store in a real Chromium.
"""

from __future__ import annotations

import re
import sqlite3
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from trackerutil import SEED_TITLE, write_config
from waits import wait_until
from webstore import HOSTILE_TITLE, HOSTILE_USER, build_store, revision, web_key

from tracker.fetch.ingest import PageIngestor
from tracker.model import Revision
from tracker.store import Store, schema
from tracker.store.search import TOKENIZER, Indexer, index_new_blobs, paragraphs
from tracker.text.worddiff import word_diff
from tracker.web import create_app, search
from tracker.web.diffrender import overlay


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return build_store(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def client(stored: dict):
    app = create_app(stored["path"])
    return app.test_client()


def seed_revids(stored: dict) -> list[int]:
    with Store(stored["path"], readonly=True) as store:
        return [r["revid"] for r in store.revisions(stored["seed"])]


def text_of(response) -> str:
    """The visible text of a page, tags removed and entities decoded."""
    parser = _Text()
    parser.feed(response.get_data(as_text=True))
    return " ".join(" ".join(parser.parts).split())


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


class _Audit(HTMLParser):
    """Collects what could run: script elements, event-handler attributes, URL attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict] = []
        self.handlers: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self.styles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts.append(values)
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in ("href", "src", "action", "formaction", "xlink:href"):
                self.urls.append(value or "")
            if name == "style":
                self.styles.append(value or "")


def audit(response) -> _Audit:
    parser = _Audit()
    parser.feed(response.get_data(as_text=True))
    return parser


# --- the views -----------------------------------------------------------------------------


def test_pages_list_shows_every_page_with_activity(client, stored: dict) -> None:
    response = client.get("/")
    assert response.status_code == 200
    text = text_of(response)
    assert SEED_TITLE in text and "Bad URL page" in text
    assert "revisions 16" in text
    assert f'href="/wiki/{stored["keys"]["seed"]}"' in response.get_data(as_text=True)
    assert "<svg" in response.get_data(as_text=True)  # the activity chart
    assert "edits per week" in text


def test_history_lists_revisions_newest_first_with_labels(client, stored: dict) -> None:
    revids = seed_revids(stored)
    response = client.get(f"/wiki/{stored['keys']['seed']}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    positions = [html.index(f"#{revid}<") for revid in revids]
    assert positions == sorted(positions, reverse=True)
    text = text_of(response)
    assert "Shahid.Karachi" in text and "RevertBot" in text
    assert "revert to 1844630" in text and "reverted" in text
    assert "NATO supply routes" in text  # the section label of the last revision
    assert 'name="from"' in html and 'name="to"' in html


def test_history_paginates(client, stored: dict) -> None:
    first = client.get(f"/wiki/{stored['keys']['seed']}?per=10")
    second = client.get(f"/wiki/{stored['keys']['seed']}?per=10&page=2")
    assert first.status_code == second.status_code == 200
    assert "page 2 of 2" in text_of(second)
    assert "#1843012" in second.get_data(as_text=True)
    assert "#1843012" not in first.get_data(as_text=True)
    assert client.get(f"/wiki/{stored['keys']['seed']}?per=10&page=3").status_code == 404


@pytest.mark.parametrize(
    "query", ["page=0", "page=x", "page=-1", "per=5", "per=abc", "page=99999999999999999999999"]
)
def test_history_bad_params_are_400(client, stored: dict, query: str) -> None:
    response = client.get(f"/wiki/{stored['keys']['seed']}?{query}")
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)


def test_diff_of_a_pair_shows_sections_and_highlights(client, stored: dict) -> None:
    response = client.get(f"/diff/{stored['keys']['seed']}?from=1844188&to=1844397")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<ins" in html and "<del" in html
    dels = " ".join(re.findall(r"<del[^>]*>(.*?)</del>", html, re.S))
    ins = " ".join(re.findall(r"<ins[^>]*>(.*?)</ins>", html, re.S))
    assert "Ambassador" in dels and "Permanent Representative" in ins
    assert "Changed sections" in text_of(response)
    assert 'data-mode="inline"' in html and "mode=side" in html


def test_diff_far_apart_lists_kinds(client, stored: dict) -> None:
    revids = seed_revids(stored)
    response = client.get(f"/diff/{stored['keys']['seed']}?from={revids[0]}&to={revids[-1]}")
    assert response.status_code == 200
    text = text_of(response)
    assert "15 edits" in text
    assert "edited" in text


def test_diff_defaults_to_latest_against_parent(client, stored: dict) -> None:
    response = client.get(f"/diff/{stored['keys']['seed']}")
    assert response.status_code == 200
    text = text_of(response)
    assert "1845517 → 1845803" in text
    assert "removed" in text and "NATO supply routes" in text


def test_diff_section_renamed_shows_old_path(client, stored: dict) -> None:
    response = client.get(f"/diff/{stored['keys']['seed']}?to=1843702")
    text = text_of(response)
    assert "renamed" in text
    assert "was: Military relations and understanding › Cooperation in Bosnia" in text


def test_diff_reversed_pair_redirects_to_the_right_order(client, stored: dict) -> None:
    response = client.get(
        f"/diff/{stored['keys']['seed']}?from=1845803&to=1843012&mode=side&page_id=3"
    )
    assert response.status_code == 302
    assert "from=1843012" in response.headers["Location"]
    assert "to=1845803" in response.headers["Location"]
    assert "mode=side" in response.headers["Location"]


@pytest.mark.parametrize(
    "query,code",
    [
        ("from=abc&to=1845803", 400),
        ("to=1.5", 400),
        ("mode=sideways", 400),
        ("to=", 200),
        ("from=1&to=1845803", 404),
        ("to=9001", 404),  # 9001 is a revision of another page
        ("page_id=5&junk=%3Cscript%3E", 200),  # unknown parameters are ignored
    ],
)
def test_diff_bad_params(client, stored: dict, query: str, code: int) -> None:
    response = client.get(f"/diff/{stored['keys']['seed']}?{query}")
    assert response.status_code == code
    assert "Traceback" not in response.get_data(as_text=True)


def test_revision_view_shows_section_tree_and_text(client, stored: dict) -> None:
    response = client.get(f"/rev/{stored['keys']['seed']}/1845803")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Military relations and understanding" in html
    assert 'href="#s-' in html and 'id="s-' in html
    assert "{{Infobox bilateral relations" in html
    assert "/section/" in html


def test_section_history_follows_renames_and_moves(client, stored: dict) -> None:
    # The section that starts as "Afghanistan", is renamed, then moved under another.
    with Store(stored["path"], readonly=True) as store:
        row = store.one(
            "SELECT section_id FROM section_changes sc JOIN revisions r "
            "ON r.id = sc.rev_id WHERE r.revid = 1844188 AND sc.kinds LIKE "
            "'%moved%'"
        )
    assert row is not None
    response = client.get(f"/section/{stored['keys']['seed']}/{row['section_id']}")
    assert response.status_code == 200
    text = text_of(response)
    assert "Stability in Afghanistan and Central Asia" in text
    assert "Afghanistan → Stability in Afghanistan and Central Asia" in text
    assert "renamed" in text and "moved" in text
    assert "It is in the latest revision" in text


def test_search_finds_when_a_sentence_came_and_went(client, stored: dict) -> None:
    response = client.get("/search", query_string={"q": "Ground Lines of Communication"})
    assert response.status_code == 200
    text = text_of(response)
    assert SEED_TITLE in text
    assert "Appeared in #1843127" in text
    assert "removed in #1845803" in text and "Shahid.Karachi" in text
    assert "not in the latest" in text
    assert "<mark>" in response.get_data(as_text=True)


def test_search_phrase_is_not_all_words(client) -> None:
    phrase = text_of(client.get("/search", query_string={"q": "routes supply NATO"}))
    words = text_of(
        client.get("/search", query_string={"q": "routes supply NATO", "match": "words"})
    )
    assert "No stored revision contains" in phrase
    assert SEED_TITLE in words


@pytest.mark.parametrize("q", ['" OR *', "NEAR(a b)", "text:foo", "a AND", '"""', "^x -y"])
def test_search_query_syntax_is_text(client, q: str) -> None:
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "query,code",
    [
        ("q=" + "x" * 501, 400),
        ("q=a&match=regex", 400),
        ("q=a&page_id=abc", 400),
        ("q=a&page_id=424242", 404),
        ("q=%21%21%21", 200),
        ("", 200),
    ],
)
def test_search_bad_params(client, query: str, code: int) -> None:
    response = client.get(f"/search?{query}")
    assert response.status_code == code


def test_search_index_keeps_up_with_new_revisions(tmp_path: Path) -> None:
    paths = build_store(tmp_path)
    app = create_app(paths["path"])
    client = app.test_client()
    assert "No stored revision" in text_of(client.get("/search?q=zanzibar+quokka"))
    # A daemon adds a revision while the app runs: the next search indexes it.
    with Store(paths["path"]) as store:
        page = store.page(paths["bad"])
        assert page is not None
        PageIngestor(store, page["wiki_id"], page["id"]).add(
            [revision(9102, 9101, "Hello.\n\n== New ==\nA zanzibar quokka.\n", minutes=5)]
        )
    text = text_of(client.get("/search?q=zanzibar+quokka"))
    assert "Appeared in #9102" in text and "still there" in text


def test_search_works_when_the_database_cannot_be_written(tmp_path: Path, monkeypatch) -> None:
    paths = build_store(tmp_path)

    def read_only(indexer: Indexer) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{indexer.path}?mode=ro", uri=True, isolation_level=None)

    monkeypatch.setattr(Indexer, "connect", read_only)
    client = create_app(paths["path"]).test_client()
    response = client.get("/search?q=marker+phrase")
    assert response.status_code == 200
    # The index exists (a migration made it) but nothing could be indexed into it.
    assert "section texts are not searchable yet" in text_of(response)
    assert "readonly" in text_of(response)
    assert client.get("/").status_code == 200


def test_index_new_blobs_indexes_each_paragraph_once(tmp_path: Path) -> None:
    paths = build_store(tmp_path)
    with Store(paths["path"]) as store:
        first = index_new_blobs(store)
        again = index_new_blobs(store)
        blobs = store.scalar("SELECT count(*) FROM blobs")
        texts = [store.blob(row["id"]) for row in store.query("SELECT id FROM blobs")]
        distinct = set().union(*map(paragraphs, texts))
        indexed = store.scalar(f"SELECT count(*) FROM {schema.FTS_TABLE}")
        uses = store.scalar("SELECT count(*) FROM search_uses")
        # Contentless: the index keeps no copy of the texts, which stay in blobs only.
        hits, kept = store.db.execute(
            f"SELECT count(*), count(text) FROM {schema.FTS_TABLE} "
            f"WHERE {schema.FTS_TABLE} MATCH 'nato'"
        ).fetchone()
        assert hits > 0 and kept == 0
    assert first == blobs and again == 0
    assert indexed == len(distinct) < uses == sum(len(paragraphs(t)) for t in texts)


def test_search_highlights_across_markup_and_punctuation(client) -> None:
    html = client.get("/search?q=Pakistan+NATO+relations").get_data(as_text=True)
    assert "<mark>Pakistan-NATO relations</mark>" in html
    html = client.get("/search?q=marker+phrase").get_data(as_text=True)
    assert "<mark>marker phrase</mark> here." in html
    assert "&lt;iframe" in html and "<iframe" not in html


def test_search_migration_through_the_store(tmp_path: Path) -> None:
    paths = build_store(tmp_path)
    with Store(paths["path"]) as store:
        applied = [r["name"] for r in store.query("SELECT name FROM _migrations")]
        assert "030_search_index" in applied
        assert schema.FTS_TABLE in store.db.table_names()
        assert index_new_blobs(store) == store.scalar("SELECT count(*) FROM blobs")
    client = create_app(paths["path"]).test_client()
    assert "Appeared in #1843127" in text_of(client.get("/search?q=ground+lines+of+communication"))


def _fts5(texts: list[str]) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize='{schema.TOKENIZE}')")
    conn.execute("CREATE VIRTUAL TABLE terms USING fts5vocab(t, instance)")
    conn.executemany("INSERT INTO t (rowid, x) VALUES (?, ?)", enumerate(texts, 1))
    return conn


# Characters where SQLite's Unicode tables and Python's disagree, or FTS5 is unusual: accents
# (precomposed, combining, a combining one alone), ß, dotted İ, long s, ligatures, digits of
# other scripts, private use, Devanagari signs, Arabic hamza, markup and sentence ends.
_TRICKY = [
    *"aZq7 .:;,-[]{}|='_éÉøØßİſµǠﬁ½²٣Σςिक्षآاı",
    "\u2013",
    "\n",
    "\t",
    "\ue000",
    "\U000f0000",
    "\u0301",
]
# Lone surrogates (Cs) cannot come from a wiki: its text arrives as UTF-8.
_TRICKY_TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(_TRICKY), st.characters(exclude_categories=("Cs",))),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_TRICKY_TEXT)
def test_tokenizer_is_the_index_tokenizer(text: str) -> None:
    conn = _fts5([text])
    fts = [t for (t,) in conn.execute("SELECT term FROM terms ORDER BY offset")]
    assert [folded for _, _, folded in TOKENIZER.tokens(text)] == fts


_SNIPPET_WORDS = st.sampled_from(
    [
        "alpha",
        "Beta",
        "gamma.",
        "delta:",
        "[[epsilon]]",
        "Élan",
        "elan",
        "zeta,",
        "\n",
        "==",
        "eta",
        "theta",
        "alpha",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_SNIPPET_WORDS, min_size=1, max_size=80).map(" ".join),
    st.lists(
        st.sampled_from(["alpha", "beta", "elan", "gamma delta", "eta theta", "zeta alpha"]),
        min_size=1,
        max_size=3,
    ),
    st.booleans(),
    st.sampled_from([4, 8, 32]),
)
def test_snippet_is_the_fts5_snippet(
    text: str, words: list[str], all_words: bool, tokens: int
) -> None:
    """What the contentful index's snippet() gave, the contentless one gives from Python."""
    query = search.phrase_query(" ".join(words), all_words)
    assert query is not None
    row = (
        _fts5([text])
        .execute(
            "SELECT snippet(t, 0, '\ue000', '\ue001', '…', ?) FROM t WHERE t MATCH ?",
            [tokens, query],
        )
        .fetchone()
    )
    pieces = search.snippet(text, search.query_phrases(query), tokens)
    ours = "".join(f"\ue000{t}\ue001" if hit else t for t, hit in pieces)
    assert ours == (row[0] if row else ours)
    if row:
        assert any(hit for _, hit in pieces)


_WORDS = st.sampled_from(["alpha", "beta", "gamma.", "delta", "epsilon!", "\n", "zeta,"])
_TEXTS = st.lists(_WORDS, max_size=40).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_TEXTS, _TEXTS)
def test_overlay_rebuilds_both_sides(old: str, new: str) -> None:
    """The highlighted diff shows exactly the old text on one side and the new on the other."""
    pieces = overlay(old, word_diff(old, new))
    assert pieces is not None
    assert "".join(t for k, t in pieces if k in ("equal", "delete", "moved_delete")) == old
    assert "".join(t for k, t in pieces if k in ("equal", "insert", "moved_insert")) == new


def test_overlay_refuses_operations_that_do_not_fit() -> None:
    assert overlay("abc", [{"type": "delete", "at": 1, "text": "zz"}]) is None
    assert overlay("abc", [{"type": "insert", "at": 9, "text": "x"}]) is None


# --- URLs by wiki and title ----------------------------------------------------------------


def test_page_urls_name_the_wiki_and_the_title(client, stored: dict) -> None:
    key = stored["keys"]["seed"]
    assert key == "everybodywiki-snapshot/Pakistan%E2%80%93NATO_relations"
    # The title as `tracker history` takes it, with spaces or underscores, means the page.
    for title in ("Pakistan–NATO_relations", "Pakistan–NATO relations"):
        response = client.get(f"/wiki/everybodywiki-snapshot/{quote(title)}")
        assert response.status_code == 200
        assert f"<h1>{SEED_TITLE}" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "old,new",
    [
        ("/page/{id}", "/wiki/{key}"),
        ("/page/{id}?per=10&page=2", "/wiki/{key}?per=10&page=2"),
        (
            "/diff/{id}?from=1844188&to=1844397&mode=side",
            "/diff/{key}?from=1844188&to=1844397&mode=side",
        ),
        ("/rev/{id}/1845803", "/rev/{key}/1845803"),
        ("/section/{id}/1843012.0", "/section/{key}/1843012.0"),
        ("/feeds/page/{id}.atom", "/feeds/wiki/{key}.atom"),
        (
            "/search?q=NATO&page_id={id}",
            "/search?wiki=everybodywiki-snapshot&title=Pakistan%E2%80%93NATO+relations&q=NATO",
        ),
    ],
)
def test_old_urls_by_row_id_redirect_permanently(client, stored: dict, old: str, new: str) -> None:
    response = client.get(old.format(id=stored["seed"]))
    assert response.status_code == 308
    assert response.headers["Location"] == new.format(key=stored["keys"]["seed"])
    assert client.get(response.headers["Location"]).status_code == 200


def test_every_link_uses_wiki_and_title(client, stored: dict) -> None:
    seed = stored["keys"]["seed"]
    for url in ("/", f"/wiki/{seed}", f"/diff/{seed}", f"/rev/{seed}/1845803", "/search?q=NATO"):
        links = audit(client.get(url)).urls
        assert links, url
        for link in links:
            assert not re.match(r"/(page|diff|rev|section|feeds/page)/\d", link), (url, link)


def test_titles_with_slashes_spaces_and_unicode(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    titles = ["Talk:Zürich/Archiv 1", "A//b", "50% off? #1", "/lead slash", "Ends.atom"]
    with Store(path) as store:
        wiki = store.wiki_id("de wiki", api_url="https://de.example/w/api.php")
        for pageid, title in enumerate(titles, 1):
            with store.atomic():
                page = store.upsert_page(wiki, pageid, title)
            PageIngestor(store, wiki, page["id"]).add([revision(pageid * 10, 0, f"{title}\n")])
        with store.atomic():  # a page renamed: its former title redirects to the new one
            store.upsert_page(wiki, 1, "Talk:Zürich/Archive 1")
    client = create_app(path).test_client()
    for pageid, title in enumerate(titles, 1):
        with Store(path, readonly=True) as store:
            found = store.find_page(titles[0] if pageid == 1 else title, "de wiki")
        assert found is not None
        key = web_key(path, found["id"])
        current = "Talk:Zürich/Archive 1" if pageid == 1 else title
        for url in (f"/wiki/{key}", f"/rev/{key}/{pageid * 10}", f"/feeds/wiki/{key}.atom"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert current in text_of(response) or current in response.get_data(as_text=True)
    former = client.get("/wiki/de%20wiki/Talk:Z%C3%BCrich/Archiv_1?per=10")
    assert former.status_code == 308
    assert former.headers["Location"] == "/wiki/de%20wiki/Talk:Z%C3%BCrich/Archive_1?per=10"


# --- not found, bad input, never a traceback ---------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/page/424242",
        "/page/abc",
        "/rev/424242/1",
        "/rev/{seed}/1",
        "/rev/{seed}/99999999999999999999999",
        "/section/{seed}/no-such-section",
        "/section/424242/x",
        "/diff/424242",
        "/feeds/page/424242.atom",
        "/wiki/no-such-wiki/Pakistan–NATO_relations",
        "/wiki/everybodywiki-snapshot/No_such_page",
        "/diff/everybodywiki-snapshot/No_such_page",
        "/feeds/wiki/everybodywiki-snapshot/No_such_page.atom",
        "/digests/424242",
        "/feeds/subscription/nobody.atom",
        "/no/such/url",
        "/static/nothing.css",
    ],
)
def test_unknown_ids_are_a_404_page(client, stored: dict, url: str) -> None:
    response = client.get(url.format(seed=stored["keys"]["seed"]))
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "404" in html and "Traceback" not in html
    assert response.headers["Content-Security-Policy"]


JUNK = [
    "page=%00",
    "page=1e3",
    "from=-1",
    "to=%ff%fe",
    "per=",
    "q=%00%01",
    "mode=",
    "match=",
    "page_id=0",
    "subscription=%3Cscript%3E",
    "page=1&page=2",
    "to=1&to=x",
    "from=" + "9" * 40,
    "q=" + "%F0%9F%92%A5" * 100,
]


def test_no_query_string_gives_a_server_error(client, stored: dict) -> None:
    seed = stored["keys"]["seed"]
    for url in (
        "/",
        f"/wiki/{seed}",
        f"/diff/{seed}",
        f"/rev/{seed}/1845803",
        f"/section/{seed}/1843012.0",
        "/search",
        "/digests",
        f"/feeds/wiki/{seed}.atom",
        f"/page/{stored['seed']}",
    ):
        for junk in JUNK:
            response = client.get(f"{url}?{junk}")
            assert response.status_code in (200, 302, 308, 400, 404), (url, junk)
            assert "Traceback" not in response.get_data(as_text=True)


def test_an_unexpected_error_is_a_page_without_traceback(stored: dict, monkeypatch) -> None:
    app = create_app(stored["path"])

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr("tracker.web.pages.page_summary", boom)
    response = app.test_client().get("/")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Traceback" not in html and "secret internals" not in html
    assert response.headers["Content-Security-Policy"]


def test_a_hidden_text_cannot_be_diffed_but_says_why(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with Store(path) as store:
        wiki = store.wiki_id("w", api_url="https://w.example/api.php")
        with store.atomic():
            page = store.upsert_page(wiki, 1, "Hidden")
        hidden = Revision(
            revid=2,
            parentid=1,
            timestamp="2024-03-01T10:01:00Z",
            user="B",
            userid=2,
            comment="x",
            minor=False,
            size=3,
            sha1=None,
            text=None,
            texthidden=True,
        )
        PageIngestor(store, wiki, page["id"]).add([revision(1, 0, "One.\n"), hidden])
    client = create_app(path).test_client()
    key = web_key(path, page["id"])
    response = client.get(f"/diff/{key}?from=1&to=2")
    assert response.status_code == 409
    assert "hidden" in text_of(response)
    assert client.get(f"/rev/{key}/2").status_code == 200


# --- security ------------------------------------------------------------------------------


def _all_urls(stored: dict) -> list[str]:
    seed, evil, bad = (stored["keys"][name] for name in ("seed", "evil", "bad"))
    return [
        "/",
        f"/wiki/{seed}",
        f"/wiki/{evil}",
        f"/wiki/{bad}",
        f"/diff/{evil}",
        f"/diff/{evil}?mode=side",
        f"/rev/{evil}/9002",
        f"/rev/{evil}/9001",
        f"/diff/{seed}",
        "/search?q=marker+phrase",
        "/search?q=Mallory",
        f"/search?q=x&wiki=evil&title={quote(HOSTILE_TITLE)}",
        "/digests",
        f"/feeds/wiki/{evil}.atom",
        "/page/424242",
        f"/wiki/{seed}?page=x",
        "/static/style.css",
        "/static/app.js",
    ] + [f"/section/{evil}/{sid}" for sid in _section_ids(stored)]


def _section_ids(stored: dict) -> list[str]:
    with Store(stored["path"], readonly=True) as store:
        latest = store.latest_revision(stored["evil"])
        assert latest is not None
        return store.section_ids(latest["id"])


def test_every_response_has_a_csp_without_inline_script(client, stored: dict) -> None:
    for url in _all_urls(stored):
        response = client.get(url)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in csp, url
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_hostile_content_is_escaped_everywhere(client, stored: dict) -> None:
    for url in _all_urls(stored):
        response = client.get(url)
        if response.mimetype != "text/html":
            continue
        found = audit(response)
        assert found.handlers == [], url
        assert [s.get("src") for s in found.scripts] == ["/static/app.js"], url
        assert found.styles == [], url
        for link in found.urls:
            assert not link.strip().lower().startswith(("javascript:", "data:", "vbscript:")), (
                url,
                link,
            )
        html = response.get_data(as_text=True)
        assert "<script>window" not in html and "<img src=x" not in html, url


def test_hostile_values_show_as_text(client, stored: dict) -> None:
    history = text_of(client.get(f"/wiki/{stored['keys']['evil']}"))
    assert HOSTILE_TITLE in history
    assert HOSTILE_USER in history
    assert "<script>window.__pwned='summary'</script>" in history
    revision = text_of(client.get(f"/rev/{stored['keys']['evil']}/9002"))
    assert "<script>window.__pwned='body'</script>" in revision
    assert "<script>window.__pwned='heading'</script> Bad" in revision
    diff = text_of(client.get(f"/diff/{stored['keys']['evil']}?view=wikitext"))
    assert "window.__pwned='img'" in diff


def test_links_to_the_wiki_are_http_only(client, stored: dict) -> None:
    evil = client.get(f"/wiki/{stored['keys']['evil']}").get_data(as_text=True)
    assert "https://evil.example/w/index.php?title=Special%3AContributions%2F%3Cimg" in evil
    bad = client.get(f"/wiki/{stored['keys']['bad']}").get_data(as_text=True)
    assert "alert(1)" not in bad and "javascript" not in bad.lower()


def test_works_while_a_writer_holds_the_database(client, stored: dict) -> None:
    writer = sqlite3.connect(stored["path"], isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE watches SET status = status")
        for url in (
            "/",
            f"/wiki/{stored['keys']['seed']}",
            f"/diff/{stored['keys']['seed']}",
            "/search?q=NATO",
        ):
            assert client.get(url).status_code == 200, url
    finally:
        writer.execute("ROLLBACK")
        writer.close()


# --- feeds and digests -----------------------------------------------------------------------


def test_page_feed_is_valid_atom(client, stored: dict) -> None:
    response = client.get(f"/feeds/wiki/{stored['keys']['seed']}.atom")
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    assert len(feed.entries) == 16
    assert feed.entries[0].link.endswith(f"/diff/{stored['keys']['seed']}?to=1845803")
    assert feed.entries[0].id.startswith("urn:uuid:")
    again = feedparser.parse(client.get(f"/feeds/wiki/{stored['keys']['seed']}.atom").get_data())
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]  # stable ids


def test_page_feed_escapes_hostile_values(client, stored: dict) -> None:
    body = client.get(f"/feeds/wiki/{stored['keys']['evil']}.atom").get_data(as_text=True)
    assert "<script" not in body and "<img" not in body
    feed = feedparser.parse(body)
    assert not feed.bozo
    assert "<script>" in feed.entries[0].title  # shown as text by readers


def _record_digest(path: Path, page_id: int, subject: str, html: str) -> int:
    from tracker.store import digests as digest_store
    from tracker.store.digests import PageWindow

    with Store(path) as store:
        return digest_store.record_digest(
            store,
            subscription="everything",
            kind="changes",
            created_at="2024-03-02T08:00:00Z",
            subject=subject,
            message_id=f"<{len(subject)}@wiki-tracker.test>",
            model={"subscription": "everything"},
            outputs={"html": html, "html_body": html, "markdown": "**changes** <script>x"},
            windows=[PageWindow(page_id, None, 1845803, 16)],
            channels=[("file", "file")],
        )


def test_digest_archive_shows_delivered_digests(tmp_path: Path) -> None:
    paths = build_store(tmp_path)
    hostile = "<script>alert('subject')</script> digest"
    html = "<html><body><h1 style='color:red'>Digest</h1><script>alert(1)</script></body></html>"
    digest_id = _record_digest(paths["path"], paths["seed"], hostile, html)
    client = create_app(paths["path"]).test_client()
    listing = client.get("/digests")
    assert listing.status_code == 200 and hostile in text_of(listing)
    page = client.get(f"/digests/{digest_id}")
    assert page.status_code == 200
    assert f'src="/digests/{digest_id}/html"' in page.get_data(as_text=True)
    assert "<script>alert('subject')" not in page.get_data(as_text=True)
    assert "**changes** <script>x" in text_of(page)
    frame = client.get(f"/digests/{digest_id}/html")
    assert frame.get_data(as_text=True) == html  # as delivered
    csp = frame.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    feed = client.get("/feeds/subscription/everything.atom")
    assert feed.status_code == 200
    parsed = feedparser.parse(feed.get_data())
    assert not parsed.bozo and len(parsed.entries) == 1
    assert parsed.entries[0].link.endswith(f"/digests/{digest_id}")


def test_digest_pages_without_digest_tables(client) -> None:
    assert client.get("/digests").status_code == 200
    assert client.get("/digests/1").status_code == 404


# --- tracker serve ---------------------------------------------------------------------------


def test_serve_command_reports_a_taken_port_in_one_line(tmp_path: Path, stored: dict) -> None:
    import socket

    from click.testing import CliRunner

    from tracker.cli import main

    config = write_config(tmp_path, database=str(stored["path"]))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["--config", str(config), "serve", "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert "Traceback" not in result.output


def test_serve_runs_waitress_on_loopback_until_sigterm(tmp_path: Path, stored: dict) -> None:
    import signal
    import subprocess
    import sys
    import urllib.request

    config = write_config(tmp_path, database=str(stored["path"]))
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(config), "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        match = re.search(r"at (http://127\.0\.0\.1:\d+/)", line)
        assert match, line

        def home() -> tuple | None:
            try:
                with urllib.request.urlopen(match.group(1), timeout=5) as response:
                    return (
                        response.status,
                        response.headers["Content-Security-Policy"],
                        response.read().decode(),
                    )
            except OSError:
                return None  # not listening yet

        status, csp, body = wait_until(home, 60, "the server answering")
        assert status == 200
        assert "default-src 'self'" in csp
        assert SEED_TITLE in body
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_diff_shows_page_facts_and_new_change_types_escaped(stored: dict, monkeypatch) -> None:
    from tracker.web import diffview

    real = diffview.revision_pair_diff

    def with_page(*args, **kwargs):
        result = real(*args, **kwargs)
        result["page"] = [
            {"type": "category_added", "category": "<b>Cat</b>"},
            {"type": "interlanguage_added", "lang": "nl", "title": "<script>x</script>"},
            {"type": "defaultsort_changed", "old": None, "new": "Key"},
            {"type": "switch_added", "switch": "__NOTOC__"},
        ]
        result["sections"][0]["kinds"] = ["edited"]
        result["sections"][0]["changes"] = [
            {"type": "heading_level", "old": 2, "new": 3},
            {"type": "link_moved", "target": "<i>X</i>", "from": "s1", "from_path": ["A"]},
            {"type": "file_added", "file": "<img src=x>.jpg"},
        ]
        return result

    monkeypatch.setattr(diffview, "revision_pair_diff", with_page)
    response = (
        create_app(stored["path"])
        .test_client()
        .get(f"/diff/{stored['keys']['seed']}?from=1844188&to=1844397&view=wikitext")
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<script>x" not in html and "<b>Cat" not in html and "<img src=x>" not in html
    text = text_of(response)
    for shown in (
        "The page",
        "category added <b>Cat</b>",
        "language link added nl:<script>x",
        "default sort key",
        "behaviour switch added __NOTOC__",
        "heading level 2 → 3",
        "link moved from A <i>X</i>",
        "file added <img src=x>.jpg",
    ):
        assert shown in " ".join(text.split()), shown


# --- edit summaries ----------------------------------------------------------------------------

SUMMARY = "/* Early life */ see [[Foo bar|x]]s and [[#Top]] <b>bold</b>"


def _summary_store(tmp_path: Path) -> tuple[Path, int]:
    path = tmp_path / "s.db"
    with Store(path) as store:
        wiki = store.wiki_id("w", api_url="https://w.example/api.php")
        with store.atomic():
            page = store.upsert_page(wiki, 1, "Some page")
        PageIngestor(store, wiki, page["id"]).add(
            [
                revision(1, 0, "One.\n", comment="create"),
                revision(2, 1, "One.\n\n== Early life ==\nTwo.\n", comment=SUMMARY, minutes=1),
            ]
        )
    return path, page["id"]


def test_summaries_link_sections_and_pages_to_the_wiki(tmp_path: Path) -> None:
    path, page_id = _summary_store(tmp_path)
    client = create_app(path).test_client()
    section = (
        '<a class="summary-section" href="https://w.example/index.php?title=Some_page#Early_life">'
    )
    link = '<a class="summary-link" href="https://w.example/index.php?title=Foo_bar">xs</a>'
    anchor = '<a class="summary-link" href="https://w.example/index.php?title=Some_page#Top">'
    key = web_key(path, page_id)
    for url in ("/", f"/wiki/{key}", f"/rev/{key}/2", f"/diff/{key}?from=1&to=2"):
        html = client.get(url).get_data(as_text=True)
        assert section + "→\u200eEarly life</a>: </span>" in html, url
        assert link in html and anchor in html, url
        assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html, url
    feed = feedparser.parse(client.get(f"/feeds/wiki/{key}.atom").get_data())
    assert feed.entries[0].title == "#2: → Early life: see xs and #Top <b>bold</b>"
    assert section in feed.entries[0].summary and link in feed.entries[0].summary


def test_a_hidden_summary_stays_hidden(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with Store(path) as store:
        wiki = store.wiki_id("w", api_url="https://w.example/api.php")
        with store.atomic():
            page = store.upsert_page(wiki, 1, "Hidden summary")
        PageIngestor(store, wiki, page["id"]).add(
            [revision(1, 0, "One.\n", comment=None, commenthidden=True)]
        )
    html = (
        create_app(path)
        .test_client()
        .get(f"/wiki/{web_key(path, page['id'])}")
        .get_data(as_text=True)
    )
    assert "(summary hidden)" in html and "autocomment" not in html
