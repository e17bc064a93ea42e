"""Benchmark of issue 2: ingesting a long history from a real local MediaWiki.

    python bench/bench_ingest.py [--revisions 2000] [--size 60000] [--pages 1000] [--repeat 3]

Needs Debian's mediawiki package (scripts/install-system-deps.sh). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from genhistory import one_revision_page, write_history  # noqa: E402
from mediawiki import TestWiki  # noqa: E402

from tracker.fetch.snapshot import write_export  # noqa: E402

PASSWORD_ENV = "BENCH_BOT_PASSWORD"


def timed_child(args: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """Run a child process; return wall seconds, peak RSS in MB, stdout."""
    start = time.perf_counter()
    process = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        text=True,
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    out, err = process.stdout.read(), process.stderr.read()
    if status != 0:
        raise SystemExit(f"{args} failed: {err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out


def write_config(directory: Path, wiki: TestWiki, titles: list[str], login: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    login_line = (
        f'login = {{ username = "{wiki.bot_user}", password_env = "{PASSWORD_ENV}" }}\n'
        if login
        else ""
    )
    watches = "".join(f'[[watches]]\nwiki = "bench"\ntitle = {json.dumps(t)}\n' for t in titles)
    path = directory / "config.toml"
    path.write_text(
        f'[storage]\ndatabase = "tracker.db"\n\n[[wikis]]\nname = "bench"\n'
        f'api_url = "{wiki.api_url}"\ncontact = "bench@example.org"\n{login_line}\n'
        f"{watches}",
        encoding="utf-8",
    )
    return path


def ingest(directory: Path, wiki: TestWiki, title: str, login: bool = True) -> dict:
    config = write_config(directory, wiki, [title], login=login)
    wall, rss, _ = timed_child(
        [sys.executable, "-m", "tracker", "--config", str(config), "run", "--once"],
        env={PASSWORD_ENV: wiki.bot_password},
    )
    db_path = directory / "tracker.db"
    with sqlite3.connect(db_path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        requests = db.execute("SELECT sum(requests) FROM poll_runs").fetchone()[0]
        revisions = db.execute("SELECT count(*) FROM revisions").fetchone()[0]
        raw = db.execute("SELECT sum(size) FROM revisions").fetchone()[0]
    return {
        "wall": wall,
        "rss": rss,
        "requests": requests,
        "revisions": revisions,
        "db": db_path.stat().st_size,
        "raw": raw,
    }


def bare(wiki: TestWiki, title: str, login: bool = True) -> dict:
    wall, rss, out = timed_child(
        [
            sys.executable,
            str(ROOT / "bench" / "bare_fetch.py"),
            wiki.api_url,
            title,
            *([wiki.bot_user, wiki.bot_password] if login else []),
        ]
    )
    return {"wall": wall, "rss": rss, **json.loads(out)}


def many_pages(path: Path, count: int) -> list[str]:
    titles = [f"Watched page {i:04d}" for i in range(count)]
    pages = []
    for i, title in enumerate(titles):
        text = f"Page {i}.\n== Section ==\nSome text of page {i}.\n"
        pages.append(one_revision_page(title, 5000 + i, 10_000 + i, text))
    with path.open("w", encoding="utf-8") as out:
        write_export(out, pages)
    return titles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=2000)
    parser.add_argument("--small", type=int, default=500, help="the smaller history, for RSS")
    parser.add_argument("--size", type=int, default=60_000)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        wiki = TestWiki.start(work / "wiki")
        try:
            big, small = "Generated article", "Generated article (small)"
            t0 = time.perf_counter()
            write_history(work / "big.xml", big, args.revisions, size=args.size, pageid=1)
            write_history(
                work / "small.xml",
                small,
                args.small,
                size=args.size,
                pageid=2,
                seed=2,
                first_revid=900_000,
            )
            wiki.import_xml(work / "big.xml")
            wiki.import_xml(work / "small.xml")
            titles = many_pages(work / "pages.xml", args.pages)
            wiki.import_xml(work / "pages.xml")
            print(f"set-up: {time.perf_counter() - t0:.1f} s", file=sys.stderr)

            bares, ingests, anon_bares, anon_ingests = [], [], [], []
            for i in range(args.repeat):  # interleaved, so all see the same machine state
                bares.append(bare(wiki, big))
                ingests.append(ingest(work / f"ingest-{i}", wiki, big))
                anon_bares.append(bare(wiki, big, login=False))
                anon_ingests.append(ingest(work / f"anon-{i}", wiki, big, login=False))
                print(
                    f"run {i}: bare {bares[-1]['wall']:.2f} s, ingest {ingests[-1]['wall']:.2f} s;"
                    f" anonymous: bare {anon_bares[-1]['wall']:.2f} s, "
                    f"ingest {anon_ingests[-1]['wall']:.2f} s",
                    file=sys.stderr,
                )
            small_run = ingest(work / "ingest-small", wiki, small)

            config = write_config(work / "pages", wiki, titles, login=False)
            for _ in range(2):  # the backfill, then the poll that finds nothing new
                subprocess.run(
                    [sys.executable, "-m", "tracker", "--config", str(config), "run", "--once"],
                    check=True,
                    capture_output=True,
                )
            with sqlite3.connect(work / "pages" / "tracker.db") as db:
                nochange = db.execute(
                    "SELECT requests, revisions_added FROM poll_runs ORDER BY id DESC LIMIT 1"
                ).fetchone()
        finally:
            wiki.stop()

    bare_wall = statistics.median(b["wall"] for b in bares)
    ingest_wall = statistics.median(r["wall"] for r in ingests)
    anon_bare_wall = statistics.median(b["wall"] for b in anon_bares)
    anon_ingest_wall = statistics.median(r["wall"] for r in anon_ingests)
    run = ingests[0]
    floor = bares[0]["requests"]
    limit = math.ceil(args.revisions / floor)
    rows = [
        (
            f"ingest wall time, bot login (median of {args.repeat})",
            f"{ingest_wall:.2f} s",
            f"bare mwclient fetch {bare_wall:.2f} s",
            f"{ingest_wall / bare_wall:.2f}",
            "<= 1.3",
        ),
        (
            f"ingest wall time, anonymous (median of {args.repeat})",
            f"{anon_ingest_wall:.2f} s",
            f"bare mwclient fetch, anonymous {anon_bare_wall:.2f} s",
            f"{anon_ingest_wall / anon_bare_wall:.2f}",
            "<= 1.3",
        ),
        (
            "API requests, anonymous",
            str(anon_ingests[0]["requests"]),
            f"minimum {anon_bares[0]['requests']} (50 revisions with content each) + 2",
            f"{anon_ingests[0]['requests'] - anon_bares[0]['requests']:+d}",
            "minimum + small constant",
        ),
        (
            "API requests",
            str(run["requests"]),
            f"minimum {floor} (~{limit} revisions per 8 MiB reply) + 2",
            f"{run['requests'] - floor:+d}",
            "minimum + small constant",
        ),
        (
            "database size",
            f"{run['db'] / 1e6:.1f} MB",
            f"raw wikitext {run['raw'] / 1e6:.1f} MB",
            f"{100 * run['db'] / run['raw']:.1f} %",
            "<= 10 %",
        ),
        (
            f"peak RSS, {args.revisions} revisions",
            f"{run['rss']:.0f} MB",
            f"bare fetch {statistics.median(b['rss'] for b in bares):.0f} MB",
            "",
            "<= 150 MB",
        ),
        (
            f"peak RSS, {args.small} revisions",
            f"{small_run['rss']:.0f} MB",
            "",
            f"{run['rss'] / small_run['rss']:.2f}x",
            "about the same",
        ),
        (
            f"no-change poll of {args.pages} pages",
            f"{nochange[0]} requests",
            f"ceil({args.pages}/50) = {math.ceil(args.pages / 50)}",
            f"{nochange[1]} revisions",
            "<= 21 requests",
        ),
    ]
    print(
        f"\n{args.revisions} revisions of a ~{args.size // 1000} KB article "
        f"({run['raw'] / 1e6:.0f} MB of wikitext), local MediaWiki, with a bot login "
        "and anonymous\n"
    )
    print("| measure | wiki tracker | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
