"""Keeping a page's stored revisions equal to the wiki's.

New edits are found cheaply: the page's latest revision changed. What that does not show is
found by comparing the page's whole revision list (metadata only) with the store:

- revisions that arrive with old timestamps or ids (an import, an undeletion, a history
  merge) are fetched and put in their place in history order;
- revisions the wiki no longer has (deleted) are marked ``deleted_at``, kept;
- revisions whose text, user or summary the wiki hid later lose those parts here too, and
  regain them when the wiki shows them again.

The poller compares when the wiki's log names the page (import, delete, merge, suppress
entries), when the page's latest revision is one already stored but not the last stored
(the last ones were deleted), when an export's revision count differs from the store's,
and at least every ``recheck`` interval of the wiki.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from tracker.fetch.ingest import PageIngestor, position
from tracker.fetch.source import Source
from tracker.model import Revision
from tracker.store import Store, utcnow
from tracker.text.sections import split

log = logging.getLogger(__name__)


@dataclass
class Reconciled:
    """What a comparison changed in the store."""

    added: int = 0
    deleted: list[int] = field(default_factory=list)
    restored: list[int] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)
    unhidden: list[int] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.deleted or self.restored or self.hidden or self.unhidden)


def reconcile(
    store: Store, source: Source, ingestor: PageIngestor, pageid: int, *, whole_history: bool = True
) -> Reconciled:
    """Make the stored revisions of a page equal to the wiki's list of them.

    `whole_history` False (a watch that backfilled only recent revisions): nothing before
    the first stored revision is fetched or marked.
    """
    page_id = ingestor.page_id
    listed: dict[int, Revision] = {rev.revid: rev for rev in source.revision_list(pageid)}
    stored = {row["revid"]: row for row in store.revisions(page_id)}
    horizon = None
    if not whole_history and stored:
        horizon = min(position(row) for row in stored.values())
    done = Reconciled()
    missing = [
        revid
        for revid, rev in listed.items()
        if revid not in stored and (horizon is None or position(rev) >= horizon)
    ]
    if missing:
        for batch in source.fetch_revisions(pageid, revids=missing):
            done.added += ingestor.add(batch)
    refetch: list[int] = []
    now = utcnow()
    with store.atomic():
        for revid, row in stored.items():
            rev = listed.get(revid)
            if rev is None:
                if not row["deleted_at"] and (horizon is None or position(row) >= horizon):
                    store.set_revision_deleted(row["id"], now)
                    done.deleted.append(revid)
                continue
            if row["deleted_at"]:
                store.set_revision_deleted(row["id"], None)
                done.restored.append(revid)
            if _hide(store, row, rev):
                done.hidden.append(revid)
            if row["texthidden"] and not rev.texthidden:
                refetch.append(revid)
            elif _show(store, row, rev):
                done.unhidden.append(revid)
        store.mark_checked(page_id, now)
        store.refresh_last_revid(page_id)
    if refetch:
        for batch in source.fetch_revisions(pageid, revids=refetch):
            for rev in batch:
                if rev.text is not None:
                    _restore_text(store, ingestor, stored[rev.revid], rev)
                    done.unhidden.append(rev.revid)
    if done.changed:
        log.info(
            "page %s: reconciled with the wiki: %d added, %d deleted, %d restored, "
            "%d hidden, %d shown again",
            page_id,
            done.added,
            len(done.deleted),
            len(done.restored),
            len(done.hidden),
            len(done.unhidden),
        )
    return done


def _hide(store: Store, row: dict, rev: Revision) -> bool:
    """The wiki hid parts of a stored revision: hide them here too. Whether it did."""
    sets: dict[str, object] = {}
    if rev.userhidden and not row["userhidden"]:
        sets.update(userhidden=1, user=None, userid=None)
    if rev.commenthidden and not row["commenthidden"]:
        sets.update(commenthidden=1, comment=None)
    if rev.sha1hidden and not row["sha1hidden"]:
        sets.update(sha1hidden=1)  # kept for revert detection; never shown
    if rev.texthidden and not row["texthidden"]:
        sets.update(texthidden=1)
        if row["has_text"]:
            store.drop_text(row["id"])
            store.mark_rederive(row["page_id"], row["revid"])  # the diffs after it change
    return store.update_revision(row["id"], **sets)


def _show(store: Store, row: dict, rev: Revision) -> bool:
    """The wiki shows again a user or summary it had hidden."""
    sets: dict[str, object] = {}
    if row["userhidden"] and not rev.userhidden:
        sets.update(userhidden=0, user=rev.user, userid=rev.userid)
    if row["commenthidden"] and not rev.commenthidden:
        sets.update(commenthidden=0, comment=rev.comment)
    if row["sha1hidden"] and not rev.sha1hidden and rev.sha1:
        sets.update(sha1hidden=0, sha1=rev.sha1)
    return store.update_revision(row["id"], **sets)


def _restore_text(store: Store, ingestor: PageIngestor, row: dict, rev: Revision) -> None:
    """A text the wiki shows again: stored, and the history re-derived from it."""
    assert rev.text is not None
    site = store.site_info(row["wiki_id"])
    texts = (
        [s.text for s in split(rev.text, site=site)]
        if rev.content_model == "wikitext"
        else [rev.text]
    )
    with store.atomic():
        store.restore_text(
            row["id"],
            [(f"{rev.revid}.{i}", store.put_blob(text)) for i, text in enumerate(texts)],
            rev.sha1,
        )
        store.mark_rederive(row["page_id"], row["revid"])


def log_names(events: Iterable[object]) -> tuple[set[str], set[int]]:
    """The titles and page ids a list of log events names."""
    titles: set[str] = set()
    pageids: set[int] = set()
    for event in events:
        titles.add(event.title)  # type: ignore[attr-defined]
        titles.update(event.titles)  # type: ignore[attr-defined]
        if event.pageid:  # type: ignore[attr-defined]
            pageids.add(event.pageid)  # type: ignore[attr-defined]
    return titles, pageids
