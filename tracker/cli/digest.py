"""`tracker digest`: print a digest without recording it, or record and deliver it now.

Wired into the main command group by cli.py: ``cli_digest.register(main)``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import click

from tracker.cli.app import App, pass_app
from tracker.config import parse_since as config_parse_since
from tracker.errors import DigestFailed, UsageError
from tracker.text.display import one_line

PRINT_FORMATS = ("text", "markdown", "html", "chat", "slack", "json")


def parse_since(value: str | None, timezone: str = "UTC") -> int | datetime | None:
    """--since: a revision id or a date/time (see config.parse_since)."""
    if value is None:
        return None
    try:
        return config_parse_since(value, timezone)
    except ValueError as exc:
        raise UsageError(f"--since {exc}") from None


def register(main: click.Group) -> None:
    """Add the `digest` command to the `tracker` group."""

    @main.command("digest")
    @click.argument("subscription", required=False)
    @click.option(
        "--since",
        "since_text",
        metavar="DATE|REVID",
        help="Start the window after this revision id, or at this date/time "
        "(ISO 8601; without a zone, the subscription's), instead of after "
        "the last digest.",
    )
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(PRINT_FORMATS),
        help="Print the digest in this format (default with --dry-run: text).",
    )
    @click.option(
        "--dry-run", is_flag=True, help="Only print the digest: record nothing, deliver nothing."
    )
    @pass_app
    def digest_command(
        app: App, subscription: str | None, since_text: str | None, fmt: str | None, dry_run: bool
    ) -> None:
        """Print a subscription's digest (--dry-run), or record and deliver it now.

        Without SUBSCRIPTION, every subscription. Without --since, the window is what
        changed since the subscription's last digest (a new subscription's first digest
        says what it starts tracking). Delivering ignores the schedule but never sends a
        change twice to a channel: the window starts where the last digest ended.
        """
        config = app.config
        subs = _pick(config.subscriptions, subscription, config.path)
        if dry_run:
            _dry_run(app, subs, since_text, fmt or "text")
            return
        from tracker.digest.run import run_digests

        with app.store() as store:
            for sub in subs:
                since = parse_since(since_text, sub.timezone)
                run = run_digests(store, config, names=[sub.name], force=True, since=since)
                for line in run.lines:
                    click.echo(one_line(line))
                if not run.recorded and not run.errors:
                    click.echo(f"{sub.name}: nothing to deliver", err=True)
                if fmt:
                    for digest_id in run.recorded:
                        click.echo(_stored_output(store, digest_id, fmt))
                if run.errors:
                    raise DigestFailed(
                        run.errors[0]
                        + (
                            f" (and {len(run.errors) - 1} more; see `tracker status`)"
                            if len(run.errors) > 1
                            else ""
                        )
                    )


def _pick(subscriptions: tuple, name: str | None, path: object) -> list:
    if not subscriptions:
        raise UsageError(
            f"{path}: no [[subscriptions]] are configured; add one, e.g. "
            'name = "everything", formats = ["markdown"]'
        )
    if name is None:
        return list(subscriptions)
    for sub in subscriptions:
        if sub.name == name:
            return [sub]
    import difflib

    names = [s.name for s in subscriptions]
    near = difflib.get_close_matches(name, names, n=1)
    hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(names)}"
    raise UsageError(f"no subscription named {name!r}; {hint}")


def _dry_run(app: object, subs: list, since_text: str | None, fmt: str) -> None:
    from tracker.digest.render import render_digest
    from tracker.digest.run import build, templates_of

    config = app.config  # type: ignore[attr-defined]
    if not config.database_path.exists():
        raise UsageError(f"no database at {config.database_path}: run `tracker run --once` first")
    with app.store(readonly=True) as store:  # type: ignore[attr-defined]
        for sub in subs:
            since = parse_since(since_text, sub.timezone)
            built = build(store, config, sub, now=datetime.now(UTC), since=since)
            if built.model is None:
                click.echo(f"{sub.name}: nothing changed", err=True)
                continue
            if fmt == "json":
                click.echo(json.dumps(built.model, ensure_ascii=False, indent=1))
            else:
                click.echo(render_digest(built.model, [fmt], templates_of(config, sub))[fmt])


def _stored_output(store: object, digest_id: int, fmt: str) -> str:
    from tracker.digest.render import render_digest
    from tracker.store import digests as ds

    row = ds.digest(store, digest_id)  # type: ignore[arg-type]
    assert row is not None
    if fmt == "json":
        return json.dumps(row["model"], ensure_ascii=False, indent=1)
    stored = ds.outputs(store, digest_id)  # type: ignore[arg-type]
    return stored.get(fmt) or render_digest(row["model"], [fmt])[fmt]
