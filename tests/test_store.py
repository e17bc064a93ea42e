"""The store: section-level deduplication, lossless text, reverts, idempotent atomic batches."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from genhistory import generate

from tracker.errors import StoreError
from tracker.fetch.ingest import PageIngestor
from tracker.model import Revision
from tracker.store import MIGRATIONS, Store
from tracker.store import db as store_db


def rev(revid: int, text: str, parent: int = 0, **kw: object) -> Revision:
    return Revision(
        revid=revid,
        parentid=parent,
        timestamp=f"2024-01-01T00:00:{revid % 60:02d}Z",
        user="U",
        userid=1,
        comment=f"edit {revid}",
        minor=False,
        size=len(text.encode()),
        sha1=hashlib.sha1(text.encode()).hexdigest(),
        text=text,
        **kw,
    )  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "t.db")
    yield s
    s.close()


def page(store: Store) -> PageIngestor:
    wiki_id = store.wiki_id("w")
    row = store.upsert_page(wiki_id, 7, "Page")
    return PageIngestor(store, wiki_id, row["id"])


def test_store_text_round_trips_byte_for_byte(store: Store) -> None:
    texts = [
        "",
        "no headings at all\n",
        "lead\n== A ==\nbody\n=== B ===\nmore\n== C ==",
        "== first line heading ==\r\nx\r\n",
        "ünïcödé — ✓\n== Ω ==\n\n",
    ]
    ingestor = page(store)
    ingestor.add([rev(i + 1, t, i) for i, t in enumerate(texts)])
    for row, text in zip(store.revisions(ingestor.page_id), texts, strict=True):
        assert store.revision_text(row["id"]) == text


def test_store_each_distinct_section_once(store: Store) -> None:
    base = "Lead.\n== A ==\n" + "alpha " * 200 + "\n== B ==\n" + "beta " * 200 + "\n"
    edited = base.replace("beta beta", "beta gamma", 1)
    ingestor = page(store)
    ingestor.add([rev(1, base), rev(2, edited, 1)])
    # Lead, A, B, then only the new B.
    assert store.scalar("SELECT count(*) FROM blobs") == 4
    ingestor.add([rev(3, base, 2)])  # a revert adds no content at all
    assert store.scalar("SELECT count(*) FROM blobs") == 4
    stored = {r["revid"]: r for r in store.revisions(ingestor.page_id)}
    assert stored[3]["revert_of"] == 1 and stored[2]["reverted_by"] == 3


def test_store_null_revision_is_not_a_revert(store: Store) -> None:
    ingestor = page(store)
    ingestor.add([rev(1, "a"), rev(2, "b", 1), rev(3, "b", 2)])  # e.g. a move's null revision
    assert [r["revert_of"] for r in store.revisions(ingestor.page_id)] == [None, None, None]


def test_store_ingest_is_idempotent(store: Store) -> None:
    revisions = list(generate(30, size=8000))
    ingestor = page(store)
    assert ingestor.add(revisions[:20]) == 20
    assert ingestor.add(revisions[10:]) == 10
    fresh = PageIngestor(store, ingestor.wiki_id, ingestor.page_id)
    assert fresh.add(revisions) == 0
    assert [r["revid"] for r in store.revisions(ingestor.page_id)] == [r.revid for r in revisions]


def test_store_failed_batch_leaves_nothing(store: Store) -> None:
    revisions = list(generate(10, size=4000))
    ingestor = page(store)
    ingestor.add(revisions[:3])
    broken = replace(revisions[5], parentid=None)  # NOT NULL column: the insert fails mid-batch
    with pytest.raises(StoreError):
        ingestor.add([*revisions[3:5], broken])
    assert len(store.revisions(ingestor.page_id)) == 3
    assert ingestor.add(revisions[3:]) == 7  # and the next run goes on from there
    ids = [r["revid"] for r in store.revisions(ingestor.page_id)]
    assert ids == [r.revid for r in revisions]


def test_store_hidden_revision_has_no_text(store: Store) -> None:
    ingestor = page(store)
    hidden = replace(rev(2, "secret", 1), text=None, sha1=None, texthidden=True, sha1hidden=True)
    ingestor.add([rev(1, "== A ==\nx\n"), hidden, rev(3, "== A ==\ny\n", 2)])
    rows = store.revisions(ingestor.page_id)
    assert store.revision_text(rows[1]["id"]) is None and rows[1]["texthidden"]
    assert store.revision_text(rows[2]["id"]) == "== A ==\ny\n"
    # The next visible revision changed its section against the last visible one.
    changes = store.section_changes([rows[2]["id"]])
    assert [(c["path"], c["kinds"], c["words_added"]) for c in changes] == [(["A"], ["edited"], 1)]


def test_store_non_wikitext_is_kept_whole_and_flagged(store: Store) -> None:
    ingestor = page(store)
    css = ".a { color: red }\n== not a heading ==\n"
    ingestor.add([rev(1, css, content_model="css", content_format="text/css")])
    row = store.revisions(ingestor.page_id)[0]
    assert row["content_model"] == "css" and store.revision_text(row["id"]) == css
    assert len(store.revision_layout(row["id"])) == 1


def test_store_migrations_apply_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    with Store(path) as first:
        names = [r["name"] for r in first.query("SELECT name FROM _migrations")]
    assert names == [name for name, _ in MIGRATIONS]
    with Store(path) as second:
        assert second.migrate() == []


def test_store_migration_cut_short_leaves_nothing_half_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step that fails part way (a killed process, a full disk) is undone whole, with the
    record of it: the next start applies it again, from the beginning."""
    path = tmp_path / "m.db"
    Store(path).close()
    runs = []

    def step(db) -> None:
        db.executescript("CREATE TABLE a (x); -- the first; then\nCREATE TABLE b (y);")
        runs.append(1)
        if len(runs) == 1:
            raise OSError("disk full")

    monkeypatch.setattr(store_db, "MIGRATIONS", [*MIGRATIONS, ("999_test", step)])
    with pytest.raises(OSError, match="disk full"):
        Store(path)
    with Store(path, readonly=True) as store:
        assert not store.has_table("a") and not store.has_table("b")
        assert store.scalar("SELECT count(*) FROM _migrations WHERE name = '999_test'") == 0
    with Store(path) as store:
        assert store.has_table("a") and store.has_table("b")
    assert len(runs) == 2


def test_store_readonly_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="run `tracker run --once` first"):
        Store(tmp_path / "absent.db", readonly=True)


def test_store_wal_and_busy_timeout(store: Store) -> None:
    assert store.scalar("PRAGMA journal_mode") == "wal"
    assert store.scalar("PRAGMA busy_timeout") >= 5000
