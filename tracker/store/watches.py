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
            "UPDATE watches SET last_poll = ? WHERE id = ?",
            [(when, watch_id) for watch_id in watch_ids],
        )

    def next_polls(self, wiki_id: int) -> dict[str, float | None]:
        """Title -> when (epoch seconds) the daemon is to poll each watch of a wiki next."""
        return dict(
            self.db.execute(
                "SELECT title, next_poll FROM watches WHERE wiki_id = ?", [wiki_id]
            ).fetchall()
        )

    def set_next_polls(self, wiki_id: int, when: dict[str, float]) -> None:
        """Title -> when (epoch seconds) the daemon is to poll each of these watches next."""
        self.db.conn.executemany(
            "UPDATE watches SET next_poll = ? WHERE wiki_id = ? AND title = ?",
            [(next_poll, wiki_id, title) for title, next_poll in when.items()],
        )
