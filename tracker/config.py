"""config.toml -> frozen, validated settings.

Every section is a frozen dataclass; its fields are the valid keys. Loading checks each
table against its dataclass, so an unknown key, a wrong type or a dangling reference fails
loudly with the file, the key and the fix (datasette's way, not urlwatch's silent merge).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tracker.errors import ConfigError
from tracker.model import index_url

DEFAULT_INTERVAL = 15 * 60
DEFAULT_RECHECK = 7 * 86400
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

    @property
    def script_url(self) -> str | None:
        """index.php of the wiki, for links such as ?diff=NEW&oldid=OLD."""
        if self.index_url:
            return self.index_url
        return index_url(self.api_url)


@dataclass(frozen=True)
class Watch:
    wiki: str
    title: str
    interval: float = DEFAULT_INTERVAL
    backfill: Backfill = field(default_factory=Backfill)


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
    # User names treated as bots besides those ending in "bot" (RevertBot, ClueBot NG).
    bots: tuple[str, ...] = ()


SCHEDULE_ON_CHANGE = "on change"
DIGEST_FORMATS = ("text", "markdown", "html")


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
        return [w for w in self.watches if w.wiki == wiki]


# --- loading -------------------------------------------------------------------------------

_CUSTOM = {
    "interval": parse_interval,
    "recheck": parse_interval,
    "backfill": Backfill.parse,
    "request_deadline": parse_interval,
    "max_retry_after": parse_interval,
    "max_reply_size": parse_size,
    "max_revision_size": parse_size,
}


class _Checker:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, message: str) -> typing.NoReturn:
        raise ConfigError(f"{self.path}: {key}: {message}")

    def table(self, cls: type, data: Any, where: str, skip: tuple[str, ...] = ()) -> dict:
        """Check ``data`` against the fields of ``cls``; return the converted keyword args."""
        if not isinstance(data, dict):
            self.fail(where, f"expected a table, got {_kind(data)}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
        out: dict[str, Any] = {}
        for key, value in data.items():
            if key not in fields:
                near = difflib.get_close_matches(key, list(fields), n=1)
                hint = f"did you mean {near[0]!r}?" if near else f"valid keys: {', '.join(fields)}"
                self.fail(f"{where}.{key}", f"unknown key; {hint}")
            out[key] = self.value(hints[key], value, f"{where}.{key}", key)
        for name, spec in fields.items():
            required = (
                spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            )
            if required and name not in out:
                self.fail(f"{where}.{name}", "missing; this key is required")
        return out

    def value(self, hint: Any, value: Any, where: str, key: str) -> Any:
        if key in _CUSTOM and hint in (float, int, Backfill):
            try:
                return _CUSTOM[key](value)
            except ValueError as exc:
                self.fail(where, str(exc))
        origin = typing.get_origin(hint)
        if origin in (types.UnionType, typing.Union):
            options = [a for a in typing.get_args(hint) if a is not type(None)]
            return self.value(options[0], value, where, key)
        if origin is tuple:
            item = typing.get_args(hint)[0]
            if isinstance(value, str) and item is str:
                value = [value]
            if not isinstance(value, list):
                self.fail(where, f"expected a list, got {_kind(value)}")
            return tuple(self.value(item, v, f"{where}[{i}]", key) for i, v in enumerate(value))
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if hint is Channel:
                return self.channel(value, where)
            return hint(**self.table(hint, value, where))
        if hint is dict:
            if not isinstance(value, dict):
                self.fail(where, f"expected a table, got {_kind(value)}")
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(where, f"expected a number, got {_kind(value)}")
            return float(value)
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(where, f"expected an integer, got {_kind(value)}")
            return value
        if hint is bool:
            if not isinstance(value, bool):
                self.fail(where, f"expected true or false, got {_kind(value)}")
            return value
        if hint is str:
            if not isinstance(value, str):
                self.fail(where, f"expected a string, got {_kind(value)}")
            return value
        raise AssertionError(f"unsupported config type {hint!r}")

    def channel(self, value: Any, where: str) -> Channel:
        if not isinstance(value, dict):
            self.fail(
                where,
                f'expected a table such as {{ type = "file", path = "digests" }}, '
                f"got {_kind(value)}",
            )
        options = dict(value)
        kind = options.pop("type", None)
        if not isinstance(kind, str):
            self.fail(f"{where}.type", 'missing; name the channel type, e.g. type = "file"')
        return Channel(kind, options)


def _kind(value: Any) -> str:
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)


def load_config(path: str | os.PathLike) -> Config:
    """Read and validate a config file; raise ConfigError naming the file and key."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file; pass --config FILE or create config.toml"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    return parse_config(raw, path)


