"""The full-text index over every stored revision: a contentless SQLite FTS5 table.

What is indexed: each *distinct paragraph* of the stored section texts once (a section text
is a row of ``blobs``; its paragraphs are what blank lines separate), never whole revisions.
A revision is a list of section versions, each with a blob id (``layouts``,
``section_versions``), and most versions of a section differ from the one before in one
paragraph: a hit on a paragraph is a hit on every section text that has it
(``search_uses``), and so on every revision that contains one of those. 10,000 revisions of
an article whose lead never changed index the lead once, and a section edited 500 times
indexes the paragraphs that changed. (Indexing each section text whole made the index half
of a long history's database.)

The tables (schema.py, ``090_paragraph_index``): ``search_paragraphs``, ``content=''``,
rowid = the paragraph id; ``search_paragraph_keys``, the paragraph's hash -> its id;
``search_uses``, (paragraph id, blob id); ``search_progress``, the highest blob id indexed.
The index holds no text: the texts stay where they are, compressed, in ``blobs``. A
contentless table forgets a row only when told its text again (`forget_texts`, when a
hidden revision's texts go and no other text has the paragraph).

Keeping it current: `index_new_blobs` indexes the blobs with an id above the highest indexed
one (blob ids only grow). The web app calls it (through an `Indexer`, its one writable
connection) when it starts and before each search; when nothing is new that costs two
lookups. If the database cannot be written, search still answers from what is indexed and
`index_lag` says how far behind it is.

Matching is FTS5's: case and diacritics are ignored and so is punctuation and markup between
words. A phrase is found within one paragraph (as a reader sees it: a blank line ends a
paragraph), and a query of several phrases ANDed (`tracker.web.search.phrase_query`) finds
the section texts with each of them in some paragraph. A phrase query over positions
(``detail=full``) is exact for those rules: the hits need no second check against the text.
`find` answers a query with plain data: per page, the stretches of revisions that contain
it. `Tokenizer` is the index's tokenizer in Python, for whoever shows the hits.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from tracker.errors import StoreError
from tracker.store.base import Connection
from tracker.store.blobs import BlobReader
from tracker.store.encoding import pack_ids, unpack_ids
from tracker.store.pages import Pages
from tracker.store.schema import FTS_TABLE, TOKENIZE, create_search_index

log = logging.getLogger(__name__)

BATCH = 500


def has_index(store: Connection) -> bool:
    return store.has_table(FTS_TABLE)


# Paragraphs: what blank lines (maybe with spaces) separate.
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")


def paragraphs(text: str) -> set[str]:
    """The distinct paragraphs of a section text that have something besides spaces."""
    return {p for p in (part.strip() for part in _PARAGRAPH_BREAK.split(text)) if p}


def _key(paragraph: str) -> bytes:
    return hashlib.blake2b(paragraph.encode("utf-8"), digest_size=16).digest()


def _indexed_top(conn: sqlite3.Connection) -> int:
    """The highest blob id indexed."""
    row = conn.execute("SELECT top_blob FROM search_progress WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def _lag(db: sqlite_utils.Database) -> int:
    if FTS_TABLE not in db.table_names():
        return -1
    top = db.execute("SELECT max(id) FROM blobs").fetchone()[0] or 0
    done = _indexed_top(db.conn)
    if top <= done:
        return 0
    return int(db.execute("SELECT count(*) FROM blobs WHERE id > ?", [done]).fetchone()[0])


def index_lag(store: Connection) -> int:
    """How many blobs are not indexed yet (0 when current); -1 when there is no index."""
    return _lag(store.db)


def forget_texts(store: Connection, blobs: list[tuple[int, str]]) -> None:
    """Take section texts (blob id, text) out of the index: their uses go, and a paragraph
    no other text has goes from the FTS table (told its text again: it is contentless)."""
    db = store.db
    if FTS_TABLE not in db.table_names() or not blobs:
        return
    conn = db.conn
    top = _indexed_top(conn)
    for blob_id, text in blobs:
        if blob_id > top:
            continue
        for paragraph in paragraphs(text):
            key = _key(paragraph)
            row = conn.execute(
                "SELECT id FROM search_paragraph_keys WHERE hash = ?", [key]
            ).fetchone()
            if row is None:
                continue
            conn.execute(
                "DELETE FROM search_uses WHERE paragraph_id = ? AND blob_id = ?", [row[0], blob_id]
            )
            if conn.execute(
                "SELECT 1 FROM search_uses WHERE paragraph_id = ? LIMIT 1", [row[0]]
            ).fetchone():
                continue  # another text has it
            conn.execute(
                f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, text) VALUES ('delete', ?, ?)",
                [row[0], paragraph],
            )
            conn.execute("DELETE FROM search_paragraph_keys WHERE hash = ?", [key])


def index_new_blobs(store: Connection, batch: int = BATCH) -> int:
    """Index the blobs not indexed yet; return how many. ``store``: a writable Store."""
    return _index_new(store.db, batch)


def _index_new(db: sqlite_utils.Database, batch: int = BATCH) -> int:
    """Each batch is one write transaction taken with BEGIN IMMEDIATE, and the highest indexed
    id is read inside it, so two processes indexing at once never index a blob twice. A
    database without the index gets it first (the migration's step)."""
    if FTS_TABLE not in db.table_names():
        with _immediate(db.conn):
            create_search_index(db)
    added = 0
    reader = BlobReader(db.conn)  # a text's earlier versions come first: decoded once
    while True:
        with _immediate(db.conn) as conn:
            done = _indexed_top(conn)
            rows = conn.execute(
                "SELECT id FROM blobs WHERE id > ? ORDER BY id LIMIT ?", [done, batch]
            ).fetchall()
            uses = []
            for (blob_id,) in rows:
                for paragraph in paragraphs(reader.text(blob_id)):
                    uses.append((_paragraph_id(conn, paragraph), blob_id))
            conn.executemany("INSERT OR IGNORE INTO search_uses VALUES (?, ?)", uses)
            if rows:
                conn.execute(
                    "INSERT OR REPLACE INTO search_progress (id, top_blob) VALUES (1, ?)",
                    [rows[-1][0]],
                )
        added += len(rows)
        if len(rows) < batch:
            return added


def _paragraph_id(conn: sqlite3.Connection, paragraph: str) -> int:
    """The id of a paragraph in the index, indexed now if it is new."""
    key = _key(paragraph)
    row = conn.execute("SELECT id FROM search_paragraph_keys WHERE hash = ?", [key]).fetchone()
    if row is not None:
        return int(row[0])
    cursor = conn.execute(f"INSERT INTO {FTS_TABLE} (text) VALUES (?)", [paragraph])
    paragraph_id = int(cursor.lastrowid or 0)
    conn.execute("INSERT INTO search_paragraph_keys (hash, id) VALUES (?, ?)", [key, paragraph_id])
    return paragraph_id


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

    def catch_up(self, reader: Connection | None = None) -> int:
        """Index new blobs; cheap when ``reader`` (a store of the same database, read-only
        will do) shows nothing new. Never raises."""
        if self.error is not None:
            return 0
        if reader is not None and index_lag(reader) == 0:
            return 0
        with self.lock:
            try:
                conn = self.connect()
                try:
                    count = _index_new(sqlite_utils.Database(conn))
                finally:
                    conn.close()
            except (sqlite3.Error, StoreError) as exc:
                # A read-only file, a damaged blob: search goes on with what is indexed. A
                # lock held too long by the daemon is only this time's problem.
                if "locked" not in str(exc) and "busy" not in str(exc):
                    self.error = str(exc)
                log.warning("search index not updated: %s", exc)
                return 0
        if count:
            log.info("search index: %d new section texts indexed", count)
        return count


# --- the index's tokenizer, in Python ------------------------------------------------------


class Tokenizer:
    """FTS5's tokenizer (``TOKENIZE``) in Python, with each token's character offsets.

    unicode61 decides codepoint by codepoint: a separator, or a token character folded to
    lower case without accents (a combining accent folds to nothing). Its Unicode tables are
    SQLite's, not Python's (they differ on thousands of characters), so each character's
    class and folding is learnt from SQLite itself the first time it is seen: an in-memory
    FTS5 table tokenizes "q<c>q" and fts5vocab tells whether that is one token or two.
    Tokens folding to nothing (a lone accent) are no tokens, as in FTS5.
    """

    _RUN = re.compile("t+")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._probe: sqlite3.Connection | None = None
        self.kinds: dict[int, str] = {}  # codepoint -> "t" (token character) or " "
        self.folds: dict[int, str] = {}  # token character -> its folded form

    def learn(self, text: str) -> None:
        """Ask SQLite about the characters of ``text`` not seen yet."""
        unseen = [c for c in set(text) if ord(c) not in self.kinds]
        if not unseen:
            return
        with self._lock:
            chars = sorted(c for c in unseen if ord(c) not in self.kinds)
            if not chars:
                return
            if self._probe is None:
                self._probe = sqlite3.connect(":memory:", check_same_thread=False)
                self._probe.executescript(
                    f"CREATE VIRTUAL TABLE probe USING fts5(x, tokenize='{TOKENIZE}');"
                    "CREATE VIRTUAL TABLE probe_terms USING fts5vocab(probe, instance);"
                )
            probe = self._probe
            probe.executemany(
                "INSERT INTO probe (rowid, x) VALUES (?, ?)",
                [(i, f"q{c}q") for i, c in enumerate(chars, 1)],
            )
            terms: dict[int, list[str]] = {}
            rows = probe.execute("SELECT term, doc FROM probe_terms ORDER BY doc, offset")
            for term, doc in rows:
                terms.setdefault(doc, []).append(term)
            probe.execute("DELETE FROM probe")
            probe.commit()
            for i, c in enumerate(chars, 1):
                found = terms.get(i, [])
                if len(found) == 1:  # one token "q…q": a token character, folded to the "…"
                    self.folds[ord(c)] = found[0][1:-1]
                    self.kinds[ord(c)] = "t"
                else:
                    self.kinds[ord(c)] = " "

    def tokens(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, folded text) of each token of ``text``; the index is its position."""
        self.learn(text)
        folds = self.folds
        out = []
        for m in self._RUN.finditer(text.translate(self.kinds)):
            start, end = m.span()
            folded = text[start:end].translate(folds)
            if folded:
                # An accent cannot start a token in FTS5: it is a separator there.
                while folds.get(ord(text[start])) == "":
                    start += 1
                out.append((start, end, folded))
        return out


TOKENIZER = Tokenizer()


# --- queries -------------------------------------------------------------------------------


@dataclass
class Presence:
    """One stretch of consecutive revisions containing the phrase."""

    first: dict  # the first revision containing it (who added it)
    last: dict  # the last revision containing it
    removed_by: dict | None  # the next revision, which no longer contains it; None: still there
    count: int  # revisions in the stretch


@dataclass
class PageHits:
    """A page whose stored revisions contain the query, and where."""

    page: dict  # the page row, with its wiki's ``wiki`` (name) and ``api_url``
    latest_blob: int  # the section text with a hit in the last revision that has one
    revisions: int = 0  # revisions containing the phrase
    total: int = 0  # revisions of the page with text
    runs: list[Presence] = field(default_factory=list)  # the first max_runs stretches
    stretches: int = 0  # how many stretches in all
    latest_has_it: bool = False


def find(
    store: Pages, query: str, page_id: int | None = None, max_runs: int = 50
) -> list[PageHits]:
    """Every page (by id) whose stored revisions contain the FTS ``query``, with the
    stretches of revisions containing it. No index: nothing found."""
    db = store.db
    if FTS_TABLE not in db.table_names():
        return []
    hit_blobs: set[int] | None = None
    for part in _conjuncts(query):  # the section texts with each part in some paragraph
        found = {
            row[0]
            for row in db.execute(
                "SELECT DISTINCT blob_id FROM search_uses WHERE paragraph_id IN "
                f"(SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)",
                [part],
            ).fetchall()
        }
        hit_blobs = found if hit_blobs is None else hit_blobs & found
        if not hit_blobs:
            return []
    if not hit_blobs:
        return []
    rows = _revisions_with_blobs(db, hit_blobs, page_id)
    hit_revs: dict[int, set[int]] = {}
    last_blob: dict[int, tuple[tuple[str, int], int]] = {}
    for rev_id, pid, timestamp, revid, blob_id in rows:
        hit_revs.setdefault(pid, set()).add(rev_id)
        if (timestamp, revid) >= last_blob.get(pid, (("", -1), 0))[0]:
            last_blob[pid] = ((timestamp, revid), blob_id)
    results: list[PageHits] = []
    for pid in sorted(hit_revs):
        page = store.page_with_wiki(pid)
        if page is None:
            continue
        hits = PageHits(page, last_blob[pid][1])
        _presence(db, hits, hit_revs[pid], max_runs)
        results.append(hits)
    return results


_PHRASES = re.compile(r'"(?:[^"]|"")*"(?: AND "(?:[^"]|"")*")*')


def _conjuncts(query: str) -> list[str]:
    """The phrases of a query of quoted phrases ANDed, each a query of its own; any other
    query whole (it is then matched within one paragraph)."""
    if _PHRASES.fullmatch(query):
        return re.findall(r'"(?:[^"]|"")*"', query)
    return [query]


def _revisions_with_blobs(
    db: sqlite_utils.Database, blob_ids: Iterable[int], page_id: int | None
) -> list[tuple[int, int, str, int, int]]:
    """(revision row id, page id, timestamp, revid, blob id) of each revision holding one of
    the blobs: the section versions with those texts, then the layouts of their pages."""
    # Blob ids go in through a temp table: an IN list of thousands of parameters is slower
    # and can pass SQLite's variable limit.
    conn = db.conn
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS search_hits (blob_id INTEGER PRIMARY KEY)")
    conn.execute("DELETE FROM temp.search_hits")
    conn.executemany("INSERT OR IGNORE INTO temp.search_hits VALUES (?)", [(b,) for b in blob_ids])
    where, params = "", []
    if page_id is not None:
        where, params = " WHERE v.page_id = ?", [page_id]
    versions: dict[int, dict[int, int]] = {}  # page id -> version id -> blob id
    for version, pid, blob_id in conn.execute(
        "SELECT v.id, v.page_id, v.blob_id FROM temp.search_hits h "
        f"JOIN section_versions v ON v.blob_id = h.blob_id{where}",
        params,
    ).fetchall():
        versions.setdefault(pid, {})[version] = blob_id
    conn.execute("DELETE FROM temp.search_hits")
    rows: list[tuple[int, int, str, int, int]] = []
    for pid, wanted in versions.items():
        # A few versions (a phrase in a section that seldom changes): looked for in each
        # layout's bytes, not by unpacking every layout.
        packed = [(v, pack_ids([v])) for v in wanted] if len(wanted) <= FEW_VERSIONS else None
        for rev_id, timestamp, revid, layout in conn.execute(
            "SELECT r.id, r.timestamp, r.revid, l.ids FROM revisions r "
            "JOIN layouts l ON l.rev_id = r.id WHERE r.page_id = ?",
            [pid],
        ):
            if packed is None:
                found: Iterable[int] = wanted.keys() & unpack_ids(layout)
            else:
                found = [v for v, key in packed if key in layout and _aligned(layout, key)]
            rows.extend((rev_id, pid, timestamp, revid, wanted[v]) for v in found)
    return rows


FEW_VERSIONS = 8


def _aligned(layout: bytes, key: bytes) -> bool:
    """Whether ``key`` (one packed id) is one of the layout's ids, not bytes across two."""
    at = layout.find(key)
    while at != -1 and at % 4:
        at = layout.find(key, at + 1)
    return at != -1


def _presence(db: sqlite_utils.Database, hits: PageHits, rev_ids: set[int], max_runs: int) -> None:
    """Walk the page's revisions in history order and cut them into stretches with the phrase.

    Revisions whose text is hidden say nothing either way and are skipped, so hiding one
    revision does not split a stretch in two. The walk reads ids alone; the revisions that
    start, end or close a stretch kept are read after it.
    """
    order = [
        row[0]
        for row in db.execute(
            "SELECT id FROM revisions WHERE page_id = ? AND has_text = 1 ORDER BY timestamp, revid",
            [hits.page["id"]],
        )
    ]
    hits.total = len(order)
    stretches: list[tuple[int, int, int | None, int]] = []  # first, last, removed by, count
    start = None
    for k, rev_id in enumerate(order):
        if rev_id in rev_ids:
            if start is None:
                start = k
        elif start is not None:
            stretches.append((order[start], order[k - 1], rev_id, k - start))
            start = None
    if start is not None:
        hits.latest_has_it = True
        stretches.append((order[start], order[-1], None, len(order) - start))
    kept = stretches[:max_runs]
    wanted = {r for first, last, removed, _ in kept for r in (first, last, removed) if r}
    details = _revs(db, wanted)
    hits.revisions = sum(stretch[3] for stretch in stretches)
    hits.stretches = len(stretches)
    hits.runs.extend(
        Presence(details[first], details[last], details[removed] if removed else None, count)
        for first, last, removed, count in kept
    )


def _revs(db: sqlite_utils.Database, rev_ids: set[int]) -> dict[int, dict]:
    """Revision row id -> what a stretch shows of it."""
    out: dict[int, dict] = {}
    ids = sorted(rev_ids)
    for at in range(0, len(ids), 500):
        part = ids[at : at + 500]
        for rev_id, revid, timestamp, user, userhidden in db.execute(
            "SELECT id, revid, timestamp, user, userhidden FROM revisions WHERE id IN "
            f"({', '.join('?' * len(part))})",
            part,
        ):
            out[rev_id] = _rev(revid, timestamp, user, userhidden)
    return out


def _rev(revid: int, timestamp: str, user: str | None, userhidden: int) -> dict:
    return {"revid": revid, "timestamp": timestamp, "user": user, "userhidden": userhidden}
