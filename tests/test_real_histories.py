"""The tracker on real histories: exports of Wikipedia, Wiktionary and Commons pages.

The corpus (tests/data/real, described in its README.md and manifest.yaml) is read here with an
independent reader (tests/realcorpus.py, xml.etree) and ingested the way a user would: with
``import_snapshot``, ``tracker snapshot import`` and a ``snapshot = ...`` wiki under
``tracker run --once``. The tracker must then agree with the file (every revision, MediaWiki's
order) and with mwreverts (MediaWiki's manual-revert rule, radius 15).

Two kinds of files (README, "Where the files are"): those a package registry serves, which
scripts/get_real_corpus.py fetches (CI runs it first; with TRACKER_REQUIRE_REAL_CORPUS set a
missing one fails its tests, otherwise they skip saying how to get it); and those only a
GitHub repository has, opt-in: their cases exist only where the file is present (e.g. with
TRACKER_REAL_CORPUS=/path), so they neither fail nor skip where it is not.

Also the two synthetic repros of issue 9 (tests/data/repro).
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import realcorpus
from click.testing import CliRunner
from trackerutil import write_config

from tracker.cli import main
from tracker.fetch.archive import import_snapshot
from tracker.fetch.snapshot import SnapshotSource
from tracker.history import revision_pair_diff
from tracker.store import Store

WIKI = "real"
MANIFEST = realcorpus.load_manifest()
COMPRESSED = realcorpus.available(MANIFEST, "compressed")  # opt-in: none comes from a registry
DIFF_TEXT_PAIRS = 25  # `tracker diff` text runs per file (pairs with template headings first)

# Real files that show a bug of the tracker: each test on the file is expected to fail with
# that error (strict: once the bug is fixed, the xfail fails and must be removed). None now:
# "enwiki-2017-table-markup-5-pages.xml.bz2" (no <siteinfo>, which mwxml requires and
# MediaWiki's schema does not) was one.
KNOWN_BUGS: dict[str, tuple[type[BaseException], str]] = {}


def _cases(names: list[str]) -> list:
    return [
        pytest.param(
            name,
            id=name,
            marks=[
                pytest.mark.xfail(
                    strict=True, raises=KNOWN_BUGS[name][0], reason=KNOWN_BUGS[name][1]
                )
            ]
            if name in KNOWN_BUGS
            else [],
        )
        for name in names
    ]


TEST_FILES = _cases(realcorpus.available(MANIFEST, "test"))


def _present(name: str) -> list[str]:
    """[name] where the (opt-in) file is present, else []: a case only where it can run."""
    return [name] if realcorpus.find_file(name) is not None else []


def corpus_file(name: str) -> Path:
    path = realcorpus.find_file(name)
    if path is None:
        where = [str(d) for d in realcorpus.corpus_dirs()]
        message = (
            f"corpus file {name} is not in {where}; run python scripts/get_real_corpus.py"
            f" (tests/data/real/README.md)"
        )
        if os.environ.get("TRACKER_REQUIRE_REAL_CORPUS"):
            pytest.fail(message)  # CI: a missing corpus is a failure, never a skip
        pytest.skip(message)
    return path


@dataclass
class Imported:
    """One corpus file ingested once per test session (each test reads, none writes)."""

    name: str
    plain: Path  # the export as .xml (decompressed under the session's tmp dir)
    db: Path
    config: Path
    info: realcorpus.Export
    pages: list[realcorpus.Page]
    first_counts: dict[str, int]
    second_counts: dict[str, int]

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(
            main, ["--config", str(self.config), *args], catch_exceptions=False
        )
        assert result.exit_code == 0, f"tracker {' '.join(args)}: {result.output}"
        return result.output

    def stored(self) -> dict[int, list[dict]]:
        """Stored revision rows per page id of the wiki (the file's page ids)."""
        with Store(self.db) as store:
            rows = store.query(
                "SELECT p.pageid, r.* FROM revisions r JOIN pages p ON p.id = r.page_id"
            )
        out: dict[int, list[dict]] = {}
        for row in rows:
            out.setdefault(row["pageid"], []).append(row)
        return out


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory):
    cache: dict[str, Imported] = {}

    def get(name: str) -> Imported:
        if name not in cache:
            source = corpus_file(name)
            directory = tmp_path_factory.mktemp(name.split(".")[0])
            plain = realcorpus.decompressed(source, directory)
            info, pages = realcorpus.read_pages(plain)
            db = directory / "t.db"
            with Store(db) as store:
                first = import_snapshot(store, plain, WIKI)
                second = import_snapshot(store, plain, WIKI)
            config = write_config(
                directory,
                wikis=[{"name": WIKI, "snapshot": str(plain)}],
                watches=[],
                database=str(db),
            )
            cache[name] = Imported(name, plain, db, config, info, pages, first, second)
        return cache[name]

    return get


