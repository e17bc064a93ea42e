"""Plain records passed along the pipeline: source -> store -> diff -> digest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


def sha1_hex(text: str) -> str:
    """The sha1 MediaWiki's API reports for a revision's text (40 hex digits)."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def base36_to_hex(value: str) -> str:
    """XML exports give sha1 in base 36 (31 digits); the API gives 40 hex digits."""
    return format(int(value, 36), "040x")


def hex_to_base36(value: str) -> str:
    number = int(value, 16)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rem = divmod(number, 36)
        out = digits[rem] + out
    return out.rjust(31, "0")


@dataclass(frozen=True)
class Revision:
    """One revision as a source gives it. ``text`` is None when hidden, not fetched, or too
    large (``toolarge``: over the wiki's ``max_revision_size``, or too large for a reply;
    its metadata, size and sha1 are kept)."""

    revid: int
    parentid: int
    timestamp: str  # ISO 8601, UTC, "Z"
    user: str | None
    userid: int | None
    comment: str | None
    minor: bool
    size: int | None  # bytes; None when unknown (hidden text in an export)
    sha1: str | None  # 40 hex digits, as the API gives it; None when hidden
    text: str | None
    tags: tuple[str, ...] = ()
    content_model: str = "wikitext"
    content_format: str = "text/x-wiki"
    texthidden: bool = False
    userhidden: bool = False
    commenthidden: bool = False
    sha1hidden: bool = False
    toolarge: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)
