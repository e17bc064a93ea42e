"""The tracker as a process of its own, and the database it writes, read while it runs.

- ``DaemonProcess``: `tracker daemon` as a real process, its log in a file; ``stop()``
  sends SIGTERM, ``kill9()`` kills it.
- ``query``: a read-only look at the database beside a running process (WAL: readers never
  block the writer); ``stored_history``/``stored_revids``: a page's stored revisions;
  ``wiki_history``: the same from the wiki's own API, to compare with.

Every wait polls with a deadline (``waits.wait_until``); nothing sleeps a fixed time to
let a process get somewhere.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from waits import wait_until

# ---- the daemon as a process ----------------------------------------------------------------


class DaemonProcess:
    """`tracker --config F daemon`, its stderr in a file (a pipe could fill and block it)."""

    def __init__(self, config: Path, *args: str, log_name: str = "daemon.log"):
        self.config = config
        self.log_path = config.parent / log_name
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tracker",
                    "--config",
                    str(config),
                    "daemon",
                    "--log-level",
                    "DEBUG",
                    *args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=config.parent,
            )
        self.pid = self.process.pid

    def log(self) -> str:
        with open(self.log_path, "rb") as handle:
            handle.seek(self.log_offset)
            return handle.read().decode(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "daemon log:\n" + "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, text: str, timeout: float = 60.0, count: int = 1) -> None:
        wait_until(
            lambda: self.log().count(text) >= count or self._died(),
            timeout,
            f"{text!r} in the daemon's log",
            diagnose=self.tail,
        )
        assert self.log().count(text) >= count, f"the daemon exited\n{self.tail()}"

    def _died(self) -> bool:
        return self.process.poll() is not None

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait for the exit (TimeoutExpired after ``timeout`` s); the exit code."""
        if self.alive:
            self.signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill9(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.alive:
            self.process.kill()
            self.process.wait(10)


# ---- reading the database a running process writes ------------------------------------------


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the database beside a running process (WAL: readers never block the writer);
    nothing while the database or the table is not there yet. Read-only: a reader never
    creates the file or takes a lock the writer could wait for."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []
        raise
    finally:
        conn.close()


def stored_history(db: Path, title: str) -> list[tuple]:
    """(revid, parentid, sha1, user, comment) of a page's stored revisions, by revid."""
    return query(
        db,
        "SELECT r.revid, r.parentid, r.sha1, r.user, r.comment FROM revisions r "
        "JOIN pages p ON p.id = r.page_id WHERE p.title = ? ORDER BY r.revid",
        (title,),
    )


def stored_revids(db: Path, title: str) -> list[int]:
    return [row[0] for row in stored_history(db, title)]


def revision_count(db: Path) -> int:
    """Revisions committed so far (0 before the database exists)."""
    rows = query(db, "SELECT count(*) FROM revisions")
    return int(rows[0][0]) if rows else 0


def wiki_history(wiki: Any, title: str) -> list[tuple]:
    """The same tuples from the wiki's own API (as the admin: no hidden fields)."""
    result = wiki.api(
        "query",
        prop="revisions",
        titles=title,
        rvlimit="max",
        rvdir="newer",
        rvprop="ids|sha1|user|comment",
        formatversion=2,
    )
    page = result["query"]["pages"][0]
    return [
        (r["revid"], r["parentid"], r["sha1"], r["user"], r["comment"])
        for r in page.get("revisions", [])
    ]