def parse_config(raw: dict, path: Path) -> Config:
    check = _Checker(path)
    top = check.table(Config, raw, "config", skip=("path",))
    # The table names at the top level read better without the "config." prefix.
    config = Config(path=path.resolve(), **top)
    _check_references(config, check)
    return config


def _check_references(config: Config, check: _Checker) -> None:
    names: set[str] = set()
    for i, wiki in enumerate(config.wikis):
        where = f"wikis[{i}]"
        if wiki.name in names:
            check.fail(f"{where}.name", f"duplicate wiki name {wiki.name!r}; names must be unique")
        names.add(wiki.name)
        _check_wiki_bounds(wiki, where, check)
        if (wiki.api_url is None) == (wiki.snapshot is None):
            check.fail(
                where, "give exactly one of api_url (the wiki's api.php) or snapshot (a file)"
            )
        if wiki.api_url is not None:
            url = urlparse(wiki.api_url)
            if url.scheme not in ("http", "https") or not url.netloc:
                check.fail(
                    f"{where}.api_url",
                    f"{wiki.api_url!r} is not an http(s) URL; give "
                    "the full api.php URL, e.g. https://en.wikipedia.org/w/api.php",
                )
        if wiki.snapshot is not None and not config.resolve(wiki.snapshot).is_file():
            check.fail(
                f"{where}.snapshot",
                f"file {wiki.snapshot!r} not found (relative to {config.base_dir})",
            )
        if not wiki.timeout > 0:
            check.fail(f"{where}.timeout", "must be more than 0 (seconds per request)")
        if wiki.max_retries < 0:
            check.fail(f"{where}.max_retries", "must be 0 or more")
    seen: set[tuple[str, str]] = set()
    for i, watch in enumerate(config.watches):
        where = f"watches[{i}]"
        if watch.wiki not in names:
            near = difflib.get_close_matches(watch.wiki, list(names), n=1)
            hint = f"did you mean {near[0]!r}?" if near else "add a [[wikis]] table with that name"
            check.fail(f"{where}.wiki", f"no wiki named {watch.wiki!r}; {hint}")
        if not watch.title.strip():
            check.fail(f"{where}.title", "empty title")
        if (watch.wiki, watch.title) in seen:
            check.fail(where, f"{watch.title!r} on {watch.wiki!r} is watched twice")
        seen.add((watch.wiki, watch.title))
    subs: set[str] = set()
    for i, sub in enumerate(config.subscriptions):
        where = f"subscriptions[{i}]"
        if sub.name in subs:
            check.fail(f"{where}.name", f"duplicate subscription name {sub.name!r}")
        subs.add(sub.name)
        _check_subscription(config, sub, where, names, check)
    level = config.daemon.log_level.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        check.fail("daemon.log_level", "use one of DEBUG, INFO, WARNING, ERROR")
    if not config.daemon.misfire_grace_time > 0:
        check.fail("daemon.misfire_grace_time", "must be more than 0 (seconds)")
    if not 0 <= config.web.port <= 65535:
        check.fail("web.port", "must be between 0 and 65535 (0 picks a free port)")


