"""Reading the stored history back, for the CLI, the web UI and digests: revision records, and
the diff of any two stored revisions (the stored one for a consecutive pair, any other on
demand)."""

from __future__ import annotations

from typing import Any

from tracker.errors import HiddenText, TrackerError, UsageError
from tracker.store import Store
from tracker.store.encoding import decode_tags
from tracker.text.diff import TextDiff, content, diff_texts
from tracker.text.reader import ReaderDiff, reader_diff
from tracker.text.sections import split
from tracker.text.siteinfo import SiteInfo
from tracker.text.textcache import TextCache

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
        "tags": list(decode_tags(row["tags"])),
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
        raise UsageError(
            f"no stored page titled {title!r}{where}; "
            "check the title or run `tracker run --once` first"
        )
    return page


def page_history(store: Store, title: str, wiki: str | None = None) -> tuple[dict, list[dict]]:
    page = resolve_page(store, title, wiki)
    return page, [revision_record(row) for row in store.revisions(page["id"])]


def resolve_revision(store: Store, revid: int, wiki: str | None = None) -> dict:
    wiki_id = None
    if wiki:
        wiki_id = store.find_wiki_id(wiki)
        if wiki_id is None:
            raise UsageError(f"no wiki named {wiki!r} in the store")
    rev = store.revision(wiki_id, revid)
    if rev is None:
        raise UsageError(f"revision {revid} is not stored; see `tracker history TITLE`")
    return rev


def _meta(row: dict) -> dict[str, Any]:
    record = revision_record(row)
    return {
        key: record[key]
        for key in (
            "revid",
            "parentid",
            "timestamp",
            "user",
            "comment",
            "minor",
            "size",
            "sha1",
            "tags",
        )
    }


def revision_pair_diff(store: Store, old: dict | None, new: dict) -> dict[str, Any]:
    """The diff JSON of two stored revision rows of one page (``old`` None: the first)."""
    for row in (old, new):
        if row is not None and not row["has_text"]:
            raise HiddenText(
                f"the text of revision {row['revid']} {text_missing(row)}; "
                "compare revisions around it (see `tracker history`)"
            )
    # Derived from the two texts, following the stored lineage (consecutive diffs are not
    # stored: this gives the same diff as the ingest did).
    new_text = store.revision_text(new["id"]) or ""
    old_text = store.revision_text(old["id"]) if old else None
    old_ids = store.section_ids(old["id"]) if old else None
    stored_ids = store.section_ids(new["id"])
    site = store.site_info(new["wiki_id"])
    try:
        result = _pair_diff(
            old_text, new_text, tuple(old_ids) if old_ids else None, tuple(stored_ids), site
        )
    except Exception as exc:
        raise TrackerError(
            f"revisions {old['revid'] if old else '(none)'} and {new['revid']} could not be "
            f"compared: {exc.__class__.__name__} (a bug in wiki tracker: please report it)"
        ) from exc
    # Sections new since `old` keep the stable id they got when they were stored.
    fresh = {f"\0{j}": sid for j, sid in enumerate(stored_ids)}
    sections = [dict(s, id=fresh.get(s["id"], s["id"])) for s in result.sections]
    page = result.page_changes
    return {
        "title": new.get("title"),
        "from": _meta(old) if old else None,
        "to": _meta(new),
        "revert_of": new["revert_of"],
        "page": page,
        "sections": sections,
    }


# Pairs of revisions diffed lately, by their texts, section ids and site info: a diff page
# reloaded, or switched between its views and layouts, is not diffed again (seconds for two
# revisions thousands of edits apart), as MediaWiki keeps its diffs.
_PAIRS: TextCache[TextDiff] = TextCache(4_000_000, largest_share=4)


def _pair_diff(
    old_text: str | None,
    new_text: str,
    old_ids: tuple[str, ...] | None,
    new_ids: tuple[str, ...],
    site: SiteInfo,
) -> TextDiff:
    """The diff of two texts with their stored section ids, remembered (see _PAIRS): do not
    change what it returns."""
    key = (old_text, new_text, old_ids, new_ids, site)
    found = _PAIRS.get(key)
    if found is not None:
        return found
    try:
        # The stored lineage decides first: a section with the same stable id at both
        # ends is the same section, whatever happened in between.
        result = diff_texts(old_text, new_text, list(old_ids) if old_ids else None, "\0", site,
                            new_ids=list(new_ids))  # fmt: skip
    except ValueError:
        # Stored by a splitter that cut the old text otherwise: no lineage to follow.
        result = diff_texts(old_text, new_text, None, "\0", site)
    _PAIRS.put(key, result, len(old_text or "") + len(new_text))
    return result


