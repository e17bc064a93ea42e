"""Watch sets in a poll cycle: which pages they hold now, the first revision of many new
pages fetched together, and the templates watched pages use (cascade).

A set's list (a category, a prefix, the links of a list page, a template's users, a user's
contributions) is read whole every `refresh`; between readings, what the wiki's recent
changes tell keeps it current (a page put in or taken out of the category, a new page with
the prefix, a user's new edit, an edit of the list page). Each page in a set is polled as a
watched page is, through its own row of the store's watches.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tracker.config import Backfill, Watch
from tracker.errors import TrackerError, WikiError
from tracker.fetch.ingest import PageIngestor
from tracker.fetch.source import ChangeFeed, Member, RecentChange, Source
from tracker.model import parse_stamp, utc_stamp
from tracker.store import Store, utcnow
from tracker.text.siteinfo import SiteInfo

log = logging.getLogger(__name__)

CASCADE = "cascade"
NS_CATEGORY = 14


@dataclass
class SetCycle:
    """What a poll cycle tells the sets (tracker.fetch.poll makes it)."""

    store: Store
    source: Source
    wiki_id: int
    clock: Callable[[], float]
    errors: list[str]


def cascade_key(watch: Watch) -> str:
    return f"{CASCADE}:{watch.key}"


def member_watch(watch: Watch, title: str) -> Watch:
    """How a page of a set is polled: at the set's interval, with its backfill."""
    return Watch(wiki=watch.wiki, title=title, interval=watch.interval, backfill=watch.backfill)


def set_pages(
    cycle: SetCycle, watches: Iterable[Watch], feed: ChangeFeed | None
) -> list[tuple[dict, Watch]]:
    """The watch rows of the pages of these watches' sets (and cascades), each set read
    again when due and kept current by ``feed`` between readings."""
    store, out = cycle.store, []
    for watch in watches:
        groups: list[tuple[dict, Watch]] = []
        if watch.is_set:
            row = store.watch_set(cycle.wiki_id, watch.key, watch.kind, watch.target)
            try:
                _keep_current(cycle, watch, row, feed)
            except WikiError as exc:
                message = f"{watch.key}: {exc}"
                store.mark_set_refreshed(row["id"], None, message)
                cycle.errors.append(message)
                log.warning("%s", message)
            groups.append((row, watch))
        if watch.cascade:
            key = cascade_key(watch)
            found = store.watch_set(cycle.wiki_id, key, CASCADE, watch.key)
            groups.append((found, Watch(wiki=watch.wiki, title=key, backfill=Backfill("none"))))
        for row, owner in groups:
            for found_row in store.set_watches(cycle.wiki_id, row["id"]):
                out.append((found_row, member_watch(owner, found_row["title"])))
    return out


def _keep_current(cycle: SetCycle, watch: Watch, row: dict, feed: ChangeFeed | None) -> None:
    now = cycle.clock()
    refreshed = row["refreshed_at"]
    due = refreshed is None or now - parse_stamp(refreshed).timestamp() >= watch.refresh
    changes = feed.changes if feed is not None and feed.complete else []
    if not due and watch.kind == "linked_from":
        # The links of the list page change when it is edited (or a template it uses is).
        target = title_key(watch.target)
        due = any(title_key(c.title) == target and c.type in ("edit", "new") for c in changes)
    if due:
        _read_whole(cycle, watch, row, now)
    elif changes:
        _apply_changes(cycle, watch, row, changes)


def _read_whole(cycle: SetCycle, watch: Watch, row: dict, now: float) -> None:
    store, source = cycle.store, cycle.source
    members = source.set_members(
        watch.kind,
        watch.target,
        depth=watch.depth,
        namespace=watch.namespace,
        limit=watch.max_pages,
    )
    stamp = utc_stamp(now)
    via = "first" if row["refreshed_at"] is None else "list"
    joined, left = store.replace_members(
        row["id"], [(m.pageid, m.title, m.ns) for m in members], via=via
    )
    tree = getattr(source, "last_tree", None)
    if watch.kind == "category" and isinstance(tree, list):
        store.set_tree(row["id"], tree)
    store.mark_set_refreshed(row["id"], stamp, None)
    if via == "list" and (joined or left):
        log.info("%s: %d pages joined, %d left", watch.key, len(joined), len(left))


