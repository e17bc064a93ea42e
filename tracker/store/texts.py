"""Texts: each distinct section text once (``blobs``), a revision as its list of sections.

A revision's text is the ordered list of its sections (``revision_sections``: blob and
stable section id); joined they give the text back byte for byte. So a revert or an edit to
one section adds at most one new blob. How a blob is encoded is tracker.store.encoding's.
"""

from __future__ import annotations

from tracker.errors import StoreError
from tracker.store.base import Connection
from tracker.store.encoding import decode_text, encode_text, text_key
from tracker.store.search import forget_texts

BLOB_CACHE = 2048  # section texts each Store keeps decompressed, least recently used out


class Texts(Connection):
    def put_blob(self, text: str) -> int:
        """Store a section text once; return its blob id."""
        key = text_key(text)
        row = self.db.execute("SELECT id FROM blobs WHERE hash = ?", [key]).fetchone()
        if row:
            return int(row[0])
        cursor = self.db.execute(
            "INSERT INTO blobs (hash, data) VALUES (?, ?)", [key, encode_text(text)]
        )
        return int(cursor.lastrowid or 0)

    def blob(self, blob_id: int) -> str:
        """A section text by its blob id (cached)."""
        cache = self._blob_cache
        cached = cache.get(blob_id)
        if cached is not None:
            cache.move_to_end(blob_id)
            return cached
        row = self.db.execute("SELECT data FROM blobs WHERE id = ?", [blob_id]).fetchone()
        if row is None:
            raise StoreError(f"blob {blob_id} is missing from {self.path}: the store is damaged")
        text = decode_text(row[0])
        cache[blob_id] = text
        if len(cache) > BLOB_CACHE:
            cache.popitem(last=False)
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

    def section_exists(self, page_id: int, section_id: str) -> bool:
        """Whether any stored revision of the page has a section with this stable id."""
        # Driven from the page's revisions (indexed), not from revision_sections.section_id,
        # which has no index.
        return (
            self.scalar(
                "SELECT 1 FROM revisions r JOIN revision_sections rs ON rs.rev_id = r.id "
                "WHERE r.page_id = ? AND rs.section_id = ? LIMIT 1",
                [page_id, section_id],
            )
            is not None
        )

    def relabel_sections(self, rev_id: int, section_ids: list[str]) -> None:
        """Give a stored revision's sections other stable ids (same texts, same order)."""
        self.db.conn.executemany(
            "UPDATE revision_sections SET section_id = ? WHERE rev_id = ? AND idx = ?",
            [(sid, rev_id, idx) for idx, sid in enumerate(section_ids)],
        )

    def replace_sections(self, rev_id: int, layout: list[tuple[str, int]]) -> None:
        """Store a revision's sections anew (layout: section id, blob id, in order)."""
        self.db.execute("DELETE FROM revision_sections WHERE rev_id = ?", [rev_id])
        self.db.conn.executemany(
            "INSERT INTO revision_sections (rev_id, idx, blob_id, section_id) VALUES (?, ?, ?, ?)",
            [(rev_id, i, blob_id, sid) for i, (sid, blob_id) in enumerate(layout)],
        )

    def restore_text(self, rev_id: int, layout: list[tuple[str, int]], sha1: str | None) -> None:
        """A text the wiki shows again: the revision's sections, its content hash, its
        flags."""
        self.replace_sections(rev_id, layout)
        self.db.execute(
            "UPDATE revisions SET has_text = 1, texthidden = 0, sha1 = ?, "
            "sha1hidden = 0 WHERE id = ?",
            [sha1, rev_id],
        )

    def drop_text(self, rev_id: int) -> None:
        """Forget a revision's text (the wiki hid it): its sections, its stored diff, and
        the section texts no other revision has (from the search index too)."""
        db = self.db
        blob_ids = {
            row[0]
            for row in db.execute(
                "SELECT blob_id FROM revision_sections WHERE rev_id = ?", [rev_id]
            ).fetchall()
        }
        db.execute("DELETE FROM revision_sections WHERE rev_id = ?", [rev_id])
        orphans = [
            b
            for b in sorted(blob_ids)
            if db.execute(
                "SELECT 1 FROM revision_sections WHERE blob_id = ? LIMIT 1", [b]
            ).fetchone()
            is None
        ]
        if orphans:
            forget_texts(self, [(b, self.blob(b)) for b in orphans])
            marks = ",".join("?" * len(orphans))
            db.execute(f"DELETE FROM blobs WHERE id IN ({marks})", orphans)
            for b in orphans:
                self._blob_cache.pop(b, None)
        db.execute("DELETE FROM section_changes WHERE rev_id = ?", [rev_id])
        db.execute("DELETE FROM diffs WHERE to_rev = ?", [rev_id])
        db.execute("UPDATE revisions SET has_text = 0 WHERE id = ?", [rev_id])
