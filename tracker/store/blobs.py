"""Reading section texts back: a blob is a zstd frame, possibly a delta against the blob of
the section's previous version (``blobs.base``), itself perhaps a delta: a chain of at most
`MAX_CHAIN` links, as in a git pack, so that any revision is read in bounded time.

`BlobReader` reads through any connection (the store's, or the search indexer's own) and
keeps the latest texts it decoded (`BLOB_CACHE`, least recently used out): reading a history
in order decodes each link once.

`Versions` keeps the *section versions* (``section_versions``: a page's stable section id
with one of its texts) that revision layouts list, and the latest it looked up.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict

from tracker.errors import StoreError
from tracker.store.encoding import decode_text

BLOB_CACHE = 2048  # section texts each reader keeps decoded...
BLOB_CACHE_CHARS = 4_000_000  # ...and at most this many characters of them
VERSION_CACHE = 8192  # section versions each store keeps at hand
MAX_CHAIN = 16  # deltas in a row before a text is stored whole again


class BlobReader:
    def __init__(self, conn: sqlite3.Connection, where: object = "the database"):
        self.conn = conn
        self.where = where
        self.cache: OrderedDict[int, str] = OrderedDict()
        self.chars = 0  # in the cache

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
        cache = self.cache
        old = cache.pop(blob_id, None)
        self.chars += len(text) - (len(old) if old is not None else 0)
        cache[blob_id] = text
        while len(cache) > 1 and (len(cache) > BLOB_CACHE or self.chars > BLOB_CACHE_CHARS):
            self.chars -= len(cache.popitem(last=False)[1])

    def forget(self, blob_id: int) -> None:
        text = self.cache.pop(blob_id, None)
        if text is not None:
            self.chars -= len(text)

    def clear(self) -> None:
        self.cache.clear()
        self.chars = 0


class Versions:
    """Section versions by id and by what they are (page, section id, blob id)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.by_id: OrderedDict[int, tuple[str, int]] = OrderedDict()
        self.by_key: OrderedDict[tuple[int, str, int], int] = OrderedDict()

    def resolve(self, ids: list[int]) -> list[tuple[str, int]]:
        """(section id, blob id) of each version, in order."""
        by_id = self.by_id
        missing = sorted({v for v in ids if v not in by_id})
        for start in range(0, len(missing), 500):
            part = missing[start : start + 500]
            marks = ",".join("?" * len(part))
            for version, section_id, blob_id in self.conn.execute(
                f"SELECT id, section_id, blob_id FROM section_versions WHERE id IN ({marks})",
                part,
            ):
                self._keep_id(version, (section_id, blob_id))
        try:
            return [by_id[v] for v in ids]
        except KeyError as exc:
            raise StoreError(
                f"section version {exc.args[0]} is missing: the store is damaged"
            ) from None

    def ids(self, page_id: int, layout: list[tuple[str, int]]) -> list[int]:
        """The version id of each (section id, blob id) of a page, made when new."""
        out = []
        for section_id, blob_id in layout:
            key = (page_id, section_id, blob_id)
            version = self.by_key.get(key)
            if version is None:
                row = self.conn.execute(
                    "SELECT id FROM section_versions WHERE page_id = ? AND section_id = ? "
                    "AND blob_id = ?",
                    key,
                ).fetchone()
                if row is None:
                    cursor = self.conn.execute(
                        "INSERT INTO section_versions (page_id, section_id, blob_id) "
                        "VALUES (?, ?, ?)",
                        key,
                    )
                    version = int(cursor.lastrowid or 0)
                else:
                    version = int(row[0])
                self.by_key[key] = version
                if len(self.by_key) > VERSION_CACHE:
                    self.by_key.popitem(last=False)
                self._keep_id(version, (section_id, blob_id))
            else:
                self.by_key.move_to_end(key)
            out.append(version)
        return out

    def _keep_id(self, version: int, value: tuple[str, int]) -> None:
        self.by_id[version] = value
        if len(self.by_id) > VERSION_CACHE:
            self.by_id.popitem(last=False)

    def clear(self) -> None:
        self.by_id.clear()
        self.by_key.clear()
