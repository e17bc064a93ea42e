"""A large export is parsed in a process of its own (tracker.fetch.reader, issue 11): the
same revisions as in the process, its errors raised as they were, and no child outlives
its reader, whether the reader stops early, fails, or is killed."""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from genhistory import generate
from waits import wait_until

from tracker.errors import WikiError
from tracker.fetch import snapshot
from tracker.fetch.reader import items_from_child
from tracker.fetch.snapshot import SnapshotSource, write_export

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