# ---- every revision, once, in MediaWiki's order ------------------------------------------


@pytest.mark.parametrize("name", TEST_FILES)
def test_import_snapshot_stores_every_revision(imported, name: str) -> None:
    """The stored revision set of each page equals the file's, and the manifest's count."""
    corpus = imported(name)
    expected = {p["pageid"]: p["revisions"] for p in MANIFEST["files"][name]["pages"]}
    stored = corpus.stored()
    for page in corpus.pages:
        revids = {row["revid"] for row in stored.get(page.pageid, [])}
        assert len(page.revisions) == expected[page.pageid]
        missing = sorted({r.revid for r in page.revisions} - revids)
        assert not missing, (
            f"{page.title}: {len(missing)} of {len(page.revisions)} revisions "
            f"not stored, e.g. {missing[:5]}"
        )
        assert len(revids) == expected[page.pageid], page.title


@pytest.mark.parametrize("name", TEST_FILES)
def test_import_snapshot_twice_adds_nothing(imported, name: str) -> None:
    corpus = imported(name)
    assert sum(corpus.second_counts.values()) == 0, corpus.second_counts
    total = sum(len(rows) for rows in corpus.stored().values())
    assert total == MANIFEST["files"][name]["revisions"]


@pytest.mark.parametrize("name", TEST_FILES)
def test_history_json_mediawiki_order(imported, name: str) -> None:
    """`tracker history TITLE --json` lists every revision by (timestamp, revid)."""
    corpus = imported(name)
    for page in corpus.pages:
        records = json.loads(corpus.cli("history", page.title, "--wiki", WIKI, "--json"))
        expected = [r.revid for r in page.history()]
        got = [r["revid"] for r in records]
        assert got == expected, (
            f"{page.title}: history order differs at position "
            f"{_first_difference(got, expected)} of {len(expected)}"
        )
        stamps = [(r["timestamp"], r["revid"]) for r in records]
        assert stamps == sorted(stamps), page.title


def _first_difference(a: list, b: list) -> int:
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


# ---- reverts as MediaWiki defines them --------------------------------------------------


def agreement(ours: set, theirs: set) -> float:
    """|ours ∩ theirs| / |ours ∪ theirs| (Jaccard); 1.0 when both are empty.

    Used for reverting revisions (revids whose stored ``revert_of`` is set, against those
    mwreverts reports as reverting) and for reverted revisions (stored ``reverted_by`` set,
    against mwreverts' reverteds), over all pages of a file, keyed by (page id, revid).
    """
    union = ours | theirs
    return 1.0 if not union else len(ours & theirs) / len(union)


