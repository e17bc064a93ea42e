"""The SQLite store: schema, migrations, and the reads and writes the pipeline needs.

Content is kept once per distinct *section* text, zlib-compressed, in ``blobs``; a revision
is an ordered list of blob ids (``revision_sections``), so a revert or an edit to one
section adds at most one new blob. Joining a revision's sections gives its text back byte
for byte.

Writes happen in batches inside ``Store.atomic()``: a killed process leaves either the whole
batch or none of it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from tracker.errors import StoreError
from tracker.model import Revision
from tracker.text import reverts
from tracker.text.siteinfo import SiteInfo

BUSY_TIMEOUT_MS = 10_000


def utcnow() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- schema --------------------------------------------------------------------------------
# Each migration runs once, in order, recorded in _migrations (the sqlite-migrate idea).
# Append new steps; never edit an applied one.


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE wikis (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            api_url TEXT,
            snapshot TEXT,
            last_ok TEXT,
            last_error TEXT,
            last_error_at TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            unreachable_since TEXT
        );
        CREATE TABLE pages (
            id INTEGER PRIMARY KEY,
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            pageid INTEGER NOT NULL,
            ns INTEGER NOT NULL DEFAULT 0,
            title TEXT NOT NULL,
            content_model TEXT,
            redirect_to TEXT,
            deleted_at TEXT,
            last_revid INTEGER,
            created_at TEXT NOT NULL,
            UNIQUE (wiki_id, pageid)
        );
        CREATE INDEX pages_title ON pages (wiki_id, title);
        CREATE TABLE page_titles (
            page_id INTEGER NOT NULL REFERENCES pages(id),
            title TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            PRIMARY KEY (page_id, title)
        ) WITHOUT ROWID;
        CREATE TABLE watches (
            id INTEGER PRIMARY KEY,
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            title TEXT NOT NULL,
            page_id INTEGER REFERENCES pages(id),
            status TEXT NOT NULL DEFAULT 'new',
            last_poll TEXT,
            next_poll REAL,
            last_change TEXT,
            last_error TEXT,
            last_error_at TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            added_at TEXT NOT NULL,
            UNIQUE (wiki_id, title)
        );
        CREATE TABLE blobs (
            id INTEGER PRIMARY KEY,
            hash BLOB NOT NULL UNIQUE,
            data BLOB NOT NULL
        );
        CREATE TABLE revisions (
            id INTEGER PRIMARY KEY,
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            page_id INTEGER NOT NULL REFERENCES pages(id),
            revid INTEGER NOT NULL,
            parentid INTEGER NOT NULL DEFAULT 0,
            timestamp TEXT NOT NULL,
            user TEXT,
            userid INTEGER,
            comment TEXT,
            minor INTEGER NOT NULL DEFAULT 0,
            tags TEXT,
            size INTEGER NOT NULL DEFAULT 0,
            sha1 TEXT,
            texthidden INTEGER NOT NULL DEFAULT 0,
            userhidden INTEGER NOT NULL DEFAULT 0,
            commenthidden INTEGER NOT NULL DEFAULT 0,
            sha1hidden INTEGER NOT NULL DEFAULT 0,
            content_model TEXT NOT NULL DEFAULT 'wikitext',
            content_format TEXT,
            has_text INTEGER NOT NULL DEFAULT 0,
            revert_of INTEGER,
            reverted_by INTEGER,
            ingested_at TEXT NOT NULL,
            UNIQUE (wiki_id, revid)
        );
        CREATE INDEX revisions_page ON revisions (page_id, revid);
        CREATE INDEX revisions_sha1 ON revisions (page_id, sha1);
        CREATE TABLE revision_sections (
            rev_id INTEGER NOT NULL REFERENCES revisions(id),
            idx INTEGER NOT NULL,
            blob_id INTEGER NOT NULL REFERENCES blobs(id),
            section_id TEXT NOT NULL,
            PRIMARY KEY (rev_id, idx)
        ) WITHOUT ROWID;
        CREATE INDEX revision_sections_blob ON revision_sections (blob_id);
        CREATE TABLE diffs (
            to_rev INTEGER PRIMARY KEY REFERENCES revisions(id),
            from_rev INTEGER REFERENCES revisions(id),
            data BLOB NOT NULL
        );
        CREATE TABLE section_changes (
            rev_id INTEGER NOT NULL REFERENCES revisions(id),
            section_id TEXT NOT NULL,
            kinds TEXT NOT NULL,
            path TEXT NOT NULL,
            words_added INTEGER NOT NULL,
            words_removed INTEGER NOT NULL,
            PRIMARY KEY (rev_id, section_id)
        ) WITHOUT ROWID;
        CREATE INDEX section_changes_section ON section_changes (section_id);
        CREATE TABLE poll_runs (
            id INTEGER PRIMARY KEY,
            wiki_id INTEGER NOT NULL REFERENCES wikis(id),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            requests INTEGER NOT NULL DEFAULT 0,
            pages_checked INTEGER NOT NULL DEFAULT 0,
            revisions_added INTEGER NOT NULL DEFAULT 0,
            errors TEXT
        );
        """
    )


