"""The `tracker` command: thin click commands over the library, errors as one line.

tracker.cli.app holds the group and what every command gets; the commands are added here,
explicitly: core (run, history, show, status, snapshot, diff), digest, daemon, serve,
init, watch.
"""

from tracker.cli import channel, core, daemon, digest, init, serve, watch
from tracker.cli.app import accept_config_everywhere, main

for _commands in (core, digest, daemon, serve, init, watch, channel):
    _commands.register(main)
accept_config_everywhere(main)

__all__ = ["main"]
