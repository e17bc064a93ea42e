"""One poll cycle of a wiki: what changed (its recent changes, or the status of each watched
page; tracker.fetch.cycle), content only for changes; the pages of watch sets
(tracker.fetch.topics).

Page identity is the wiki's page id. A watch is bound to a page id the first time its title
resolves; from then on the page is followed by id, so a move records the new title and keeps
the history, and a deletion marks the page deleted without losing anything.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from tracker.config import Config, Watch, Wiki
from tracker.errors import TrackerError, WikiError
from tracker.fetch.api import ApiSource, contact_warning
from tracker.fetch.cycle import (
    Cycle,
    ProgressFactory,
    epoch,
    plan,
    read_changes,
    read_log,
    refresh_site_info,
    refresh_user_groups,
)
from tracker.fetch.ingest import PageIngestor, rederive_pending
from tracker.fetch.reconcile import reconcile
from tracker.fetch.snapshot import SnapshotSource
from tracker.fetch.source import ChangeFeed, PageStatus, Source
from tracker.fetch.topics import SetCycle, first_fetch, set_pages, update_cascade
from tracker.model import Revision
from tracker.store import Store, utcnow

log = logging.getLogger(__name__)

_CONTACT_WARNED: set[str] = set()  # the wikis warned of in this process: once per run


@dataclass
class PollResult:
    wiki: str
    requests: int = 0
    pages_checked: int = 0
    pages_changed: int = 0
    revisions_added: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        text = (
            f"{self.wiki}: {self.pages_checked} pages checked, {self.pages_changed} changed, "
            f"{self.revisions_added} revisions stored, {self.requests} requests"
        )
        if self.errors:
            text += f", {len(self.errors)} errors"
        return text


def make_source(config: Config, wiki: Wiki, **kwargs: object) -> Source:
    if wiki.snapshot is not None:
        return SnapshotSource(
            wiki.name, config.resolve(wiki.snapshot), max_revision_size=wiki.max_revision_size
        )
    return ApiSource(wiki, **kwargs)  # type: ignore[arg-type]  # (the tests' hooks)


def poll_wiki(
    store: Store,
    config: Config,
    wiki: Wiki,
    *,
    source: Source | None = None,
    watches: Sequence[Watch] | None = None,
    progress: ProgressFactory | None = None,
    clock: Callable[[], float] = time.time,
) -> PollResult:
    """Poll the given watches of one wiki (all of them by default); never raises WikiError.

    Which pages changed comes from the wiki's recent changes (one request whatever the
    number of watched pages) where they can tell it all; else, and for the pages they name
    as moved, deleted or imported, from the status of each page (50 a request).
    """
    source = source or make_source(config, wiki)
    watches = list(config.watches_of(wiki.name) if watches is None else watches)
    result = PollResult(wiki.name)
    wiki_id = store.wiki_id(wiki.name, wiki.api_url, wiki.snapshot)
    run_id = store.start_poll_run(wiki_id)
    start_requests = source.requests
    cycle = Cycle(store, source, wiki, wiki_id, progress or None, clock)
    warning = contact_warning(wiki)
    if warning and wiki.name not in _CONTACT_WARNED:
        _CONTACT_WARNED.add(wiki.name)
        log.warning("%s", warning)
    titles = [watch for watch in watches if not watch.is_set]
    # (Only when titles are watched: a set's pages come with their watches below.)
    stored = {row["title"]: row for row in store.wiki_watches(wiki_id)} if titles else {}
    entries: dict[int, tuple[dict, Watch]] = {}
    for watch in titles:
        row = stored.get(watch.title) or store.watch(wiki_id, watch.title)
        entries[row["id"]] = (row, watch)
    sets = SetCycle(store, source, wiki_id, clock, result.errors)
    feed: ChangeFeed | None = None
    try:
        rederive_pending(store, wiki_id)  # what a killed run left half done
        store.repack_texts()  # texts an older version stored, once
        refresh_site_info(cycle)  # (before the first request: the check reads it too)
        feed = read_changes(cycle)
        for row, watch in set_pages(sets, watches, feed):
            entries.setdefault(row["id"], (row, watch))
        first = first_fetch(sets, list(entries.values()))
        # (A page just fetched is as it is now: neither its status nor its changes asked.)
        work = plan(cycle, {k: v for k, v in entries.items() if k not in first.stored}, feed)
        if feed is None:
            read_log(cycle)
    except Exception as exc:  # the wiki as a whole failed: every watch of it says so
        message = _page_error(exc, wiki.name)
        result.errors.append(message)
        store.record_wiki_result(wiki_id, message)
        for row, _ in entries.values():
            _watch_error(store, row, message)
    else:
        store.record_wiki_result(wiki_id, None)
        result.pages_checked = len(entries)
        changed = list(first.stored.values())
        result.pages_changed = result.revisions_added = len(changed)
        for watch_id, message in first.errors.items():
            row, _ = entries[watch_id]
            result.errors.append(message)
            _watch_error(store, row, message)
        for row, watch, status, fetched in work:
            title = row["title"]
            cycle.ingestor = None
            try:
                _poll_page(cycle, row, status, watch, fetched)
            except Exception as exc:  # one page never stops the others (nor the digests)
                message = _page_error(exc, title)
                result.errors.append(message)
                _watch_error(store, row, message)
                log.warning(
                    "%s: %s: %s",
                    wiki.name,
                    title,
                    message,
                    exc_info=not isinstance(exc, TrackerError),
                )
            added = cycle.ingestor.added if cycle.ingestor else 0
            if added:  # what whole batches stored, also before an error
                assert cycle.ingestor is not None
                changed.append(cycle.ingestor.page_id)
                result.pages_changed += 1
                result.revisions_added += added
        with store.atomic():
            if cycle.unchanged:
                store.mark_polled(cycle.unchanged, utcnow())
            store.clear_pending([i for i in entries if i in cycle.pending])
            if feed is not None and feed.cursor is not None:
                store.set_rc_cursor(wiki_id, (feed.cursor.timestamp, feed.cursor.rcid))
        refresh_user_groups(cycle, changed)
        _cascade(cycle, sets, watches, entries, changed)
    result.requests = source.requests - start_requests
    store.finish_poll_run(
        run_id,
        requests=result.requests,
        pages_checked=result.pages_checked,
        revisions_added=result.revisions_added,
        errors=result.errors,
    )
    log.info("poll %s", result.summary())
    return result


def _cascade(
    cycle: Cycle,
    sets: SetCycle,
    watches: Sequence[Watch],
    entries: dict[int, tuple[dict, Watch]],
    changed: list[int],
) -> None:
    """The templates the pages of cascading watches use, read again for the pages that
    changed (all of them when due): they are polled from the next cycle on."""
    cascading = [w for w in watches if w.cascade]
    if not cascading:
        return
    store = cycle.store
    pageid_of = store.wiki_pageids(cycle.wiki_id)
    by_title = {row["title"]: row for row, _ in entries.values()}

    def pages_of(watch: Watch) -> list[int]:
        if not watch.is_set:
            row = by_title.get(watch.title)
            pid = pageid_of.get(row["page_id"]) if row and row["page_id"] else None
            return [pid] if pid else []
        found = store.find_watch_set(cycle.wiki.name, watch.key)
        if found is None:
            return []
        return [m["pageid"] for m in store.set_members(found["id"]) if m["page_id"]]

    changed_pageids = {pageid_of[p] for p in changed if p in pageid_of}
    update_cascade(sets, cascading, pages_of, changed_pageids)


def _page_error(exc: Exception, title: str) -> str:
    """One line for a page's failure: ours as they are, anything else as what it is."""
    if isinstance(exc, TrackerError):
        return str(exc)
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return (
        f"{title!r} could not be processed: {exc.__class__.__name__}"
        f"{': ' + detail if detail else ''} (a bug in wiki tracker: please report it; "
        "the other pages go on, this one is tried again on the next poll)"
    )


