"""Reading section texts back: a blob is a zstd frame, possibly a delta against the blob of
the section's previous version (``blobs.base``), itself perhaps a delta: a chain of at most
`MAX_CHAIN` links, as in a git pack, so that any revision is read in bounded time.

`BlobReader` reads through any connection (the store's, or the search indexer's own) and
keeps the latest texts it decoded (`BLOB_CACHE`, least recently used out): reading a history
in order decodes each link once.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict

from tracker.errors import StoreError
from tracker.store.encoding import decode_text

BLOB_CACHE = 2048  # section texts each reader keeps decoded
MAX_CHAIN = 16  # deltas in a row before a text is stored whole again


class BlobReader:
    def __init__(self, conn: sqlite3.Connection, where: object = "the database"):
        self.conn = conn
        self.where = where
        self.cache: OrderedDict[int, str] = OrderedDict()

    def text(self, blob_id: int) -> str:
        """The section text of a blob; StoreError when it or a blob it needs is damaged."""
        cache = self.cache
        pending: list[tuple[int, bytes]] = []  # the blobs to decode, the asked one first
        base_text: str | None = None
        link = blob_id
        while True:
            hit = cache.get(link)
            if hit is not None:
                cache.move_to_end(link)
                base_text = hit
                break
            row = self.conn.execute("SELECT data, base FROM blobs WHERE id = ?", [link]).fetchone()
            if row is None or len(pending) > MAX_CHAIN * 4:
                raise StoreError(f"blob {link} is missing from {self.where}: the store is damaged")
            pending.append((link, row[0]))
            if row[1] is None:
                break
            link = row[1]
        for link, data in reversed(pending):
            try:
                base_text = decode_text(data, base_text)
            except ValueError as exc:
                raise StoreError(f"blob {link} in {self.where}: {exc}") from None
            self.keep(link, base_text)
        assert base_text is not None
        return base_text

    def keep(self, blob_id: int, text: str) -> None:
        self.cache[blob_id] = text
        if len(self.cache) > BLOB_CACHE:
            self.cache.popitem(last=False)

    def forget(self, blob_id: int) -> None:
        self.cache.pop(blob_id, None)
