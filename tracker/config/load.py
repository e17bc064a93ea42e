"""Loading config.toml: each table is checked against its dataclass (tracker.config.settings),
so that an unknown key, a wrong type or a dangling reference fails loudly with the file, the
key and the fix (datasette's way, not urlwatch's silent merge)."""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tracker.config.settings import (
    DIGEST_FORMATS,
    DIGEST_VIEWS,
    SET_KEYS,
    Backfill,
    Channel,
    Config,
    Schedule,
    Subscription,
    Watch,
    Wiki,
    format_size,
    parse_interval,
    parse_since,
    parse_size,
)
from tracker.errors import ConfigError

_CUSTOM = {
    "interval": parse_interval,
    "recheck": parse_interval,
    "backfill": Backfill.parse,
    "request_deadline": parse_interval,
    "max_retry_after": parse_interval,
    "max_reply_size": parse_size,
    "max_revision_size": parse_size,
    "alert_after": parse_interval,
    "reconcile": parse_interval,
    "refresh": parse_interval,
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
            f"{path}: no such config file; check --config, or create one with `tracker init`"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    return parse_config(raw, path)


def parse_config(raw: dict, path: Path) -> Config:
    check = _Checker(path)
    top = check.table(Config, raw, "config", skip=("path",))
    if "watches" in top:  # a watch set's pages start from their current revision by default
        top["watches"] = tuple(
            dataclasses.replace(watch, backfill=Backfill("none"))
            if watch.is_set and "backfill" not in raw["watches"][i]
            else watch
            for i, watch in enumerate(top["watches"])
        )
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
        if not wiki.name.strip() or "/" in wiki.name:
            # (The web UI names a page /wiki/<wiki>/<title>: the title may hold slashes.)
            check.fail(f"{where}.name", f"{wiki.name!r}: a wiki's name is not blank and has no '/'")
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
        _check_watch(watch, where, check)
        if (watch.wiki, watch.key) in seen:
            check.fail(where, f"{watch.key!r} on {watch.wiki!r} is watched twice")
        seen.add((watch.wiki, watch.key))
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


def _check_watch(watch: Watch, where: str, check: _Checker) -> None:
    """A watch names one page (title) or one set (category, prefix, linked_from,
    transcluding or user), with the keys that go with it."""
    given = [key for key in ("title", *SET_KEYS) if getattr(watch, key)]
    if len(given) != 1:
        if given:
            check.fail(where, f"give one of {', '.join(given)} per watch, not {len(given)}")
        check.fail(
            f"{where}.title",
            "missing; give the page's title, or a watch set: " + ", ".join(SET_KEYS),
        )
    kind = watch.kind
    if not watch.target.strip():
        check.fail(f"{where}.{kind}", "empty")
    for key, allowed in (("depth", ("category",)), ("namespace", ("prefix", "user"))):
        default = 0 if key == "depth" else None
        if getattr(watch, key) != default and kind not in allowed:
            check.fail(f"{where}.{key}", f"only goes with {' or '.join(allowed)}")
    if not 0 <= watch.depth <= 10:
        check.fail(f"{where}.depth", "give 0 (the category's own pages) to 10 levels down")
    if watch.max_pages < 1:
        check.fail(f"{where}.max_pages", "must be 1 or more")


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
    if sub.view not in DIGEST_VIEWS:
        near = difflib.get_close_matches(sub.view, DIGEST_VIEWS, n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"use {', '.join(DIGEST_VIEWS)}"
        check.fail(f"{where}.view", f"unknown view {sub.view!r}; {hint}")
    mine = [w for w in config.watches if sub.wiki is None or w.wiki == sub.wiki]
    watched = [w.key for w in mine]
    sets = any(w.is_set for w in mine)  # (a set's pages are known once it is read)
    for j, title in enumerate(sub.pages):
        if title not in watched and not sets:
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
    from tracker.digest.triggers import trigger_problem

    for key in ("added_text", "removed_text", "text"):
        for j, value in enumerate(getattr(sub.filters, key)):
            wrong = trigger_problem(value)
            if wrong:
                check.fail(f"{where}.filters.{key}[{j}]", wrong)
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
