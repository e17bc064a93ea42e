"""How texts are kept (issue 11): each distinct section text once, as a zstd delta against
the section's previous version with bounded chains; consecutive diffs derived, not stored;
databases of earlier versions repacked in place, resumably, without losing a text."""

from __future__ import annotations

import gzip
import re
import shutil
import sqlite3
import zlib
from pathlib import Path

import pytest
from genhistory import generate

from tracker.fetch.archive import import_snapshot
from tracker.fetch.ingest import PageIngestor
from tracker.history import revision_pair_diff
from tracker.store import Store
from tracker.store import texts as texts_module
from tracker.store.blobs import MAX_CHAIN
from tracker.store.encoding import is_packed, text_key
from tracker.store.schema import FTS_TABLE
from tracker.store.search import TOKENIZER, find, index_new_blobs, paragraphs

DATA = Path(__file__).parent / "data"


def ingest(path: Path, count: int, size: int = 20_000, seed: int = 3) -> list[str]:
    revisions = list(generate(count, size=size, seed=seed))
    with Store(path) as store:
        wiki_id = store.wiki_id("w")
        with store.atomic():
            row = store.upsert_page(wiki_id, 42, "Article")
        ingestor = PageIngestor(store, wiki_id, row["id"])
        for i in range(0, count, 50):
            ingestor.add(revisions[i : i + 50])
    return [r.text or "" for r in revisions]


