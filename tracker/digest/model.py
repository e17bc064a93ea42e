"""The render model of a digest's pages: a window of revisions -> what a reader is told.

For every page of a subscription the *window* is the revisions after its cursor (the last
revision its previous digest covered), in MediaWiki's history order (timestamp, then
revision id; ids are not in time order on real wikis). The page's
part of a digest holds:

- the net effect per section: the diff of the revision before the window against its last
  one (history.revision_pair_diff), so that a sentence added and removed again inside the
  window is not shown, with word-level highlights and semantic changes;
- the revisions that made each section's change, from the section changes stored for each
  revision (``section_changes``);
- edits reverted inside the window collapsed to one line ("1 edit by 203.0.113.9 reverted by
  RevertBot 22 seconds later"), never their text;
- counts: edits, editors, bytes added and removed, sections changed.

Filters (minor edits, bots, users) decide which edits are listed and counted; a section is
shown when an edit that passes them touched it, with the window's net effect. A section
subscription resolves its heading patterns to stable section ids and follows those ids
through renames and moves.

Everything is plain dicts and lists, JSON-ready: the webhook posts it as it is and the
store keeps it beside the rendered outputs. README "Digests" documents its keys.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from tracker.config import Config, Subscription, Wiki
from tracker.digest.pages import PageRef, page_url
from tracker.digest.render import semantic_lines, word_segments
from tracker.digest.triggers import Triggers
from tracker.history import (
    reader_diffs,
    revision_pair_diff,
    revision_record,
    section_contents,
    size_change,
)
from tracker.model import is_bot, parse_stamp, utc_stamp, web_title
from tracker.store import Store
from tracker.store import digests as ds
from tracker.text.display import LEAD, section_label
from tracker.text.reader import ReaderDiff
from tracker.text.readerview import invisible_line
from tracker.text.siteinfo import SiteInfo
from tracker.text.summary import summary_pieces

log = logging.getLogger(__name__)

MAX_SEMANTIC = 12  # semantic changes listed per section before "and N more"


def humanize(seconds: float) -> str:
    """22 seconds, 4 minutes, 3 hours, 2 days."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    count = int(seconds)
    return f"{count} second{'s' if count != 1 else ''}"


def section_title(path: list[str] | None) -> str:
    return section_label(path or [])


def matches(patterns: tuple[str, ...], path: list[str] | tuple[str, ...]) -> bool:
    """A heading path against patterns "A / B" or globs; a pattern without "/" also
    matches a section by its own heading at any depth. Case-insensitive."""
    if not path:
        return any(p.strip().lower() in ("", "lead", "lead section", LEAD) for p in patterns)
    full = " / ".join(path).casefold()
    last = path[-1].casefold()
    for pattern in patterns:
        norm = " / ".join(part.strip() for part in pattern.split("/")).casefold()
        if fnmatch.fnmatchcase(full, norm) or (
            "/" not in pattern and fnmatch.fnmatchcase(last, norm)
        ):
            return True
    return False


@dataclass
class Clock:
    """Times as a digest shows them: in the subscription's time zone."""

    zone: ZoneInfo
    now: datetime

    def local(self, value: str | datetime | None) -> str | None:
        if value is None:
            return None
        moment = parse_stamp(value) if isinstance(value, str) else value
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M %Z")

    def span(self, first: str, last: str) -> str:
        """When a run of events happened: "at 2026-03-01 06:10 UTC", "between 2026-03-01
        06:10 and 09:40 UTC" (one day), or both times in full."""
        start, end = (parse_stamp(value).astimezone(self.zone) for value in (first, last))
        if start.strftime("%Y-%m-%d %H:%M") == end.strftime("%Y-%m-%d %H:%M"):
            return f"at {self.local(start)}"
        if start.date() == end.date() and start.tzname() == end.tzname():
            return f"between {start:%Y-%m-%d %H:%M} and {end:%H:%M %Z}"
        return f"between {self.local(start)} and {self.local(end)}"