def _watch_error(store: Store, row: dict, message: str) -> None:
    now = utcnow()
    store.update_watch(
        row["id"],
        last_poll=now,
        last_error=message,
        last_error_at=now,
        error_count=row["error_count"] + 1,
        failing_since=row.get("failing_since") or now,  # (the first of this run of failures)
    )


def _recheck_due(cycle: Cycle, page: dict | None, status: PageStatus, watch: Watch) -> bool:
    """Whether the page's whole revision list must be compared with the store now."""
    if page is None or page["last_revid"] is None:
        return False  # not stored yet: the backfill fetches the history
    if status.pageid in cycle.log_pageids or status.title in cycle.log_titles:
        return True
    if status.revisions is not None and watch.backfill.mode == "all":
        return cycle.store.revision_count(page["id"], live=True) != status.revisions
    checked = page["checked_at"]
    return checked is None or cycle.clock() - epoch(checked) >= cycle.wiki.recheck


def _poll_page(
    cycle: Cycle,
    row: dict,
    status: PageStatus,
    watch: Watch,
    fetched: list[Revision] | None = None,
) -> None:
    """Bring one watched page up to date with what the wiki says of it (``status``);
    ``fetched``: its new revisions, fetched already with other pages'."""
    store, source, wiki_id = cycle.store, cycle.source, cycle.wiki_id
    title = row["title"]
    if status.invalid:
        raise WikiError(f"{title!r} is not a valid page title on {source.name}; fix the watch")
    if status.missing:
        if row["page_id"]:
            page = store.page(row["page_id"])
            if page and not page["deleted_at"]:
                store.mark_page_deleted(page["id"], utcnow())
            store.update_watch(row["id"], status="deleted", last_poll=utcnow())
            raise WikiError(
                f"{title!r} was deleted on {source.name}; its stored history is "
                "kept; remove the watch or wait for it to be restored"
            )
        store.update_watch(row["id"], status="missing", last_poll=utcnow())
        raise WikiError(
            f"{title!r} does not exist on {source.name}; check the title "
            "(case and spelling) in the watch"
        )
    assert status.pageid is not None and status.title is not None
    if status.redirect and not row["page_id"]:
        target = _redirect_target(source, status.title)
        store.update_watch(row["id"], status="redirect", last_poll=utcnow())
        raise WikiError(
            f"{title!r} is a redirect to {target!r} on {source.name}; "
            f"watch {target!r} instead (redirects are not followed)"
        )
    page = store.page_by_pageid(wiki_id, status.pageid)
    recheck = _recheck_due(cycle, page, status, watch)
    if (
        page is not None
        and row["page_id"] == page["id"]
        and page["title"] == status.title
        and not page["deleted_at"]
        and not row["error_count"]
        and not recheck
        and page["last_revid"] is not None
        and status.lastrevid == page["last_revid"]
    ):
        # Nothing changed: the common case of every poll; recorded in one write for all.
        cycle.unchanged.append(row["id"])
        return
    with store.atomic():
        page = store.upsert_page(
            wiki_id, status.pageid, status.title, status.ns, status.content_model
        )
        if page["title"] != title and row["status"] != "moved":
            log.info("%s: %r is now titled %r", source.name, title, page["title"])
        store.update_watch(
            row["id"],
            page_id=page["id"],
            last_poll=utcnow(),
            status="moved" if page["title"] != title else "ok",
            last_error=None,
            error_count=0,
            failing_since=None,
        )
    ingestor = cycle.ingestor = PageIngestor(store, wiki_id, page["id"])
    whole = watch.backfill.mode == "all"
    backfill = not page["backfilled_at"]
    # An export's texts may come split by the ingest's rules, beside it (fetch.snapshot).
    site = ingestor.site
    if backfill:
        total = _history_size(source, status, watch)
        store.start_backfill(page["id"], total, os.getpid())
        if ingestor.last_revid is not None:  # an interrupted backfill goes on where it was
            top = store.latest_revision(page["id"])
            assert top is not None
            batches = source.fetch_revisions(status.pageid, since=top["timestamp"], site=site)
        elif whole:
            batches = source.fetch_revisions(status.pageid, site=site)
        else:
            batches = source.fetch_revisions(
                status.pageid, last=watch.backfill.count if watch.backfill.mode == "last" else 1
            )
        _ingest(cycle, ingestor, batches, page["title"], total)
        # The history is in: digests may now tell what comes after it (never an interrupted
        # backfill's older edits as new ones).
        store.mark_backfilled(page["id"], utcnow(), checked=whole)
    elif status.lastrevid is not None and status.lastrevid != page["last_revid"]:
        if store.has_revision(wiki_id, status.lastrevid):
            recheck = True  # the wiki's latest is one we have but not our latest: deletions
        else:
            # New edits: from the last stored revision's time on (history order). An edit
            # saved after the status query comes along; the wiki's latest must be there.
            top = store.latest_revision(page["id"])
            assert top is not None
            _ingest(
                cycle,
                ingestor,
                iter([fetched])
                if fetched is not None
                else source.fetch_revisions(status.pageid, since=top["timestamp"], site=site),
                page["title"],
            )
            recheck = recheck or not store.has_revision(wiki_id, status.lastrevid)
    if recheck and not backfill:
        reconcile(store, source, ingestor, status.pageid, whole_history=whole)
    ingestor.finish()
    if ingestor.added:
        store.update_watch(row["id"], last_change=utcnow())


