"""How values are written in the store: section texts compressed, times as text.

Only the store reads or writes these forms; what leaves it is plain text, dicts and lists.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zlib
from array import array

import zstandard

from tracker.model import now_stamp


def utcnow() -> str:
    """Now, as every time is stored: MediaWiki's form (ISO 8601, UTC, ``Z``)."""
    return now_stamp()


# Section texts are zstd frames; a text that has an earlier version (the same section in the
# revision before) is compressed with that version as a raw-content dictionary: a delta, as a
# git pack stores it. Earlier versions kept zlib streams: still read, and repacked.
ZSTD_LEVEL = 3  # zstd's default: 9 and 19 save 4 % more for 3 and 10 times the time
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _dictionary(base: str) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(
        base.encode("utf-8"), dict_type=zstandard.DICT_TYPE_RAWCONTENT
    )


def encode_text(text: str, base: str | None = None) -> bytes:
    """A section text as ``blobs.data`` keeps it: UTF-8 in a zstd frame, compressed against
    `base` (the text it is a version of) when given: decoding it needs that text."""
    compressor = (
        zstandard.ZstdCompressor(level=ZSTD_LEVEL)
        if base is None
        else zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=_dictionary(base))
    )
    return compressor.compress(text.encode("utf-8"))


def decode_text(data: bytes, base: str | None = None) -> str:
    """The text of ``blobs.data``; `base`: the text it was compressed against, if any.
    ValueError when the data is damaged."""
    try:
        if data[:4] != _ZSTD_MAGIC:
            return zlib.decompress(data).decode("utf-8")
        decompressor = (
            zstandard.ZstdDecompressor()
            if base is None
            else zstandard.ZstdDecompressor(dict_data=_dictionary(base))
        )
        return decompressor.decompress(data).decode("utf-8")
    except (zlib.error, zstandard.ZstdError, UnicodeDecodeError) as exc:
        raise ValueError(f"a damaged section text ({exc})") from None


def is_packed(data: bytes) -> bool:
    """Whether ``blobs.data`` is in the current form (else a zlib stream to repack)."""
    return data[:4] == _ZSTD_MAGIC


def pack_ids(ids: list[int]) -> bytes:
    """A revision's layout (``layouts.ids``): its section version ids, 4 bytes each,
    little-endian."""
    packed = array("I", ids)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tobytes()


def unpack_ids(data: bytes) -> list[int]:
    packed = array("I")
    packed.frombytes(data)
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tolist()


assert array("I").itemsize == 4, "a layout's ids are 4 bytes"


def text_key(text: str) -> bytes:
    """``blobs.hash``: the SHA-1 of the text's UTF-8, which keeps each text once."""
    return hashlib.sha1(text.encode("utf-8")).digest()


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