@pytest.mark.parametrize("name", TEST_FILES)
def test_reverts_match_mwreverts(imported, name: str) -> None:
    """Reverts agree with mwreverts (radius 15) computed here from the file.

    mwreverts runs over the history in (timestamp, revid) order with the sha1 of each text: a
    revision restoring the content of one of the revisions before it within the radius, not
    its parent, reverts the ones in between (MediaWiki's manual-revert rule). A revision with
    hidden text restores nothing and is never restored (its content is unknown to both).
    Agreement (see ``agreement``) must be at least 98 % on reverting and on reverted
    revisions, and the reverted share of the history within one point of mwreverts'.
    """
    corpus = imported(name)
    stored = corpus.stored()
    ours_reverting, ours_reverted, ref_reverting, ref_reverted = set(), set(), set(), set()
    total = 0
    for page in corpus.pages:
        reference = realcorpus.reference_reverts(page.history())
        ref_reverting |= {(page.pageid, revid) for revid in reference.reverting}
        ref_reverted |= {(page.pageid, revid) for revid in reference.reverted}
        for row in stored.get(page.pageid, []):
            if row["revert_of"] is not None:
                ours_reverting.add((page.pageid, row["revid"]))
            if row["reverted_by"] is not None:
                ours_reverted.add((page.pageid, row["revid"]))
        total += len(page.revisions)
    details = (
        f"reverting: ours {len(ours_reverting)}, mwreverts {len(ref_reverting)}, "
        f"only ours {sorted(ours_reverting - ref_reverting)[:5]}, "
        f"only mwreverts {sorted(ref_reverting - ours_reverting)[:5]}; "
        f"reverted: ours {len(ours_reverted)}, mwreverts {len(ref_reverted)}"
    )
    assert agreement(ours_reverting, ref_reverting) >= 0.98, details
    assert agreement(ours_reverted, ref_reverted) >= 0.98, details
    share_ours = 100 * len(ours_reverted) / total
    share_ref = 100 * len(ref_reverted) / total
    assert abs(share_ours - share_ref) <= 1.0, (
        f"reverted share {share_ours:.1f} % against mwreverts' {share_ref:.1f} %; {details}"
    )


# ---- headings ---------------------------------------------------------------------------


def _blank(path: list[str] | None) -> bool:
    return path is not None and any(not part.strip() for part in path)


@pytest.mark.parametrize("name", TEST_FILES)
def test_diffs_no_empty_heading(imported, name: str) -> None:
    """No section path, stored or in a diff, has an empty heading: only the lead has no
    heading ([])."""
    corpus = imported(name)
    bad: list[tuple[int, list[str]]] = []
    with Store(corpus.db) as store:
        for row in store.query(
            "SELECT r.revid, p.path FROM section_changes c JOIN revisions r ON r.id = c.rev_id "
            "JOIN section_paths p ON p.id = c.path_id"
        ):
            if _blank(json.loads(row["path"])):
                bad.append((row["revid"], json.loads(row["path"])))
        for page in store.query("SELECT id FROM pages"):
            previous = None
            for row in store.revisions(page["id"]):
                if not row["has_text"]:
                    continue
                sections = revision_pair_diff(store, previous, row)["sections"]
                previous = row
                for section in sections:
                    for path in (section["path"], section.get("old_path")):
                        if _blank(path):
                            bad.append((row["revid"], path))
                leads = [s for s in sections if s["path"] == [] and "removed" not in s["kinds"]]
                assert len(leads) <= 1, f"r{row['revid']}: {len(leads)} sections as the lead"
    assert not bad, f"{len(bad)} section paths with an empty heading, e.g. {bad[:5]}"


@pytest.mark.parametrize("name", TEST_FILES)
def test_page_list_agrees_with_the_file(imported, name: str) -> None:
    """The page list of a poll (`SnapshotSource.pages`: texts skipped, read with xml.etree;
    mwxml for formats before 0.6) has each page of the file with its revision count and
    its last revision in MediaWiki's order."""
    corpus = imported(name)
    listed = {page.pageid: page for page in SnapshotSource(WIKI, corpus.plain).pages()}
    assert sorted(listed) == sorted(page.pageid for page in corpus.pages)
    for page in corpus.pages:
        found = listed[page.pageid]
        history = page.history()
        assert (found.title, found.revisions) == (page.title, len(history)), page.title
        assert found.lastrevid == (history[-1].revid if history else None), page.title
        if page.ns is not None:
            assert found.ns == page.ns


