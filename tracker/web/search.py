"""Full-text search over every stored revision, with SQLite FTS5 set up through sqlite-utils.

What is indexed: each *distinct section text* once (a row of ``blobs``), never whole
revisions. A revision is a list of blob ids (``revision_sections``), so a hit on a blob is a
hit on every revision that contains that section text; 10,000 revisions of an article whose
lead never changed index the lead once.

Schema (migration ``002_search_index``, `create_search_index`): ``search_sections`` (id = the
blob id, text = the section text, uncompressed) and its FTS5 index ``search_sections_fts``
made by ``Table.enable_fts(..., create_triggers=True)``, so inserting a row indexes it.

Keeping it current: `index_new_blobs` copies the blobs with an id above the highest indexed
one (blob ids only grow: blobs are never deleted). The web app calls it when it starts and
before each search; when nothing is new that costs two ``max(id)`` lookups. It needs a
writable connection, so the web app, which reads the store read-only, keeps a separate one
for this derived index only; if the database cannot be written, search still answers from
what is indexed and says how far behind it is.

Matching is FTS5's: case and diacritics are ignored and so is punctuation and markup between
words, so the phrase "Pakistan NATO relations" finds ``[[Pakistan]]–NATO relations``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

log = logging.getLogger(__name__)

MIGRATION_NAME = "002_search_index"
TABLE = "search_sections"
FTS_TABLE = f"{TABLE}_fts"
BATCH = 500
# Private-use characters mark hits in snippets: they cannot come from the tokenizer's
# output and are split out before escaping, so wiki text never reaches the page as markup.
HIT_START, HIT_END = "\ue000", "\ue001"
MAX_QUERY_CHARS = 500


def create_search_index(db: sqlite_utils.Database) -> None:
    """The migration step: the text table and its FTS5 index (idempotent)."""
    table = db.table(TABLE)
    if not table.exists():
        table.create({"id": int, "text": str}, pk="id")
    if FTS_TABLE not in db.table_names():
        # unicode61 folds case and, with remove_diacritics 2, accents: "Peshawar" finds
        # "Peşawar". Triggers keep the index in step with rows inserted into TABLE.
        table.enable_fts(["text"], fts_version="FTS5", create_triggers=True,
                             tokenize="unicode61 remove_diacritics 2")


MIGRATION = (MIGRATION_NAME, create_search_index)


def has_search_index(db: sqlite_utils.Database) -> bool:
    return FTS_TABLE in db.table_names()


def index_lag(db: sqlite_utils.Database) -> int:
    """How many blobs are not indexed yet (0 when current); -1 when there is no index."""
    if not has_search_index(db):
        return -1
    top = db.execute("SELECT max(id) FROM blobs").fetchone()[0] or 0
    done = db.execute(f"SELECT max(id) FROM {TABLE}").fetchone()[0] or 0
    if top <= done:
        return 0
    return int(db.execute("SELECT count(*) FROM blobs WHERE id > ?", [done]).fetchone()[0])


def index_new_blobs(store: Any, batch: int = BATCH) -> int:
    """Index the blobs not indexed yet; return how many. ``store``: a writable Store or Database.

    Each batch is one write transaction taken with BEGIN IMMEDIATE, and the highest indexed
    id is read inside it, so two processes indexing at once never index a blob twice.
    """
    db: sqlite_utils.Database = getattr(store, "db", store)
    if not has_search_index(db):
        create_search_index(db)
    added = 0
    while True:
        with _immediate(db.conn) as conn:
            done = conn.execute(f"SELECT max(id) FROM {TABLE}").fetchone()[0] or 0
            rows = conn.execute("SELECT id, data FROM blobs WHERE id > ? ORDER BY id LIMIT ?",
                                [done, batch]).fetchall()
            conn.executemany(f"INSERT INTO {TABLE} (id, text) VALUES (?, ?)",
                             [(blob_id, zlib.decompress(data).decode("utf-8"))
                              for blob_id, data in rows])
        added += len(rows)
        if len(rows) < batch:
            return added


@contextmanager
def _immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction taken up front; inside a caller's open transaction, that one."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Indexer:
    """The web app's writer of the search index: a short-lived writable connection of its
    own (the views read through read-only ones), one indexing at a time per process."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self.error: str | None = None  # why the index cannot be written, once known

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), timeout=10, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    def catch_up(self, reader: sqlite_utils.Database | None = None) -> int:
        """Index new blobs; cheap when ``reader`` shows nothing new. Never raises."""
        if self.error is not None:
            return 0
        if reader is not None and index_lag(reader) == 0:
            return 0
        with self.lock:
            try:
                conn = self.connect()
                try:
                    count = index_new_blobs(sqlite_utils.Database(conn))
                finally:
                    conn.close()
            except (sqlite3.Error, zlib.error, UnicodeDecodeError) as exc:
                # A read-only file, a damaged blob: search goes on with what is indexed. A
                # lock held too long by the daemon is only this time's problem.
                if "locked" not in str(exc) and "busy" not in str(exc):
                    self.error = str(exc)
                log.warning("search index not updated: %s", exc)
                return 0
        if count:
            log.info("search index: %d new section texts indexed", count)
        return count


# --- queries -------------------------------------------------------------------------------


def phrase_query(text: str, all_words: bool = False) -> str | None:
    """An FTS5 query for user text: one quoted phrase, or every word quoted and ANDed.

    Quoting every token keeps FTS5 syntax (AND, NEAR, *, column filters) out of user input.
    None when the text has no word characters at all.
    """
    words = [w for w in "".join(c if c.isalnum() else " " for c in text).split() if w]
    if not words:
        return None
    if all_words:
        return " AND ".join(f'"{w}"' for w in words)
    return '"' + " ".join(words) + '"'