@dataclass
class Links:
    config: Config
    wiki: Wiki
    page: dict
    site: SiteInfo | None = None  # the wiki's namespaces, for links in summaries

    def wiki_diff(self, old: int | None, new: int) -> str | None:
        script = self.wiki.script_url
        if not script:
            return None
        return f"{script}?diff={new}&oldid={old}" if old else f"{script}?oldid={new}"

    def wiki_page(self) -> str | None:
        return self.page_url(self.page["title"])

    def page_url(self, title: str) -> str | None:
        """Any page of the wiki by its title (links in edit summaries)."""
        return page_url(self.wiki, title)

    @property
    def base(self) -> str | None:
        url = self.config.web.base_url
        return url.rstrip("/") if url else None

    def _web_key(self) -> str:
        # As the web UI names a page: its wiki's name and its title (tracker.web.helpers).
        return f"{quote(self.wiki.name, safe='')}/{web_title(self.page['title'])}"

    def web_page(self) -> str | None:
        return f"{self.base}/wiki/{self._web_key()}" if self.base else None

    def web_diff(self, old: int | None, new: int) -> str | None:
        if not self.base:
            return None
        if not old:
            return self.web_page()
        return f"{self.base}/diff/{self._web_key()}?from={old}&to={new}"


# --- windows -----------------------------------------------------------------------------------


@dataclass
class Window:
    """The revisions of one page a digest covers."""

    ref: PageRef
    start: dict | None  # the revision before the window (None: the page's beginning)
    rows: list[dict]  # the window's revisions, in history order
    cursor: ds.Cursor | None
    new_page: bool  # no cursor yet: a "started tracking" entry, not changes
    sections: tuple[str, ...] | None = None  # followed section ids after the window
    model: dict | None = None  # the page's part of the render model, None = nothing to say
    stats: dict = field(default_factory=dict)

    @property
    def last_revid(self) -> int:
        return self.rows[-1]["revid"] if self.rows else (self.start or {}).get("revid", 0)

    def record(self) -> ds.PageWindow:
        return ds.PageWindow(
            self.ref.page["id"] if self.ref.page else 0,
            self.cursor.revid if self.cursor else None,
            self.last_revid,
            len(self.rows),
            self.sections,
        )


def page_window(
    store: Store, ref: PageRef, cursor: ds.Cursor | None, since: int | datetime | None
) -> Window | None:
    """The window of a page after its cursor, or after ``since`` (a revid or a time)."""
    if ref.page is None or not ref.page.get("backfilled_at"):
        return None  # the history is still coming in: its older edits are no news
    page_id = ref.page["id"]
    if since is None and cursor is None:
        rows = store.revisions(page_id)
        if not rows:
            return None
        return Window(ref, None, rows, cursor, new_page=True)
    if since is None:
        assert cursor is not None
        start = store.revision_at_or_before(page_id, cursor.revid)
    elif isinstance(since, int):
        start = store.revision_at_or_before(page_id, since)
    else:
        start = store.revision_before_time(page_id, utc_stamp(since))
    rows = store.revisions_between(page_id, start)
    return Window(ref, start, rows, cursor, new_page=False)


# --- the render model of one page --------------------------------------------------------------


def revision_model(
    row: dict,
    previous_size: int | None,
    sub: Subscription,
    clock: Clock,
    links: Links,
    groups: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Any]:
    rec = revision_record(row)
    delta = size_change(rec["size"], previous_size)
    return {
        "revid": rec["revid"],
        "parentid": rec["parentid"],
        "timestamp": rec["timestamp"],
        "time": clock.local(rec["timestamp"]),
        "user": rec["user"] if rec["user"] is not None else "(username hidden)",
        "comment": rec["comment"] if rec["comment"] is not None else "(summary hidden)",
        # The summary as MediaWiki shows it, its links resolved (None: hidden).
        "summary": (
            summary_pieces(rec["comment"], links.page_url, links.page["title"], links.site)
            if rec["comment"] is not None
            else None
        ),
        "minor": rec["minor"],
        "tags": rec["tags"],
        "size": rec["size"],
        "delta": delta,
        "bot": is_bot(rec["user"], rec["tags"], sub.filters.bots, groups),
        "reverted": rec["reverted_by"] is not None,
        "links": {
            "wiki_diff": links.wiki_diff(rec["parentid"], rec["revid"]),
            "web_diff": links.web_diff(rec["parentid"], rec["revid"]),
        },
    }


def _filtered(rev: dict, sub: Subscription) -> bool:
    f = sub.filters
    return (
        (f.skip_minor and rev["minor"])
        or (f.skip_bots and rev["bot"])
        or rev["user"] in f.skip_users
    )