# Control characters (NUL, CR, LF, ESC...), line separators and bidi embeddings/overrides.
_CONTROL_IN_NAME = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _check_wiki_bounds(wiki: Wiki, where: str, check: _Checker) -> None:
    if wiki.timeout <= 0:
        check.fail(f"{where}.timeout", "must be more than 0 seconds (30 is a good value)")
    if wiki.max_retries < 0:
        check.fail(f"{where}.max_retries", "must be 0 or more")
    if wiki.max_continuations < 1:
        check.fail(f"{where}.max_continuations", "must be 1 or more")
    if wiki.api_url is not None and wiki.max_reply_size <= wiki.max_revision_size:
        check.fail(
            f"{where}.max_reply_size",
            f"{format_size(wiki.max_reply_size)} is not more than max_revision_size "
            f"({format_size(wiki.max_revision_size)}): a reply carries a revision's "
            "text and more; raise max_reply_size",
        )


def _check_subscription(
    config: Config, sub: Subscription, where: str, wikis: set[str], check: _Checker
) -> None:
    bad = _CONTROL_IN_NAME.search(sub.name)
    if bad is not None:
        # The name goes into file names, e-mail headers, subjects and terminal lines.
        check.fail(
            f"{where}.name",
            f"contains the control character U+{ord(bad.group()):04X}; "
            "give a name of visible characters",
        )
    if not sub.name.strip() or "/" in sub.name or "\\" in sub.name:
        check.fail(f"{where}.name", "give a name without slashes; it names digest files")
    if sub.wiki is not None and sub.wiki not in wikis:
        near = difflib.get_close_matches(sub.wiki, list(wikis), n=1)
        hint = f"did you mean {near[0]!r}?" if near else "add a [[wikis]] table with that name"
        check.fail(f"{where}.wiki", f"no wiki named {sub.wiki!r}; {hint}")
    for j, fmt in enumerate(sub.formats):
        if fmt not in DIGEST_FORMATS:
            near = difflib.get_close_matches(fmt, DIGEST_FORMATS, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"use {', '.join(DIGEST_FORMATS)}"
            check.fail(f"{where}.formats[{j}]", f"unknown format {fmt!r}; {hint}")
    watched = [w.title for w in config.watches if sub.wiki is None or w.wiki == sub.wiki]
    for j, title in enumerate(sub.pages):
        if title not in watched:
            near = difflib.get_close_matches(title, watched, n=1)
            hint = f"did you mean {near[0]!r}?" if near else "add a watch for it first"
            check.fail(f"{where}.pages[{j}]", f"{title!r} is not watched; {hint}")
    for j, pattern in enumerate(sub.sections):
        if not pattern.strip():
            check.fail(f"{where}.sections[{j}]", "empty section pattern")
    try:
        Schedule.parse(sub.schedule)
    except ValueError as exc:
        check.fail(f"{where}.schedule", str(exc))
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(sub.timezone)
    except (ValueError, KeyError, OSError):
        check.fail(
            f"{where}.timezone",
            f'unknown time zone {sub.timezone!r}; use an IANA name such as "UTC" or "Asia/Karachi"',
        )
    if sub.templates is not None and not config.resolve(sub.templates).is_dir():
        check.fail(
            f"{where}.templates",
            f"directory {sub.templates!r} not found (relative to {config.base_dir})",
        )
    if sub.since is not None:
        try:
            parse_since(sub.since)
        except ValueError as exc:
            check.fail(f"{where}.since", str(exc))
    if sub.max_words < 0:
        check.fail(f"{where}.max_words", "must be 0 or more")
    # The channel registry knows each channel's keys. Imported here because delivery sits
    # at the end of the pipeline and config at its start; only the check looks ahead.
    from tracker.digest.channels import check_channel

    labels: set[str] = set()
    for j, chan in enumerate(sub.channels):
        problem = check_channel(chan.type, chan.options)
        if problem:
            check.fail(f"{where}.channels[{j}]{problem[0]}", problem[1])
        if chan.label is not None:
            if chan.label in labels:
                check.fail(f"{where}.channels[{j}].name", f"duplicate channel name {chan.label!r}")
            labels.add(chan.label)
