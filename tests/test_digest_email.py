"""Digests by e-mail, received by a real SMTP server (aiosmtpd) on 127.0.0.1: the MIME
structure, both parts, the headers, STARTTLS and implicit TLS with a login, and hostile
edit summaries, usernames and headings arriving escaped in the HTML part."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from pathlib import Path

import pytest
from loopback import free_port
from seedstages import Tracker, seed_config
from trackerutil import SEED_TITLE, write_config

from tracker.fetch.snapshot import write_export
from tracker.store import Store

HOSTILE_USER = 'Eve"><img src=x onerror=alert(1)>'
HOSTILE_SUMMARY = '<script>alert("summary")</script> & [click](javascript:alert(1))'
HOSTILE_HEADING = "<b onmouseover=alert(2)>Bold</b> & co"


def email_channel(server, **extra: object) -> dict:
    return {
        "type": "email",
        "to": ["Reader <reader@example.org>", "second@example.org"],
        "from": "wiki tracker <tracker@example.org>",
        "host": server.host,
        "port": server.port,
        "security": "none",
        **extra,
    }


def parts(msg: EmailMessage) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_email_digest_is_multipart_with_stable_headers(tmp_path: Path, smtp_server) -> None:
    t = Tracker(
        seed_config(
            tmp_path, {"name": "mail", "channels": [email_channel(smtp_server)]}, revisions=9
        )
    )
    t.stage(9)
    t.deliver()
    t.stage(None)
    lines = t.deliver()
    assert "sent to reader@example.org, second@example.org" in lines[0]
    start, changes = smtp_server.wait(2)
    assert start["Subject"] == f"[wiki tracker] mail: now tracking {SEED_TITLE} (9 revisions)"
    assert changes["Subject"] == f"[wiki tracker] mail: {SEED_TITLE}: 5 edits, 4 sections changed"
    assert changes["From"] == "wiki tracker <tracker@example.org>"
    assert changes["To"] == "Reader <reader@example.org>, second@example.org"
    assert changes["Auto-Submitted"] == "auto-generated"
    assert changes["Date"] and changes["X-Wiki-Tracker-Digest"] == "2"
    digests = t.digests()
    assert changes["Message-ID"] == digests[1]["message_id"]
    assert changes["Message-ID"] != start["Message-ID"]
    assert smtp_server.envelopes[1].rcpt_tos == ["reader@example.org", "second@example.org"]
    text, html = parts(changes)
    assert "5 edits by 4 editors" in text and "NATO supply routes: removed" in text
    assert "1 edit by 203.0.113.9 reverted by RevertBot 22 seconds later" in text
    assert html.lstrip().startswith("<!DOCTYPE html>")
    assert 'data-section-id="' in html and "<del style=" in html and "<ins style=" in html
    assert "ali was here" not in text + html


def test_email_retry_keeps_the_message_id(tmp_path: Path, smtp_server_factory) -> None:
    port = free_port()  # nothing listens there yet
    channel = {
        "type": "email",
        "to": "r@example.org",
        "from": "t@example.org",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "timeout": 5,
    }
    t = Tracker(seed_config(tmp_path, {"name": "late", "channels": [channel]}))
    t.stage(None)
    lines = t.deliver()
    assert lines[0].startswith("error: late: digest 1 via email failed (attempt 1")
    assert f"cannot reach 127.0.0.1:{port}" in lines[0]
    server = smtp_server_factory(port=port)  # the server is up now, on that port
    assert "sent to r@example.org" in t.deliver(minutes=2)[0]
    (msg,) = server.wait(1)
    assert msg["Message-ID"] == t.digests()[0]["message_id"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_email_over_tls_with_login_from_the_environment(
    tmp_path: Path, smtp_server_factory, monkeypatch: pytest.MonkeyPatch, security: str
) -> None:
    server = smtp_server_factory(tls=security, login=("digest-bot", "s3cret"))
    monkeypatch.setenv("TRACKER_SMTP_USER", "digest-bot")
    monkeypatch.setenv("TRACKER_SMTP_PASSWORD", "s3cret")
    channel = email_channel(
        server,
        security=security,
        username_env="TRACKER_SMTP_USER",
        password_env="TRACKER_SMTP_PASSWORD",
        ca_file=str(server.cert),
    )
    t = Tracker(seed_config(tmp_path, {"name": "tls", "channels": [channel]}))
    t.stage(None)
    lines = t.deliver()
    assert "sent to" in lines[0], lines
    assert server.logins == [("digest-bot", "s3cret")]
    server.wait(1)


def test_email_login_without_its_password_variable_fails_clearly(
    tmp_path: Path, smtp_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    channel = email_channel(smtp_server, username="u", password_env="NO_SUCH_PASSWORD")
    t = Tracker(seed_config(tmp_path, {"name": "nopw", "channels": [channel]}))
    t.stage(None)
    (line,) = t.deliver()
    assert "the environment variable NO_SUCH_PASSWORD (SMTP password) is not set" in line


def hostile_export(path: Path) -> Path:
    """A page whose editors, summaries and headings try to inject markup."""
    texts = [
        "Intro.\n\n== History ==\nOld text.\n",
        f"Intro.\n\n== History ==\nOld text.\n\n== {HOSTILE_HEADING} ==\n<script>x()</script> "
        "body\n",
        f"Intro <b>bold</b>.\n\n== History ==\nNew text & more.\n\n== {HOSTILE_HEADING} ==\n"
        "<script>x()</script> body\n",
    ]
    users = ["Alice", HOSTILE_USER, HOSTILE_USER]
    comments = ["start", HOSTILE_SUMMARY, HOSTILE_SUMMARY + " again"]
    revisions = []
    for i, (text, user, comment) in enumerate(zip(texts, users, comments, strict=True)):
        revisions.append(
            (
                {
                    "revid": 100 + i,
                    "parentid": 99 + i if i else 0,
                    "timestamp": f"2024-01-0{i + 1}T10:00:00Z",
                    "user": user,
                    "userid": 7,
                    "comment": comment,
                    "sha1": hashlib.sha1(text.encode()).hexdigest(),
                },
                text,
            )
        )
    with path.open("w", encoding="utf-8") as out:
        write_export(out, [({"title": "Hostile page", "pageid": 42}, revisions[:1])])
    full = path.with_name("full.xml")
    with full.open("w", encoding="utf-8") as out:
        write_export(out, [({"title": "Hostile page", "pageid": 42}, revisions)])
    return full


def test_email_html_part_escapes_hostile_wiki_values(tmp_path: Path, smtp_server) -> None:
    snapshot = tmp_path / "hostile.xml"
    full = hostile_export(snapshot)
    config = write_config(
        tmp_path,
        database="t.db",
        wikis=[{"name": "h", "snapshot": "hostile.xml"}],
        watches=[{"wiki": "h", "title": "Hostile page"}],
        # Both views: the wikitext's markup shown as text, the reader's words beside it.
        subscriptions=[{"name": "h", "view": "both", "channels": [smtp_server.channel()]}],
    )
    t = Tracker(config)
    from tracker.fetch.poll import poll_all

    def poll() -> None:
        with Store(t.config.database_path) as store:
            poll_all(store, t.config, progress=False)

    poll()
    t.deliver()
    full.replace(snapshot)
    poll()
    t.deliver()
    _, msg = smtp_server.wait(2)
    text, html = parts(msg)
    # The plain-text part shows the values as they are...
    assert HOSTILE_USER in text and HOSTILE_SUMMARY in text
    # ...the HTML part as text, never as markup.
    for raw in ("<script>", "<img src=x", "<b onmouseover", 'javascript:alert(1)">'):
        assert raw not in html, raw
    assert "Eve&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(&#34;summary&#34;)&lt;/script&gt; &amp; [click]" in html
    # Headings are shown as a reader sees them: the tags are gone, the text is escaped.
    assert '>Bold &amp; co\r\n<span class="kind"' in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html  # a word-level change with markup in it
