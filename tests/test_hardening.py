"""One bad page, one bad wiki or one busy database never stops the tracker (issue 15): a
failure stays with its page, writers wait for each other instead of failing, an interrupted
backfill is never news, and every database or input problem is one line."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from genhistory import write_history
from trackerutil import write_config

from tracker.cli import main
from tracker.config import load_config
from tracker.errors import ConfigError, WikiError
from tracker.fetch import ingest
from tracker.fetch.ingest import PageIngestor
from tracker.fetch.poll import poll_wiki
from tracker.fetch.snapshot import SnapshotSource
from tracker.history import revision_pair_diff
from tracker.model import Revision
from tracker.store import Store


def two_page_export(tmp_path: Path) -> Path:
    """An export of two pages (ids 42 and 43), 30 revisions each."""
    first, second = tmp_path / "a.xml", tmp_path / "b.xml"
    write_history(first, "Alpha", 30, size=3000, pageid=42)
    write_history(second, "Beta", 30, size=3000, pageid=43, first_revid=5000, seed=2)
    head, _, tail = first.read_text(encoding="utf-8").partition("  <page>")
    other = second.read_text(encoding="utf-8")
    page_b = other[other.index("  <page>") : other.index("</mediawiki>")]
    both = tmp_path / "both.xml"
    both.write_text(
        head + "  <page>" + tail.replace("</mediawiki>", page_b + "</mediawiki>"), encoding="utf-8"
    )
    return both


def config_for(tmp_path: Path, export: Path, titles: list[str], extra: str = "") -> Path:
    return write_config(
        tmp_path,
        wikis=[{"name": "w", "snapshot": str(export)}],
        watches=[{"wiki": "w", "title": t} for t in titles],
        extra=extra,
    )


# ---- one page never stops the others -----------------------------------------------------


def test_poll_failure_of_one_page_is_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_for(
        tmp_path,
        two_page_export(tmp_path),
        ["Alpha", "Beta"],
        extra=(
            '[[subscriptions]]\nname = "all"\nformats = ["text"]\n'
            'channels = [{ type = "file", path = "digests" }]\n'
        ),
    )
    real = PageIngestor.add

    def add(self: PageIngestor, revisions) -> int:  # a bug that strikes one page only
        revisions = list(revisions)
        if revisions and revisions[0].revid < 5000:
            raise RecursionError("maximum recursion depth exceeded")
        return real(self, revisions)

    monkeypatch.setattr(PageIngestor, "add", add)
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--once", "--no-progress"])
    assert result.exit_code == 1
    assert "'Alpha' could not be processed: RecursionError" in result.output
    assert "Traceback" not in result.output
    assert "30 revisions stored" in result.output  # Beta went on
    assert "digest 1 via file" in result.output  # and the digests went out
    status = json.loads(
        CliRunner().invoke(main, ["--config", str(config), "status", "--json"]).output
    )
    alpha = next(w for w in status["watches"] if w["title"] == "Alpha")
    assert alpha["status"] == "failing" and "RecursionError" in alpha["last_error"]
    lines = CliRunner().invoke(main, ["--config", str(config), "status"]).output
    assert "status:        failing" in lines


def test_ingest_keeps_a_revision_whose_diff_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = ingest.diff_texts

    def diff_texts(old, new, *args, **kwargs):
        if "BOOM" in new:
            raise RecursionError("maximum recursion depth exceeded")
        return real(old, new, *args, **kwargs)

    monkeypatch.setattr(ingest, "diff_texts", diff_texts)
    texts = ["== A ==\nOne.\n", "== A ==\nOne. BOOM\n", "== A ==\nOne. Two.\n"]
    revisions = [
        Revision(
            revid=k + 1,
            parentid=k,
            timestamp=f"2024-01-0{k + 1}T00:00:00Z",
            user="U",
            userid=1,
            comment="",
            minor=False,
            size=len(t),
            sha1=None,
            text=t,
        )
        for k, t in enumerate(texts)
    ]
    with Store(tmp_path / "t.db") as store:
        wiki = store.wiki_id("w")
        with store.atomic():
            page = store.upsert_page(wiki, 1, "P")
        ingestor = PageIngestor(store, wiki, page["id"])
        assert ingestor.add(revisions) == 3  # nothing lost
        rows = store.revisions(page["id"])
        assert [store.revision_text(r["id"]) for r in rows] == texts
        assert store.section_changes([rows[1]["id"]]) == []  # that one has no changes stored
        assert store.section_changes([rows[2]["id"]])  # the next one has


# ---- writers wait for each other ----------------------------------------------------------


def test_two_runs_at_once_both_succeed(tmp_path: Path) -> None:
    export = tmp_path / "h.xml"
    write_history(export, "History", 300, size=6000)
    config = config_for(tmp_path, export, ["History"])
    command = [
        sys.executable,
        "-m",
        "tracker",
        "--config",
        str(config),
        "run",
        "--once",
        "--no-progress",
    ]
    runs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    with Store(tmp_path / "tracker.db") as store:
        page = store.find_page("History")
        rows = store.revisions(page["id"])
        assert len(rows) == 300 and len({r["revid"] for r in rows}) == 300
        # What each revision changed is what its diff against the one right before it
        # says, as one run stores it.
        previous, compared = None, 0
        for row in rows:
            diff = revision_pair_diff(store, previous, row)
            changed = {(s["id"], ",".join(s["kinds"])) for s in diff["sections"] if s["kinds"]}
            stored = store.section_changes([row["id"]])
            assert {(c["section_id"], ",".join(c["kinds"])) for c in stored} == changed
            compared += bool(changed)
            previous = row
        assert compared > 250


def test_a_batch_waits_for_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with Store(path) as first, Store(path) as second:
        wiki = first.wiki_id("w")
        done = threading.Event()
        failure: list[BaseException] = []

        def write() -> None:
            try:
                with second.atomic():
                    second.db.execute("INSERT INTO wikis (name) VALUES ('other')")
            except BaseException as exc:  # noqa: BLE001 - reported below
                failure.append(exc)
            finally:
                done.set()

        with first.atomic():
            first.query("SELECT * FROM wikis")  # a read first, as a batch does
            writer = threading.Thread(target=write)
            writer.start()
            # The other writer cannot commit inside this transaction: it waits for the lock.
            assert not done.wait(0.5)
            first.db.execute("UPDATE wikis SET api_url = 'x' WHERE id = ?", [wiki])
        writer.join(timeout=30)
        assert done.is_set() and not failure
        assert {r["name"] for r in first.query("SELECT name FROM wikis")} == {"w", "other"}


# ---- an interrupted backfill is not news ---------------------------------------------------


class _Interrupted(SnapshotSource):
    """An export that fails after its first batch of revisions, as a flaky wiki does."""

    fail = True

    def fetch_revisions(self, pageid: int, **kwargs: object) -> Iterator[list[Revision]]:
        for number, batch in enumerate(super().fetch_revisions(pageid, **kwargs)):
            if number == 1 and self.fail:
                raise WikiError("connection failed (test)")
            yield batch


def test_digest_never_tells_an_interrupted_backfill_as_news(tmp_path: Path) -> None:
    export = tmp_path / "h.xml"
    write_history(export, "History", 450, size=3000)
    config_path = config_for(
        tmp_path,
        export,
        ["History"],
        extra=(
            '[[subscriptions]]\nname = "all"\nformats = ["text"]\n'
            'channels = [{ type = "file", path = "digests" }]\n'
        ),
    )
    config = load_config(config_path)
    from tracker.digest.run import run_digests

    source = _Interrupted("w", export)
    first = len(next(iter(SnapshotSource("w", export).fetch_revisions(42))))
    assert 0 < first < 450
    with Store(config.database_path) as store:
        result = poll_wiki(store, config, config.wikis[0], source=source, progress=False)
        assert not result.ok and result.revisions_added == first  # one whole batch, counted
        assert run_digests(store, config).lines == []  # nothing told of half a history
        source.fail = False
        assert (
            poll_wiki(store, config, config.wikis[0], source=source, progress=False).revisions_added
            == 450 - first
        )
        started = run_digests(store, config).lines
        assert len(started) == 1
        again = run_digests(store, config).lines
    assert again == []  # the 450 old revisions were never listed as new edits
    text = next((tmp_path / "digests").glob("*.txt")).read_text(encoding="utf-8")
    assert "Started tracking" in text or "Now tracking" in text


# ---- every problem is one line ------------------------------------------------------------


def test_damaged_database_is_one_line(tmp_path: Path) -> None:
    export = tmp_path / "h.xml"
    write_history(export, "History", 5, size=2000)
    config = config_for(tmp_path, export, ["History"])
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config), "run", "--once"]).exit_code == 0
    with sqlite3.connect(tmp_path / "tracker.db") as db:
        db.execute("DROP TABLE section_versions")  # a table gone: what damage looks like
    result = runner.invoke(main, ["--config", str(config), "show", "1000"])
    assert result.exit_code == 1
    assert (
        result.output.startswith("Error: database error in ")
        and "Traceback" not in result.output
        and len(result.output.strip().splitlines()) == 1
    )
    (tmp_path / "tracker.db").write_bytes(b"this is not a database" * 100)
    result = runner.invoke(main, ["--config", str(config), "history", "History"])
    assert result.exit_code == 1 and "is damaged" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_web_answers_503_and_404_not_500(tmp_path: Path) -> None:
    from tracker.web import create_app

    export = tmp_path / "h.xml"
    write_history(export, "History", 5, size=2000)
    with Store(tmp_path / "t.db") as store:
        from tracker.fetch.archive import import_snapshot

        import_snapshot(store, export, "w")
        page_id = store.find_page("History")["id"]
    client = create_app(tmp_path / "t.db").test_client()
    for url in (
        f"/page/{10**30}",
        f"/rev/{page_id}/{10**30}",
        f"/rev/w/History/{10**30}",
        f"/diff/{10**25}",
        f"/digests/{2**64}",
    ):
        assert client.get(url).status_code == 404, url
    with sqlite3.connect(tmp_path / "t.db") as db:
        db.execute("DROP TABLE section_changes")
    response = client.get("/wiki/w/History")
    assert response.status_code == 503
    assert b"section_changes" in response.data and b"Traceback" not in response.data


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("timeout", 0, "must be more than 0"),
        ("timeout", -5, "must be more than 0"),
        ("max_retries", -1, "must be 0 or more"),
    ],
)
def test_config_refuses_impossible_numbers(tmp_path: Path, key: str, value: int, says: str) -> None:
    path = write_config(
        tmp_path,
        wikis=[{"name": "w", "api_url": "https://w.example/api.php", key: value}],
        watches=[],
    )
    with pytest.raises(ConfigError, match=f"wikis\\[0\\].{key}: {says}"):
        load_config(path)


def test_web_port_is_checked(tmp_path: Path) -> None:
    path = write_config(tmp_path, wikis=[], watches=[], extra="[web]\nport = 70000\n")
    with pytest.raises(ConfigError, match="web.port: must be between 0 and 65535"):
        load_config(path)


# ---- the web server against slow clients --------------------------------------------------


def test_serve_answers_beside_many_slow_clients(tmp_path: Path) -> None:
    export = tmp_path / "h.xml"
    write_history(export, "History", 3, size=2000)
    config = config_for(tmp_path, export, ["History"])
    assert CliRunner().invoke(main, ["--config", str(config), "run", "--once"]).exit_code == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(config), "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
    )
    slow: list[socket.socket] = []
    try:
        assert server.stderr is not None
        assert "Serving the history browser" in server.stderr.readline()
        for _ in range(150):  # more than waitress' default connection limit of 100
            client = socket.create_connection(("127.0.0.1", port), timeout=10)
            client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # headers never finished
            slow.append(client)
        answer = requests.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert answer.status_code == 200 and "History" in answer.text
    finally:
        for client in slow:
            client.close()
        server.terminate()
        server.wait(timeout=30)


# ---- a wiki that answers what it should not -----------------------------------------------


def test_old_result_format_is_one_line(tmp_path: Path) -> None:
    from faultproxy import FaultProxy

    def reply(params: dict) -> dict:
        if params.get("meta") == "siteinfo":
            return {"batchcomplete": "", "query": {"general": {"generator": "MediaWiki 1.19"}}}
        # What MediaWiki before 1.25 answers: pages keyed by id, whatever formatversion says.
        return {"query": {"pages": {"7": {"pageid": 7, "ns": 0, "title": "Old", "lastrevid": 1}}}}

    with FaultProxy("127.0.0.1:9") as old_wiki:  # nothing behind it
        old_wiki.mode("reply", reply=reply)
        config = write_config(
            tmp_path,
            wikis=[{"name": "old", "api_url": old_wiki.api_url, "max_retries": 0}],
            watches=[{"wiki": "old", "title": "Old"}],
        )
        result = CliRunner().invoke(main, ["--config", str(config), "run", "--once"])
    assert result.exit_code == 1
    assert "old result format (formatversion=1)" in result.output
    assert "MediaWiki 1.25 or newer" in result.output and "Traceback" not in result.output