@pytest.mark.parametrize("name", TEST_FILES)
def test_stored_section_changes_are_those_of_the_whole_diff(imported, name: str) -> None:
    """The ingest diffs without detail (no word operations, no wiki-semantic records: the
    store keeps ids, kinds, paths and word counts); the whole diff derived later for the same
    pair names the same sections, with the same kinds, paths and counts. (Wikitext only:
    a script or style sheet is kept whole, without section changes.)"""
    corpus = imported(name)
    compared = 0
    with Store(corpus.db) as store:
        for page in store.query("SELECT id FROM pages"):
            previous = None
            for row in store.revisions(page["id"]):
                if not row["has_text"] or row["content_model"] != "wikitext":
                    continue
                derived = sorted(
                    (s["id"], s["kinds"], s["path"], s["words_added"], s["words_removed"])
                    for s in revision_pair_diff(store, previous, row)["sections"]
                    if s["kinds"]
                )
                previous = row
                stored = sorted(
                    (c["section_id"], c["kinds"], c["path"], c["words_added"], c["words_removed"])
                    for c in store.section_changes([row["id"]])
                )
                assert derived == stored, f"r{row['revid']}"
                compared += bool(stored)
    assert compared, "no revision with section changes"


@pytest.mark.parametrize("name", TEST_FILES)
def test_diff_text_lead_label_only_for_lead(imported, name: str) -> None:
    """`tracker diff` text never says "(lead)" for a section that has a heading.

    Checked on consecutive pairs whose texts have template headings (then others), against
    the same diff as JSON: "(lead)" may label only sections whose path (or old path) is [].
    """
    corpus = imported(name)
    pairs = []
    for page in corpus.pages:
        history = [r for r in page.history() if not r.texthidden]
        for old, new in zip(history, history[1:], strict=False):
            pairs.append((bool(new.template_headings or old.template_headings), page, old, new))
    pairs.sort(key=lambda item: not item[0])  # pairs with template headings first, stable
    for _, page, old, new in pairs[:DIFF_TEXT_PAIRS]:
        args = (
            "diff",
            page.title,
            "--wiki",
            WIKI,
            "--from",
            str(old.revid),
            "--to",
            str(new.revid),
        )
        text = corpus.cli(*args, "--no-color")
        data = json.loads(corpus.cli(*args, "--json"))
        labels = sum(
            line.startswith("(lead)") or "was: (lead)" in line for line in text.splitlines()
        )
        allowed = sum(
            bool(s["kinds"]) * ((s["path"] == []) + (s.get("old_path") == [] and s["path"] != []))
            for s in data["sections"]
        )
        assert labels <= allowed, (
            f"{page.title} r{old.revid}→r{new.revid}: {labels} "
            f"'(lead)' labels for {allowed} lead sections:\n{text}"
        )


# ---- hidden revisions, sizes ------------------------------------------------------------


@pytest.mark.parametrize("name", TEST_FILES)
def test_hidden_revisions_flags_and_size(imported, name: str) -> None:
    """Hidden parts are stored as hidden; a size is never negative (null when unknown)."""
    corpus = imported(name)
    stored = corpus.stored()
    for page in corpus.pages:
        rows = {row["revid"]: row for row in stored.get(page.pageid, [])}
        for rev in page.revisions:
            row = rows.get(rev.revid)
            if row is None:
                continue  # counted by test_import_snapshot_stores_every_revision
            assert (
                bool(row["texthidden"]),
                bool(row["userhidden"]),
                bool(row["commenthidden"]),
            ) == (rev.texthidden, rev.userhidden, rev.commenthidden), f"r{rev.revid}"
            if rev.userhidden:
                assert row["user"] is None, f"r{rev.revid}"
            if rev.commenthidden:
                assert row["comment"] is None, f"r{rev.revid}"
            assert row["size"] is None or row["size"] >= 0, f"r{rev.revid}: size {row['size']}"
            if rev.size is not None:
                assert row["size"] == rev.size, f"r{rev.revid}"
            elif rev.bytes_attr is None or rev.bytes_attr < 0:
                assert row["size"] is None, f"r{rev.revid}: unknown size stored as {row['size']}"


