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
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
from hostile import (
    HOSTILE_VALUES,
    apprise_email_html,
    hostile_export,
    hostile_model,
    hostile_tracker,
    poll_and_deliver,
    python_markdown_apprise,
)
from markdown_it import MarkdownIt

from tracker.digest.render import MENTION_BREAK, md_escape, render_digest

# The only elements and attributes the templates themselves make.
OWN_TAGS = {
    "h1",
    "h2",
    "h3",
    "h4",
    "p",
    "a",
    "em",
    "strong",
    "ul",
    "li",
    "blockquote",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "br",
    "del",
    "s",
}
OWN_LINKS = {
    "https://w.example/index.php?diff=2&oldid=1",
    "https://w.example/index.php?title=A_%28b%29",
}


def python_markdown(text: str) -> str:
    return markdown.markdown(text)


def markdown_it(text: str) -> str:
    return MarkdownIt().render(text)  # the CommonMark preset: raw HTML on


def markdown_it_gfm(text: str) -> str:
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(text)


RENDERERS = {
    "python-markdown": python_markdown,
    "python-markdown-apprise": python_markdown_apprise,
    "markdown-it": markdown_it,
    "markdown-it-tables": markdown_it_gfm,
}


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
    assert "<table>" in table and '<td>&lt;script&gt;alert("x")&lt;/script&gt;' in table


def test_mentions_are_muted_in_markdown() -> None:
    escaped = md_escape("@channel ping <@U123> <@&1> @here")
    assert not re.search(r"@(channel|here|U123|&)", escaped)
    assert escaped.replace(MENTION_BREAK, "") == "@channel ping &lt;@U123&gt; &lt;@&1&gt; @here"


# --- the real pipeline: an export with hostile values, polled and digested ------------------


def test_hostile_history_digests_make_no_html_and_notify_nobody(
    tmp_path: Path, http_receiver
) -> None:
    receiver = http_receiver()
    chats = [
        {"type": "webhook", "url": receiver.url + f"/{p}", "payload": p, "name": p}
        for p in ("mattermost", "discord", "slack")
    ]
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
    mattermost, discord, slack = (
        posted["mattermost"]["text"],
        posted["discord"]["content"],
        posted["slack"]["text"],
    )
    for chat in (mattermost, discord, slack):
        assert "Mallory" in chat or "Evil" in chat
        assert not re.search(r"@(channel|here|all|everyone)\b", chat), chat
        # No <@U1>, <@&1>, <!here>, <#C1> as syntax (Discord's "\<" shows a "<").
        assert not re.search(r"(?<!\\)<(@[&!]?[\dA-Z]|![a-z]|#[\dA-Z])", chat), chat
    assert f"@{MENTION_BREAK}channel" in mattermost  # in the title: shown, not a mention
    assert posted["discord"]["allowed_mentions"] == {"parse": []}
    # Discord decodes no entities: "<" is escaped its way; the title's own "&lt;" stays.
    assert '\\<img src=x onerror="window' in discord and "&amp;" not in discord
    assert "`t` &lt;img src=x onerror=alert(1)&gt; " in discord.replace("\\", "")
    assert "&lt;!here&gt;" in slack and "&lt;@\u200d&amp;1&gt;" in slack
    for chat in (mattermost,):
        assert foreign(markdown_it(chat), set(re.findall(r"\]\(([^)]*)\)", chat))) == []


# --- through Apprise to a real SMTP server: the HTML e-mail it makes of the Markdown ---------


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # apprise imports imghdr
def test_apprise_html_email_of_a_hostile_history_has_no_html_of_wiki_text(
    tmp_path: Path, smtp_server
) -> None:
    document = apprise_email_html(tmp_path, smtp_server)
    parsed = parse(document)
    assert not [tag for tag, _ in parsed.elements if tag in ("script", "img", "details")]
    assert not [name for _, attrs in parsed.elements for name in attrs if name.startswith("on")]
    assert not [
        v for _, attrs in parsed.elements for v in attrs.values() if v and "javascript" in v.lower()
    ]
    shown = html.unescape(visible_text(document))
    assert "<script>window.__pwned='summary'</script>" in shown
