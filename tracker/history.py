"""Reading the stored history back: revision records for the CLI, the web UI and digests."""

from __future__ import annotations

import json
from typing import Any

from tracker.errors import UsageError
from tracker.store import Store

FLAGS = ("texthidden", "userhidden", "commenthidden", "sha1hidden")


def revision_record(row: dict) -> dict[str, Any]:
    """The public JSON form of a stored revision (the `history --json` contract)."""
    record = {
        "revid": row["revid"],
        "parentid": row["parentid"],
        "timestamp": row["timestamp"],
        "user": row["user"],
        "userid": row["userid"],
        "comment": row["comment"],
        "minor": bool(row["minor"]),
        "size": row["size"],  # None when unknown
        "sha1": None if row["sha1hidden"] else row["sha1"],
        "tags": json.loads(row["tags"]) if row["tags"] else [],
        "content_model": row["content_model"],
        "revert_of": row["revert_of"],
        "reverted_by": row["reverted_by"],
    }
    for flag in FLAGS:
        record[flag] = bool(row[flag])
    record["deleted"] = bool(row.get("deleted_at"))  # the wiki deleted it since
    record["toolarge"] = bool(row.get("toolarge"))  # over max_revision_size: no text kept
    return record


def text_missing(row: dict) -> str:
    """Why a stored revision has no text, as the end of a sentence."""
    if row.get("toolarge"):
        size = f"{row['size']:,} bytes, " if row.get("size") is not None else ""
        return f"was too large to keep ({size}over the wiki's max_revision_size)"
    return "is hidden on the wiki"


def size_change(size: int | None, previous: int | None) -> int | None:
    """A revision's size change in bytes; None when either size is unknown (hidden)."""
    if size is None or previous is None:
        return None
    return size - previous


def resolve_page(store: Store, title: str, wiki: str | None = None) -> dict:
    page = store.find_page(title, wiki)
    if page is None:
        where = f" on {wiki}" if wiki else ""
        raise UsageError(f"no stored page titled {title!r}{where}; "
                         "check the title or run `tracker run --once` first")
    return page


def page_history(store: Store, title: str, wiki: str | None = None) -> tuple[dict, list[dict]]:
    page = resolve_page(store, title, wiki)
    return page, [revision_record(row) for row in store.revisions(page["id"])]


def resolve_revision(store: Store, revid: int, wiki: str | None = None) -> dict:
    wiki_id = None
    if wiki:
        row = store.one("SELECT id FROM wikis WHERE name = ?", [wiki])
        if row is None:
            raise UsageError(f"no wiki named {wiki!r} in the store")
        wiki_id = row["id"]
    rev = store.revision(wiki_id, revid)
    if rev is None:
        raise UsageError(f"revision {revid} is not stored; see `tracker history TITLE`")
    return rev
