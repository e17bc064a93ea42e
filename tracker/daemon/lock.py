"""One daemon per database: an exclusive ``fcntl`` lock on a file next to the database.

The lock is held on an open file description, so the kernel drops it when the process dies,
however it dies (kill -9 included): a stale lock file never blocks a restart. The file is
never deleted, because deleting it would let a second daemon lock a fresh inode while the
first still holds the old one.

``flock`` is POSIX (Linux, macOS, the BSDs): where Python has no ``fcntl`` (Windows) the
daemon refuses to start with a one-line error; every other command works there.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from types import ModuleType

from tracker.errors import AlreadyRunning, TrackerError

fcntl: ModuleType | None
try:
    import fcntl
except ImportError:  # not a POSIX system (Windows)
    fcntl = None

NEEDS_POSIX = (
    "the daemon lock needs a POSIX system (Linux, macOS, BSD): this Python has no fcntl; "
    "run `tracker run --once` from a scheduler instead of `tracker daemon`"
)


def lock_path(database: Path) -> Path:
    """The lock file of a database: ``tracker.db`` -> ``tracker.db.lock``."""
    return database.with_name(database.name + ".lock")


class DaemonLock:
    """The exclusive right to run a daemon on one database."""

    def __init__(self, database: Path):
        self.database = Path(database)
        self.path = lock_path(self.database)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyRunning naming the holder's pid."""
        if fcntl is None:
            raise TrackerError(NEEDS_POSIX)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            _flock_retrying(fd)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise AlreadyRunning(
                f"another tracker daemon{who} is already running on {self.database}; "
                "stop it first, or use a config with another storage.database"
            ) from None
        self._fd = fd
        self.write_pid(os.getpid())

    def write_pid(self, pid: int) -> None:
        """Record the holder (after --detach forks, the child takes over the inherited lock)."""
        assert self._fd is not None, "write_pid() before acquire()"
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{pid}\n".encode(), 0)

    def release(self) -> None:
        """Give the lock up (also done by the kernel when the process dies)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing the last descriptor drops the flock
        self._fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(database: Path) -> int | None:
    """The pid of the daemon running on ``database``, or None when none runs.

    For ``tracker status``: probing takes the lock for an instant when it is free, so the
    answer is the kernel's, not a possibly stale pid file's.
    """
    if fcntl is None:
        return None  # no lock, no daemon: acquire() refuses to start one
    path = lock_path(Path(database))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _flock_retrying(fd: int) -> None:
    # holder() takes a shared lock for an instant; a daemon starting in that instant must
    # not mistake the probe for a running daemon.
    assert fcntl is not None
    for attempt in range(5):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if attempt == 4:
                raise
            time.sleep(0.05)


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    except (OSError, ValueError):
        return None
