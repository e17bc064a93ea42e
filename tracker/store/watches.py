"""Watches: a configured (wiki, title), the page it resolved to, how its polls went."""

from __future__ import annotations

from typing import Any

from tracker.store.base import Connection
from tracker.store.encoding import utcnow


class Watches(Connection):
    def watch(self, wiki_id: int, title: str) -> dict:
        """The watch of this title on this wiki, added if new."""
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

    def wiki_watches(self, wiki_id: int) -> list[dict]:
        """Every stored watch of a wiki."""
        return self.query("SELECT * FROM watches WHERE wiki_id = ?", [wiki_id])

    def watch_state(self, wiki: str, title: str) -> dict | None:
        """The stored watch of this title on the wiki of this name, with the wiki's
        ``unreachable_since``; None when it was never polled."""
        return self.one(
            "SELECT w.*, wk.unreachable_since FROM watches w JOIN wikis wk ON wk.id = w.wiki_id "
            "WHERE wk.name = ? AND w.title = ?",
            [wiki, title],
        )

    def update_watch(self, watch_id: int, **values: Any) -> None:
        sets = ", ".join(f"{key} = ?" for key in values)
        self.db.execute(f"UPDATE watches SET {sets} WHERE id = ?", [*values.values(), watch_id])

    def mark_polled(self, watch_ids: list[int], when: str) -> None:
        """These watches were polled at ``when`` and nothing had changed: one write for all."""
        self.db.conn.executemany(
            "UPDATE watches SET last_poll = ?, pending = 0 WHERE id = ?",
            [(when, watch_id) for watch_id in watch_ids],
        )

    def next_polls(self, wiki_id: int) -> dict[str, float | None]:
        """Key -> when (epoch seconds) the daemon is to poll each watch of a wiki next: a
        page's title, a watch set's key."""
        found = dict(
            self.db.execute(
                "SELECT title, next_poll FROM watches WHERE wiki_id = ?", [wiki_id]
            ).fetchall()
        )
        found.update(
            self.db.execute(
                "SELECT key, next_poll FROM watch_sets WHERE wiki_id = ?", [wiki_id]
            ).fetchall()
        )
        return found

    def set_next_polls(self, wiki_id: int, when: dict[str, float]) -> None:
        """Key (a page's title, a set's key) -> when (epoch seconds) the daemon is to poll
        each of these watches next."""
        rows = [(next_poll, wiki_id, key) for key, next_poll in when.items()]
        self.db.conn.executemany(
            "UPDATE watches SET next_poll = ? WHERE wiki_id = ? AND title = ?", rows
        )
        self.db.conn.executemany(
            "UPDATE watch_sets SET next_poll = ? WHERE wiki_id = ? AND key = ?", rows
        )

    def clear_pending(self, watch_ids: list[int]) -> None:
        """These watches were polled in full: what recent changes named of them is done."""
        self.db.conn.executemany(
            "UPDATE watches SET pending = 0 WHERE id = ? AND pending", [(i,) for i in watch_ids]
        )

    def pending_watches(self, wiki_id: int) -> set[int]:
        """The ids of the wiki's watches to poll in full when next due."""
        return {
            int(row[0])
            for row in self.db.execute(
                "SELECT id FROM watches WHERE wiki_id = ? AND pending", [wiki_id]
            )
        }

    def mark_all_pending(self, wiki_id: int) -> None:
        """Every watch of the wiki is to be polled in full when next due (its recent changes
        could not tell everything, or it is time to reconcile)."""
        self.db.execute("UPDATE watches SET pending = 1 WHERE wiki_id = ?", [wiki_id])

    def member_watches(self, wiki_id: int, members: list[tuple[int, str, int]]) -> dict[int, dict]:
        """The wiki's page id -> the watch of each page of a watch set (pageid, title, ns),
        its page and watch rows added when new, so that it is polled as a watched page is.
        A page already watched (by its title, or by another set) keeps its one watch."""
        rows = self.query(
            "SELECT w.*, p.pageid AS wiki_pageid FROM watches w JOIN pages p ON p.id = w.page_id "
            "WHERE w.wiki_id = ?",
            [wiki_id],
        )
        out: dict[int, dict] = {}
        for row in rows:
            out.setdefault(row.pop("wiki_pageid"), row)
        missing = [member for member in members if member[0] not in out]
        if not missing:
            return out
        now = utcnow()
        with self.atomic():
            for pageid, title, ns in missing:
                page = self.one(
                    "SELECT id FROM pages WHERE wiki_id = ? AND pageid = ?", [wiki_id, pageid]
                )
                if page is None:
                    page_id = self.db.execute(
                        "INSERT INTO pages (wiki_id, pageid, ns, title, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        [wiki_id, pageid, ns, title, now],
                    ).lastrowid
                    self.db.execute(
                        "INSERT OR IGNORE INTO page_titles (page_id, title, first_seen) "
                        "VALUES (?, ?, ?)",
                        [page_id, title, now],
                    )
                else:
                    page_id = page["id"]
                self.db.execute(
                    "INSERT OR IGNORE INTO watches (wiki_id, title, page_id, added_at) "
                    "VALUES (?, ?, ?, ?)",
                    [wiki_id, title, page_id, now],
                )
                found = self.one(
                    "SELECT * FROM watches WHERE wiki_id = ? AND title = ?", [wiki_id, title]
                )
                assert found is not None
                if found["page_id"] is None:  # a title watch not resolved yet: it is this page
                    self.db.execute(
                        "UPDATE watches SET page_id = ? WHERE id = ?", [page_id, found["id"]]
                    )
                    found["page_id"] = page_id
                if found["page_id"] == page_id:
                    out[pageid] = found
                # (else the title is another page's now: this one is watched once its old
                # watch's page moves away; never two watches of one title)
        return out

    def set_watches(self, wiki_id: int, set_id: int) -> list[dict]:
        """The watch of each page of a watch set now, by title, its page and watch rows
        added for a page new to it (one query when none is: a cycle's hot path)."""
        rows = self.query(
            "SELECT m.pageid AS member_pageid, m.title AS member_title, m.ns AS member_ns, "
            "w.* FROM set_members m JOIN watch_sets s ON s.id = m.set_id "
            "LEFT JOIN pages p ON p.wiki_id = s.wiki_id AND p.pageid = m.pageid "
            "LEFT JOIN watches w ON w.page_id = p.id "
            "WHERE m.set_id = ? AND m.left_at IS NULL ORDER BY m.title, m.joined_at",
            [set_id],
        )
        order: list[int] = []  # the members' page ids, by title
        found: dict[int, dict] = {}
        missing: list[tuple[int, str, int]] = []
        for row in rows:
            pageid = row.pop("member_pageid")
            member = (pageid, row.pop("member_title"), row.pop("member_ns"))
            if pageid in found:
                continue  # (one watch a page: the first, as member_watches keeps it)
            order.append(pageid)
            if row["id"] is None:
                missing.append(member)
            else:
                found[pageid] = row
        if missing:
            found.update(self.member_watches(wiki_id, missing))
        return [found[pageid] for pageid in order if pageid in found]
