"""Benchmark of issue 3: the section-level diff of consecutive revisions.

    python bench/bench_diff.py [--revisions 2000] [--compare 300] [--big 200]
    python bench/bench_diff.py --adversarial-only [--timeout 600]

Against, in the same run: MediaWiki's own action=compare on a real local wiki (the
server-side baseline) and difflib's line diff of the full texts. Prints a Markdown table.
The hostile texts of issue 15 (tests/adversarial.py, at the sizes of its report) are each
diffed in a process of its own, after the diff of their first revision as ingest does, so
that one that crashes or takes too long is told as such (``--adversarial-only``: those
alone, without a wiki; with PYTHONPATH set to another checkout, that checkout's).
"""

from __future__ import annotations

import argparse
import difflib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from genhistory import generate, write_history  # noqa: E402

from tracker.fetch.ingest import PageIngestor  # noqa: E402
from tracker.store import Store  # noqa: E402
from tracker.text.diff import diff_texts  # noqa: E402
from tracker.text.sections import split  # noqa: E402


def time_pairs(texts: list[str]) -> list[float]:
    """Seconds per consecutive pair, carrying the section ids along as ingest does."""
    out = []
    ids = None
    for i in range(1, len(texts)):
        start = time.perf_counter()
        result = diff_texts(texts[i - 1], texts[i], ids, id_prefix=f"{i}.")
        out.append(time.perf_counter() - start)
        ids = result.new_ids
    return out


def time_difflib(texts: list[str]) -> list[float]:
    out = []
    for i in range(1, len(texts)):
        start = time.perf_counter()
        list(difflib.unified_diff(texts[i - 1].splitlines(), texts[i].splitlines(), lineterm=""))
        out.append(time.perf_counter() - start)
    return out


def time_compare(titles_xml: Path, title: str, count: int, pairs: int) -> list[float]:
    """Wall time of action=compare for consecutive pairs on a real local MediaWiki."""
    from mediawiki import TestWiki

    with tempfile.TemporaryDirectory(prefix="bench-diff-wiki-") as tmp:
        wiki = TestWiki.start(Path(tmp) / "wiki")
        try:
            wiki.import_xml(titles_xml)
            site = wiki.anon_site()
            revids = [r["revid"] for r in wiki.revisions(title, anonymous=True)]
            assert len(revids) == count
            rng = random.Random(7)
            chosen = sorted(rng.sample(range(1, count), min(pairs, count - 1)))
            out = []
            for i in chosen:
                start = time.perf_counter()
                site.api("compare", "GET", fromrev=revids[i - 1], torev=revids[i], formatversion=2)
                out.append(time.perf_counter() - start)
            return out
        finally:
            wiki.stop()


def pathological(size: int) -> list[tuple[str, str, str]]:
    """Pairs built to hurt: everything rewritten, paragraphs shuffled, one giant section."""
    rng = random.Random(3)
    base = next(iter(generate(1, size=size, seed=9))).text or ""
    words = base.split(" ")
    rewritten = " ".join(rng.choice(words) for _ in words)
    paragraphs = base.split("\n\n")
    shuffled = paragraphs[:]
    rng.shuffle(shuffled)
    flat = base.replace("\n==", "\n")
    # The word diff's own worst cases (tests/test_worddiff.py checks they come out right).
    huge_line = " ".join(rng.choice("abcdefgh") for _ in range(60_000))
    items = "".join(f"* item {i}\n" for i in range(20_000))
    alternating = "".join(f"* {'entry' if i % 2 else 'item'} {i}\n" for i in range(20_000))
    unrelated = [
        "\n".join(" ".join(rng.choice("xyzw") for _ in range(40)) for _ in range(3000))
        for _ in range(2)
    ]
    tokens = [" ".join(rng.choice(["a", "b"]) for _ in range(100_000)) for _ in range(2)]
    return [
        ("all words rewritten", base, rewritten),
        ("paragraphs shuffled", base, "\n\n".join(shuffled)),
        ("headings all removed", base, flat),
        ("empty to full", "", base),
        ("full to empty", base, ""),
        ("one huge line, both ends edited", huge_line, "start " + huge_line[5:-5] + " end"),
        ("alternating list lines changed", items, alternating),
        ("two unrelated texts", unrelated[0], unrelated[1]),
        ("two tokens shuffled", tokens[0], tokens[1]),
    ]


# One hostile case, in a process of its own: its first revision, then the edit, timed.
_ONE_CASE = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from adversarial import CASES
from tracker.text.diff import diff_texts
make, n = CASES[sys.argv[2]]
old, new = make(n)
diff_texts(None, old)
start = time.perf_counter()
try:
    result = diff_texts(old, new)
except RecursionError:
    print(json.dumps({"error": "RecursionError"}))
else:
    notes = [c["type"] for e in result.sections for c in e["changes"]
             if c["type"] in ("semantics_skipped", "words_coarsened")]
    notes += [c["type"] for c in result.page_changes if c["type"] == "semantics_skipped"]
    print(json.dumps({"seconds": time.perf_counter() - start, "size": len(new),
                      "notes": sorted(set(notes))}))
