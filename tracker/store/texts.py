"""Texts: each distinct section text once (``blobs``), a revision as its list of sections.

A revision's text is the ordered list of its sections (``layouts``: the ids of
its *section versions*, each a stable section id with a blob, ``section_versions``);
joined they give the text back byte for byte. Most sections of a revision are the versions
the revision before had: a layout costs 4 bytes a section. So a revert or an edit to
one section adds at most one new blob, stored as a delta against the section's previous
version (blobs.py): a long history costs about what a git pack of it costs. How a blob is
encoded is tracker.store.encoding's.
"""

from __future__ import annotations

from tracker.store.base import Connection
from tracker.store.blobs import MAX_CHAIN
from tracker.store.encoding import encode_text, is_packed, pack_ids, text_key, unpack_ids
from tracker.store.search import forget_texts

REPACK_CHUNK = 500  # blobs per transaction when repacking


class Texts(Connection):
    def put_blob(self, text: str, base: int | None = None) -> int:
        """Store a section text once; return its blob id. `base`: the blob of the text it is
        a version of (the same section in the revision before), which it is compressed
        against unless that would make the chain of deltas longer than MAX_CHAIN."""
        key = text_key(text)
        row = self.db.execute("SELECT id FROM blobs WHERE hash = ?", [key]).fetchone()
        if row:
            return int(row[0])
        depth = 0
        if base is not None:
            found = self.db.execute("SELECT depth FROM blobs WHERE id = ?", [base]).fetchone()
            if found is None or found[0] >= MAX_CHAIN:
                base = None
            else:
                depth = found[0] + 1
        data = encode_text(text, self.blob(base) if base is not None else None)
        cursor = self.db.execute(
            "INSERT INTO blobs (hash, data, base, depth) VALUES (?, ?, ?, ?)",
            [key, data, base, depth],
        )
        blob_id = int(cursor.lastrowid or 0)
        self._blobs.keep(blob_id, text)
        return blob_id

    def blob(self, blob_id: int) -> str:
        """A section text by its blob id (cached)."""
        return self._blobs.text(blob_id)

    # ---- layouts: a revision as its list of section versions ---------------------------

    def revision_layout(self, rev_id: int) -> list[tuple[str, int]]:
        """(section id, blob id) of each section of a stored revision, in order."""
        row = self.db.execute("SELECT ids FROM layouts WHERE rev_id = ?", [rev_id]).fetchone()
        if row is None:
            return []
        return self._versions.resolve(unpack_ids(row[0]))

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
        return (
            self.scalar(
                "SELECT 1 FROM section_versions WHERE page_id = ? AND section_id = ? LIMIT 1",
                [page_id, section_id],
            )
            is not None
        )

    def set_layout(self, rev_id: int, page_id: int, layout: list[tuple[str, int]]) -> None:
        """Store a revision's sections (layout: section id, blob id, in order)."""
        ids = self._versions.ids(page_id, layout)
        self.db.execute(
            "INSERT OR REPLACE INTO layouts (rev_id, ids) VALUES (?, ?)", [rev_id, pack_ids(ids)]
        )

    def relabel_sections(self, rev_id: int, section_ids: list[str]) -> None:
        """Give a stored revision's sections other stable ids (same texts, same order)."""
        blobs = [blob_id for _, blob_id in self.revision_layout(rev_id)]
        self.replace_sections(rev_id, list(zip(section_ids, blobs, strict=True)))

    def replace_sections(self, rev_id: int, layout: list[tuple[str, int]]) -> None:
        """Store a revision's sections anew (layout: section id, blob id, in order)."""
        page_id = self.scalar("SELECT page_id FROM revisions WHERE id = ?", [rev_id])
        self.set_layout(rev_id, int(page_id), layout)

    def prune_section_versions(self, page_id: int) -> int:
        """Forget the section versions of a page that no revision has any more (relabelled
        when its history was re-derived); return how many. Their texts stay."""
        used = self._used_versions(page_id)
        unused = [
            row[0]
            for row in self.db.execute(
                "SELECT id FROM section_versions WHERE page_id = ?", [page_id]
            ).fetchall()
            if row[0] not in used
        ]
        for start in range(0, len(unused), 500):
            part = unused[start : start + 500]
            marks = ",".join("?" * len(part))
            self.db.execute(f"DELETE FROM section_versions WHERE id IN ({marks})", part)
        self._versions.clear()
        return len(unused)

    def _used_versions(self, page_id: int, but: int | None = None) -> set[int]:
        used: set[int] = set()
        for rev_id, layout in self.db.execute(
            "SELECT l.rev_id, l.ids FROM revisions r JOIN layouts l ON l.rev_id = r.id "
            "WHERE r.page_id = ?",
            [page_id],
        ):
            if rev_id != but:
                used.update(unpack_ids(layout))
        return used

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
        """Forget a revision's text (the wiki hid it): its sections, its section changes, and
        the section texts no other revision has (from the search index too)."""
        db = self.db
        row = db.execute(
            "SELECT r.page_id, l.ids FROM revisions r JOIN layouts l ON l.rev_id = r.id "
            "WHERE r.id = ?",
            [rev_id],
        ).fetchone()
        if row is not None:
            page_id, mine = row[0], set(unpack_ids(row[1]))
            gone = sorted(mine - self._used_versions(page_id, but=rev_id))
            blob_ids: set[int] = set()
            for start in range(0, len(gone), 500):
                part = gone[start : start + 500]
                marks = ",".join("?" * len(part))
                blob_ids.update(
                    r[0]
                    for r in db.execute(
                        f"SELECT blob_id FROM section_versions WHERE id IN ({marks})", part
                    ).fetchall()
                )
                db.execute(f"DELETE FROM section_versions WHERE id IN ({marks})", part)
            self._versions.clear()
            orphans = [
                b
                for b in sorted(blob_ids)
                if db.execute(
                    "SELECT 1 FROM section_versions WHERE blob_id = ? LIMIT 1", [b]
                ).fetchone()
                is None
            ]
            if orphans:
                forget_texts(self, [(b, self.blob(b)) for b in orphans])
                self._unlink(orphans)
                marks = ",".join("?" * len(orphans))
                db.execute(f"DELETE FROM blobs WHERE id IN ({marks})", orphans)
                for b in orphans:
                    self._blobs.forget(b)
        db.execute("DELETE FROM section_changes WHERE rev_id = ?", [rev_id])
        db.execute("DELETE FROM layouts WHERE rev_id = ?", [rev_id])
        db.execute("UPDATE revisions SET has_text = 0 WHERE id = ?", [rev_id])

    def _unlink(self, blob_ids: list[int]) -> None:
        """Before blobs go: the texts compressed against them are stored whole instead."""
        marks = ",".join("?" * len(blob_ids))
        going = set(blob_ids)
        dependents = [
            row[0]
            for row in self.db.execute(
                f"SELECT id FROM blobs WHERE base IN ({marks}) ORDER BY id", blob_ids
            ).fetchall()
            if row[0] not in going
        ]
        for blob_id in dependents:
            text = self.blob(blob_id)
            self.db.execute(
                "UPDATE blobs SET data = ?, base = NULL, depth = 0 WHERE id = ?",
                [encode_text(text), blob_id],
            )

    # ---- texts stored by earlier versions: zlib, each whole -----------------------------

    def repack_texts(self, chunk: int = REPACK_CHUNK) -> int:
        """Store the section texts that earlier versions kept as zlib streams as deltas
        against their previous versions, in blob id order, `chunk` per transaction; return
        how many. Resumable: ``store_tasks`` keeps where it got to, and what is committed
        is done. Nothing to do (the row is gone) costs one query."""
        done = 0
        while True:
            with self.atomic():
                row = self.db.execute(
                    "SELECT position FROM store_tasks WHERE name = 'repack_texts'"
                ).fetchone()
                if row is None:
                    return done
                rows = self.db.execute(
                    "SELECT id, data FROM blobs WHERE id > ? ORDER BY id LIMIT ?", [row[0], chunk]
                ).fetchall()
                for blob_id, data in rows:
                    if not is_packed(data):
                        self._repack(blob_id)
                if len(rows) < chunk:
                    self.db.execute("DELETE FROM store_tasks WHERE name = 'repack_texts'")
                else:
                    self.db.execute(
                        "UPDATE store_tasks SET position = ? WHERE name = 'repack_texts'",
                        [rows[-1][0]],
                    )
            done += len(rows)

    def _repack(self, blob_id: int) -> None:
        text = self.blob(blob_id)
        base = self._previous_version(blob_id)
        depth = 0
        if base is not None:
            found = self.db.execute("SELECT depth FROM blobs WHERE id = ?", [base]).fetchone()
            if found is None or found[0] >= MAX_CHAIN:
                base = None
            else:
                depth = found[0] + 1
        self.db.execute(
            "UPDATE blobs SET data = ?, base = ?, depth = ? WHERE id = ?",
            [
                encode_text(text, self.blob(base) if base is not None else None),
                base,
                depth,
                blob_id,
            ],
        )

    def _previous_version(self, blob_id: int) -> int | None:
        """The blob of the same section's version before the first with this text, if it
        is an older blob (so that chains only point back, never round). Section versions
        are numbered in the order they were first stored: history order."""
        first = self.db.execute(
            "SELECT page_id, section_id, id FROM section_versions WHERE blob_id = ? "
            "ORDER BY id LIMIT 1",
            [blob_id],
        ).fetchone()
        if first is None:
            return None
        row = self.db.execute(
            "SELECT blob_id FROM section_versions WHERE page_id = ? AND section_id = ? "
            "AND id < ? ORDER BY id DESC LIMIT 1",
            list(first),
        ).fetchone()
        return int(row[0]) if row and row[0] < blob_id else None
