"""`tracker daemon [--detach] [--pid-file F] [--log-level L]`: the daemon's process life.

The scheduling is in daemon.py; this module is what a process needs around it: the lock
that makes it the only daemon on its database, logging, the pid file, and detaching from
the terminal. ``register(main)`` adds the command to the `tracker` group.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from tracker.config import Config
from tracker.daemon.lock import DaemonLock

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DETACHED_LOG = "tracker.log"  # where --detach logs when daemon.log_file is not set


@click.command("daemon")
@click.option(
    "--detach",
    is_flag=True,
    help="Run in the background; the command returns once the daemon has started.",
)
@click.option(
    "--pid-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the daemon's pid here (default with --detach: daemon.pid_file).",
)
@click.option(
    "--log-level",
    type=click.Choice(LEVELS, case_sensitive=False),
    help="DEBUG, INFO, WARNING or ERROR (default: daemon.log_level).",
)
@click.pass_context
def daemon_command(
    ctx: click.Context, detach: bool, pid_file: Path | None, log_level: str | None
) -> None:
    """Poll every watch at its interval and deliver digests until SIGTERM or SIGINT.

    SIGHUP reloads the config file. One daemon per database: a second one refuses to start.
    """
    app = ctx.obj
    config: Config = app.config
    level = (log_level or ("DEBUG" if app.debug else config.daemon.log_level)).upper()
    ctx.exit(serve(config, detach=detach, pid_file=pid_file, level=level))


def register(main: click.Group) -> None:
    """Add `tracker daemon` to the `tracker` command group (once)."""
    if "daemon" not in main.commands:
        main.add_command(daemon_command)


def serve(
    config: Config, *, detach: bool = False, pid_file: Path | None = None, level: str = "INFO"
) -> int:
    """Run the daemon in this process (or a detached child) until it is stopped."""
    from tracker.daemon.scheduler import TrackerDaemon

    lock = DaemonLock(config.database_path)
    lock.acquire()  # AlreadyRunning: one line and exit code 1, before any fork
    log_file = config.resolve(config.daemon.log_file) if config.daemon.log_file else None
    notify: Callable[[str], None] | None = None
    if pid_file is not None:
        pid_file = pid_file.absolute()  # --detach changes to / before writing it
    if detach:
        pid_file = pid_file or config.resolve(config.daemon.pid_file)
        log_file = log_file or config.resolve(DETACHED_LOG)
        notify = _detach(log_file)
        lock.write_pid(os.getpid())
    setup_logging(level, log_file, to_stderr=not detach)
    if pid_file is not None:
        _write_pid_file(pid_file)
    clean = True
    try:
        daemon = TrackerDaemon(config)
        try:
            daemon.start()
        except BaseException as exc:
            if notify:
                notify(f"the daemon could not start: {exc}")
            raise
        if notify:
            notify(f"ok {os.getpid()}")
        clean = daemon.run()
    finally:
        if pid_file is not None:
            _remove_pid_file(pid_file)
        lock.release()
    if not clean:
        # A job thread is stuck in a socket read; waiting for it at interpreter exit would
        # break the promise to stop within seconds. Its open transaction rolls back.
        logging.shutdown()
        os._exit(0)
    return 0


def setup_logging(level: str, log_file: Path | None = None, *, to_stderr: bool = True) -> None:
    """One line per event on stderr (and/or a file), quiet libraries unless DEBUG."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    formatter = logging.Formatter(LOG_FORMAT)
    handlers: list[logging.Handler] = []
    if to_stderr:
        handlers.append(logging.StreamHandler(sys.stderr))
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        # Reopens the file when logrotate moves it away.
        handlers.append(logging.handlers.WatchedFileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    debug = level == "DEBUG"
    # APScheduler says "Running job..." every second, and mwclient warns on each retry that
    # the tracker already reports with its own backoff line.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_SkippedRunFilter())
    logging.getLogger("mwclient").setLevel(logging.DEBUG if debug else logging.ERROR)
    logging.getLogger("urllib3").setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("tzlocal").setLevel(logging.WARNING)


class _SkippedRunFilter(logging.Filter):
    """A poll longer than its interval (a backfill) is expected: max_instances=1 skips the
    overlapping runs, which APScheduler would report as a warning every interval."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances" not in str(record.msg)


def _detach(log_file: Path) -> Callable[[str], None]:
    """Fork into the background (double fork, new session).

    The command the user ran waits on a pipe and exits 0 only once the daemon reports that
    it started, so `tracker daemon --detach && echo ok` means what it says. Returns the
    detached process's way to report.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    if os.fork() > 0:
        os.close(write_fd)
        chunks = []
        while chunk := os.read(read_fd, 4096):
            chunks.append(chunk)
        message = b"".join(chunks).decode(errors="replace").strip()
        if message.startswith("ok "):
            click.echo(f"tracker daemon started (pid {message[3:]}); logging to {log_file}")
            sys.stdout.flush()
            os._exit(0)
        click.echo(
            f"Error: {message or 'the daemon exited while starting'} (see {log_file})", err=True
        )
        sys.stderr.flush()
        os._exit(1)
    os.close(read_fd)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)  # the session leader leaves: the daemon can never get a terminal back
    os.chdir("/")  # paths from the config are absolute already; don't pin a mount point
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(out, 1)  # a stray print or a crash's traceback still lands in the log
    os.dup2(out, 2)
    os.close(out)

    def notify(message: str) -> None:
        with contextlib.suppress(OSError):
            os.write(write_fd, message.encode())
            os.close(write_fd)

    return notify


def _write_pid_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    tmp.replace(path)


def _remove_pid_file(path: Path) -> None:
    # Only our own: a daemon started after us (we were stuck?) may own the file now.
    with contextlib.suppress(OSError, ValueError):
        if int(path.read_text().strip()) == os.getpid():
            path.unlink()
