"""The daemon's own state in the store: one row per scheduled job, one row for the daemon.

``tracker status`` reads these rows while the daemon writes them (WAL), so a user sees
each job's last and next run, its last error and how many runs in a row failed, without
asking the daemon anything. The tables: schema.py, 020_daemon_jobs.
"""

from __future__ import annotations

import os
import sqlite3
from typing import TYPE_CHECKING, Any

from tracker.store.encoding import utcnow

if TYPE_CHECKING:  # pragma: no cover
    from tracker.store.db import Store


# --- writes (the daemon) -------------------------------------------------------------------


def sync_jobs(store: Store, jobs: dict[str, tuple[str, str, str]]) -> None:
    """Make ``jobs`` (id -> kind, target, schedule) the active ones; keep the rest as history."""
    with store.atomic():
        store.db.execute("UPDATE daemon_jobs SET active = 0, next_run = NULL")
        for job_id, (kind, target, schedule) in jobs.items():
            store.db.execute(
                "INSERT INTO daemon_jobs (id, kind, target, schedule, active) "
                "VALUES (?, ?, ?, ?, 1) ON CONFLICT (id) DO UPDATE SET "
                "kind = excluded.kind, target = excluded.target, "
                "schedule = excluded.schedule, active = 1",
                [job_id, kind, target, schedule],
            )


def record_run(
    store: Store, job_id: str, *, error: str | None, summary: str | None, next_run: str | None
) -> int:
    """Record one finished run; return the job's consecutive failures after it."""
    now = utcnow()
    with store.atomic():
        if error is None:
            store.db.execute(
                "UPDATE daemon_jobs SET last_run = ?, last_ok = ?, next_run = ?, runs = runs + 1,"
                " consecutive_failures = 0, last_summary = ? WHERE id = ?",
                [now, now, next_run, summary, job_id],
            )
        else:
            store.db.execute(
                "UPDATE daemon_jobs SET last_run = ?, next_run = ?, runs = runs + 1, "
                "last_error = ?, last_error_at = ?, "
                "consecutive_failures = consecutive_failures + 1, last_summary = ? WHERE id = ?",
                [now, next_run, error, now, summary, job_id],
            )
    return int(
        store.scalar("SELECT consecutive_failures FROM daemon_jobs WHERE id = ?", [job_id]) or 0
    )


def daemon_started(store: Store, config_path: str) -> None:
    """Record this process as the daemon of the database."""
    store.db.execute(
        "INSERT INTO daemon_state (id, pid, started_at, stopped_at, config) "
        "VALUES (1, ?, ?, NULL, ?) ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, "
        "started_at = excluded.started_at, stopped_at = NULL, config = excluded.config, "
        "reloaded_at = NULL",
        [os.getpid(), utcnow(), config_path],
    )


def daemon_reloaded(store: Store) -> None:
    """Record a successful config reload."""
    store.db.execute("UPDATE daemon_state SET reloaded_at = ? WHERE id = 1", [utcnow()])


def daemon_stopped(store: Store) -> None:
    """Record a clean stop; no job has a next run any more."""
    store.db.execute("UPDATE daemon_state SET stopped_at = ? WHERE id = 1", [utcnow()])
    store.db.execute("UPDATE daemon_jobs SET next_run = NULL")


# --- reads (tracker status) ----------------------------------------------------------------


def job_status(store: Store) -> list[dict[str, Any]]:
    """Every active job: last and next run, last error, consecutive failures.

    Empty when the daemon never ran on this database (its tables do not exist yet); works
    on a read-only store.
    """
    try:
        rows = store.query(
            "SELECT id, kind, target, schedule, last_run, last_ok, next_run, last_error, "
            "last_error_at, consecutive_failures, runs, last_summary FROM daemon_jobs "
            "WHERE active = 1 ORDER BY kind DESC, target"
        )
    except sqlite3.OperationalError:
        return []
    return rows


def daemon_status(store: Store, running_pid: int | None) -> dict[str, Any]:
    """The daemon's pid and start time; ``running_pid`` comes from lock.holder()."""
    try:
        row = store.one(
            "SELECT pid, started_at, stopped_at, config, reloaded_at FROM daemon_state WHERE id = 1"
        )
    except sqlite3.OperationalError:
        row = None
    record: dict[str, Any] = {
        "running": running_pid is not None,
        "pid": running_pid,
        "started_at": None,
        "stopped_at": None,
        "reloaded_at": None,
        "config": None,
    }
    if row:
        record.update(
            started_at=row["started_at"],
            stopped_at=row["stopped_at"],
            reloaded_at=row["reloaded_at"],
            config=row["config"],
        )
    return record
