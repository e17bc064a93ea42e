"""A heading's text as MediaWiki shows it: what ``action=parse&prop=sections`` calls its line.

MediaWiki renders the heading's wikitext and then, for the table of contents and the API,
drops every HTML tag but the text (Parser::finalizeHeadings, MediaWiki 1.39). `heading_text`
does the same for what can be rendered without the wiki, following the parser's rules:

- ``[[Page]]`` shows "Page" as written, ``[[Page|label]]`` the label, ``[[:Category:X]]``
  "Category:X"; a category link (and an interlanguage link, on a wiki that has them) shows
  nothing and takes the spaces before it along (handleInternalLinks2); an image shows no
  text, a framed one its caption;
- ``[https://x.org label]`` shows the label, a bare URL itself; ``''quotes''`` go
  (doQuotes); entities are decoded; HTML tags the sanitizer allows keep their content only,
  others show as text; comments, ``<includeonly>`` and behaviour switches (``__TOC__``)
  vanish; ``<nowiki>`` shows its text;
- templates, parser functions, magic words and template parameters need the wiki: they
  show as their wikitext (``{{int:filedesc}}``), and so do extension tags whose output needs
  the extension (``<math>``). ``<ref>`` shows nothing: its footnote marker ("[1]") depends on
  the rest of the page. Differences from the wiki, all chosen: a bare ``[https://x.org]``
  shows its URL, not the page-dependent "[1]"; a file is taken to exist.

A heading that renders empty (``== [[File:X.png]] ==``, ``== <ref>x</ref> ==``) is shown
as its wikitext, so that no heading is empty and a change of it is a visible rename; and so
is one too costly to render (tracker.text.wikiparse: markup nested deeper than 32 levels, or more
work than 32 units a character): what a heading shows depends on its wikitext only.
The wiki's own rendering, where a source gives it (``action=parse``), can take the place
of this: it is what the API's ``line`` is, with its tags dropped and entities decoded.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any, Protocol

from mwparserfromhell.nodes import (
    Argument,
    Comment,
    ExternalLink,
    HTMLEntity,
    Tag,
    Template,
    Text,
    Wikilink,
)

from tracker.errors import Unreadable
from tracker.text.heading_checks import is_link_target
from tracker.text.headings import DEFAULT_TAGS
from tracker.text.wikiparse import Budget, parse

__all__ = ["HTML_TAGS", "LinkKinds", "heading_text"]

_PHP_SPACE = " \t\n\r\0\x0b"  # what PHP's trim() removes: not U+00A0, unlike str.strip()
_PLAIN = re.compile(r"[^\[\]{}<>'&_~]*")  # nothing to render: only trimmed


class LinkKinds(Protocol):
    """What a wiki makes of a link target (tracker.text.siteinfo.SiteInfo is one); hashable."""

    def link_target(self, target: str) -> Any:
        """An object whose ``kind`` is "category", "file", "media", "interlanguage",
        "interwiki" or "link"."""

    def __hash__(self) -> int: ...


@lru_cache(maxsize=4096)
def heading_text(
    raw: str, tags: frozenset[str] = DEFAULT_TAGS, site: LinkKinds | None = None
) -> str:
    """The text a reader sees for a heading whose wikitext (between the "=") is `raw`.

    `tags`: the wiki's extension tags; `site`: what its links are (None: a wiki with the
    canonical English namespace names and no interlanguage prefixes). Empty only
    for a blank `raw` (no-break spaces are blank too); a heading that renders blank is its
    wikitext.
    """
    if _PLAIN.fullmatch(raw):
        text = raw.strip(_PHP_SPACE)
    else:
        try:
            text = _Renderer(tags, site, Budget(_UNITS * len(raw) + _MIN_UNITS)).line(raw)
        except Unreadable:
            text = ""  # too costly to render: its wikitext (below)
        text = text.strip(_PHP_SPACE)
        if not text.strip():
            text = _wikitext(raw.strip(_PHP_SPACE))
    return text if text.strip() else ""


# What rendering a heading may cost (tracker.text.wikiparse.Budget), from its length alone: a
# heading of links, templates and tags takes a tenth of this.
_UNITS = 32
_MIN_UNITS = 2048

# Sanitizer::getRecognizedTagData: the HTML elements wikitext may use; a reader sees their
# content only. Any other tag is shown as text.
HTML_TAGS = frozenset(
    """b bdi del i ins u font big small sub sup h1 h2 h3 h4 h5 h6 cite code em s strike strong
    tt var div center blockquote ol ul dl table caption pre ruby rb rp rt rtc p span abbr dfn
    kbd samp data time mark br wbr hr li dt dd meta link tr td th q bdo""".split()
)
_STRAY_HTML = re.compile(r"</?(?:{})(?:\s[^<>]*)?/?>".format("|".join(sorted(HTML_TAGS))), re.I)
_INCLUDEONLY = re.compile(r"<includeonly\s*>.*?(?:</includeonly\s*>|$)", re.I | re.S)
# Extension tags that show nothing where they are, and those whose content is text.
# (A <style> or <script>, on a wiki where an extension makes them, is dropped too: T198618.)
_INVISIBLE = frozenset(
    {"ref", "references", "indicator", "templatestyles", "section", "style", "script"}
)
_LITERAL = frozenset({"nowiki", "pre"})
# MagicWordFactory's behaviour switches (English; the case-sensitive ones in upper case)
# and common extensions' (Disambiguator, Wikibase, DiscussionTools).
_SWITCH = re.compile(
    r"__(?:(?i:NOTOC|NOGALLERY|FORCETOC|TOC|NOEDITSECTION|NOTITLECONVERT|NOTC|"
    r"NOCONTENTCONVERT|NOCC)|NEWSECTIONLINK|NONEWSECTIONLINK|HIDDENCAT|EXPECTUNUSEDCATEGORY|"
    r"INDEX|NOINDEX|STATICREDIRECT|DISAMBIG|EXPECTED_UNCONNECTED_PAGE|ARCHIVEDTALK|NOTALK)__"
)
_NAMESPACE_KINDS = {"category": "category", "file": "file", "image": "file", "media": "media"}
# makeImage: options a file link may have; the caption is the last parameter that is not one.
_FRAMED = frozenset({"thumb", "thumbnail", "frame", "framed"})
_IMAGE_OPTION = re.compile(
    r"(?:thumb|thumbnail|frame|framed|frameless|border|left|right|center|centre|none|"
    r"baseline|sub|super|sup|top|text-top|middle|bottom|text-bottom|upright|"
    r"(?:\d*x)?\d+ ?px|(?:upright|thumb|thumbnail|alt|link|page|class|lang|thumbtime|start|"
    r"end|loop|muted|autoplay)\s*=.*)",
    re.I | re.S,
)
_NEWLINES = re.compile(r"[ \t]*\n[ \t\n]*")
_MARK = "\x7f"  # around the number of a protected piece (as MediaWiki's strip markers)
_MARKED = re.compile(_MARK + r"(\d+)" + _MARK)


class _Renderer:
    """Renders one heading line; pieces doQuotes must not see (link texts, entities,
    wikitext shown as such) are kept aside, as the parser's strip markers and link holders."""

    def __init__(self, tags: frozenset[str], site: LinkKinds | None, budget: Budget) -> None:
        self.tags = tags
        self.site = site
        self.budget = budget
        self.kept: list[str] = []

    def line(self, raw: str) -> str:
        """The text of a heading's wikitext `raw`, untrimmed."""
        raw = _INCLUDEONLY.sub("", raw)
        # The leading space keeps a heading-like "== x ==" inside from parsing as a heading.
        code = parse(" " + raw, self.budget)
        first = code.nodes[0]
        assert isinstance(first, Text)
        first.value = first.value[1:]
        return self.text(code.nodes)

    def text(self, nodes: Any) -> str:
        """The text of parsed wikitext, its quotes read on their own."""
        out: list[str] = []
        self.nodes(nodes, out)
        text = _strip_quotes("".join(out))
        while _MARK in text:  # (kept pieces may hold kept pieces)
            text = _MARKED.sub(lambda m: self.kept[int(m.group(1))], text)
        return text

    def wikitext(self, text: str) -> str:
        """Wikitext shown as such, set aside."""
        return self.keep(_wikitext(text))

    def keep(self, text: str) -> str:
        self.kept.append(text)
        return f"{_MARK}{len(self.kept) - 1}{_MARK}"

    def nodes(self, nodes: Any, out: list[str]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                text = _STRAY_HTML.sub("", _SWITCH.sub("", node.value))
                if "&" in text:
                    # Left as text by the sanitizer, but a browser reads "&copy" as "©" too.
                    text = _LEGACY_ENTITY.sub(lambda m: self.keep(html.unescape(m.group())), text)
                out.append(text)
            elif isinstance(node, Comment):
                pass
            elif isinstance(node, HTMLEntity):
                out.append(self.keep(node.normalize()))
            elif isinstance(node, Template):
                # A magic word, parser function or template: the wiki would expand it.
                name = str(node.name).strip()
                out.append(
                    self.keep("|") if name == "!" and not node.params else self.wikitext(str(node))
                )
            elif isinstance(node, Argument):
                # On a page itself a parameter shows its default, or itself without one.
                if node.default is not None:
                    self.nodes(node.default.nodes, out)
                else:
                    out.append(self.wikitext(str(node)))
            elif isinstance(node, Wikilink):
                self.link(node, out)
            elif isinstance(node, ExternalLink):
                if node.title is not None:
                    self.nodes(node.title.nodes, out)
                else:
                    out.append(self.keep(str(node.url)))
            elif isinstance(node, Tag):
                self.tag(node, out)
            else:
                out.append(self.wikitext(str(node)))

    def tag(self, node: Tag, out: list[str]) -> None:
        name = str(node.tag).strip().lower()
        if name == "includeonly":
            return
        if name in ("noinclude", "onlyinclude"):
            self.nodes(node.contents.nodes, out)
        elif name in self.tags:
            if name in _INVISIBLE:
                return
            if name in _LITERAL:
                out.append(self.keep(_decode(str(node.contents or ""))))
            else:
                out.append(self.wikitext(str(node)))  # its output needs the extension
        elif name in HTML_TAGS:
            if node.contents is not None:
                self.nodes(node.contents.nodes, out)
        else:
            # Not a tag to MediaWiki: shown as the text it is, its content parsed.
            attributes = "".join(map(str, node.attributes)) + node.padding
            if node.self_closing:
                out.append(self.keep(f"<{node.tag}{attributes}/>"))
                return
            out.append(self.keep(f"<{node.tag}{attributes}>"))
            if node.contents is not None:
                self.nodes(node.contents.nodes, out)
            if not node.implicit:
                out.append(self.keep(f"</{node.closing_tag}>"))

    def link(self, node: Wikilink, out: list[str]) -> None:
        target = str(node.title).lstrip(" ")
        label = node.text
        if "{" in target and label is not None:
            # A target only the wiki can make (a template): its label still shows.
            out.append(self.keep(self.text(label.nodes)))
            return
        if not is_link_target(target):
            out.append(self.wikitext(str(node)))  # no link: text (or a template's wikitext)
            return
        forced = target.startswith(":")
        kind = "link" if forced else self.kind(target)
        if kind in ("category", "interlanguage"):
            # Gone, with the blanks before it (T2087).
            while out:
                out[-1] = out[-1].rstrip(_PHP_SPACE)
                if out[-1]:
                    break
                out.pop()
            return
        if kind == "file":
            # An image: no text, but a framed one's caption (its last parameter).
            parameters = _parameters(label) if label is not None else []
            options = {p.strip().lower() for p in parameters}
            caption = parameters[-1] if parameters else ""
            if options & _FRAMED and not _IMAGE_OPTION.fullmatch(caption.strip()):
                self.nodes(parse(caption, self.budget).nodes, out)
            return
        if label is not None and str(label):
            # A label's quotes are its own (T6598).
            out.append(self.keep(self.text(label.nodes)))
        else:
            out.append(self.keep(target[1:] if forced else target))

    def kind(self, target: str) -> str:
        if self.site is not None:
            return str(self.site.link_target(target).kind)
        prefix, colon, _rest = target.partition(":")
        if not colon:
            return "link"
        return _NAMESPACE_KINDS.get(" ".join(prefix.replace("_", " ").split()).lower(), "link")


def _wikitext(text: str) -> str:
    """Wikitext shown in a heading: on one line, as a rendered heading is."""
    return _NEWLINES.sub(" ", text)


def _parameters(label: Any) -> list[str]:
    """A file link's parameters: its text split at the "|" outside links and templates."""
    parameters = [""]
    for node in label.nodes:
        if isinstance(node, Text):
            first, *rest = node.value.split("|")
            parameters[-1] += first
            parameters += rest
        else:
            parameters[-1] += str(node)
    return parameters


_LEGACY_ENTITY = re.compile(r"&[A-Za-z]+[0-9]*")
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#[xX][0-9A-Fa-f]+);")


def _decode(text: str) -> str:
    """Character references decoded as Sanitizer::decodeCharReferences: with ";" only."""
    return _ENTITY.sub(lambda m: html.unescape(m.group()), text)


def _strip_quotes(text: str) -> str:
    """Drop ''italic'' and '''bold''' markup the way MediaWiki's doQuotes reads it."""
    parts = re.split(r"(''+)", text)
    if len(parts) == 1:
        return text
    bold = italics = 0
    for i in range(1, len(parts), 2):
        run = len(parts[i])
        if run == 4:  # the first apostrophe is text, then bold
            parts[i - 1] += "'"
            parts[i] = "'''"
        elif run > 5:  # all text except the last five
            parts[i - 1] += "'" * (run - 5)
            parts[i] = "'''''"
        run = len(parts[i])
        italics += run in (2, 5)
        bold += run in (3, 5)
    if bold % 2 and italics % 2:
        # One ''' was probably an apostrophe and then italics; MediaWiki picks which.
        single = multi = space = -1
        for i in range(1, len(parts), 2):
            if len(parts[i]) == 3:
                before = parts[i - 1]
                if before[-1:] == " ":
                    space = i if space < 0 else space
                elif before[-2:-1] == " ":
                    single = i
                    break
                elif multi < 0:
                    multi = i
        chosen = next((i for i in (single, multi, space) if i > -1), -1)
        if chosen > -1:
            parts[chosen - 1] += "'"
            parts[chosen] = "''"
    return "".join(parts[0::2])
