"""Jinja2 rendering of digests: the render model (digest.py) -> text, Markdown, HTML, Atom.

Templates are looked up in the subscription's own directory first (``templates = "dir"``),
then in the bundled ones (the top-level templates/ directory, shipped as the package
``tracker.templates``). A user overrides one template by putting a file of the same name in
their directory; the rest still come from the bundle.

Every value from the wiki is escaped for its format, without the template having to ask:

- ``*.html.j2`` and ``*.atom.j2``: Jinja2's autoescape (HTML/XML), control characters
  (which XML forbids) shown as symbols;
- ``*.md.j2``: every ``{{ value }}`` goes through `md_escape` (a ``finalize`` hook), so that
  a summary such as ``[click](javascript:...)`` or ``<script>`` stays text under every
  Markdown renderer (Python-Markdown, which Apprise uses for HTML e-mail, CommonMark,
  chat apps), and ``@channel`` notifies nobody;
- ``*.slack.j2``: Slack's three entities (``&``, ``<``, ``>``), mentions muted;
- ``*.txt.j2``: control and bidi characters shown, not obeyed, and line breaks inside a
  value as "⏎" (display.one_line); a changed passage keeps its lines (``|multiline``).

Links the templates build themselves go through the ``link`` filters, which return
`Markup` and so are not escaped a second time.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup, escape

from tracker.text.display import describe_change, one_line, printable, terminal_text
from tracker.text.summary import pieces_html, pieces_text, summary_pieces
from tracker.text.worddiff import overlay

FORMAT_TEMPLATES = {
    "text": "digest.txt.j2",
    "markdown": "digest.md.j2",
    "html": "digest.html.j2",
    "html_body": "digest_body.html.j2",  # the HTML without the e-mail frame (Atom entries)
    "chat": "chat.md.j2",  # short Markdown for Mattermost and Discord webhooks
    "slack": "chat.slack.j2",  # Slack mrkdwn
}
# Notices (tracker.digest.notices: test messages, alerts) in the same formats.
NOTICE_TEMPLATES = {
    "text": "notice.txt.j2",
    "markdown": "notice.md.j2",
    "html": "notice.html.j2",
    "html_body": "notice_body.html.j2",
    "chat": "notice.chat.md.j2",
    "slack": "notice.slack.j2",
}
NOTICE_KINDS = ("test", "alert")
FEED_TEMPLATE = "feed.atom.j2"

# Inline Markdown: characters that start emphasis, code, links, images, tables or escapes.
# "<", ">" and "&" become entities instead: Python-Markdown does not take "\\<" for an
# escape, and inside a raw HTML block no backslash escape counts, while "&lt;" is text
# everywhere (see md_escape).
_MD_INLINE = re.compile(r"([\\`*_{}\[\]|~#!])")
# An "&" that would start an entity ("&lt;", "&#60;"): shown as typed, never decoded.
_MD_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_SPACES = re.compile(r" {2,}")
# Characters that only matter at the start of a line: headings, lists, quotes, rules.
_MD_LINE_START = re.compile(r"^(\s*)([-+=]|\d+[.)])")
# A mention in a chat app: "@channel", "@here", "@all", "@everyone", "@user" (Mattermost,
# Slack, Discord), "<@U123>", "<@&1>" (Slack, Discord). A zero-width joiner after the "@"
# leaves the text as it reads and makes it no mention.
_MENTION = re.compile(r"@(?=\S)")
MENTION_BREAK = "\u200d"


def plain(value: Any) -> str:
    """Text output: the value on one line, control and bidi characters shown, not obeyed."""
    return one_line(value)


def mute_mentions(text: str) -> str:
    """Text that notifies nobody in a chat app (see _MENTION)."""
    return _MENTION.sub("@" + MENTION_BREAK, text)


def md_escape(value: Any) -> str:
    """Markdown output: a value shown as literal text, on one line, under any renderer.

    No tag, comment, autolink, link, image or entity of the value's survives: "<", ">"
    and an "&" starting an entity become "&lt;", "&gt;", "&amp;" (text even inside a raw
    HTML block), the other Markdown punctuation is backslash-escaped, and mentions are
    muted (a digest sent to a chat app through Apprise is Markdown too)."""
    if isinstance(value, Markup):
        return str(value)
    # Runs of spaces collapse (as HTML shows them anyway): four would start a code block,
    # two at the end a line break.
    text = _SPACES.sub(" ", mute_mentions(one_line(value, newline=" ")))
    text = _MD_INLINE.sub(r"\\\1", _MD_ENTITY.sub("&amp;", text))
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return _MD_LINE_START.sub(_escape_line_start, text)


def _escape_line_start(match: re.Match[str]) -> str:
    mark = match.group(2)
    if mark[0].isdigit():  # "1." starts a list: escape the dot, not the digit
        return match.group(1) + mark[:-1] + "\\" + mark[-1]
    return match.group(1) + "\\" + mark


def slack_escape(value: Any) -> str:
    """Slack mrkdwn output: only &, < and > are special (links are <url|text>, mentions
    <!channel>, <@U123>); "@channel" typed as text is muted too."""
    if isinstance(value, Markup):
        return str(value)
    text = mute_mentions(one_line(value))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_CHAT_ENTITY = re.compile(r"&(lt|gt|amp);")


def discord_markdown(chat: str) -> str:
    """The chat Markdown for Discord, which decodes no HTML entities: "&lt;" as "\\<"
    (Discord's own escape, which also keeps "<@1>" or "<t:1>" from being syntax)."""
    return _CHAT_ENTITY.sub(lambda m: {"lt": "\\<", "gt": "\\>", "amp": "&"}[m.group(1)], chat)


def html_text(value: Any) -> Any:
    """HTML and Atom output: control characters (which XML forbids) shown as symbols; the
    autoescape does the rest."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return printable(value)
    return value


def _finalize(escape: Callable[[Any], str]) -> Callable[[Any], Any]:
    def finalize(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, Markup):
            return str(value)
        return escape(value)

    return finalize


# --- filters shared by every flavour ---------------------------------------------------------


def md_link(text: Any, url: str | None) -> Markup:
    """[text](url) with the text escaped and the URL made safe for Markdown."""
    if not url:
        return Markup(md_escape(text))
    safe = quote(url, safe="/:?&=#%+@,;~.-_!$'*")
    safe = safe.replace("(", "%28").replace(")", "%29")
    return Markup(f"[{md_escape(text)}]({safe})")


def slack_link(text: Any, url: str | None) -> Markup:
    if not url:
        return Markup(slack_escape(text))
    label = slack_escape(text).replace("|", "¦")
    return Markup(f"<{quote(url, safe='/:?&=#%+@,;~.-_!$*')}|{label}>")


def signed(value: int | None) -> Markup:
    # Markup: a number of ours, which Markdown escaping would only clutter ("\\+12").
    if value is None:
        return Markup("?")  # a size the wiki hides
    return Markup(f"{value:+,d}" if value else "0")


def thousands(value: int) -> Markup:
    return Markup(f"{value:,d}")


def plural(count: int, singular: str, many: str | None = None) -> Markup:
    """ "1 edit", "3 edits": for the template's own words, never for wiki text."""
    return Markup(f"{count:,d} {singular if count == 1 else (many or singular + 's')}")


def summary_html(rev: Any) -> Markup:
    """HTML digests: a revision's summary as MediaWiki shows it, from the model's
    ``summary`` pieces (links to the wiki); a hidden one as the model words it; a model
    from before the pieces read again, without links."""
    if "summary" not in rev:
        return pieces_html(summary_pieces(rev["comment"], lambda title: None, ""))
    if rev["summary"] is None:
        return Markup(escape(printable(rev["comment"])))
    return pieces_html(rev["summary"])


def summary_text(rev: Any) -> str:
    """Text and Markdown digests: the summary as plain text ("→ Section: rest"), which
    the format's escaping then treats as any wiki text."""
    if rev.get("summary") is not None:
        return pieces_text(rev["summary"])
    if "summary" not in rev:
        return pieces_text(summary_pieces(rev["comment"], lambda title: None, ""))
    return str(rev["comment"])


def truncate_middle(value: Any, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit // 2] + " … " + text[-limit // 2 :]


def multiline(value: Any) -> Markup:
    """Text digests: a changed passage with its line breaks (the rest shown as in plain)."""
    return Markup(terminal_text(value))


# The reader diff's classes (tracker.text.reader.pieces_html) as inline styles: mail clients
# drop <style> blocks. The colours are those of the wikitext highlights.
_READER_STYLES = {
    "rd-ins": "background:#d1f7da;color:#0a3d18;text-decoration:none;",
    "rd-del": "background:#ffd7d5;color:#67060c;text-decoration:line-through;",
    "rd-ins moved": "background:#ddf4ff;color:#0a3069;text-decoration:none;"
    "border-bottom:1px dashed #0969da;",
    "rd-del moved": "background:#ddf4ff;color:#57606a;text-decoration:line-through;",
    "rd-link": "color:#0969da;",
    "rd-url": "color:#0969da;",
    "rd-note": "color:#0969da;font-size:11px;",
    "rd-mark": "color:#57606a;font-size:11px;",
    "rd-cite": "color:#1f2328;font-size:13px;",
    "rd-tpl": "background:#eaeef2;color:#57606a;font-size:12px;padding:0 4px;border-radius:4px;",
    "rd-file": "color:#57606a;font-style:italic;",
    "rd-field": "font-weight:600;",
    "rd-head": "font-weight:600;",
    "rd-bullet": "color:#57606a;",
    "rd-hit": "background:#ffe08a;color:#1f2328;font-weight:600;",  # a text trigger's match
}
_READER_CLASS = re.compile(r'class="(rd-[a-z]+(?: moved)?)"')


def reader_mail_html(value: Any) -> Markup:
    """HTML digests: a reader diff's HTML (ReaderDiff.html, escaped when it was made) with
    its classes given as inline styles."""
    return Markup(
        _READER_CLASS.sub(
            lambda m: f'style="{_READER_STYLES.get(m.group(1), "")}" {m.group(0)}', str(value)
        )
    )


def md_quote(value: Any) -> Markup:
    """Markdown digests: a passage of text, its lines kept, as a block quote of escaped
    lines (md_escape)."""
    lines = str(value).strip("\n").split("\n")
    return Markup("\n".join(("> " + md_escape(line)).rstrip() for line in lines))


# --- text triggers: what matched, highlighted in every format -------------------------------
# A word segment may carry "hits" (tracker.digest.triggers): offsets of what a subscription's
# text trigger found in it. Text shows them as >>match<<, HTML as <mark>, Markdown in bold
# (bold italic inside an insertion, which is bold already).

HIT_STYLE = "background:#ffe08a;color:#1f2328;font-weight:600;"


def _pieces(segment: Any, whole_words: bool = False) -> list[tuple[str, bool]]:
    """A segment's text as (text, matched) pieces; ``whole_words`` widens each match to
    the whitespace around it (Markdown emphasis cannot start or end inside a word)."""
    text = str(segment["text"])
    spans = [(int(a), int(b)) for a, b in segment.get("hits") or []]
    if whole_words:
        widened: list[tuple[int, int]] = []
        for start, end in spans:
            while start > 0 and not text[start - 1].isspace():
                start -= 1
            while end < len(text) and not text[end].isspace():
                end += 1
            if widened and start <= widened[-1][1]:
                widened[-1] = (widened[-1][0], max(end, widened[-1][1]))
            else:
                widened.append((start, end))
        spans = widened
    pieces, at = [], 0
    for start, end in spans:
        if start > at:
            pieces.append((text[at:start], False))
        pieces.append((text[start:end], True))
        at = end
    if at < len(text) or not pieces:
        pieces.append((text[at:], False))
    return pieces


def text_segment(segment: Any) -> Markup:
    """Text digests: a word segment with its lines, matches as >>match<<."""
    return Markup(
        "".join(
            f">>{terminal_text(text)}<<" if hit else terminal_text(text)
            for text, hit in _pieces(segment)
        )
    )


def html_segment(segment: Any) -> Markup:
    """HTML digests: a word segment escaped, matches in <mark>."""
    return Markup(
        "".join(
            f'<mark style="{HIT_STYLE}">{escape(printable(text))}</mark>'
            if hit
            else str(escape(printable(text)))
            for text, hit in _pieces(segment)
        )
    )


_MD_MARKS = {
    ("ins", False): ("**", "**"),
    ("ins", True): ("***", "***"),
    ("del", False): ("~~", "~~"),
    ("del", True): ("~~**", "**~~"),
    ("mov", False): ("*", "*"),
    ("mov", True): ("***", "***"),
}


def md_segment(segment: Any) -> Markup:
    """Markdown digests: a word segment escaped, inserted in bold, deleted struck out,
    moved in italics, matches in bold; spaces stay outside the markers."""
    op = segment["op"]
    if op not in ("ins", "del", "mov"):
        return Markup(md_escape(segment["text"]))
    out = []
    for text, hit in _pieces(segment, whole_words=True):
        core = text.strip()
        if not core:
            out.append(" " if text else "")
            continue
        opening, closing = _MD_MARKS[(op, hit)]
        lead = " " if text[0].isspace() else ""
        trail = " " if text[-1].isspace() else ""
        out.append(f"{lead}{opening}{md_escape(core)}{closing}{trail}")
    return Markup("".join(out))


FILTERS = {
    "text_segment": text_segment,
    "html_segment": html_segment,
    "md_segment": md_segment,
    "md_link": md_link,
    "md_quote": md_quote,
    "reader_mail_html": reader_mail_html,
    "slack_link": slack_link,
    "signed": signed,
    "plural": plural,
    "thousands": thousands,
    "multiline": multiline,
    "truncate_middle": truncate_middle,
    "md": md_escape,
    "plain": plain,
    "summary_html": summary_html,
    "summary_text": summary_text,
}


# --- environments ----------------------------------------------------------------------------


def bundled_templates() -> Path:
    """The directory of the bundled templates, installed or in a source checkout."""
    try:
        files = importlib.resources.files("tracker.templates")
        path = Path(str(files))
        if (path / FORMAT_TEMPLATES["text"]).is_file():
            return path
    except (ModuleNotFoundError, TypeError):
        # An editable install cannot import the nested namespace package tracker.templates
        # (setuptools maps it to the top-level templates/ directory): look for it there.
        pass
    package = Path(__file__).resolve().parent.parent  # tracker/
    for candidate in (package / "templates", package.parent / "templates"):
        if (candidate / FORMAT_TEMPLATES["text"]).is_file():
            return candidate
    raise FileNotFoundError("the bundled digest templates are missing from the installation")


def _flavour(name: str) -> str:
    for suffix in (".html.j2", ".atom.j2", ".md.j2", ".slack.j2", ".txt.j2"):
        if name.endswith(suffix):
            return suffix.split(".")[1]
    return "txt"


@lru_cache(maxsize=32)
def _environment(user_dir: str | None, flavour: str) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if user_dir:
        loaders.append(jinja2.FileSystemLoader(user_dir))
    loaders.append(jinja2.FileSystemLoader(str(bundled_templates())))
    options: dict[str, Any] = {
        "loader": jinja2.ChoiceLoader(loaders),
        "undefined": jinja2.StrictUndefined,  # a typo in a template fails, never renders ""
        "trim_blocks": True,
        "lstrip_blocks": True,
        "keep_trailing_newline": True,
    }
    if flavour in ("html", "atom"):
        options["autoescape"] = True
        options["finalize"] = html_text
    else:
        options["autoescape"] = False
        options["finalize"] = _finalize(
            {"md": md_escape, "slack": slack_escape}.get(flavour, plain)
        )
    env = jinja2.Environment(**options)
    env.filters.update(FILTERS)
    return env


def render_template(name: str, context: dict[str, Any], templates: Path | None = None) -> str:
    """Render one template by name with the escaping its file name calls for."""
    env = _environment(str(templates) if templates else None, _flavour(name))
    return env.get_template(name).render(**context)


def render_digest(
    model: dict[str, Any],
    formats: set[str] | list[str] | tuple[str, ...],
    templates: Path | None = None,
) -> dict[str, str]:
    """Each requested format of a digest (see FORMAT_TEMPLATES), or of a notice (a model
    whose kind is one of NOTICE_KINDS: NOTICE_TEMPLATES)."""
    names = NOTICE_TEMPLATES if model.get("kind") in NOTICE_KINDS else FORMAT_TEMPLATES
    out = {}
    for fmt in sorted(formats):
        if fmt not in names:
            raise ValueError(f"unknown digest format {fmt!r}")
        out[fmt] = render_template(names[fmt], {"digest": model}, templates)
    return out


def render_feed(
    entries: list[Any],
    *,
    title: str,
    subscription: str,
    templates: Path | None = None,
    self_url: str | None = None,
) -> str:
    """An Atom feed document of digests, newest first (entries are deliver.FeedEntry);
    ``self_url``: where the feed is read from (its rel="self" link)."""
    import uuid

    feed_id = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'wiki-tracker:' + subscription)}"
    updated = max((e.created_at for e in entries), default="1970-01-01T00:00:00Z")
    context = {
        "title": title,
        "subscription": subscription,
        "feed_id": feed_id,
        "updated": updated,
        "self_url": self_url,
        "entries": [
            {
                "id": entry_id(e.message_id),
                "title": e.subject,
                "updated": e.created_at,
                "content": e.html_body,
                "link": e.link,
            }
            for e in entries
        ],
    }
    return render_template(FEED_TEMPLATE, context, templates)


