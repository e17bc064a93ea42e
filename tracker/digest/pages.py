"""Which pages a subscription's digest covers, and what it tells of its watch sets.

A subscription's pages are the pages of its title watches; the pages of its watch sets
(their members now, and the pages that left a set inside the digest's window, so that
their last changes still show); and, for a watch with ``cascade``, the templates and
modules its pages use. Each page once, in however many sets it is.

``pages = [...]`` in a subscription selects by a watch's key: a page's title, or a set's
key ("category:Physics": all of its pages, and its templates if it cascades); or by the
title of one member of a set.

Membership events: a page that joined or left a selected set inside the window ("Quantum
foam joined category:Physics"). A set's first reading is no event (its pages did not join:
the set began), nor is a template starting or ceasing to be used (the page's own diff says
that the template was added, and the template's first digest entry that it is tracked).

"Now tracking" at scale: a digest that would list more than MAX_TRACKING pages as newly
tracked (a category's 2,000 pages in a first digest, or joining later) tells the pages that
came with a watch set in one entry per set ("category:Physics: now tracking 2,000 pages
(4,113 revisions stored)", the first titles, "and 1,990 more"); pages named by title are
listed one by one as always. Likewise more than MAX_TRACKING membership events are told
in one entry per set and event ("category:Physics: 2,000 pages joined: Aardvark, … and
1,990 more").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tracker.config import Config, Subscription, Watch, Wiki
from tracker.model import web_title
from tracker.store import Store

CASCADE = "cascade"  # the kind of the stored set of a watch's templates ("cascade:<key>")
USED_BY_TITLES = 3  # titles of the watched pages using a template named before "and N more"
MAX_TRACKING = 20  # "now tracking" pages a digest lists one by one; more: told per watch set
TRACKING_TITLES = 10  # titles of a set's newly tracked pages named before "and N more"


@dataclass
class PageRef:
    """A page of a subscription: its store row (None until first polled) and its wiki."""

    wiki: Wiki
    title: str  # the watch's title, or the set member's
    page: dict | None
    error: str | None
    # In the digest only because it left its set inside the window: its last changes are
    # told, a first "now tracking" entry is not.
    left: bool = False
    # A template of a cascading watch: {"count", "titles", "more"} of the watched pages
    # that use it.
    used_by: dict[str, Any] | None = None
    # The keys of the subscription's watch sets that hold it ("category:Physics",
    # "cascade:category:Physics"), in the config's order.
    sets: tuple[str, ...] = ()
    # Named one by one: a title watch, or a set's page that ``pages`` names by its title.
    # Such a page is always listed on its own, never folded into its set's "now tracking".
    titled: bool = False


def cascade_key(watch: Watch) -> str:
    """The stored key of the set of templates a cascading watch's pages use."""
    return f"{CASCADE}:{watch.key}"


def subscription_pages(
    store: Store, config: Config, sub: Subscription, since: str | None = None
) -> list[PageRef]:
    """The pages of a subscription, each once: title watches, set members now, members
    that left a set after ``since`` (None: none of them) and cascade templates."""
    wanted = set(sub.pages)
    refs: dict[object, PageRef] = {}
    states: dict[str, _WikiState] = {}
    for watch in config.watches:
        if sub.wiki and watch.wiki != sub.wiki:
            continue
        wiki = config.wiki(watch.wiki)
        whole = not wanted or watch.key in wanted
        if not watch.is_set:
            if whole:
                row = store.watch_state(watch.wiki, watch.title)
                page = store.page(row["page_id"]) if row and row["page_id"] else None
                ref = PageRef(wiki, watch.title, page, _error(watch.wiki, row), titled=True)
                _add(refs, ref)
        else:
            stored = store.find_watch_set(watch.wiki, watch.key)
            if stored is not None:
                state = states.setdefault(watch.wiki, _WikiState(store, watch.wiki))
                for member in _members(store, stored["id"], since):
                    if whole or member["title"] in wanted:
                        ref = state.ref(wiki, member)
                        ref.sets, ref.titled = (stored["key"],), not whole
                        _add(refs, ref)
        if watch.cascade:
            stored = store.find_watch_set(watch.wiki, cascade_key(watch))
            if stored is not None:
                chosen = whole or stored["key"] in wanted
                state = states.setdefault(watch.wiki, _WikiState(store, watch.wiki))
                for member in _members(store, stored["id"], since):
                    if chosen or member["title"] in wanted:
                        ref = state.ref(wiki, member)
                        ref.used_by = state.used_by(member["pageid"])
                        ref.sets, ref.titled = (stored["key"],), not chosen
                        _add(refs, ref)
    return list(refs.values())