def revert_groups(store: Store, window: Window) -> list[tuple[dict, list[dict]]]:
    """(revert, the revisions it reverted) for reverts whose reverted edits all lie inside
    the window: their net effect is nil, so they can be told in one line."""
    in_window = {row["revid"]: row for row in window.rows}
    groups = []
    for row in window.rows:
        if row["revert_of"] is None:
            continue
        reverted = store.reverted_revids(row["page_id"], row["revid"])
        if reverted and all(revid in in_window for revid in reverted):
            groups.append((row, [in_window[revid] for revid in reverted]))
    return groups


def _group_model(revert: dict, reverted: list[dict]) -> dict[str, Any]:
    users = list(dict.fromkeys(r["user"] for r in reverted))
    after = parse_stamp(revert["timestamp"]) - parse_stamp(reverted[0]["timestamp"])
    count = len(reverted)
    text = (
        f"{count} edit{'s' if count != 1 else ''} by {', '.join(users)} reverted by "
        f"{revert['user']} {humanize(max(0.0, after.total_seconds()))} later"
    )
    return {
        "count": count,
        "users": users,
        "reverter": revert["user"],
        "text": text,
        "after_seconds": after.total_seconds(),
        "revisions": [*reverted, revert],
    }


def _counts(revs: list[dict]) -> dict[str, int]:
    return {
        "edits": len(revs),
        "editors": len({r["user"] for r in revs}),
        "bytes_added": sum(r["delta"] for r in revs if (r["delta"] or 0) > 0),
        "bytes_removed": -sum(r["delta"] for r in revs if (r["delta"] or 0) < 0),
    }


def changes_model(
    store: Store, config: Config, sub: Subscription, window: Window, clock: Clock
) -> dict[str, Any] | None:
    """The page's part of a digest: net effect per section and who made it; None when the
    window holds nothing the subscription wants to hear about."""
    ref, page = window.ref, window.ref.page
    assert page is not None
    links = Links(config, ref.wiki, page, store.site_info(page["wiki_id"]))
    sizes = [window.start["size"] if window.start else 0] + [r["size"] for r in window.rows]
    editors = store.user_groups(page["wiki_id"], (row["user"] for row in window.rows))
    revs = [
        revision_model(row, sizes[i], sub, clock, links, editors)
        for i, row in enumerate(window.rows)
    ]
    by_revid = {rev["revid"]: rev for rev in revs}
    groups = revert_groups(store, window) if sub.filters.skip_reverted else []
    collapsed = {r["revid"] for revert, reverted in groups for r in (revert, *reverted)}
    counted = [rev for rev in revs if rev["revid"] not in collapsed and not _filtered(rev, sub)]
    filtered = len(revs) - len(counted) - len(collapsed)

    # Which window revisions touched which section (stored section changes).
    touched: dict[str, list[int]] = {}
    for section_id, revid in store.touched_sections([row["id"] for row in window.rows]):
        touched.setdefault(section_id, []).append(revid)

    net, old, new, page_facts = _net_diff(store, window)
    followed = followed_sections(store, sub, window, net)
    contents = _OldContents(store, old)
    window.sections = followed
    counted_ids = {rev["revid"] for rev in counted}
    chosen = []
    for sec in net:
        if not sec["kinds"] or (followed is not None and sec["id"] not in followed):
            continue
        makers = [by_revid[r] for r in touched.get(sec["id"], []) if r in counted_ids]
        if sec["id"] in touched and not makers:
            continue  # only filtered or reverted edits touched it
        chosen.append((sec, makers))
    # Text triggers keep the sections whose net change added or removed matching words.
    triggers = Triggers.of(sub.filters)
    matched: dict[str, list[str]] = {}
    if triggers:
        for sec, _makers in chosen:
            found = triggers.section_matches(sec.get("changes") or [])
            if found:
                matched[sec["id"]] = found
        chosen = [(sec, makers) for sec, makers in chosen if sec["id"] in matched]
    # The reader view is derived here from the stored texts (never stored by the ingest).
    readers: dict[str, ReaderDiff] = {}
    # A template or module of a cascade is code: its own diff is its wikitext's.
    if sub.view != "wikitext" and new is not None and ref.used_by is None:
        readers = reader_diffs(store, old, new, [sec for sec, _makers in chosen])
    sections = [
        _section_model(
            sec, makers, sub, contents, readers.get(sec["id"]), triggers, matched.get(sec["id"])
        )
        for sec, makers in chosen
    ]
    if followed is not None:
        # A section subscription counts only the edits to its sections.
        ids = {r for sid in followed for r in touched.get(sid, [])}
        counted = [rev for rev in counted if rev["revid"] in ids]
        groups = [
            (revert, reverted)
            for revert, reverted in groups
            if any(r["revid"] in ids for r in reverted)
        ]
    # Page facts (categories, language links, DEFAULTSORT, behaviour switches) belong to no
    # section: told for the whole page, not to a subscription of some sections.
    if triggers:
        # Only the edits that made a matching change are told; page facts are no words.
        makers_of = {rev["revid"] for _sec, makers in chosen for rev in makers}
        counted = [rev for rev in counted if rev["revid"] in makers_of]
        groups = []
    page_semantic = semantic_lines(page_facts) if followed is None and not triggers else []
    if not sections and not counted:
        window.stats = {"filtered": filtered}
        return None
    last, first = window.rows[-1], window.start
    counts = _counts(counted) | {
        "sections": len(sections),
        "filtered": filtered,
        "reverted": sum(len(reverted) for _, reverted in groups),
    }
    window.stats = counts
    return {
        "title": page["title"],
        "watch_title": ref.title,
        "wiki": ref.wiki.name,
        "page_id": page["id"],
        "pageid": page["pageid"],
        "used_by": ref.used_by,  # a cascade template: the watched pages that use it
        "started": False,
        "error": ref.error,
        "from": _brief(first, clock),
        "to": _brief(last, clock),
        "links": {
            "wiki_diff": links.wiki_diff(first["revid"] if first else None, last["revid"]),
            "wiki_page": links.wiki_page(),
            "web_page": links.web_page(),
            "web_diff": links.web_diff(first["revid"] if first else None, last["revid"]),
        },
        "counts": counts,
        "sections": sections,
        "revisions": counted,
        "page_semantic": page_semantic[:MAX_SEMANTIC],
        "page_semantic_more": max(0, len(page_semantic) - MAX_SEMANTIC),
        "reader_hidden": invisible_line(readers.values()),
        "reverted": [_group_model(revert, reverted) for revert, reverted in groups],
        "followed": None,
        "revision_count": None,
        "last": None,
    }


