"""Delivery channels against real receivers on loopback: webhooks (JSON and chat payloads,
a receiver failing twice), Atom read by feedparser, Apprise, the file channel, retries with
backoff shown by status, and the escaping of every format."""

from __future__ import annotations

import json
import re
from pathlib import Path

import feedparser
import pytest
from hostile import HOSTILE, hostile_model
from hypothesis import example, given, settings
from hypothesis import strategies as st
from loopback import free_port
from seedstages import Tracker, copy_templates, seed_config

from tracker.digest.render import md_escape, render_digest, word_segments
from tracker.digest.run import delivery_status, status_lines
from tracker.store import Store

FILE = {"type": "file", "path": "digests"}


def staged(tmp_path: Path, *subs: dict, first: int = 9, **kw: object) -> Tracker:
    """Started at revision ``first``, then the rest of the history arrived."""
    t = Tracker(seed_config(tmp_path, *subs, revisions=first, **kw))  # type: ignore[arg-type]
    t.stage(first)
    t.deliver()
    t.stage(None)
    return t


def test_webhook_json_payload_carries_the_digest(tmp_path: Path, http_receiver) -> None:
    receiver = http_receiver()
    hook = {"type": "webhook", "url": receiver.url + "/hook", "headers": {"X-Token": "t0k"}}
    t = staged(tmp_path, {"name": "hooked", "channels": [hook]})
    lines = t.deliver()
    assert lines and "HTTP 200" in lines[0]
    start, changes = (r.json() for r in receiver.accepted)
    assert start["kind"] == "start" and changes["kind"] == "changes"
    assert receiver.accepted[1].headers["X-Token"] == "t0k"
    assert receiver.accepted[1].headers["Content-Type"] == "application/json"
    assert changes["digest"]["counts"]["edits"] == 5
    assert changes["subject"] == "hooked: Pakistan–NATO relations: 5 edits, 4 sections changed"
    assert "5 edits by 4 editors" in changes["text"]