def _add(refs: dict[object, PageRef], ref: PageRef) -> None:
    """A page once: a member now outweighs one that left; a template keeps its label."""
    key = ref.page["id"] if ref.page else (ref.wiki.name, ref.title)
    known = refs.get(key)
    if known is None:
        refs[key] = ref
        return
    known.left = known.left and ref.left
    known.used_by = known.used_by or ref.used_by
    known.sets += tuple(key for key in ref.sets if key not in known.sets)
    known.titled = known.titled or ref.titled


def _members(store: Store, set_id: int, since: str | None) -> list[dict]:
    """The members of a set now, then those that left it after ``since``."""
    if since is None:
        return store.set_members(set_id)
    rows = store.set_members(set_id, current=False)
    now = [row for row in rows if row["left_at"] is None]
    current = {row["pageid"] for row in now}
    gone = [
        row | {"left": True}
        for row in rows
        if row["left_at"] is not None and row["left_at"] > since and row["pageid"] not in current
    ]
    return now + gone


def _error(wiki: str, row: dict | None) -> str | None:
    if not row:
        return None
    if row["unreachable_since"]:
        return f"{wiki} not reachable since {row['unreachable_since']}: {row['last_error']}"
    return row["last_error"]


class _WikiState:
    """What the members of a wiki's sets need, read once per wiki: its watches (the poller
    keeps one per member, by its page) and whether the wiki is reachable."""

    def __init__(self, store: Store, name: str):
        self.store, self.name = store, name
        self.wiki_id = store.find_wiki_id(name)
        wiki = store.wiki(self.wiki_id) if self.wiki_id is not None else None
        self.unreachable = wiki["unreachable_since"] if wiki else None
        rows = store.wiki_watches(self.wiki_id) if self.wiki_id is not None else []
        self.by_title = {row["title"]: row for row in rows}
        self.by_page = {row["page_id"]: row for row in rows if row["page_id"] is not None}

    def ref(self, wiki: Wiki, member: dict) -> PageRef:
        # A page watched before it joined keeps its one watch, under the title it had then.
        row = self.by_page.get(member["page_id"]) or self.by_title.get(member["title"])
        state = row | {"unreachable_since": self.unreachable} if row else None
        page = self.store.page(member["page_id"]) if member["page_id"] else None
        return PageRef(
            wiki, member["title"], page, _error(self.name, state), bool(member.get("left"))
        )

    def used_by(self, template_pageid: int) -> dict[str, Any]:
        """The watched pages that use a template: how many, the first few titles."""
        assert self.wiki_id is not None
        users = self.store.template_users(self.wiki_id, template_pageid)
        titles = []
        for pageid in users[:USED_BY_TITLES]:
            page = self.store.page_by_pageid(self.wiki_id, pageid)
            if page is not None:
                titles.append(page["title"])
        return {"count": len(users), "titles": titles, "more": len(users) - len(titles)}


# --- joined and left ---------------------------------------------------------------------------


