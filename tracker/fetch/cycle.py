"""A poll cycle of one wiki, and its wiki-wide steps: what the wiki's recent changes say
changed since the last cycle, and so what each watched page needs (nothing, its new revisions
fetched with others', or its status); the wiki's log, siteinfo and editors' groups kept
fresh. tracker.fetch.poll goes through the pages with it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from tracker.config import Watch, Wiki
from tracker.errors import TrackerError
from tracker.fetch.api import ApiSource
from tracker.fetch.ingest import PageIngestor
from tracker.fetch.reconcile import log_names
from tracker.fetch.source import (
    HISTORY_LOGS,
    ChangeFeed,
    PageStatus,
    RcCursor,
    RecentChange,
    Source,
)
from tracker.model import Revision, parse_stamp, utc_stamp
from tracker.store import Store

log = logging.getLogger(__name__)

# How often a wiki's log is read (one request for every page): imports, undeletions,
# history merges and revision deletions that change a page's stored history.
LOG_INTERVAL = 15 * 60
LOG_OVERLAP = 60  # seconds read twice, for the clocks of the wiki and of this machine
SITEINFO_MAX_AGE = 86400  # a wiki's namespaces, interwiki map and tags, asked for daily
USER_GROUPS_MAX_AGE = 7 * 86400  # an editor's groups (a bot flag granted, taken), weekly


class Progress(Protocol):
    """What the poller tells of a page's backfill as it goes (the CLI draws a bar)."""

    def update(self, count: int, total: int | None) -> None:
        """`count` revisions of the page stored so far, of `total` (None: not known)."""

    def close(self) -> None:
        """The page is done."""


ProgressFactory = Callable[[str], Progress]  # a page's title -> its progress


@dataclass
class Cycle:
    """What one poll cycle of a wiki knows while it goes through the pages."""

    store: Store
    source: Source
    wiki: Wiki
    wiki_id: int
    progress: ProgressFactory | None
    clock: Callable[[], float]
    unchanged: list[int] = field(default_factory=list)
    pending: set[int] = field(default_factory=set)  # watches to poll in full, as plan read
    ingestor: PageIngestor | None = None  # the current page's: what it stored so far
    log_titles: set[str] = field(default_factory=set)
    log_pageids: set[int] = field(default_factory=set)


# One entry of a cycle's work: the watch row, its settings, what the wiki says of the page
# and, when recent changes named its new revisions, those revisions fetched with others'.
Work = tuple[dict, Watch, PageStatus, "list[Revision] | None"]


def read_changes(cycle: Cycle) -> ChangeFeed | None:
    """The wiki's recent changes since the last cycle (None: not used for this wiki). When
    they cannot tell everything, every watch of the wiki is to be polled in full when due."""
    if not cycle.wiki.recent_changes or not isinstance(cycle.source, ApiSource):
        return None
    store = cycle.store
    stored = store.rc_cursor(cycle.wiki_id)
    feed = cycle.source.recent_changes(RcCursor(*stored) if stored else None)
    if not feed.complete and stored is not None and feed.cursor == RcCursor(*stored):
        # The change read up to is gone and none came after it: on from the newest.
        feed = ChangeFeed([], False, cycle.source.recent_changes(None).cursor)
        if feed.cursor is None:
            store.set_rc_cursor(cycle.wiki_id, None)
    now = cycle.clock()
    reconciled = store.reconciled_at(cycle.wiki_id)
    if not feed.complete or (reconciled is None or now - epoch(reconciled) >= cycle.wiki.reconcile):
        # (Imports by a maintenance script, changes before the oldest the wiki keeps: only
        # the status of each page tells them.)
        store.mark_all_pending(cycle.wiki_id)
        store.set_reconciled_at(cycle.wiki_id, utc_stamp(now))
    if feed.complete:
        for change in feed.changes:
            if change.type == "log" and change.logtype in HISTORY_LOGS:
                cycle.log_titles.update((change.title, *change.titles))
                if change.pageid:
                    cycle.log_pageids.add(change.pageid)
    return feed


