"""The settings: a frozen dataclass per section of config.toml, whose fields are its valid
keys, with their defaults; and the parsers of values written as text (intervals, sizes,
"since" dates)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracker.errors import ConfigError
from tracker.model import index_url

DEFAULT_INTERVAL = 15 * 60
DEFAULT_RECHECK = 7 * 86400
# How often every watched page's status is asked of a wiki polled through its recent changes
# (what they do not tell: imports by a maintenance script, changes they no longer reach).
DEFAULT_RECONCILE = 86400
DEFAULT_SET_REFRESH = 6 * 3600  # how often a watch set's list is read again
DEFAULT_MAX_PAGES = 10_000  # pages a watch set may have
# Wikimedia's stream of recent changes (server-sent events), for `eventstreams = true`.
WIKIMEDIA_EVENTSTREAMS = "https://stream.wikimedia.org/v2/stream/recentchange"
DEFAULT_CONTACT = "https://github.com/wiki-tracker/wiki-tracker"
# What one wiki may send or ask for (see Wiki): generous for any real MediaWiki, small
# enough that a broken or hostile server cannot hang the tracker or exhaust its memory.
MIB = 1024 * 1024
DEFAULT_REQUEST_DEADLINE = 120.0
DEFAULT_MAX_RETRY_AFTER = 15 * 60.0
DEFAULT_MAX_CONTINUATIONS = 1000
DEFAULT_MAX_REPLY_SIZE = 32 * MIB
DEFAULT_MAX_REVISION_SIZE = 8 * MIB

_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_interval(value: Any) -> float:
    """Seconds from 90, "90s", "15m", "6h", "1d"."""
    if isinstance(value, bool):
        raise ValueError('expected seconds or a string like "90s", "15m", "6h"')
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _INTERVAL_RE.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(f'{value!r} is not an interval: use seconds or "90s", "15m", "6h"')
    if seconds <= 0:
        raise ValueError("an interval must be positive")
    return seconds


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}


def parse_size(value: Any) -> int:
    """Bytes from 1048576, "512KiB", "8MiB", "8 MB", "1GiB"."""
    if isinstance(value, bool):
        raise ValueError('expected bytes or a string like "8MiB", "512KiB"')
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (match := _SIZE_RE.match(value)):
        size = int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "").lower()])
    else:
        raise ValueError(f'{value!r} is not a size: use bytes or "512KiB", "8MiB", "1GiB"')
    if size <= 0:
        raise ValueError("a size must be positive")
    return size


def format_size(size: int) -> str:
    """8388608 -> "8 MiB", for messages."""
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} bytes"


@dataclass(frozen=True)
class Backfill:
    """How much history a new watch fetches: all of it, the last N revisions, or none."""

    mode: str = "all"  # "all" | "last" | "none"
    count: int = 0

    @classmethod
    def parse(cls, value: Any) -> Backfill:
        if value in ("all", True):
            return cls("all")
        if value in ("none", "from-now", "now", False):
            return cls("none")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return cls("last", value)
        if isinstance(value, str) and (m := re.fullmatch(r"last\s*(\d+)", value.strip())):
            return cls("last", int(m.group(1)))
        raise ValueError(
            f'{value!r} is not a backfill policy: use "all", "none" (from now), '
            "or a number of most recent revisions such as 50"
        )


@dataclass(frozen=True)
class Login:
    """A bot password (Special:BotPasswords); the password itself comes from the environment."""

    username: str
    password_env: str

    def password(self) -> str:
        value = os.environ.get(self.password_env)
        if not value:
            raise ConfigError(
                f"the environment variable {self.password_env} (login.password_env) is not set: "
                f"export it with the bot password of {self.username}"
            )
        return value


@dataclass(frozen=True)
class Wiki:
    name: str
    api_url: str | None = None
    snapshot: str | None = None
    contact: str = DEFAULT_CONTACT
    login: Login | None = None
    timeout: float = 30.0  # seconds to connect, and between two reads of a reply
    max_retries: int = 5
    # The whole of one request (connect, headers, body): a reply dripping a byte now and
    # then never trips the per-read timeout above.
    request_deadline: float = DEFAULT_REQUEST_DEADLINE
    # A longer Retry-After (or maxlag wait) is not slept: the wiki counts as not reachable
    # now and the next poll tries again.
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    # Continuation requests one query may make (one page's revisions, a revision list);
    # what came before the cap is kept and the next poll goes on from there.
    max_continuations: int = DEFAULT_MAX_CONTINUATIONS
    # Bytes of one reply after decompression; a larger reply is cut while it streams.
    max_reply_size: int = DEFAULT_MAX_REPLY_SIZE
    # A larger revision is stored with its metadata and without its text ("too large").
    max_revision_size: int = DEFAULT_MAX_REVISION_SIZE
    # The wiki's article URL prefix for links in digests; derived from api_url when empty.
    index_url: str | None = None
    # How often each page's whole revision list is compared with the store: it finds what
    # the wiki's log does not tell (imports by a maintenance script, suppressed revisions).
    recheck: float = DEFAULT_RECHECK
    # Each poll asks the wiki's recent changes which watched pages changed (one request
    # whatever their number) and the status of all of them only every `reconcile`; false:
    # the status of every watched page at every poll (50 a request).
    recent_changes: bool = True
    reconcile: float = DEFAULT_RECONCILE
    # Follow the wiki's recent changes as they happen (Wikimedia's EventStreams, in the
    # daemon), polling only the pages they name; polling as usual while the stream is down.
    eventstreams: bool = False
    eventstreams_url: str = WIKIMEDIA_EVENTSTREAMS

    @property
    def script_url(self) -> str | None:
        """index.php of the wiki, for links such as ?diff=NEW&oldid=OLD."""
        if self.index_url:
            return self.index_url
        return index_url(self.api_url)


# The kinds of watch besides a page's title: watch sets, whose pages come from the wiki's
# lists (tracker.fetch.source.SET_KINDS names the same).
SET_KEYS = ("category", "prefix", "linked_from", "transcluding", "user")


@dataclass(frozen=True)
class Watch:
    """One [[watches]] table: a page (``title``) or a watch set (one of SET_KEYS)."""

    wiki: str
    title: str = ""
    interval: float = DEFAULT_INTERVAL
    # (A set's pages start from their current revision unless `backfill` is given.)
    backfill: Backfill = field(default_factory=Backfill)
    # Not polled (`tracker watch pause`); its stored history stays and shows as before.
    paused: bool = False
    # Watch sets: the pages of a category (and of its subcategories `depth` levels down),
    # whose titles start with `prefix` (in `namespace`), that the page `linked_from` links
    # to, that use the template `transcluding`, or that the user `user` edited.
    category: str | None = None
    depth: int = 0
    prefix: str | None = None
    namespace: int | None = None
    linked_from: str | None = None
    transcluding: str | None = None
    user: str | None = None
    max_pages: int = DEFAULT_MAX_PAGES
    refresh: float = DEFAULT_SET_REFRESH
    # Follow the templates and modules the watched pages use as well.
    cascade: bool = False

    @property
    def kind(self) -> str:
        """ "title", or the kind of watch set."""
        for key in SET_KEYS:
            if getattr(self, key) is not None:
                return key
        return "title"

    @property
    def target(self) -> str:
        """The page title, or what the set is of (a category, a prefix, a user...)."""
        kind = self.kind
        return self.title if kind == "title" else str(getattr(self, kind))

    @property
    def key(self) -> str:
        """What names the watch in the store, the CLI and the daemon: a page's title, or
        "kind:target" for a set ("category:Physics")."""
        kind = self.kind
        return self.title if kind == "title" else f"{kind}:{self.target}"

    @property
    def is_set(self) -> bool:
        return self.kind != "title"


@dataclass(frozen=True)
class Storage:
    database: str = "tracker.db"


@dataclass(frozen=True)
class Channel:
    """One delivery target of a subscription: ``type`` names a channel of the registry in
    tracker/deliver.py, which checks ``options`` (its required and optional keys)."""

    type: str
    options: dict = field(default_factory=dict, hash=False)

    @property
    def label(self) -> str | None:
        """The user's name for this channel (``name = "..."``), if any."""
        name = self.options.get("name")
        return name if isinstance(name, str) else None


