"""`tracker channel test NAME`: a test message through the channels of a subscription (or
the channels of that name), one line per channel with its result.

Wired into the main command group by cli/__init__.py: ``channel.register(main)``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from tracker.cli.app import App, pass_app
from tracker.errors import DeliveryError, NoDatabase
from tracker.store import Store
from tracker.text.display import one_line


def register(main: click.Group) -> None:
    """Add the `channel` group to the `tracker` group."""

    @main.group("channel")
    def channel_group() -> None:
        """Delivery channels of the subscriptions."""

    @channel_group.command("test")
    @click.argument("name")
    @pass_app
    def test_command(app: App, name: str) -> None:
        """Send a test message through every channel of the subscription NAME (or through
        the channels named NAME), and say how each went.

        Nothing is recorded: the test is no digest, and the next digest is as it would
        have been. Exit status 1 if any channel failed.
        """
        from tracker.digest.notices import channels_named, send_test_messages
        from tracker.digest.run import feed_entries

        config = app.config
        targets = channels_named(config, name)
        try:
            # An Atom feed keeps its entries: they come from the store, when there is one.
            store = Store(config.database_path, readonly=True)
        except NoDatabase:
            results = send_test_messages(config, targets, now=datetime.now(UTC))
        else:
            with store:
                results = send_test_messages(
                    config,
                    targets,
                    now=datetime.now(UTC),
                    history=lambda sub, chan, n: feed_entries(store, sub, chan, n),
                )
        for result in results:
            outcome = "ok" if result.ok else "FAILED"
            click.echo(
                one_line(
                    f"{result.subscription} -> {result.channel} ({result.type}): "
                    f"{outcome}: {result.detail}"
                )
            )
        failed = [r for r in results if not r.ok]
        if failed:
            raise DeliveryError(
                f"{len(failed)} of {len(results)} channel(s) failed the test: "
                + ", ".join(f"{r.subscription} -> {r.channel}" for r in failed)
            )
