"""Writing revisions into the store: sections once each, the sections the diff to the
previous revision changed, revert marks. One call of ``PageIngestor.add`` is one transaction.

Revisions are kept in MediaWiki's history order: by timestamp, then revision id. Revision
ids are not in time order on real wikis (an import or an undeletion brings old edits with
new or old ids), so a revision is never skipped for its id: one that belongs after the
last stored revision is appended (diffed and checked for a revert at once); one that
belongs earlier is inserted in its place, and what depended on the order after it
(section ids, section changes, reverts) is worked out again by `rederive`, once per page
after the whole batch of a poll or import. The page row records where that must start, so
a killed process finishes it on its next run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace

from tracker.fetch.snapshot import whole_text
from tracker.model import Revision, sha1_hex
from tracker.store import Store
from tracker.store.encoding import decode_tags
from tracker.text import reverts
from tracker.text.diff import TextDiff, diff_texts
from tracker.text.sections import Adopted, split
from tracker.text.siteinfo import SiteInfo

log = logging.getLogger(__name__)

REDERIVE_CHUNK = 200  # revisions per transaction when re-deriving


def position(rev: Revision | dict) -> tuple[str, int]:
    """A revision's place in MediaWiki's history order."""
    if isinstance(rev, dict):
        return rev["timestamp"], rev["revid"]
    return rev.timestamp, rev.revid


class PageIngestor:
    """Adds revisions of one page, keeping the last text and section ids in memory."""

    def __init__(self, store: Store, wiki_id: int, page_id: int):
        self.store = store
        self.wiki_id = wiki_id
        self.page_id = page_id
        self.site = store.site_info(wiki_id)
        self.added = 0
        self._tagged_reverted = False  # a revision came with MediaWiki's mw-reverted tag
        self._earlier: Adopted | None = None  # what split sections follow on from (snapshot)
        self._load()

    def _load(self) -> None:
        store = self.store
        last = store.latest_revision(self.page_id, with_text=True)
        self.prev_rev_id: int | None = last["id"] if last else None
        self.prev_text: str | None = store.revision_text(last["id"]) if last else None
        self.prev_ids: list[str] | None = store.section_ids(last["id"]) if last else None
        self.prev_model = last["content_model"] if last else None
        # Section text -> blob id of the previous revision: most sections of the next one
        # are the same texts, found here without hashing or a query. Replaced, never
        # mutated, so that a rolled-back batch can restore it.
        self.prev_blobs: dict[str, int] = {}
        # Section id -> blob id of the previous revision: the version a changed section's
        # new text is stored as a delta against.
        layout = store.revision_layout(last["id"]) if last else []
        self.prev_versions: dict[str, int] = dict(layout)
        if last and self.prev_text is not None and self.prev_model == "wikitext":
            texts = [section.text for section in split(self.prev_text, site=self.site)]
            blob_ids = [blob_id for _, blob_id in layout]
            if len(texts) == len(blob_ids):
                self.prev_blobs = dict(zip(texts, blob_ids, strict=True))
        recent = store.recent_revisions(self.page_id, reverts.RADIUS + 1)
        self.top: tuple[str, int] | None = position(recent[-1]) if recent else None
        self.detector = reverts.Detector(
            [reverts.Rev(r["revid"], r["sha1"], _tags(r)) for r in recent],
            lookup=lambda sha1: self.store.latest_with_sha1(self.page_id, sha1),
        )

    @property
    def last_revid(self) -> int | None:
        """The last stored revision in history order."""
        return self.top[1] if self.top else None

    def add(self, revisions: Iterable[Revision]) -> int:
        """Store the revisions not yet stored, in history order, atomically; return how many."""
        added = 0
        state = (
            self.prev_rev_id,
            self.prev_text,
            self.prev_ids,
            self.prev_model,
            self.top,
            self.prev_blobs,
            self.prev_versions,
            list(self.detector.window),
        )
        try:
            with self.store.atomic():
                latest = self.store.latest_revision(self.page_id)
                if (position(latest) if latest else None) != self.top:
                    self._load()  # another process stored revisions of this page meanwhile
                for rev in sorted(revisions, key=position):
                    # Split in the process reading the export: the text again, its split
                    # at hand (every revision of the stream, stored or not, in its order).
                    rev, self._earlier = whole_text(rev, self._earlier, self.site)
                    if self.store.has_revision(self.wiki_id, rev.revid):
                        continue  # already stored: ingest is idempotent
                    if self.top is None or position(rev) > self.top:
                        self._append(rev)
                    else:
                        self._insert_past(rev)
                    added += 1
                if added:
                    self.store.refresh_last_revid(self.page_id)
        except BaseException:
            # The transaction rolled back: forget what this batch taught us in memory.
            (
                self.prev_rev_id,
                self.prev_text,
                self.prev_ids,
                self.prev_model,
                self.top,
                self.prev_blobs,
                self.prev_versions,
                window,
            ) = state
            self.detector.window.clear()
            self.detector.window.extend(window)
            raise
        self.added += added
        return added

    def finish(self) -> None:
        """After the last batch: work out again what revisions inserted in the past changed."""
        if self._tagged_reverted:
            with self.store.atomic():
                self.store.store_reverts(self.page_id)
        if rederive(self.store, self.page_id):
            self._load()

    def _layout(self, rev: Revision, result_ids: list[str] | None) -> list[tuple[str, int]]:
        """The stored sections of a revision's text: (section id, blob id) in order."""
        assert rev.text is not None
        store = self.store
        if rev.content_model != "wikitext":
            # Not wikitext (CSS, JSON, Lua...): kept whole, flagged by its content model.
            previous = list(self.prev_versions.values())
            blob_id = store.put_blob(rev.text, previous[0] if len(previous) == 1 else None)
            self.prev_versions = {f"{rev.revid}.0": blob_id}
            return [(f"{rev.revid}.0", blob_id)]
        try:
            sections = [s.text for s in split(rev.text, site=self.site)]
        except Exception:  # as in _append: the text is kept, as one piece
            log.exception(
                "page %s: revision %s could not be split into sections", self.page_id, rev.revid
            )
            sections = [rev.text]
        ids = result_ids or [f"{rev.revid}.{j}" for j in range(len(sections))]
        known, versions = self.prev_blobs, self.prev_versions
        blob_ids = [
            known.get(text) or store.put_blob(text, versions.get(sid))
            for text, sid in zip(sections, ids, strict=True)
        ]
        self.prev_blobs = dict(zip(sections, blob_ids, strict=True))
        self.prev_versions = dict(zip(ids, blob_ids, strict=True))
        return list(zip(ids, blob_ids, strict=True))

    def _append(self, rev: Revision) -> None:
        store = self.store
        layout = None
        changed: list[dict] | None = None
        text = rev.text
        if text is not None:
            if rev.sha1 is None or rev.sha1hidden:
                rev = replace(rev, sha1=sha1_hex(text))
            if rev.content_model == "wikitext":
                wikitext_before = self.prev_model == "wikitext"
                try:
                    result: TextDiff | None = diff_texts(
                        self.prev_text if wikitext_before else None,
                        text,
                        self.prev_ids if wikitext_before else None,
                        f"{rev.revid}.",
                        self.site,
                        detail=False,  # what the store keeps of it
                    )
                except Exception:  # a bug must not cost the history: kept without its diff
                    log.exception(
                        "page %s: revision %s could not be diffed; stored without its diff",
                        self.page_id,
                        rev.revid,
                    )
                    result = None
                layout = self._layout(rev, result.new_ids if result else None)
                changed = result.sections if result else None
            else:
                layout = self._layout(rev, None)
        rev_id = store.insert_revision(self.wiki_id, self.page_id, rev, layout)
        self._mark_revert(rev, rev_id)
        if changed is not None:
            store.put_section_changes(rev_id, changed)
        if rev.text is not None:
            self.prev_rev_id, self.prev_text = rev_id, rev.text
            self.prev_ids = [sid for sid, _ in layout or []]
            self.prev_model = rev.content_model
        self.top = position(rev)

    def _insert_past(self, rev: Revision) -> None:
        """A revision older than the last stored one: stored in its place; its diff, the
        diff of the revision after it, section ids and reverts are re-derived later."""
        if rev.text is not None and (rev.sha1 is None or rev.sha1hidden):
            rev = replace(rev, sha1=sha1_hex(rev.text))
        blobs, versions = self.prev_blobs, self.prev_versions
        layout = self._layout(rev, None) if rev.text is not None else None
        # The last revision's sections are still the ones at hand.
        self.prev_blobs, self.prev_versions = blobs, versions
        self.store.insert_revision(self.wiki_id, self.page_id, rev, layout)
        self.store.mark_rederive(self.page_id, rev.revid)
        log.info(
            "page %s: revision %s (%s) belongs before the last stored one; the history "
            "after it is re-derived",
            self.page_id,
            rev.revid,
            rev.timestamp,
        )

    def _mark_revert(self, rev: Revision, rev_id: int) -> None:
        if reverts.REVERTED_TAG in rev.tags:
            self._tagged_reverted = True
        found = self.detector.process(reverts.Rev(rev.revid, rev.sha1, rev.tags))
        if found is None:
            return
        self.store.mark_revert(self.page_id, rev, rev_id, found.restored, found.reverted)


