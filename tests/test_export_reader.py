"""A large export is parsed in a process of its own (tracker.fetch.reader, issue 11): the
same revisions as in the process, its errors raised as they were, and no child outlives
its reader, whether the reader stops early, fails, or is killed."""

from __future__ import annotations

import inspect
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import realcorpus
from genhistory import generate
from trackerutil import write_config
from waits import wait_until

from tracker.errors import WikiError
from tracker.fetch import snapshot
from tracker.fetch.reader import items_from_child
from tracker.fetch.snapshot import SnapshotSource, write_export
from tracker.store import Store
from tracker.text import sections

SEED = Path(__file__).resolve().parents[1] / "snapshots" / "pakistan-nato-relations.xml"


def _export(path: Path, count: int = 400) -> None:
    rows = [
        (
            {
                "revid": rev.revid,
                "parentid": rev.parentid,
                "timestamp": rev.timestamp,
                "user": rev.user,
                "userid": 1,
                "comment": rev.comment,
                "minor": False,
                "size": rev.size,
                "sha1": rev.sha1,
            },
            rev.text,
        )
        for rev in generate(count, size=6000, seed=5)
    ]
    with path.open("w", encoding="utf-8") as out:
        write_export(out, [({"title": "Article", "ns": 0, "pageid": 7}, rows)])


def _read(path: Path, pageid: int, monkeypatch: pytest.MonkeyPatch, child: bool) -> list:
    monkeypatch.setattr(snapshot, "CHILD_MIN_BYTES", 0 if child else 1 << 62)
    return list(SnapshotSource("snap", path).fetch_revisions(pageid))


def readers(parent: int) -> list[int]:
    """The export readers a process started (tracker.fetch.reader), running (not zombies)."""
    import pathlib

    found = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] != "Z" and b"_serve" in command:
            found.append(int(stat.parent.name))
    return found


def _children() -> list[int]:
    return readers(os.getpid())


@pytest.mark.parametrize("which", ["generated", "seed"])
def test_a_child_reads_the_same_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    path = tmp_path / "history.xml"
    if which == "generated":
        _export(path)
        pageid = 7
    else:
        path = SEED
        pageid = next(SnapshotSource("seed", SEED).pages()).pageid
    here = _read(path, pageid, monkeypatch, child=False)
    there = _read(path, pageid, monkeypatch, child=True)
    assert len(here) > 1 or which == "seed"
    assert there == here
    assert not _children()


