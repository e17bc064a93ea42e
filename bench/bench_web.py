"""Benchmark of issue 6: the history browser's server time on a 10,000-revision history.

    python bench/bench_web.py [--revisions 10000] [--size 60000] [--repeat 30] [--db PATH]

Generates the history (tests/genhistory.py's article: edits, renames, moves, reverts; kept
near --size bytes) straight into a store through PageIngestor, no wiki needed, then times
requests through the WSGI app in process (Flask's test client: server time, without the
network). Each URL is requested once
cold, then ``--repeat`` times; the table gives the median and the 90th percentile against
the targets. ``--db`` keeps the generated store for the next run. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from genhistory import generate  # noqa: E402

from tracker.fetch.ingest import PageIngestor  # noqa: E402
from tracker.model import web_title  # noqa: E402
from tracker.store import Store  # noqa: E402
from tracker.store.search import index_new_blobs, paragraphs  # noqa: E402
from tracker.web import create_app  # noqa: E402

TITLE = "Generated article"
BATCH = 250


def build(path: Path, revisions: int, size: int) -> None:
    """The generated history, ingested the way the poller stores revisions."""
    start = time.perf_counter()
    with Store(path) as store:
        wiki = store.wiki_id("bench", api_url="https://bench.example/w/api.php")
        with store.atomic():
            page = store.upsert_page(wiki, 42, TITLE)
        ingestor = PageIngestor(store, wiki, page["id"])
        batch = []
        for n, rev in enumerate(generate(revisions, size=size), 1):  # tests/genhistory.py
            batch.append(rev)
            if len(batch) == BATCH or n == revisions:
                ingestor.add(batch)
                batch = []
                print(
                    f"\r  ingested {n:,}/{revisions:,} revisions "
                    f"({time.perf_counter() - start:.0f} s)",
                    end="",
                    file=sys.stderr,
                )
    print(file=sys.stderr)


def timings(client, url: str, repeat: int) -> dict:
    start = time.perf_counter()
    response = client.get(url)
    cold = time.perf_counter() - start
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        client.get(url)
        runs.append(time.perf_counter() - start)
    runs.sort()
    return {
        "cold": cold * 1000,
        "median": statistics.median(runs) * 1000,
        "p90": runs[int(len(runs) * 0.9) - 1] * 1000 if runs else 0.0,
        "bytes": len(response.data),
    }


def search_index_bytes(path: Path) -> int | None:
    """Bytes in the search index's tables (and any 002-style text copy), if SQLite has dbstat."""
    with Store(path, readonly=True) as store:
        try:
            return store.scalar("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search%'")
        except sqlite3.Error:
            return None


def phrases(store: Store, page_id: int) -> tuple[str, str]:
    """A phrase from a section text of mid-history (present for a while), and one that
    every revision contains (the References section: the heaviest case to map to revisions)."""
    count = store.scalar("SELECT count(*) FROM revisions WHERE page_id = ?", [page_id])
    middle = store.one(
        "SELECT id FROM revisions WHERE page_id = ? ORDER BY revid LIMIT 1 OFFSET ?",
        [page_id, count // 2],
    )
    assert middle is not None
    layout = store.revision_layout(middle["id"])
    text = max(paragraphs(store.blob(layout[len(layout) // 2][1])), key=len)
    words = [w for w in text.replace("[", " ").replace("]", " ").split() if w.isalpha()]
    rare = " ".join(words[len(words) // 2 : len(words) // 2 + 5])
    return rare, "References Reflist"  # (a phrase is found within a paragraph)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=60_000, help="article size in bytes")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--db", type=Path, help="keep (and reuse) the generated store here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.db"
        if not path.exists():
            print(
                f"Generating {args.revisions:,} revisions of a ~{args.size:,}-byte article "
                f"into {path} ...",
                file=sys.stderr,
            )
            build(path, args.revisions, args.size)
        before = path.stat().st_size
        start = time.perf_counter()
        with Store(path) as store:
            indexed = index_new_blobs(store)
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        index_time = time.perf_counter() - start
        after = path.stat().st_size
        index_bytes = search_index_bytes(path)
        app = create_app(path)
        client = app.test_client()
        with Store(path, readonly=True) as store:
            page = store.one("SELECT id FROM pages WHERE title = ?", [TITLE])
            assert page is not None
            row = store.page_with_wiki(page["id"])
            assert row is not None
            pid = page["id"]
            key = f"{row['wiki']}/{web_title(row['title'])}"  # as the web names the page
            revids = [
                r[0]
                for r in store.db.execute(
                    "SELECT revid FROM revisions WHERE page_id = ? ORDER BY revid", [pid]
                )
            ]
            rare, common = phrases(store, pid)
            raw = store.scalar("SELECT sum(size) FROM revisions")
        far_from = revids[len(revids) // 100]
        cases = [
            ("history page (newest 50)", f"/wiki/{key}", 50),
            (
                "history page, deep (middle of the history)",
                f"/wiki/{key}?page={len(revids) // 100 + 1}",
                50,
            ),
            (
                f"diff, far-apart pair ({len(revids) - len(revids) // 100 - 1:,} edits)",
                f"/diff/{key}?from={far_from}&to={revids[-1]}",
                150,
            ),
            (
                "diff, far-apart pair, side by side",
                f"/diff/{key}?from={far_from}&to={revids[-1]}&mode=side",
                150,
            ),
            ("diff, consecutive pair", f"/diff/{key}?to={revids[-1]}", 150),
            (f'phrase search, rare: "{rare}"', f"/search?q={rare.replace(' ', '+')}", 100),
            (
                f'phrase search, in every revision: "{common}"',
                f"/search?q={common.replace(' ', '+')}",
                100,
            ),
            ("pages list", "/", None),
            ("revision view (latest)", f"/rev/{key}/{revids[-1]}", None),
        ]
        print(
            f"\n{len(revids):,} revisions, {raw / 1e6:,.0f} MB of raw wikitext; store "
            f"{before / 1e6:,.1f} MB, {after / 1e6:,.1f} MB with the search index "
            f"({indexed:,} section texts indexed in {index_time:.1f} s"
            f"{f'; the index tables hold {index_bytes / 1e6:,.1f} MB' if index_bytes else ''}). "
            f"Median of {args.repeat} requests after one cold request, in-process WSGI.\n"
        )
        print("| request | target | cold ms | median ms | p90 ms | result |")
        print("|---|---:|---:|---:|---:|---|")
        failed = False
        for label, url, target in cases:
            t = timings(client, url, args.repeat)
            verdict = "—" if target is None else ("ok" if t["median"] <= target else "SLOW")
            failed |= verdict == "SLOW"
            print(
                f"| {label} | {f'<= {target}' if target else ''} | {t['cold']:.1f} | "
                f"{t['median']:.1f} | {t['p90']:.1f} | {verdict} |"
            )
        sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
