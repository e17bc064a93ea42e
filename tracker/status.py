"""What `tracker status` reports: each watch's last poll, last revision and last error."""

from __future__ import annotations

from typing import Any

from .config import Config
from .store import Store


def watch_status(store: Store, config: Config) -> list[dict[str, Any]]:
    """One record per configured watch, whether or not it was polled yet."""
    out = []
    for watch in config.watches:
        row = store.one(
            "SELECT w.*, wk.name AS wiki, wk.unreachable_since, wk.last_error AS wiki_error "
            "FROM watches w JOIN wikis wk ON wk.id = w.wiki_id "
            "WHERE wk.name = ? AND w.title = ?", [watch.wiki, watch.title])
        record: dict[str, Any] = {
            "wiki": watch.wiki, "title": watch.title, "interval": watch.interval,
            "status": "not polled yet", "current_title": None, "last_poll": None,
            "last_revision": None, "revisions": 0, "last_error": None, "error_count": 0,
            "unreachable_since": None,
        }
        if row is not None:
            record.update(status=row["status"], last_poll=row["last_poll"],
                          last_error=row["last_error"], error_count=row["error_count"],
                          unreachable_since=row["unreachable_since"])
            if row["page_id"]:
                page = store.page(row["page_id"])
                record["current_title"] = page["title"] if page else None
                last = store.latest_revision(row["page_id"])
                if last:
                    record["last_revision"] = {"revid": last["revid"],
                                               "timestamp": last["timestamp"],
                                               "user": last["user"]}
                record["revisions"] = store.scalar(
                    "SELECT count(*) FROM revisions WHERE page_id = ?", [row["page_id"]])
        out.append(record)
    return out