def blob_rows(path: Path) -> list[tuple[int, bytes, int | None, int]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT id, data, base, depth FROM blobs ORDER BY id").fetchall()


def test_section_texts_are_deltas_with_bounded_chains(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    texts = ingest(path, 150)
    rows = blob_rows(path)
    deltas = [r for r in rows if r[2] is not None]
    assert len(deltas) > len(rows) // 2  # most new texts are versions of an older one
    assert all(base < blob_id for blob_id, _, base, _ in deltas)  # chains only point back
    assert max(depth for *_, depth in rows) == MAX_CHAIN  # reached, never passed
    # A fresh store (nothing cached) reads every revision back byte for byte.
    with Store(path, readonly=True) as store:
        page = store.find_page("Article")
        stored = [store.revision_text(r["id"]) for r in store.revisions(page["id"])]
    assert stored == texts
    # Against each text compressed on its own (what earlier versions stored): a fraction.
    with Store(path, readonly=True) as store:
        whole = sum(len(zlib.compress(store.blob(r[0]).encode(), 9)) for r in rows)
    assert sum(len(r[1]) for r in rows) < whole / 2


def test_chain_depths_follow_the_bases(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    ingest(path, 60)
    rows = {blob_id: (base, depth) for blob_id, _, base, depth in blob_rows(path)}
    for base, depth in rows.values():
        assert depth == (0 if base is None else rows[base][1] + 1)


def test_a_hidden_text_goes_and_the_texts_stored_against_it_stay(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    texts = ingest(path, 40, size=4000)
    with Store(path) as store:
        page = store.find_page("Article")
        rows = store.revisions(page["id"])

        # A revision whose new section text later ones were compressed against.
        def users(blob_id: int) -> int:
            return sum(blob_id in {b for _, b in store.revision_layout(r["id"])} for r in rows)

        bases = {r[2] for r in blob_rows(path) if r[2] is not None}
        victim = next(
            r
            for r in rows[1:-1]
            if any(b in bases and users(b) == 1 for _, b in store.revision_layout(r["id"]))
        )
        only_there = [b for _, b in store.revision_layout(victim["id"]) if users(b) == 1]
        hidden = [store.blob(b) for b in only_there]
        with store.atomic():
            store.drop_text(victim["id"])
    with sqlite3.connect(path) as db:
        keys = {row[0] for row in db.execute("SELECT hash FROM blobs")}
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not any(text_key(t) in keys for t in hidden)  # gone, not kept as a base
    with Store(path, readonly=True) as store:
        for row, text in zip(store.revisions(page["id"]), texts, strict=True):
            expected = None if row["id"] == victim["id"] else text
            assert store.revision_text(row["id"]) == expected


def test_consecutive_diffs_are_derived_the_same_as_at_ingest(tmp_path: Path) -> None:
    """No diff is stored; the one derived for a consecutive pair names the same sections,
    with the same kinds and word counts, as the section changes the ingest stored."""
    path = tmp_path / "t.db"
    ingest(path, 80, size=8000)
    with Store(path, readonly=True) as store:
        assert not store.has_table("diffs")
        rows = store.revisions(store.find_page("Article")["id"])
        compared = 0
        for old, new in zip(rows, rows[1:], strict=False):
            derived = [
                (s["id"], s["kinds"], s["words_added"], s["words_removed"])
                for s in revision_pair_diff(store, old, new)["sections"]
                if s["kinds"]
            ]
            stored = [
                (c["section_id"], c["kinds"], c["words_added"], c["words_removed"])
                for c in store.section_changes([new["id"]])
            ]
            assert sorted(derived) == sorted(stored), new["revid"]
            compared += bool(stored)
    assert compared > 60


def _old_database(tmp_path: Path) -> Path:
    path = tmp_path / "tracker.db"
    with gzip.open(DATA / "migration" / "tracker-0.1.0.db.gz") as old, path.open("wb") as out:
        shutil.copyfileobj(old, out)
    return path


def _all_texts(store: Store) -> dict[int, str | None]:
    return {
        row["id"]: store.revision_text(row["id"])
        for page in store.query("SELECT id FROM pages")
        for row in store.revisions(page["id"])
    }


def test_repack_of_an_old_database_is_resumable_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _old_database(tmp_path)
    with sqlite3.connect(path) as db:
        before_blobs = db.execute("SELECT count(*) FROM blobs").fetchone()[0]
        assert not any(is_packed(r[0]) for r in db.execute("SELECT data FROM blobs"))
    with Store(path) as store:  # migrated: the texts are still zlib, still read
        assert not store.has_table("diffs")
        texts = _all_texts(store)
        assert store.scalar("SELECT position FROM store_tasks WHERE name = 'repack_texts'") == 0
    assert sum(t is not None for t in texts.values()) > 200
    # Killed in the middle: what was committed stays repacked, the rest is done next time.
    calls = 0
    real = texts_module.Texts._repack

    def dying(self: texts_module.Texts, blob_id: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 25:
            raise KeyboardInterrupt
        real(self, blob_id)

    monkeypatch.setattr(texts_module.Texts, "_repack", dying)
    with Store(path) as store, pytest.raises(KeyboardInterrupt):
        store.repack_texts(chunk=10)
    monkeypatch.setattr(texts_module.Texts, "_repack", real)
    rows = blob_rows(path)
    assert sum(is_packed(r[1]) for r in rows) == 20  # two chunks of ten committed
    with Store(path) as store:
        assert store.repack_texts(chunk=10) == before_blobs - 20
        assert store.repack_texts() == 0  # done: nothing left to do
        assert _all_texts(store) == texts
    rows = blob_rows(path)
    assert all(is_packed(r[1]) for r in rows) and len(rows) == before_blobs
    assert any(r[2] is not None for r in rows)  # stored as deltas now
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_an_import_repacks_what_an_older_version_stored(tmp_path: Path) -> None:
    path = _old_database(tmp_path)
    with Store(path) as store:
        texts = _all_texts(store)
        import_snapshot(store, DATA / "migration" / "hidden.xml", "w")
        assert store.scalar("SELECT count(*) FROM store_tasks") == 0
        after = _all_texts(store)
    assert {k: v for k, v in after.items() if k in texts} == texts
    assert all(is_packed(r[1]) for r in blob_rows(path))


# ---- the search index over section texts stored as deltas ---------------------------------


def _presence_oracle(store: Store, page_id: int, phrases: list[list[str]]) -> set[int]:
    """The revisions with a section text containing every phrase, each within one paragraph
    (what blank lines separate), by brute force over the texts."""
    found = set()
    for row in store.revisions(page_id):
        if not row["has_text"]:
            continue
        for _, blob_id in store.revision_layout(row["id"]):
            paragraphs = [
                [t for _, _, t in TOKENIZER.tokens(part)]
                for part in re.split(r"\n[ \t]*\n", store.blob(blob_id))
            ]
            if all(
                any(
                    folded[i : i + len(p)] == p for folded in paragraphs for i in range(len(folded))
                )
                for p in phrases
            ):
                found.add(row["revid"])
                break
    return found


def test_a_hidden_text_leaves_the_search_index(tmp_path: Path) -> None:
    """Hiding a revision takes the paragraphs only its texts had out of the index (and
    nothing else): the index is then what indexing the remaining texts would make."""
    path = tmp_path / "t.db"
    ingest(path, 30, size=4000, seed=8)
    with Store(path) as store:
        index_new_blobs(store)
        page = store.find_page("Article")
        rows = store.revisions(page["id"])

        def texts_of(row: dict) -> set[str]:
            return {store.blob(b) for _, b in store.revision_layout(row["id"])}

        def kept_paragraphs() -> set[str]:
            return set().union(*(paragraphs(store.blob(b)) for (b,) in store.db.execute(
                "SELECT id FROM blobs").fetchall()))  # fmt: skip

        def own_paragraphs(victim: dict) -> set[str]:
            others = set().union(*(texts_of(r) for r in rows if r is not victim))
            return set().union(*map(paragraphs, texts_of(victim) - others)) - set().union(
                *map(paragraphs, others)
            )

        victim = next(r for r in rows[1:] if own_paragraphs(r))
        only = own_paragraphs(victim)
        before = store.scalar(f"SELECT count(*) FROM {FTS_TABLE}")
        with store.atomic():
            store.drop_text(victim["id"])
        indexed = store.scalar(f"SELECT count(*) FROM {FTS_TABLE}")
        assert indexed == before - len(only) == len(kept_paragraphs())
        uses = store.query(
            "SELECT DISTINCT blob_id FROM search_uses WHERE blob_id NOT IN (SELECT id FROM blobs)"
        )
        assert uses == []
        assert store.scalar("SELECT count(*) FROM search_paragraph_keys") == indexed


def test_search_finds_exactly_the_revisions_with_the_phrase(tmp_path: Path) -> None:
    import random

    path = tmp_path / "t.db"
    ingest(path, 60, size=6000, seed=11)
    rng = random.Random(5)
    with Store(path) as store:
        index_new_blobs(store)
        page_id = store.find_page("Article")["id"]
        rows = store.revisions(page_id)
        queries = []
        for _ in range(12):
            tokens = [
                t for _, _, t in TOKENIZER.tokens(store.revision_text(rng.choice(rows)["id"]) or "")
            ]
            start = rng.randrange(len(tokens) - 3)
            phrase = tokens[start : start + rng.choice([2, 3])]
            queries.append([phrase])
            queries.append([phrase[::-1]])  # the same words, rarely in that order
            queries.append([[w] for w in phrase])  # all the words, anywhere
            # The last word of a paragraph and the first of the next: in one section text,
            # but not a phrase a reader sees (found only where they also meet in a paragraph).
            parts = re.split(r"\n[ \t]*\n", store.revision_text(rng.choice(rows)["id"]) or "")
            pairs = [
                (a[-1][2], b[0][2])
                for a, b in zip(
                    map(TOKENIZER.tokens, parts), map(TOKENIZER.tokens, parts[1:]), strict=False
                )
                if a and b
            ]
            queries.append([list(rng.choice(pairs))])
        checked = 0
        for phrases in queries:
            query = " AND ".join('"' + " ".join(p) + '"' for p in phrases)
            hits = find(store, query, page_id, max_runs=10_000)
            ours = set()
            for hit in hits:
                for run in hit.runs:
                    in_run = [
                        r["revid"]
                        for r in rows
                        if r["has_text"]
                        and (r["timestamp"], r["revid"])
                        >= (run.first["timestamp"], run.first["revid"])
                        and (r["timestamp"], r["revid"])
                        <= (run.last["timestamp"], run.last["revid"])
                    ]
                    ours.update(in_run)
            expected = _presence_oracle(store, page_id, phrases)
            assert ours == expected, query
            checked += bool(expected)
            with_text = [r for r in rows if r["has_text"]]
            order = [
                r["revid"] for r in sorted(with_text, key=lambda r: (r["timestamp"], r["revid"]))
            ]
            for hit in hits:
                assert hit.total == len(order)
                assert hit.revisions == len(expected) and hit.stretches == len(hit.runs)
                for run in hit.runs:  # the revision after a stretch no longer has it
                    after = order.index(run.last["revid"]) + 1
                    removed = run.removed_by["revid"] if run.removed_by else None
                    assert removed == (order[after] if after < len(order) else None)
                    assert removed not in expected
                assert hit.latest_has_it == (order[-1] in expected)
                first = find(store, query, page_id, max_runs=1)[0]
                assert (first.revisions, first.stretches) == (hit.revisions, hit.stretches)
                assert first.runs == hit.runs[:1]
    assert checked >= 12  # most queries find something; the reversed ones mostly not


def test_a_new_database_has_small_pages_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    with Store(tmp_path / "new.db") as store:
        assert store.scalar("PRAGMA page_size") == 1024
    old = _old_database(tmp_path)
    with sqlite3.connect(old) as db:
        size = db.execute("PRAGMA page_size").fetchone()[0]
    with Store(old) as store:
        assert store.scalar("PRAGMA page_size") == size == 4096
        assert store.revisions(store.find_page("P", "ids")["id"])


def test_the_blob_cache_is_bounded_by_characters_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker.store import blobs

    monkeypatch.setattr(blobs, "BLOB_CACHE_CHARS", 1000)
    reader = blobs.BlobReader(sqlite3.connect(":memory:"))
    for i in range(10):
        reader.keep(i, "x" * 300)
    assert list(reader.cache) == [7, 8, 9] and reader.chars == 900
    reader.keep(10, "y" * 5000)  # larger than the bound: kept alone
    assert list(reader.cache) == [10] and reader.chars == 5000
    reader.forget(10)
    assert reader.chars == 0 and not reader.cache


def test_a_pair_diffed_again_is_remembered_and_a_hidden_text_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracker.history as history
    from tracker.errors import HiddenText

    path = tmp_path / "t.db"
    ingest(path, 40, size=8000, seed=29)
    calls = []
    real = history.diff_texts

    def counted(*args, **kwargs):
        calls.append(args[:2])
        return real(*args, **kwargs)

    monkeypatch.setattr(history, "diff_texts", counted)
    with Store(path) as store:
        rows = store.revisions(store.find_page("Article")["id"])
        first = history.revision_pair_diff(store, rows[2], rows[-1])
        again = history.revision_pair_diff(store, rows[2], rows[-1])
        assert again == first and len(calls) == 1  # (a diff page reloaded, switched)
        assert history.revision_pair_diff(store, rows[3], rows[-1]) != first
        assert len(calls) == 2
        # A text hidden since (revision deletion) is refused, whatever was remembered.
        with store.atomic():
            store.db.execute("UPDATE revisions SET has_text = 0 WHERE id = ?", [rows[2]["id"]])
        hidden = store.revisions(store.find_page("Article")["id"])[2]
        with pytest.raises(HiddenText):
            history.revision_pair_diff(store, hidden, rows[-1])


def test_the_remembered_pairs_are_bounded_by_characters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tracker.history as history
    from tracker.text.textcache import TextCache

    path = tmp_path / "t.db"
    texts = ingest(path, 12, size=3000, seed=31)
    pair = len(texts[0]) + len(texts[-1])
    monkeypatch.setattr(history, "_PAIRS", TextCache(5 * pair, largest_share=4))
    with Store(path) as store:
        rows = store.revisions(store.find_page("Article")["id"])
        for old in rows[:-1]:
            history.revision_pair_diff(store, old, rows[-1])
    assert 0 < history._PAIRS.chars <= 5 * pair
    assert 2 <= len(history._PAIRS) < len(rows) - 1
    kept_old = {key[0] for key in history._PAIRS}
    assert texts[-2] in kept_old and texts[0] not in kept_old  # the latest kept, the first gone
