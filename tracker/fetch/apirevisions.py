"""The revisions of a live MediaWiki through its Action API: a page's history in batches with
content (whole, since a time, the last N, given ids), the latest revision of many pages and
revisions of any pages by id (50 a request), revision lists and counts without content.

A reply that does not fit (over the wiki's ``max_reply_size``, or MediaWiki's own
``$wgAPIMaxResultSize``) is asked again with fewer revisions, and in the end the revision
that does not fit comes with its metadata and without its text (``Revision.toolarge``).
ApiSource (api.py) has these as its methods; they ask through its ``call`` and ``query``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import replace

from tracker.config import Wiki, format_size
from tracker.errors import TooLarge, WikiError
from tracker.fetch.replies import revision_from_api
from tracker.model import Revision
from tracker.text.siteinfo import SiteInfo

log = logging.getLogger(__name__)

BATCH = 50  # page ids or revision ids per request: the API's limit for anonymous clients
REVPROPS = "ids|timestamp|flags|comment|user|userid|size|sha1|tags|contentmodel"


class Continuation:
    """How far one query has continued: a cap on the rounds, and no continuation twice."""

    def __init__(self, source: RevisionQueries):
        self.source = source
        self.rounds = 0
        self.seen: set[str] = set()

    def next(self, result: dict) -> dict | None:
        """The parameters that continue after ``result``, or None when it is the last."""
        cont = result.get("continue")
        if cont is None:
            return None
        name, url = self.source.name, self.source.wiki.api_url
        if not isinstance(cont, dict) or not all(isinstance(v, str | int) for v in cont.values()):
            raise WikiError(
                f"{name}: {url} answered a malformed continuation; the wiki may be "
                "misbehaving, the rest of this query was not fetched"
            )
        key = json.dumps(cont, sort_keys=True)
        if key in self.seen:
            raise WikiError(
                f"{name}: {url} sent the same continuation twice ({key[:120]}): "
                "following it would never end; stopped, what came before is "
                "kept; report it to the wiki's administrators"
            )
        self.seen.add(key)
        self.rounds += 1
        limit = self.source.wiki.max_continuations
        if self.rounds > limit:
            raise WikiError(
                f"{name}: a query of {url} went on past max_continuations "
                f"({limit} continuation requests); stopped: what came before is "
                "kept and the next poll goes on from there"
            )
        return dict(cont)


class RevisionQueries:
    """The revision queries of ApiSource (its base class)."""

    name: str
    wiki: Wiki

    def call(self, action: str = "query", **params: object) -> dict:
        raise NotImplementedError  # ApiSource.call

    def query(self, **params: object) -> Iterator[dict]:
        raise NotImplementedError  # ApiSource.query

    def check(self) -> None:
        raise NotImplementedError  # ApiSource.check

    def fetch_revisions(
        self,
        pageid: int,
        *,
        since: str | None = None,
        last: int | None = None,
        revids: Iterable[int] | None = None,
        site: SiteInfo | None = None,
    ) -> Iterator[list[Revision]]:
        """Revisions of a page with content, in batches, in history order.

        ``since``: from that timestamp on (included); ``last``: only the N most recent;
        ``revids``: only these revisions (50 per request); nothing: the whole history.
        A revision over ``max_revision_size``, or that no reply can carry, comes without
        its text, marked ``toolarge``. (``site``: texts come whole from the API.)
        """
        self.check()
        params: dict = {"prop": "revisions", "rvslots": "main", "rvprop": REVPROPS + "|content"}
        if revids is not None:
            yield from self._by_revids(pageid, params, revids)
            return
        params.update(pageids=pageid, rvlimit="max")
        if last is not None:
            # The newest N, fetched newest first and handed over oldest first.
            params.update(rvdir="older", rvlimit=min(last, 50))
            collected: list[Revision] = []
            for batch in self._with_content(pageid, params):
                collected.extend(batch)
                if len(collected) >= last:
                    break
            collected = sorted(collected[:last], key=Revision.position)
            if collected:
                yield collected
            return
        params["rvdir"] = "newer"  # by timestamp, then id: MediaWiki's history order
        if since is not None:
            params["rvstart"] = since
        for batch in self._with_content(pageid, params):
            yield sorted(batch, key=Revision.position)

    # Fewer revisions per request after a reply over max_reply_size; after the last step,
    # the next revision alone without its text.
    SHRINK = (10, 1)

    def _with_content(self, pageid: int, params: dict) -> Iterator[list[Revision]]:
        """The replies of one page's revisions with content, through their continuations.

        A reply that does not fit is asked again with fewer revisions, and in the end the
        revision that does not fit comes without its text. Two kinds: over our
        ``max_reply_size``; or over the wiki's own ``$wgAPIMaxResultSize``, which MediaWiki
        tells by a reply without revisions that continues at the same one.
        """
        rounds = Continuation(self)
        cont: dict | None = {}
        step = 0  # 0: the query's own rvlimit; then SHRINK[step - 1]
        window = 0  # revisions to fetch with fewer per request before trying the full number
        while cont is not None:
            ask = {**params, **cont}
            if step:
                ask["rvlimit"] = self.SHRINK[step - 1]
            try:
                result = self.call("query", **ask)
                batch = self._revisions(result, pageid)
                room = bool(batch) or "continue" not in result
            except TooLarge:
                if step < len(self.SHRINK):
                    limit = ask.get("rvlimit")
                    window = limit if isinstance(limit, int) else BATCH
                    step += 1
                    continue
                room = False
            if not room:
                result, batch = self._without_text(pageid, {**ask, "rvlimit": 1})
                step = 0  # past the revision that did not fit
            elif step:
                window -= len(batch)
                if window <= 0:
                    step = 0
            if batch:
                yield batch
            cont = rounds.next(result)

    def _by_revids(
        self, pageid: int, params: dict, revids: Iterable[int]
    ) -> Iterator[list[Revision]]:
        """Given revisions of one page with content, 50 per request (`_batched`)."""
        for pages in self._batched(params, "revids", revids):
            batch = pages.get(pageid)
            if batch:
                yield sorted(batch, key=Revision.position)

    def _batched(
        self, params: dict, key: str, ids: Iterable[int]
    ) -> Iterator[dict[int, list[Revision]]]:
        """Revisions with content by ``key`` ("revids": these revisions; "pageids": the
        latest of these pages), 50 ids per request, grouped by page id. A reply the wiki
        cut at its result size (a continuation) counts the ids it answered, and the rest go
        into the next request; one that does not fit is split until the revision that does
        not fit comes alone, without its text."""
        pending = sorted(set(ids))
        size = BATCH
        window = 0  # ids to fetch in smaller requests before trying full ones again
        while pending:
            chunk = pending[:size]
            asked = set(chunk)
            ask = {**params, key: "|".join(map(str, chunk))}
            try:
                result = self.call("query", **ask)
                pages = self._page_revisions(result, asked if key == "revids" else None)
                answered = (
                    {rev.revid for batch in pages.values() for rev in batch}
                    if key == "revids"
                    else set(pages)
                )
                # A continuation: the rest of the chunk did not fit in this reply.
                done = asked if "continue" not in result else answered & asked
                room = bool(done)
            except TooLarge:
                room = False
            if not room and len(chunk) > 1:
                window, size = len(chunk), max(1, len(chunk) // 5)
                continue
            if not room:
                _, pages = self._without_text_pages(ask)
                done = asked
                size = BATCH  # past the revision that did not fit
            elif size < BATCH:
                window -= len(done)
                if window <= 0:
                    size = BATCH
            pending = [value for value in pending if value not in done]
            if pages:
                yield pages

    def _without_text(self, pageid: int, ask: dict) -> tuple[dict, list[Revision]]:
        """The same request without content: revisions that did not fit, marked too large."""
        result, pages = self._without_text_pages(ask)
        return result, pages.get(pageid, [])

    def _without_text_pages(self, ask: dict) -> tuple[dict, dict[int, list[Revision]]]:
        """`_without_text` for every page of the reply, by page id."""
        ask = {key: value for key, value in ask.items() if key != "rvslots"}
        ask["rvprop"] = REVPROPS
        result = self.call("query", **ask)
        pages = {
            pageid: [
                rev if rev.texthidden or rev.sha1hidden else replace(rev, toolarge=True)
                for rev in batch
            ]
            for pageid, batch in self._page_revisions(result).items()
        }
        for batch in pages.values():
            for rev in batch:
                if rev.toolarge:
                    log.warning(
                        "%s: revision %s (%s bytes) is too large for a reply of at most "
                        "%s; stored without its text",
                        self.name,
                        rev.revid,
                        rev.size if rev.size is not None else "?",
                        format_size(self.wiki.max_reply_size),
                    )
        return result, pages

    # --- watch sets and recent changes (tracker.fetch.lists) -------------------------------

    def latest_revisions(self, pageids: Iterable[int]) -> dict[int, Revision]:
        """The latest revision of each page with its text, 50 pages per request (the API's
        multi-page mode answers each page's latest only); a page the wiki does not have is
        left out. A text over ``max_revision_size``, or that no reply can carry, is left
        out too, the revision marked ``toolarge``."""
        self.check()
        params = {"prop": "revisions", "rvslots": "main", "rvprop": REVPROPS + "|content"}
        out: dict[int, Revision] = {}
        for pages in self._batched(params, "pageids", pageids):
            for pageid, batch in pages.items():
                out[pageid] = max(batch, key=Revision.position)
        return out

    def revisions_by_id(self, revids: Iterable[int]) -> dict[int, list[Revision]]:
        """Revisions of any pages by id, with their texts, 50 per request: by page id, each
        page's in history order. A revision the wiki reports bad (deleted, or no such id)
        is left out."""
        self.check()
        params = {"prop": "revisions", "rvslots": "main", "rvprop": REVPROPS + "|content"}
        out: dict[int, list[Revision]] = {}
        for pages in self._batched(params, "revids", revids):
            for pageid, batch in pages.items():
                out.setdefault(pageid, []).extend(batch)
        return {pageid: sorted(batch, key=Revision.position) for pageid, batch in out.items()}

    def revision_list(self, pageid: int) -> Iterator[Revision]:
        """Every revision of a page without content (``text`` None), in history order."""
        self.check()
        for result in self.query(
            prop="revisions", pageids=pageid, rvprop=REVPROPS, rvlimit="max", rvdir="newer"
        ):
            for rev in self._revisions(result, pageid):
                # Without content the API tells a hidden text by its hidden sha1 only.
                yield replace(rev, texthidden=rev.texthidden or rev.sha1hidden)

    def revision_count(self, pageid: int) -> int:
        """How many revisions the page has: their ids only, 500 a request (5,000 for a bot),
        so that a backfill's progress counts revisions."""
        self.check()
        count = 0
        for result in self.query(
            prop="revisions", pageids=pageid, rvprop="ids", rvlimit="max", rvdir="newer"
        ):
            for page in result.get("query", {}).get("pages", []):
                if page.get("pageid") == pageid:
                    count += len(page.get("revisions", []))
        return count

    def _revisions(self, result: dict, pageid: int) -> list[Revision]:
        return self._page_revisions(result).get(pageid, [])

    def _page_revisions(
        self, result: dict, revids: set[int] | None = None
    ) -> dict[int, list[Revision]]:
        """The revisions of a prop=revisions reply by page id (only ``revids`` if given);
        a page without revisions in the reply is left out."""
        query = result.get("query", {})
        pages = query.get("pages", []) if isinstance(query, dict) else []
        if not isinstance(pages, list):
            raise WikiError(
                f"{self.name}: {self.wiki.api_url} answered pages that are not a list; "
                "the wiki may be misbehaving, nothing was stored from this reply"
            )
        out: dict[int, list[Revision]] = {}
        for page in pages:
            if not isinstance(page, dict) or not page.get("revisions"):
                continue
            pageid = page.get("pageid")
            if not isinstance(pageid, int) or not isinstance(page["revisions"], list):
                raise WikiError(
                    f"{self.name}: {self.wiki.api_url} answered revisions of a page "
                    "without its id; the wiki may be misbehaving, nothing was stored "
                    "from this reply"
                )
            for raw in page["revisions"]:
                if not isinstance(raw, dict):
                    raise WikiError(
                        f"{self.name}: malformed revision in the API reply; the wiki may "
                        "be misbehaving, nothing was stored from this reply"
                    )
                rev = revision_from_api(raw, self.wiki.max_revision_size)
                if revids is not None and rev.revid not in revids:
                    continue
                if rev.toolarge:
                    log.warning(
                        "%s: revision %s is %s bytes, more than max_revision_size "
                        "(%s); stored without its text",
                        self.name,
                        rev.revid,
                        rev.size,
                        format_size(self.wiki.max_revision_size),
                    )
                out.setdefault(pageid, []).append(rev)
        return out
