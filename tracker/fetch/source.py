"""What the fetch stage asks of a wiki, whichever it is: the MediaWiki Action API
(tracker.fetch.api.ApiSource) or an XML export (tracker.fetch.snapshot.SnapshotSource)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from tracker.fetch.api import LogEvent, PageStatus
from tracker.model import Revision
from tracker.text.siteinfo import SiteInfo


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
    ) -> Iterator[list[Revision]]:
        """Revisions with their texts, in batches, in history order."""

    def revision_list(self, pageid: int) -> Iterator[Revision]:
        """Every revision of a page without its text, in history order."""

    def log_events(self, since: str) -> list[LogEvent]:
        """Log entries since a time that may change stored histories."""
