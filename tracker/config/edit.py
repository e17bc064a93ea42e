"""Edits of config.toml that keep its comments and layout (tomlkit), each checked before it
is written: the edited text must hold exactly the intended change (nothing else moved) and
pass the loader; an edit that fails either is not made. ``tracker watch`` edits this way.

    edit = ConfigEdit(config.path)
    edit.add_watch("local", "Some page", interval="6h")
    edit.write()
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.items
from tomlkit.container import Container

from tracker.config.load import parse_config
from tracker.config.settings import SET_KEYS, Config, Watch, Wiki, parse_interval
from tracker.errors import AlreadyWatched, ConfigError, UsageError

# Characters MediaWiki never allows in a title ($wgLegalTitleChars leaves them out).
_ILLEGAL_TITLE = re.compile(r"[#<>\[\]{}|\x00-\x1f\x7f]")


def clean_title(text: str, what: str = "page title") -> str:
    """A title as the user gave it, spelled as MediaWiki stores it (spaces, not
    underscores); UsageError when MediaWiki could never have such a page."""
    title = " ".join(text.replace("_", " ").split())
    if not title:
        raise UsageError(f"empty {what}")
    _check_title_chars(title, what)
    return title


def _check_title_chars(title: str, what: str) -> None:
    bad = _ILLEGAL_TITLE.search(title)
    if bad is not None:
        char = bad.group() if bad.group().isprintable() else f"U+{ord(bad.group()):04X}"
        raise UsageError(f"{title!r} is not a {what}: MediaWiki titles cannot contain {char!r}")


def clean_set_target(kind: str, text: str) -> str:
    """What a watch set is of, spelled as MediaWiki stores it: a title (category, list
    page, template), a user name, or a prefix (whose trailing space counts: "List of ")."""
    if kind != "prefix":
        return clean_title(text, "user name" if kind == "user" else "page title")
    prefix = text.replace("_", " ").lstrip()
    if not prefix.strip():
        raise UsageError("empty prefix")
    _check_title_chars(prefix, "title prefix")
    return prefix


def pick_wiki(config: Config, name: str | None) -> Wiki:
    """The wiki named, or the only one; UsageError otherwise."""
    if name is not None:
        for wiki in config.wikis:
            if wiki.name == name:
                return wiki
        names = [w.name for w in config.wikis]
        near = difflib.get_close_matches(name, names, n=3)
        hint = f"did you mean {', '.join(map(repr, near))}?" if near else _known(names)
        raise UsageError(f"no wiki named {name!r} in {config.path.name}; {hint}")
    if len(config.wikis) == 1:
        return config.wikis[0]
    if not config.wikis:
        raise UsageError(
            f"{config.path.name} has no [[wikis]]: give a wiki page's URL instead of a title"
        )
    listed = ", ".join(w.name for w in config.wikis)
    raise UsageError(f"{config.path.name} has several wikis ({listed}): pick one with --wiki")


def find_watch(config: Config, name: str, wiki: str | None = None) -> Watch:
    """The configured watch of ``name``: a page's title or a set's key ("category:Physics"),
    on ``wiki`` when given; UsageError naming close matches when there is none, or the
    wikis when it is watched on several."""
    if wiki is not None:
        pick_wiki(config, wiki)
    candidates = [w for w in config.watches if wiki is None or w.wiki == wiki]
    spellings = key_spellings(name)
    spelled = spellings[-1]
    found: list[Watch] = []
    for spelling in spellings:
        found = found or [w for w in candidates if w.key == spelling]
    if len(found) == 1:
        return found[0]
    if found:
        wikis = ", ".join(w.wiki for w in found)
        raise UsageError(f"{spelled!r} is watched on several wikis ({wikis}): pick one with --wiki")
    keys = sorted({w.key for w in candidates})
    near = difflib.get_close_matches(spelled, keys, n=3, cutoff=0.5)
    where = f" on {wiki!r}" if wiki is not None else ""
    hint = (
        f"did you mean {', '.join(map(repr, near))}?"
        if near
        else "see `tracker watch list`"
        if keys
        else "there are no watches yet"
    )
    raise UsageError(f"{spelled!r} is not watched{where}; {hint}")


def key_spellings(name: str) -> list[str]:
    """The keys a watch's name may stand for, as written first, MediaWiki's spelling last
    (underscores as spaces, in a set's target only: "linked_from:List_of_X" is
    "linked_from:List of X"; a prefix's trailing space kept)."""
    kind, sep, rest = name.lstrip().partition(":")
    if sep and kind == "cascade":
        spelled = f"cascade:{key_spellings(rest)[-1]}"
    elif sep and kind in SET_KEYS:
        target = rest.replace("_", " ")
        spelled = f"{kind}:{target if kind == 'prefix' else target.strip()}"
    else:
        spelled = name.replace("_", " ").strip()
    return list(dict.fromkeys([name, name.strip(), spelled]))


def _known(names: list[str]) -> str:
    return f"known: {', '.join(names)}" if names else "there are no [[wikis]] yet"


class ConfigEdit:
    """A config file being edited. Each change is checked at once (ConfigError, and the
    change is not kept, when it fails); ``write`` saves the changes kept, in one go."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        try:
            self.text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"{self.path}: no such config file; pass --config FILE or create config.toml"
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{self.path}: cannot be read: {exc}") from None
        self.original = self.text
        try:
            self.data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{self.path}: not valid TOML: {exc}") from None
        self.config = parse_config(self.data, self.path)

    @property
    def changed(self) -> bool:
        return self.text != self.original

    # --- the changes -------------------------------------------------------------------

    def add_watch(self, wiki: str, title: str, interval: str | None = None) -> Watch:
        """A new ``[[watches]]`` entry; UsageError when it is watched already."""
        title = clean_title(title)
        if any(w.wiki == wiki and w.key == title for w in self.config.watches):
            raise AlreadyWatched(f"{title!r} is already watched on {wiki!r}")
        entry: dict[str, Any] = {"wiki": wiki, "title": title}
        if interval is not None:
            entry["interval"] = _interval_value(interval, "--interval")
        self._apply(
            "watches", lambda doc: _append(doc, "watches", entry), _add_row("watches", entry)
        )
        return self.config.watches[-1]

    def add_set_watch(
        self,
        wiki: str,
        kind: str,
        target: str,
        *,
        interval: str | None = None,
        refresh: str | None = None,
        **options: Any,
    ) -> Watch:
        """A new ``[[watches]]`` entry of a watch set (``kind`` one of SET_KEYS, as
        config.toml names it); ``options``: its other keys (depth, namespace, max_pages,
        cascade), None for their defaults. UsageError when it is watched already."""
        target = clean_set_target(kind, target)
        key = f"{kind}:{target}"
        if any(w.wiki == wiki and w.key == key for w in self.config.watches):
            raise AlreadyWatched(f"{key!r} is already watched on {wiki!r}")
        entry: dict[str, Any] = {"wiki": wiki, kind: target}
        entry.update((name, value) for name, value in options.items() if value is not None)
        for name, text in (("interval", interval), ("refresh", refresh)):
            if text is not None:
                entry[name] = _interval_value(text, f"--{name}")
        self._apply(
            "watches", lambda doc: _append(doc, "watches", entry), _add_row("watches", entry)
        )
        return self.config.watches[-1]

    def add_wiki(self, name: str, api_url: str, **extra: Any) -> Wiki:
        """A new ``[[wikis]]`` entry (``extra``: more of its keys, such as contact)."""
        entry = {"name": name, "api_url": api_url, **extra}
        self._apply("wikis", lambda doc: _append(doc, "wikis", entry), _add_row("wikis", entry))
        return self.config.wikis[-1]

    def remove_watch(self, watch: Watch) -> None:
        index = self._index(watch)

        def expect(data: dict) -> None:
            del data["watches"][index]
            if not data["watches"]:
                del data["watches"]

        self._apply("watches", lambda doc: _remove(doc, "watches", index), expect)

    def set_paused(self, watch: Watch, paused: bool) -> bool:
        """Pause or resume a watch; False when it already was so (nothing to change)."""
        if watch.paused == paused:
            return False
        # Resumed is the default: no key left behind.
        self.set_watch_key(watch, "paused", True if paused else None)
        return True

    def set_watch_key(self, watch: Watch, key: str, value: Any) -> None:
        """Set one key of a watch's table (None: take the key away)."""
        index = self._index(watch)

        def change(doc: Any) -> None:
            entry = doc["watches"][index]
            if value is not None:
                _set_key(entry, key, value)
            elif key in entry:
                del entry[key]

        def expect(data: dict) -> None:
            if value is not None:
                data["watches"][index][key] = value
            else:
                data["watches"][index].pop(key, None)

        self._apply("watches", change, expect)

    def checkpoint(self) -> tuple[str, dict, Config]:
        """The state to go back to with ``restore`` (changes that belong together)."""
        return self.text, self.data, self.config

    def restore(self, state: tuple[str, dict, Config]) -> None:
        self.text, self.data, self.config = state

    def write(self) -> bool:
        """Save the file if anything changed (atomically: a reader sees the old file or the
        new one, never half of it); True when it was written."""
        if not self.changed:
            return False
        handle, temp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(self.text)
            try:
                os.chmod(temp, self.path.stat().st_mode & 0o7777)
            except OSError:
                pass
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        self.original = self.text
        return True

    # --- checking ----------------------------------------------------------------------

    def _index(self, watch: Watch) -> int:
        for index, candidate in enumerate(self.config.watches):
            if (candidate.wiki, candidate.key) == (watch.wiki, watch.key):
                return index
        raise UsageError(f"{watch.key!r} is not watched on {watch.wiki!r}")

    def _apply(
        self, key: str, change: Callable[[Any], None], expect: Callable[[dict], None]
    ) -> None:
        doc = tomlkit.parse(self.text)  # a fresh copy: a failed change leaves nothing behind
        if key in doc and not isinstance(doc[key], tomlkit.items.AoT | tomlkit.items.Array):
            raise ConfigError(f"{self.path}: {key}: expected [[{key}]] tables")
        change(doc)
        text = tomlkit.dumps(doc)
        wanted = copy.deepcopy(self.data)
        expect(wanted)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            data = None
        if data != wanted:
            raise ConfigError(
                f"{self.path}: could not be edited without changing other settings (its "
                f"[[{key}]] are laid out in a way this edit does not handle); edit it by hand"
            )
        try:
            config = parse_config(data, self.path)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (so {self.path.name} was not changed)") from None
        self.text, self.data, self.config = text, data, config


def _interval_value(text: str, option: str) -> str | int:
    try:
        parse_interval(text)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
    return int(text) if text.strip().isdigit() else text.strip()


def _add_row(key: str, entry: dict) -> Callable[[dict], None]:
    def expect(data: dict) -> None:
        data.setdefault(key, []).append(dict(entry))

    return expect


# --- tomlkit: where the comments and blank lines go -----------------------------------------
#
# tomlkit keeps the comments and blank lines above a table header as the tail of the table
# before it. These helpers treat them as the next table's: a key is set above that tail, a
# table appended after the last one takes the tail along (it stays above what followed), and
# a table removed takes its own comments (the lines right above its header) with it.


def _body(item: Any) -> list | None:
    """The body list of a table (or of the last table of an array of tables)."""
    if isinstance(item, tomlkit.items.AoT):
        return _body(item[-1]) if len(item) else None
    if isinstance(item, tomlkit.items.Table):
        return item.value.body
    return None


def _tail_start(body: list) -> int:
    """Where the trailing comments and blank lines of a table's body start."""
    start = len(body)
    while start > 0 and body[start - 1][0] is None:
        start -= 1
    return start


def _set_key(entry: Any, key: str, value: Any) -> None:
    if key in entry or not isinstance(entry, tomlkit.items.Table):
        entry[key] = value
        return
    body = entry.value.body
    tail = body[_tail_start(body) :]
    del body[len(body) - len(tail) :]
    entry[key] = value
    body.extend(tail)


def _append(doc: Any, key: str, entry: dict) -> None:
    array = doc.get(key)
    if isinstance(array, tomlkit.items.Array):  # watches = [{ ... }, ...]
        inline = tomlkit.inline_table()
        inline.update(entry)
        array.append(inline)
        return
    table = tomlkit.table()
    for name, value in entry.items():
        table[name] = value
    if array is None:
        array = tomlkit.aot()
        _end_with_blank_line(doc)
        array.append(table)
        doc.append(key, array)
        return
    body = _body(array)
    assert body is not None
    tail = body[_tail_start(body) :]
    del body[len(body) - len(tail) :]
    body.append((None, tomlkit.items.Whitespace("\n")))
    array.append(table)
    table.value.body.extend(tail)


def _end_with_blank_line(doc: Any) -> None:
    """A new table at the end of the file goes after a blank line."""
    if not doc.body:
        return
    body = _body(doc.body[-1][1])
    target = body if body is not None else doc.body
    last = target[-1][1] if target else None
    if not isinstance(last, tomlkit.items.Whitespace) or last.as_string().count("\n") < (
        1 if body is not None else 2
    ):
        if body is not None:
            target.append((None, tomlkit.items.Whitespace("\n")))
        else:
            doc.add(tomlkit.nl())


def _remove(doc: Any, key: str, index: int) -> None:
    array = doc[key]
    if isinstance(array, tomlkit.items.Array):
        del array[index]
        return
    own = array[index].value.body
    tail = own[_tail_start(own) :]
    above = _body(array[index - 1]) if index > 0 else _item_before(doc, key)
    if above is not None:
        start = _tail_start(above)
        end = len(above)
        # The comment lines right above the header are the removed table's own; then the
        # blank lines before them, which the removed table's tail replaces.
        while end > start and isinstance(above[end - 1][1], tomlkit.items.Comment):
            end -= 1
        while end > start and isinstance(above[end - 1][1], tomlkit.items.Whitespace):
            end -= 1
        del above[end:]
        above.extend(tail)
    elif index == 0 and len(array) > 1:
        # Nothing above holds them: the removed table's own comments and the next one's are
        # in the document's own body, right above the array's header (where tomlkit keeps
        # what precedes a first table): its own go, the next one's come there.
        _replace_above(doc, key, [item for item in tail if item[1].as_string().strip()])
    del array[index]
    if not len(array):
        del doc[key]


def _replace_above(doc: Any, key: str, items: list) -> None:
    """The comment lines right above table ``key`` in the document's body (and the blank
    lines before them) replaced by keyless ``items``; tomlkit's Container holds each
    item's place in an index map, moved along (as Container._insert_at does)."""
    container: Container = doc
    body = container.body
    end = next(n for n, (name, _) in enumerate(body) if name is not None and name.key == key)
    start = end
    while (
        start > 0
        and body[start - 1][0] is None
        and isinstance(body[start - 1][1], tomlkit.items.Comment)
    ):
        start -= 1
    while (
        start > 0
        and body[start - 1][0] is None
        and isinstance(body[start - 1][1], tomlkit.items.Whitespace)
    ):
        start -= 1
    if start < end and start > 0 and items:
        items = [(None, tomlkit.items.Whitespace("\n")), *items]  # a blank line above them
    body[start:end] = items
    shift = len(items) - (end - start)
    index_map = container._map
    for name, where in list(index_map.items()):
        if isinstance(where, tuple):
            index_map[name] = tuple(w + shift if w >= end else w for w in where)
        elif where >= end:
            index_map[name] = where + shift


def _item_before(doc: Any, key: str) -> list | None:
    container: Container = doc
    body = container.body
    for position, (name, _) in enumerate(body):
        if name is not None and name.key == key:
            return _body(body[position - 1][1]) if position > 0 else None
    return None
