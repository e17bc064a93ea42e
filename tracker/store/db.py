"""The SQLite store: one database, migrated to the current schema, and what is kept in it.

`Store` joins the parts of the store, one module each, every one the only code that speaks
SQL to its tables: wikis (and poll runs), pages, watches, revisions, texts (each distinct
section text once, compressed), diffs (the section changes of each revision). The digests and the
daemon's jobs (digests.py, jobs.py) and the search index (search.py) are functions over a
Store. The schema is schema.py's one ordered list of migrations.

Writes happen in batches inside ``Store.atomic()``: a killed process leaves either the whole
batch or none of it.
"""

from __future__ import annotations

from pathlib import Path

from tracker.store.diffs import Diffs
from tracker.store.encoding import utcnow
from tracker.store.pages import Pages
from tracker.store.revisions import Revisions
from tracker.store.schema import MIGRATIONS
from tracker.store.texts import Texts
from tracker.store.users import Users
from tracker.store.watches import Watches
from tracker.store.watchsets import WatchSets
from tracker.store.wikis import Wikis


class Store(Wikis, Pages, Watches, WatchSets, Revisions, Texts, Diffs, Users):
    """One SQLite database. Cheap to open; safe beside a daemon writing (WAL, busy timeout).

    Opened writable, it is first migrated to the current schema; opened ``readonly``, it is
    read as it is (a missing database is a StoreError).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False):
        super().__init__(path, readonly=readonly)
        if not readonly:
            try:
                self.migrate()
            except BaseException:
                self.close()
                raise

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def migrate(self) -> list[str]:
        """Apply the migrations not yet applied; return their names.

        One transaction holding the write lock: two processes opening a new or old
        database at once migrate it once, the second waiting for the first.
        """
        applied = []
        with self.atomic():
            self.db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
            )
            done = {row[0] for row in self.db.execute("SELECT name FROM _migrations")}
            for name, step in MIGRATIONS:
                if name in done:
                    continue
                step(self.db)
                self.db.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", [name, utcnow()]
                )
                applied.append(name)
        return applied