def page_diff(
    store: Store,
    title: str,
    from_revid: int | None = None,
    to_revid: int | None = None,
    wiki: str | None = None,
    *,
    reader: bool = False,
) -> dict[str, Any]:
    """`tracker diff`: by default the latest revision against the one before it with text.
    ``reader``: each section also has its reader diff as "reader" (`ReaderDiff.to_json`;
    null for an unchanged section or one whose text is not stored)."""
    result, diffs = page_diff_with_readers(store, title, from_revid, to_revid, wiki, reader)
    if reader:
        result["sections"] = [
            dict(s, reader=diffs[s["id"]].to_json() if s["id"] in diffs else None)
            for s in result["sections"]
        ]
    return result


def page_diff_with_readers(
    store: Store,
    title: str,
    from_revid: int | None = None,
    to_revid: int | None = None,
    wiki: str | None = None,
    reader: bool = True,
) -> tuple[dict[str, Any], dict[str, ReaderDiff]]:
    """The diff JSON of `page_diff` and the reader diff of each changed section by id
    (none unless ``reader``)."""
    page = resolve_page(store, title, wiki)
    rows = {row["revid"]: row for row in store.revisions(page["id"])}
    if not rows:
        raise UsageError(f"no revisions of {title!r} are stored yet")
    for revid in (from_revid, to_revid):
        if revid is not None and revid not in rows:
            raise UsageError(
                f"revision {revid} is not a stored revision of {page['title']!r}; "
                "see `tracker history`"
            )
    to_row = rows[to_revid] if to_revid is not None else store.latest_revision(page["id"])
    assert to_row is not None
    if from_revid is not None:
        from_row: dict | None = rows[from_revid]
    else:
        from_row = store.revision_before(to_row, with_text=True)
    if from_row is not None and position(from_row) > position(to_row):
        raise UsageError(
            f"--from {from_row['revid']} is newer than --to {to_row['revid']}: swap them"
        )
    for row in (from_row, to_row):
        if row is not None:
            row["title"] = page["title"]
    result = revision_pair_diff(store, from_row, to_row)
    diffs = reader_diffs(store, from_row, to_row, result["sections"]) if reader else {}
    return result, diffs


def position(row: dict) -> tuple[str, int]:
    """A stored revision's place in MediaWiki's history order."""
    return row["timestamp"], row["revid"]


def section_contents(store: Store, row: dict | None) -> dict[str, str]:
    """The content of each section of a stored revision (its body without the heading
    line: what a section's word operations point into), by stable section id; empty when
    the revision has no text or was split otherwise than its stored ids say."""
    if row is None or not row["has_text"]:
        return {}
    text = store.revision_text(row["id"])
    if text is None:
        return {}
    ids = store.section_ids(row["id"])
    sections = split(text, site=store.site_info(row["wiki_id"]))
    if len(ids) != len(sections):
        return {}
    return {sid: content(section) for sid, section in zip(ids, sections, strict=True)}


def reader_diffs(
    store: Store, old: dict | None, new: dict, sections: list[dict]
) -> dict[str, ReaderDiff]:
    """The reader diff (tracker.text.reader) of each changed section of a diff of ``old``
    and ``new`` (its "sections"), by section id; derived from the stored texts, never
    stored. A section whose content cannot be found at either end has none."""
    changed = [s for s in sections if s["kinds"]]
    if not changed:
        return {}
    before = section_contents(store, old)
    after = section_contents(store, new)
    site = store.site_info(new["wiki_id"])
    out: dict[str, ReaderDiff] = {}
    for section in changed:
        sid = str(section["id"])
        old_text = None if "added" in section["kinds"] else before.get(sid)
        new_text = None if "removed" in section["kinds"] else after.get(sid)
        if (old_text is None and "added" not in section["kinds"]) or (
            new_text is None and "removed" not in section["kinds"]
        ):
            continue
        out[sid] = reader_diff(old_text, new_text, site)
    return out
