"""Topic watches: each watch set of a wiki and the pages in it, with when each joined and
left; the templates each watched page uses (cascade); how far the wiki's recent changes
were read. What the wiki's lists say is only ever added to: a page that leaves a set keeps
its row, with the time it left."""

from __future__ import annotations

import json
from collections.abc import Iterable

from tracker.store.base import Connection
from tracker.store.encoding import utcnow

# A member as the wiki's list names it: (pageid, title, namespace).
MemberRow = tuple[int, str, int]


class WatchSets(Connection):
    def watch_set(self, wiki_id: int, key: str, kind: str, target: str) -> dict:
        """The watch set of this key on this wiki, added if new."""
        row = self.one("SELECT * FROM watch_sets WHERE wiki_id = ? AND key = ?", [wiki_id, key])
        if row:
            return row
        with self.atomic():
            self.db.execute(
                "INSERT OR IGNORE INTO watch_sets (wiki_id, key, kind, target, added_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [wiki_id, key, kind, target, utcnow()],
            )
        row = self.one("SELECT * FROM watch_sets WHERE wiki_id = ? AND key = ?", [wiki_id, key])
        assert row is not None
        return row

    def wiki_watch_sets(self, wiki_id: int) -> list[dict]:
        """Every stored watch set of a wiki, with ``members`` (how many now)."""
        return self.query(
            "SELECT s.*, (SELECT count(*) FROM set_members m WHERE m.set_id = s.id "
            "AND m.left_at IS NULL) AS members FROM watch_sets s WHERE wiki_id = ? ORDER BY key",
            [wiki_id],
        )

    def find_watch_set(self, wiki: str, key: str) -> dict | None:
        """A stored watch set by its wiki's name and its key, with ``members``."""
        return self.one(
            "SELECT s.*, (SELECT count(*) FROM set_members m WHERE m.set_id = s.id "
            "AND m.left_at IS NULL) AS members FROM watch_sets s JOIN wikis w ON w.id = "
            "s.wiki_id WHERE w.name = ? AND s.key = ?",
            [wiki, key],
        )

    def set_members(self, set_id: int, *, current: bool = True) -> list[dict]:
        """The set's pages now (``current``), or every membership it had, by title; each
        with ``joined_at``, ``left_at``, ``via`` and ``page_id`` (the stored page, if any)."""
        where = " AND m.left_at IS NULL" if current else ""
        return self.query(
            "SELECT m.*, p.id AS page_id FROM set_members m JOIN watch_sets s ON s.id = m.set_id "
            "LEFT JOIN pages p ON p.wiki_id = s.wiki_id AND p.pageid = m.pageid "
            f"WHERE m.set_id = ?{where} ORDER BY m.title, m.joined_at",
            [set_id],
        )

    def replace_members(
        self,
        set_id: int,
        members: Iterable[MemberRow],
        when: str | None = None,
        via: str = "list",
    ) -> tuple[list[MemberRow], list[MemberRow]]:
        """The set is now ``members``: the pages new to it join, those not in it any more
        leave, at ``when`` (None: now); a member's new title is recorded. Returns (joined,
        left).

        Now is taken inside the write transaction, as a digest takes the end of its window
        inside its own: a join is in one digest's window or the next one's, never stamped
        before a window that could not see it yet."""
        wanted = {pageid: (pageid, title, ns) for pageid, title, ns in members}
        with self.atomic():
            when = when or utcnow()
            now = {row["pageid"]: row for row in self.set_members(set_id)}
            joined = [member for pageid, member in wanted.items() if pageid not in now]
            left = [
                (pageid, row["title"], row["ns"])
                for pageid, row in now.items()
                if pageid not in wanted
            ]
            self.db.conn.executemany(
                "INSERT INTO set_members (set_id, pageid, title, ns, joined_at, via) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(set_id, pageid, title, ns, when, via) for pageid, title, ns in joined],
            )
            self.db.conn.executemany(
                "UPDATE set_members SET left_at = ? WHERE set_id = ? AND pageid = ? "
                "AND left_at IS NULL",
                [(when, set_id, pageid) for pageid, _, _ in left],
            )
            self.db.conn.executemany(
                "UPDATE set_members SET title = ?, ns = ? WHERE set_id = ? AND pageid = ? "
                "AND left_at IS NULL",
                [
                    (title, ns, set_id, pageid)
                    for pageid, title, ns in wanted.values()
                    if pageid in now and (now[pageid]["title"], now[pageid]["ns"]) != (title, ns)
                ],
            )
        return joined, left

    def join_set(
        self, set_id: int, member: MemberRow, when: str | None = None, via: str = "list"
    ) -> bool:
        """One page joins the set at ``when`` (None: now; False: it was a member already)."""
        pageid, title, ns = member
        with self.atomic():
            cursor = self.db.execute(
                "INSERT OR IGNORE INTO set_members (set_id, pageid, title, ns, joined_at, via) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [set_id, pageid, title, ns, when or utcnow(), via],
            )
        return bool(cursor.rowcount)

    def leave_set(self, set_id: int, pageid: int, when: str | None = None) -> bool:
        """One page leaves the set at ``when`` (None: now; False: it was not a member)."""
        with self.atomic():
            cursor = self.db.execute(
                "UPDATE set_members SET left_at = ? WHERE set_id = ? AND pageid = ? "
                "AND left_at IS NULL",
                [when or utcnow(), set_id, pageid],
            )
        return bool(cursor.rowcount)

    def set_tree(self, set_id: int, categories: list[str]) -> None:
        """The subcategories a category set's last reading went through."""
        self.db.execute(
            "UPDATE watch_sets SET tree = ? WHERE id = ?", [json.dumps(categories), set_id]
        )

    def mark_set_refreshed(self, set_id: int, when: str | None, error: str | None) -> None:
        """The set's list was read whole at ``when`` (None: not, ``error`` says why)."""
        if when is None:
            self.db.execute("UPDATE watch_sets SET refresh_error = ? WHERE id = ?", [error, set_id])
        else:
            self.db.execute(
                "UPDATE watch_sets SET refreshed_at = ?, refresh_error = ? WHERE id = ?",
                [when, error, set_id],
            )

    def membership_changes(self, wiki_id: int, since: str | None, until: str) -> list[dict]:
        """Pages that joined or left a set of the wiki in (since, until]: ``event`` "joined"
        or "left", ``at``, the set's ``key``, ``kind`` and ``target``, the page's ``pageid``,
        ``title``, and ``page_id`` (stored page, if any); a set's first reading is not a
        change (its pages did not join: the set began)."""
        low = since or ""
        return self.query(
            "SELECT 'joined' AS event, m.joined_at AS at, s.key, s.kind, s.target, m.pageid, "
            "m.title, p.id AS page_id FROM set_members m JOIN watch_sets s ON s.id = m.set_id "
            "LEFT JOIN pages p ON p.wiki_id = s.wiki_id AND p.pageid = m.pageid "
            "WHERE s.wiki_id = ? AND m.via != 'first' AND m.joined_at > ? AND m.joined_at <= ? "
            "UNION ALL "
            "SELECT 'left', m.left_at, s.key, s.kind, s.target, m.pageid, m.title, p.id "
            "FROM set_members m JOIN watch_sets s ON s.id = m.set_id "
            "LEFT JOIN pages p ON p.wiki_id = s.wiki_id AND p.pageid = m.pageid "
            "WHERE s.wiki_id = ? AND m.left_at > ? AND m.left_at <= ? ORDER BY 2, 7",
            [wiki_id, low, until, wiki_id, low, until],
        )

    # --- cascade: the templates the watched pages use ---------------------------------------

    def set_template_uses(self, wiki_id: int, uses: dict[int, Iterable[int]]) -> None:
        """Page id -> the page ids of the templates (and modules) it uses now."""
        with self.atomic():
            for pageid, templates in uses.items():
                self.db.execute(
                    "DELETE FROM template_uses WHERE wiki_id = ? AND pageid = ?",
                    [wiki_id, pageid],
                )
                self.db.conn.executemany(
                    "INSERT OR IGNORE INTO template_uses (wiki_id, pageid, template_pageid) "
                    "VALUES (?, ?, ?)",
                    [(wiki_id, pageid, template) for template in templates],
                )

    def templates_used(self, wiki_id: int, pageids: Iterable[int]) -> set[int]:
        """The page ids of the templates any of these watched pages use."""
        wanted = list(pageids)
        found: set[int] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found.update(
                int(row[0])
                for row in self.db.execute(
                    "SELECT DISTINCT template_pageid FROM template_uses WHERE wiki_id = ? "
                    f"AND pageid IN ({marks})",
                    [wiki_id, *chunk],
                )
            )
        return found

    def template_users(self, wiki_id: int, template_pageid: int) -> list[int]:
        """The page ids of the watched pages that use a template."""
        return [
            int(row[0])
            for row in self.db.execute(
                "SELECT pageid FROM template_uses WHERE wiki_id = ? AND template_pageid = ? "
                "ORDER BY pageid",
                [wiki_id, template_pageid],
            )
        ]

    # --- how far the wiki's recent changes were read ---------------------------------------

    def rc_cursor(self, wiki_id: int) -> tuple[str, int] | None:
        """(timestamp, rcid) of the last recent change read, None: not read yet."""
        row = self.one("SELECT rc_timestamp, rc_id FROM wikis WHERE id = ?", [wiki_id])
        if not row or row["rc_timestamp"] is None or row["rc_id"] is None:
            return None
        return str(row["rc_timestamp"]), int(row["rc_id"])

    def set_rc_cursor(self, wiki_id: int, cursor: tuple[str, int] | None) -> None:
        timestamp, rcid = cursor if cursor is not None else (None, None)
        self.db.execute(
            "UPDATE wikis SET rc_timestamp = ?, rc_id = ? WHERE id = ?", [timestamp, rcid, wiki_id]
        )

    def reconciled_at(self, wiki_id: int) -> str | None:
        """When every watched page's status was last asked of the wiki (None: never)."""
        value = self.scalar("SELECT reconciled_at FROM wikis WHERE id = ?", [wiki_id])
        return str(value) if value is not None else None

    def set_reconciled_at(self, wiki_id: int, when: str) -> None:
        self.db.execute("UPDATE wikis SET reconciled_at = ? WHERE id = ?", [when, wiki_id])

    def stream_position(self, wiki_id: int) -> str | None:
        """Where the wiki's stream of recent changes was read up to (its last event id)."""
        value = self.scalar("SELECT stream_position FROM wikis WHERE id = ?", [wiki_id])
        return str(value) if value is not None else None

    def set_stream_position(self, wiki_id: int, position: str | None) -> None:
        self.db.execute("UPDATE wikis SET stream_position = ? WHERE id = ?", [position, wiki_id])

    # --- watches recent changes named, not polled yet --------------------------------------

    def mark_pending(self, wiki_id: int, pageids: Iterable[int]) -> None:
        """The watches of these pages (the wiki's page ids) are to be polled in full when
        next due: recent changes named them while they were not due."""
        self.db.conn.executemany(
            "UPDATE watches SET pending = 1 WHERE wiki_id = ? AND page_id = "
            "(SELECT id FROM pages WHERE wiki_id = ? AND pageid = ?)",
            [(wiki_id, wiki_id, pageid) for pageid in pageids],
        )
