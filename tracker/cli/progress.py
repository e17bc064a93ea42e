"""A progress bar on a terminal while a watch's history is fetched (tracker.fetch.poll
tells how many of the page's revisions are stored, and of how many)."""

from __future__ import annotations

import sys

import click


class TerminalProgress:
    """A progress bar on a terminal: revisions stored of the page's revisions. Without a
    total (a source that cannot tell) it counts revisions, with no bar."""

    def __init__(self, title: str):
        self.title = title[:40]
        self.bar: click._termui_impl.ProgressBar | None = None
        self.done = 0

    def update(self, count: int, total: int | None) -> None:
        if total is None or total <= 0:
            click.echo(f"\r{self.title}: {count:,} revisions", nl=False, err=True)
            self.done = count
            return
        if self.bar is None:
            self.bar = click.progressbar(
                length=total,
                label=self.title,
                file=sys.stderr,
                show_pos=True,
                show_percent=True,
            )
            self.bar.__enter__()
        target = min(count, total)
        if target > self.done:
            self.bar.update(target - self.done)
            self.done = target

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
        elif self.done:
            click.echo("", err=True)