def plan(
    cycle: Cycle, entries: dict[int, tuple[dict, Watch]], feed: ChangeFeed | None
) -> list[Work]:
    """What each watched page needs this cycle: nothing (recent changes named none of its
    edits), its new revisions (fetched together, 50 a request), or its status."""
    store, source = cycle.store, cycle.source
    pending = cycle.pending = store.pending_watches(cycle.wiki_id)
    pageid_of = store.wiki_pageids(cycle.wiki_id)  # page row id -> the wiki's page id
    named: dict[int, list[RecentChange]] = {}
    if feed is not None and feed.complete:
        for change in feed.changes:
            if change.pageid and change.type != "categorize":
                named.setdefault(change.pageid, []).append(change)
    by_pageid: dict[int, tuple[dict, Watch]] = {}
    by_title: dict[str, tuple[dict, Watch]] = {}
    quick: dict[int, tuple[dict, Watch]] = {}
    for row, watch in entries.values():
        pageid = pageid_of.get(row["page_id"]) if row["page_id"] else None
        if feed is None or pageid is None or row["error_count"] or row["id"] in pending:
            if pageid is None:
                by_title[row["title"]] = (row, watch)
            else:
                by_pageid[pageid] = (row, watch)
        elif pageid in named:
            if all(change.type in ("edit", "new") for change in named[pageid]):
                quick[pageid] = (row, watch)
            else:  # moved, deleted, imported...: its status says what it is now
                by_pageid[pageid] = (row, watch)
        else:
            cycle.unchanged.append(row["id"])  # (no change since the last cycle)
    if feed is not None and feed.complete:
        # Watched pages named while not due: polled in full when they are.
        store.mark_pending(
            cycle.wiki_id,
            [p for p in named if p not in quick and p not in by_pageid],
        )
    work: list[Work] = []
    for status in source.page_status(list(by_pageid), list(by_title)):
        if isinstance(status.requested, int):
            row, watch = by_pageid[status.requested]
        else:
            row, watch = by_title[str(status.requested)]
        work.append((row, watch, status, None))
    if quick:
        revids = [
            change.revid
            for pageid in quick
            for change in named[pageid]
            if change.revid and not store.has_revision(cycle.wiki_id, change.revid)
        ]
        fetched = source.revisions_by_id(revids) if revids else {}
        for pageid, (row, watch) in quick.items():
            newest = max(named[pageid], key=lambda c: (c.timestamp, c.revid or 0))
            status = PageStatus(
                requested=pageid,
                pageid=pageid,
                title=newest.title,
                ns=newest.ns,
                lastrevid=newest.revid,
            )
            work.append((row, watch, status, fetched.get(pageid, [])))
    return work


def read_log(cycle: Cycle) -> None:
    """The pages the wiki's log names since it was last read (at most every LOG_INTERVAL)."""
    store, now = cycle.store, cycle.clock()
    last = store.log_checked_at(cycle.wiki_id)
    if last is not None and now - epoch(last) < LOG_INTERVAL:
        return
    if last is not None:
        since = utc_stamp(epoch(last) - LOG_OVERLAP)
        cycle.log_titles, cycle.log_pageids = log_names(cycle.source.log_events(since))
    # The first time, nothing to read: every page is compared with the wiki when due.
    store.set_log_checked_at(cycle.wiki_id, utc_stamp(now))


def refresh_site_info(cycle: Cycle) -> None:
    """Keep what wikitext means on the wiki (namespaces, interwiki, tags) at most a day old:
    every diff reads links, categories and headings by it."""
    store, stamp = cycle.store, cycle.store.site_info_age(cycle.wiki_id)
    if (
        isinstance(cycle.source, ApiSource)
        and stamp is not None
        and cycle.clock() - epoch(stamp) < SITEINFO_MAX_AGE
    ):
        return
    site = cycle.source.site_info()
    if stamp is None or site != store.site_info(cycle.wiki_id):
        store.set_site_info(cycle.wiki_id, site)
    else:
        store.site_info_checked(cycle.wiki_id, utc_stamp(cycle.clock()))


def refresh_user_groups(cycle: Cycle, page_ids: list[int]) -> None:
    """Ask the wiki the groups of the new edits' editors not asked yet, and of those asked
    a week ago: a bot is who the wiki says is one (tracker.model.is_bot). A failure here
    fails no page: until it works, bots are told by their names."""
    store = cycle.store
    stale = utc_stamp(cycle.clock() - USER_GROUPS_MAX_AGE)
    names = store.users_to_check(cycle.wiki_id, page_ids, stale)
    if not names:
        return
    try:
        found = cycle.source.user_groups(names)
    except TrackerError as exc:
        log.warning(
            "%s: users' groups not read (%s); bots told by name until then", cycle.wiki.name, exc
        )
        return
    if found:  # (a name the wiki did not answer for is not asked again before a week)
        answered = {name: None for name in names} | found
        store.set_user_groups(cycle.wiki_id, answered, utc_stamp(cycle.clock()))


def epoch(stamp: str) -> float:
    return parse_stamp(stamp).timestamp()
