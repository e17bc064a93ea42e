"""The core commands: run, history, show, status, snapshot, diff (a few lines each over the
library)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tracker.cli.app import App, pass_app
from tracker.config import Config
from tracker.errors import RunFailed
from tracker.text.display import color_wanted, for_terminal, one_line, terminal_text


@click.command()
@click.option(
    "--once",
    is_flag=True,
    required=True,
    help="One poll cycle of every watch, then the digests that are due.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when stderr is a terminal).",
)
@click.option(
    "--watch",
    "titles",
    multiple=True,
    metavar="TITLE",
    help="Poll only this watch (repeatable; a paused one too).",
)
@click.option("--wiki", help="The wiki of the --watch titles, when watched on several.")
@pass_app
def run(
    app: App, once: bool, progress: bool | None, titles: tuple[str, ...], wiki: str | None
) -> None:
    """Poll every watch once (paused ones not), store what is new, deliver due digests."""
    from tracker.cli.progress import TerminalProgress
    from tracker.cli.run import run_once
    from tracker.config.edit import find_watch

    watches = [find_watch(app.config, title, wiki) for title in titles] if titles else None
    show = sys.stderr.isatty() if progress is None else progress
    outcome = run_once(app.config, progress=TerminalProgress if show else None, watches=watches)
    for line in outcome.lines():
        click.echo(one_line(line))
    if not outcome.ok:
        raise RunFailed(outcome.failure())


@click.command()
@click.argument("title")
@click.option("--wiki", help="The wiki, when the title is tracked on several.")
@click.option("--json", "as_json", is_flag=True, help="JSON array, oldest first.")
@pass_app
def history(app: App, title: str, wiki: str | None, as_json: bool) -> None:
    """The stored revisions of a page, oldest first.

    Summaries, user names and titles are shown on one line each, with control and bidi
    characters shown, not obeyed (a line break as ⏎, ESC as ␛, U+202E as \\u202e);
    --json gives them as stored."""
    from tracker.history import page_history, size_change

    with app.store(readonly=True) as store:
        page, records = page_history(store, title, wiki)
    if as_json:
        click.echo(json.dumps(records, ensure_ascii=False, indent=1))
        return
    click.echo(
        f"{one_line(page['title'])} ({one_line(page['wiki'])}, page id "
        f"{page['pageid']}): {len(records)} revisions"
    )
    previous: int | None = 0
    for rec in records:
        delta = size_change(rec["size"], previous)
        previous = rec["size"]
        marks = (
            ("m" if rec["minor"] else " ")
            + ("R" if rec["revert_of"] else " ")
            + ("x" if rec["reverted_by"] else " ")
            + ("d" if rec["deleted"] else " ")
        )
        user = one_line(rec["user"]) if rec["user"] is not None else "(hidden)"
        comment = one_line(rec["comment"]) if rec["comment"] is not None else "(hidden)"
        change = f"{delta:+7d}" if delta is not None else f"{'?':>7}"
        click.echo(
            f"{rec['revid']:>10}  {rec['timestamp']}  {marks} {change}  {user[:24]:<24}  {comment}"
        )


@click.command()
@click.argument("revid", type=int)
@click.option("--wiki", help="The wiki, when the revision id exists on several.")
@click.option("--json", "as_json", is_flag=True, help="Metadata and text as JSON.")
@pass_app
def show(app: App, revid: int, wiki: str | None, as_json: bool) -> None:
    """A stored revision: its metadata, then its wikitext.

    The metadata is shown one line per field, the wikitext with its lines and tabs; in
    both, control and bidi characters are shown, not obeyed (ESC as ␛, U+202E as \\u202e).
    --json gives the exact stored text."""
    from tracker.history import resolve_revision, revision_record, text_missing

    with app.store(readonly=True) as store:
        row = resolve_revision(store, revid, wiki)
        text = store.revision_text(row["id"])
    record = revision_record(row)
    record.update(title=row["title"], wiki=row["wiki"])
    if as_json:
        click.echo(json.dumps({**record, "text": text}, ensure_ascii=False, indent=1))
        return
    for key in (
        "title",
        "wiki",
        "revid",
        "parentid",
        "timestamp",
        "user",
        "comment",
        "minor",
        "size",
        "sha1",
        "tags",
        "content_model",
        "revert_of",
        "reverted_by",
    ):
        click.echo(f"{key + ':':<14}{one_line(record[key])}")
    hidden = [
        flag for flag in ("texthidden", "userhidden", "commenthidden", "sha1hidden") if record[flag]
    ]
    if hidden:
        click.echo(f"{'hidden:':<14}{', '.join(hidden)}")
    click.echo()
    click.echo(
        terminal_text(text)
        if text is not None
        else f"(the text of this revision {text_missing(row)})"
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Each watch, each digest channel and the daemon's jobs: last run, next run, errors."""
    from tracker.cli.status import full_status, status_lines

    report = full_status(app.config)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=1))
        return
    for line in status_lines(report):
        click.echo(one_line(line))


