"""`tracker channel test NAME`: a labelled test message through real receivers on loopback
(SMTP, webhooks, a file, an Atom feed), one line per channel, a failing channel reported
with its one-line error and a non-zero exit, secrets never printed, nothing recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import feedparser
from loopback import free_port
from trackerutil import SEED_SNAPSHOT, SEED_TITLE, tracker, write_config

from tracker.store import Store

SECRET_PATH = "/hooks/T0PSECRET-token-123456"


def _config(tmp_path: Path, channels: list[dict], **sub: object) -> Path:
    return write_config(
        tmp_path,
        wikis=[{"name": "seed", "snapshot": str(SEED_SNAPSHOT)}],
        watches=[{"wiki": "seed", "title": SEED_TITLE}],
        subscriptions=[{"name": "news", "formats": ["text"], "channels": channels, **sub}],
    )


def test_channel_test_reports_each_channel_and_fails_when_one_fails(
    tmp_path: Path, smtp_server, http_receiver, monkeypatch
) -> None:
    good = http_receiver()
    bad = http_receiver(statuses=[500])
    monkeypatch.setenv("HOOK_URL", bad.url + SECRET_PATH)
    config = _config(
        tmp_path,
        [
            smtp_server.channel(),
            {"type": "webhook", "url": good.url + "/hook", "name": "team"},
            {"type": "webhook", "url_env": "HOOK_URL", "name": "ops"},
            {"type": "file", "path": "out"},
        ],
    )
    result = tracker(config, "channel", "test", "news")
    lines = result.output.splitlines()
    assert result.exit_code == 1, result.output
    assert lines[0].startswith("news -> email (email): ok: sent to reader@example.org")
    assert lines[1] == "news -> team (webhook): ok: HTTP 200"
    assert lines[2].startswith("news -> ops (webhook): FAILED: webhook 127.0.0.1:")
    assert "HTTP 500" in lines[2]
    assert lines[3].startswith("news -> file (file): ok: ")
    assert "Error: 1 of 4 channel(s) failed the test: news -> ops" in result.output
    assert "T0PSECRET" not in result.output

    (mail,) = smtp_server.wait(1)
    assert mail["Subject"] == "[wiki tracker] news: test message"
    body = mail.get_body(("plain",)).get_content()
    assert "This is a test message from wiki tracker" in body
    assert 'through the channel "email" (email) of the subscription "news"' in body
    payload = good.accepted[0].json()
    assert payload["kind"] == "test"
    assert payload["subject"] == "news: test message"
    assert "test message" in payload["text"]
    assert len(bad.requests) == 1  # tried once, not retried: a test reports, it does not queue
    (written,) = (tmp_path / "out").iterdir()
    assert "test message" in written.read_text(encoding="utf-8")
    # Nothing recorded: the next digest is as it would have been.
    assert not (tmp_path / "tracker.db").exists()


def test_channel_test_by_channel_name_and_chat_payloads(tmp_path: Path, http_receiver) -> None:
    receiver = http_receiver()
    config = _config(
        tmp_path,
        [
            {"type": "webhook", "url": receiver.url, "payload": "slack", "name": "slack"},
            {"type": "webhook", "url": receiver.url, "payload": "discord", "name": "other"},
        ],
    )
    result = tracker(config, "channel", "test", "slack")
    assert result.exit_code == 0, result.output
    assert result.output == "news -> slack (webhook): ok: HTTP 200\n"
    (request,) = receiver.accepted
    assert request.json()["text"].startswith("*news: test message*")


def test_channel_test_unknown_name_and_no_channels(tmp_path: Path) -> None:
    config = _config(tmp_path, [{"type": "file", "path": "out", "name": "archive"}])
    result = tracker(config, "channel", "test", "newz")
    assert result.exit_code == 2
    assert "no subscription or channel named 'newz'; did you mean 'news'?" in result.output
    empty = write_config(
        tmp_path / "empty",
        wikis=[{"name": "seed", "snapshot": str(SEED_SNAPSHOT)}],
        watches=[{"wiki": "seed", "title": SEED_TITLE}],
        subscriptions=[{"name": "quiet"}],
    )
    result = tracker(empty, "channel", "test", "quiet")
    assert result.exit_code == 2
    assert "subscription 'quiet' has no channels" in result.output


def test_channel_test_unreachable_smtp_is_one_line(tmp_path: Path, smtp_server) -> None:
    channel = smtp_server.channel(port=free_port())  # nothing listens there
    config = _config(tmp_path, [channel])
    result = tracker(config, "channel", "test", "news")
    assert result.exit_code == 1
    line = result.output.splitlines()[0]
    assert line.startswith("news -> email (email): FAILED: email: cannot reach 127.0.0.1:")
    assert "Connection refused" in line


def test_channel_test_atom_feed_keeps_its_entries(tmp_path: Path) -> None:
    config = _config(tmp_path, [{"type": "atom", "path": "feed.xml"}])
    run = tracker(config, "run", "--once")
    assert run.exit_code == 0, run.output
    before = feedparser.parse(str(tmp_path / "feed.xml"))
    assert len(before.entries) == 1
    result = tracker(config, "channel", "test", "news")
    assert result.exit_code == 0, result.output
    after = feedparser.parse(str(tmp_path / "feed.xml"))
    titles = [entry.title for entry in after.entries]
    assert "news: test message" in titles
    assert before.entries[0].title in titles
    with Store(tmp_path / "tracker.db", readonly=True) as store:
        kinds = [row["kind"] for row in store.query("SELECT kind FROM digests")]
    assert kinds == ["start"]


def test_channel_test_as_a_process(tmp_path: Path, http_receiver) -> None:
    receiver = http_receiver(statuses=[503])
    config = _config(tmp_path, [{"type": "webhook", "url": receiver.url + "/x"}])
    done = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(config), "channel", "test", "news"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout.startswith("news -> webhook (webhook): FAILED: webhook 127.0.0.1:")
    assert done.stderr.startswith("Error: 1 of 1 channel(s) failed the test")
    assert json.loads(receiver.requests[0].body)["kind"] == "test"
