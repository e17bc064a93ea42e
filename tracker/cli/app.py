"""The `tracker` command group: its options, the App a command gets, and errors as one line
in one place. The commands themselves are in tracker.cli.core, .digest, .daemon and .serve.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from tracker import __version__
from tracker.config import Config, load_config
from tracker.config.locate import find_config
from tracker.errors import TrackerError
from tracker.store import Store, store_error_message
from tracker.text.display import one_line


class TrackerGroup(click.Group):
    """Turns every TrackerError into a one-line message and its exit code (2 usage, 1 run)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            if getattr(ctx.obj, "debug", False):
                raise
            click.echo(f"Error: {one_line(exc)}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except sqlite3.DatabaseError as exc:
            # A query outside a batch met a locked, read-only or damaged database.
            if getattr(ctx.obj, "debug", False):
                raise
            app = ctx.find_object(App)
            path = app.database_label() if app is not None else "the database"
            click.echo(f"Error: {store_error_message(exc, path)}", err=True)
            ctx.exit(1)
        except BrokenPipeError:
            # The reader went away (`tracker history X | head`): stop quietly. Python would
            # flush stdout again at exit and fail once more: point it at /dev/null.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            if getattr(ctx.obj, "debug", False):
                raise
            where = traceback.extract_tb(exc.__traceback__)[-1]
            click.echo(
                f"Error: internal error: {exc.__class__.__name__}: {one_line(exc)} "
                f"(at {Path(where.filename).name}:{where.lineno}; "
                "run with --debug for the traceback)",
                err=True,
            )
            ctx.exit(1)


class App:
    """What a command needs: the config (loaded on first use) and the store."""

    def __init__(self, config_path: Path | None, debug: bool):
        self.named_config = config_path  # --config or $TRACKER_CONFIG; None: look for one
        self.debug = debug
        self._config: Config | None = None

    @property
    def config_path(self) -> Path:
        """The config file: the one named, else ./config.toml, else the user's config dir."""
        return find_config(self.named_config)

    @config_path.setter
    def config_path(self, value: Path) -> None:
        self.named_config = value

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def store(self, readonly: bool = False) -> Store:
        return Store(self.config.database_path, readonly=readonly)

    def database_label(self) -> Path | str:
        """The database's path for a message, if the config can tell it."""
        try:
            return self.config.database_path
        except TrackerError:
            return "the database"


pass_app = click.make_pass_decorator(App)


@click.group(cls=TrackerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="TRACKER_CONFIG",
    help="The configuration file. Default: ./config.toml, else "
    "$XDG_CONFIG_HOME/wiki-tracker/config.toml (~/.config/wiki-tracker/config.toml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(__version__, prog_name="tracker")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, debug: bool) -> None:
    """Watch MediaWiki articles, keep every revision, and say what changed, section by section."""
    ctx.obj = App(config_path, debug)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _set_config(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        app = ctx.find_object(App)
        if app is not None:
            app.config_path = value


def accept_config_everywhere(group: click.Group) -> None:
    """`--config FILE` works after any command too: `tracker history X --config FILE`."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            accept_config_everywhere(command)
        if not any(p.name == "config_override" for p in command.params):
            command.params.append(
                click.Option(
                    ["--config", "config_override"],
                    type=click.Path(path_type=Path),
                    callback=_set_config,
                    expose_value=False,
                    is_eager=True,
                    help="The configuration file (as the option before the command).",
                )
            )
