"""Plain records passed along the pipeline: source -> store -> diff -> digest."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

STAMP = "%Y-%m-%dT%H:%M:%SZ"  # MediaWiki's timestamps: ISO 8601, UTC, "Z"


def utc_stamp(moment: datetime | float) -> str:
    """A moment (a datetime, or seconds since the epoch) as MediaWiki writes it."""
    if isinstance(moment, int | float):
        moment = datetime.fromtimestamp(moment, UTC)
    return moment.astimezone(UTC).strftime(STAMP)


def now_stamp() -> str:
    return utc_stamp(datetime.now(UTC))


def parse_stamp(text: str) -> datetime:
    """A MediaWiki timestamp ("2026-12-07T05:38:00Z", or with an offset) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def index_url(api_url: str | None) -> str | None:
    """The wiki's index.php beside its api.php (None when the URL does not end so)."""
    if api_url and api_url.endswith("api.php"):
        return api_url.removesuffix("api.php") + "index.php"
    return None


# A bot's name, where the wiki's groups are not known: a word "bot" of its own ("Bot",
# "Archive bot", "Tal-bot", "BOT_Foo") or a word ending in "Bot" after a small letter or a
# digit ("ClueBot NG", "AAlertBot"). Never a word merely ending in "bot": "Talbot", "Abbot",
# "Cydebot" are people, or bots only their groups can tell.
_BOT_NAME = re.compile(r"(?:(?<![^\s_-])[Bb][Oo][Tt]|(?<=[a-z0-9])Bot)(?![^\s_-])")
BOT_GROUP = "bot"  # MediaWiki's own group of bots ($wgGroupPermissions['bot'])


def web_title(title: str) -> str:
    """A page title as the web UI's URLs write it (/wiki/<wiki>/<title>): MediaWiki's form,
    spaces as underscores, slashes kept (subpages), the rest percent-encoded."""
    return quote(title.replace(" ", "_"), safe="/:@!$&'()*+,;=")


def is_bot(
    user: str | None,
    tags: Iterable[str] = (),
    named: Container[str] = (),
    groups: Mapping[str, Collection[str]] | None = None,
) -> bool:
    """Whether an edit is a bot's, the one rule every output and filter uses:

    1. an edit the source flags or tags "bot";
    2. a user the config names (``filters.bots``);
    3. a user whose groups on the wiki are known (``groups``, name -> groups: the wiki's
       ``list=users&usprop=groups``, kept by the store): in the "bot" group or not;
    4. otherwise (an export, an imported "prefix>Name", a user not asked yet) the name: a
       word "bot" or a word ending in "Bot" (`_BOT_NAME`), never "Talbot".
    """
    if "bot" in tags:
        return True
    if not user:
        return False
    if user in named:
        return True
    if groups is not None and user in groups:
        return BOT_GROUP in groups[user]
    name = user.split(">", 1)[-1]
    return name in named or bool(_BOT_NAME.search(name))


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

    def position(self) -> tuple[str, int]:
        """Its place in MediaWiki's history order: by timestamp, then revision id."""
        return self.timestamp, self.revid
