"""How values are written in the store: section texts and diffs compressed, times as text.

Only the store reads or writes these forms; what leaves it is plain text, dicts and lists.
"""

from __future__ import annotations

import hashlib
import json
import zlib

from tracker.model import now_stamp


def utcnow() -> str:
    """Now, as every time is stored: MediaWiki's form (ISO 8601, UTC, ``Z``)."""
    return now_stamp()


def encode_text(text: str) -> bytes:
    """A section text as ``blobs.data`` keeps it: UTF-8, zlib level 9."""
    return zlib.compress(text.encode("utf-8"), 9)


def decode_text(data: bytes) -> str:
    return zlib.decompress(data).decode("utf-8")


def text_key(text: str) -> bytes:
    """``blobs.hash``: the SHA-1 of the text's UTF-8, which keeps each text once."""
    return hashlib.sha1(text.encode("utf-8")).digest()


def encode_diff(data: dict) -> bytes:
    """A stored diff (``diffs.data``): compact JSON, zlib level 9."""
    return zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 9)


def decode_diff(data: bytes) -> dict:
    return dict(json.loads(zlib.decompress(data)))


def encode_path(path: list[str]) -> str:
    """A section's heading path (``section_changes.path``) as JSON."""
    return json.dumps(path, ensure_ascii=False)


def decode_path(raw: str | None) -> list[str]:
    """A stored heading path; a damaged one reads as the lead's (empty) path."""
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def encode_tags(tags: tuple[str, ...] | list[str]) -> str | None:
    """A revision's change tags (``revisions.tags``): a JSON list, NULL for none."""
    return json.dumps(list(tags)) if tags else None


def decode_tags(raw: str | None) -> tuple[str, ...]:
    """A revision's stored change tags; ValueError when damaged."""
    value = json.loads(raw) if raw else []
    return tuple(str(tag) for tag in value) if isinstance(value, list) else ()
