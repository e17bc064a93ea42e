"""Soak benchmark of `tracker daemon` (issue 5) against a real local MediaWiki.

    python bench/bench_soak.py [--minutes 10] [--pages 200] [--interval 1] [--edit-every 2]

200 watched pages, a 1 s poll interval, random edits through the API for N minutes, then an
idle phase. Measures, from the daemon's own one-line-per-poll log and /proc:

- API requests per poll cycle against the floor: ceil(pages / 50) status requests plus one
  content request per changed page (a fault-free proxy in front of the wiki also counts the
  status and content requests independently);
- CPU time per idle cycle (no changes);
- RSS after warm-up and at the end (target: growth under 10 %).

Needs Debian's mediawiki package (scripts/install-system-deps.sh). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from faultproxy import FaultProxy  # noqa: E402
from genhistory import one_revision_page  # noqa: E402
from mediawiki import TestWiki  # noqa: E402
from processes import query  # noqa: E402
from trackerutil import wiki_table, write_config  # noqa: E402
from waits import wait_until  # noqa: E402

from tracker.fetch.snapshot import write_export  # noqa: E402

POLL_LINE = re.compile(
    r"^(\S+ \S+) INFO tracker\.fetch\.poll: poll local: (\d+) pages checked, "
    r"(\d+) changed, (\d+) revisions stored, (\d+) requests"
)
TICK = os.sysconf("SC_CLK_TCK")


def make_pages(path: Path, count: int) -> list[str]:
    """An export of ``count`` one-revision pages, for importDump.php (much faster than edits)."""
    titles = [f"Soak page {i:04d}" for i in range(count)]
    pages = []
    for i, title in enumerate(titles):
        text = f"Page {i}.\n\n== History ==\nThe text of page {i}.\n\n== Notes ==\nNone yet.\n"
        pages.append(one_revision_page(title, 9000 + i, 20_000 + i, text))
    with path.open("w", encoding="utf-8") as out:
        write_export(out, pages)
    return titles


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def poll_lines(log: Path) -> list[tuple[str, int, int, int, int]]:
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if match := POLL_LINE.match(line):
            stamp, checked, changed, stored, requests = match.groups()
            out.append((stamp, int(checked), int(changed), int(stored), int(requests)))
    return out


class Editor(threading.Thread):
    """Random edits to random watched pages, one every ``every`` seconds on average."""

    def __init__(self, wiki: TestWiki, titles: list[str], every: float, seed: int):
        super().__init__(daemon=True, name="editor")
        self.wiki, self.titles, self.every = wiki, titles, every
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.edits = 0

    def run(self) -> None:
        while not self.stop.wait(self.rng.uniform(0, 2 * self.every)):
            title = self.rng.choice(self.titles)
            n = self.edits
            self.wiki.edit(
                title,
                f"Page {title}.\n\n== History ==\nEdit {n}: "
                f"{self.rng.random():.6f}.\n\n== Notes ==\nNone yet.\n",
                f"soak {n}",
            )
            self.edits += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="the edit phase")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--edit-every", type=float, default=2.0, help="seconds between edits")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of the idle phase")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        work = Path(tmp)
        wiki = TestWiki.start(work / "wiki")
        titles = make_pages(work / "pages.xml", args.pages)
        wiki.import_xml(work / "pages.xml")
        proxy = FaultProxy(wiki.host).start()
        config = write_config(
            work / "run",
            wikis=[wiki_table("local", proxy.api_url)],
            watches=[{"wiki": "local", "title": t, "interval": args.interval} for t in titles],
            subscriptions=[
                {
                    "name": "soak",
                    "formats": ["markdown"],
                    "channels": [{"type": "file", "path": "digests"}],
                }
            ],
        )
        db, log = config.parent / "tracker.db", config.parent / "daemon.log"
        with open(log, "wb") as handle:
            daemon = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tracker",
                    "--config",
                    str(config),
                    "daemon",
                    "--log-level",
                    "INFO",
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            started = time.monotonic()
            wait_until(
                lambda: (query(db, "SELECT count(*) FROM revisions") or [(0,)])[0][0] >= args.pages,
                300,
                "the backfill",
            )
            backfill = time.monotonic() - started
            # Warm up: a few idle cycles, so that caches and pools have their steady size.
            warm = len(poll_lines(log)) + 10
            wait_until(lambda: len(poll_lines(log)) >= warm, 60, "warm-up cycles")
            rss_start = rss_mb(daemon.pid)
            proxy.reset_counts()
            first_edit_cycle = len(poll_lines(log))

            editor = Editor(wiki, titles, args.edit_every, args.seed)
            editor.start()
            samples = [rss_start]
            deadline = time.monotonic() + args.minutes * 60
            while time.monotonic() < deadline:
                time.sleep(min(15.0, max(0.0, deadline - time.monotonic())))
                samples.append(rss_mb(daemon.pid))
            editor.stop.set()
            editor.join()
            busy = poll_lines(log)[first_edit_cycle:]
            counts = dict(proxy.counts)

            # Idle: let the last edits be polled, then measure CPU over idle cycles only.
            wait_until(lambda: poll_lines(log)[-1][2] == 0, 30, "an idle cycle")
            idle_from, cpu0, t0 = len(poll_lines(log)), cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(args.idle)
            idle = poll_lines(log)[idle_from:]
            cpu_idle = (cpu_seconds(daemon.pid) - cpu0) / max(1, len(idle))
            idle_wall = time.monotonic() - t0
            rss_end = rss_mb(daemon.pid)
        finally:
            daemon.terminate()
            daemon.wait(15)
            proxy.stop()
            wiki.stop()

    floor_status = math.ceil(args.pages / 50)
    over = [r - (floor_status + c) for _, _, c, _, r in busy]
    changed = sum(c for _, _, c, _, _ in busy)
    requests = sum(r for *_, r in busy)
    floor = len(busy) * floor_status + changed
    print(
        f"Soak: {args.pages} pages, interval {args.interval:g} s, {args.minutes:g} min of "
        f"edits ({editor.edits} edits), {args.idle:g} s idle; backfill {backfill:.1f} s\n"
    )
    print("| measure | value | target |")
    print("| --- | --- | --- |")
    print(f"| poll cycles during edits | {len(busy)} | |")
    print(
        f"| API requests, total (floor: {floor_status}/cycle + 1 per changed page) | "
        f"{requests} (floor {floor}) | <= floor |"
    )
    print(
        f"| requests per cycle, mean / max | {requests / max(1, len(busy)):.2f} / "
        f"{max((r for *_, r in busy), default=0)} | {floor_status} + changed pages |"
    )
    print(f"| cycles above the floor | {sum(1 for o in over if o > 0)} of {len(busy)} | 0 |")
    print(
        f"| proxy: status / content requests | {counts.get('status', 0)} / "
        f"{counts.get('content', 0)} (other {counts.get('other', 0)}) | "
        f"{len(busy) * floor_status} / {changed} |"
    )
    print(f"| idle cycles measured | {len(idle)} in {idle_wall:.0f} s | |")
    print(f"| CPU per idle cycle | {cpu_idle * 1000:.1f} ms | |")
    growth = (rss_end - rss_start) / rss_start * 100
    print(
        f"| RSS after warm-up / at the end | {rss_start:.1f} MB / {rss_end:.1f} MB "
        f"({growth:+.1f} %) | growth < 10 % |"
    )
    print(f"| RSS min / max while editing | {min(samples):.1f} / {max(samples):.1f} MB | |")


if __name__ == "__main__":
    main()
