"""Wikis: each configured wiki's row (its health, its siteinfo, how far its log was read) and
the record of each poll run."""

from __future__ import annotations

import json

from tracker.store.base import Connection
from tracker.store.encoding import utcnow
from tracker.text.siteinfo import SiteInfo


class Wikis(Connection):
    def wiki_id(self, name: str, api_url: str | None = None, snapshot: str | None = None) -> int:
        """The id of the wiki with this name, added if new; a given api_url or snapshot is
        recorded."""
        row = self.one("SELECT id FROM wikis WHERE name = ?", [name])
        if row:
            if api_url is not None or snapshot is not None:
                self.db.execute(
                    "UPDATE wikis SET api_url = ?, snapshot = ? WHERE id = ?",
                    [api_url, snapshot, row["id"]],
                )
            return int(row["id"])
        with self.atomic():  # (another process may have added it since: then it is used)
            self.db.execute(
                "INSERT OR IGNORE INTO wikis (name, api_url, snapshot) VALUES (?, ?, ?)",
                [name, api_url, snapshot],
            )
        return int(self.scalar("SELECT id FROM wikis WHERE name = ?", [name]))

    def find_wiki_id(self, name: str) -> int | None:
        """The id of a stored wiki, or None when the store has no wiki of this name."""
        found = self.scalar("SELECT id FROM wikis WHERE name = ?", [name])
        return int(found) if found is not None else None

    def wiki(self, wiki_id: int) -> dict | None:
        """A stored wiki's row."""
        return self.one("SELECT * FROM wikis WHERE id = ?", [wiki_id])

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
        """When the wiki's siteinfo was last asked for (None: never)."""
        value = self.scalar("SELECT siteinfo_at FROM wikis WHERE id = ?", [wiki_id])
        return str(value) if value is not None else None

    def set_site_info(self, wiki_id: int, site: SiteInfo) -> None:
        self.db.execute(
            "UPDATE wikis SET siteinfo = ?, siteinfo_at = ? WHERE id = ?",
            [site.to_json(), utcnow(), wiki_id],
        )
        self._sites[wiki_id] = site

    def site_info_checked(self, wiki_id: int, when: str) -> None:
        """The wiki's siteinfo was asked for at ``when`` and had not changed."""
        self.db.execute("UPDATE wikis SET siteinfo_at = ? WHERE id = ?", [when, wiki_id])

    def log_checked_at(self, wiki_id: int) -> str | None:
        """When the wiki's log was last read (None: never)."""
        value = self.scalar("SELECT log_checked_at FROM wikis WHERE id = ?", [wiki_id])
        return str(value) if value is not None else None

    def set_log_checked_at(self, wiki_id: int, when: str) -> None:
        self.db.execute("UPDATE wikis SET log_checked_at = ? WHERE id = ?", [when, wiki_id])

    def wiki_failures(self, wiki_id: int) -> int:
        """How many polls of the wiki in a row failed as a whole."""
        return int(self.scalar("SELECT error_count FROM wikis WHERE id = ?", [wiki_id]) or 0)

    def record_wiki_result(self, wiki_id: int, error: str | None) -> None:
        """A poll of the wiki as a whole worked (None) or failed with this error."""
        now = utcnow()
        if error is None:
            self.db.execute(
                "UPDATE wikis SET last_ok = ?, error_count = 0, unreachable_since = NULL "
                "WHERE id = ?",
                [now, wiki_id],
            )
        else:
            self.db.execute(
                "UPDATE wikis SET last_error = ?, last_error_at = ?, "
                "error_count = error_count + 1, unreachable_since = COALESCE(unreachable_since, ?)"
                " WHERE id = ?",
                [error, now, now, wiki_id],
            )

    # --- poll runs ---------------------------------------------------------------------------

    def start_poll_run(self, wiki_id: int) -> int:
        cursor = self.db.execute(
            "INSERT INTO poll_runs (wiki_id, started_at) VALUES (?, ?)", [wiki_id, utcnow()]
        )
        return int(cursor.lastrowid or 0)

    def finish_poll_run(
        self,
        run_id: int,
        *,
        requests: int,
        pages_checked: int,
        revisions_added: int,
        errors: list[str],
    ) -> None:
        self.db.execute(
            "UPDATE poll_runs SET finished_at = ?, requests = ?, pages_checked = ?, "
            "revisions_added = ?, errors = ? WHERE id = ?",
            [
                utcnow(),
                requests,
                pages_checked,
                revisions_added,
                json.dumps(errors) if errors else None,
                run_id,
            ],
        )