def membership_events(
    store: Store, config: Config, sub: Subscription, since: str, until: str
) -> list[dict[str, Any]]:
    """The pages that joined or left a selected set of the subscription in (since,
    until], in time order: ``event`` ("joined" | "left"), ``at``, ``title``, ``wiki``,
    ``set`` (its key), ``kind``, ``target``, ``text`` ("Quantum foam joined
    category:Physics") and ``links.wiki_page``."""
    wanted = set(sub.pages)
    sets: dict[str, dict[str, bool]] = {}  # wiki -> set key -> all of its pages wanted
    for watch in config.watches:
        if watch.is_set and not (sub.wiki and watch.wiki != sub.wiki):
            sets.setdefault(watch.wiki, {})[watch.key] = not wanted or watch.key in wanted
    events = []
    for name, keys in sets.items():
        wiki_id = store.find_wiki_id(name)
        if wiki_id is None:
            continue
        wiki = config.wiki(name)
        for row in store.membership_changes(wiki_id, since, until):
            if row["key"] not in keys or not (keys[row["key"]] or row["title"] in wanted):
                continue
            events.append(
                {
                    "event": row["event"],
                    "at": row["at"],
                    "title": row["title"],
                    "wiki": name,
                    "set": row["key"],
                    "kind": row["kind"],
                    "target": row["target"],
                    "text": f"{row['title']} {row['event']} {row['key']}",
                    "links": {"wiki_page": page_url(wiki, row["title"])},
                }
            )
    events.sort(key=lambda e: (e["at"], e["wiki"], e["set"], e["title"]))
    return events


def page_url(wiki: Wiki, title: str) -> str | None:
    """Any page of a wiki by its title (index.php?title=...), None without its URL."""
    script = wiki.script_url
    return f"{script}?title={quote(title.replace(' ', '_'))}" if script else None


def membership_summary(events: list[dict[str, Any]]) -> str:
    """The one line of a digest's membership events: "Quantum foam joined
    category:Physics", "category:Physics: 2 pages joined, 1 left", "2 watch sets: 3 pages
    joined", "category:Physics: 2,000 pages joined, 1 left"."""
    if len(events) == 1:
        return str(events[0]["text"])
    joined = sum(e["event"] == "joined" for e in events)
    left = len(events) - joined
    parts = []
    if joined:
        parts.append(f"{joined:,} page{'s' * (joined != 1)} joined")
    if left:
        parts.append(f"{left:,} left" if joined else f"{left:,} page{'s' * (left != 1)} left")
    keys = sorted({(e["wiki"], e["set"]) for e in events})
    where = keys[0][1] if len(keys) == 1 else f"{len(keys)} watch sets"
    return f"{where}: {', '.join(parts)}"


def membership_groups(events: list[dict[str, Any]], web: str | None = None) -> list[dict[str, Any]]:
    """Fold a digest's membership events into one entry per set and event when there are
    more than MAX_TRACKING of them (a bot adding 2,000 pages to a maintenance category);
    none when they are few enough to list. ``events`` are membership_events' (time order),
    ``web`` the history browser's URL.

    A group: ``set``, ``wiki``, ``label`` (the key, with the wiki when the events come from
    several), ``event`` ("joined" | "left"), ``count``, ``titles`` (the first
    TRACKING_TITLES, alphabetically), ``more``, ``first`` and ``last`` (the stamps of its
    first and last event) and ``links.web_set``; in the order each set first appears, its
    joins before its leaves."""
    if len(events) <= MAX_TRACKING:
        return []
    grouped: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for event in events:
        by_event = grouped.setdefault((event["wiki"], event["set"]), {"joined": [], "left": []})
        by_event[event["event"]].append(event)
    several = len({wiki for wiki, _key in grouped}) > 1
    groups = []
    for (wiki, key), by_event in grouped.items():
        for kind, members in by_event.items():
            if not members:
                continue
            shown, more = _first_titles(e["title"] for e in members)
            groups.append(
                {
                    "set": key,
                    "wiki": wiki,
                    "label": f"{key} ({wiki})" if several else key,
                    "event": kind,
                    "count": len(members),
                    "titles": shown,
                    "more": more,
                    "first": members[0]["at"],
                    "last": members[-1]["at"],
                    "links": {"web_set": set_url(web, wiki, key)},
                }
            )
    return groups