def test_webhook_failing_twice_then_succeeding_gets_the_digest_once(
    tmp_path: Path, http_receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = http_receiver([200, 500, 503, 200])
    monkeypatch.setenv("DIGEST_HOOK_URL", receiver.url + "/secret")
    t = staged(
        tmp_path, {"name": "flaky", "channels": [{"type": "webhook", "url_env": "DIGEST_HOOK_URL"}]}
    )
    first = t.deliver()
    assert first[0].startswith("error: flaky: digest 2 via webhook failed (attempt 1")
    assert "HTTP 500" in first[0]
    (status,) = delivery_status(Store(t.config.database_path), t.config)
    assert status["status"] == "failing" and status["attempts"] == 1
    assert "HTTP 500" in status["last_error"]
    assert "1 waiting" in status_lines([status])[0]
    assert t.deliver(minutes=0.5) == []  # the backoff (1 minute) has not passed
    second = t.deliver(minutes=1)
    assert "attempt 2" in second[0] and "HTTP 503" in second[0]
    assert t.deliver(minutes=1) == []  # now 2 minutes of backoff
    third = t.deliver(minutes=2)
    assert "HTTP 200" in third[0]
    assert t.deliver(minutes=60) == []
    assert [r.json()["digest_id"] for r in receiver.accepted] == [1, 2]
    assert len(receiver.requests) == 4
    (status,) = delivery_status(Store(t.config.database_path), t.config)
    assert status["status"] == "ok" and status["sent"] == 2 and status["last_error"] is None


@pytest.mark.parametrize("payload", ["slack", "mattermost", "discord"])
def test_webhook_chat_payloads(tmp_path: Path, http_receiver, payload: str) -> None:
    receiver = http_receiver()
    t = staged(
        tmp_path,
        {
            "name": "chat",
            "channels": [{"type": "webhook", "url": receiver.url, "payload": payload}],
        },
    )
    t.deliver()
    body = receiver.accepted[-1].json()
    text = body["content"] if payload == "discord" else body["text"]
    assert "Pakistan–NATO relations" in text and "NATO supply routes: removed" in text
    assert "reverted by RevertBot" in text
    if payload == "slack":
        assert "<https://wiki.example/index.php?diff=1845803&oldid=1844397|" in text
    else:
        assert "](https://wiki.example/index.php?diff=1845803&oldid=1844397)" in text
    if payload == "discord":
        assert len(text) <= 2000 and body["allowed_mentions"] == {"parse": []}


# Mentions as each chat app writes them: none may notify anyone when the wiki's text says it.
MENTIONS = [
    "@channel",
    "@all",
    "@here",
    "@everyone",
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U123ABC>",
    "<@&123456>",
    "<@123456>",
    "<@!123456>",
    "<#C123>",
    "<!subteam^S123>",
    "@someone",
]


@pytest.mark.parametrize("payload", ["slack", "mattermost", "discord"])
@pytest.mark.parametrize("mention", MENTIONS)
def test_webhook_chat_payloads_notify_nobody(
    tmp_path: Path, http_receiver, payload: str, mention: str
) -> None:
    from tracker.digest.channels import CHANNELS, Outgoing, send_webhook
    from tracker.digest.render import MENTION_BREAK

    receiver = http_receiver()
    model = hostile_model(f"{mention} look")  # in titles, headings, users, summaries
    outputs = render_digest(model, ["chat", "slack", "text"])
    out = Outgoing(
        2,
        "s",
        "changes",
        model["subject"],
        "2024-03-01T06:00:00Z",
        "<2@x>",
        outputs,
        model,
        tmp_path,
    )
    send_webhook(out, CHANNELS["webhook"].options({"url": receiver.url, "payload": payload}))
    body = receiver.accepted[-1].json()
    text = body["content"] if payload == "discord" else body["text"]
    assert not re.search(r"@(channel|all|here|everyone|someone)\b", text), text
    assert not re.search(r"(?<!\\)<(@[&!]?[\dA-Z]|![a-z]|#[\dA-Z])", text), text
    # Still there to read, with the zero-width joiner after "@" and the app's own escapes.
    shown = {
        "slack": mention.replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("&", "&amp;")
        .replace("&amp;lt;", "&lt;")
        .replace("&amp;gt;", "&gt;"),
        "mattermost": mention.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("!", "\\!")
        .replace("#", "\\#"),
        "discord": mention.replace("<", "\\<")
        .replace(">", "\\>")
        .replace("!", "\\!")
        .replace("#", "\\#"),
    }[payload].replace("@", "@" + MENTION_BREAK)
    if payload == "mattermost" and "&" in mention:
        shown = shown.replace("&amp;", "&")  # "&1" starts no entity: left as it is
    assert shown in text, (shown, text)
    if payload == "discord":
        assert body["allowed_mentions"] == {"parse": []}
    if payload == "mattermost":
        assert body["username"] == "wiki tracker"


def test_atom_feed_is_valid_and_keeps_the_last_entries(tmp_path: Path) -> None:
    atom = {"type": "atom", "path": "feeds/everything.atom", "entries": 2}
    t = Tracker(
        seed_config(
            tmp_path,
            {"name": "everything", "channels": [atom]},
            revisions=9,
            web="http://tracker.example",
        )
    )
    feed_path = tmp_path / "feeds" / "everything.atom"
    for stage in (9, 12, 14, None):
        t.stage(stage)
        t.deliver()
        feed = feedparser.parse(feed_path.read_bytes())
        assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.feed.title == "wiki tracker: everything"
    assert len(feed.entries) == 2  # four digests, the newest two kept
    newest, older = feed.entries
    digests = t.digests()
    assert newest.title == digests[-1]["subject"] and older.title == digests[-2]["subject"]
    assert newest.link == f"http://tracker.example/digests/{digests[-1]['id']}"
    assert "NATO supply routes" in newest.content[0].value
    assert newest.updated_parsed and newest.id.startswith("urn:uuid:")
    # Ids are stable: the entry of digest 3 kept its id when the feed was rewritten.
    again = feedparser.parse(feed_path.read_bytes())
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]


