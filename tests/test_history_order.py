"""History order is MediaWiki's (timestamp, then revision id), and so are reverts.

Revision ids are not in time order on real wikis: every revision is kept whatever its id,
consecutive diffs follow history order, a revision arriving late is put in its place, and
what depended on the order after it is re-derived; the result equals ingesting the history
in order at once. Reverts follow MediaWiki's rule (radius 15), checked against mwreverts.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
from dataclasses import replace
from pathlib import Path

import mwreverts
import pytest
from click.testing import CliRunner
from genhistory import generate
from hypothesis import given, settings
from hypothesis import strategies as st
from trackerutil import write_config

from tracker.cli import main
from tracker.fetch import ingest
from tracker.fetch.archive import import_snapshot
from tracker.fetch.ingest import PageIngestor, rederive_pending
from tracker.history import revision_pair_diff
from tracker.model import Revision, sha1_hex
from tracker.store import Store
from tracker.text import reverts

DATA = Path(__file__).parent / "data"
REPRO = DATA / "repro"


def rev(revid: int, text: str, ts: str, **kw: object) -> Revision:
    return Revision(
        revid=revid,
        parentid=0,
        timestamp=ts,
        user="U",
        userid=1,
        comment=f"r{revid}",
        minor=False,
        size=len(text.encode()),
        sha1=sha1_hex(text),
        text=text,
        **kw,
    )  # type: ignore[arg-type]


def new_page(store: Store, pageid: int = 7) -> PageIngestor:
    wiki_id = store.wiki_id("w")
    with store.atomic():
        row = store.upsert_page(wiki_id, pageid, f"Page {pageid}")
    return PageIngestor(store, wiki_id, row["id"])


def derived_state(store: Store, page_id: int) -> list[tuple]:
    """Everything derived from the order: per revision in history order, its section ids,
    the sections it changed (and how), its diff against the revision before it with text
    (which one, and what), its revert marks."""
    out = []
    previous = None
    for row in store.revisions(page_id):
        changes = store.query(
            "SELECT c.section_id, c.kinds, p.path FROM section_changes c "
            "JOIN section_paths p ON p.id = c.path_id WHERE c.rev_id = ? ORDER BY c.section_id",
            [row["id"]],
        )
        diff = revision_pair_diff(store, previous, row) if row["has_text"] else None
        out.append(
            (
                row["revid"],
                row["timestamp"],
                tuple(store.section_ids(row["id"])),
                json.dumps(diff, sort_keys=True),
                tuple((c["section_id"], c["kinds"], c["path"]) for c in changes),
                row["revert_of"],
                row["reverted_by"],
            )
        )
        if row["has_text"]:
            previous = row
    return out


# ---- reverts: MediaWiki's rule, mwreverts as the judge -------------------------------------


def test_reverts_blanking_repro_follows_the_radius(tmp_path: Path) -> None:
    with Store(tmp_path / "t.db") as store:
        import_snapshot(store, REPRO / "blanking-false-revert.xml", "w")
        rows = store.revisions(store.find_page("B")["id"])
    assert len(rows) == 24
    ids = [r["revid"] for r in rows]
    marks = {r["revid"]: (r["revert_of"], r["reverted_by"]) for r in rows}
    assert marks[ids[2]] == (ids[0], None)  # revision 3 restores revision 1
    assert marks[ids[1]][1] == ids[2]  # revision 2 is reverted by it
    assert marks[ids[23]] == (None, None)  # 22 revisions after the first blanking: no revert
    assert all(marks[i][1] is None for i in ids[2:23])
    assert sum(1 for r in rows if r["reverted_by"]) == 1


def test_reverts_radius_boundary() -> None:
    # The restored revision may be up to RADIUS revisions before the parent, no farther.
    def history(gap: int) -> list[reverts.Rev]:
        revs = [reverts.Rev(1, "A")] + [reverts.Rev(2 + k, f"x{k}") for k in range(gap)]
        return revs + [reverts.Rev(100, "A")]

    inside, _ = reverts.detect(history(reverts.RADIUS))  # 14 between, then the parent
    outside, _ = reverts.detect(history(reverts.RADIUS + 1))
    assert inside == {100: 1} and outside == {}


def test_reverts_null_edit_is_not_a_revert() -> None:
    revert_of, reverted_by = reverts.detect(
        [reverts.Rev(1, "A"), reverts.Rev(2, "B"), reverts.Rev(3, "B")]
    )
    assert revert_of == {} and reverted_by == {}


def test_reverts_tagged_rollback_beyond_the_radius() -> None:
    vandal = [reverts.Rev(10 + k, f"v{k}") for k in range(30)]
    history = [reverts.Rev(1, "good"), *vandal, reverts.Rev(99, "good", ("mw-rollback",))]
    revert_of, reverted_by = reverts.detect(history)
    assert revert_of == {99: 1}
    assert set(reverted_by) == {r.revid for r in vandal} and set(reverted_by.values()) == {99}
    # Without MediaWiki's tag the same content that far back is not a revert.
    untagged, _ = reverts.detect([*history[:-1], reverts.Rev(99, "good")])
    assert untagged == {}


def test_reverts_mw_reverted_tag_counts() -> None:
    history = [
        reverts.Rev(1, "a"),
        reverts.Rev(2, "b", ("mw-reverted",)),
        reverts.Rev(3, "c", ("mw-undo",)),
    ]  # an undo that restores no earlier text
    revert_of, reverted_by = reverts.detect(history)
    assert revert_of == {} and reverted_by == {2: 3}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=60))
def test_reverts_agree_with_mwreverts(checksums: list[str]) -> None:
    history = [reverts.Rev(k + 1, c) for k, c in enumerate(checksums)]
    revert_of, reverted_by = reverts.detect(history)
    theirs_of: dict[int, int] = {}
    theirs_by: dict[int, int] = {}
    detector = mwreverts.Detector(radius=reverts.RADIUS)
    for r in history:
        found = detector.process(r.sha1, r.revid)
        if found is not None:
            theirs_of[found.reverting] = found.reverted_to
            for reverted in found.reverteds:
                theirs_by.setdefault(reverted, found.reverting)
    assert revert_of == theirs_of
    assert set(reverted_by) == set(theirs_by)


# ---- every revision, in history order -----------------------------------------------------


def test_history_out_of_order_ids_repro(tmp_path: Path) -> None:
    snapshot = REPRO / "out-of-order-ids.xml"
    config = write_config(
        tmp_path,
        database="t.db",
        wikis=[{"name": "repro", "snapshot": str(snapshot)}],
        watches=[{"wiki": "repro", "title": "P"}],
    )
    runner = CliRunner()
    first = runner.invoke(main, ["--config", str(config), "run", "--once"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["--config", str(config), "run", "--once"])
    assert again.exit_code == 0 and "0 revisions stored" in again.output
    out = runner.invoke(main, ["--config", str(config), "history", "P", "--json"])
    records = json.loads(out.output)
    assert len(records) == 202
    assert records[0]["revid"] == 99999  # imported later, but the oldest
    places = [(r["timestamp"], r["revid"]) for r in records]
    assert places == sorted(places)


def _ingest_in_order(store: Store, revisions: list[Revision], pageid: int) -> int:
    ingestor = new_page(store, pageid)
    ingestor.add(sorted(revisions, key=ingest.position))
    ingestor.finish()
    return ingestor.page_id


def test_history_any_arrival_order_equals_history_order(tmp_path: Path) -> None:
    revisions = list(generate(60, size=6000, seed=3))
    # Ids out of time order, as on real wikis: some old edits carry new, high ids.
    rng = random.Random(5)
    revisions = [
        replace(r, revid=90_000 + k) if rng.random() < 0.15 else r for k, r in enumerate(revisions)
    ]
    with Store(tmp_path / "a.db") as store:
        expected = derived_state(store, _ingest_in_order(store, revisions, 1))
    shuffled = revisions[:]
    rng.shuffle(shuffled)
    with Store(tmp_path / "b.db") as store:
        ingestor = new_page(store, 1)
        for start in range(0, len(shuffled), 7):  # batches in any order, some in the past
            ingestor.add(shuffled[start : start + 7])
        ingestor.finish()
        assert store.page(ingestor.page_id)["rederive_from"] is None
        assert derived_state(store, ingestor.page_id) == expected
    with Store(tmp_path / "c.db") as store:
        # And by id order, the way dumps list revisions.
        later = new_page(store, 1)
        later.add(sorted(revisions, key=lambda r: r.revid))
        later.finish()
        assert derived_state(store, later.page_id) == expected


def test_history_rederive_resumes_after_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    revisions = list(generate(40, size=5000, seed=8))
    late = replace(revisions[0], revid=500_000)  # the oldest edit, imported later
    with Store(tmp_path / "a.db") as store:
        expected = derived_state(store, _ingest_in_order(store, [late, *revisions[1:]], 1))
    monkeypatch.setattr(ingest, "REDERIVE_CHUNK", 5)
    with Store(tmp_path / "b.db") as store:
        ingestor = new_page(store, 1)
        ingestor.add(revisions[1:])
        ingestor.add([late])
        calls = 0
        real = store.put_section_changes

        def failing(*args: object, **kwargs: object) -> None:
            nonlocal calls
            calls += 1
            if calls == 12:  # in the third chunk: two chunks committed, this one rolls back
                raise KeyboardInterrupt
            real(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(store, "put_section_changes", failing)
        with pytest.raises(KeyboardInterrupt):
            ingestor.finish()
        monkeypatch.setattr(store, "put_section_changes", real)
        assert store.page(ingestor.page_id)["rederive_from"] is not None
        assert rederive_pending(store) > 0
        assert derived_state(store, ingestor.page_id) == expected


def test_history_hidden_size_is_unknown_not_negative(tmp_path: Path) -> None:
    with Store(tmp_path / "t.db") as store:
        import_snapshot(store, DATA / "migration" / "hidden.xml", "w")
        rows = store.revisions(store.find_page("H")["id"])
    assert [r["size"] for r in rows] == [14, None, 19]
    assert rows[1]["texthidden"] and rows[1]["user"] is None and rows[1]["comment"] is None


# ---- databases of 0.1.0 --------------------------------------------------------------------


def test_history_migration_from_0_1_0(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    with gzip.open(DATA / "migration" / "tracker-0.1.0.db.gz") as old, path.open("wb") as out:
        shutil.copyfileobj(old, out)
    with Store(path) as store:  # migrates in place
        blank = store.revisions(store.find_page("B", "blank")["id"])
        assert sum(1 for r in blank if r["reverted_by"]) == 1  # MediaWiki's rule, not 22
        hidden = store.revisions(store.find_page("H", "hidden")["id"])
        assert [r["size"] for r in hidden] == [14, None, 19]
        page = store.find_page("P", "ids")
        assert page["rederive_from"] == 99999  # the order changed from the first revision on
        # The next run finishes the job and fetches what 0.1.0 skipped.
        import_snapshot(store, REPRO / "out-of-order-ids.xml", "ids")
        assert store.page(page["id"])["rederive_from"] is None
        migrated = derived_state(store, page["id"])
    with Store(tmp_path / "fresh.db") as store:
        import_snapshot(store, REPRO / "out-of-order-ids.xml", "ids")
        fresh = derived_state(store, store.find_page("P")["id"])
    assert len(migrated) == 202
    assert migrated == fresh


# ---- the command line ----------------------------------------------------------------------


def test_cli_history_piped_into_head_stops_quietly(tmp_path: Path) -> None:
    import subprocess
    import sys

    from genhistory import write_history

    export = tmp_path / "long.xml"
    write_history(export, "Long", 1500, size=2000)
    config = write_config(tmp_path, database="t.db")
    with Store(tmp_path / "t.db") as store:
        import_snapshot(store, export, "long")
    command = [sys.executable, "-m", "tracker", "--config", str(config), "history", "Long"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # as `| head -1` does: far more than a pipe's buffer is unread
        errors = proc.stderr.read()
        code = proc.wait(timeout=60)
    assert first.startswith(b"Long (long, page id 42): 1500 revisions")
    assert errors == b"" and code == 0


def test_cli_hidden_text_diff_exits_1_and_sizes_are_unknown(tmp_path: Path) -> None:
    config = write_config(tmp_path, database="t.db")
    with Store(tmp_path / "t.db") as store:
        import_snapshot(store, DATA / "migration" / "hidden.xml", "w")
    runner = CliRunner()
    result = runner.invoke(
        main, ["--config", str(config), "diff", "H", "--from", "70", "--to", "71"]
    )
    assert result.exit_code == 1  # a fact of the wiki, not a usage error (2)
    assert "hidden" in result.output and "Traceback" not in result.output
    listing = runner.invoke(main, ["--config", str(config), "history", "H"])
    lines = listing.output.splitlines()[1:]
    assert "      ?" in lines[1] and "-" not in lines[1].split()[2]  # no "-1" or "-14"
    records = json.loads(
        runner.invoke(main, ["--config", str(config), "history", "H", "--json"]).output
    )
    assert [r["size"] for r in records] == [14, None, 19]