@click.group()
def snapshot() -> None:
    """Move histories in and out as MediaWiki XML exports."""


@snapshot.command("export")
@click.argument("title")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="The XML file to write ('-' for stdout).",
)
@click.option("--wiki", help="The wiki, when the title is tracked on several.")
@pass_app
def snapshot_export(app: App, title: str, output: Path, wiki: str | None) -> None:
    """Write a page's stored history as an export that importDump.php accepts."""
    from tracker.fetch.archive import export_snapshot

    with app.store(readonly=True) as store:
        if str(output) == "-":
            count = export_snapshot(store, title, sys.stdout, wiki)
        else:
            tmp = output.with_name(output.name + ".part")
            with tmp.open("w", encoding="utf-8") as handle:
                count = export_snapshot(store, title, handle, wiki)
            tmp.replace(output)
            click.echo(f"Wrote {count} revisions of {title!r} to {output}", err=True)


@snapshot.command("import")
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--wiki", help="Store the pages under this wiki name (default: the file's name).")
@pass_app
def snapshot_import(app: App, file: Path, wiki: str | None) -> None:
    """Load an XML export (Special:Export format) into the store."""
    from tracker.fetch.archive import import_snapshot

    name = wiki or _snapshot_wiki_name(app.config, file)
    with app.store() as store:
        counts = import_snapshot(store, file, name)
    for title, added in counts.items():
        click.echo(f"{name}: {title}: {added} revisions added")


def _snapshot_wiki_name(config: Config, file: Path) -> str:
    for wiki in config.wikis:
        if wiki.snapshot and config.resolve(wiki.snapshot).resolve() == file.resolve():
            return wiki.name
    return f"snapshot:{file.stem}"


@click.command()
@click.argument("title")
@click.option("--from", "from_revid", type=int, help="The older revision (default: the parent).")
@click.option("--to", "to_revid", type=int, help="The newer revision (default: the latest).")
@click.option("--wiki", help="The wiki, when the title is tracked on several.")
@click.option(
    "--json", "as_json", is_flag=True, help="The diff JSON contract (with each reader diff)."
)
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour besides the {+ +} and [- -] marks (default: on a terminal, unless NO_COLOR).",
)
@click.option(
    "--view",
    type=click.Choice(["reader", "wikitext", "both"]),
    default="wikitext",
    show_default=True,
    help="The words a reader sees, the wikitext, or both.",
)
@pass_app
def diff(
    app: App,
    title: str,
    from_revid: int | None,
    to_revid: int | None,
    wiki: str | None,
    as_json: bool,
    color: bool | None,
    view: str,
) -> None:
    """What changed between two revisions, section by section."""
    from tracker.history import page_diff, page_diff_with_readers
    from tracker.text.diff import render_text
    from tracker.text.readerview import render_reader_text

    with app.store(readonly=True) as store:
        if as_json:
            result = page_diff(store, title, from_revid, to_revid, wiki, reader=True)
            click.echo(json.dumps(result, ensure_ascii=False, indent=1))
            return
        result, readers = page_diff_with_readers(
            store, title, from_revid, to_revid, wiki, view != "wikitext"
        )
    use_color = color_wanted(sys.stdout.isatty(), color)
    # Every text of the wiki on one line, its control characters shown (our colours are
    # the only escape sequences printed).
    if view != "reader":
        click.echo(render_text(for_terminal(result), color=use_color), color=use_color)
    if view != "wikitext":
        if view == "both":
            click.echo("What a reader sees:")
        click.echo(render_reader_text(result, readers, head=view == "reader"))


def register(main: click.Group) -> None:
    """Add the core commands to the `tracker` group."""
    for command in (run, history, show, status, snapshot, diff):
        main.add_command(command)