def title_key(title: str) -> str:
    """A title as recent changes and watch sets are compared by: spaces for underscores,
    first letter upper case."""
    title = title.replace("_", " ").strip()
    return title[:1].upper() + title[1:]


def _namespace_of(site: SiteInfo, title: str) -> int:
    """The namespace a title names by its prefix (0: none of the wiki's)."""
    if ":" not in title:
        return 0
    found = site.namespace(title.split(":", 1)[0])
    return found if found is not None else 0


def _without_namespace(title: str) -> str:
    return title.split(":", 1)[1] if ":" in title else title


def _apply_changes(cycle: SetCycle, watch: Watch, row: dict, changes: list[RecentChange]) -> None:
    """What the recent changes tell of the set since the last cycle."""
    store = cycle.store
    joins: dict[str, tuple[int | None, int]] = {}  # title -> (pageid if known, ns)
    leaves: set[str] = set()
    if watch.kind == "category":
        categories = {title_key(_without_namespace(watch.target))}
        if watch.depth and row.get("tree"):
            categories.update(title_key(_without_namespace(t)) for t in json.loads(row["tree"]))
        site, regrow = cycle.store.site_info(cycle.wiki_id), False
        for change in changes:
            if change.type != "categorize" or change.member is None:
                continue
            if title_key(_without_namespace(change.title)) not in categories:
                continue
            title = title_key(change.member)
            if _namespace_of(site, title) == NS_CATEGORY:
                # A subcategory put in or taken out: the categories below change; the set
                # is read whole again when it reaches that deep.
                regrow = regrow or watch.depth > 0
                continue
            if change.added:
                joins[title] = (None, 0)
                leaves.discard(title)
            else:
                leaves.add(title)
                joins.pop(title, None)
        if regrow:
            _read_whole(cycle, watch, row, cycle.clock())
            return
    elif watch.kind == "prefix":
        namespace = watch.namespace or 0
        prefix = watch.target

        def fits(title: str, ns: int) -> bool:
            text = _without_namespace(title) if ns else title
            return ns == namespace and text.startswith(prefix)

        for change in changes:
            if change.type == "new" and change.pageid and fits(change.title, change.ns):
                joins[title_key(change.title)] = (change.pageid, change.ns)
            elif change.type == "log" and change.logtype == "move" and change.titles:
                source_fits = fits(change.title, change.ns)
                target = change.titles[0]
                # (the target's namespace: the same unless its title names another)
                target_fits = (
                    target.startswith(prefix) if namespace == 0 else fits(target, namespace)
                )
                if source_fits and not target_fits:
                    leaves.add(title_key(change.title))
                elif target_fits and not source_fits:
                    joins[title_key(target)] = (change.pageid, namespace)
    elif watch.kind == "user":
        user = title_key(watch.target)
        for change in changes:
            if change.type not in ("edit", "new") or not change.pageid or not change.user:
                continue
            if title_key(change.user) != user:
                continue
            if watch.namespace is not None and change.ns != watch.namespace:
                continue
            joins[title_key(change.title)] = (change.pageid, change.ns)
    if not joins and not leaves:
        return
    members = {m["title"]: m for m in store.set_members(row["id"])}
    unknown = [title for title, (pageid, _) in joins.items() if pageid is None]
    resolved: dict[str, tuple[int, str, int]] = {}
    if unknown:
        for status in cycle.source.page_status(titles=unknown):
            if status.pageid is not None and status.title is not None:
                resolved[str(status.requested)] = (status.pageid, status.title, status.ns)
    with store.atomic():
        for title, (pageid, ns) in joins.items():
            member = resolved.get(title) or ((pageid, title, ns) if pageid else None)
            if member is not None and len(members) < watch.max_pages:
                store.join_set(row["id"], member, via="recentchanges")
        for title in leaves:
            if title in members:
                store.leave_set(row["id"], members[title]["pageid"])


