"""A killed backfill resumes without gaps or duplicates; exports round-trip through
MediaWiki's own importDump.php; requests are polite (User-Agent, maxlag, Retry-After, gzip).
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import mwclient
import pytest
from faultproxy import FaultProxy
from genhistory import write_history
from processes import revision_count
from trackerutil import SEED_SNAPSHOT, SEED_TITLE, history_json, tracker, wiki_config
from waits import wait_until

from tracker import __version__
from tracker.config import Wiki
from tracker.errors import WikiError
from tracker.fetch.api import ApiSource


def test_track_kill_during_backfill_then_resume(make_wiki, tmp_path: Path) -> None:
    wiki = make_wiki()
    title = "Long history"
    total = 400
    write_history(tmp_path / "long.xml", title, total, size=12_000)
    wiki.import_xml(tmp_path / "long.xml")

    # The reference: an uninterrupted run.
    (tmp_path / "calm").mkdir()
    calm = wiki_config(tmp_path / "calm", wiki.api_url, [title])
    assert tracker(calm, "run", "--once").exit_code == 0
    expected = history_json(calm, title)
    assert len(expected) == total

    (tmp_path / "killed").mkdir()
    db_path = tmp_path / "killed" / "tracker.db"
    with FaultProxy(wiki.host) as proxy:
        # Anonymous clients get 50 revisions per request, and each reply is one transaction.
        # The third reply waits at the proxy's gate until two batches are committed; then
        # it goes on, and the kill lands while it arrives, is split and stored, or right
        # after it is, never after the backfill ended (the fourth reply is held).
        proxy.hold("content", after=2)
        config = wiki_config(tmp_path / "killed", proxy.api_url, [title])
        process = subprocess.Popen(
            [sys.executable, "-m", "tracker", "--config", str(config), "run", "--once"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_until(
                lambda: (
                    (revision_count(db_path) == 100 and proxy.held == 1)
                    or process.poll() is not None
                ),
                60,
                "two batches stored, the third held",
            )
            assert process.poll() is None, process.communicate()[1]
            proxy.release(1)
            wait_until(lambda: proxy.answered["content"] == 3, 60, "the third batch sent")
        finally:
            process.kill()
            process.wait()
            process.stderr.close()
        stored = revision_count(db_path)
        assert stored in (100, 150), stored  # whole batches only

        proxy.release()  # the gate open: the resumed run gets every reply
        result = tracker(config, "run", "--once")
        assert result.exit_code == 0, result.output
    resumed = history_json(config, title)
    assert resumed == expected
    chain = [(r["revid"], r["parentid"]) for r in resumed]
    assert all(parent == chain[i - 1][0] for i, (_, parent) in enumerate(chain) if i)


def test_snapshot_export_is_accepted_by_importdump(make_wiki, tmp_path: Path) -> None:
    config = wiki_config(tmp_path, "http://127.0.0.1:9/api.php", [])
    imported = tracker(config, "snapshot", "import", str(SEED_SNAPSHOT), "--wiki", "seed")
    assert imported.exit_code == 0, imported.output
    again = tracker(config, "snapshot", "import", str(SEED_SNAPSHOT), "--wiki", "seed")
    assert "0 revisions added" in again.output  # idempotent
    out = tmp_path / "export.xml"
    exported = tracker(config, "snapshot", "export", SEED_TITLE, "-o", str(out))
    assert exported.exit_code == 0, exported.output
    stored = history_json(config, SEED_TITLE)

    wiki = make_wiki()
    wiki.import_xml(out)
    result = wiki.site().api(
        "query",
        "GET",
        prop="revisions",
        titles=SEED_TITLE,
        rvlimit="max",
        rvdir="newer",
        rvprop="timestamp|user|comment|flags|size|sha1|content",
        rvslots="main",
        formatversion=2,
    )
    revisions = result["query"]["pages"][0]["revisions"]
    assert len(revisions) == len(stored)
    for mine, theirs in zip(stored, revisions, strict=True):
        assert (mine["sha1"], mine["timestamp"], mine["comment"], mine["minor"], mine["size"]) == (
            theirs["sha1"],
            theirs["timestamp"],
            theirs["comment"],
            theirs["minor"],
            theirs["size"],
        )
        assert theirs["user"].removeprefix("imported>") == mine["user"]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """A stand-in api.php: the first request gets 503 with Retry-After, later ones answer."""

    seen: list[tuple[str, dict, dict]] = []

    def do_GET(self) -> None:  # noqa: N802
        query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
        type(self).seen.append((self.path, query, dict(self.headers)))
        if len(type(self).seen) == 1:
            self.send_response(503)
            self.send_header("Retry-After", "3")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps(
            {
                "batchcomplete": True,
                "query": {
                    "general": {"generator": "MediaWiki 1.39.0", "sitename": "Fake"},
                    "userinfo": {"id": 0, "name": "127.0.0.1", "anon": True},
                },
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_wiki_requests_are_polite() -> None:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slept: list[float] = []
    try:
        wiki = Wiki(
            name="fake",
            api_url=f"http://127.0.0.1:{server.server_port}/w/api.php",
            contact="ops@example.org",
        )
        source = ApiSource(wiki, sleep=slept.append)
        source.check()
    finally:
        server.shutdown()
    assert len(_Recorder.seen) == 2 and slept and slept[0] >= 3  # Retry-After honoured
    path, query, headers = _Recorder.seen[-1]
    assert path.startswith("/w/api.php?")
    assert query["maxlag"] == "5" and query["format"] == "json"
    assert headers["User-Agent"] == (
        f"wiki-tracker/{__version__} (ops@example.org) mwclient/{mwclient.__version__}"
    )
    assert "gzip" in headers["Accept-Encoding"]
    assert source.requests == 2


def test_wiki_gives_up_with_one_line_after_retries() -> None:
    wiki = Wiki(name="nowhere", api_url="http://127.0.0.1:9/api.php", max_retries=2)
    slept: list[float] = []
    source = ApiSource(wiki, sleep=slept.append)
    with pytest.raises(WikiError) as error:
        source.check()
    assert len(slept) == 2 and slept[1] > 0
    message = str(error.value)
    assert "not reachable" in message and "\n" not in message and "3 tries" in message


def test_track_maxlag_error_is_retried(make_wiki, tmp_path: Path) -> None:
    """With queued jobs counted as lag, MediaWiki answers maxlag errors; we wait and retry."""
    wiki = make_wiki()
    with wiki.conf.open("a") as conf:
        conf.write("\n$wgJobRunRate = 0;\n$wgJobQueueIncludeInMaxLagFactor = 1;\n")
    wiki.edit("Lagged page", "Text.", "create")
    for i in range(8):  # each edit queues jobs: the job queue size becomes "lag"
        wiki.edit(f"Lag maker {i}", f"[[Lagged page]] {i}", "queue jobs")
    source = ApiSource(
        Wiki(name="lagged", api_url=wiki.api_url, max_retries=1), sleep=lambda s: slept.append(s)
    )
    slept: list[float] = []
    with pytest.raises(WikiError, match="not reachable: API error maxlag|the server is lagged"):
        source.call("query", meta="siteinfo", maxlag=0)
    assert slept and slept[0] >= 5  # MediaWiki sends Retry-After: 5 with maxlag
