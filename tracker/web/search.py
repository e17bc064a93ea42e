"""Full-text search over every stored revision: a contentless SQLite FTS5 index.

What is indexed: each *distinct section text* once (a row of ``blobs``), never whole
revisions. A revision is a list of blob ids (``revision_sections``), so a hit on a blob is a
hit on every revision that contains that section text; 10,000 revisions of an article whose
lead never changed index the lead once.

Schema (migration ``030_search_index``, `create_search_index`): one contentless FTS5 table,
``search_blobs`` (``content=''``, rowid = the blob id), created with plain SQL. It holds the
index only; the texts stay where they are, compressed, in ``blobs`` (an FTS5 table with its
own content, as ``Table.enable_fts`` makes, would keep a second, uncompressed copy of every
text and triple the database). ``contentless_delete=1`` would allow deleting from the index,
which nothing needs: blobs are never deleted.

A contentless table answers MATCH with rowids but has no text for FTS5's ``snippet()``, so
snippets are cut here from the decompressed blob (`Store.blob`, cached) by `snippet`, a
port of FTS5's snippet(): same window choice, same highlighting. Tokens come from
`Tokenizer`, which reproduces the index's tokenizer character for character (it learns each
character's class and folding from SQLite itself), so the phrase found in the text is the
one FTS5 matched.

Keeping it current: `index_new_blobs` indexes the blobs with an id above the highest indexed
one (blob ids only grow: blobs are never deleted). The web app calls it when it starts and
before each search; when nothing is new that costs two ``max(id)`` lookups. It needs a
writable connection, so the web app, which reads the store read-only, keeps a separate one
for this derived index only; if the database cannot be written, search still answers from
what is indexed and says how far behind it is.

Matching is FTS5's: case and diacritics are ignored and so is punctuation and markup between
words, so the phrase "Pakistan NATO relations" finds ``[[Pakistan]]–NATO relations``. A
phrase query over positions (``detail=full``) is exact for those rules: every blob it
returns contains the words consecutively, so the hits need no second check against the text.
"""

from __future__ import annotations

import bisect
import logging
import re
import sqlite3
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

log = logging.getLogger(__name__)

MIGRATION_NAME = "030_search_index"
FTS_TABLE = "search_blobs"
# unicode61 folds case and, with remove_diacritics 2, accents: "Peşawar" finds "Pesawar".
TOKENIZE = "unicode61 remove_diacritics 2"
BATCH = 500
SNIPPET_TOKENS = 32
ELLIPSIS = "…"
MAX_QUERY_CHARS = 500


def create_search_index(db: sqlite_utils.Database) -> None:
    """Migration 030_search_index: the contentless index (idempotent)."""
    db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} "
               f"USING fts5(text, content='', tokenize='{TOKENIZE}')")


MIGRATION = (MIGRATION_NAME, create_search_index)


def _index_table(db: sqlite_utils.Database) -> str | None:
    """The FTS5 table to search, when there is one."""
    return FTS_TABLE if FTS_TABLE in db.table_names() else None


def has_search_index(db: sqlite_utils.Database) -> bool:
    return _index_table(db) is not None


def _indexed_top(conn: Any, table: str) -> int:
    """The highest blob id in the index: the end of its rowid b-tree, no scan."""
    row = conn.execute(f"SELECT rowid FROM {table} ORDER BY rowid DESC LIMIT 1").fetchone()
    return int(row[0]) if row else 0


def index_lag(db: sqlite_utils.Database) -> int:
    """How many blobs are not indexed yet (0 when current); -1 when there is no index."""
    table = _index_table(db)
    if table is None:
        return -1
    top = db.execute("SELECT max(id) FROM blobs").fetchone()[0] or 0
    done = _indexed_top(db, table)
    if top <= done:
        return 0
    return int(db.execute("SELECT count(*) FROM blobs WHERE id > ?", [done]).fetchone()[0])


def forget_texts(db: sqlite_utils.Database, blobs: list[tuple[int, str]]) -> None:
    """Take section texts (blob id, text) out of the index: a contentless FTS5 table forgets
    a row only when told its text again."""
    if FTS_TABLE not in db.table_names() or not blobs:
        return
    top = _indexed_top(db.conn, FTS_TABLE)
    db.conn.executemany(f"INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, text) "
                        "VALUES ('delete', ?, ?)", [(b, text) for b, text in blobs if b <= top])