def entry_id(message_id: str) -> str:
    """An Atom entry id (an IRI) from a digest's Message-ID: stable across rewrites."""
    import uuid

    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'wiki-tracker:' + message_id)}"


# --- diff changes -> what a digest shows -------------------------------------------------------
# A section's `changes` in the diff JSON (tracker/text/diff.py) hold word-level operations, as
# character offsets into the section's old content, and semantic changes. A digest shows
# the first as highlighted text with a little unchanged context around each change, the
# second as one line each.

CONTEXT_WORDS = 8  # unchanged words kept on each side of a change
SEGMENT_CHARS = 600  # an inserted or deleted run longer than this is shortened in the middle
WORD_OPS = ("insert", "delete", "move")


# What the digest calls each piece of worddiff.overlay (where a move took its words from is
# not shown: they simply are not there any more).
_SEGMENT_KIND = {"equal": "eq", "insert": "ins", "delete": "del", "moved_insert": "mov"}


def _raw_segments(changes: list[dict[str, Any]], old: str | None) -> list[tuple[str, str]]:
    ops = [change for change in changes if change.get("type") in WORD_OPS]
    pieces = overlay(old, ops) if old is not None else None
    if pieces is not None:
        return [(_SEGMENT_KIND[kind], text) for kind, text in pieces if kind in _SEGMENT_KIND]
    # Without the old text (or one they do not fit): each change with the context the diff
    # keeps ("before").
    out: list[tuple[str, str]] = []
    for change in ops:
        if change["type"] in ("insert", "delete"):
            if change.get("before"):
                out.append(("eq", "… " + change["before"]))
            out.append(("ins" if change["type"] == "insert" else "del", change["text"]))
        else:
            out.append(("mov", change["text"]))
    return out


