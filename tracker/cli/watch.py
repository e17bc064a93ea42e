"""`tracker watch add|list|members|remove|pause|resume|import`: the watches of config.toml
(pages and watch sets), edited in place with its comments and layout kept
(tracker.config.edit), a wiki page's URL leading to its wiki (tracker.fetch.discovery); a
set's members as the store keeps them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracker.cli.app import App, pass_app
from tracker.cli.status import set_label
from tracker.config import SET_KEYS, Watch
from tracker.errors import AlreadyWatched, TrackerError, UsageError
from tracker.text.display import one_line

if TYPE_CHECKING:
    from tracker.config.edit import ConfigEdit
    from tracker.fetch.discovery import Added
    from tracker.store import Store


@click.group()
def watch() -> None:
    """Add, list, remove, pause and resume watches (config.toml keeps its comments)."""


def _interval(seconds: float) -> str:
    """900 -> "15m": the largest unit that divides it, as config.toml writes intervals."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _added_lines(added: Added) -> list[str]:
    lines = []
    if added.wiki is not None:
        lines.append(f"added wiki {added.wiki.name!r} ({added.wiki.api_url})")
    note = " (the page does not exist yet)" if added.exists is False else ""
    lines.append(f"watching {added.watch.title!r} on {added.watch.wiki!r}{note}")
    return lines


# The options of `watch add` that make it a watch set, by the config key each sets.
_SET_OPTIONS = {"category": "category", "prefix": "prefix", "linked_from": "linked-from",
                "transcluding": "transcluding", "user": "user"}  # fmt: skip


@watch.command("add")
@click.argument("page", required=False)
@click.option("--wiki", help="The wiki of a title or set (default: the only one).")
@click.option("--interval", help='How often to poll it: seconds, "90s", "15m", "6h".')
@click.option("--category", help="Watch the pages in this category (a watch set).")
@click.option("--depth", type=click.IntRange(0, 10), help="With --category: subcategory levels.")
@click.option("--prefix", help="Watch the pages whose titles start with this.")
@click.option("--namespace", type=int, help="With --prefix or --user: a namespace number.")
@click.option("--linked-from", help="Watch the pages this page links to.")
@click.option("--transcluding", help="Watch the pages that use this template.")
@click.option("--user", help="Watch the pages this user edits.")
@click.option("--max-pages", type=click.IntRange(min=1), help="A set's most pages.")
@click.option("--refresh", help="How often a set's list is read again.")
@click.option("--cascade", is_flag=True, help="Follow the templates its pages use too.")
@pass_app
def add(
    app: App,
    page: str | None,
    wiki: str | None,
    interval: str | None,
    depth: int | None,
    namespace: int | None,
    max_pages: int | None,
    refresh: str | None,
    cascade: bool,
    **sets: str | None,
) -> None:
    """Watch PAGE (a title, or a wiki page's URL, whose wiki is added when new), or a
    watch set: --category, --prefix, --linked-from, --transcluding or --user."""
    from tracker.config.edit import ConfigEdit, pick_wiki
    from tracker.fetch.discovery import watch_page

    given = {key: value for key, value in sets.items() if value is not None}
    if len(given) + (page is not None) != 1:
        raise UsageError(
            "give one page or one of --category, --prefix, --linked-from, --transcluding, "
            "--user"
            + (f", not {len(given) + (page is not None)}" if given or page is not None else "")
        )
    kind, target = next(iter(given.items()), (None, None))
    _options_fit(kind, depth=depth, namespace=namespace, max_pages=max_pages, refresh=refresh)
    edit = ConfigEdit(app.config.path)
    if kind is None:
        assert page is not None
        added = watch_page(edit, page, wiki=wiki, interval=interval)
        if cascade:
            edit.set_watch_key(added.watch, "cascade", True)
        edit.write()
        for line in _added_lines(added):
            click.echo(one_line(line))
        return
    assert target is not None
    found = edit.add_set_watch(
        pick_wiki(edit.config, wiki).name,
        kind,
        target,
        interval=interval,
        refresh=refresh,
        depth=depth,
        namespace=namespace,
        max_pages=max_pages,
        cascade=True if cascade else None,
    )
    edit.write()
    click.echo(
        one_line(f"watching {found.key!r} on {found.wiki!r}; its pages are read on the next poll")
    )


def _options_fit(kind: str | None, **options: object) -> None:
    """The options of a set given only with the kinds of set they go with."""
    fits = {"depth": ("category",), "namespace": ("prefix", "user")}
    for name, value in options.items():
        kinds = fits.get(name, SET_KEYS)
        if value is None or kind in kinds:
            continue
        wanted = (
            " or ".join(f"--{_SET_OPTIONS[k]}" for k in kinds) if name in fits else "a watch set"
        )
        given = f"--{_SET_OPTIONS[kind]}" if kind else "a page"
        raise UsageError(f"--{name.replace('_', '-')} goes with {wanted}, not with {given}")


