"""Revisions: a page's stored history in MediaWiki's order, revert marks, re-derivation marks.

Rows come back as dicts of the ``revisions`` columns. History order is MediaWiki's (what
action=history, prop=revisions and XML exports use): by timestamp, then revision id.
Revision ids are not in time order on real wikis (imports, undeletions).
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from tracker.errors import AmbiguousRevision
from tracker.model import Revision
from tracker.store.base import Connection
from tracker.store.encoding import decode_tags, encode_tags, pack_ids, utcnow
from tracker.text import reverts

HISTORY = "timestamp, revid"
HISTORY_DESC = "timestamp DESC, revid DESC"
# What a history listing shows of each revision (the web's history page and page feed).
_LISTED = (
    "id, wiki_id, revid, parentid, timestamp, user, userhidden, comment, commenthidden, minor, "
    "tags, size, has_text, texthidden, revert_of, reverted_by"
)
_WITH_PAGE = (
    "SELECT r.*, p.title, w.name AS wiki FROM revisions r "
    "JOIN pages p ON p.id = r.page_id JOIN wikis w ON w.id = r.wiki_id"
)


def redetect_reverts(db: sqlite_utils.Database, page_id: int) -> None:
    """Work out the reverts of a page's whole stored history again (metadata only), in
    history order with MediaWiki's radius. Also a step of migration 040."""
    rows = db.execute(
        f"SELECT id, revid, sha1, tags FROM revisions WHERE page_id = ? ORDER BY {HISTORY}",
        [page_id],
    ).fetchall()
    history = [reverts.Rev(revid, sha1, decode_tags(tags)) for _id, revid, sha1, tags in rows]
    revert_of, reverted_by = reverts.detect(history)
    db.conn.executemany(
        "UPDATE revisions SET revert_of = ?, reverted_by = ? WHERE id = ?",
        [
            (revert_of.get(revid), reverted_by.get(revid), rev_id)
            for rev_id, revid, _sha1, _tags in rows
        ],
    )