def _m040_history_order(db: sqlite_utils.Database) -> None:
    """History order is MediaWiki's (timestamp, then revision id), not the revision id:
    index it; sizes may be unknown (NULL, never the dumps' -1); revisions the wiki deleted
    later are marked; each page can say where its derived data (section ids, stored diffs)
    must be worked out again; each wiki keeps its siteinfo and how far its log was read.
    Derived data that followed id order is re-derived (tracker.rederive)."""
    db.execute("CREATE INDEX IF NOT EXISTS revisions_history "
               "ON revisions (page_id, timestamp, revid)")
    db["revisions"].transform(not_null={"size": False}, defaults={"size": None})
    db.execute("UPDATE revisions SET size = NULL WHERE size < 0")
    db.execute("ALTER TABLE revisions ADD COLUMN deleted_at TEXT")
    # A revision over the wiki's max_revision_size: its metadata without its text.
    db.execute("ALTER TABLE revisions ADD COLUMN toolarge INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE pages ADD COLUMN rederive_from INTEGER")
    db.execute("ALTER TABLE pages ADD COLUMN checked_at TEXT")
    # When the page's first backfill was complete; until then digests leave it out.
    db.execute("ALTER TABLE pages ADD COLUMN backfilled_at TEXT")
    db.execute("UPDATE pages SET backfilled_at = created_at")
    db.execute("ALTER TABLE wikis ADD COLUMN siteinfo TEXT")
    db.execute("ALTER TABLE wikis ADD COLUMN siteinfo_at TEXT")
    db.execute("ALTER TABLE wikis ADD COLUMN log_checked_at TEXT")
    for (page_id,) in db.execute("SELECT id FROM pages").fetchall():
        by_id = [row[0] for row in db.execute(
            "SELECT revid FROM revisions WHERE page_id = ? ORDER BY revid", [page_id])]
        in_order = [row[0] for row in db.execute(
            f"SELECT revid FROM revisions WHERE page_id = ? ORDER BY {HISTORY}", [page_id])]
        first = next((b for a, b in zip(by_id, in_order, strict=True) if a != b), None)
        if first is not None:
            # Section ids and stored diffs followed id order from here: derive them again.
            db.execute("UPDATE pages SET rederive_from = ? WHERE id = ?", [first, page_id])
        if in_order:  # the latest in history order, no longer the highest id
            db.execute("UPDATE pages SET last_revid = ? WHERE id = ?", [in_order[-1], page_id])
        _store_reverts(db, page_id)  # MediaWiki's radius, in history order


MIGRATIONS: list[tuple[str, Callable[[sqlite_utils.Database], None]]] = [
    ("001_initial", _m001_initial),
    ("040_history_order", _m040_history_order),
]