# ---- reading every export version, compressed or not ------------------------------------


@pytest.mark.parametrize("name", TEST_FILES)
def test_snapshot_source_reads_every_export_version(tmp_path: Path, name: str) -> None:
    """The tracker's reader lists the file's pages and revision counts, whatever the version."""
    plain = realcorpus.decompressed(corpus_file(name), tmp_path)
    expected = {p["pageid"]: p["revisions"] for p in MANIFEST["files"][name]["pages"]}
    pages = {page.pageid: page.revisions for page in SnapshotSource(WIKI, plain).pages()}
    assert pages == expected, MANIFEST["files"][name]["export_version"]


# A registry's .xml.bz2 as gensim ships it; a registry's .xml compressed here with bzip2,
# gzip and xz; then each compressed file of the opt-in corpus.
SHIPPED_BZ2 = "enwiki-2016-pages-articles-206-pages.xml.bz2"
PLAIN = "bgwiki-2017-pages-articles-3-pages.xml"
COMPRESSED_CASES = [
    pytest.param(SHIPPED_BZ2, None, id=SHIPPED_BZ2),
    *(pytest.param(PLAIN, kind, id=f"{PLAIN}.{kind}") for kind in ("bz2", "gz", "xz")),
] + [pytest.param(name, None, id=name) for name in COMPRESSED]
COMPRESS = {"bz2": bz2.compress, "gz": gzip.compress, "xz": lzma.compress}


@pytest.mark.parametrize(("name", "recompress"), COMPRESSED_CASES)
def test_import_snapshot_compressed(tmp_path: Path, name: str, recompress: str | None) -> None:
    """A .xml.bz2, .xml.gz or .xml.xz export is read as it is, like the .xml."""
    path = corpus_file(name)
    if recompress is not None:
        xml = path.read_bytes()
        assert path.suffix == ".xml" and xml.lstrip().startswith(b"<mediawiki"), path
        path = tmp_path / f"{path.name}.{recompress}"
        path.write_bytes(COMPRESS[recompress](xml))
    entry = MANIFEST["files"][name]
    with Store(tmp_path / "t.db") as store:
        counts = import_snapshot(store, path, WIKI)
        assert counts == {p["title"]: p["revisions"] for p in entry["pages"]}
        assert sum(counts.values()) == entry["revisions"], counts
        assert sum(import_snapshot(store, path, WIKI).values()) == 0


# ---- as a user would: the CLI -----------------------------------------------------------


# Non-English exports with localised namespaces: Bulgarian Wikipedia (registry), German
# Wiktionary with 135 revisions of "Hallo" (opt-in).
CLI_IMPORT_FILES = [
    "bgwiki-2017-pages-articles-3-pages.xml",
    *_present("dewiktionary-Hallo.xml.xz"),
]


@pytest.mark.parametrize("name", CLI_IMPORT_FILES)
def test_cli_snapshot_import(tmp_path: Path, name: str) -> None:
    """`tracker snapshot import` of a non-English export, twice: every page once."""
    plain = realcorpus.decompressed(corpus_file(name), tmp_path)
    wiki = name.split("-")[0]
    pages = MANIFEST["files"][name]["pages"]
    config = write_config(tmp_path, wikis=[{"name": wiki, "snapshot": str(plain)}], watches=[])
    runner = CliRunner()
    first = runner.invoke(main, ["--config", str(config), "snapshot", "import", str(plain)])
    assert first.exit_code == 0, first.output
    assert first.output == "".join(
        f"{wiki}: {page['title']}: {page['revisions']} revisions added\n" for page in pages
    )
    second = runner.invoke(main, ["--config", str(config), "snapshot", "import", str(plain)])
    assert second.exit_code == 0, second.output
    assert second.output == "".join(
        f"{wiki}: {page['title']}: 0 revisions added\n" for page in pages
    )
    for page in pages:
        history = runner.invoke(main, ["--config", str(config), "history", page["title"], "--json"])
        assert history.exit_code == 0, history.output
        records = json.loads(history.output)
        assert len(records) == page["revisions"], page["title"]


