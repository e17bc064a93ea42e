"""What the fetch stage asks of a wiki, whichever it is: the MediaWiki Action API
(tracker.fetch.api.ApiSource) or an XML export (tracker.fetch.snapshot.SnapshotSource)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from tracker.model import Revision
from tracker.text.siteinfo import SiteInfo


@dataclass(frozen=True)
class PageStatus:
    """What a cheap status query says about one page."""

    requested: str | int  # the title or page id asked for
    pageid: int | None
    title: str | None
    ns: int = 0
    lastrevid: int | None = None
    missing: bool = False
    invalid: bool = False
    redirect: bool = False
    content_model: str | None = None
    revisions: int | None = None  # how many revisions the page has, where a source knows


@dataclass(frozen=True)
class LogEvent:
    """A log entry that may change a page's stored history (import, undeletion, revision
    deletion, history merge): the page's revisions are then compared with the store."""

    type: str
    action: str
    title: str
    pageid: int | None
    timestamp: str
    titles: tuple[str, ...] = ()  # other pages it names (a merge's destination)


# Log types that change which revisions a page has, or what of them is visible.
HISTORY_LOGS = frozenset({"import", "delete", "merge", "suppress"})


class Source(Protocol):
    name: str
    requests: int  # requests (or file reads) so far, for the poll's log

    def check(self) -> None:
        """Raise WikiError, in one line, when the wiki cannot be read now."""

    def site_info(self) -> SiteInfo:
        """The wiki's namespaces, case rules, interwiki map and magic words."""

    def page_status(
        self, pageids: Iterable[int] = (), titles: Iterable[str] = ()
    ) -> list[PageStatus]:
        """Each page's latest revision id, without content."""

    def fetch_revisions(
        self,
        pageid: int,
        *,
        since: str | None = None,
        last: int | None = None,
        revids: Iterable[int] | None = None,
        site: SiteInfo | None = None,
    ) -> Iterator[list[Revision]]:
        """Revisions with their texts, in batches, in history order. ``site``: the rules a
        consumer that splits texts splits by; a source may send them split by these
        (tracker.fetch.snapshot), the others ignore it."""

    def revision_list(self, pageid: int) -> Iterator[Revision]:
        """Every revision of a page without its text, in history order."""

    def revision_count(self, pageid: int) -> int | None:
        """How many revisions the page has (None: the source cannot tell cheaply): what a
        backfill's progress measures."""

    def user_groups(self, names: Iterable[str]) -> dict[str, tuple[str, ...] | None]:
        """Each user's groups on the wiki (None: no such user); empty when the source has
        no users' groups (an export)."""

    def log_events(self, since: str) -> list[LogEvent]:
        """Log entries since a time that may change stored histories."""

    # --- topic watches (the records below) ---

    def set_members(
        self,
        kind: str,
        target: str,
        *,
        depth: int = 0,
        namespace: int | None = None,
        limit: int | None = None,
    ) -> list[Member]:
        """The pages of a watch set of ``kind`` (SET_KINDS), sorted by title, one per page
        id: a category's pages and files (its subcategories' down to ``depth`` levels; a
        subcategory is not a member), the pages whose titles start with a prefix (in
        ``namespace``, redirects left out), the existing pages a page links to (a redirect
        counted as its target), the pages that transclude a template, the pages a user
        edited. ``namespace`` keeps only that namespace's pages. WikiError, in one line,
        past ``limit`` pages, for an invalid title, and for the links of a page that does
        not exist; a missing category, template or user has no pages."""

    def recent_changes(self, cursor: RcCursor | None) -> ChangeFeed:
        """The changes recorded after ``cursor``'s (edits, creations, log entries,
        categorize), in time order, and the cursor to read on from: the one recorded last
        (the old one when none). Without a cursor: no changes, and the cursor at the newest
        change now (None on a wiki without any). ``complete`` False: the cursor's change is
        gone (past the wiki's retention, or deleted with its page), there were more changes
        than one query may read (max_continuations), or the wiki does not show its recent
        changes (then no changes and cursor None)."""

    def latest_revisions(self, pageids: Iterable[int]) -> dict[int, Revision]:
        """The latest revision of each page with its text, by page id (missing pages left
        out), many pages per request."""

    def revisions_by_id(self, revids: Iterable[int]) -> dict[int, list[Revision]]:
        """Revisions of any pages by id with their texts, by page id in history order;
        ids the wiki does not have (deleted, hidden) left out."""

    def templates_of(self, pageids: Iterable[int]) -> dict[int, list[Member]]:
        """The existing templates and modules each page transcludes, by page id (sorted by
        title; a page that uses none has an empty list; missing pages left out)."""


# --- watch sets and recent changes (topic watches) ----------------------------------------

# The kinds of watch set, as config.toml names them beside `title`.
SET_KINDS = ("category", "prefix", "linked_from", "transcluding", "user")


@dataclass(frozen=True)
class Member:
    """A page a watch set's list names (or a template a watched page uses)."""

    pageid: int
    title: str
    ns: int = 0


@dataclass(frozen=True)
class RcCursor:
    """Where a wiki's recent changes were read up to: the last change seen."""

    timestamp: str  # ISO 8601, UTC, "Z"
    rcid: int


@dataclass(frozen=True)
class RecentChange:
    """One entry of `list=recentchanges`."""

    rcid: int
    type: str  # "edit" | "new" | "log" | "categorize" | "external"
    title: str  # categorize: the category
    pageid: int | None  # categorize: the member page's id (rc_cur_id), not the category's
    ns: int
    timestamp: str
    revid: int | None = None  # the revision an edit made (edit, new; categorize: member's)
    old_revid: int | None = None
    user: str | None = None
    logtype: str | None = None  # log entries: "move", "delete", "import", ...
    logaction: str | None = None
    titles: tuple[str, ...] = ()  # other pages it names (a move's or merge's target)
    # categorize: the page added to (added=True) or removed from the category `title`
    member: str | None = None
    added: bool | None = None


@dataclass(frozen=True)
class ChangeFeed:
    """What a wiki's recent changes say since a cursor.

    ``complete`` is False when they cannot say it all: the cursor's change is no longer
    there (the wiki's retention, $wgRCMaxAge, was exceeded, or the page was deleted with
    its changes), there were more than one query may read (max_continuations), or the
    wiki does not show its recent changes. The poller then falls back to the batched
    status check of every watched page.
    """

    changes: list[RecentChange]
    complete: bool
    cursor: RcCursor | None  # the newest change seen (the one to read on from next time)
