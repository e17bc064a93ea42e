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
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import ConfigError

DEFAULT_INTERVAL = 15 * 60
DEFAULT_CONTACT = "https://github.com/wiki-tracker/wiki-tracker"

_INTERVAL_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_interval(value: Any) -> float:
    """Seconds from 90, "90s", "15m", "6h", "1d"."""
    if isinstance(value, bool):
        raise ValueError("expected seconds or a string like \"90s\", \"15m\", \"6h\"")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _INTERVAL_RE.match(value)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValueError(f"{value!r} is not an interval: use seconds or \"90s\", \"15m\", \"6h\"")
    if seconds <= 0:
        raise ValueError("an interval must be positive")
    return seconds


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
            f"{value!r} is not a backfill policy: use \"all\", \"none\" (from now), "
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
    timeout: float = 30.0
    max_retries: int = 5
    # The wiki's article URL prefix for links in digests; derived from api_url when empty.
    index_url: str | None = None

    @property
    def is_snapshot(self) -> bool:
        return self.snapshot is not None

    @property
    def script_url(self) -> str | None:
        """index.php of the wiki, for links such as ?diff=NEW&oldid=OLD."""
        if self.index_url:
            return self.index_url
        if self.api_url and self.api_url.endswith("api.php"):
            return self.api_url[: -len("api.php")] + "index.php"
        return None


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
    """One delivery target of a subscription; ``options`` are checked by the channel registry."""

    type: str
    options: dict = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Filters:
    skip_minor: bool = False
    skip_bots: bool = False
    skip_users: tuple[str, ...] = ()
    skip_reverted: bool = True


@dataclass(frozen=True)
class Subscription:
    name: str
    formats: tuple[str, ...] = ("markdown",)
    channels: tuple[Channel, ...] = ()
    pages: tuple[str, ...] = ()  # titles; empty = every watch
    wiki: str | None = None  # only the watches of this wiki
    sections: tuple[str, ...] = ()  # heading paths "A / B" or globs; empty = whole pages
    filters: Filters = field(default_factory=Filters)
    schedule: str = "on change"  # "on change", an interval ("6h"), or a cron expression
    timezone: str = "UTC"
    heartbeat: bool = False  # deliver a "nothing changed" digest for an empty window
    templates: str | None = None  # a directory overriding the bundled templates


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

_CUSTOM = {"interval": parse_interval, "backfill": Backfill.parse}


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
        if key in _CUSTOM and hint in (float, Backfill):
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
        if dataclasses.is_dataclass(hint):
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
            self.fail(where, f"expected a table such as {{ type = \"file\", path = \"digests\" }}, "
                      f"got {_kind(value)}")
        options = dict(value)
        kind = options.pop("type", None)
        if not isinstance(kind, str):
            self.fail(f"{where}.type", "missing; name the channel type, e.g. type = \"file\"")
        return Channel(kind, options)


def _kind(value: Any) -> str:
    return {
        bool: "a boolean", int: "an integer", float: "a number", str: "a string",
        list: "a list", dict: "a table",
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
        if (wiki.api_url is None) == (wiki.snapshot is None):
            check.fail(where, "give exactly one of api_url (the wiki's api.php) or snapshot (a file)")
        if wiki.api_url is not None:
            url = urlparse(wiki.api_url)
            if url.scheme not in ("http", "https") or not url.netloc:
                check.fail(f"{where}.api_url", f"{wiki.api_url!r} is not an http(s) URL; give "
                           "the full api.php URL, e.g. https://en.wikipedia.org/w/api.php")
        if wiki.snapshot is not None and not config.resolve(wiki.snapshot).is_file():
            check.fail(f"{where}.snapshot", f"file {wiki.snapshot!r} not found "
                       f"(relative to {config.base_dir})")
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
        if sub.wiki is not None and sub.wiki not in names:
            check.fail(f"{where}.wiki", f"no wiki named {sub.wiki!r}")
    level = config.daemon.log_level.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        check.fail("daemon.log_level", "use one of DEBUG, INFO, WARNING, ERROR")
