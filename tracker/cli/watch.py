"""`tracker watch add|list|remove|pause|resume|import`: the watches of config.toml, edited
in place with its comments and layout kept (tracker.config.edit), a wiki page's URL
leading to its wiki (tracker.fetch.discovery)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tracker.cli.app import App, pass_app
from tracker.config import Watch
from tracker.errors import AlreadyWatched, TrackerError, UsageError
from tracker.text.display import one_line

if TYPE_CHECKING:
    from tracker.config.edit import ConfigEdit
    from tracker.fetch.discovery import Added


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


@watch.command("add")
@click.argument("page")
@click.option("--wiki", help="The wiki of a title (default: the only one).")
@click.option("--interval", help='How often to poll it: seconds, "90s", "15m", "6h".')
@pass_app
def add(app: App, page: str, wiki: str | None, interval: str | None) -> None:
    """Watch PAGE: a title, or a wiki page's URL (its wiki is added when new)."""
    from tracker.config.edit import ConfigEdit
    from tracker.fetch.discovery import watch_page

    edit = ConfigEdit(app.config.path)
    added = watch_page(edit, page, wiki=wiki, interval=interval)
    edit.write()
    for line in _added_lines(added):
        click.echo(one_line(line))


@watch.command("list")
@click.option("--json", "as_json", is_flag=True, help="JSON array of the watches.")
@pass_app
def list_(app: App, as_json: bool) -> None:
    """The watches: wiki, title, interval, whether paused."""
    watches = app.config.watches
    if as_json:
        records = [
            {"wiki": w.wiki, "title": w.title, "interval": w.interval, "paused": w.paused}
            for w in watches
        ]
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
        return
    if not watches:
        click.echo("No watches; add one with `tracker watch add TITLE-OR-URL`.")
        return
    width = max(len("WIKI"), *(len(one_line(w.wiki)) for w in watches))
    click.echo(f"{'WIKI':<{width}}  {'INTERVAL':>8}  {'PAUSED':<6}  TITLE")
    for w in watches:
        click.echo(
            f"{one_line(w.wiki):<{width}}  {_interval(w.interval):>8}  "
            f"{'yes' if w.paused else '':<6}  {one_line(w.title)}"
        )


def _edit_watch(app: App, title: str, wiki: str | None) -> tuple[ConfigEdit, Watch]:
    from tracker.config.edit import ConfigEdit, find_watch

    edit = ConfigEdit(app.config.path)
    return edit, find_watch(edit.config, title, wiki)


@watch.command("remove")
@click.argument("title")
@click.option("--wiki", help="The wiki, when the title is watched on several.")
@pass_app
def remove(app: App, title: str, wiki: str | None) -> None:
    """Stop watching TITLE (its stored history stays in the database)."""
    edit, found = _edit_watch(app, title, wiki)
    edit.remove_watch(found)
    edit.write()
    click.echo(one_line(f"removed {found.title!r} on {found.wiki!r}; its stored history is kept"))


def _pause(app: App, title: str, wiki: str | None, paused: bool) -> None:
    edit, found = _edit_watch(app, title, wiki)
    done = edit.set_paused(found, paused)
    edit.write()
    state = "paused" if paused else "resumed"
    already = "" if done else " already"
    click.echo(one_line(f"{found.title!r} on {found.wiki!r} is{already} {state}"))


@watch.command("pause")
@click.argument("title")
@click.option("--wiki", help="The wiki, when the title is watched on several.")
@pass_app
def pause(app: App, title: str, wiki: str | None) -> None:
    """Stop polling TITLE for now (`paused = true`); its history stays."""
    _pause(app, title, wiki, True)


@watch.command("resume")
@click.argument("title")
@click.option("--wiki", help="The wiki, when the title is watched on several.")
@pass_app
def resume(app: App, title: str, wiki: str | None) -> None:
    """Poll TITLE again."""
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