def test_an_error_in_the_child_is_raised_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cut.xml"
    _export(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # cut short, inside a revision
    errors = []
    for child in (False, True):
        with pytest.raises(WikiError) as caught:
            _read(path, 7, monkeypatch, child)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert "malformed XML export" in errors[1]
    assert not _children()


def test_a_reader_that_stops_early_stops_the_child(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.xml"
    _export(path, count=600)
    monkeypatch.setattr(snapshot, "CHILD_MIN_BYTES", 0)
    batches = SnapshotSource("snap", path).fetch_revisions(7)
    first = next(batches)
    assert first and _children()
    batches.close()
    assert not _children()


def test_an_exception_the_child_cannot_send_comes_as_its_message() -> None:
    with pytest.raises(WikiError, match="Unpicklable: it stays in the child"):
        list(items_from_child(_raise_unpicklable))


class Unpicklable(Exception):
    def __reduce__(self):
        raise TypeError("not picklable")


def _raise_unpicklable():
    yield 1
    raise Unpicklable("it stays in the child")


def test_the_child_ends_when_its_reader_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "history.xml"
    _export(path, count=600)
    script = tmp_path / "reader.py"
    script.write_text(
        inspect.getsource(readers)
        + textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from tracker.fetch import snapshot
        snapshot.CHILD_MIN_BYTES = 0
        batches = snapshot.SnapshotSource("snap", Path({str(path)!r})).fetch_revisions(7)
        next(batches)
        print(readers(os.getpid())[0], flush=True)
        sys.stdin.read()  # holds on, reading no more batches, until killed
    """)
    )
    reader = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        child = int(reader.stdout.readline())
        assert _running(child)
        reader.send_signal(signal.SIGKILL)
        reader.wait(timeout=60)
        wait_until(lambda: not _running(child), 60, "the export reader's child to end")
    finally:
        if reader.poll() is None:
            reader.kill()


def _running(pid: int) -> bool:
    """Whether a process runs (a zombie, ended and not yet reaped, does not)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return status.rpartition(")")[2].split()[0] != "Z"


def test_a_reader_killed_midway_is_a_one_line_error() -> None:
    """The reading process killed (the OOM killer, an operator): the batches so far came,
    then one line saying so, never a traceback or a hang."""
    items = items_from_child(_killed_after_one)
    assert next(items) == "first"
    with pytest.raises(WikiError, match=r"stopped unexpectedly \(exit code -9\)"):
        next(items)
    assert not _children()


def _killed_after_one():
    yield "first"
    os.kill(os.getpid(), signal.SIGKILL)
    yield "never"


MARK = "as imported"


def test_the_child_is_a_new_interpreter_not_a_fork(monkeypatch: pytest.MonkeyPatch) -> None:
    """Forking a process that runs polls in threads could copy a held lock into the child:
    the child imports its modules afresh, and sees nothing the parent changed in memory."""
    monkeypatch.setattr(sys.modules[__name__], "MARK", "changed in the parent")
    [(pid, mark)] = list(items_from_child(_what_the_child_sees))
    assert pid != os.getpid()
    assert mark == "as imported"


def _what_the_child_sees():
    yield os.getpid(), MARK


# ---- texts split in the reading process ----------------------------------------------------


def _digest(path: Path) -> dict[str, list]:
    """What an ingest derives, by revision id: section ids and texts, changes, reverts."""
    with Store(path, readonly=True) as store:
        revisions = store.query("SELECT id, revid, sha1, revert_of, reverted_by FROM revisions")
        return {
            "revisions": sorted(
                (r["revid"], r["sha1"], r["revert_of"], r["reverted_by"]) for r in revisions
            ),  # fmt: skip
            "layouts": sorted(
                (r["revid"], [(sid, store.blob(b)) for sid, b in store.revision_layout(r["id"])])
                for r in revisions
            ),
            "changes": sorted(
                (
                    r["revid"],
                    c["section_id"],
                    c["kinds"],
                    c["path"],
                    c["words_added"],
                    c["words_removed"],
                )  # fmt: skip
                for r in revisions
                for c in store.section_changes([r["id"]])
            ),
        }


def _run_once(tmp_path: Path, name: str, export: Path, title: str, child: bool) -> Path:
    config = write_config(
        tmp_path / name,
        wikis=[{"name": "snap", "snapshot": str(export)}],
        watches=[{"wiki": "snap", "title": title}],
    )
    script = (
        "import sys\n"
        "from tracker.fetch import snapshot\n"
        f"snapshot.CHILD_MIN_BYTES = {0 if child else 1 << 62}\n"
        "from tracker.cli import main\n"
        "main(sys.argv[1:])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--config", str(config), "run", "--once"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return tmp_path / name / "tracker.db"


def _histories() -> list:
    found = realcorpus.find_file("enwiki-Anarchism-2001-2003-first500.xml.xz")
    return ["generated", *(["anarchism-first500"] if found is not None else [])]


@pytest.mark.parametrize("history", _histories())
def test_texts_split_in_the_reading_process_store_the_same(tmp_path: Path, history: str) -> None:
    """A large export's texts come split by the reading process, as deltas of sections;
    the ingest stores what it stores from the texts themselves: the same sections, ids,
    changes and reverts."""
    if history == "generated":
        export, title = tmp_path / "history.xml", "Article"
        _export(export, count=300)
    else:
        source = realcorpus.find_file("enwiki-Anarchism-2001-2003-first500.xml.xz")
        assert source is not None
        export, title = realcorpus.decompressed(source, tmp_path), "Anarchism"
    there = _digest(_run_once(tmp_path, "child", export, title, child=True))
    here = _digest(_run_once(tmp_path, "here", export, title, child=False))
    assert there == here
    assert len(here["revisions"]) >= 300 and here["changes"]


def test_a_split_delta_makes_the_same_split_in_another_process() -> None:
    """Deltas made from one text to the next, pickled, adopted with nothing cached but what
    adopting made: each text and its sections come back as a split here makes them."""
    texts = [rev.text or "" for rev in generate(60, size=8000, seed=9)]
    texts.insert(30, "")  # a blanking, and the text again after it
    texts.insert(31, texts[29])
    expected = []
    for text in texts:
        sections._CACHE.clear()
        expected.append(sections.split(text))
    sections._CACHE.clear()
    deltas, earlier = [], None
    for text in texts:
        deltas.append(pickle.dumps(sections.split_delta(text, earlier)))
        earlier = text
    sections._CACHE.clear()
    earlier = None
    shared = total = 0
    for text, delta, split in zip(texts, deltas, expected, strict=True):
        delta = pickle.loads(delta)
        shared += sum(isinstance(part, int) for part in delta.parts)
        total += len(delta.parts)
        adopted = sections.adopt(delta, earlier)
        assert adopted.text == text
        assert sections.split(adopted.text) == split  # (the adopted split, from the cache)
        sections._CACHE.clear()  # other threads' splits: the next one needs none of it
        earlier = adopted
    assert shared > total // 2  # most sections went by their place, not whole


def test_a_delta_that_does_not_follow_on_is_refused() -> None:
    texts = [rev.text or "" for rev in generate(3, size=6000, seed=4)]
    sections.split_delta(texts[0], None)
    delta = sections.split_delta(texts[1], texts[0])
    assert any(isinstance(part, int) for part in delta.parts)
    with pytest.raises(ValueError, match="not been split here"):
        sections.adopt(delta, None)  # (the reading process had the split of texts[0])
    unrelated = next(generate(1, size=6000, seed=99)).text or ""
    assert unrelated != texts[0]
    other = sections.adopt(sections.split_delta(unrelated, None), None)
    with pytest.raises(ValueError, match="does not follow on"):
        sections.adopt(delta, other)  # (another text's sections)