def register_migration(name: str, step: Callable[[sqlite_utils.Database], None]) -> None:
    """Add a step (kept in name order); registering the same name again does nothing."""
    if name not in (n for n, _ in MIGRATIONS):
        MIGRATIONS.append((name, step))
        MIGRATIONS.sort(key=lambda item: item[0])


def all_migrations() -> list[tuple[str, Callable[[sqlite_utils.Database], None]]]:
    """Every schema step of the pipeline, in order: the store's own, then the tables of the
    later stages (digests, the daemon's jobs, the search index), defined beside the code
    that uses them."""
    from tracker.store import digests as digest_store
    from tracker.store import jobs as daemon_store
    from tracker.web import search

    register_migration(*digest_store.MIGRATION)
    daemon_store.register()
    register_migration(*search.MIGRATION)
    return MIGRATIONS


# MediaWiki's history order (action=history, prop=revisions, XML exports): by timestamp,
# then revision id. Revision ids are not in time order on real wikis (imports, undeletions).
HISTORY = "timestamp, revid"
HISTORY_DESC = "timestamp DESC, revid DESC"


def _store_reverts(db: sqlite_utils.Database, page_id: int) -> None:
    """Work out the reverts of a page's whole stored history again (metadata only)."""
    rows = db.execute(f"SELECT id, revid, sha1, tags FROM revisions WHERE page_id = ? "
                      f"ORDER BY {HISTORY}", [page_id]).fetchall()
    history = [reverts.Rev(revid, sha1, tuple(json.loads(tags)) if tags else ())
               for _id, revid, sha1, tags in rows]
    revert_of, reverted_by = reverts.detect(history)
    db.conn.executemany(
        "UPDATE revisions SET revert_of = ?, reverted_by = ? WHERE id = ?",
        [(revert_of.get(revid), reverted_by.get(revid), rev_id)
         for rev_id, revid, _sha1, _tags in rows])


def store_error_message(exc: sqlite3.DatabaseError, path: Path | str, batch: bool = False) -> str:
    """One line saying what is wrong with the database and what to do."""
    message = str(exc)
    nothing = " (nothing of this batch was written)" if batch else ""
    if "full" in message:
        return f"the disk holding {path} is full: free some space and run again{nothing}"
    if "locked" in message or "busy" in message:
        return (f"{path} is locked by another process for more than "
                f"{BUSY_TIMEOUT_MS // 1000} s; try again{nothing}")
    if "readonly" in message or "read-only" in message:
        return (f"{path} cannot be written (a read-only file or folder): fix its permissions"
                f"{nothing}")
    if "malformed" in message or "not a database" in message or "corrupt" in message:
        return (f"{path} is damaged ({message}): restore it from a backup, or check it with "
                "`sqlite3 FILE 'PRAGMA integrity_check'`")
    return f"database error in {path}: {message}{nothing}"


def compress(text: str) -> bytes:
    return zlib.compress(text.encode("utf-8"), 9)


def decompress(data: bytes) -> str:
    return zlib.decompress(data).decode("utf-8")


