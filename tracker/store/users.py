"""The wiki's editors: the user groups each is in, as the wiki said at ``checked_at``
(what makes an edit a bot's: tracker.model.is_bot)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping

from tracker.store.base import Connection


class Users(Connection):
    def user_groups(self, wiki_id: int, names: Iterable[str | None]) -> dict[str, tuple[str, ...]]:
        """The groups of each of these users the wiki knows, as last asked; a user not
        asked yet, or one the wiki has no account of (an imported name), is left out."""
        wanted = sorted({name for name in names if name})
        out: dict[str, tuple[str, ...]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            try:
                rows = self.query(
                    f"SELECT name, groups FROM user_groups WHERE wiki_id = ? AND name IN ({marks})"
                    " AND groups IS NOT NULL",
                    [wiki_id, *chunk],
                )
            except sqlite3.OperationalError:  # a database not migrated yet, opened read-only
                return {}
            for row in rows:
                out[row["name"]] = tuple(json.loads(row["groups"]))
        return out

    def users_to_check(self, wiki_id: int, page_ids: Iterable[int], stale_before: str) -> list[str]:
        """The editors of these pages whose groups were never asked for, and every editor
        of the wiki asked for before ``stale_before``."""
        names: set[str] = set()
        for page_id in set(page_ids):
            names.update(
                row["user"]
                for row in self.query(
                    "SELECT DISTINCT r.user FROM revisions r LEFT JOIN user_groups g "
                    "ON g.wiki_id = r.wiki_id AND g.name = r.user "
                    "WHERE r.page_id = ? AND r.user IS NOT NULL AND g.name IS NULL",
                    [page_id],
                )
            )
        names.update(
            row["name"]
            for row in self.query(
                "SELECT name FROM user_groups WHERE wiki_id = ? AND checked_at < ?",
                [wiki_id, stale_before],
            )
        )
        return sorted(names)

    def set_user_groups(
        self, wiki_id: int, groups: Mapping[str, tuple[str, ...] | None], when: str
    ) -> None:
        """What the wiki said of these users at ``when`` (None: it has no such user)."""
        with self.atomic():
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO user_groups (wiki_id, name, groups, checked_at) "
                "VALUES (?, ?, ?, ?)",
                [
                    (wiki_id, name, None if found is None else json.dumps(list(found)), when)
                    for name, found in groups.items()
                ],
            )
