"""Pages: a wiki page by its page id (``pages``), with every title it has had
(``page_titles``)."""

from __future__ import annotations

import sqlite3

from tracker.errors import AmbiguousTitle
from tracker.store.base import Connection
from tracker.store.encoding import utcnow

_WITH_WIKI = "SELECT p.*, w.name AS wiki, w.api_url FROM pages p JOIN wikis w ON w.id = p.wiki_id"


class Pages(Connection):
    def page(self, page_id: int) -> dict | None:
        return self.one("SELECT * FROM pages WHERE id = ?", [page_id])

    def page_by_pageid(self, wiki_id: int, pageid: int) -> dict | None:
        """A stored page by the wiki's own page id."""
        return self.one("SELECT * FROM pages WHERE wiki_id = ? AND pageid = ?", [wiki_id, pageid])

    def page_with_wiki(self, page_id: int) -> dict | None:
        """A stored page with its wiki's ``wiki`` (name) and ``api_url``."""
        return self.one(f"{_WITH_WIKI} WHERE p.id = ?", [page_id])

    def pages_with_watches(self) -> list[dict]:
        """Every stored page with its wiki's ``wiki`` (name) and ``api_url`` and its watch's
        ``watch_status``, ``last_poll`` and ``last_error``, by title."""
        return self.query(
            "SELECT p.*, w.name AS wiki, w.api_url, wa.status AS watch_status, "
            "wa.last_poll, wa.last_error FROM pages p JOIN wikis w ON w.id = p.wiki_id "
            "LEFT JOIN watches wa ON wa.page_id = p.id GROUP BY p.id ORDER BY p.title, w.name"
        )

    def find_page(self, title: str, wiki: str | None = None) -> dict | None:
        """A stored page by its current title, or by any former title, with its wiki's name
        as ``wiki``. A title stored on several wikis (none named) is AmbiguousTitle."""
        where, params = "", [title]
        if wiki:
            where, params = " AND w.name = ?", [title, wiki]
        rows = self.query(
            "SELECT p.*, w.name AS wiki FROM pages p JOIN wikis w ON w.id = p.wiki_id "
            f"WHERE p.title = ?{where} ORDER BY p.id",
            params,
        )
        if not rows:
            rows = self.query(
                "SELECT p.*, w.name AS wiki FROM page_titles t JOIN pages p ON p.id = t.page_id "
                f"JOIN wikis w ON w.id = p.wiki_id WHERE t.title = ?{where} ORDER BY p.id",
                params,
            )
        wikis = sorted({row["wiki"] for row in rows})
        if len(wikis) > 1:
            raise AmbiguousTitle(title, wikis)
        return rows[0] if rows else None

    def upsert_page(
        self, wiki_id: int, pageid: int, title: str, ns: int = 0, content_model: str | None = None
    ) -> dict:
        """The page with this wiki page id; a new title is recorded in its title history."""
        now = utcnow()
        page = self.page_by_pageid(wiki_id, pageid)
        if page is None:
            cursor = self.db.execute(
                "INSERT INTO pages (wiki_id, pageid, ns, title, content_model, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [wiki_id, pageid, ns, title, content_model, now],
            )
            page_id = int(cursor.lastrowid or 0)
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

    def mark_page_deleted(self, page_id: int, when: str) -> None:
        """The wiki deleted the page; its stored history stays."""
        self.db.execute("UPDATE pages SET deleted_at = ? WHERE id = ?", [when, page_id])

    def mark_backfilled(self, page_id: int, when: str, *, checked: bool) -> None:
        """The page's first backfill is complete (``checked``: it was its whole history, so
        its revision list is the wiki's as of now)."""
        self.db.execute(
            "UPDATE pages SET backfilled_at = ?, checked_at = ?, backfill_pid = NULL WHERE id = ?",
            [when, when if checked else None, page_id],
        )

    def start_backfill(self, page_id: int, total: int | None, pid: int) -> None:
        """Process ``pid`` fetches the page's history: ``total`` revisions when complete."""
        self.db.execute(
            "UPDATE pages SET backfill_total = COALESCE(?, backfill_total), backfill_pid = ? "
            "WHERE id = ?",
            [total, pid, page_id],
        )

    def backfill_state(self, page_id: int) -> dict | None:
        """An unfinished backfill: ``stored`` revisions of ``total`` (None: not known),
        ``pid`` (the process fetching it, or that did) and ``last_stored`` (when the last
        batch was stored); None when the page's history is complete."""
        try:
            row = self.one(
                "SELECT backfilled_at, backfill_total AS total, backfill_pid AS pid, "
                "(SELECT count(*) FROM revisions WHERE page_id = p.id) AS stored, "
                "(SELECT max(ingested_at) FROM revisions WHERE page_id = p.id) AS last_stored "
                "FROM pages p WHERE id = ?",
                [page_id],
            )
        except sqlite3.OperationalError:  # a database not migrated yet, opened read-only
            return None
        if row is None or row["backfilled_at"] is not None:
            return None
        del row["backfilled_at"]
        return row

    def mark_imported(self, page_id: int, when: str) -> None:
        """An export brought the page's history in: backfilled, if it was not already."""
        self.db.execute(
            "UPDATE pages SET backfilled_at = COALESCE(backfilled_at, ?) WHERE id = ?",
            [when, page_id],
        )

    def mark_checked(self, page_id: int, when: str) -> None:
        """The page's whole revision list was compared with the wiki's at ``when``."""
        self.db.execute("UPDATE pages SET checked_at = ? WHERE id = ?", [when, page_id])

    def wiki_pageids(self, wiki_id: int) -> dict[int, int]:
        """Each stored page of a wiki: its row id -> the wiki's page id."""
        return dict(
            self.db.execute("SELECT id, pageid FROM pages WHERE wiki_id = ?", [wiki_id]).fetchall()
        )

    def pages_never_fetched(self, wiki_id: int) -> dict[int, dict]:
        """The wiki's stored pages with no revision yet and no backfill done (a watch set's
        new pages), by row id."""
        return {
            row["id"]: row
            for row in self.query(
                "SELECT * FROM pages WHERE wiki_id = ? AND last_revid IS NULL "
                "AND backfilled_at IS NULL",
                [wiki_id],
            )
        }
