"""SQL functions that read the stored texts, for SQL tools (Datasette, sqlite3 in Python).

Section texts are zstd frames, most of them deltas against an earlier text (blobs.py), and a
revision is a packed list of section versions (``layouts``): no SQL can read them. These
functions do, through the store's own readers, so that the views of migration 130
(``revision_texts``, ``section_texts``) show readable wikitext:

    tracker_text(blob_id)    the section text of a blob
    revision_text(rev_id)    the full wikitext of a stored revision (NULL when hidden)
    section_path(path)       a stored heading path (JSON) as "History › Cold War"
"""

from __future__ import annotations

import sqlite3

from tracker.errors import StoreError
from tracker.store.blobs import BlobReader, Versions
from tracker.store.encoding import decode_path, unpack_ids

FUNCTIONS = ("tracker_text", "revision_text", "section_path")


def register(conn: sqlite3.Connection) -> None:
    """Define the functions on ``conn`` (each connection keeps its own decoded-text cache)."""
    blobs = BlobReader(conn)
    versions = Versions(conn)

    def tracker_text(blob_id: int | None) -> str | None:
        if blob_id is None:
            return None
        try:
            return blobs.text(int(blob_id))
        except StoreError as exc:  # shown in the cell rather than failing the whole query
            return f"[{exc}]"

    def revision_text(rev_id: int | None) -> str | None:
        if rev_id is None:
            return None
        row = conn.execute("SELECT ids FROM layouts WHERE rev_id = ?", [int(rev_id)]).fetchone()
        if row is None:
            has = conn.execute("SELECT has_text FROM revisions WHERE id = ?", [int(rev_id)])
            found = has.fetchone()
            return "" if found and found[0] else None
        try:
            layout = versions.resolve(unpack_ids(row[0]))
            return "".join(blobs.text(blob_id) for _, blob_id in layout)
        except StoreError as exc:
            return f"[{exc}]"

    def section_path(raw: str | None) -> str:
        return " › ".join(decode_path(raw))

    conn.create_function("tracker_text", 1, tracker_text)
    conn.create_function("revision_text", 1, revision_text)
    conn.create_function("section_path", 1, section_path)
