"""A progress bar on a terminal while a watch's history is fetched (tracker.fetch.poll
tells how far it has come)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import click

from tracker.model import parse_stamp


class TerminalProgress:
    """A progress bar on a terminal: how far the fetched history has come towards now."""

    def __init__(self, title: str, clock: Callable[[], float] = time.time):
        self.clock = clock
        self.first: float | None = None
        self.bar = click.progressbar(
            length=1000, label=f"{title[:40]}", file=sys.stderr, show_pos=False, show_percent=True
        )
        self.bar.__enter__()
        self.done = 0

    def update(self, count: int, timestamp: str) -> None:
        try:
            when = parse_stamp(timestamp)
        except ValueError:
            return
        stamp = when.timestamp()
        if self.first is None:
            self.first = stamp
        span = max(1.0, self.clock() - self.first)
        target = int(1000 * min(1.0, (stamp - self.first) / span))
        self.bar.label = f"{count} revisions"
        if target > self.done:
            self.bar.update(target - self.done)
            self.done = target

    def close(self) -> None:
        self.bar.update(1000 - self.done)
        self.bar.__exit__(None, None, None)