def _outside_spaces(kind: str, text: str) -> list[tuple[str, str]]:
    """A change with its surrounding whitespace as unchanged text: Markdown emphasis does
    not work with spaces inside its markers, and highlights read better without them."""
    if kind == "eq":
        return [(kind, text)]
    core = text.strip()
    if not core:
        return [("eq", text)] if kind in ("ins", "mov") else []
    start = text.index(core)
    if len(core) > SEGMENT_CHARS:
        half = SEGMENT_CHARS // 2
        core = core[:half].rstrip() + " … " + core[-half:].lstrip()
    parts = [("eq", text[:start]), (kind, core), ("eq", text[start + len(text.strip()) :])]
    return [(k, t) for k, t in parts if t]


def _trim(text: str, keep: str) -> str:
    """Unchanged text around changes: the words next to them, the rest as "…"."""
    words = re.split(r"(\s+)", text)
    limit = CONTEXT_WORDS * 2  # words and the spaces between them
    if len(words) <= limit * 2 + 1:
        return text
    if keep == "end":
        return "… " + "".join(words[-limit:]).lstrip()
    if keep == "start":
        return "".join(words[:limit]).rstrip() + " …"
    return "".join(words[:limit]).rstrip() + " … " + "".join(words[-limit:]).lstrip()