def _brief(row: dict | None, clock: Clock) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "revid": row["revid"],
        "timestamp": row["timestamp"],
        "time": clock.local(row["timestamp"]),
        "user": row["user"],
    }


def _net_diff(
    store: Store, window: Window
) -> tuple[list[dict], dict | None, dict | None, list[dict]]:
    """The sections of the diff from the revision before the window to its last one, that
    older revision, the newer one, and the diff's page-level changes."""
    with_text = [row for row in window.rows if row["has_text"]]
    if not with_text:
        return [], None, None, []
    new = with_text[-1]
    old = window.start
    if old is not None and not old["has_text"]:
        old = store.revision_before(old, with_text=True)
    result = revision_pair_diff(store, old, new)
    return list(result["sections"]), old, new, list(result.get("page") or [])


class _OldContents:
    """The old content of each section of the revision before the window, by section id:
    the text the word-level offsets of the net diff point into. Split only when needed."""

    def __init__(self, store: Store, old: dict | None):
        self.store, self.old = store, old
        self._by_id: dict[str, str] | None = None

    def get(self, section_id: str) -> str | None:
        if self._by_id is None:
            self._by_id = self._split()
        return self._by_id.get(section_id)

    def _split(self) -> dict[str, str]:
        return section_contents(self.store, self.old)


def followed_sections(
    store: Store, sub: Subscription, window: Window, net: list[dict]
) -> tuple[str, ...] | None:
    """The section ids a section subscription follows after this window (None: whole page).

    Ids followed before stay followed wherever they go (renames, moves); sections whose
    path matches a pattern, before or after the window, are added.
    """
    if not sub.sections:
        return None
    ids = set(window.cursor.sections or ()) if window.cursor else set()
    for sec in net:
        if matches(sub.sections, sec["path"]) or (
            sec.get("old_path") is not None and matches(sub.sections, sec["old_path"])
        ):
            ids.add(sec["id"])
    last = last_with_text(store, window)
    if last is None:
        return tuple(sorted(ids))
    present = set(store.section_ids(last["id"]))
    if not net:  # no diff computed (a new page): match the latest revision's paths
        diff = revision_pair_diff(store, None, last)["sections"]
        ids |= {s["id"] for s in diff if matches(sub.sections, s["path"])}
    return tuple(sorted(ids & present))