"""


def adversarial(timeout: float) -> list[tuple[str, str]]:
    """(case, what the edit of its text cost) for each case of tests/adversarial.py."""
    from adversarial import CASES

    rows = []
    for name, (_make, n) in CASES.items():
        try:
            done = subprocess.run(
                [sys.executable, "-c", _ONE_CASE, str(ROOT / "tests"), name],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            rows.append((f"{name} ({n:,})", f"not done in {timeout:.0f} s"))
            continue
        if done.returncode < 0:
            rows.append((f"{name} ({n:,})", f"crashed (signal {-done.returncode})"))
            continue
        try:
            found = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            rows.append((f"{name} ({n:,})", f"failed: {done.stderr.strip()[-200:]}"))
            continue
        if "error" in found:
            rows.append((f"{name} ({n:,})", found["error"]))
            continue
        notes = f" ({', '.join(found['notes'])})" if found["notes"] else ""
        cost = f"{found['seconds'] * 1000:,.0f} ms{notes}"
        rows.append((f"{name} ({n:,}; {found['size'] / 1000:,.0f} KB)", cost))
    return rows


def long_article() -> str:
    """250 KB of 600 short sections, links and references in every paragraph (what
    tests/test_sections.py splits to check the result)."""
    paragraph = "Word [[link|label]] text.<ref>{{cite web |url=https://x.org |title=T}}</ref> " * 8
    return "".join(
        f"\n== Section {n} ==\n{paragraph}\n\n=== Sub {n} ===\n{paragraph}\n" for n in range(300)
    )


def time_split(text: str, runs: int = 5) -> float:
    """The median seconds to split ``text``, each run on a text the cache has not seen."""
    times = []
    for _ in range(runs):
        unseen = text + f"<!-- {time.perf_counter_ns()} -->"
        start = time.perf_counter()
        split(unseen)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=2000)
    parser.add_argument("--compare", type=int, default=300, help="pairs sent to action=compare")
    parser.add_argument("--big", type=int, default=200, help="revisions of the 250 KB article")
    parser.add_argument(
        "--adversarial-only",
        action="store_true",
        help="only the hostile texts of issue 15 (no wiki needed)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600,
        help="seconds a hostile text may take before it is told as not done",
    )
    args = parser.parse_args()
    if args.adversarial_only:
        print("| hostile text (size) | one edit of it |")
        print("|---|---|")
        for name, cost in adversarial(args.timeout):
            print(f"| {name} | {cost} |")
        return

    revisions = list(generate(args.revisions, size=60_000))
    texts = [r.text or "" for r in revisions]
    ours = time_pairs(texts)
    lines = time_difflib(texts)
    with tempfile.TemporaryDirectory(prefix="bench-diff-") as tmp:
        xml = Path(tmp) / "history.xml"
        write_history(xml, "Generated article", args.revisions, size=60_000)
        compare = time_compare(xml, "Generated article", args.revisions, args.compare)
        with Store(Path(tmp) / "t.db") as store:
            wiki_id = store.wiki_id("bench")
            page = store.upsert_page(wiki_id, 1, "Generated article")
            ingestor = PageIngestor(store, wiki_id, page["id"])
            for i in range(0, len(revisions), 500):
                ingestor.add(revisions[i : i + 500])
            store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            changes = store.scalar("SELECT count(*) FROM section_changes")
        db_size = (Path(tmp) / "t.db").stat().st_size
    raw = sum(len(t.encode()) for t in texts)
    big_texts = [r.text or "" for r in generate(args.big, size=250_000, seed=5)]
    big = time_pairs(big_texts)
    worst = []
    for name, old, new in pathological(250_000):
        start = time.perf_counter()
        diff_texts(old or None, new)
        worst.append((name, time.perf_counter() - start))
    hostile = adversarial(args.timeout)
    split_seconds = time_split(long_article())

    median = statistics.median(ours)
    print(
        f"\n{args.revisions} consecutive pairs of a ~60 KB article (median "
        f"{statistics.median(len(t) for t in texts) / 1000:.0f} KB), "
        f"{args.big} of a ~{statistics.median(len(t) for t in big_texts) / 1000:.0f} KB one\n"
    )
    print("| measure | wiki tracker | baseline | ratio | target |")
    print("|---|---|---|---|---|")
    print(
        f"| median ms per pair, 60 KB (split, sections, words, semantics) | {ms(ours)} | "
        f"MediaWiki action=compare {ms(compare)} ({len(compare)} pairs) | "
        f"{statistics.median(compare) / median:.0f}x faster | <= 5 ms, >= 10x |"
    )
    print(
        f"| same, against difflib line diff of the full texts | {ms(ours)} | "
        f"difflib {ms(lines)} | {statistics.median(lines) / median:.1f}x faster | faster |"
    )
    print(
        f"| p95 / max ms per pair, 60 KB | {sorted(ours)[int(len(ours) * 0.95)] * 1000:.1f} / "
        f"{max(ours) * 1000:.1f} | | | |"
    )
    print(f"| median ms per pair, 250 KB | {ms(big)} | | | <= 20 ms |")
    print(f"| max ms per pair, 250 KB | {max(big) * 1000:.1f} | | | < 1000 |")
    for name, seconds in worst:
        print(f"| worst case: {name} | {seconds * 1000:.0f} ms | | | < 1000 ms |")
    print(
        f"| split a 250 KB article of 600 sections | {split_seconds * 1000:.1f} ms | | | "
        "< 1000 ms |"
    )
    for name, cost in hostile:
        print(f"| worst case (issue 15): {name} | {cost} | | | seconds, not minutes |")
    print(
        f"| database size ({changes:,} section changes stored, diffs derived) | "
        f"{db_size / 1e6:.1f} MB | raw wikitext {raw / 1e6:.0f} MB | "
        f"{100 * db_size / raw:.1f} % | <= 10 % |"
    )


if __name__ == "__main__":
    main()