def _first_titles(titles: Iterable[str]) -> tuple[list[str], int]:
    """The first TRACKING_TITLES titles alphabetically, and how many more there are."""
    ordered = sorted(titles, key=lambda t: (t.casefold(), t))
    return ordered[:TRACKING_TITLES], max(0, len(ordered) - TRACKING_TITLES)


def set_url(web: str | None, wiki: str, key: str) -> str | None:
    """A watch set's page in the history browser, None without its URL."""
    return f"{web.rstrip('/')}/sets/{quote(wiki, safe='')}/{web_title(key)}" if web else None


# --- "now tracking" per watch set --------------------------------------------------------------


@dataclass
class Tracking:
    """A digest's pages as it lists them: one by one, and newly tracked per watch set."""

    pages: list[dict[str, Any]]  # the page models listed one by one, in their order
    groups: list[dict[str, Any]]  # one "now tracking" entry per watch set
    errors: list[str]  # the last poll failures of the pages told in groups


def tracking_groups(
    entries: list[tuple[PageRef, dict[str, Any]]], web: str | None = None
) -> Tracking:
    """Fold a digest's "now tracking" pages into one entry per watch set when there are more
    than MAX_TRACKING of them; ``entries`` are its pages with their models, ``web`` the
    history browser's URL.

    A page that came with a set is told in the first of its sets (config order), so that
    none is counted twice; a page named by title, and every page with changes, stays
    listed. A group: ``set`` (its key), ``watch`` (the watch's key: a cascade's templates
    belong to their watch), ``wiki``, ``label`` (the key, with the wiki when the groups
    come from several), ``count``, ``revisions`` (stored), ``titles`` (the first
    TRACKING_TITLES, alphabetically), ``more`` and ``links.web_set``."""
    if sum(bool(page["started"]) for _ref, page in entries) <= MAX_TRACKING:
        return Tracking([page for _ref, page in entries], [], [])
    listed: list[dict[str, Any]] = []
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    errors = []
    for ref, page in entries:
        if not (page["started"] and ref.sets and not ref.titled):
            listed.append(page)
            continue
        grouped.setdefault((ref.wiki.name, ref.sets[0]), []).append(page)
        if ref.error:
            errors.append(f"{ref.wiki.name}: {ref.title}: {ref.error}")
    several = len({wiki for wiki, _key in grouped}) > 1
    groups = []
    for (wiki, key), pages in grouped.items():
        watch = key.removeprefix(f"{CASCADE}:")
        label = f"templates used by {watch}" if watch != key else key
        shown, more = _first_titles(page["title"] for page in pages)
        groups.append(
            {
                "set": key,
                "watch": watch,
                "wiki": wiki,
                "label": f"{label} ({wiki})" if several else label,
                "count": len(pages),
                "revisions": sum(page["revision_count"] or 0 for page in pages),
                "titles": shown,
                "more": more,
                "links": {"web_set": set_url(web, wiki, key)},
            }
        )
    return Tracking(listed, groups, errors)


def tracking_summary(groups: list[dict[str, Any]], listed: int, total: int) -> str:
    """What a digest with "now tracking" groups is about, for its subject: "2,000 pages of
    category:Physics" (one watch's pages, with its templates), "2,040 pages of 2 watch
    sets", or "2,003 pages" when pages are listed beside the groups."""
    watches = list(dict.fromkeys((group["wiki"], group["watch"]) for group in groups))
    if listed:
        return f"{total:,} pages"
    if len(watches) == 1:
        return f"{total:,} pages of {watches[0][1]}"
    return f"{total:,} pages of {len(watches)} watch sets"