def index_new_blobs(store: Any, batch: int = BATCH) -> int:
    """Index the blobs not indexed yet; return how many. ``store``: a writable Store or Database.

    Each batch is one write transaction taken with BEGIN IMMEDIATE, and the highest indexed
    id is read inside it, so two processes indexing at once never index a blob twice. A
    database without the index gets it first (the migration's step).
    """
    db: sqlite_utils.Database = getattr(store, "db", store)
    if FTS_TABLE not in db.table_names():
        with _immediate(db.conn):
            create_search_index(db)
    added = 0
    while True:
        with _immediate(db.conn) as conn:
            done = _indexed_top(conn, FTS_TABLE)
            rows = conn.execute("SELECT id, data FROM blobs WHERE id > ? ORDER BY id LIMIT ?",
                                [done, batch]).fetchall()
            conn.executemany(f"INSERT INTO {FTS_TABLE} (rowid, text) VALUES (?, ?)",
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
        if reader is not None and FTS_TABLE in reader.table_names() and index_lag(reader) == 0:
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
                    "CREATE VIRTUAL TABLE probe_terms USING fts5vocab(probe, instance);")
            probe = self._probe
            probe.executemany("INSERT INTO probe (rowid, x) VALUES (?, ?)",
                              [(i, f"q{c}q") for i, c in enumerate(chars, 1)])
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


def query_phrases(query: str) -> list[list[str]]:
    """The phrases of a `phrase_query` query, each as the folded tokens FTS5 matches."""
    return [[token for _, _, token in TOKENIZER.tokens(phrase)]
            for phrase in re.findall(r'"([^"]*)"', query)]


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


def search(source: Any, query: str, page_id: int | None = None, max_runs: int = 50,
           snippets: int | None = None) -> list[PageHits]:
    """Every page whose stored revisions contain the FTS ``query`` (from `phrase_query`),
    with presence stretches and, for the first ``snippets`` pages (None: all), a snippet of
    the latest text containing it.

    ``source``: a Store (its cached `Store.blob` gives the texts) or a Database.
    """
    db: sqlite_utils.Database = getattr(source, "db", source)
    table = _index_table(db)
    if table is None:
        return []
    hit_blobs = [row[0] for row in db.execute(
        f"SELECT rowid FROM {table} WHERE {table} MATCH ?", [query]).fetchall()]
    if not hit_blobs:
        return []
    # Blob ids go in through a temp table: an IN list of thousands of parameters is slower
    # and can pass SQLite's variable limit.
    rows = _revisions_with_blobs(db, hit_blobs, page_id)
    hit_revs: dict[int, set[int]] = {}
    last_blob: dict[int, tuple[tuple[str, int], int]] = {}
    for rev_id, pid, timestamp, revid, blob_id in rows:
        hit_revs.setdefault(pid, set()).add(rev_id)
        if (timestamp, revid) >= last_blob.get(pid, (("", -1), 0))[0]:
            last_blob[pid] = ((timestamp, revid), blob_id)
    text_of: Callable[[int], str] = getattr(source, "blob", None) or (
        lambda blob_id: _blob_text(db, blob_id))
    phrases = query_phrases(query)
    results: list[PageHits] = []
    for pid in sorted(hit_revs):
        pages = list(db.query("SELECT p.*, w.name AS wiki FROM pages p JOIN wikis w ON "
                              "w.id = p.wiki_id WHERE p.id = ?", [pid]))
        if not pages:
            continue
        hits = PageHits(pages[0])
        _presence(db, hits, hit_revs[pid], max_runs)
        if snippets is None or len(results) < snippets:
            blob_id = last_blob[pid][1]
            hits.snippet = snippet(text_of(blob_id), phrases)
            if not any(is_hit for _, is_hit in hits.snippet):
                log.warning("search: blob %d matched %s but the text has no such words",
                            blob_id, query)
        results.append(hits)
    return results


def _blob_text(db: sqlite_utils.Database, blob_id: int) -> str:
    row = db.execute("SELECT data FROM blobs WHERE id = ?", [blob_id]).fetchone()
    return zlib.decompress(row[0]).decode("utf-8") if row else ""


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
        "SELECT rs.rev_id, r.page_id, r.timestamp, r.revid, rs.blob_id FROM temp.search_hits h "
        "JOIN revision_sections rs ON rs.blob_id = h.blob_id "
        f"JOIN revisions r ON r.id = rs.rev_id{where}", params).fetchall()
    conn.execute("DELETE FROM temp.search_hits")
    return rows


def _presence(db: sqlite_utils.Database, hits: PageHits, rev_ids: set[int],
              max_runs: int) -> None:
    """Walk the page's revisions in history order and cut them into stretches with the phrase.

    Revisions whose text is hidden say nothing either way and are skipped, so hiding one
    revision does not split a stretch in two.
    """
    cursor = db.execute(
        "SELECT id, revid, timestamp, user, userhidden FROM revisions "
        "WHERE page_id = ? AND has_text = 1 ORDER BY timestamp, revid", [hits.page["id"]])
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


# --- snippets ------------------------------------------------------------------------------