def test_atom_escapes_hostile_titles(tmp_path: Path) -> None:
    from tracker.digest.channels import FeedEntry
    from tracker.digest.render import render_feed

    hostile = '<script>alert("x")</script> & ]]>'
    xml = render_feed(
        [
            FeedEntry(
                1,
                hostile + "\x1b[31m\x00\x0b",
                "2024-03-01T06:00:00Z",
                "<a@b>",
                f"<p>{hostile}</p>",
                "http://x/?a=1&b=2",
            )
        ],
        title=hostile,
        subscription="s",
    )
    feed = feedparser.parse(xml.encode())
    assert feed.bozo == 0  # XML forbids those controls: they are shown as symbols
    assert feed.feed.title == hostile and feed.entries[0].title == hostile + "␛[31m␀␋"
    assert "<script>" not in xml


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # apprise imports imghdr
def test_apprise_channel_posts_through_apprise(tmp_path: Path, http_receiver) -> None:
    pytest.importorskip("apprise")
    receiver = http_receiver()
    host = receiver.url.removeprefix("http://")
    t = staged(
        tmp_path,
        {"name": "many", "channels": [{"type": "apprise", "urls": [f"json://{host}/apprise"]}]},
    )
    lines = t.deliver()
    assert "notified 1 service" in lines[0]
    body = receiver.accepted[-1].json()
    assert body["title"] == "many: Pakistan–NATO relations: 5 edits, 4 sections changed"
    assert "NATO supply routes" in body["message"]


def test_file_channel_names_and_retries_without_duplicates(tmp_path: Path) -> None:
    t = staged(
        tmp_path,
        {
            "name": "files",
            "formats": ["markdown", "html"],
            "channels": [FILE, {"type": "file", "path": "text-only", "formats": ["text"]}],
        },
    )
    t.deliver()
    names = sorted(p.name for p in (tmp_path / "digests").iterdir())
    assert names == [
        "files-2024-03-01T060100Z-1.html",
        "files-2024-03-01T060100Z-1.md",
        "files-2024-03-01T060200Z-2.html",
        "files-2024-03-01T060200Z-2.md",
    ]
    assert sorted(p.suffix for p in (tmp_path / "text-only").iterdir()) == [".txt", ".txt"]
    assert {d["channel"] for d in t.deliveries()} == {"file-1", "file-2"}