# Watched pages of a `snapshot = ...` wiki: three articles of English Wikipedia's 2016 dump
# (registry; one revision each, the file holds 206 pages); the 500 revisions of Anarchism
# 2001-2003 (opt-in).
RUN_ONCE_CASES = [
    pytest.param(
        "enwiki-2016-pages-articles-206-pages.xml.bz2",
        ("Anarchism", "Autism", "Acid"),
        id="enwiki-2016-pages-articles-206-pages",
    ),
] + [
    pytest.param(name, ("Anarchism",), id=name)
    for name in _present("enwiki-Anarchism-2001-2003-first500.xml.xz")
]


@pytest.mark.parametrize(("name", "titles"), RUN_ONCE_CASES)
def test_run_once_snapshot_wiki(tmp_path: Path, name: str, titles: tuple[str, ...]) -> None:
    """A `snapshot = ...` wiki under `tracker run --once`: the watched pages' whole histories,
    in MediaWiki's order, and nothing more on a second run."""
    plain = realcorpus.decompressed(corpus_file(name), tmp_path)
    config = write_config(
        tmp_path,
        wikis=[{"name": "enwiki", "snapshot": str(plain)}],
        watches=[{"wiki": "enwiki", "title": title} for title in titles],
    )
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--once", "--no-progress"])
    assert result.exit_code == 0, result.output
    _, pages = realcorpus.read_pages(plain)
    by_title = {page.title: page for page in pages}
    for title in titles:
        history = CliRunner().invoke(main, ["--config", str(config), "history", title, "--json"])
        assert history.exit_code == 0, history.output
        records = json.loads(history.output)
        assert [r["revid"] for r in records] == [r.revid for r in by_title[title].history()]
    again = CliRunner().invoke(main, ["--config", str(config), "run", "--once", "--no-progress"])
    assert again.exit_code == 0, again.output
    expected = sum(p["revisions"] for p in MANIFEST["files"][name]["pages"] if p["title"] in titles)
    with Store(tmp_path / "tracker.db") as store:
        assert store.scalar("SELECT count(*) FROM revisions") == expected


# ---- the two repros of issue 9 (synthetic) ----------------------------------------------


def _repro(tmp_path: Path, name: str) -> tuple[list[dict], list[realcorpus.Rev]]:
    path = realcorpus.REPRO / name
    with Store(tmp_path / "t.db") as store:
        import_snapshot(store, path, WIKI)
    _, pages = realcorpus.read_pages(path)
    config = write_config(
        tmp_path,
        wikis=[{"name": WIKI, "snapshot": str(path)}],
        watches=[],
        database=str(tmp_path / "t.db"),
    )
    result = CliRunner().invoke(
        main, ["--config", str(config), "history", pages[0].title, "--json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output), pages[0].history()


def test_repro_out_of_order_ids_all_stored_in_timestamp_order(tmp_path: Path) -> None:
    records, history = _repro(tmp_path, "out-of-order-ids.xml")
    assert len(history) == 202
    assert history[0].revid == 99999  # the oldest, imported later
    assert [r["revid"] for r in records] == [r.revid for r in history]


def test_repro_blanking_false_revert_radius_15(tmp_path: Path) -> None:
    records, history = _repro(tmp_path, "blanking-false-revert.xml")
    by_id = {r["revid"]: r for r in records}
    assert sorted(by_id) == list(range(1, 25))
    assert by_id[3]["revert_of"] == 1
    assert by_id[2]["reverted_by"] == 3
    assert by_id[24]["revert_of"] is None
    assert all(by_id[i]["reverted_by"] is None for i in range(3, 24))
    reference = realcorpus.reference_reverts(history)
    assert reference.reverting == {3: 1} and reference.reverted == {2}
