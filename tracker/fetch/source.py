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
