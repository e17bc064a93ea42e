"""What `tracker status` reports: each watch (last poll, last revision, last error; a watch
set's members, last refresh of its list and its error), each digest channel (sent, pending,
failing), and the daemon with its jobs."""

from __future__ import annotations

import os
from typing import Any

from tracker.config import Config, Watch
from tracker.fetch.api import contact_warning
from tracker.store import Store


def _empty_watch(watch: Watch) -> dict[str, Any]:
    if watch.is_set:
        return _empty_set(watch)
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


def _empty_set(watch: Watch) -> dict[str, Any]:
    return {
        "wiki": watch.wiki,
        "key": watch.key,
        "kind": watch.kind,
        "target": watch.target,
        "depth": watch.depth,
        "namespace": watch.namespace,
        "interval": watch.interval,
        "refresh": watch.refresh,
        "max_pages": watch.max_pages,
        "paused": watch.paused,
        "status": "not read yet",
        "members": None,
        "last_refresh": None,
        "refresh_error": None,
        "last_poll": None,
        "failing_members": [],
    }


def stored_set(store: Store, wiki: str, key: str) -> dict | None:
    """The stored watch set (``find_watch_set``), None when it was never read (or the
    database is older than watch sets: read-only, it is not migrated)."""
    if not store.has_table("watch_sets"):
        return None
    return store.find_watch_set(wiki, key)


def set_state(store: Store, watch: Watch, *, polls: bool = True) -> dict[str, Any]:
    """A set watch as `tracker status` and `tracker watch list` tell it: how many members,
    when its list was last read whole and the error of the last reading; with ``polls``,
    when its members were last polled and those whose last polls failed."""
    record = _empty_set(watch)
    row = stored_set(store, watch.wiki, watch.key)
    if row is None:
        return record
    record.update(
        # A set whose first reading failed has no members: not "0 pages in it".
        members=row["members"] if row["refreshed_at"] or row["members"] else None,
        last_refresh=row["refreshed_at"],
        refresh_error=row["refresh_error"],
        status="failing"
        if row["refresh_error"]
        else ("ok" if row["refreshed_at"] else "not read yet"),
    )
    if not polls:
        return record
    # Each member is polled as a watch of its own (a row of `watches` per page).
    polled = store.wiki_watches(row["wiki_id"])
    by_page = {w["page_id"]: w for w in polled if w["page_id"]}
    by_title = {w["title"]: w for w in polled}
    poll_times = []
    for member in store.set_members(row["id"]):
        state = by_page.get(member["page_id"]) or by_title.get(member["title"])
        if state is None:
            continue
        if state["last_poll"]:
            poll_times.append(state["last_poll"])
        if state["error_count"]:
            record["failing_members"].append(
                {
                    "title": member["title"],
                    "last_error": state["last_error"],
                    "error_count": state["error_count"],
                }
            )
    record["last_poll"] = max(poll_times, default=None)
    return record


def cascade_state(store: Store, watch: Watch) -> dict[str, Any]:
    """The templates and modules a watch's pages use (``cascade = true``): how many, when
    they were last read and the error of the last reading."""
    row = stored_set(store, watch.wiki, f"cascade:{watch.key}")
    return {
        "templates": row["members"] if row else None,
        "last_refresh": row["refreshed_at"] if row else None,
        "refresh_error": row["refresh_error"] if row else None,
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
        if watch.is_set:
            record = set_state(store, watch)
        else:
            record = _title_state(store, watch)
        if watch.cascade:
            record["cascade"] = cascade_state(store, watch)
        out.append(record)
    return out


def _unread(watch: Watch) -> dict[str, Any]:
    record = _empty_watch(watch)
    if watch.cascade:
        record["cascade"] = {"templates": None, "last_refresh": None, "refresh_error": None}
    return record


def _title_state(store: Store, watch: Watch) -> dict[str, Any]:
    record = _empty_watch(watch)
    row = store.watch_state(watch.wiki, watch.title)
    if row is None:
        return record
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
    return record


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
            "watches": [_unread(w) for w in config.watches],
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
        if "key" in rec:
            lines += set_lines(rec)
            continue
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
        if rec.get("cascade"):
            lines += cascade_lines(rec["cascade"])
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


# The failing members a set's lines name (all of them are in --json).
FAILING_SHOWN = 3


def set_label(rec: dict[str, Any]) -> str:
    """ "category:Physics (depth 2)": a set's key, with the keys that shape it."""
    shape = []
    if rec["depth"]:
        shape.append(f"depth {rec['depth']}")
    if rec["namespace"] is not None:
        shape.append(f"namespace {rec['namespace']}")
    return rec["key"] + (f" ({', '.join(shape)})" if shape else "")


def set_lines(rec: dict[str, Any]) -> list[str]:
    """A set watch's lines of `tracker status`."""
    members = "not read yet" if rec["members"] is None else f"{rec['members']:,}"
    lines = [
        f"{rec['wiki']}: {set_label(rec)}",
        f"  status:        {rec['status']}{', paused' if rec['paused'] else ''}",
        f"  members:       {members} (at most {rec['max_pages']:,})",
        f"  last refresh:  {rec['last_refresh'] or 'never'}",
        f"  last poll:     {rec['last_poll'] or 'never'}",
    ]
    if rec["refresh_error"]:
        lines.append(f"  refresh error: {rec['refresh_error']}")
    failing = rec["failing_members"]
    if failing:
        lines.append(f"  failing:       {len(failing):,} of its pages")
        for member in failing[:FAILING_SHOWN]:
            lines.append(
                f"    {member['title']}: {member['last_error']} ({member['error_count']} in a row)"
            )
        if len(failing) > FAILING_SHOWN:
            lines.append(f"    and {len(failing) - FAILING_SHOWN:,} more (tracker status --json)")
    if rec.get("cascade"):
        lines += cascade_lines(rec["cascade"])
    return lines


def cascade_lines(cascade: dict[str, Any]) -> list[str]:
    templates = cascade["templates"]
    count = "not read yet" if templates is None else f"{templates:,}"
    lines = [f"  templates:     {count} (cascade; last read {cascade['last_refresh'] or 'never'})"]
    if cascade["refresh_error"]:
        lines.append(f"  templates error: {cascade['refresh_error']}")
    return lines
