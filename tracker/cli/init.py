"""`tracker init [DIR]`: a commented config.toml that works at once (tracker.config.starter)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from tracker.config.locate import config_candidates
from tracker.config.starter import init_config


@click.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default=".", required=False
)
@click.option(
    "--force", is_flag=True, help="Overwrite an existing config.toml (and seed snapshot)."
)
@click.pass_context
def init(ctx: click.Context, directory: Path, force: bool) -> None:
    """Write a commented config.toml in DIRECTORY (default: here) that runs at once, offline."""
    started = init_config(directory, force=force)
    click.echo(f"Wrote {started.config}")
    click.echo(f"  and {started.snapshot} (the seed article's history, made up for the demo)")
    prog = ctx.find_root().info_name or "tracker"
    found = started.config.resolve() in [c.resolve() for c in config_candidates()]
    option = "" if found else f" --config {shlex.quote(str(started.config))}"
    click.echo(f"Next: {prog}{option} run --once, then {prog}{option} status")


def register(main: click.Group) -> None:
    """Add `tracker init` to the command group."""
    main.add_command(init)
