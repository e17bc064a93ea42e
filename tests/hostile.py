"""Hostile wiki values for the digests: what every digest output must show as text.

- ``HOSTILE`` and ``hostile_model(value)``: a changes digest's render model with a value in
  every field that comes from the wiki;
- ``HOSTILE_VALUES``: what wiki text tries against a Markdown renderer (raw HTML, links,
  entities, escapes undone, block syntax, mentions);
- ``hostile_export``/``hostile_tracker``/``poll_and_deliver``: the real pipeline, an export
  whose title, users, summaries and headings are hostile, polled and digested;
- ``python_markdown_apprise`` and ``apprise_email_html``: the HTML a reader's mail client
  gets of the Markdown digest (Python-Markdown as Apprise runs it; Apprise to SMTP);
- ``active_html(html)``: what in a page would run or load something (elements, attributes),
  as an HTML parser reads it: hostile text shown escaped is not.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
from seedstages import T0
from trackerutil import write_config

from tracker.digest.render import render_digest

# --- a render model -------------------------------------------------------------------------

HOSTILE = '<script>alert("x")</script> [click](javascript:alert(1)) **b** & `c` # h'


def hostile_model(value: str = HOSTILE) -> dict:
    """A changes digest's render model with ``value`` in every field that comes from the
    wiki (titles, headings, users, summaries, tags, changed text, errors)."""
    rev = {
        "revid": 2,
        "parentid": 1,
        "timestamp": "2024-01-01T00:00:00Z",
        "time": value,
        "user": value,
        "comment": value + "\x1b[31mred",
        "minor": False,
        "tags": [value],
        "size": 10,
        "delta": 5,
        "bot": False,
        "reverted": False,
        "links": {"wiki_diff": "https://w.example/index.php?diff=2&oldid=1", "web_diff": None},
    }
    section = {
        "id": "1.1",
        "path": [value],
        "old_path": [value + "old"],
        "title": value,
        "old_title": value + "old",
        "kinds": ["edited"],
        "words_added": 1,
        "words_removed": 1,
        "words": [
            {"op": "eq", "text": value},
            {"op": "ins", "text": value},
            {"op": "del", "text": value},
        ],
        "more_words": 0,
        "semantic": [{"type": "ref_added", "text": value}],
        "semantic_more": 0,
        "revisions": [rev],
    }
    counts = {
        "edits": 1,
        "editors": 1,
        "bytes_added": 5,
        "bytes_removed": 0,
        "sections": 1,
        "reverted": 1,
        "filtered": 0,
        "pages": 1,
    }
    page = {
        "title": value,
        "watch_title": value,
        "wiki": value,
        "page_id": 1,
        "pageid": 1,
        "started": False,
        "error": value,
        "from": {"revid": 1, "timestamp": "x", "time": "x", "user": value},
        "to": {"revid": 2, "timestamp": "x", "time": "x", "user": value},
        "links": {
            "wiki_diff": "https://w.example/index.php?diff=2&oldid=1",
            "wiki_page": "https://w.example/index.php?title=A_(b)",
            "web_page": None,
            "web_diff": None,
        },
        "counts": counts,
        "sections": [section],
        "revisions": [rev],
        "page_semantic": [{"type": "category_added", "text": value}],
        "page_semantic_more": 0,
        "reverted": [
            {
                "count": 1,
                "users": [value],
                "reverter": value,
                "text": value,
                "after_seconds": 1,
                "revisions": [],
            }
        ],
        "followed": None,
        "revision_count": None,
        "last": None,
    }
    return {
        "subscription": "s",
        "kind": "changes",
        "subject": value,
        "generated_at": "x",
        "generated_local": "x",
        "timezone": "UTC",
        "since": None,
        "until": None,
        "counts": counts,
        "pages": [page],
        "errors": [value],
        "sections_filter": [],
        "links": {"web": None},
        "link": None,
    }


# --- against Markdown renderers -----------------------------------------------------------

# What wiki text tries: raw HTML, links and images of its own, autolinks, entities that
# would decode into tags, backslashes that would undo our escapes, comments, breaking out
# of a raw HTML block, Markdown block syntax, mentions.
HOSTILE_VALUES = [
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=\"alert('quoted')\">",
    '<img src=x onerror="document.body.dataset.pwned=1">',
    "<script>alert(1)</script>",
    "<IMG SRC=x ONERROR=alert(1)>",
    "<img\nsrc=x\nonerror=alert(1)>",
    "<img/src=x/onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<b onmouseover=alert(1)>bold</b>",
    "<style>body{display:none}</style>",
    "<form action=http://evil.example/><button>go</button></form>",
    '"><img src=x onerror=alert(1)>',
    "'><img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](javascript&#58;alert(1))",
    "*[x](javascript:alert(1))*",
    '<a href="javascript:alert(1)">a</a>',
    "<a href=javascript:alert(1)>a</a>",
    "![x](http://evil.example/x.png)",
    "![x](javascript:alert(1))",
    "[x]: javascript:alert(1)",
    "[x][y]\n\n[y]: javascript:alert(1)",
    "[x]\n\n[x]: http://evil.example/",
    "<http://evil.example/>",
    "<javascript:alert(1)>",
    "<mallory@evil.example>",
    "http://evil.example/bare",
    "&lt;img src=x onerror=alert(1)&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "&#x3C;img src=x onerror=alert(1)&#x3E;",
    "&lt;img src=x onerror=alert(1)&gt",
    "&amp;lt;script&amp;gt;",
    "\\<img src=x onerror=alert(1)>",
    "\\\\<img src=x onerror=alert(1)>",
    "\\[x](javascript:alert(1))",
    "\\&lt;img src=x onerror=alert(1)>",
    "trailing backslash \\",
    "<!-- hidden --><img src=x onerror=alert(1)>",
    "<!--",
    "--> <img src=x onerror=alert(1)>",
    "</details><img src=x onerror=alert(1)><details>",
    "<details open><summary>x</summary><img src=x onerror=alert(1)>",
    "</summary></details>\n\n<img src=x onerror=alert(1)>",
    "<![CDATA[<img src=x onerror=alert(1)>]]>",
    "<?php echo 1; ?>",
    "`<img src=x onerror=alert(1)>`",
    "```\n<img src=x onerror=alert(1)>\n```",
    "    <img src=x onerror=alert(1)>",
    "> <img src=x onerror=alert(1)>",
    "1. <img src=x onerror=alert(1)>",
    "# heading <img src=x onerror=alert(1)>",
    "line\n\n<img src=x onerror=alert(1)>\n\nline",
    "line\r\n<script>alert(1)</script>\u2028<img src=x onerror=alert(1)>",
    "| a | <img src=x onerror=alert(1)> |\n|---|---|",
    "a\n===\nb\n---",
    "**bold** _it_ ~~gone~~ `code`",
    "Q&A: research & development",
    "@channel @here @all @everyone <!channel> <!here> <@U123> <@&1> <@!2> <#C1>",
]


def python_markdown_apprise(text: str) -> str:
    """Python-Markdown as Apprise runs it for HTML e-mail (apprise/conversion/format.py)."""
    return markdown.markdown(
        text,
        extensions=[
            "markdown.extensions.fenced_code",
            "markdown.extensions.nl2br",
            "markdown.extensions.tables",
        ],
    )


# --- the real pipeline: an export with hostile values, polled and digested ------------------

# MediaWiki titles cannot hold < > [ ] { } | #: a title uses what they can.
EXPORT_TITLE = "Evil *title* _x_ @channel `t` &lt;img src=x onerror=alert(1)&gt; !x \\"
EXPORT_USER = "<img src=x onerror=\"window.__pwned='user'\">Mallory @everyone <@&1>"
EXPORT_SUMMARY = (
    "<script>window.__pwned='summary'</script> [x](javascript:alert(1)) "
    "![i](http://evil.example/i.png) </details><img src=x onerror=alert(1)> "
    "<!-- c --> &#60;b&#62; \\<img src=x onerror=alert(1)> @here <!channel>"
)
EXPORT_HEADING = (
    "<img src=x onerror=\"window.__pwned='heading'\"> [h](javascript:alert(1)) @all <@&1> <!here>"
)


def hostile_export(path: Path, count: int) -> Path:
    """An XML export of a page whose title, users, summaries and headings are hostile;
    the first ``count`` of its three revisions."""
    from tracker.fetch.snapshot import write_export

    texts = [
        "Intro.\n\n== Safe ==\nNothing.\n",
        f"Intro.\n\n== {EXPORT_HEADING} ==\nNew <img src=x onerror=alert(1)> text.\n\n"
        "== Safe ==\nNothing.\n",
        f"Intro [x](javascript:alert(1)).\n\n== {EXPORT_HEADING} ==\nNew text, more.\n\n"
        "== Safe ==\nNothing at all.\n",
    ]
    rows = []
    for k, text in enumerate(texts[:count], start=1):
        rows.append(
            (
                {
                    "revid": 100 + k,
                    "parentid": 100 + k - 1 if k > 1 else 0,
                    "timestamp": f"2024-03-01T0{k}:00:00Z",
                    "user": EXPORT_USER if k > 1 else "Alice",
                    "userid": k,
                    "comment": EXPORT_SUMMARY if k > 1 else "create",
                    "minor": False,
                    "size": len(text.encode()),
                    "sha1": hashlib.sha1(text.encode()).hexdigest(),
                },
                text,
            )
        )
    with path.open("w", encoding="utf-8") as out:
        write_export(out, [({"title": EXPORT_TITLE, "ns": 0, "pageid": 7}, rows)])
    return path


def hostile_tracker(tmp_path: Path, channels: list[dict]) -> Path:
    """A config watching the hostile export (its first revision written), with one
    subscription sending Markdown and text to ``channels``."""
    hostile_export(tmp_path / "evil.xml", 1)
    return write_config(
        tmp_path,
        wikis=[
            {"name": "evil", "snapshot": "evil.xml", "index_url": "https://w.example/index.php"}
        ],
        watches=[{"wiki": "evil", "title": EXPORT_TITLE}],
        subscriptions=[{"name": "evil", "formats": ["markdown", "text"], "channels": channels}],
    )


def poll_and_deliver(config_path: Path, minutes: int) -> list[str]:
    """Poll, then deliver what is due at ``minutes`` after T0."""
    from tracker.config import load_config
    from tracker.digest.run import deliver_due
    from tracker.fetch.poll import poll_all
    from tracker.store import Store

    config = load_config(config_path)
    with Store(config.database_path) as store:
        assert all(r.ok for r in poll_all(store, config, progress=False))
        return deliver_due(store, config, now=T0 + timedelta(minutes=minutes))


# --- through Apprise to a real SMTP server ---------------------------------------------------


def apprise_email_html(tmp_path: Path, smtp, value: str | None = None) -> str:  # noqa: ANN001
    """Deliver the hostile history (or a model with ``value``) through Apprise's mailto://
    to the SMTP server; the HTML part of the e-mail it sent."""
    pytest.importorskip("apprise")
    url = (
        f"mailto://{smtp.host}:{smtp.port}?from=tracker@example.org&to=me@example.org"
        "&mode=insecure&format=html"
    )
    if value is None:
        config = hostile_tracker(tmp_path, [{"type": "apprise", "urls": [url]}])
        poll_and_deliver(config, 1)
        hostile_export(tmp_path / "evil.xml", 3)
        lines = poll_and_deliver(config, 2)
        assert any("notified 1 service" in line for line in lines), lines
        message = smtp.wait(2)[-1]
    else:
        from tracker.digest.channels import Outgoing, send_apprise

        markdown_text = render_digest(hostile_model(value), ["markdown"])["markdown"]
        out = Outgoing(
            1,
            "s",
            "changes",
            "subject",
            "2024-03-01T06:00:00Z",
            "<1@x>",
            {"markdown": markdown_text},
            {},
            tmp_path,
        )
        send_apprise(out, {"urls": [url], "urls_env": None})
        message = smtp.wait(1)[-1]
    raw = message_from_bytes(message.as_bytes(), policy=policy.default)
    part = raw.get_body(("html",))
    assert part is not None, raw
    return part.get_content()


# --- what would act -------------------------------------------------------------------------

_ACTIVE_ELEMENTS = frozenset(
    {"script", "img", "iframe", "object", "embed", "style", "link", "meta", "base", "svg",
     "video", "audio", "source", "form", "input"}
)  # fmt: skip


class _Active(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _ACTIVE_ELEMENTS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower(
            ).startswith(("javascript:", "data:", "vbscript:")):  # fmt: skip
                self.found.append(f"<{tag} {name}={value}>")
            if name == "style" and "url(" in (value or "").lower():
                self.found.append(f"<{tag} style=url()>")


def active_html(html: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """The elements and attributes of `html` that would run a script or fetch something
    (``<script>``, ``<img>``, ``on*=``, ``javascript:`` links, ``url()`` in a style), but
    the element names in `allowed` (a page's own ``<script>``, ``<link>``)."""
    parser = _Active()
    parser.feed(html)
    parser.close()
    return [f for f in parser.found if f.split()[0].strip("<>") not in allowed]
