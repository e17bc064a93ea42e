"""Watch sets and recent changes through the Action API: the pages a category (and its
subcategories), a title prefix, a list page's links, a template's transclusions or a
user's contributions name; the templates pages use; what the wiki's recent changes say
since a cursor. ApiSource (api.py) offers these as its methods, through one `WatchLists`;
their replies are read by tracker.fetch.replies.

Recent changes are read from a cursor (the change seen last) in one request when nothing
changed. A change is new when its id is higher than the cursor's: the wiki numbers changes
as it records them, and it may record one after newer ones (a categorize change comes from
the job queue with the time of the edit that made it), so each read starts ``LATE``
seconds before the cursor's time.

Category membership changes: with ``$wgRCWatchCategoryMembership`` (off by default in
MediaWiki 1.39) the job queue records a ``categorize`` change whose ``title`` is the
category, ``pageid`` the member page's id and ``revid``/``old_revid`` the member's
revisions (rc_cur_id, rc_this_oldid, rc_last_oldid). The API does not give whether the page
was added or removed (``rc_params``, where "added" is kept, is shown for log entries
only): the comment says it, in the wiki's content language, worded by the messages
``recentchanges-page-added-to-category`` / ``-removed-from-category`` (and their
``-bundled`` forms) with the member's title as $1. It is read by the English messages, and
by the wiki's own (``meta=allmessages``, one request, once) when none of those words it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING

from tracker.errors import WikiError
from tracker.fetch.replies import (
    CATEGORIZE_MESSAGES,
    ENGLISH_CATEGORIZE,
    CategorizeComments,
    categorized,
    existing_pages,
    exists,
    list_entries,
    list_members,
    malformed,
    member_from,
    recent_change_from,
)
from tracker.fetch.source import SET_KINDS, ChangeFeed, Member, RcCursor, RecentChange
from tracker.model import parse_stamp, utc_stamp
from tracker.text.siteinfo import SiteInfo

if TYPE_CHECKING:
    from tracker.fetch.api import ApiSource

log = logging.getLogger(__name__)

BATCH = 50  # titles per request (as apirevisions.BATCH)
NS_TEMPLATE = 10
NS_CATEGORY = 14
RC_TYPES = "edit|new|log|categorize"
RC_PROPS = "title|ids|timestamp|user|loginfo|comment"
# Seconds a recent change may be recorded after its own timestamp and still be read: the
# job queue records categorize changes late, with the timestamp of the edit that made them.
LATE = 600

# How to narrow a set that is over its limit, by kind.
NARROWER = {
    "category": "a smaller depth",
    "prefix": "a longer prefix",
    "linked_from": "a namespace",
    "transcluding": "a namespace",
    "user": "a namespace",
}


def too_many(wiki: str, kind: str, target: str, limit: int) -> WikiError:
    """The error of a watch set larger than its ``max_pages``."""
    return WikiError(
        f"{wiki}: the {kind} set {target!r} has more than {limit} pages (max_pages): "
        f"raise max_pages or narrow the set ({NARROWER.get(kind, 'a namespace')})"
    )


def _cursor(changes: list[RecentChange]) -> RcCursor | None:
    """The cursor at the last of these changes (None for none)."""
    return RcCursor(changes[-1].timestamp, changes[-1].rcid) if changes else None


# --- asking the wiki ----------------------------------------------------------------------


class _Found:
    """Members as they are read: one per page id, and the limit watched."""

    def __init__(self, source: ApiSource, kind: str, target: str, limit: int | None):
        self.source, self.kind, self.target, self.limit = source, kind, target, limit
        self.members: dict[int, Member] = {}

    def add(self, member: Member) -> None:
        self.members.setdefault(member.pageid, member)
        if self.limit is not None and len(self.members) > self.limit:
            raise too_many(self.source.name, self.kind, self.target, self.limit)

    def sorted(self) -> list[Member]:
        return sorted(self.members.values(), key=lambda m: (m.title, m.pageid))


class WatchLists:
    """What an ApiSource asks of a wiki's lists, and what it remembers between questions:
    the wiki's namespace names and the wording of its categorize comments."""

    def __init__(self, source: ApiSource):
        self.source = source
        self._site: SiteInfo | None = None
        self._comments = CategorizeComments.of(ENGLISH_CATEGORIZE)
        self._asked_messages = False
        self._warned_hidden = False
        # The categories the last category set was read from (its own and subcategories).
        self.last_tree: list[str] | None = None

    # --- watch sets -----------------------------------------------------------------------

    def set_members(
        self,
        kind: str,
        target: str,
        *,
        depth: int = 0,
        namespace: int | None = None,
        limit: int | None = None,
    ) -> list[Member]:
        """The pages of a watch set, sorted by title, one per page id (see
        `tracker.fetch.source.Source.set_members`)."""
        if kind not in SET_KINDS:
            raise WikiError(f"unknown kind of watch set {kind!r}: one of {', '.join(SET_KINDS)}")
        self.source.check()
        self.last_tree = None
        found = _Found(self.source, kind, target, limit)
        if kind == "category":
            self._category(target, depth, namespace, found)
        elif kind == "prefix":
            self._prefix(target, namespace, found)
        elif kind == "linked_from":
            self._linked_from(target, namespace, found)
        elif kind == "transcluding":
            title = self._in_namespace(target, NS_TEMPLATE, "Template")
            self._listed(found, "embeddedin", eititle=title, eilimit="max", einamespace=namespace)
        else:
            self._listed(
                found,
                "usercontribs",
                ucuser=target,
                ucprop="ids|title",
                uclimit="max",
                ucnamespace=namespace,
            )
        return found.sorted()

    def _listed(self, found: _Found, key: str, **params: object) -> None:
        """Every entry of ``list=<key>`` through its continuations, added to ``found``."""
        given = {name: value for name, value in params.items() if value is not None}
        for result in self.source.query(list=key, **given):
            for member in list_members(result, key):
                found.add(member)

    def _category(self, target: str, depth: int, namespace: int | None, found: _Found) -> None:
        """A category's pages and files, and those of its subcategories down to ``depth``
        levels (each category read once: a cycle of categories ends)."""
        level = [self._in_namespace(target, NS_CATEGORY, "Category")]
        seen = set(level)
        for down in range(max(depth, 0) + 1):
            below: list[str] = []
            for category in level:
                for result in self.source.query(
                    list="categorymembers", cmtitle=category, cmtype="page|subcat|file",
                    cmprop="ids|title", cmlimit="max",
                ):  # fmt: skip
                    for member in list_members(result, "categorymembers"):
                        if member.ns == NS_CATEGORY:
                            if down < depth and member.title not in seen:
                                seen.add(member.title)
                                below.append(member.title)
                        elif namespace is None or member.ns == namespace:
                            found.add(member)
            level = below
        self.last_tree = sorted(seen)

    def _prefix(self, target: str, namespace: int | None, found: _Found) -> None:
        prefix = target
        if namespace is None:
            namespace, prefix = self._split_namespace(target)
        self._listed(
            found,
            "allpages",
            apprefix=prefix,
            apnamespace=namespace,
            apfilterredir="nonredirects",
            aplimit="max",
        )

    def _linked_from(self, target: str, namespace: int | None, found: _Found) -> None:
        """The existing pages ``target`` links to (a redirect counted as its target)."""
        params: dict[str, object] = {"generator": "links", "titles": target}
        params.update(gpllimit="max", redirects=1)
        if namespace is not None:
            params["gplnamespace"] = namespace
        anything = False
        for result in self.source.query(**params):
            members, others = existing_pages(result)
            anything = anything or bool(members or others)
            for member in members:
                found.add(member)
        if anything:
            return
        # No links at all: a page without links, or none of that title.
        result = self.source.call("query", prop="info", titles=target)
        members, others = existing_pages(result)
        if not members:
            invalid = any(page.get("invalid") for page in others)
            raise WikiError(
                f"{self.source.name}: {target!r} is not a valid title; check the watch"
                if invalid
                else f"{target!r} does not exist on {self.source.name}; check the watch"
            )

    def _site_info(self) -> SiteInfo:
        if self._site is None:
            self._site = self.source.site_info()
        return self._site

    def _split_namespace(self, target: str) -> tuple[int, str]:
        """(namespace, the rest) of a title that may start with a namespace's name."""
        head, colon, rest = target.partition(":")
        if colon and head.strip():
            number = self._site_info().namespace(head)
            if number is not None:
                return number, rest.lstrip()
        return 0, target

    def _in_namespace(self, target: str, number: int, canonical: str) -> str:
        """The title of a category or template as MediaWiki takes it: "Foo" is in
        namespace ``number``, as is a title that names it; a template may be in another
        namespace (a module, ":Main page")."""
        target = target.strip()
        if number == NS_TEMPLATE and target.startswith(":"):
            return target[1:].lstrip()
        target = target.lstrip(":")
        if target.lower().startswith(canonical.lower() + ":"):
            return target
        if ":" in target:
            found, _rest = self._split_namespace(target)
            if found == number or (number == NS_TEMPLATE and found != 0):
                return target
        return f"{canonical}:{target}"

    # --- templates ------------------------------------------------------------------------

    def templates_of(self, pageids: Iterable[int]) -> dict[int, list[Member]]:
        """The templates and modules each page transcludes (those that exist), 50 pages per
        request, then the ids of the templates 50 titles per request; a page the wiki does
        not have is left out, one that uses none has an empty list."""
        self.source.check()
        wanted = sorted(set(pageids))
        used: dict[int, set[str]] = {}
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start : start + BATCH]
            for result in self.source.query(
                prop="templates", pageids="|".join(map(str, chunk)), tllimit="max"
            ):
                for page in list_entries(result, "pages"):
                    if not exists(page):
                        continue
                    member = member_from(page, "pages")
                    titles = used.setdefault(member.pageid, set())
                    raw = page.get("templates", [])
                    if not isinstance(raw, list):
                        raise malformed("templates", type(raw).__name__)
                    for template in raw:
                        title = template.get("title") if isinstance(template, dict) else None
                        if not isinstance(title, str):
                            raise malformed("template", template)
                        titles.add(title)
        known = self._pages_named(sorted({title for titles in used.values() for title in titles}))
        return {
            pageid: sorted((known[t] for t in titles if t in known), key=lambda m: m.title)
            for pageid, titles in used.items()
        }

    def _pages_named(self, titles: list[str]) -> dict[str, Member]:
        """The pages of these titles that exist (prop=info, 50 a request), by title."""
        out: dict[str, Member] = {}
        for start in range(0, len(titles), BATCH):
            result = self.source.call(
                "query", prop="info", titles="|".join(titles[start : start + BATCH])
            )
            for member in existing_pages(result)[0]:
                out[member.title] = member
        return out

    # --- recent changes -------------------------------------------------------------------

    def recent_changes(self, cursor: RcCursor | None) -> ChangeFeed:
        """What the recent changes say since ``cursor`` (see
        `tracker.fetch.source.Source.recent_changes`)."""
        self.source.check()
        base = {"list": "recentchanges", "rcprop": RC_PROPS, "rctype": RC_TYPES}
        if cursor is None:
            read = self._read_recent({**base, "rcdir": "older", "rclimit": 1})
            if read is None:
                return ChangeFeed([], False, None)
            return ChangeFeed([], False, _cursor(read[0][:1]))
        # Read from LATE seconds before the cursor: a change may be recorded after newer
        # ones (categorize changes come from the job queue with their edit's timestamp).
        # Changes are told new by their ids, which the wiki hands out as it records them.
        start = utc_stamp(parse_stamp(cursor.timestamp) - timedelta(seconds=LATE))
        params: dict[str, object] = {**base, "rcdir": "newer", "rcstart": start}
        params["rclimit"] = "max"
        changes: list[RecentChange] = []
        seen_cursor = whole = False
        rounds, seen = 0, set()
        while True:
            read = self._read_recent(params)
            if read is None:
                return ChangeFeed([], False, None)
            batch, cont = read
            for change in batch:
                if change.rcid == cursor.rcid:
                    seen_cursor = True
                elif change.rcid > cursor.rcid:
                    changes.append(change)
            if cont is None:
                whole = True
                break
            key = repr(sorted(cont.items()))
            rounds += 1
            if key in seen or rounds > self.source.wiki.max_continuations:
                # Not all read: incomplete, so the poll checks every page's status now,
                # and the next one reads on from the newest change taken.
                log.warning(
                    "%s: recent changes went on past max_continuations (%s requests) or "
                    "repeated a continuation; the rest is left to the status check",
                    self.source.name,
                    self.source.wiki.max_continuations,
                )
                break
            seen.add(key)
            params.update(cont)
        newest = max(changes, key=lambda change: change.rcid, default=None)
        return ChangeFeed(
            changes,
            seen_cursor and whole,
            RcCursor(newest.timestamp, newest.rcid) if newest else cursor,
        )

    def _read_recent(self, params: dict) -> tuple[list[RecentChange], dict | None] | None:
        """One recentchanges request: its changes and continuation; None when the wiki does
        not show them (it refused: an API error; or answered without them: a module
        switched off). A network failure raises WikiError as every request does."""
        try:
            result = self.source.call("query", **params)
        except WikiError:
            if self.source.refusal is None:
                raise
            self._hidden(": ".join(self.source.refusal))
            return None
        query = result.get("query")
        if not isinstance(query, dict) or "recentchanges" not in query:
            self._hidden("its replies have no recent changes")
            return None
        changes = []
        for raw in list_entries(result, "recentchanges"):
            change = recent_change_from(raw)
            if change.type == "categorize":
                change = self._categorized(change, raw.get("comment"))
            changes.append(change)
        cont = result.get("continue")
        if cont is not None and (
            not isinstance(cont, dict) or not all(isinstance(v, str | int) for v in cont.values())
        ):
            raise malformed("continuation", cont)
        return changes, cont

    def _hidden(self, why: str) -> None:
        if not self._warned_hidden:
            self._warned_hidden = True
            log.warning(
                "%s: the wiki does not show its recent changes (%s); every watched page's "
                "status is checked instead",
                self.source.name,
                why,
            )

    def _categorized(self, change: RecentChange, comment: object) -> RecentChange:
        """A categorize change with its member and whether it was added, read from its
        comment: by the English messages, else by the wiki's own (asked once)."""
        read = categorized(change, comment, self._comments)
        if read.member is None and isinstance(comment, str) and not self._asked_messages:
            self._asked_messages = True
            self._comments = CategorizeComments.of({**ENGLISH_CATEGORIZE, **self._messages()})
            read = categorized(change, comment, self._comments)
        return read

    def _messages(self) -> dict[str, str]:
        """The wiki's own wording of categorize comments, in its content language."""
        result = self.source.call(
            "query", meta="allmessages", ammessages="|".join(CATEGORIZE_MESSAGES),
            uselang="content",
        )  # fmt: skip
        out = {}
        for message in list_entries(result, "allmessages"):
            name, text = message.get("name"), message.get("content")
            if name in CATEGORIZE_MESSAGES and isinstance(text, str) and not message.get("missing"):
                out[str(name)] = text
        return out