@watch.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON array of the watches.")
@pass_app
def list_(app: App, as_json: bool) -> None:
    """The watches: wiki, title, interval, whether paused; each watch set with its members
    now and the last reading of its list."""
    watches = app.config.watches
    pages = [w for w in watches if not w.is_set]
    sets = _set_records(app, [w for w in watches if w.is_set])
    if as_json:
        records = [
            {"wiki": w.wiki, "title": w.title, "interval": w.interval, "paused": w.paused}
            if not w.is_set
            else sets[w.wiki, w.key]
            for w in watches
        ]
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
        return
    if not watches:
        click.echo("No watches; add one with `tracker watch add TITLE-OR-URL`.")
        return
    width = max(len("WIKI"), *(len(one_line(w.wiki)) for w in watches))
    if pages:
        click.echo(f"{'WIKI':<{width}}  {'INTERVAL':>8}  {'PAUSED':<6}  TITLE")
    for w in pages:
        click.echo(
            f"{one_line(w.wiki):<{width}}  {_interval(w.interval):>8}  "
            f"{'yes' if w.paused else '':<6}  {one_line(w.title)}"
        )
    if not sets:
        return
    if pages:
        click.echo()
    click.echo(
        f"{'WIKI':<{width}}  {'INTERVAL':>8}  {'REFRESH':>7}  {'PAUSED':<6}  {'MEMBERS':>7}  "
        f"{'LAST REFRESH':<20}  SET"
    )
    for rec in sets.values():
        members = "-" if rec["members"] is None else f"{rec['members']:,}"
        click.echo(
            f"{one_line(rec['wiki']):<{width}}  {_interval(rec['interval']):>8}  "
            f"{_interval(rec['refresh']):>7}  {'yes' if rec['paused'] else '':<6}  "
            f"{members:>7}  {rec['last_refresh'] or 'never':<20}  {one_line(set_label(rec))}"
        )
        if rec["refresh_error"]:
            click.echo(one_line(f"  refresh error: {rec['refresh_error']}"))


def _set_records(app: App, sets: list[Watch]) -> dict[tuple[str, str], dict]:
    """(wiki, key) -> what `watch list` says of each set watch: its config, its members
    now and the last reading of its list (None before the first)."""
    from tracker.cli.status import set_state

    if not sets:
        return {}
    records = {}
    store = _read_store(app)
    try:
        for w in sets:
            state = set_state(store, w, polls=False) if store is not None else None
            records[w.wiki, w.key] = {
                "wiki": w.wiki,
                "key": w.key,
                "kind": w.kind,
                "target": w.target,
                "depth": w.depth,
                "namespace": w.namespace,
                "interval": w.interval,
                "refresh": w.refresh,
                "max_pages": w.max_pages,
                "cascade": w.cascade,
                "paused": w.paused,
                "members": state["members"] if state else None,
                "last_refresh": state["last_refresh"] if state else None,
                "refresh_error": state["refresh_error"] if state else None,
            }
    finally:
        if store is not None:
            store.close()
    return records


def _read_store(app: App) -> Store | None:
    """The store, read-only; None before the first run made it."""
    from tracker.store import Store

    if not app.config.database_path.exists():
        return None
    return Store(app.config.database_path, readonly=True)


@watch.command("members")
@click.argument("key")
@click.option("--wiki", help="The wiki, when the set is watched on several.")
@click.option("--all", "everyone", is_flag=True, help="Pages that left the set too.")
@click.option("--json", "as_json", is_flag=True, help="JSON array of the members.")
@pass_app
def members(app: App, key: str, wiki: str | None, everyone: bool, as_json: bool) -> None:
    """The pages in the watch set KEY ("category:Physics") with when each joined (--all:
    and those that left, with when); "cascade:KEY": the templates a watch's pages use."""
    store = _read_store(app)
    try:
        wiki, key, row = _find_set(app, store, key, wiki)
        rows = store.set_members(row["id"], current=not everyone) if store and row else []
    finally:
        if store is not None:
            store.close()
    if as_json:
        fields = ("title", "pageid", "ns", "joined_at", "left_at", "via")
        records = [{name: member[name] for name in fields} for member in rows]
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
        return
    if row is None or not (row["refreshed_at"] or rows):
        failed = row["refresh_error"] if row else None
        click.echo(
            one_line(
                f"{key!r} on {wiki!r} has not been read yet"
                + (f" (the last reading failed: {failed})" if failed else "")
                + "; its pages are read on the next poll (`tracker run --once`)"
            )
        )
        return
    count = row["members"]
    click.echo(
        one_line(
            f"{key!r} on {wiki!r}: {count:,} page{'' if count == 1 else 's'}, list last read "
            f"{row['refreshed_at']}"
            + (f"; the last reading failed: {row['refresh_error']}" if row["refresh_error"] else "")
        )
    )
    if not rows:
        return
    left = f"{'LEFT':<20}  " if everyone else ""
    click.echo(f"{'JOINED':<20}  {left}TITLE")
    for member in rows:
        left = f"{member['left_at'] or '':<20}  " if everyone else ""
        click.echo(f"{member['joined_at']:<20}  {left}{one_line(member['title'])}")