@dataclass(frozen=True)
class Filters:
    """Which edits a digest leaves out. A section is shown only when an edit that passes the
    filters touched it; its net effect is still the whole window's."""

    skip_minor: bool = False
    skip_bots: bool = False
    skip_users: tuple[str, ...] = ()
    # Edits reverted inside the window are collapsed to one line ("1 edit by X reverted by
    # Y 4 minutes later") instead of being listed; false lists them one by one.
    skip_reverted: bool = True
    # User names treated as bots besides those the wiki's groups or names tell
    # (tracker.model.is_bot).
    bots: tuple[str, ...] = ()
    # Text triggers: only sections whose added (removed; either) words match one of these
    # are shown. Plain text matches case-insensitively anywhere; "/.../" is a regular
    # expression (tracker.digest.triggers).
    added_text: tuple[str, ...] = ()
    removed_text: tuple[str, ...] = ()
    text: tuple[str, ...] = ()


SCHEDULE_ON_CHANGE = "on change"
DIGEST_FORMATS = ("text", "markdown", "html")
# What a digest shows of a changed section: the text as a reader of the article sees it,
# the wikitext as its editors wrote it, or both.
DIGEST_VIEWS = ("reader", "wikitext", "both")


@dataclass(frozen=True)
class Schedule:
    """When a subscription's digest is due: on every poll, every N seconds, or by cron."""

    kind: str  # "on change" | "interval" | "cron"
    seconds: float = 0.0
    cron: str = ""

    @classmethod
    def parse(cls, value: str) -> Schedule:
        text = " ".join(value.split())
        if text.lower().replace("-", " ").replace("_", " ") in (SCHEDULE_ON_CHANGE, "onchange", ""):
            return cls(SCHEDULE_ON_CHANGE)
        if len(text.split()) == 5:
            # Imported here: APScheduler is only needed when a cron schedule is configured.
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(text)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a valid cron expression: {exc}") from None
            return cls("cron", cron=text)
        try:
            return cls("interval", seconds=parse_interval(text))
        except ValueError:
            raise ValueError(
                f'{value!r} is not a schedule: use "on change", an interval such as "6h", '
                'or a cron expression such as "0 7 * * *" (minute hour day month weekday)'
            ) from None


