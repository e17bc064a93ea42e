"""`snapshot import` and `snapshot export`: moving whole histories in and out as XML exports."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from tracker.fetch.ingest import PageIngestor, rederive_pending
from tracker.fetch.snapshot import SnapshotSource, write_export
from tracker.history import resolve_page
from tracker.model import index_url
from tracker.store import Store, utcnow


def import_snapshot(store: Store, path: Path, wiki: str) -> dict[str, int]:
    """Load every page of an XML export into the store under ``wiki``; return counts per title.

    Idempotent: revisions already stored are skipped, so importing twice adds nothing.
    """
    source = SnapshotSource(wiki, path)
    source.check()
    wiki_id = store.wiki_id(wiki)
    with store.atomic():
        store.set_site_info(wiki_id, source.site_info())  # how its wikitext is read
    rederive_pending(store, wiki_id)  # what a killed import left to finish
    store.repack_texts()  # texts an older version stored, once
    counts: dict[str, int] = {}
    for page, batches in source.stream():
        with store.atomic():
            row = store.upsert_page(wiki_id, page.pageid, page.title, page.ns)
        ingestor = PageIngestor(store, wiki_id, row["id"])
        for batch in batches:
            ingestor.add(batch)
        ingestor.finish()
        store.mark_imported(row["id"], utcnow())
        counts[page.title] = counts.get(page.title, 0) + ingestor.added
    return counts


def export_snapshot(store: Store, title: str, out: IO[str], wiki: str | None = None) -> int:
    """Write the stored history of one page as an export importDump.php accepts."""
    page = resolve_page(store, title, wiki)
    wiki_row = store.wiki(page["wiki_id"]) or {}

    def revisions():
        for row in store.revisions(page["id"]):
            yield row, store.revision_text(row["id"])

    base = index_url(wiki_row.get("api_url")) or ""
    return write_export(
        out,
        [(page, revisions())],
        sitename=wiki_row.get("name") or "",
        base=base,
        site=store.site_info(page["wiki_id"]),
    )
