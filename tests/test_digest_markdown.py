"""Markdown digests under real Markdown renderers: nothing of the wiki's becomes HTML.

The Markdown digest (`digest.md.j2`) and the chat Markdown (`chat.md.j2`, Mattermost and
Discord) are rendered with hostile values in every field that comes from the wiki, then
turned into HTML by Python-Markdown (what Apprise uses for HTML e-mail: its default
settings and Apprise's own extensions) and by markdown-it-py (CommonMark, raw HTML
allowed, as by default). The HTML is parsed: every element and attribute must be one of
the template's own (headings, lists, emphasis, the template's links), and every wiki value
must read as the text it was. The same values go through the real pipeline (an export with
hostile titles, users, summaries and headings, polled and digested) and through Apprise
to a real SMTP server; test_digest_browser.py loads such HTML in Chromium.
"""

from __future__ import annotations

import html
import re
from email import message_from_bytes, policy
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
from digest_fixtures import (  # noqa: F401
    http_receiver,
    smtp_server,
    smtp_server_factory,
)
from markdown_it import MarkdownIt
from test_deliver import hostile_model

from tracker.digest.render import MENTION_BREAK, md_escape, render_digest

# What wiki text tries: raw HTML, links and images of its own, autolinks, entities that
# would decode into tags, backslashes that would undo our escapes, comments, breaking out
# of a raw HTML block, Markdown block syntax, mentions.
HOSTILE_VALUES = [
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=\"alert('quoted')\">",
    "<img src=x onerror=\"document.body.dataset.pwned=1\">",
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

# The only elements and attributes the templates themselves make.
OWN_TAGS = {"h1", "h2", "h3", "h4", "p", "a", "em", "strong", "ul", "li", "blockquote", "hr",
            "table", "thead", "tbody", "tr", "th", "td", "br", "del", "s"}
OWN_LINKS = {"https://w.example/index.php?diff=2&oldid=1",
             "https://w.example/index.php?title=A_%28b%29"}


def python_markdown(text: str) -> str:
    return markdown.markdown(text)


def python_markdown_apprise(text: str) -> str:
    """Python-Markdown as Apprise runs it for HTML e-mail (apprise/conversion/format.py)."""
    return markdown.markdown(text, extensions=["markdown.extensions.fenced_code",
                                               "markdown.extensions.nl2br",
                                               "markdown.extensions.tables"])


def markdown_it(text: str) -> str:
    return MarkdownIt().render(text)  # the CommonMark preset: raw HTML on


def markdown_it_gfm(text: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)


RENDERERS = {"python-markdown": python_markdown, "python-markdown-apprise":
             python_markdown_apprise, "markdown-it": markdown_it,
             "markdown-it-tables": markdown_it_gfm}


class Elements(HTMLParser):
    """Every element with its attributes, and the text, of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.comments: list[str] = []
        self.other: list[str] = []  # declarations, processing instructions, CDATA
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag not in OWN_TAGS:
            self.elements.append((f"/{tag}", {}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_decl(self, decl: str) -> None:
        self.other.append(decl)

    def handle_pi(self, data: str) -> None:
        self.other.append(data)

    def unknown_decl(self, data: str) -> None:
        self.other.append(data)


def parse(document: str) -> Elements:
    parser = Elements()
    parser.feed(document)
    parser.close()
    return parser


def foreign(document: str, links: set[str] = OWN_LINKS) -> list[str]:
    """What in an HTML document the templates did not make: other elements, any attribute
    but a link's href to one of ``links``, comments, declarations."""
    parsed = parse(document)
    found = []
    for tag, attrs in parsed.elements:
        if tag not in OWN_TAGS:
            found.append(f"element <{tag}>")
        for name, value in attrs.items():
            if tag == "a" and name == "href" and value in links:
                continue
            found.append(f"attribute {name}={value!r} on <{tag}>")
    found += [f"comment <!--{c}-->" for c in parsed.comments]
    found += [f"markup <!{o}>" for o in parsed.other]
    return found


def visible_text(document: str) -> str:
    return " ".join("".join(parse(document).text).replace(MENTION_BREAK, "").split())


@pytest.mark.parametrize("renderer", list(RENDERERS))
@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_markdown_digests_make_no_html_of_wiki_text(renderer: str, value: str) -> None:
    outputs = render_digest(hostile_model(value), ["markdown", "chat"])
    for fmt, text in outputs.items():
        document = RENDERERS[renderer](text)
        assert foreign(document) == [], (fmt, text, document)
        assert "javascript:" not in {v for _, a in parse(document).elements for v in a.values()}


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_markdown_values_read_as_typed_under_commonmark(value: str) -> None:
    """Escaped, not mangled: the subject line shows the value as it was (on one line)."""
    document = markdown_it(md_escape(value))
    shown = visible_text(document)
    expected = " ".join(value.replace("\u2028", " ").split())
    assert shown == expected


@pytest.mark.parametrize("value", [v for v in HOSTILE_VALUES if not re.search(r"[~|\u2028]", v)])
def test_markdown_values_read_as_typed_under_python_markdown(value: str) -> None:
    # Python-Markdown has no escape for "~" and, without its tables extension, for "|":
    # those show their backslash (the text stays text).
    shown = visible_text(python_markdown(md_escape(value)))
    assert shown == " ".join(value.split())


def test_markdown_digest_has_no_raw_html_block() -> None:
    """Python-Markdown takes a raw HTML block (such as <details>) up to its closing tag as
    HTML, escapes and all; the digest's edit table is plain Markdown."""
    text = render_digest(hostile_model(), ["markdown"])["markdown"]
    assert not re.search(r"^\s*<", text, re.M)
    table = python_markdown_apprise(text)
    assert "<table>" in table and "<td>&lt;script&gt;alert(\"x\")&lt;/script&gt;" in table


def test_mentions_are_muted_in_markdown() -> None:
    escaped = md_escape("@channel ping <@U123> <@&1> @here")
    assert not re.search(r"@(channel|here|U123|&)", escaped)
    assert escaped.replace(MENTION_BREAK, "") == \
        "@channel ping &lt;@U123&gt; &lt;@&1&gt; @here"


# --- the real pipeline: an export with hostile values, polled and digested ------------------

# MediaWiki titles cannot hold < > [ ] { } | #: a title uses what they can.
HOSTILE_TITLE = "Evil *title* _x_ @channel `t` &lt;img src=x onerror=alert(1)&gt; !x \\"
HOSTILE_USER = "<img src=x onerror=\"window.__pwned='user'\">Mallory @everyone <@&1>"
HOSTILE_SUMMARY = ("<script>window.__pwned='summary'</script> [x](javascript:alert(1)) "
                   "![i](http://evil.example/i.png) </details><img src=x onerror=alert(1)> "
                   "<!-- c --> &#60;b&#62; \\<img src=x onerror=alert(1)> @here <!channel>")
HOSTILE_HEADING = ("<img src=x onerror=\"window.__pwned='heading'\"> [h](javascript:alert(1)) "
                   "@all <@&1> <!here>")


def hostile_export(path: Path, count: int) -> Path:
    """An XML export of a page whose title, users, summaries and headings are hostile;
    the first ``count`` of its three revisions."""
    from tracker.fetch.snapshot import write_export

    texts = [
        "Intro.\n\n== Safe ==\nNothing.\n",
        f"Intro.\n\n== {HOSTILE_HEADING} ==\nNew <img src=x onerror=alert(1)> text.\n\n"
        "== Safe ==\nNothing.\n",
        f"Intro [x](javascript:alert(1)).\n\n== {HOSTILE_HEADING} ==\nNew text, more.\n\n"
        "== Safe ==\nNothing at all.\n",
    ]
    import hashlib

    rows = []
    for k, text in enumerate(texts[:count], start=1):
        rows.append(({"revid": 100 + k, "parentid": 100 + k - 1 if k > 1 else 0,
                      "timestamp": f"2024-03-01T0{k}:00:00Z",
                      "user": HOSTILE_USER if k > 1 else "Alice", "userid": k,
                      "comment": HOSTILE_SUMMARY if k > 1 else "create", "minor": False,
                      "size": len(text.encode()),
                      "sha1": hashlib.sha1(text.encode()).hexdigest()}, text))
    with path.open("w", encoding="utf-8") as out:
        write_export(out, [({"title": HOSTILE_TITLE, "ns": 0, "pageid": 7}, rows)])
    return path


def hostile_tracker(tmp_path: Path, channels: list[dict]) -> Path:
    from digest_fixtures import subscription_toml
    from trackerutil import toml_value as toml

    hostile_export(tmp_path / "evil.xml", 1)
    config = tmp_path / "config.toml"
    config.write_text(
        '[storage]\ndatabase = "tracker.db"\n\n[[wikis]]\nname = "evil"\n'
        'snapshot = "evil.xml"\nindex_url = "https://w.example/index.php"\n\n'
        f'[[watches]]\nwiki = "evil"\ntitle = {toml(HOSTILE_TITLE)}\n\n'
        + subscription_toml(name="evil", formats=["markdown", "text"], channels=channels),
        encoding="utf-8")
    return config


def poll_and_deliver(config_path: Path, minutes: int) -> list[str]:
    from datetime import timedelta

    from digest_fixtures import T0

    from tracker.config import load_config
    from tracker.digest.run import deliver_due
    from tracker.fetch.poll import poll_all
    from tracker.store import Store

    config = load_config(config_path)
    with Store(config.database_path) as store:
        assert all(r.ok for r in poll_all(store, config, progress=False))
        return deliver_due(store, config, now=T0 + timedelta(minutes=minutes))


def test_hostile_history_digests_make_no_html_and_notify_nobody(tmp_path: Path,
                                                              http_receiver  # noqa: F811
                                                              ) -> None:
    receiver = http_receiver()
    chats = [{"type": "webhook", "url": receiver.url + f"/{p}", "payload": p, "name": p}
             for p in ("mattermost", "discord", "slack")]
    config = hostile_tracker(tmp_path, [{"type": "file", "path": "digests"}, *chats])
    poll_and_deliver(config, 1)
    hostile_export(tmp_path / "evil.xml", 3)
    lines = poll_and_deliver(config, 2)
    assert not [line for line in lines if line.startswith("error:")], lines

    (md_file,) = (tmp_path / "digests").glob("evil-*-2.md")
    text = md_file.read_text(encoding="utf-8")
    assert "Mallory" in text and "pwned='summary'" in text  # the values are there, as text
    links = set(re.findall(r"\]\((https://w\.example/[^)]*)\)", text))
    for render in RENDERERS.values():
        document = render(text)
        assert foreign(document, links) == [], document
        shown = visible_text(document)
        assert "<script>window.__pwned='summary'</script>" in shown
        assert "<img src=x onerror=\"window.__pwned='heading'\"" in shown

    posted = {r.path.strip("/"): r.json() for r in receiver.accepted[-3:]}
    mattermost, discord, slack = (posted["mattermost"]["text"], posted["discord"]["content"],
                                  posted["slack"]["text"])
    for chat in (mattermost, discord, slack):
        assert "Mallory" in chat or "Evil" in chat
        assert not re.search(r"@(channel|here|all|everyone)\b", chat), chat
        # No <@U1>, <@&1>, <!here>, <#C1> as syntax (Discord's "\<" shows a "<").
        assert not re.search(r"(?<!\\)<(@[&!]?[\dA-Z]|![a-z]|#[\dA-Z])", chat), chat
    assert f"@{MENTION_BREAK}channel" in mattermost  # in the title: shown, not a mention
    assert posted["discord"]["allowed_mentions"] == {"parse": []}
    # Discord decodes no entities: "<" is escaped its way; the title's own "&lt;" stays.
    assert "\\<img src=x onerror=\"window" in discord and "&amp;" not in discord
    assert "`t` &lt;img src=x onerror=alert(1)&gt; " in discord.replace("\\", "")
    assert "&lt;!here&gt;" in slack and "&lt;@\u200d&amp;1&gt;" in slack
    for chat in (mattermost,):
        assert foreign(markdown_it(chat), set(re.findall(r"\]\(([^)]*)\)", chat))) == []


# --- through Apprise to a real SMTP server: the HTML e-mail it makes of the Markdown ---------


def apprise_email_html(tmp_path: Path, smtp, value: str | None = None) -> str:  # noqa: ANN001
    """Deliver the hostile history (or a model with ``value``) through Apprise's mailto://
    to the SMTP server; the HTML part of the e-mail it sent."""
    pytest.importorskip("apprise")
    url = (f"mailto://{smtp.host}:{smtp.port}?from=tracker@example.org&to=me@example.org"
           "&mode=insecure&format=html")
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
        out = Outgoing(1, "s", "changes", "subject", "2024-03-01T06:00:00Z", "<1@x>",
                       {"markdown": markdown_text}, {}, tmp_path)
        send_apprise(out, {"urls": [url], "urls_env": None})
        message = smtp.wait(1)[-1]
    raw = message_from_bytes(message.as_bytes(), policy=policy.default)
    part = raw.get_body(("html",))
    assert part is not None, raw
    return part.get_content()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # apprise imports imghdr
def test_apprise_html_email_of_a_hostile_history_has_no_html_of_wiki_text(
        tmp_path: Path, smtp_server) -> None:  # noqa: F811
    document = apprise_email_html(tmp_path, smtp_server)
    parsed = parse(document)
    assert not [tag for tag, _ in parsed.elements if tag in ("script", "img", "details")]
    assert not [name for _, attrs in parsed.elements for name in attrs
                if name.startswith("on")]
    assert not [v for _, attrs in parsed.elements for v in attrs.values()
                if v and "javascript" in v.lower()]
    shown = html.unescape(visible_text(document))
    assert "<script>window.__pwned='summary'</script>" in shown