@dataclass
class Presence:
    """One stretch of consecutive revisions containing the phrase."""

    first: dict  # the first revision containing it (who added it)
    last: dict  # the last revision containing it
    removed_by: dict | None  # the next revision, which no longer contains it; None: still there
    count: int  # revisions in the stretch


@dataclass
class PageHits:
    page: dict
    revisions: int = 0  # revisions containing the phrase
    total: int = 0  # revisions of the page with text
    runs: list[Presence] = field(default_factory=list)  # the first max_runs stretches
    stretches: int = 0  # how many stretches in all
    snippet: list[tuple[str, bool]] = field(default_factory=list)  # (text, is_hit) pieces
    latest_has_it: bool = False


def search(db: sqlite_utils.Database, query: str, page_id: int | None = None,
           max_runs: int = 50) -> list[PageHits]:
    """Every page whose stored revisions contain the FTS ``query``, with presence stretches."""
    hit_blobs = [row[0] for row in db.execute(
        f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?", [query]).fetchall()]
    if not hit_blobs:
        return []
    # Blob ids go in through a temp table: an IN list of thousands of parameters is slower
    # and can pass SQLite's variable limit.
    rows = _revisions_with_blobs(db, hit_blobs, page_id)
    hit_revs: dict[int, set[int]] = {}
    last_blob: dict[int, tuple[int, int]] = {}
    for rev_id, pid, revid, blob_id in rows:
        hit_revs.setdefault(pid, set()).add(rev_id)
        if revid >= last_blob.get(pid, (-1, 0))[0]:
            last_blob[pid] = (revid, blob_id)
    results = []
    for pid in sorted(hit_revs):
        pages = list(db.query("SELECT p.*, w.name AS wiki FROM pages p JOIN wikis w ON "
                              "w.id = p.wiki_id WHERE p.id = ?", [pid]))
        if not pages:
            continue
        hits = PageHits(pages[0])
        _presence(db, hits, hit_revs[pid], max_runs)
        hits.snippet = snippet(db, query, last_blob[pid][1])
        results.append(hits)
    return results


def _revisions_with_blobs(db: sqlite_utils.Database, blob_ids: Iterable[int],
                          page_id: int | None) -> list[tuple[int, int, int, int]]:
    conn = db.conn
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS search_hits (blob_id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM temp.search_hits")
    conn.executemany("INSERT OR IGNORE INTO temp.search_hits VALUES (?)",
                     [(b,) for b in blob_ids])
    where, params = "", []
    if page_id is not None:
        where, params = " WHERE r.page_id = ?", [page_id]
    rows = conn.execute(
        "SELECT rs.rev_id, r.page_id, r.revid, rs.blob_id FROM temp.search_hits h "
        "JOIN revision_sections rs ON rs.blob_id = h.blob_id "
        f"JOIN revisions r ON r.id = rs.rev_id{where}", params).fetchall()
    conn.execute("DELETE FROM temp.search_hits")
    return rows


def _presence(db: sqlite_utils.Database, hits: PageHits, rev_ids: set[int],
              max_runs: int) -> None:
    """Walk the page's revisions in revid order and cut them into stretches with the phrase.

    Revisions whose text is hidden say nothing either way and are skipped, so hiding one
    revision does not split a stretch in two.
    """
    cursor = db.execute(
        "SELECT id, revid, timestamp, user, userhidden FROM revisions "
        "WHERE page_id = ? AND has_text = 1 ORDER BY revid", [hits.page["id"]])
    run: Presence | None = None
    for rev_id, revid, timestamp, user, userhidden in cursor:
        hits.total += 1
        if rev_id in rev_ids:
            rev = _rev(revid, timestamp, user, userhidden)
            if run is None:
                run = Presence(first=rev, last=rev, removed_by=None, count=0)
            run.last = rev
            run.count += 1
        elif run is not None:
            run.removed_by = _rev(revid, timestamp, user, userhidden)
            _close(hits, run, max_runs)
            run = None
    if run is not None:
        hits.latest_has_it = True
        _close(hits, run, max_runs)


def _close(hits: PageHits, run: Presence, max_runs: int) -> None:
    hits.revisions += run.count
    hits.stretches += 1
    if len(hits.runs) < max_runs:
        hits.runs.append(run)


def _rev(revid: int, timestamp: str, user: str | None, userhidden: int) -> dict:
    return {"revid": revid, "timestamp": timestamp, "user": user, "userhidden": userhidden}


def snippet(db: sqlite_utils.Database, query: str, blob_id: int,
            tokens: int = 32) -> list[tuple[str, bool]]:
    """A short excerpt of one indexed text around the match, as (text, is_hit) pieces."""
    row = db.execute(
        f"SELECT snippet({FTS_TABLE}, 0, ?, ?, '…', ?) FROM {FTS_TABLE} "
        f"WHERE {FTS_TABLE} MATCH ? AND rowid = ?",
        [HIT_START, HIT_END, tokens, query, blob_id]).fetchone()
    return split_marked(row[0]) if row and row[0] else []


def split_marked(text: str) -> list[tuple[str, bool]]:
    """Text with HIT_START/HIT_END marks -> pieces, for the template to escape and <mark>."""
    pieces: list[tuple[str, bool]] = []
    for i, chunk in enumerate(text.split(HIT_START)):
        if i == 0:
            pieces.append((chunk, False))
            continue
        hit, _, rest = chunk.partition(HIT_END)
        pieces += [(hit, True), (rest, False)]
    return [(t, hit) for t, hit in pieces if t]