class Revisions(Connection):
    # --- one revision ----------------------------------------------------------------------

    def revision(self, wiki_id: int | None, revid: int) -> dict | None:
        """A stored revision by its id on a wiki (None: on any; AmbiguousRevision when
        several wikis have it), with its page's ``title`` and its wiki's name as ``wiki``."""
        if wiki_id is None:
            rows = self.query(f"{_WITH_PAGE} WHERE r.revid = ?", [revid])
            if len(rows) > 1:
                raise AmbiguousRevision(revid)
            return rows[0] if rows else None
        return self.one(f"{_WITH_PAGE} WHERE r.wiki_id = ? AND r.revid = ?", [wiki_id, revid])

    def page_revision(self, page_id: int, revid: int) -> dict | None:
        """A stored revision of this page by its revision id."""
        return self.one("SELECT * FROM revisions WHERE page_id = ? AND revid = ?", [page_id, revid])

    def has_revision(self, wiki_id: int, revid: int) -> bool:
        return (
            self.db.execute(
                "SELECT 1 FROM revisions WHERE wiki_id = ? AND revid = ?", [wiki_id, revid]
            ).fetchone()
            is not None
        )

    def revision_at_or_before(self, page_id: int, revid: int) -> dict | None:
        """The stored revision with this id; for an id not stored (a `since` given by hand),
        the last one in history order among those with a lower id."""
        return self.page_revision(page_id, revid) or self.one(
            f"SELECT * FROM revisions WHERE page_id = ? AND revid <= ? ORDER BY {HISTORY_DESC} "
            "LIMIT 1",
            [page_id, revid],
        )

    def revision_before_time(self, page_id: int, when: str) -> dict | None:
        """The last revision saved before this time (ISO 8601, UTC)."""
        return self.one(
            f"SELECT * FROM revisions WHERE page_id = ? AND timestamp < ? "
            f"ORDER BY {HISTORY_DESC} LIMIT 1",
            [page_id, when],
        )

    def first_revision(self, page_id: int) -> dict | None:
        return self.one(
            f"SELECT * FROM revisions WHERE page_id = ? ORDER BY {HISTORY} LIMIT 1", [page_id]
        )

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
            f"ORDER BY {HISTORY_DESC} LIMIT 1",
            [row["page_id"], row["timestamp"], row["revid"]],
        )

    def revision_after(self, row: dict) -> dict | None:
        """The revision right after a stored one in history order."""
        return self.one(
            f"SELECT * FROM revisions WHERE page_id = ? AND (timestamp, revid) > (?, ?) "
            f"ORDER BY {HISTORY} LIMIT 1",
            [row["page_id"], row["timestamp"], row["revid"]],
        )

    def latest_with_sha1(self, page_id: int, sha1: str) -> int | None:
        """The last revision (in history order) with this content."""
        value = self.scalar(
            f"SELECT revid FROM revisions WHERE page_id = ? AND sha1 = ? "
            f"ORDER BY {HISTORY_DESC} LIMIT 1",
            [page_id, sha1],
        )
        return int(value) if value is not None else None

    # --- a page's history --------------------------------------------------------------------

    def revisions(self, page_id: int) -> list[dict]:
        """Every stored revision of a page, in history order."""
        return self.query(
            f"SELECT * FROM revisions WHERE page_id = ? ORDER BY {HISTORY}", [page_id]
        )

    def revisions_between(
        self, page_id: int, after: dict | None, upto: dict | None = None, limit: int | None = None
    ) -> list[dict]:
        """The revisions after `after` (None: from the first) up to `upto` included (None:
        to the last), in history order."""
        where, params = ["page_id = ?"], [page_id]
        if after is not None:
            where.append("(timestamp, revid) > (?, ?)")
            params += [after["timestamp"], after["revid"]]
        if upto is not None:
            where.append("(timestamp, revid) <= (?, ?)")
            params += [upto["timestamp"], upto["revid"]]
        tail = f" LIMIT {int(limit)}" if limit is not None else ""
        return self.query(
            f"SELECT * FROM revisions WHERE {' AND '.join(where)} ORDER BY {HISTORY}{tail}", params
        )

    def recent_revisions(self, page_id: int, count: int) -> list[dict]:
        """The last `count` revisions of a page, in history order."""
        rows = self.query(
            f"SELECT * FROM revisions WHERE page_id = ? ORDER BY {HISTORY_DESC} LIMIT ?",
            [page_id, count],
        )
        rows.reverse()
        return rows

    def newest_revisions(self, page_id: int, limit: int, offset: int = 0) -> list[dict]:
        """A stretch of a page's history, newest first, with what a listing shows of each."""
        return self.query(
            f"SELECT {_LISTED} FROM revisions WHERE page_id = ? "
            f"ORDER BY {HISTORY_DESC} LIMIT ? OFFSET ?",
            [page_id, limit, offset],
        )

    def reverted_revids(self, page_id: int, revid: int) -> list[int]:
        """The revisions that the revision ``revid`` reverted, in history order."""
        return [
            row[0]
            for row in self.db.execute(
                f"SELECT revid FROM revisions WHERE page_id = ? AND reverted_by = ? "
                f"ORDER BY {HISTORY}",
                [page_id, revid],
            )
        ]

    def revision_times(self, page_id: int, start: str, end: str) -> list[str]:
        """The timestamps of a page's revisions from ``start`` to ``end`` included."""
        return [
            row[0]
            for row in self.db.execute(
                "SELECT timestamp FROM revisions WHERE page_id = ? AND timestamp >= ? "
                "AND timestamp <= ?",
                [page_id, start, end],
            )
        ]

    # --- counts ------------------------------------------------------------------------------

    def latest_change_times(self) -> dict[int, str]:
        """Each stored page's id -> the timestamp of its newest stored revision."""
        return dict(
            self.db.execute("SELECT page_id, max(timestamp) FROM revisions GROUP BY page_id")
        )

    def revision_count(self, page_id: int, *, live: bool = False) -> int:
        """How many revisions of a page are stored (live: not since deleted on the wiki)."""
        extra = " AND deleted_at IS NULL" if live else ""
        return int(
            self.scalar(f"SELECT count(*) FROM revisions WHERE page_id = ?{extra}", [page_id]) or 0
        )

    def activity_counts(self, page_id: int, since7: str, since30: str) -> dict[str, int]:
        """A page's revisions and editors in all (``revisions``, ``editors``), its edits
        since two times (``edits7``, ``edits30``) and its editors since the second
        (``editors30``)."""
        row = (
            self.one(
                "SELECT count(*) AS revisions, count(DISTINCT user) AS editors, "
                "sum(timestamp >= ?) AS edits7, sum(timestamp >= ?) AS edits30, "
                "count(DISTINCT CASE WHEN timestamp >= ? THEN user END) AS editors30 "
                "FROM revisions WHERE page_id = ?",
                [since7, since30, since30, page_id],
            )
            or {}
        )
        return {key: value or 0 for key, value in row.items()}

    def span_counts(self, page_id: int, old: dict | None, new: dict) -> dict[str, int]:
        """How many revisions (``revisions``) and editors (``editors``) lie after ``old``
        (None: from the first) up to ``new`` included."""
        low = (old["timestamp"], old["revid"]) if old else ("", -1)
        row = self.one(
            "SELECT count(*) AS revisions, count(DISTINCT user) AS editors FROM "
            "revisions WHERE page_id = ? AND (timestamp, revid) > (?, ?) AND "
            "(timestamp, revid) <= (?, ?)",
            [page_id, *low, new["timestamp"], new["revid"]],
        )
        return row or {"revisions": 0, "editors": 0}

    # --- writes ------------------------------------------------------------------------------

    def insert_revision(
        self, wiki_id: int, page_id: int, rev: Revision, layout: list[tuple[str, int]] | None
    ) -> int:
        """Insert one revision row and its sections (layout: section id, blob id, in order)."""
        cursor = self.db.execute(
            """INSERT INTO revisions (wiki_id, page_id, revid, parentid, timestamp, user, userid,
                   comment, minor, tags, size, sha1, texthidden, userhidden, commenthidden,
                   sha1hidden, content_model, content_format, has_text, ingested_at, toolarge)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                wiki_id,
                page_id,
                rev.revid,
                rev.parentid,
                rev.timestamp,
                rev.user,
                rev.userid,
                rev.comment,
                int(rev.minor),
                encode_tags(rev.tags),
                rev.size,
                rev.sha1,
                int(rev.texthidden),
                int(rev.userhidden),
                int(rev.commenthidden),
                int(rev.sha1hidden),
                rev.content_model,
                rev.content_format,
                int(rev.text is not None),
                utcnow(),
                int(rev.toolarge),
            ],
        )
        rev_id = int(cursor.lastrowid or 0)
        if layout:
            self.db.execute(
                "INSERT INTO layouts (rev_id, ids) VALUES (?, ?)",
                [rev_id, pack_ids(self._versions.ids(page_id, layout))],
            )
        return rev_id

    def update_revision(self, rev_id: int, **values: Any) -> bool:
        """Set these columns of a stored revision (the wiki hid or showed parts of it);
        whether there were any."""
        if not values:
            return False
        sets = ", ".join(f"{key} = ?" for key in values)
        self.db.execute(f"UPDATE revisions SET {sets} WHERE id = ?", [*values.values(), rev_id])
        return True

    def set_revision_deleted(self, rev_id: int, when: str | None) -> None:
        """Mark a stored revision deleted on the wiki at ``when`` (None: restored)."""
        self.db.execute("UPDATE revisions SET deleted_at = ? WHERE id = ?", [when, rev_id])

    def mark_revert(
        self,
        page_id: int,
        rev: Revision,
        rev_id: int,
        restored: int,
        reverted: tuple[int, ...] | None,
    ) -> None:
        """Record that ``rev`` (stored as ``rev_id``) restored the content of revision
        ``restored``: the revisions it reverted are ``reverted``, or (None) every one between
        the two in history order. A revision already marked reverted keeps its first
        reverter."""
        db = self.db
        db.execute("UPDATE revisions SET revert_of = ? WHERE id = ?", [restored, rev_id])
        if reverted is not None:
            marks = ",".join("?" * len(reverted))
            db.execute(
                f"UPDATE revisions SET reverted_by = ? WHERE page_id = ? AND revid IN "
                f"({marks}) AND reverted_by IS NULL",
                [rev.revid, page_id, *reverted],
            )
            return
        start = self.page_revision(page_id, restored)
        assert start is not None
        db.execute(
            "UPDATE revisions SET reverted_by = ? WHERE page_id = ? AND "
            "(timestamp, revid) > (?, ?) AND (timestamp, revid) < (?, ?) AND "
            "reverted_by IS NULL",
            [rev.revid, page_id, start["timestamp"], start["revid"], rev.timestamp, rev.revid],
        )

    def store_reverts(self, page_id: int) -> None:
        """Work out every revert of a page again from its stored history (metadata only)."""
        redetect_reverts(self.db, page_id)

    def refresh_last_revid(self, page_id: int) -> int | None:
        """Set and return the page's latest revision as the wiki has it: the last one in
        history order that the wiki has not deleted (what its status query reports)."""
        revid = self.scalar(
            f"SELECT revid FROM revisions WHERE page_id = ? AND deleted_at IS "
            f"NULL ORDER BY {HISTORY_DESC} LIMIT 1",
            [page_id],
        )
        self.db.execute("UPDATE pages SET last_revid = ? WHERE id = ?", [revid, page_id])
        return int(revid) if revid is not None else None

    # --- re-derivation marks -----------------------------------------------------------------

    def mark_rederive(self, page_id: int, revid: int) -> None:
        """Derived data (section ids, section changes) must be worked out again from `revid` on:
        kept in the page row, so that a killed process finishes the job on its next run."""
        row = self.one(
            "SELECT p.rederive_from, r.timestamp, r.revid FROM pages p "
            "LEFT JOIN revisions r ON r.page_id = p.id AND r.revid = p.rederive_from "
            "WHERE p.id = ?",
            [page_id],
        )
        new = self.one(
            "SELECT timestamp, revid FROM revisions WHERE page_id = ? AND revid = ?",
            [page_id, revid],
        )
        assert new is not None
        if (
            row
            and row["rederive_from"] is not None
            and row["timestamp"] is not None
            and (row["timestamp"], row["revid"]) <= (new["timestamp"], new["revid"])
        ):
            return
        self.set_rederive_from(page_id, revid)

    def set_rederive_from(self, page_id: int, revid: int | None) -> None:
        """Where the page's re-derivation goes on (None: done)."""
        self.db.execute("UPDATE pages SET rederive_from = ? WHERE id = ?", [revid, page_id])

    def pages_to_rederive(self) -> list[int]:
        return [
            row[0]
            for row in self.db.execute(
                "SELECT id FROM pages WHERE rederive_from IS NOT NULL ORDER BY id"
            ).fetchall()
        ]