def _tags(row: dict) -> tuple[str, ...]:
    return decode_tags(row["tags"])


def rederive(store: Store, page_id: int) -> int:
    """Work out again, in history order, the section ids, section changes and reverts of a page
    from where its row says (``pages.rederive_from``); return how many revisions it went
    through. Resumable: the mark moves on with each committed chunk."""
    page = store.page(page_id)
    if page is None or page["rederive_from"] is None:
        return 0
    site = store.site_info(page["wiki_id"])
    start = store.page_revision(page_id, page["rederive_from"])
    done = 0
    if start is not None:
        after = store.revision_before(start)
        prev = store.revision_before(start, with_text=True)
        prev_text = store.revision_text(prev["id"]) if prev else None
        prev_ids = store.section_ids(prev["id"]) if prev else None
        prev_model = prev["content_model"] if prev else None
        while True:
            rows = store.revisions_between(page_id, after, limit=REDERIVE_CHUNK)
            if not rows:
                break
            with store.atomic():
                for row in rows:
                    if not row["has_text"]:
                        store.delete_section_changes(row["id"])
                        continue
                    text = store.revision_text(row["id"]) or ""
                    if row["content_model"] == "wikitext":
                        wikitext_before = prev_model == "wikitext"
                        result = diff_texts(
                            prev_text if wikitext_before else None,
                            text,
                            prev_ids if wikitext_before else None,
                            f"{row['revid']}.",
                            site,
                            detail=False,
                        )
                        _relabel(store, row["id"], text, result.new_ids, site)
                        store.put_section_changes(row["id"], result.sections, replace=True)
                        prev_ids = result.new_ids
                    else:
                        store.delete_section_changes(row["id"])
                        prev_ids = store.section_ids(row["id"])
                    prev_text, prev_model = text, row["content_model"]
                after = rows[-1]
                following = store.revision_after(after)
                store.set_rederive_from(page_id, following["revid"] if following else None)
            done += len(rows)
    with store.atomic():
        store.store_reverts(page_id)
        store.refresh_last_revid(page_id)
        store.prune_section_versions(page_id)  # the ids relabelled away
        store.set_rederive_from(page_id, None)
    if done:
        log.info("page %s: re-derived %d revisions in history order", page_id, done)
    return done


def _relabel(store: Store, rev_id: int, text: str, ids: list[str], site: SiteInfo) -> None:
    layout = store.revision_layout(rev_id)
    if len(layout) == len(ids):
        store.relabel_sections(rev_id, ids)
        return
    # The splitter changed since the revision was stored: store its sections anew.
    texts = [s.text for s in split(text, site=site)]
    store.replace_sections(
        rev_id, [(sid, store.put_blob(t)) for t, sid in zip(texts, ids, strict=True)]
    )


def rederive_pending(store: Store, wiki_id: int | None = None) -> int:
    """Finish every re-derivation a killed process or a migration left marked."""
    done = 0
    for page_id in store.pages_to_rederive():
        page = store.page(page_id)
        if page is not None and (wiki_id is None or page["wiki_id"] == wiki_id):
            done += rederive(store, page_id)
    return done