def last_with_text(store: Store, window: Window) -> dict | None:
    rows = [row for row in window.rows if row["has_text"]]
    if rows:
        return rows[-1]
    if window.start is not None and window.start["has_text"]:
        return window.start
    return None


def _section_model(
    sec: dict,
    makers: list[dict],
    sub: Subscription,
    contents: _OldContents,
    reader: ReaderDiff | None = None,
    triggers: Triggers | None = None,
    matched: list[str] | None = None,
) -> dict[str, Any]:
    changes = sec.get("changes") or []
    # Offsets point into the section's old content; an added section had none.
    old = "" if "added" in sec["kinds"] else contents.get(sec["id"])
    words, more = word_segments(changes, sub.max_words, old)
    if triggers:
        words = triggers.mark(words)
    semantic = semantic_lines(changes)
    if "added" in sec["kinds"] or "removed" in sec["kinds"]:
        # A whole section came or went: its links and templates went with it, which says
        # nothing more; its references and categories are worth a line each.
        semantic = [c for c in semantic if c["type"].startswith(("ref_", "category_"))]
    return {
        "id": sec["id"],
        "path": list(sec["path"]),
        "old_path": sec.get("old_path"),
        "title": section_title(sec["path"]),
        "old_title": section_title(sec["old_path"]) if sec.get("old_path") is not None else None,
        "kinds": list(sec["kinds"]),
        "words_added": sec.get("words_added", 0),
        "words_removed": sec.get("words_removed", 0),
        "words": words,
        "more_words": more,
        "semantic": semantic[:MAX_SEMANTIC],
        "semantic_more": max(0, len(semantic) - MAX_SEMANTIC),
        "reader": _reader_model(reader, sec["kinds"], triggers) if reader is not None else None,
        "revisions": makers,
        # What the subscription's text triggers found in the added or removed words.
        "matched": matched or [],
    }


def _reader_model(
    diff: ReaderDiff, kinds: list[str], triggers: Triggers | None = None
) -> dict[str, Any]:
    """A section's reader diff as digests show it: its words as escaped HTML and as text
    with wdiff's marks (what the text triggers found marked), what changed for a reader in
    lines, and what did not show."""
    marks = triggers.spans if triggers else None
    return {
        "html": diff.html(marks=marks),
        "text": diff.text(marks=marks),
        "changed": diff.changed,
        "words_added": diff.words_added,
        "words_removed": diff.words_removed,
        "lines": diff.lines[:MAX_SEMANTIC],
        "lines_more": max(0, len(diff.lines) - MAX_SEMANTIC),
        "hidden": list(diff.hidden),
        "markup_only": diff.markup_only,
        # Nothing a reader sees: told only in the page's "Not visible to readers" line.
        "invisible": diff.markup_only and not diff.lines and set(kinds) <= {"edited"},
    }


def started_model(
    store: Store, config: Config, window: Window, clock: Clock, followed_titles: list[str] | None
) -> dict[str, Any]:
    ref, page = window.ref, window.ref.page
    assert page is not None
    links = Links(config, ref.wiki, page)
    last = window.rows[-1] if window.rows else window.start
    return {
        "title": page["title"],
        "watch_title": ref.title,
        "wiki": ref.wiki.name,
        "page_id": page["id"],
        "pageid": page["pageid"],
        "used_by": ref.used_by,
        "started": True,
        "error": ref.error,
        "revision_count": store.revision_count(page["id"]),
        "first": _brief(store.first_revision(page["id"]), clock),
        "last": _brief(last, clock),
        "from": None,
        "to": None,
        "links": {
            "wiki_diff": None,
            "wiki_page": links.wiki_page(),
            "web_page": links.web_page(),
            "web_diff": None,
        },
        "counts": _counts([]) | {"sections": 0, "filtered": 0, "reverted": 0},
        "followed": followed_titles,
        "sections": [],
        "revisions": [],
        "reverted": [],
        "page_semantic": [],
        "page_semantic_more": 0,
        "reader_hidden": None,
    }