def parse_since(value: str, timezone: str = "UTC") -> int | datetime:
    """A revision id ("1844397") or an ISO 8601 date/time ("2023-05-01", "2023-05-01T12:00Z");
    a time without a zone is in ``timezone``. Raises ValueError."""
    text = value.strip()
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a revision id nor a date such as 2023-09-01 or 2023-09-01T12:00Z"
        ) from None
    if moment.tzinfo is None:
        from zoneinfo import ZoneInfo

        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class Subscription:
    """Who gets which changes, how often, in which formats, through which channels."""

    name: str
    formats: tuple[str, ...] = ("markdown",)
    channels: tuple[Channel, ...] = ()
    pages: tuple[str, ...] = ()  # watch titles; empty = every watch (of `wiki` when given)
    wiki: str | None = None  # only the watches of this wiki
    # Heading paths "A / B" or globs ("Military*"); a pattern without "/" also matches a
    # heading at any depth. A matched section is followed by its stable id through renames
    # and moves. Empty = whole pages.
    sections: tuple[str, ...] = ()
    filters: Filters = field(default_factory=Filters)
    schedule: str = SCHEDULE_ON_CHANGE  # "on change", an interval ("6h"), or a cron expression
    timezone: str = "UTC"  # of the cron schedule and of the times shown in digests
    heartbeat: bool = False  # deliver a "nothing changed" digest for an empty window
    templates: str | None = None  # a directory overriding the bundled templates
    max_words: int = 400  # word-level changes shown per section before "... and N more"
    # Where the first digest's window starts: a revision id ("1844397") or a date
    # ("2023-05-01"). Unset, the first digest says what it started tracking instead.
    since: str | None = None
    view: str = "reader"  # one of DIGEST_VIEWS
    # Seconds a wiki or a watch may fail before the channels are told (once), and told
    # again (once) when it works again; None: no alerts.
    alert_after: float | None = None

    @property
    def parsed_schedule(self) -> Schedule:
        return Schedule.parse(self.schedule)


@dataclass(frozen=True)
class Daemon:
    log_level: str = "INFO"
    pid_file: str = "tracker.pid"
    log_file: str | None = None
    misfire_grace_time: float = 300.0


@dataclass(frozen=True)
class Web:
    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str | None = None  # public URL of the history browser, for links in digests


@dataclass(frozen=True)
class Config:
    path: Path
    storage: Storage = field(default_factory=Storage)
    wikis: tuple[Wiki, ...] = ()
    watches: tuple[Watch, ...] = ()
    subscriptions: tuple[Subscription, ...] = ()
    daemon: Daemon = field(default_factory=Daemon)
    web: Web = field(default_factory=Web)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        """Paths in the config are relative to the config file's directory."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    @property
    def database_path(self) -> Path:
        return self.resolve(self.storage.database)

    def wiki(self, name: str) -> Wiki:
        for wiki in self.wikis:
            if wiki.name == name:
                return wiki
        raise ConfigError(f"{self.path}: no wiki named {name!r}; known: {self._wiki_names()}")

    def _wiki_names(self) -> str:
        return ", ".join(w.name for w in self.wikis) or "(none)"

    def watches_of(self, wiki: str) -> list[Watch]:
        """The watches of a wiki that are polled: a paused one is not."""
        return [w for w in self.watches if w.wiki == wiki and not w.paused]


# --- loading -------------------------------------------------------------------------------