def word_segments(
    changes: list[dict[str, Any]], limit: int, old: str | None = None
) -> tuple[list[dict[str, str]], int]:
    """Highlight segments [{"op": "eq"|"ins"|"del"|"mov", "text"}] of a section's word
    diff against its old content ``old``, at most ``limit`` changes, and how many more."""
    merged: list[tuple[str, str]] = []
    for kind, text in _raw_segments(changes, old):
        for part in _outside_spaces(kind, text):
            if merged and merged[-1][0] == part[0] == "eq":
                merged[-1] = ("eq", merged[-1][1] + part[1])
            else:
                merged.append(part)
    segments: list[dict[str, str]] = []
    shown = more = 0
    for i, (kind, text) in enumerate(merged):
        if kind == "eq":
            if more:
                continue
            first, last = not segments, i == len(merged) - 1
            if not (first and last):
                keep = "end" if first else "start" if last else "both"
                segments.append({"op": "eq", "text": _trim(text, keep)})
            continue
        if shown >= limit:
            more += 1
            continue
        shown += 1
        segments.append({"op": kind, "text": text})
    while segments and segments[-1]["op"] == "eq" and more:
        segments.pop()
    return segments, more


def semantic_lines(changes: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One line per semantic change (infobox field, reference, category, link...)."""
    return [
        {"type": str(change["type"]), "text": describe_change(change)}
        for change in changes
        if change.get("type") and change["type"] not in WORD_OPS
    ]
