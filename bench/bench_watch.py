"""Benchmark of issue 14: polling watch sets of 100 to 100,000 pages on a real local MediaWiki.

    python bench/bench_watch.py [--sizes 100,10000,100000] [--repeat 5] [--titles 200] [--push]

One run, one wiki: 2,000 + N one-revision pages ("Fill/0000"..., "Bench/00000"...) imported
with importDump.php (the wiki on tmpfs), each size a prefix watch set ("Bench/000" holds 100
pages, "Bench/0" 10,000, "Bench/" 100,000: sizes are powers of ten), polled in-process by two
trackers of the same pages: `recent_changes = true` (the default: one recentchanges request
a cycle) and `recent_changes = false` (today's batched status check, 50 pages a request),
the second starting from a copy of the first's store after its first cycle (the warm-up: the
set's list and first fetch). For each size: a no-change cycle, and a cycle after 10 pages
were edited through the API; requests and wall time, medians of --repeat (a cycle over
LONG_CYCLE seconds is run once). Also the first fetch of a set of 2,000 one-revision pages,
against --titles title watches backfilled today's way; and with --push the time from an edit
saved to its revision stored by `tracker daemon` following the wiki's stream of recent
changes (its $wgRCFeeds JSON on a loopback EventStreams), for the smallest and largest size,
and for an edit saved while the daemon's poll of the wiki runs.

The whole run takes about 25 minutes on 2 cores (8-10 of them importing 102,000 pages, 6
the 100,000 pages' first fetch); --sizes 100,10000 takes about 5. Needs Debian's mediawiki
package (scripts/install-system-deps.sh). Prints a Markdown table; what each cycle asked,
by kind of request, goes to stderr.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from genhistory import one_revision_page  # noqa: E402
from mediawiki import TestWiki  # noqa: E402
from processes import DaemonProcess, query  # noqa: E402
from ssefixture import FeedBridge, RcFeedReceiver, SseServer  # noqa: E402
from trackerutil import write_config  # noqa: E402
from waits import TimedOut, wait_until  # noqa: E402

from tracker.config import load_config  # noqa: E402
from tracker.fetch.api import ApiSource  # noqa: E402
from tracker.fetch.poll import PollResult, poll_wiki  # noqa: E402
from tracker.fetch.snapshot import write_export  # noqa: E402
from tracker.store import Store  # noqa: E402

PREFIX = "Bench/"
FILL_PREFIX = "Fill/"  # the pages of the first-fetch measure
FILL_PAGES = 2000
CHANGED = 10  # pages edited before a "changed" cycle
LONG_CYCLE = 30.0  # seconds: a cycle this long is run once, not --repeat times
BATCH = 50  # pages (or revisions) a request
CHUNK = 5000  # pages an importDump.php run
PUSH_WAIT = 120.0  # seconds an edit may take to be stored by push
# importDump.php commits a SQLite transaction a page: on tmpfs 7-10x faster than on disk.
FAST_DIR = Path("/dev/shm")


# --- the wiki ------------------------------------------------------------------------------


def page_rows(prefix: str, count: int, digits: int, first_id: int) -> Iterator[tuple]:
    """``count`` one-revision pages of a few lines, titled prefix + a zero-padded number."""
    for i in range(count):
        text = f"Page {i}.\n\n== Section ==\nSome text of page {i}.\n"
        yield one_revision_page(f"{prefix}{i:0{digits}d}", first_id + i, first_id + i, text)


def set_up(work: Path, biggest: int) -> tuple[TestWiki, dict[str, float]]:
    """A wiki with FILL_PAGES + ``biggest`` one-revision pages; the seconds each step took.

    The export goes in files of CHUNK pages: one importDump.php run stays within the
    timeout of TestWiki.import_xml, and each tells how far the import is."""
    times = {"export written": 0.0, "importDump.php": 0.0}
    digits = round(math.log10(biggest))
    base = FAST_DIR if FAST_DIR.is_dir() else Path(tempfile.gettempdir())
    wiki_dir = Path(tempfile.mkdtemp(prefix="bench-watch-wiki-", dir=base))
    start = time.perf_counter()
    wiki = TestWiki.start(wiki_dir / "wiki")
    times["wiki installed and started"] = time.perf_counter() - start
    pages = itertools.chain(
        page_rows(FILL_PREFIX, FILL_PAGES, 4, 1_000_000),
        page_rows(PREFIX, biggest, digits, 2_000_000),
    )
    export, done, total = work / "pages.xml", 0, FILL_PAGES + biggest
    try:
        while chunk := list(itertools.islice(pages, CHUNK)):
            start = time.perf_counter()
            with export.open("w", encoding="utf-8") as out:
                write_export(out, chunk)
            times["export written"] += time.perf_counter() - start
            start = time.perf_counter()
            wiki.import_xml(export)  # importDump.php --no-updates, then initSiteStats.php
            times["importDump.php"] += time.perf_counter() - start
            done += len(chunk)
            print(
                f"  imported {done:,} of {total:,} pages ({times['importDump.php'] / 60:.1f} min)",
                file=sys.stderr,
            )
    except BaseException:
        wiki.stop()
        shutil.rmtree(wiki_dir, ignore_errors=True)
        raise
    export.unlink()
    return wiki, times


def prefix_of(size: int, biggest: int) -> str:
    """The title prefix of exactly ``size`` of the "Bench/" pages (a power of ten)."""
    return PREFIX + "0" * (round(math.log10(biggest)) - round(math.log10(size)))


# --- the tracker ---------------------------------------------------------------------------


def describe(action: str, params: dict) -> str:
    """A request's kind, e.g. "query prop=revisions revids" or "query list=recentchanges"."""
    parts = [action]
    for key in ("list", "prop", "meta", "generator"):
        if key in params:
            parts.append(f"{key}={params[key]}")
    for key in ("pageids", "revids", "titles"):
        if key in params:
            parts.append(key)
    return " ".join(parts)


