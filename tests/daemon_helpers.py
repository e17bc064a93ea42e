"""Helpers of the daemon tests: the daemon as a real process, configs, an SMTP server, waits.

Every wait polls with a deadline (``wait_until``); nothing sleeps a fixed time to let the
daemon get somewhere.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from mediawiki import free_port
from trackerutil import toml_value as _toml

REPO = Path(__file__).resolve().parent.parent


class TimedOut(AssertionError):
    pass


def wait_until(predicate: Callable[[], Any], timeout: float, what: str,
               every: float = 0.05, diagnose: Callable[[], str] | None = None) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{diagnose()}" if diagnose else ""
            raise TimedOut(f"timed out after {timeout} s waiting for {what}{extra}")
        time.sleep(every)


# ---- configs ------------------------------------------------------------------------------


def write_config(path: Path, *, wikis: list[dict], watches: list[dict],
                 subscriptions: list[dict] = (), daemon: dict | None = None) -> Path:
    """A config.toml at ``path`` (database ``tracker.db`` next to it)."""
    lines = ['[storage]', 'database = "tracker.db"', ""]
    if daemon:
        lines.append("[daemon]")
        lines += [f"{k} = {_toml(v)}" for k, v in daemon.items()]
        lines.append("")
    for table, rows in (("wikis", wikis), ("watches", watches),
                        ("subscriptions", subscriptions)):
        for row in rows:
            lines.append(f"[[{table}]]")
            lines += [f"{k} = {_toml(v)}" for k, v in row.items()]
            lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def wiki_table(name: str, api_url: str, **extra: Any) -> dict:
    """A [[wikis]] table for a loopback wiki: fail fast (few retries, short timeout)."""
    return {"name": name, "api_url": api_url, "timeout": 3.0, "max_retries": 1, **extra}


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
                [sys.executable, "-m", "tracker", "--config", str(config), "daemon",
                 "--log-level", "DEBUG", *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=config.parent)
        self.pid = self.process.pid

    def log(self) -> str:
        with open(self.log_path, "rb") as handle:
            handle.seek(self.log_offset)
            return handle.read().decode(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "daemon log:\n" + "\n".join(self.log().splitlines()[-lines:])

    def wait_for_log(self, text: str, timeout: float = 20.0, count: int = 1) -> None:
        wait_until(lambda: self.log().count(text) >= count or self._died(), timeout,
                   f"{text!r} in the daemon's log", diagnose=self.tail)
        assert self.log().count(text) >= count, f"the daemon exited\n{self.tail()}"

    def _died(self) -> bool:
        return self.process.poll() is not None

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def stop(self, timeout: float = 10.0) -> float:
        """SIGTERM; return the seconds it took to exit."""
        start = time.monotonic()
        if self.alive:
            self.signal(signal.SIGTERM)
        self.process.wait(timeout)
        return time.monotonic() - start

    def kill9(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.alive:
            self.process.kill()
            self.process.wait(10)


def run_tracker(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """A `tracker` command as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(config), *args],
        capture_output=True, text=True, timeout=timeout, cwd=config.parent)


# ---- reading the store the daemon writes ----------------------------------------------------


def query(db: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read the database beside a running daemon (WAL: readers never block the writer)."""
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
    return query(db, "SELECT r.revid, r.parentid, r.sha1, r.user, r.comment FROM revisions r "
                     "JOIN pages p ON p.id = r.page_id WHERE p.title = ? ORDER BY r.revid",
                 (title,))


def stored_revids(db: Path, title: str) -> list[int]:
    return [row[0] for row in stored_history(db, title)]


def wiki_history(wiki: Any, title: str) -> list[tuple]:
    """The same tuples from the wiki's own API (as the admin: no hidden fields)."""
    result = wiki.api("query", prop="revisions", titles=title, rvlimit="max", rvdir="newer",
                      rvprop="ids|sha1|user|comment", formatversion=2)
    page = result["query"]["pages"][0]
    return [(r["revid"], r["parentid"], r["sha1"], r["user"], r["comment"])
            for r in page.get("revisions", [])]


# ---- an SMTP server on loopback ----------------------------------------------------------


class SmtpSink:
    """aiosmtpd on 127.0.0.1 keeping every accepted message; can hold replies on demand."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.received = threading.Event()
        self.hold = threading.Event()  # set: DATA is not answered until released
        self.release = threading.Event()
        self.holding = threading.Event()  # a message is being held right now
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.hold.is_set():
            import asyncio

            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 held by the test, try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        self.received.set()
        return "250 OK"

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.controller.stop()

    def channel(self, **extra: Any) -> dict:
        """The e-mail channel of a subscription sending here."""
        return {"type": "email", "host": "127.0.0.1", "port": self.port,
                "from": "tracker@example.org", "to": "reader@example.org", "security": "none",
                **extra}
