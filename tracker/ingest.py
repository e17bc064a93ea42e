"""Writing revisions into the store: sections once each, the diff to the previous revision,
revert marks. One call of ``PageIngestor.add`` is one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from .diff import diff_texts
from .model import Revision, sha1_hex
from .sections import split
from .store import Store

log = logging.getLogger(__name__)


class PageIngestor:
    """Appends revisions of one page, keeping the last text and section ids in memory."""

    def __init__(self, store: Store, wiki_id: int, page_id: int):
        self.store = store
        self.wiki_id = wiki_id
        self.page_id = page_id
        last = store.latest_revision(page_id, with_text=True)
        self.prev_rev_id: int | None = last["id"] if last else None
        self.prev_text: str | None = store.revision_text(last["id"]) if last else None
        self.prev_ids: list[str] | None = store.section_ids(last["id"]) if last else None
        self.prev_model = last["content_model"] if last else None
        # Section text -> blob id of the previous revision: most sections of the next one
        # are the same texts, found here without hashing or a query. Replaced, never
        # mutated, so that a rolled-back batch can restore it.
        self.prev_blobs: dict[str, int] = {}
        if last and self.prev_text is not None and self.prev_model == "wikitext":
            texts = [section.text for section in split(self.prev_text)]
            blob_ids = [blob_id for _, blob_id in store.revision_layout(last["id"])]
            if len(texts) == len(blob_ids):
                self.prev_blobs = dict(zip(texts, blob_ids, strict=True))
        top = store.latest_revision(page_id)
        self.last_revid: int | None = top["revid"] if top else None
        self.last_sha1: str | None = top["sha1"] if top else None

    def add(self, revisions: Iterable[Revision]) -> int:
        """Store the revisions not yet stored, in revid order, atomically; return how many."""
        added = 0
        state = (self.prev_rev_id, self.prev_text, self.prev_ids, self.prev_model,
                 self.last_revid, self.last_sha1, self.prev_blobs)
        try:
            with self.store.atomic():
                for rev in sorted(revisions, key=lambda r: r.revid):
                    if self.last_revid is not None and rev.revid <= self.last_revid:
                        continue  # already stored: ingest is idempotent
                    if self.store.has_revision(self.wiki_id, rev.revid):
                        continue
                    self._add_one(rev)
                    added += 1
                if added:
                    self.store.db.execute(
                        "UPDATE pages SET last_revid = ? WHERE id = ?",
                        [self.last_revid, self.page_id])
        except BaseException:
            # The transaction rolled back: forget what this batch taught us in memory.
            (self.prev_rev_id, self.prev_text, self.prev_ids, self.prev_model,
             self.last_revid, self.last_sha1, self.prev_blobs) = state
            raise
        return added

    def _add_one(self, rev: Revision) -> None:
        store = self.store
        layout = None
        diff = None
        if rev.text is not None:
            if rev.sha1 is None or rev.sha1hidden:
                rev = _with_sha1(rev)
            if rev.content_model == "wikitext":
                result = diff_texts(
                    self.prev_text if self.prev_model == "wikitext" else None,
                    rev.text, self.prev_ids if self.prev_model == "wikitext" else None,
                    id_prefix=f"{rev.revid}.")
                sections = [s.text for s in split(rev.text)]
                known = self.prev_blobs
                blob_ids = [known.get(text) or store.put_blob(text) for text in sections]
                layout = list(zip(result.new_ids, blob_ids, strict=True))
                self.prev_blobs = dict(zip(sections, blob_ids, strict=True))
                diff = {"sections": result.sections}
            else:
                # Not wikitext (CSS, JSON, Lua...): kept whole, flagged by its content model.
                layout = [(f"{rev.revid}.0", store.put_blob(rev.text))]
        rev_id = store.insert_revision(self.wiki_id, self.page_id, rev, layout)
        revert_of = self._mark_revert(rev, rev_id)
        if diff is not None:
            diff["revert_of"] = revert_of
            store.put_diff(rev_id, self.prev_rev_id, diff)
        if rev.text is not None:
            self.prev_rev_id, self.prev_text = rev_id, rev.text
            self.prev_ids = [sid for sid, _ in layout or []]
            self.prev_model = rev.content_model
        self.last_revid, self.last_sha1 = rev.revid, rev.sha1

    def _mark_revert(self, rev: Revision, rev_id: int) -> int | None:
        """A revision restoring an earlier text reverts the ones in between.

        The same text as the revision right before is a null revision (a move, a protection),
        not a revert.
        """
        if not rev.sha1 or rev.sha1 == self.last_sha1:
            return None
        earlier = self.store.db.execute(
            "SELECT revid FROM revisions WHERE page_id = ? AND sha1 = ? AND revid < ? "
            "ORDER BY revid DESC LIMIT 1", [self.page_id, rev.sha1, rev.revid]).fetchone()
        if earlier is None:
            return None
        self.store.db.execute("UPDATE revisions SET revert_of = ? WHERE id = ?",
                              [earlier[0], rev_id])
        self.store.db.execute(
            "UPDATE revisions SET reverted_by = ? WHERE page_id = ? AND revid > ? AND revid < ? "
            "AND reverted_by IS NULL", [rev.revid, self.page_id, earlier[0], rev.revid])
        return int(earlier[0])


def _with_sha1(rev: Revision) -> Revision:
    from dataclasses import replace

    assert rev.text is not None
    return replace(rev, sha1=sha1_hex(rev.text))