def _find_set(
    app: App, store: Store | None, key: str, wiki: str | None
) -> tuple[str, str, dict | None]:
    """(wiki, key, stored set or None) of a configured set watch, or of a set only the
    store holds (a watch's templates, "cascade:...", or a set no longer configured)."""
    from tracker.cli.status import stored_set
    from tracker.config.edit import find_watch, key_spellings, pick_wiki

    try:
        found = find_watch(app.config, key, wiki)
    except UsageError as exc:
        missing = exc
    else:
        if not found.is_set:
            hint = (
                f"; the templates it uses: `tracker watch members 'cascade:{found.key}'`"
                if found.cascade
                else ""
            )
            raise UsageError(f"{found.key!r} is a page, not a watch set{hint}")
        row = stored_set(store, found.wiki, found.key) if store is not None else None
        return found.wiki, found.key, row
    wikis = [pick_wiki(app.config, wiki).name] if wiki else [w.name for w in app.config.wikis]
    stored = [
        (name, spelling, row)
        for name in wikis
        for spelling in key_spellings(key)
        if store is not None and (row := stored_set(store, name, spelling)) is not None
    ]
    if not stored:
        raise missing
    if len({name for name, _, _ in stored}) > 1:
        names = ", ".join(sorted({name for name, _, _ in stored}))
        raise UsageError(f"{key!r} is stored for several wikis ({names}): pick one with --wiki")
    return stored[0]


def _edit_watch(app: App, name: str, wiki: str | None) -> tuple[ConfigEdit, Watch]:
    from tracker.config.edit import ConfigEdit, find_watch

    edit = ConfigEdit(app.config.path)
    return edit, find_watch(edit.config, name, wiki)


@watch.command("remove")
@click.argument("title")
@click.option("--wiki", help="The wiki, when the title is watched on several.")
@pass_app
def remove(app: App, title: str, wiki: str | None) -> None:
    """Stop watching TITLE, or the watch set TITLE ("category:Physics"); what is stored
    stays in the database."""
    edit, found = _edit_watch(app, title, wiki)
    edit.remove_watch(found)
    edit.write()
    click.echo(one_line(f"removed {found.key!r} on {found.wiki!r}; its stored history is kept"))


def _pause(app: App, title: str, wiki: str | None, paused: bool) -> None:
    edit, found = _edit_watch(app, title, wiki)
    done = edit.set_paused(found, paused)
    edit.write()
    state = "paused" if paused else "resumed"
    already = "" if done else " already"
    click.echo(one_line(f"{found.key!r} on {found.wiki!r} is{already} {state}"))


@watch.command("pause")
@click.argument("title")
@click.option("--wiki", help="The wiki, when the title is watched on several.")
@pass_app
def pause(app: App, title: str, wiki: str | None) -> None:
    """Stop polling TITLE (or a set's pages) for now (`paused = true`); its history stays."""
    _pause(app, title, wiki, True)


@watch.command("resume")
@click.argument("title")
@click.option("--wiki", help="The wiki, when the title is watched on several.")
@pass_app
def resume(app: App, title: str, wiki: str | None) -> None:
    """Poll TITLE (or a set's pages) again."""
    _pause(app, title, wiki, False)


@watch.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.option("--wiki", help="The wiki of the titles (default: the only one).")
@click.option("--interval", help='How often to poll them: seconds, "90s", "15m", "6h".')
@pass_app
def import_(app: App, file: Path, wiki: str | None, interval: str | None) -> None:
    """Watch every title or page URL in FILE, one a line ('#' starts a comment line)."""
    from tracker.config.edit import ConfigEdit
    from tracker.fetch.discovery import Discovery, operator_contact, watch_page

    try:
        if str(file) == "-":
            text = sys.stdin.read()
        else:
            text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{file}: cannot be read: {exc}") from None
    edit = ConfigEdit(app.config.path)
    discovery = Discovery(contact=operator_contact(edit.config))
    added = skipped = 0
    failed: list[int] = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            result = watch_page(edit, line, wiki=wiki, interval=interval, discovery=discovery)
        except AlreadyWatched as exc:
            skipped += 1
            click.echo(one_line(f"line {number}: skipped: {exc}"))
            continue
        except TrackerError as exc:
            failed.append(number)
            click.echo(one_line(f"line {number}: not added: {exc}"))
            continue
        added += 1
        for text_line in _added_lines(result):
            click.echo(one_line(f"line {number}: {text_line}"))
    edit.write()
    click.echo(f"{added} added, {skipped} skipped (already watched), {len(failed)} not added")
    if failed:
        lines = ", ".join(map(str, failed))
        raise UsageError(f"{len(failed)} lines of {file} not added (lines {lines}); see above")


def register(main: click.Group) -> None:
    """Add the watch commands to the `tracker` group."""
    main.add_command(watch)