def _history_size(source: Source, status: PageStatus, watch: Watch) -> int | None:
    """How many revisions the page has once its backfill is done (None: not known): what
    its progress and `tracker status` count against."""
    count, mode = status.revisions, watch.backfill.mode
    if mode != "all":
        wanted = watch.backfill.count if mode == "last" else 1
        return wanted if count is None else min(wanted, count)
    if count is None and status.pageid is not None:
        try:
            count = source.revision_count(status.pageid)
        except WikiError:
            count = None  # the fetch that follows tells what fails
    return count


def _ingest(
    cycle: Cycle,
    ingestor: PageIngestor,
    batches: Iterator[list[Revision]],
    title: str,
    total: int | None = None,
) -> None:
    bar = cycle.progress(title) if cycle.progress else None
    before = cycle.store.revision_count(ingestor.page_id) if bar else 0
    try:
        for batch in prefetch(batches):
            ingestor.add(batch)
            if bar and batch:
                bar.update(before + ingestor.added, total)
    finally:
        if bar:
            bar.close()


def prefetch(batches: Iterator[list[Revision]], depth: int = 1) -> Iterator[list[Revision]]:
    """Fetch the next batches in a thread while the current one is stored.

    Fetching waits on the network and storing works the CPU, so overlapping them brings a
    backfill close to the time of the fetch alone. Requests stay in series: one fetcher.
    One batch waits at most, so that memory holds about three replies (up to 8 MiB each).
    """
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            slots.put(exc)

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _redirect_target(source: Source, title: str) -> str:
    if isinstance(source, ApiSource):
        try:
            result = source.call("query", titles=title, redirects=1)
            for item in result.get("query", {}).get("redirects", []):
                return str(item["to"])
        except WikiError:
            pass
    elif isinstance(source, SnapshotSource):
        for page in source.pages():
            if page.title == title and page.redirect:
                return page.redirect
    return "another page"


def poll_all(
    store: Store,
    config: Config,
    *,
    progress: ProgressFactory | None = None,
    sources: dict[str, Source] | None = None,
    watches: Sequence[Watch] | None = None,
) -> list[PollResult]:
    """One poll cycle of every watch of every wiki, each wiki in turn; only ``watches``
    when given (`run --once --watch`: asked for by name, a paused one too)."""
    results = []
    for wiki in config.wikis:
        chosen = (
            config.watches_of(wiki.name)
            if watches is None
            else [w for w in watches if w.wiki == wiki.name]
        )
        if not chosen:
            continue
        source = (sources or {}).get(wiki.name)
        results.append(
            poll_wiki(store, config, wiki, source=source, watches=chosen, progress=progress)
        )
    return results