def _text_hash(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


class Store:
    """One SQLite database. Cheap to open; safe beside a daemon writing (WAL, busy timeout)."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        try:
            if readonly:
                if not self.path.exists():
                    raise StoreError(
                        f"no database at {self.path}: run `tracker run --once` first"
                    )
                uri = f"file:{self.path}?mode=ro"
                conn = sqlite3.connect(uri, uri=True, check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # Autocommit: transactions are only the explicit ones of atomic(), never one
                # that the sqlite3 module opens by itself and leaves open.
                conn = sqlite3.connect(str(self.path), check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db = sqlite_utils.Database(conn)
            if not readonly:
                self.db.enable_wal()
                self.db.execute("PRAGMA synchronous = NORMAL")
                self.db.execute("PRAGMA foreign_keys = ON")
                self.migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the database: {store_error_message(exc, self.path)}"
                             ) from None
        self._blob_cache: OrderedDict[int, str] = OrderedDict()
        self._sites: dict[int, SiteInfo] = {}

    def close(self) -> None:
        self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ---------------------------------------------------------------------------

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; return their names.

        One transaction holding the write lock: two processes opening a new or old
        database at once migrate it once, the second waiting for the first.
        """
        applied = []
        with self.atomic():
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
            done = {row[0] for row in self.db.execute("SELECT name FROM _migrations")}
            for name, step in all_migrations():
                if name in done:
                    continue
                step(self.db)
                self.db.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", [name, utcnow()])
                applied.append(name)
        return applied

    @contextmanager
    def atomic(self) -> Iterator[Store]:
        """One transaction (a savepoint when nested); database errors become StoreError.

        The outermost one takes the write lock up front (BEGIN IMMEDIATE), waiting up to the
        busy timeout for another writer: a deferred BEGIN would take it at its first write
        and fail at once if another connection had committed since its first read.
        """
        conn = self.db.conn
        try:
            if conn.in_transaction:
                with self.db.atomic():  # a savepoint
                    yield self
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise StoreError(store_error_message(exc, self.path, batch=True)) from None

    def query(self, sql: str, params: Any = None) -> list[dict]:
        return list(self.db.query(sql, params or []))

    def one(self, sql: str, params: Any = None) -> dict | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Any = None) -> Any:
        row = self.db.execute(sql, params or []).fetchone()
        return row[0] if row else None

    # --- wikis, pages, watches ------------------------------------------------------------

    def wiki_id(self, name: str, api_url: str | None = None, snapshot: str | None = None) -> int:
        row = self.one("SELECT id FROM wikis WHERE name = ?", [name])
        if row:
            if api_url is not None or snapshot is not None:
                self.db.execute(
                    "UPDATE wikis SET api_url = ?, snapshot = ? WHERE id = ?",
                    [api_url, snapshot, row["id"]],
                )
            return row["id"]
        with self.atomic():  # (another process may have added it since: then it is used)
            self.db.execute("INSERT OR IGNORE INTO wikis (name, api_url, snapshot) "
                            "VALUES (?, ?, ?)", [name, api_url, snapshot])
        return int(self.scalar("SELECT id FROM wikis WHERE name = ?", [name]))

    def site_info(self, wiki_id: int) -> SiteInfo:
        """What wikitext means on this wiki (namespaces, interwiki, tags), as its source
        last said; English Wikipedia's until it has said."""
        site = self._sites.get(wiki_id)
        if site is None:
            raw = self.scalar("SELECT siteinfo FROM wikis WHERE id = ?", [wiki_id])
            site = SiteInfo.from_json(raw) if raw else SiteInfo.default()
            self._sites[wiki_id] = site
        return site

    def site_info_age(self, wiki_id: int) -> str | None:
        return self.scalar("SELECT siteinfo_at FROM wikis WHERE id = ?", [wiki_id])

    def set_site_info(self, wiki_id: int, site: SiteInfo) -> None:
        self.db.execute("UPDATE wikis SET siteinfo = ?, siteinfo_at = ? WHERE id = ?",
                        [site.to_json(), utcnow(), wiki_id])
        self._sites[wiki_id] = site

    def watch(self, wiki_id: int, title: str) -> dict:
        row = self.one("SELECT * FROM watches WHERE wiki_id = ? AND title = ?", [wiki_id, title])
        if row:
            return row
        with self.atomic():
            self.db.execute(
                "INSERT OR IGNORE INTO watches (wiki_id, title, added_at) VALUES (?, ?, ?)",
                [wiki_id, title, utcnow()],
            )
        row = self.one("SELECT * FROM watches WHERE wiki_id = ? AND title = ?", [wiki_id, title])
        assert row is not None
        return row

    def update_watch(self, watch_id: int, **values: Any) -> None:
        sets = ", ".join(f"{key} = ?" for key in values)
        self.db.execute(f"UPDATE watches SET {sets} WHERE id = ?", [*values.values(), watch_id])

    def page_by_pageid(self, wiki_id: int, pageid: int) -> dict | None:
        return self.one("SELECT * FROM pages WHERE wiki_id = ? AND pageid = ?", [wiki_id, pageid])

    def page(self, page_id: int) -> dict | None:
        return self.one("SELECT * FROM pages WHERE id = ?", [page_id])

    def upsert_page(self, wiki_id: int, pageid: int, title: str, ns: int = 0,
                    content_model: str | None = None) -> dict:
        """The page with this wiki page id; a new title is recorded in its title history."""
        now = utcnow()
        page = self.page_by_pageid(wiki_id, pageid)
        if page is None:
            cursor = self.db.execute(
                "INSERT INTO pages (wiki_id, pageid, ns, title, content_model, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [wiki_id, pageid, ns, title, content_model, now],
            )
            page_id = int(cursor.lastrowid)
        else:
            page_id = page["id"]
            if page["title"] != title or page["deleted_at"]:
                self.db.execute(
                    "UPDATE pages SET title = ?, deleted_at = NULL WHERE id = ?", [title, page_id]
                )
        self.db.execute(
            "INSERT OR IGNORE INTO page_titles (page_id, title, first_seen) VALUES (?, ?, ?)",
            [page_id, title, now],
        )
        result = self.page(page_id)
        assert result is not None
        return result

    def find_page(self, title: str, wiki: str | None = None) -> dict | None:
        """A stored page by its current title, or by any former title."""
        where, params = "", [title]
        if wiki:
            where, params = " AND w.name = ?", [title, wiki]
        rows = self.query(
            "SELECT p.*, w.name AS wiki FROM pages p JOIN wikis w ON w.id = p.wiki_id "
            f"WHERE p.title = ?{where} ORDER BY p.id", params)
        if not rows:
            rows = self.query(
                "SELECT p.*, w.name AS wiki FROM page_titles t JOIN pages p ON p.id = t.page_id "
                f"JOIN wikis w ON w.id = p.wiki_id WHERE t.title = ?{where} ORDER BY p.id",
                params)
        if len({row["wiki"] for row in rows}) > 1:
            names = ", ".join(sorted({row["wiki"] for row in rows}))
            from tracker.errors import UsageError

            raise UsageError(f"{title!r} is tracked on several wikis ({names}): "
                             "pick one with --wiki")
        return rows[0] if rows else None

    # --- content --------------------------------------------------------------------------

    def put_blob(self, text: str) -> int:
        """Store a section text once; return its blob id."""
        digest = _text_hash(text)
        row = self.db.execute("SELECT id FROM blobs WHERE hash = ?", [digest]).fetchone()
        if row:
            return int(row[0])
        cursor = self.db.execute(
            "INSERT INTO blobs (hash, data) VALUES (?, ?)", [digest, compress(text)]
        )
        return int(cursor.lastrowid)

    def blob(self, blob_id: int) -> str:
        cached = self._blob_cache.get(blob_id)
        if cached is not None:
            self._blob_cache.move_to_end(blob_id)
            return cached
        row = self.db.execute("SELECT data FROM blobs WHERE id = ?", [blob_id]).fetchone()
        if row is None:
            raise StoreError(f"blob {blob_id} is missing from {self.path}: the store is damaged")
        text = decompress(row[0])
        self._blob_cache[blob_id] = text
        if len(self._blob_cache) > 2048:
            self._blob_cache.popitem(last=False)
        return text

    def revision_layout(self, rev_id: int) -> list[tuple[str, int]]:
        """(section id, blob id) of each section of a stored revision, in order."""
        rows = self.db.execute(
            "SELECT section_id, blob_id FROM revision_sections WHERE rev_id = ? ORDER BY idx",
            [rev_id],
        ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def revision_text(self, rev_id: int) -> str | None:
        """The full text of a stored revision, or None when hidden or not stored."""
        layout = self.revision_layout(rev_id)
        if not layout:
            row = self.one("SELECT has_text FROM revisions WHERE id = ?", [rev_id])
            return "" if row and row["has_text"] else None
        return "".join(self.blob(blob_id) for _, blob_id in layout)

    def section_ids(self, rev_id: int) -> list[str]:
        return [section_id for section_id, _ in self.revision_layout(rev_id)]

    # --- revisions ------------------------------------------------------------------------

    def revision(self, wiki_id: int | None, revid: int) -> dict | None:
        if wiki_id is None:
            rows = self.query(
                "SELECT r.*, p.title, w.name AS wiki FROM revisions r "
                "JOIN pages p ON p.id = r.page_id JOIN wikis w ON w.id = r.wiki_id "
                "WHERE r.revid = ?", [revid])
            if len(rows) > 1:
                from tracker.errors import UsageError

                raise UsageError(f"revision {revid} exists on several wikis: pick one with --wiki")
            return rows[0] if rows else None
        return self.one(
            "SELECT r.*, p.title, w.name AS wiki FROM revisions r "
            "JOIN pages p ON p.id = r.page_id JOIN wikis w ON w.id = r.wiki_id "
            "WHERE r.wiki_id = ? AND r.revid = ?", [wiki_id, revid])

    def revisions(self, page_id: int) -> list[dict]:
        """Every stored revision of a page, in MediaWiki's history order."""
        return self.query(f"SELECT * FROM revisions WHERE page_id = ? ORDER BY {HISTORY}",
                          [page_id])

    def latest_revision(self, page_id: int, with_text: bool = False) -> dict | None:
        """The last revision of a page in history order (with text: the last with text)."""
        extra = " AND has_text = 1" if with_text else ""
        return self.one(
            f"SELECT * FROM revisions WHERE page_id = ?{extra} ORDER BY {HISTORY_DESC} LIMIT 1",
            [page_id],
        )

    def revision_before(self, row: dict, with_text: bool = False) -> dict | None:
        """The revision right before a stored one in history order (with text: the last one
        before it that has its text)."""
        extra = " AND has_text = 1" if with_text else ""
        return self.one(
            f"SELECT * FROM revisions WHERE page_id = ? AND (timestamp, revid) < (?, ?){extra} "
            f"ORDER BY {HISTORY_DESC} LIMIT 1", [row["page_id"], row["timestamp"], row["revid"]])

    def revision_after(self, row: dict) -> dict | None:
        """The revision right after a stored one in history order."""
        return self.one(
            f"SELECT * FROM revisions WHERE page_id = ? AND (timestamp, revid) > (?, ?) "
            f"ORDER BY {HISTORY} LIMIT 1", [row["page_id"], row["timestamp"], row["revid"]])

    def revisions_between(self, page_id: int, after: dict | None, upto: dict | None = None,
                          limit: int | None = None) -> list[dict]:
        """The revisions after `after` (None: from the first) up to `upto` included (None: to
        the last), in history order."""
        where, params = ["page_id = ?"], [page_id]
        if after is not None:
            where.append("(timestamp, revid) > (?, ?)")
            params += [after["timestamp"], after["revid"]]
        if upto is not None:
            where.append("(timestamp, revid) <= (?, ?)")
            params += [upto["timestamp"], upto["revid"]]
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        return self.query(f"SELECT * FROM revisions WHERE {' AND '.join(where)} "
                          f"ORDER BY {HISTORY}{tail}", params)

    def recent_revisions(self, page_id: int, count: int) -> list[dict]:
        """The last `count` revisions of a page, in history order."""
        rows = self.query(f"SELECT * FROM revisions WHERE page_id = ? ORDER BY {HISTORY_DESC} "
                          "LIMIT ?", [page_id, count])
        rows.reverse()
        return rows

    def latest_with_sha1(self, page_id: int, sha1: str, before: Revision) -> int | None:
        """The last revision before `before` (in history order) with this content."""
        return self.scalar(
            f"SELECT revid FROM revisions WHERE page_id = ? AND sha1 = ? AND "
            f"(timestamp, revid) < (?, ?) ORDER BY {HISTORY_DESC} LIMIT 1",
            [page_id, sha1, before.timestamp, before.revid])

    def store_reverts(self, page_id: int) -> None:
        """Work out every revert of a page again from its stored history (metadata only)."""
        _store_reverts(self.db, page_id)

    def mark_rederive(self, page_id: int, revid: int) -> None:
        """Derived data (section ids, stored diffs) must be worked out again from `revid` on:
        kept in the page row, so that a killed process finishes the job on its next run."""
        row = self.one("SELECT p.rederive_from, r.timestamp, r.revid FROM pages p "
                       "LEFT JOIN revisions r ON r.page_id = p.id AND r.revid = p.rederive_from "
                       "WHERE p.id = ?", [page_id])
        new = self.one("SELECT timestamp, revid FROM revisions WHERE page_id = ? AND revid = ?",
                       [page_id, revid])
        assert new is not None
        if row and row["rederive_from"] is not None and row["timestamp"] is not None and \
                (row["timestamp"], row["revid"]) <= (new["timestamp"], new["revid"]):
            return
        self.db.execute("UPDATE pages SET rederive_from = ? WHERE id = ?", [revid, page_id])

    def refresh_last_revid(self, page_id: int) -> int | None:
        """Set and return the page's latest revision as the wiki has it: the last one in
        history order that the wiki has not deleted (what its status query reports)."""
        revid = self.scalar(f"SELECT revid FROM revisions WHERE page_id = ? AND deleted_at IS "
                            f"NULL ORDER BY {HISTORY_DESC} LIMIT 1", [page_id])
        self.db.execute("UPDATE pages SET last_revid = ? WHERE id = ?", [revid, page_id])
        return revid

    def pages_to_rederive(self) -> list[int]:
        return [row[0] for row in self.db.execute(
            "SELECT id FROM pages WHERE rederive_from IS NOT NULL ORDER BY id").fetchall()]

    def has_revision(self, wiki_id: int, revid: int) -> bool:
        return self.db.execute(
            "SELECT 1 FROM revisions WHERE wiki_id = ? AND revid = ?", [wiki_id, revid]
        ).fetchone() is not None

    def insert_revision(self, wiki_id: int, page_id: int, rev: Revision,
                        layout: list[tuple[str, int]] | None) -> int:
        """Insert one revision row and its sections (layout: section id, blob id)."""
        cursor = self.db.execute(
            """INSERT INTO revisions (wiki_id, page_id, revid, parentid, timestamp, user, userid,
                   comment, minor, tags, size, sha1, texthidden, userhidden, commenthidden,
                   sha1hidden, content_model, content_format, has_text, ingested_at, toolarge)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [wiki_id, page_id, rev.revid, rev.parentid, rev.timestamp, rev.user, rev.userid,
             rev.comment, int(rev.minor), json.dumps(list(rev.tags)) if rev.tags else None,
             rev.size, rev.sha1, int(rev.texthidden), int(rev.userhidden),
             int(rev.commenthidden), int(rev.sha1hidden), rev.content_model,
             rev.content_format, int(rev.text is not None), utcnow(), int(rev.toolarge)],
        )
        rev_id = int(cursor.lastrowid)
        if layout:
            self.db.conn.executemany(
                "INSERT INTO revision_sections (rev_id, idx, blob_id, section_id) "
                "VALUES (?, ?, ?, ?)",
                [(rev_id, i, blob_id, sid) for i, (sid, blob_id) in enumerate(layout)],
            )
        return rev_id

    # --- diffs ----------------------------------------------------------------------------

    def relabel_sections(self, rev_id: int, section_ids: list[str]) -> None:
        """Give a stored revision's sections other stable ids (same texts, same order)."""
        self.db.conn.executemany(
            "UPDATE revision_sections SET section_id = ? WHERE rev_id = ? AND idx = ?",
            [(sid, rev_id, idx) for idx, sid in enumerate(section_ids)])

    def drop_text(self, rev_id: int) -> None:
        """Forget a revision's text (the wiki hid it): its sections, its stored diff, and the
        section texts no other revision has (from the search index too)."""
        from tracker.web.search import forget_texts

        blob_ids = {row[0] for row in self.db.execute(
            "SELECT blob_id FROM revision_sections WHERE rev_id = ?", [rev_id]).fetchall()}
        self.db.execute("DELETE FROM revision_sections WHERE rev_id = ?", [rev_id])
        orphans = [b for b in sorted(blob_ids) if self.db.execute(
            "SELECT 1 FROM revision_sections WHERE blob_id = ? LIMIT 1", [b]).fetchone() is None]
        if orphans:
            forget_texts(self.db, [(b, self.blob(b)) for b in orphans])
            marks = ",".join("?" * len(orphans))
            self.db.execute(f"DELETE FROM blobs WHERE id IN ({marks})", orphans)
            for b in orphans:
                self._blob_cache.pop(b, None)
        self.db.execute("DELETE FROM section_changes WHERE rev_id = ?", [rev_id])
        self.db.execute("DELETE FROM diffs WHERE to_rev = ?", [rev_id])
        self.db.execute("UPDATE revisions SET has_text = 0 WHERE id = ?", [rev_id])

    def delete_diff(self, to_rev: int) -> None:
        self.db.execute("DELETE FROM section_changes WHERE rev_id = ?", [to_rev])
        self.db.execute("DELETE FROM diffs WHERE to_rev = ?", [to_rev])

    def put_diff(self, to_rev: int, from_rev: int | None, data: dict,
                 replace: bool = False) -> None:
        """Store the diff of a revision against the one before it with text; `replace`: it
        had one already (re-derived), whose section changes go."""
        if replace:
            self.db.execute("DELETE FROM section_changes WHERE rev_id = ?", [to_rev])
        self.db.execute(
            "INSERT OR REPLACE INTO diffs (to_rev, from_rev, data) VALUES (?, ?, ?)",
            [to_rev, from_rev, zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 9)],
        )
        rows = [
            (to_rev, s["id"], ",".join(s["kinds"]), json.dumps(s["path"], ensure_ascii=False),
             s.get("words_added", 0), s.get("words_removed", 0))
            for s in data.get("sections", []) if s.get("kinds")
        ]
        if rows:
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO section_changes (rev_id, section_id, kinds, path, "
                "words_added, words_removed) VALUES (?, ?, ?, ?, ?, ?)", rows)

    def stored_diff(self, to_rev: int) -> tuple[int | None, dict] | None:
        row = self.db.execute("SELECT from_rev, data FROM diffs WHERE to_rev = ?",
                              [to_rev]).fetchone()
        if row is None:
            return None
        return row[0], json.loads(zlib.decompress(row[1]))

    # --- poll runs ------------------------------------------------------------------------

    def start_poll_run(self, wiki_id: int) -> int:
        cursor = self.db.execute(
            "INSERT INTO poll_runs (wiki_id, started_at) VALUES (?, ?)", [wiki_id, utcnow()]
        )
        return int(cursor.lastrowid)

    def finish_poll_run(self, run_id: int, *, requests: int, pages_checked: int,
                        revisions_added: int, errors: list[str]) -> None:
        self.db.execute(
            "UPDATE poll_runs SET finished_at = ?, requests = ?, pages_checked = ?, "
            "revisions_added = ?, errors = ? WHERE id = ?",
            [utcnow(), requests, pages_checked, revisions_added,
             json.dumps(errors) if errors else None, run_id],
        )

    def record_wiki_result(self, wiki_id: int, error: str | None) -> None:
        now = utcnow()
        if error is None:
            self.db.execute(
                "UPDATE wikis SET last_ok = ?, error_count = 0, unreachable_since = NULL "
                "WHERE id = ?", [now, wiki_id])
        else:
            self.db.execute(
                "UPDATE wikis SET last_error = ?, last_error_at = ?, error_count = error_count + 1,"
                " unreachable_since = COALESCE(unreachable_since, ?) WHERE id = ?",
                [error, now, now, wiki_id])
