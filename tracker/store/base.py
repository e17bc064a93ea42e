"""The connection under every part of the store: opening the database, transactions, queries.

`Connection` is the base of each part of ``Store`` (wikis, pages, watches, revisions, texts,
diffs: one module each) and of nothing else; `Store` (db.py) joins the parts and migrates.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from tracker.errors import NoDatabase, StoreError
from tracker.store.blobs import BlobReader, Versions
from tracker.text.siteinfo import SiteInfo

BUSY_TIMEOUT_MS = 10_000
# The page size of a new database. SQLite's default (4096) leaves each of the ~40 tables and
# indexes a mostly empty page or more: a page with a short history took 126 % of its raw
# wikitext, 77 % with 1024-byte pages; long histories are the same size and as fast either
# way (bench/bench_real.py). An existing database keeps its page size.
PAGE_SIZE = 1024


def store_error_message(exc: sqlite3.DatabaseError, path: Path | str, batch: bool = False) -> str:
    """One line saying what is wrong with the database and what to do."""
    message = str(exc)
    nothing = " (nothing of this batch was written)" if batch else ""
    if "full" in message:
        return f"the disk holding {path} is full: free some space and run again{nothing}"
    if "locked" in message or "busy" in message:
        return (
            f"{path} is locked by another process for more than "
            f"{BUSY_TIMEOUT_MS // 1000} s; try again{nothing}"
        )
    if "readonly" in message or "read-only" in message:
        return (
            f"{path} cannot be written (a read-only file or folder): fix its permissions{nothing}"
        )
    if "malformed" in message or "not a database" in message or "corrupt" in message:
        return (
            f"{path} is damaged ({message}): restore it from a backup, or check it with "
            "`sqlite3 FILE 'PRAGMA integrity_check'`"
        )
    return f"database error in {path}: {message}{nothing}"


class Connection:
    """One SQLite database. Cheap to open; safe beside a daemon writing (WAL, busy timeout)."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.exists():
                    raise NoDatabase(self.path)
                uri = f"file:{self.path}?mode=ro"
                conn = sqlite3.connect(
                    uri,
                    uri=True,
                    check_same_thread=False,
                    timeout=BUSY_TIMEOUT_MS / 1000,
                    isolation_level=None,
                )
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                # Autocommit: transactions are only the explicit ones of atomic(), never one
                # that the sqlite3 module opens by itself and leaves open.
                conn = sqlite3.connect(
                    str(self.path),
                    check_same_thread=False,
                    timeout=BUSY_TIMEOUT_MS / 1000,
                    isolation_level=None,
                )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db = sqlite_utils.Database(conn)
            if not readonly:
                if not conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone():
                    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new database
                self.db.enable_wal()
                self.db.execute("PRAGMA synchronous = NORMAL")
                self.db.execute("PRAGMA foreign_keys = ON")
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the database: {store_error_message(exc, self.path)}"
            ) from None
        # Caches of the parts, per connection: section texts (texts.py) and what wikitext
        # means on each wiki (wikis.py).
        self._blobs = BlobReader(conn, self.path)
        self._versions = Versions(conn)
        self._paths: dict[str, int] = {}  # heading path (JSON) -> its id (diffs.py)
        self._sites: dict[int, SiteInfo] = {}

    def close(self) -> None:
        self.db.conn.close()

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction (a savepoint when nested); database errors become StoreError.

        The outermost one takes the write lock up front (BEGIN IMMEDIATE), waiting up to the
        busy timeout for another writer: a deferred BEGIN would take it at its first write
        and fail at once if another connection had committed since its first read.
        """
        conn = self.db.conn
        try:
            if conn.in_transaction:
                with self.db.atomic():  # a savepoint
                    yield
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
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
            self._forget_uncommitted()
            raise StoreError(store_error_message(exc, self.path, batch=True)) from None
        except BaseException:
            self._forget_uncommitted()
            raise

    def _forget_uncommitted(self) -> None:
        """After a rollback: what the caches learnt in it may name rows that are gone (and
        whose ids the next rows will take)."""
        self._blobs.clear()
        self._versions.clear()
        self._paths.clear()

    def has_table(self, name: str) -> bool:
        """Whether the database has this table (one a read-only store of an older version
        may lack: its migrations have not run)."""
        return name in self.db.table_names()

    # Raw SQL: for the store's own modules, and for tests that look at what is stored.

    def query(self, sql: str, params: Any = None) -> list[dict]:
        return list(self.db.query(sql, params or []))

    def one(self, sql: str, params: Any = None) -> dict | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Any = None) -> Any:
        row = self.db.execute(sql, params or []).fetchone()
        return row[0] if row else None