def test_failing_channel_does_not_stop_the_others(tmp_path: Path, http_receiver) -> None:
    receiver = http_receiver()
    t = staged(
        tmp_path,
        {
            "name": "mixed",
            "channels": [
                {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/nothing", "timeout": 5},
                {"type": "webhook", "url": receiver.url, "name": "good"},
            ],
        },
    )
    lines = t.deliver()
    assert any(line.startswith("error: mixed: digest 2 via webhook failed") for line in lines)
    assert any("via good" in line and "HTTP 200" in line for line in lines)
    statuses = {
        s["channel"]: s["status"] for s in delivery_status(Store(t.config.database_path), t.config)
    }
    assert statuses == {"webhook": "failing", "good": "ok"}


# --- escaping and templates (hostile values: tests/hostile.py) --------------------------------


def test_render_escapes_wiki_values_in_every_format() -> None:
    out = render_digest(hostile_model(), ["text", "markdown", "html", "chat", "slack"])
    for fmt in ("html",):
        assert "<script>" not in out[fmt] and "&lt;script&gt;" in out[fmt]
        assert "alert(&#34;x&#34;)" in out[fmt] or "alert(&quot;x&quot;)" in out[fmt]
    for fmt in ("markdown", "chat"):
        assert "<script>" not in out[fmt] and "[click](javascript:" not in out[fmt]
        assert "&lt;script&gt;" in out[fmt] and "\\*\\*b\\*\\*" in out[fmt]
        assert "\\[click\\](javascript:" in out[fmt]
        # Our own links stay links, with the parentheses of the title URL encoded.
    assert "](https://w.example/index.php?title=A_%28b%29)" in out["markdown"]
    assert "<script>" not in out["slack"] and "&lt;script&gt;" in out["slack"]
    assert "\x1b" not in out["html"] and "␛[31mred" in out["html"]
    assert "\x1b" not in out["text"] and HOSTILE in out["text"] and "␛[31mred" in out["text"]


def test_md_escape_keeps_text_readable() -> None:
    assert md_escape("Pakistan–NATO relations") == "Pakistan–NATO relations"
    assert md_escape("- item") == "\\- item" and md_escape("1. one") == "1\\. one"
    assert md_escape("a\nb") == "a b"


def test_user_templates_override_the_bundled_ones(tmp_path: Path) -> None:
    mine = copy_templates(tmp_path / "mine")
    (mine / "digest.md.j2").write_text("CUSTOM {{ digest.subject }} {{ digest.pages[0].title }}\n")
    sub = {
        "name": "custom",
        "formats": ["markdown", "text"],
        "templates": "mine",
        "channels": [FILE],
    }
    t = staged(tmp_path, sub)
    t.deliver()
    md = next((tmp_path / "digests").glob("*-2.md")).read_text()
    assert (
        md == "CUSTOM custom: Pakistan–NATO relations: 5 edits, 4 sections changed "
        "Pakistan–NATO relations\n"
    )
    assert "5 edits by 4 editors" in next((tmp_path / "digests").glob("*-2.txt")).read_text()


def test_render_model_is_json_and_stored(tmp_path: Path) -> None:
    t = staged(tmp_path, {"name": "j", "formats": ["text"], "channels": [FILE]})
    t.deliver()
    with Store(t.config.database_path) as store:
        formats = {
            r["format"]
            for r in store.query("SELECT format FROM digest_outputs WHERE digest_id = 2")
        }
        model = json.loads(store.scalar("SELECT model FROM digests WHERE id = 2"))
    assert formats == {"text"}
    assert model["pages"][0]["sections"][0]["words"]


WORDS = ["NATO", "Pakistan", "the", "supply", "routes.", "Kabul", "\n", "[[Brussels]]", ","]


@given(st.lists(st.sampled_from(WORDS), max_size=40), st.lists(st.sampled_from(WORDS), max_size=40))
@settings(max_examples=200, deadline=None)
@example(["\n", "supply", "supply", "Pakistan", "NATO"], ["NATO", "supply", "Pakistan"])
def test_word_segments_rebuild_both_texts(old_words: list[str], new_words: list[str]) -> None:
    from tracker.digest.render import _raw_segments
    from tracker.text.worddiff import word_diff

    old, new = " ".join(old_words), " ".join(new_words)
    ops = word_diff(old, new)
    segments = _raw_segments(ops, old)
    assert "".join(t for k, t in segments if k in ("eq", "ins", "mov")) == new
    if not any(op["type"] == "move" for op in ops):
        assert "".join(t for k, t in segments if k in ("eq", "del")) == old
    shown, more = word_segments(ops, 1000, old)
    assert more == 0
    assert [s["text"] for s in shown if s["op"] != "eq"] == [
        t.strip() for k, t in segments if k != "eq" and t.strip()
    ]


def test_webhook_payload_is_checked_when_the_config_loads(tmp_path: Path) -> None:
    from tracker.config import load_config
    from tracker.errors import ConfigError

    config = seed_config(
        tmp_path,
        {
            "name": "s",
            "channels": [{"type": "webhook", "url": "https://hooks.example/x", "payload": "slak"}],
        },
    )
    with pytest.raises(
        ConfigError,
        match=r"subscriptions\[0\]\.channels\[0\]\.payload: use "
        r"one of json, slack, mattermost, discord$",
    ):
        load_config(config)