@dataclass
class FirstFetch:
    """What a first fetch did: watch id -> the page stored, or the error of one that failed."""

    stored: dict[int, int]
    errors: dict[int, str]


def first_fetch(cycle: SetCycle, entries: list[tuple[dict, Watch]]) -> FirstFetch:
    """The current revision of each new page of a set, 50 pages a request (instead of a
    status and a fetch for each)."""
    store = cycle.store
    new_pages = store.pages_never_fetched(cycle.wiki_id)  # (one query, not one a member)
    wanted: dict[int, tuple[dict, Watch, dict]] = {}
    for row, watch in entries:
        page = new_pages.get(row["page_id"]) if row["page_id"] else None
        if page is None or watch.backfill.mode == "last":
            continue  # (the last N revisions: the page's own backfill fetches them)
        wanted[page["pageid"]] = (row, watch, page)
    done = FirstFetch({}, {})
    if not wanted:
        return done
    latest = cycle.source.latest_revisions(list(wanted))
    for pageid, revision in latest.items():
        if pageid not in wanted:
            continue
        row, watch, page = wanted[pageid]
        whole = watch.backfill.mode == "all"
        if whole and revision.parentid:
            continue  # more history than this revision: the page's own backfill fetches it
        try:
            ingestor = PageIngestor(store, cycle.wiki_id, page["id"])
            ingestor.add([revision])
            ingestor.finish()
            now = utcnow()
            with store.atomic():
                # (Nothing before this revision is kept: its list is the wiki's as of now.)
                store.mark_backfilled(page["id"], now, checked=True)
                store.update_watch(
                    row["id"],
                    last_poll=now,
                    status="ok",
                    last_error=None,
                    error_count=0,
                    failing_since=None,
                )
            done.stored[row["id"]] = page["id"]
        except TrackerError as exc:
            done.errors[row["id"]] = str(exc)
    return done


def update_cascade(
    cycle: SetCycle,
    watches: Iterable[Watch],
    pages_of: Callable[[Watch], list[int]],
    changed: set[int],
) -> None:
    """The templates and modules the pages of each cascading watch use: all of them when
    its cascade is due to be read again, else those of the pages that changed."""
    store, source = cycle.store, cycle.source
    for watch in watches:
        if not watch.cascade:
            continue
        row = store.watch_set(cycle.wiki_id, cascade_key(watch), CASCADE, watch.key)
        pageids = pages_of(watch)
        now = cycle.clock()
        refreshed = row["refreshed_at"]
        due = refreshed is None or now - parse_stamp(refreshed).timestamp() >= watch.refresh
        ask = pageids if due else [p for p in pageids if p in changed]
        if not ask:
            continue
        try:
            uses = source.templates_of(ask)
        except WikiError as exc:
            message = f"{cascade_key(watch)}: {exc}"
            store.mark_set_refreshed(row["id"], None, message)
            cycle.errors.append(message)
            continue
        store.set_template_uses(
            cycle.wiki_id, {p: [t.pageid for t in uses.get(p, [])] for p in ask}
        )
        titles: dict[int, Member] = {
            m["pageid"]: Member(m["pageid"], m["title"], m["ns"])
            for m in store.set_members(row["id"])
        }
        for found in uses.values():
            for template in found:
                titles[template.pageid] = template
        used = store.templates_used(cycle.wiki_id, pageids)
        stamp = utc_stamp(now)
        store.replace_members(
            row["id"],
            [(t.pageid, t.title, t.ns) for pid, t in titles.items() if pid in used],
            via="first" if refreshed is None else "list",
        )
        if due:
            store.mark_set_refreshed(row["id"], stamp, None)