class CountingSource(ApiSource):
    """An ApiSource that tells what each cycle asked, by kind of request."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.asked: Counter[str] = Counter()

    def call(self, action: str = "query", **params: object) -> dict:
        self.asked[describe(action, params)] += 1
        return super().call(action, **params)


@dataclass
class Cycle:
    requests: int
    seconds: float
    revisions: int  # stored by the cycle (counted in the store: a first fetch's too)
    asked: Counter[str] = field(default_factory=Counter)


class Tracker:
    """One config and store on the wiki, polled in-process as the daemon polls."""

    def __init__(
        self,
        directory: Path,
        wiki: TestWiki,
        watches: list[dict],
        rc: bool,
        copy_of: Tracker | None = None,
    ):
        self.path = write_config(
            directory,
            wikis=[
                {
                    "name": "test",
                    "api_url": wiki.api_url,
                    "contact": "bench@example.org",
                    "recent_changes": rc,
                }
            ],
            watches=[{"wiki": "test", **w} for w in watches],
        )
        self.config = load_config(self.path)
        self.db = self.config.database_path
        if copy_of is not None:  # the same pages and revisions stored, without fetching them
            with sqlite3.connect(copy_of.db) as source, sqlite3.connect(self.db) as target:
                source.backup(target)
        self.store = Store(self.db)
        self.source = CountingSource(self.config.wiki("test"))

    def watch_too(self, watches: list[dict]) -> None:
        """The config with more watches, as `tracker watch add` writes them."""
        text = self.path.read_text(encoding="utf-8")
        for watch in [{"wiki": "test", **w} for w in watches]:
            text += "\n[[watches]]\n"
            text += "".join(f"{key} = {json.dumps(value)}\n" for key, value in watch.items())
        self.path.write_text(text, encoding="utf-8")
        self.config = load_config(self.path)

    def revisions(self) -> int:
        return int(query(self.db, "SELECT count(*) FROM revisions")[0][0])

    def poll(self, what: str) -> Cycle:
        self.source.asked.clear()
        before = self.revisions()
        start = time.perf_counter()
        result: PollResult = poll_wiki(
            self.store, self.config, self.config.wiki("test"), source=self.source
        )
        seconds = time.perf_counter() - start
        if result.errors:
            raise SystemExit(f"{what}: the poll failed: {result.errors[:3]}")
        stored = self.revisions() - before
        cycle = Cycle(result.requests, seconds, stored, Counter(self.source.asked))
        asked = ", ".join(f"{n} {kind}" for kind, n in cycle.asked.most_common())
        print(
            f"  {what}: {cycle.requests} requests, {seconds:.2f} s, {stored} revisions stored "
            f"(the poll says {result.revisions_added}): {asked}",
            file=sys.stderr,
        )
        return cycle

    def members(self, key: str) -> int:
        found = self.store.find_watch_set("test", key)
        return int(found["members"]) if found else 0

    def close(self) -> None:
        self.store.close()


# --- measures ------------------------------------------------------------------------------


@dataclass
class Measure:
    """Cycles of one kind: their requests and median wall time."""

    cycles: list[Cycle]

    @property
    def seconds(self) -> float:
        return statistics.median(c.seconds for c in self.cycles)

    def cell(self) -> str:
        counts = sorted({c.requests for c in self.cycles})
        requests = f"{counts[0]:,}" if len(counts) == 1 else f"{counts[0]:,}-{counts[-1]:,}"
        runs = f" (median of {len(self.cycles)})" if len(self.cycles) > 1 else ""
        noun = "request" if requests == "1" else "requests"
        return f"{requests} {noun}, {fmt_seconds(self.seconds)}{runs}"


def fmt_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def cycle_cell(cycle: Cycle) -> str:
    return f"{cycle.requests:,} requests, {fmt_seconds(cycle.seconds)}"


def edit_pages(wiki: TestWiki, size: int, digits: int, round_: int) -> None:
    """Edit CHANGED pages spread over the set of ``size`` pages (others each round)."""
    step = size // CHANGED
    for j in range(CHANGED):
        i = j * step + round_ % step
        wiki.edit(f"{PREFIX}{i:0{digits}d}", f"Page {i}, edited: {size} pages, round {round_}.")


def measure_size(work: Path, wiki: TestWiki, size: int, biggest: int, repeat: int) -> dict:
    """Cycles of a set of ``size`` pages, with recent changes and with the status check."""
    digits = round(math.log10(biggest))
    prefix = prefix_of(size, biggest)
    watch = {"prefix": prefix, "max_pages": 200_000}
    print(f"{size} watched pages (prefix {prefix!r}):", file=sys.stderr)
    fast = Tracker(work / f"rc-{size}", wiki, [watch], rc=True)
    # Warm-up: the set's list and its pages' first fetch (a wiki's first cycle with recent
    # changes has no cursor yet: the status of every page it already watched is read too).
    first = fast.poll("first cycle, recent changes")
    found = fast.members(f"prefix:{prefix}")
    if found != size or first.revisions != size:
        raise SystemExit(f"the set {prefix!r}: {found} pages, {first.revisions} revisions")
    # Today's way starts from a copy of that store (a first fetch of its own would cost as
    # much again), its source's one-time siteinfo check made before the clock runs.
    slow = Tracker(work / f"status-{size}", wiki, [watch], rc=False, copy_of=fast)
    slow.source.check()
    out: dict = {"first": first}
    try:
        for name in ("nochange", "changed"):
            label = "no change" if name == "nochange" else f"{CHANGED} changed"
            runs: dict[str, list[Cycle]] = {"fast": [], "slow": []}
            for r in range(repeat):
                if name == "changed":
                    edit_pages(wiki, size, digits, r)
                for key, tracker, how in (
                    ("fast", fast, "recent changes"),
                    ("slow", slow, "status check"),
                ):
                    done = runs[key]
                    # A long cycle is measured once: the other rounds leave it be (its next
                    # cycle would see the changes of all of them at once).
                    if len(done) == r and (r == 0 or done[0].seconds < LONG_CYCLE):
                        done.append(tracker.poll(f"{label}, {how}"))
            for key, cycles in runs.items():
                wanted = CHANGED if name == "changed" else 0
                if any(cycle.revisions != wanted for cycle in cycles):
                    raise SystemExit(f"{size} pages, {label}, {key}: not {wanted} revisions")
                out[f"{name} {key}"] = Measure(cycles)
        return out
    finally:
        fast.close()
        slow.close()


def measure_first_fetch(work: Path, wiki: TestWiki, biggest: int, titles: int) -> dict:
    """The first fetch of FILL_PAGES one-revision pages: a set added to a tracker that
    already follows the wiki, a new tracker's first cycle (both ways), and ``titles`` title
    watches (today's way)."""
    print(f"first fetch of {FILL_PAGES} one-revision pages:", file=sys.stderr)
    digits = round(math.log10(biggest))
    out = {}
    running = Tracker(work / "fill-added", wiki, [{"title": PREFIX + "0" * digits}], rc=True)
    running.poll("a tracker of one page, first cycle")
    running.poll("a tracker of one page, next cycle")
    running.watch_too([{"prefix": FILL_PREFIX}])
    out["added"] = running.poll("the set added to it")
    running.close()
    for key, rc in (("new", True), ("new status", False)):
        new = Tracker(work / f"fill-{key}", wiki, [{"prefix": FILL_PREFIX}], rc=rc)
        out[key] = new.poll(f"a new tracker of the set, first cycle, recent_changes = {rc}")
        new.close()
    watches = [{"title": f"{FILL_PREFIX}{i:04d}"} for i in range(titles)]
    today = Tracker(work / "fill-titles", wiki, watches, rc=False)
    out["titles"] = today.poll(f"a new tracker of {titles} title watches, first cycle")
    today.close()
    for key, cycle in out.items():
        wanted = titles if key == "titles" else FILL_PAGES
        if cycle.revisions != wanted:
            raise SystemExit(f"first fetch, {key}: {cycle.revisions} revisions, not {wanted}")
    return out


# --- push ----------------------------------------------------------------------------------


@dataclass
class Push:
    """Seconds from edits saved (the API answered) to their revisions stored; None: not
    stored within PUSH_WAIT."""

    idle: list[float | None]  # each edit made with the daemon idle
    busy: float | None = None  # an edit made while a poll of the wiki runs (biggest size)

    def cell(self) -> str:
        done = [d for d in self.idle if d is not None]
        missed = len(self.idle) - len(done)
        text = "none stored"
        if done:
            text = f"{fmt_seconds(statistics.median(done))} (median of {len(done)}, "
            text += f"max {fmt_seconds(max(done))})"
        return text + (f"; {missed} not stored within {PUSH_WAIT:.0f} s" if missed else "")


def _running_polls(daemon: DaemonProcess) -> int:
    """Polls the daemon started and has not finished (by APScheduler's log lines)."""
    lines = daemon.log().splitlines()
    started = sum('Running job "poll:test' in line for line in lines)
    return started - sum('Job "poll:test' in line and "executed" in line for line in lines)


def _recent_changes_read(daemon: DaemonProcess) -> int:
    """The daemon's recentchanges requests so far (urllib3's debug lines)."""
    return daemon.log().count("GET /api.php?list=recentchanges")


def _stored_after(db: Path, revid: int, since: float) -> float | None:
    try:
        wait_until(
            lambda: query(db, "SELECT 1 FROM revisions WHERE revid = ?", (revid,)),
            PUSH_WAIT,
            f"revision {revid} stored",
            every=0.005,
        )
    except TimedOut:
        return None
    return time.perf_counter() - since


def after(seconds: float | None) -> str:
    if seconds is None:
        return f"not stored within {PUSH_WAIT:.0f} s"
    return f"stored after {seconds:.3f} s"


def measure_push(work: Path, wiki: TestWiki, size: int, biggest: int, repeat: int) -> Push:
    """`tracker daemon` following the wiki's stream, its polling interval 6 hours, started
    from the store of the size's recent-changes tracker: how soon an edit is stored."""
    digits = round(math.log10(biggest))
    print(f"push, {size} watched pages:", file=sys.stderr)
    directory = work / f"push-{size}"
    edits = itertools.count()

    def edit() -> int:
        i = next(edits) * 7 % size
        return wiki.edit(f"{PREFIX}{i:0{digits}d}", f"Page {i}, pushed ({size} pages, {i}).")

    with RcFeedReceiver() as feed, SseServer() as server:
        settings = wiki.conf.read_text(encoding="utf-8")
        wiki.conf.write_text(settings + feed.settings(), encoding="utf-8")
        bridge = FeedBridge(feed, server)
        wikis = [
            {
                "name": "test",
                "api_url": wiki.api_url,
                "contact": "bench@example.org",
                "eventstreams": True,
                "eventstreams_url": server.url,
            }
        ]
        watch = {"wiki": "test", "prefix": prefix_of(size, biggest), "max_pages": 200_000}
        config = write_config(directory, wikis=wikis, watches=[{**watch, "interval": "6h"}])
        db = directory / "tracker.db"
        with sqlite3.connect(work / f"rc-{size}" / "tracker.db") as source:
            with sqlite3.connect(db) as target:
                source.backup(target)
        push = Push([])
        try:
            with DaemonProcess(config) as daemon:
                daemon.wait_for_log("following its recent changes", 120)
                server.wait_requests(1, 120)
                daemon.wait_for_log("executed successfully", 600)  # the start's poll
                for r in range(repeat):
                    wait_until(lambda: _running_polls(daemon) == 0, 600, "the daemon idle")
                    revid = edit()
                    push.idle.append(_stored_after(db, revid, time.perf_counter()))
                    print(
                        f"  edit {r}, the daemon idle: {after(push.idle[-1])}",
                        file=sys.stderr,
                    )
                if size == biggest:
                    wait_until(lambda: _running_polls(daemon) == 0, 600, "the daemon idle")
                    read = _recent_changes_read(daemon)
                    edit()  # the next edit is saved after its poll read the recent changes
                    wait_until(
                        lambda: _running_polls(daemon) == 1 and _recent_changes_read(daemon) > read,
                        120,
                        "the pushed poll past its reading of the recent changes",
                        every=0.002,
                    )
                    revid = edit()
                    push.busy = _stored_after(db, revid, time.perf_counter())
                    print(f"  an edit during a poll: {after(push.busy)}", file=sys.stderr)
                daemon.stop()
        finally:
            bridge.close()
            wiki.conf.write_text(settings, encoding="utf-8")
    return push


# --- the run -------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    for size in sizes:
        if size < CHANGED * 10 or 10 ** round(math.log10(size)) != size:
            raise argparse.ArgumentTypeError(f"{size}: sizes are powers of ten, 100 or more")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("100,10000,100000"))
    parser.add_argument("--repeat", type=int, default=5, help="runs of each short cycle")
    parser.add_argument(
        "--titles", type=int, default=200, help="title watches backfilled, today's way"
    )
    parser.add_argument("--push", action="store_true", help="also time push (tracker daemon)")
    args = parser.parse_args()
    if args.titles < 1:
        parser.error("--titles: at least 1 (the baseline of the first-fetch row)")
    biggest = args.sizes[-1]
    titles = min(args.titles, FILL_PAGES)

    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        work = Path(tmp)
        total = time.perf_counter()
        wiki, setup = set_up(work, biggest)
        print("set-up: " + ", ".join(f"{k} {v:.1f} s" for k, v in setup.items()), file=sys.stderr)
        try:
            fill = measure_first_fetch(work, wiki, biggest, titles)
            sizes = {
                size: measure_size(work, wiki, size, biggest, args.repeat) for size in args.sizes
            }
            pushes = {
                size: measure_push(work, wiki, size, biggest, args.repeat)
                for size in (sorted({args.sizes[0], biggest}) if args.push else [])
            }
        finally:
            wiki.stop()
            shutil.rmtree(wiki.directory.parent, ignore_errors=True)
        elapsed = time.perf_counter() - total

    pages = FILL_PAGES + biggest
    imported = setup["importDump.php"]
    where = "on tmpfs" if FAST_DIR.is_dir() else "on disk"
    print(
        f"\nSet-up: {pages:,} one-revision pages imported with importDump.php --no-updates "
        f"in {imported / 60:.1f} min ({pages / imported:.0f} pages/s, the wiki {where}); "
        f"whole run {elapsed / 60:.1f} min. Local MediaWiki 1.39, anonymous requests, polled "
        "in-process; the status-check tracker of each size starts from a copy of the "
        "recent-changes tracker's store after its first cycle.\n"
    )
    print("| measure | watched pages | recent changes (default) | status check (today) | target |")
    print("|---|---|---|---|---|")
    lists = math.ceil(FILL_PAGES / 500)
    share = FILL_PAGES / titles
    scaled = (
        ""
        if titles == FILL_PAGES
        else (
            f" (at that rate {FILL_PAGES:,}: ~{fill['titles'].requests * share:,.0f} requests, "
            f"~{fill['titles'].seconds * share / 60:.0f} min)"
        )
    )
    print(
        "| first fetch of a new set, on a tracker already following the wiki "
        f"| {FILL_PAGES:,} | {cycle_cell(fill['added'])} "
        f"| {titles:,} title watches: {cycle_cell(fill['titles'])}{scaled} "
        f"| about {FILL_PAGES // BATCH} + {lists} (the set's list) |"
    )
    print(
        f"| a new tracker's first cycle of the set | {FILL_PAGES:,} "
        f"| {cycle_cell(fill['new'])} | {cycle_cell(fill['new status'])} "
        f"| about {FILL_PAGES // BATCH} + {lists} |"
    )
    for size, found in sizes.items():
        status = math.ceil(size / BATCH)
        print(
            f"| no-change cycle | {size:,} | {found['nochange fast'].cell()} "
            f"| {found['nochange slow'].cell()} | 1 request (today {status:,}) |"
        )
        print(
            f"| {CHANGED} pages changed | {size:,} | {found['changed fast'].cell()} "
            f"| {found['changed slow'].cell()} | 1 + ceil({CHANGED}/{BATCH}) = 2, "
            f"+1 editors' groups (today {status:,} + {CHANGED}) |"
        )
    for size, found in sizes.items():
        print(
            f"| first cycle (warm-up): the set's list and first fetch | {size:,} "
            f"| {cycle_cell(found['first'])} | (a copy) | {size // BATCH:,} + "
            f"{math.ceil(size / 500):,} |"
        )
    for size, push in pushes.items():
        print(
            f"| push: edit saved to revision stored, `tracker daemon` on the stream, idle "
            f"| {size:,} | {push.cell()} | polling: up to the interval (15 min by default) | |"
        )
        if push.busy is not None or size == biggest:
            busy = (
                fmt_seconds(push.busy)
                if push.busy is not None
                else f"not stored within {PUSH_WAIT:.0f} s (the stream's poll skipped)"
            )
            print(f"| push: an edit saved while a poll of the wiki runs | {size:,} | {busy} | | |")


if __name__ == "__main__":
    main()
