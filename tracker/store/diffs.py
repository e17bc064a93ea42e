"""Section changes: per revision, the sections its diff against the revision before it with
text changed and how (``section_changes``), which section histories, page histories, feeds
and digests read. The diffs themselves are derived when asked for (history.py)."""

from __future__ import annotations

from collections.abc import Sequence

from tracker.store.base import Connection
from tracker.store.encoding import decode_path, encode_path


def _decoded(rows: list[dict]) -> list[dict]:
    for row in rows:
        if "path" in row:
            row["path"] = decode_path(row["path"])
        if "kinds" in row:
            row["kinds"] = row["kinds"].split(",")
    return rows


PATH_CACHE = 4096  # heading paths whose ids a connection remembers


class Diffs(Connection):
    def put_section_changes(self, rev_id: int, sections: list[dict], replace: bool = False) -> None:
        """Store which sections a revision changed against the one before it with text, and
        how (the diff's sections with kinds); `replace`: it had some already (re-derived).

        The diff itself is not stored: history.revision_pair_diff derives it again from the
        two texts and their stored section ids, the same diff, in about a millisecond (it
        was 40 % of a long history's database)."""
        if replace:
            self.delete_section_changes(rev_id)
        rows = [
            (
                rev_id,
                s["id"],
                ",".join(s["kinds"]),
                self._path_id(encode_path(s["path"])),
                s.get("words_added", 0),
                s.get("words_removed", 0),
            )
            for s in sections
            if s.get("kinds")
        ]
        if rows:
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO section_changes (rev_id, section_id, kinds, path_id, "
                "words_added, words_removed) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def _path_id(self, path: str) -> int:
        """The id of a heading path (JSON) in ``section_paths``, made when new."""
        found = self._paths.get(path)
        if found is None:
            conn = self.db.conn
            row = conn.execute("SELECT id FROM section_paths WHERE path = ?", [path]).fetchone()
            if row is None:
                row = (
                    conn.execute("INSERT INTO section_paths (path) VALUES (?)", [path]).lastrowid,
                )
            found = self._paths[path] = int(row[0])
            if len(self._paths) > PATH_CACHE:
                self._paths.clear()
        return found

    def delete_section_changes(self, rev_id: int) -> None:
        self.db.execute("DELETE FROM section_changes WHERE rev_id = ?", [rev_id])

    def section_changes(self, rev_ids: Sequence[int]) -> list[dict]:
        """The section changes of these revisions (rev_id, section_id, kinds and path as
        lists, words_added, words_removed), by revision, then heading path."""
        if not rev_ids:
            return []
        marks = ",".join("?" * len(rev_ids))
        return _decoded(
            self.query(
                "SELECT c.rev_id, c.section_id, c.kinds, p.path, c.words_added, "
                "c.words_removed FROM section_changes c JOIN section_paths p ON p.id = c.path_id "
                f"WHERE c.rev_id IN ({marks}) ORDER BY c.rev_id, p.path",
                list(rev_ids),
            )
        )

    def touched_sections(self, rev_ids: Sequence[int]) -> list[tuple[str, int]]:
        """(section id, revid) of each section these revisions changed, in history order."""
        if not rev_ids:
            return []
        marks = ",".join("?" * len(rev_ids))
        return [
            (row[0], row[1])
            for row in self.db.execute(
                f"SELECT c.section_id, r.revid FROM section_changes c JOIN revisions r "
                f"ON r.id = c.rev_id WHERE c.rev_id IN ({marks}) ORDER BY r.timestamp, r.revid",
                list(rev_ids),
            )
        ]

    def section_change_count(self, page_id: int, section_id: str) -> int:
        """How many revisions of a page changed the section with this stable id."""
        return int(
            self.scalar(
                "SELECT count(*) FROM section_changes sc JOIN revisions r ON r.id = sc.rev_id "
                "WHERE sc.section_id = ? AND r.page_id = ?",
                [section_id, page_id],
            )
            or 0
        )

    def section_history(
        self, page_id: int, section_id: str, limit: int, offset: int = 0
    ) -> list[dict]:
        """The revisions that changed a section, newest first: what each did to it (kinds,
        path, words) and the revision's own fields."""
        return _decoded(
            self.query(
                "SELECT sc.kinds, p.path, sc.words_added, sc.words_removed, r.id, r.revid, "
                "r.timestamp, r.user, r.userhidden, r.comment, r.commenthidden, r.minor, r.tags, "
                "r.revert_of, r.reverted_by FROM section_changes sc JOIN revisions r "
                "ON r.id = sc.rev_id JOIN section_paths p ON p.id = sc.path_id "
                "WHERE sc.section_id = ? AND r.page_id = ? "
                "ORDER BY r.timestamp DESC, r.revid DESC LIMIT ? OFFSET ?",
                [section_id, page_id, limit, offset],
            )
        )