def snippet(text: str, phrases: list[list[str]],
            tokens: int = SNIPPET_TOKENS) -> list[tuple[str, bool]]:
    """An excerpt of ``text`` around the phrases (`query_phrases`), as (text, is_hit) pieces.

    FTS5's ``snippet(t, col, open, close, '…', tokens)`` in Python, for a contentless index:
    the window of ``tokens`` tokens scoring best (1000 for each phrase it shows, 1 for each
    further instance; +100 for starting a sentence, +120 the text), each phrase instance
    marked whole, "…" where the window cuts the text. No instance: the start of the text.
    """
    toks = TOKENIZER.tokens(text)
    size = len(toks)
    insts = _instances([folded for _, _, folded in toks], phrases)
    lengths = [len(p) for p in phrases]
    positions = [pos for pos, _ in insts]

    def score(start: int, seen: set[int]) -> tuple[int, int, int]:
        total, first, last = 0, -1, 0
        for i in range(bisect.bisect_left(positions, start),
                       bisect.bisect_left(positions, start + tokens)):
            pos, phrase = insts[i]
            total += 1 if phrase in seen else 1000
            seen.add(phrase)
            if first < 0:
                first = pos
            last = pos + lengths[phrase]
        return total, first, last

    firsts = _sentence_starts(text, toks)
    best_score, best_start = 0, 0
    for pos, _ in insts:
        total, first, last = score(pos, set())
        if total > best_score:
            adjusted = first - int((tokens - (last - first)) / 2)
            adjusted = max(0, min(adjusted, size - tokens))
            best_score, best_start = total, adjusted
        if firsts and size > tokens:
            k = max(0, bisect.bisect_right(firsts, pos) - 1)
            if firsts[k] < pos:
                total = score(firsts[k], set())[0] + (120 if firsts[k] == 0 else 100)
                if total > best_score:
                    best_score, best_start = total, firsts[k]
    return _cut(text, toks, _coalesce(insts, lengths), best_start, best_start + tokens - 1)


def _instances(folded: list[str], phrases: list[list[str]]) -> list[tuple[int, int]]:
    """(position, phrase index) of every instance of each phrase, by position."""
    found = []
    for index, words in enumerate(phrases):
        if not words:
            continue
        head, width = words[0], len(words)
        found += [(pos, index) for pos, token in enumerate(folded)
                  if token == head and folded[pos:pos + width] == words]
    found.sort()
    return found


def _sentence_starts(text: str, toks: list[tuple[int, int, str]]) -> list[int]:
    """Positions of tokens starting a sentence: the first, and each after ". " or ": "."""
    starts = [0] if toks else []
    for pos in range(1, len(toks)):
        i = toks[pos][0] - 1
        while i >= 0 and text[i] in " \t\n\r":
            i -= 1
        if i != toks[pos][0] - 1 and i >= 0 and text[i] in ".:":
            starts.append(pos)
    return starts


def _coalesce(insts: list[tuple[int, int]], lengths: list[int]) -> list[tuple[int, int]]:
    """Instances as (first, last) token positions, overlapping ones merged."""
    merged: list[tuple[int, int]] = []
    for pos, phrase in insts:
        end = pos + lengths[phrase] - 1
        if merged and pos <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((pos, end))
    return merged


def _cut(text: str, toks: list[tuple[int, int, str]], marks: list[tuple[int, int]],
         first: int, last: int) -> list[tuple[str, bool]]:
    """Tokens ``first``..``last`` of ``text`` with the ``marks`` in them, as FTS5 highlights:
    a mark starting before the window is not shown; one cut by its end closes there."""
    pieces: list[tuple[str, bool]] = []
    if first > 0:
        pieces.append((ELLIPSIS, False))
    marks = [m for m in marks if m[0] >= first]
    mark = 0
    offset = toks[first][0] if first > 0 and first < len(toks) else 0
    open_ = False
    for pos in range(first, min(last, len(toks) - 1) + 1):
        start, end, _ = toks[pos]
        if mark < len(marks) and pos == marks[mark][0]:
            pieces.append((text[offset:start], False))
            offset, open_ = start, True
        if mark < len(marks) and pos == marks[mark][1]:
            pieces.append((text[offset:end], True))
            offset, open_ = end, False
            mark += 1
        if pos == last:
            pieces.append((text[offset:end], open_))
            offset = end
    if last >= len(toks) - 1:
        pieces.append((text[offset:], False))
    else:
        pieces.append((ELLIPSIS, False))
    merged: list[tuple[str, bool]] = []
    for piece, is_hit in pieces:
        if not piece:
            continue
        if merged and merged[-1][1] == is_hit:
            merged[-1] = (merged[-1][0] + piece, is_hit)
        else:
            merged.append((piece, is_hit))
    return merged
