"""What `tracker status` reports: each watch (last poll, last revision, last error), each
digest channel (sent, pending, failing), and the daemon with its jobs."""

from __future__ import annotations

import os
from typing import Any

from tracker.config import Config
from tracker.fetch.api import contact_warning
from tracker.store import Store


def _empty_watch(watch: Any) -> dict[str, Any]:
    return {
        "wiki": watch.wiki,
        "title": watch.title,
        "interval": watch.interval,
        "status": "not polled yet",
        "current_title": None,
        "last_poll": None,
        "last_revision": None,
        "revisions": 0,
        "last_error": None,
        "error_count": 0,
        "unreachable_since": None,
        "backfill": None,
    }


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def backfill_status(store: Store, page_id: int, failing: bool) -> dict[str, Any] | None:
    """A page's unfinished backfill: revisions stored of how many, and whether a process is
    at it ("in progress") or it stopped ("interrupted", at the time its last batch was
    stored); None when its history is in."""
    state = store.backfill_state(page_id)
    if state is None or (not state["stored"] and not state["pid"]):
        return None
    running = _alive(state["pid"]) and not failing
    return {
        "stored": state["stored"],
        "total": state["total"],
        "state": "in progress" if running else "interrupted",
        "since": state["last_stored"],
    }


def backfill_line(backfill: dict[str, Any]) -> str:
    """ "600 of 3,000 revisions stored, interrupted 2026-12-07T10:00:00Z" """
    total = f" of {backfill['total']:,}" if backfill["total"] is not None else ""
    text = f"{backfill['stored']:,}{total} revisions stored, {backfill['state']}"
    if backfill["state"] == "interrupted" and backfill["since"]:
        text += f" {backfill['since']}"
    return text


def watch_status(store: Store, config: Config) -> list[dict[str, Any]]:
    """One record per configured watch, whether or not it was polled yet."""
    out = []
    for watch in config.watches:
        row = store.watch_state(watch.wiki, watch.title)
        record = _empty_watch(watch)
        if row is not None:
            # A watch whose last polls failed is failing (a wiki down for a day must not
            # read "ok"); "deleted", "missing" and "redirect" say more and stay.
            status = row["status"]
            if row["error_count"] and status in ("new", "ok", "moved"):
                status = "failing"
            record.update(
                status=status,
                last_poll=row["last_poll"],
                last_error=row["last_error"],
                error_count=row["error_count"],
                unreachable_since=row["unreachable_since"],
            )
            if row["page_id"]:
                page = store.page(row["page_id"])
                record["current_title"] = page["title"] if page else None
                last = store.latest_revision(row["page_id"])
                if last:
                    record["last_revision"] = {
                        "revid": last["revid"],
                        "timestamp": last["timestamp"],
                        "user": last["user"],
                    }
                record["revisions"] = store.revision_count(row["page_id"])
                backfill = backfill_status(store, row["page_id"], bool(row["error_count"]))
                if backfill is not None:
                    record["backfill"] = backfill
                    if status in ("new", "ok", "moved"):
                        # Never "ok" with part of the history in.
                        record["status"] = (
                            "backfilling" if backfill["state"] == "in progress" else "incomplete"
                        )
        out.append(record)
    return out


def full_status(config: Config) -> dict[str, Any]:
    """Everything `tracker status --json` prints; reads the store without writing."""
    from tracker.daemon.lock import holder
    from tracker.digest.run import delivery_status
    from tracker.store import jobs as daemon_store

    # (The wikis that are polled: a wiki only named, as `tracker init`'s live one is until
    # a watch is added, is asked nothing.)
    polled = [wiki for wiki in config.wikis if config.watches_of(wiki.name)]
    warnings = [w for w in map(contact_warning, polled) if w]
    if not config.database_path.exists():
        return {
            "database": str(config.database_path),
            "warnings": warnings,
            "watches": [_empty_watch(w) for w in config.watches],
            "digests": [],
            "daemon": {"running": False, "pid": None},
            "jobs": [],
        }
    with Store(config.database_path, readonly=True) as store:
        return {
            "database": str(config.database_path),
            "warnings": warnings,
            "watches": watch_status(store, config),
            "digests": delivery_status(store, config),
            "daemon": daemon_store.daemon_status(store, holder(config.database_path)),
            "jobs": daemon_store.job_status(store),
        }


def status_lines(report: dict[str, Any]) -> list[str]:
    """The text form of full_status."""
    from tracker.digest.run import status_lines as digest_lines

    lines = [f"warning: {warning}" for warning in report.get("warnings", [])]
    for rec in report["watches"]:
        last = rec["last_revision"]
        lines.append(f"{rec['wiki']}: {rec['title']}")
        if rec["current_title"] and rec["current_title"] != rec["title"]:
            lines.append(f"  moved to:      {rec['current_title']}")
        lines.append(f"  status:        {rec['status']}")
        lines.append(f"  last poll:     {rec['last_poll'] or 'never'}")
        lines.append(
            "  last revision: "
            + (f"{last['revid']} at {last['timestamp']} by {last['user']}" if last else "none")
        )
        lines.append(f"  revisions:     {rec['revisions']}")
        if rec["backfill"]:
            lines.append(f"  backfill:      {backfill_line(rec['backfill'])}")
        if rec["unreachable_since"]:
            lines.append(f"  wiki not reachable since {rec['unreachable_since']}")
        if rec["last_error"]:
            lines.append(f"  last error:    {rec['last_error']} ({rec['error_count']} in a row)")
    lines += digest_lines(report["digests"])
    daemon = report["daemon"]
    if daemon.get("running"):
        since = f" since {daemon['started_at']}" if daemon.get("started_at") else ""
        lines.append(f"daemon: running (pid {daemon['pid']}){since}")
    elif daemon.get("stopped_at"):
        lines.append(f"daemon: not running (stopped at {daemon['stopped_at']})")
    else:
        lines.append("daemon: not running")
    for job in report["jobs"]:
        line = (
            f"  job {job['id']}: last run {job['last_run'] or 'never'}, "
            f"next run {job['next_run'] or '-'}"
        )
        if job["consecutive_failures"]:
            line += f", {job['consecutive_failures']} failures in a row: {job['last_error']}"
        lines.append(line)
    return lines
