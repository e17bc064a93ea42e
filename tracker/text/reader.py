"""A section's text as a reader of the article sees it, from its wikitext, without the wiki.

`reader_text` reads wikitext with mwparserfromhell into runs of text, each with a style:

- links show their label (``[[Page|label]]``), bold and italics (MediaWiki's quote rules,
  per line) are kept as emphasis, entities are decoded, HTML tags keep their content;
- a reference (``<ref>``) is a numbered footnote mark, and its citation is written out below
  the section as the references list shows it (`format_citation`: author, date, title,
  work, publisher, pages, identifiers, URL); ``<ref name=x/>`` reuses the number;
- an infobox is a field/value table; lists are lines with their bullets or numbers, tables
  lines of cells; hatnotes read as they show ("Main article: X");
- comments, magic words, behaviour switches, categories, interlanguage links and
  maintenance templates are left out (and listed in `ReaderText.hidden`), but the inline
  ones a reader does see show as they do: ``{{Citation needed}}`` is "[citation needed]";
- other templates show as a small marker with their name: what they show needs the wiki.

`reader_diff` compares the reader texts of two versions of a section word by word
(tracker.text.worddiff, moves included) and phrases what changed for a reader: infobox
fields, sources added and removed, and, when the words a reader sees did not change, that
the edit was markup only. Everything is plain data; every output escapes it for its own
format (`pieces_html` for HTML).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from mwparserfromhell.nodes import (
    Argument,
    Comment,
    ExternalLink,
    Heading,
    HTMLEntity,
    Tag,
    Template,
    Text,
    Wikilink,
)
from mwparserfromhell.wikicode import Wikicode

from tracker.errors import Unreadable
from tracker.text.heading_checks import is_link_target
from tracker.text.headline import HTML_TAGS
from tracker.text.siteinfo import SiteInfo
from tracker.text.wikiparse import Budget, parse
from tracker.text.worddiff import count_words, overlay, word_diff

__all__ = [
    "NOTE_MARK",
    "ReaderDiff",
    "ReaderText",
    "format_citation",
    "pieces_html",
    "pieces_text",
    "reader_diff",
    "reader_text",
]

# A run of reader text: (text, style, extra). Styles: "" plain, "b", "i", "bi" emphasis;
# "link" (extra: the target page), "url" (extra: the URL), "note" (a footnote mark; extra:
# its number), "cite" (a citation of the references list; extra: its number), "mark" (what
# an inline maintenance template shows, "[citation needed]"), "tpl" (a template shown by
# name), "file" (an image, by its caption), "field" (an infobox field's name), "head" (the
# infobox's or references list's title), "bullet" (a list item's bullet or number).
Run = tuple[str, str, Any]
# A piece of a reader diff: (kind, text, style, extra), kind as tracker.text.worddiff.overlay
# says: "equal", "insert", "delete", "moved_insert", "moved_delete".
Piece = tuple[str, str, str, Any]
# What to mark in a changed piece (a digest's text triggers): (kind, text) -> [start, end)
# spans, in order and apart.
Marks = Callable[[str, str], list[tuple[int, int]]]

# What a footnote mark is in the text that is diffed: the same whatever its number, so that
# a source added before others does not show as every later mark changed; one character
# (of Unicode's private use area), so that a diff takes or leaves a mark whole. It shows as
# "[n]" (its run's number).
NOTE_MARK = "\ue000"
_SITE = SiteInfo.default()
_UNITS = 64  # what reading a section may cost (tracker.text.wikiparse.Budget), per character
_MIN_UNITS = 4096


@dataclass(frozen=True)
class ReaderText:
    """A section as a reader sees it: runs of text in reading order (paragraphs and list
    items end with "\\n\\n" or "\\n"), the references list last; its infoboxes as field/value
    pairs; what it has that no reader sees (categories, maintenance templates...)."""

    runs: tuple[Run, ...]
    notes: tuple[str, ...] = ()  # the citations of its footnotes, by number - 1
    infobox: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # (name, fields)
    hidden: tuple[str, ...] = ()  # "Category:X", "{{Use dmy dates}}", "__NOTOC__"...
    unreadable: str | None = None  # why the wikitext could not be read (then: as written)

    @property
    def text(self) -> str:
        """The text that is diffed: the runs' texts (footnote marks as `NOTE_MARK`)."""
        return "".join(run[0] for run in self.runs)

    def plain(self) -> str:
        """The text as a reader reads it: footnote marks and citations numbered."""
        return pieces_text([("equal", *run) for run in self.runs])

    def html(self) -> str:
        """Escaped HTML of the whole section (no external resources)."""
        return pieces_html([("equal", *run) for run in self.runs])


@dataclass
class ReaderDiff:
    """What changed in a section for a reader (`reader_diff`)."""

    pieces: list[Piece]
    words_added: int
    words_removed: int
    lines: list[str] = field(default_factory=list)  # infobox fields, sources: for a reader
    hidden: list[str] = field(default_factory=list)  # what changed that no reader sees
    markup_only: bool = False  # the wikitext changed, not what a reader sees
    # What a view made of it, kept with it (a cached diff shown again): see with_reader.
    rendered: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def changed(self) -> bool:
        return any(p[0] != "equal" for p in self.pieces)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready: the pieces as objects, numbers of marks and citations kept."""
        pieces = []
        for kind, text, style, extra in self.pieces:
            piece: dict[str, Any] = {"kind": kind, "text": text}
            if style:
                piece["style"] = style
            if extra is not None:
                piece["ref" if style in ("note", "cite") else "target"] = extra
            pieces.append(piece)
        return {
            "pieces": pieces,
            "words_added": self.words_added,
            "words_removed": self.words_removed,
            "lines": list(self.lines),
            "hidden": list(self.hidden),
            "markup_only": self.markup_only,
        }

    def html(self, context: int | None = 80, marks: Marks | None = None) -> str:
        """Escaped HTML: insertions in ``<ins>``, deletions in ``<del>``, long unchanged
        stretches shortened to `context` characters around the changes; what `marks`
        finds in a change in ``<mark>``."""
        return pieces_html(self.pieces, context, marks)

    def text(self, context: int | None = 80, marks: Marks | None = None) -> str:
        """Plain text: deletions as ``[-…-]``, insertions as ``{+…+}`` (wdiff's marks);
        what `marks` finds in a change as ``>>…<<``."""
        return pieces_text(self.pieces, context, marks)


# ---- reading --------------------------------------------------------------------------------


def reader_text(wikitext: str, site: SiteInfo | None = None) -> ReaderText:
    """The reader text of a section's wikitext (its content, without the heading line)."""
    return _reader_text(wikitext, site or _SITE)


@lru_cache(maxsize=512)
def _reader_text(wikitext: str, site: SiteInfo) -> ReaderText:
    try:
        code = parse(wikitext, Budget(_UNITS * len(wikitext) + _MIN_UNITS))
        reader = _Reader(site)
        reader.nodes(code)
        return reader.done()
    except Unreadable as exc:
        return ReaderText(((wikitext, "", None),), unreadable=str(exc))
    except RecursionError:
        return ReaderText(((wikitext, "", None),), unreadable="markup nested too deep")


# Templates whose inline output a reader sees as a bracketed note (Wikipedia's inline
# cleanup templates), by lower-case name.
_INLINE_MARKS = {
    "citation needed": "citation needed", "cn": "citation needed", "fact": "citation needed",
    "cite needed": "citation needed", "citeneeded": "citation needed",
    "clarify": "clarification needed", "clarification needed": "clarification needed",
    "when": "when?", "who": "who?", "which": "which?", "by whom": "by whom?",
    "according to whom": "according to whom?", "failed verification": "failed verification",
    "dead link": "dead link", "better source needed": "better source needed",
    "better source": "better source needed", "page needed": "page needed",
    "year needed": "year needed", "verification needed": "verification needed",
    "unreliable source?": "unreliable source?", "dubious": "dubious – discuss",
    "original research inline": "original research?", "or": "original research?",
    "vague": "vague", "specify": "specify", "full citation needed": "full citation needed",
}  # fmt: skip
# Maintenance and page-level templates that show nothing in the text a reader reads (a
# banner about the article, not its content), by lower-case name; and by prefix.
_HIDDEN_NAMES = frozenset(
    {
        "short description", "multiple issues", "refimprove", "more citations needed",
        "unreferenced", "citation style", "one source", "primary sources", "original research",
        "notability", "orphan", "dead end", "coi", "pov", "npov", "advert", "peacock", "weasel",
        "tone", "essay-like", "copy edit", "copyedit", "underlinked", "overlinked", "wikify",
        "globalize", "citations missing", "authority control", "italic title", "good article",
        "featured article", "featured list", "reflist", "references", "notelist", "portal",
        "portal bar", "toc limit", "toc right", "toc left", "clear", "lowercase title",
        "coord missing", "dmy", "mdy", "engvar", "stub", "redirect", "sfn whitelist",
        "use list-defined references", "subscription required", "webarchive",
        "commons category", "commons", "wiktionary", "wikiquote", "official website",
    }
)  # fmt: skip
_HIDDEN_PREFIXES = ("pp-", "use ", "cleanup", "expand", "update", "infobox-", "wikiproject")
_STUB = re.compile(r".*-stub$")
_CITATION = re.compile(r"^(?:cite[ _]\w[\w ]*|citation|vcite[ _]\w+|cite)$")
# Hatnotes: what they show before their links.
_HATNOTES = {
    "main": "Main article: ", "main article": "Main article: ", "see also": "See also: ",
    "further": "Further information: ", "further information": "Further information: ",
    "details": "For more details on this topic, see ", "seealso": "See also: ",
}  # fmt: skip
# Templates that show their text (the first or last positional parameter) as it is.
_TEXT_FIRST = frozenset(
    "nowrap nobr nobold noitalic small big resize smaller larger abbr ill interlanguage link "
    "lang-rtl bdi ruby sic un".split()
)
_TEXT_LAST = frozenset({"lang", "transl", "transliteration", "langx"})
_FLAG = frozenset({"flag", "flagcountry", "flagu", "flag country"})
# Extension tags that show nothing where they are (<references> lists citations given
# earlier), and markup of the page's transclusion.
_INVISIBLE_TAGS = frozenset(
    {"references", "templatestyles", "indicator", "section", "noinclude", "includeonly",
     "onlyinclude", "categorytree", "templatedata"}
)  # fmt: skip
_LIST_MARKUP = frozenset({"*", "#", ":", ";"})
_LITERAL_TAGS = frozenset({"nowiki", "pre", "syntaxhighlight", "source", "code", "tt", "kbd"})
_MARKER_TAGS = {"math": "formula", "chem": "formula", "ce": "formula", "gallery": "gallery",
                "timeline": "timeline", "graph": "graph", "score": "score",
                "mapframe": "map", "maplink": "map", "imagemap": "image", "hiero": "hieroglyphs",
                "inputbox": "form"}  # fmt: skip
_BLOCK_TAGS = frozenset({"p", "div", "blockquote", "center", "li", "dd", "dt", "tr", "br",
                         "h1", "h2", "h3", "h4", "h5", "h6", "ol", "ul", "dl", "hr"})  # fmt: skip
_SWITCH = re.compile(r"__[A-Z]+(?:_[A-Z]+)*__")
# MediaWiki's link trail for English (MessagesEn.php $linkTrail): the letters right after a
# link that join its label.
_TRAIL = re.compile(r"[a-z]+")
# MediaWiki's variables (MagicWordFactory::$mVariableIDs): {{PAGENAME}} is one, {{IPA}} a
# template; "{{NAME:...}}" is a parser function.
_VARIABLES = frozenset(
    """! = CURRENTMONTH CURRENTMONTH1 CURRENTMONTH2 CURRENTMONTHNAME CURRENTMONTHNAMEGEN
    CURRENTMONTHABBREV CURRENTDAY CURRENTDAY2 CURRENTDAYNAME CURRENTYEAR CURRENTTIME
    CURRENTHOUR LOCALMONTH LOCALMONTH1 LOCALMONTH2 LOCALMONTHNAME LOCALMONTHNAMEGEN
    LOCALMONTHABBREV LOCALDAY LOCALDAY2 LOCALDAYNAME LOCALYEAR LOCALTIME LOCALHOUR
    NUMBEROFARTICLES NUMBEROFFILES NUMBEROFEDITS ARTICLEPATH PAGEID SITENAME SERVER
    SERVERNAME SCRIPTPATH STYLEPATH PAGENAME PAGENAMEE FULLPAGENAME FULLPAGENAMEE
    ROOTPAGENAME ROOTPAGENAMEE BASEPAGENAME BASEPAGENAMEE SUBPAGENAME SUBPAGENAMEE
    TALKPAGENAME TALKPAGENAMEE SUBJECTPAGENAME SUBJECTPAGENAMEE NAMESPACEE NAMESPACE
    NAMESPACENUMBER TALKSPACE TALKSPACEE SUBJECTSPACE SUBJECTSPACEE ARTICLESPACE
    ARTICLESPACEE CURRENTWEEK CURRENTDOW LOCALWEEK LOCALDOW REVISIONID REVISIONDAY
    REVISIONDAY2 REVISIONMONTH REVISIONMONTH1 REVISIONYEAR REVISIONTIMESTAMP REVISIONUSER
    REVISIONSIZE SUBJECTPAGENAME NUMBEROFPAGES NUMBEROFUSERS NUMBEROFACTIVEUSERS
    NUMBEROFADMINS CURRENTVERSION CONTENTLANGUAGE CONTENTLANG CURRENTTIMESTAMP
    LOCALTIMESTAMP DIRMARK DIRECTIONMARK NUMBEROFVIEWS""".split()
)
_FILE_OPTIONS = re.compile(
    r"^(?:thumb|thumbnail|frame|framed|frameless|border|left|right|center|centre|none|"
    r"upright(?:[ =]?[\d.]+)?|baseline|sub|super|top|text-top|middle|bottom|text-bottom|"
    r"\d*(?:x\d+)?px|link=.*|alt=.*|page=.*|lang=.*|class=.*)$",
    re.I,
)


class _Reader:
    """Runs of reader text, built while walking a parsed section."""

    def __init__(self, site: SiteInfo) -> None:
        self.site = site
        self.runs: list[Run] = []
        self.notes: list[str] = []
        self.named: dict[str, int] = {}  # <ref name=...>: its number
        self.infobox: list[tuple[str, tuple[tuple[str, str], ...]]] = []
        self.hidden: list[str] = []
        self.bold = self.italic = False
        self.lists: list[int] = []  # numbers of the open ordered lists, by depth
        self.external = 0  # [url] links without a label: "[1]", "[2]"...
        self.markers = ""  # the list markers that start the line ("*#")
        self.after_bullet = False

    # -- output

    def emit(self, text: str, style: str = "", extra: Any = None) -> None:
        if not text:
            return
        if style == "" and (self.bold or self.italic):
            style = "bi" if self.bold and self.italic else "b" if self.bold else "i"
        runs = self.runs
        if runs and runs[-1][1] == style and runs[-1][2] == extra and style in ("", "b", "i", "bi"):
            runs[-1] = (runs[-1][0] + text, style, extra)
        else:
            runs.append((text, style, extra))

    def apart(self, nodes: Iterable[Any], style: str, extra: Any) -> None:
        """`nodes` rendered as runs of their own, each with `style` and `extra` (a link's
        label keeps its footnote marks and markers)."""
        runs, self.runs = self.runs, []
        try:
            self.nodes(nodes)
            inner = self.runs
        finally:
            self.runs = runs
        for text, inner_style, inner_extra in inner:
            if inner_style in ("", "b", "i", "bi"):
                runs.append((text, style, extra))
            else:
                runs.append((text, inner_style, inner_extra))

    def block(self) -> None:
        """End the current line (a paragraph, a list item, a table row)."""
        self.bold = self.italic = False
        if self.runs and not self.runs[-1][0].endswith("\n"):
            self.emit("\n")

    def done(self) -> ReaderText:
        if self.markers:
            self.bullet()
        runs = _tidy(self.runs)
        if self.notes:
            if runs:
                runs.append(("\n", "", None))
            runs.append(("References", "head", None))
            runs.append(("\n", "", None))
            for n, citation in enumerate(self.notes, 1):
                runs.append((citation, "cite", n))
                runs.append(("\n", "", None))
        return ReaderText(tuple(runs), tuple(self.notes), tuple(self.infobox), tuple(self.hidden))

    # -- nodes

    def nodes(self, code: Wikicode | Iterable[Any]) -> None:
        nodes = list(code.nodes if isinstance(code, Wikicode) else code)
        trail = ""  # a link's trail, taken from the text after it
        for k, node in enumerate(nodes):
            if trail and isinstance(node, Text):
                node = Text(str(node.value)[len(trail) :])
                trail = ""
            if isinstance(node, Tag) and node.wiki_markup in _LIST_MARKUP:
                self.markers += str(node.wiki_markup)  # ("**": one tag each)
                continue
            if self.markers:
                self.bullet()
            if isinstance(node, Text):
                self.text(str(node.value))
            elif isinstance(node, Wikilink):
                after = nodes[k + 1] if k + 1 < len(nodes) else None
                found = _TRAIL.match(str(after.value)) if isinstance(after, Text) else None
                trail = found.group() if found else ""
                self.link(node, trail)
            elif isinstance(node, Template):
                self.template(node)
            elif isinstance(node, Tag):
                self.tag(node)
            elif isinstance(node, ExternalLink):
                self.external_link(node)
            elif isinstance(node, HTMLEntity):
                self.emit(node.normalize())
            elif isinstance(node, Comment):
                continue
            elif isinstance(node, Argument):
                self.emit(str(node), "tpl", None)
            elif isinstance(node, Heading):
                self.block()
                self.nodes(node.title)
                self.block()
            else:
                self.emit(str(node))

    def text(self, text: str) -> None:
        text = _SWITCH.sub(lambda m: self._switch(m.group()), text)
        if self.after_bullet:
            text = text.lstrip(" \t")
            self.after_bullet = False
        lines = text.split("\n")
        for k, line in enumerate(lines):
            if k:
                self.newline()
            if k or not self.runs or self.runs[-1][0].endswith("\n"):
                if (line or 0 < k < len(lines) - 1) and (
                    k or self.runs[-1:] and self.runs[-1][1] != "bullet"
                ):
                    line = self.line_start(line)
            self.quotes(line)

    def _switch(self, word: str) -> str:
        self.hidden.append(word)
        return ""

    def newline(self) -> None:
        """A newline of the wikitext: a paragraph goes on (as a space), a blank line or a
        list item's end ends the line."""
        self.bold = self.italic = False
        runs = self.runs
        if not runs:
            return
        last = runs[-1][0]
        if last.endswith("\n"):
            if not last.endswith("\n\n") and runs[-1][1] == "":
                runs[-1] = (last + "\n", "", None)  # a blank line: a new paragraph
        else:
            self.emit("\n")

    def line_start(self, line: str) -> str:
        """A line of text (not a list item: its markers are tags): a preformatted line's
        text; the end of the lists before it."""
        if self.lists:
            self.lists = []
        if line.startswith(" ") and line.strip():
            return line.lstrip(" ")  # preformatted: its text
        return line

    def bullet(self) -> None:
        """A list item starts: its bullet or number, indented by its depth."""
        markers, self.markers = self.markers, ""
        self.lists = self.lists[: len(markers)]
        while len(self.lists) < len(markers):
            self.lists.append(0)
        last = markers[-1]
        indent = "  " * (len(markers) - 1)
        if last == "#":
            self.lists[-1] += 1
            bullet = f"{indent}{self.lists[-1]}. "
        elif last == "*":
            bullet = f"{indent}\u2022 "
        else:
            bullet = indent + ("  " if last == ":" else "")
        self.bold = self.italic = False
        if self.runs and not self.runs[-1][0].endswith("\n"):
            self.emit("\n")
        if bullet:
            self.runs.append((bullet, "bullet", None))
        self.after_bullet = True

    def quotes(self, line: str) -> None:
        """Text with MediaWiki's '' and ''' (Parser::doQuotes, simplified: per line)."""
        parts = re.split(r"('{2,})", line)
        for k, part in enumerate(parts):
            if k % 2 == 0:
                self.emit(part)
                continue
            size = len(part)
            if size == 4:
                self.emit("'")
                size = 3
            elif size > 5:
                self.emit("'" * (size - 5))
                size = 5
            if size == 2:
                self.italic = not self.italic
            elif size == 3:
                self.bold = not self.bold
            else:
                self.bold, self.italic = not self.bold, not self.italic

    def link(self, node: Wikilink, trail: str = "") -> None:
        """A link shows its label, and the letters right after it as part of it (MediaWiki's
        link trail: "[[Force]]s" is one word, "Forces")."""
        runs = len(self.runs)
        self._link(node)
        if trail and len(self.runs) > runs and self.runs[-1][1] == "link":
            text, style, extra = self.runs[-1]
            self.runs[-1] = (text + trail, style, extra)
        elif trail:
            self.emit(trail)

    def _link(self, node: Wikilink) -> None:
        target = str(node.title).strip()
        forced = target.startswith(":")
        if forced:
            target = target[1:].strip()
        if not is_link_target(target.split("#", 1)[0] or "x"):
            self.emit(str(node))
            return
        info = self.site.link_target(target)
        kind = "link" if forced else str(info.kind)
        if kind in ("category", "interlanguage"):
            self.hidden.append(f"Category:{info.title}" if kind == "category" else info.full)
            return
        if kind == "file":
            caption = ""
            if node.text is not None:
                params = str(node.text).split("|")
                kept = [p for p in params if not _FILE_OPTIONS.match(p.strip())]
                caption = kept[-1].strip() if kept else ""
            label = _plain_of(caption, self.site) if caption else str(info.title)
            self.emit(f"[image: {label}]", "file", str(info.title))
            return
        if node.text is not None:
            text = str(node.text)
            if text.strip() == "":  # the pipe trick
                label = re.sub(r"\s*\([^()]*\)$", "", target.split(":", 1)[-1]).strip()
                self.emit(label, "link", target)
                return
            self.apart(node.text.nodes, "link", target)
            return
        self.emit(target.lstrip(":"), "link", target)

    def external_link(self, node: ExternalLink) -> None:
        url = str(node.url)
        if node.title is not None and str(node.title).strip():
            self.apart(node.title.nodes, "url", url)
        elif node.brackets:
            self.external += 1
            self.emit(f"[{self.external}]", "url", url)
        else:
            self.emit(url, "url", url)

    def tag(self, node: Tag) -> None:
        name = str(node.tag).strip().lower()
        if name == "ref":
            self.ref(node)
        elif name in _INVISIBLE_TAGS:
            if name == "references" and node.contents:
                self._list_defined(node)
        elif name in _MARKER_TAGS:
            self.emit(f"[{_MARKER_TAGS[name]}]", "tpl", name)
        elif name in _LITERAL_TAGS:
            self.emit(html.unescape(str(node.contents or "")))
        elif name == "br":
            self.block()
        elif name in ("b", "strong"):
            self._styled(node, bold=True)
        elif name in ("i", "em", "cite", "var", "dfn"):
            self._styled(node, italic=True)
        elif name == "table" or name in ("tr",):
            self.table(node)
        elif name in ("td", "th", "caption"):
            self.nodes(node.contents.nodes if node.contents else ())
            self.emit(" | ")
        elif name in ("li", "dt", "dd"):
            if name == "li" and not node.wiki_markup:
                self.block()
                self.runs.append(("• ", "bullet", None))
            if node.contents:
                self.nodes(node.contents.nodes)
        elif name == "hr":
            self.block()
        elif name in _BLOCK_TAGS:
            self.block()
            if node.contents:
                self.nodes(node.contents.nodes)
            self.block()
        elif name not in HTML_TAGS and name not in self.site.extension_tags:
            # Neither HTML that wikitext may use (Sanitizer) nor the wiki's extension tag:
            # MediaWiki shows it as text ("<script>", "<img src=...>").
            self.emit(str(node))
        elif node.contents is not None:
            self.nodes(node.contents.nodes)

    def _styled(self, node: Tag, bold: bool = False, italic: bool = False) -> None:
        was = (self.bold, self.italic)
        self.bold, self.italic = self.bold or bold, self.italic or italic
        if node.contents:
            self.nodes(node.contents.nodes)
        self.bold, self.italic = was

    def table(self, node: Tag) -> None:
        """A table as lines of cells: "a | b | c" (the caption a line of its own)."""
        self.block()
        cells: list[Tag] = []  # the row being read
        for row in node.contents.nodes if node.contents else ():
            if not isinstance(row, Tag):
                continue
            name = str(row.tag).strip().lower()
            if name in ("td", "th"):
                cells.append(row)
            elif name in ("tr", "caption"):
                self.row(cells)
                cells = []
                if name == "caption":
                    self.nodes(row.contents.nodes if row.contents else ())
                    self.block()
                else:
                    self.row([c for c in row.contents.nodes if isinstance(c, Tag)]
                             if row.contents else [])  # fmt: skip
        self.row(cells)
        self.block()

    def row(self, cells: list[Tag]) -> None:
        first = True
        for cell in cells:
            if str(cell.tag).strip().lower() not in ("td", "th"):
                continue
            if not first:
                self.emit(" | ")
            first = False
            self.nodes(cell.contents.nodes if cell.contents else ())
            self._strip_tail()
        if not first:
            self.block()

    def _strip_tail(self) -> None:
        while self.runs and self.runs[-1][1] == "" and self.runs[-1][0].strip() == "":
            self.runs.pop()
        if self.runs and self.runs[-1][1] == "":
            self.runs[-1] = (self.runs[-1][0].rstrip(), "", None)

    def ref(self, node: Tag) -> None:
        name = _attribute(node, "name")
        contents = str(node.contents or "").strip() if node.contents is not None else ""
        if name is not None and name in self.named and not contents:
            self.emit(NOTE_MARK, "note", self.named[name])
            return
        citation = _citation_of(node.contents, self.site) if contents else ""
        if not citation and name is None:
            return  # an empty <ref/>: nothing shows
        self.notes.append(citation or f"(defined elsewhere: {name})")
        number = len(self.notes)
        if name is not None:
            if name in self.named and contents:
                number = self.named[name]  # (a second definition: MediaWiki errors; keep one)
                self.notes.pop()
            else:
                self.named[name] = number
        self.emit(NOTE_MARK, "note", number)

    def _list_defined(self, node: Tag) -> None:
        """<references> with <ref name=...> inside: the citations of marks used earlier."""
        for inner in node.contents.filter_tags(recursive=False) if node.contents else ():
            if str(inner.tag).strip().lower() != "ref":
                continue
            name = _attribute(inner, "name")
            if name in self.named:
                number = self.named[name]
                if self.notes[number - 1].startswith("(defined elsewhere"):
                    self.notes[number - 1] = _citation_of(inner.contents, self.site)

    def template(self, node: Template) -> None:
        raw = str(node.name).strip()
        name = re.sub(r"[\s_]+", " ", raw).strip().lower()
        if name.startswith("template:"):
            name = name[len("template:") :].strip()
        if ":" in name or name.startswith("#") or raw in _VARIABLES:
            self.hidden.append("{{" + raw.split(":", 1)[0] + "}}")  # magic word, parser fn
            return
        if name in _INLINE_MARKS:
            self.emit(f"[{_INLINE_MARKS[name]}]", "mark", name)
            return
        if _CITATION.match(name):
            self.emit(format_citation(_params(node, self.site), name))
            return
        if name.startswith("infobox") or name.endswith(" infobox"):
            self.infobox_table(node, raw)
            return
        if name in _HATNOTES:
            self.block()
            links = [p for p in _positional(node) if p]
            lead = _HATNOTES[name]
            if len(links) > 1 and lead.startswith("Main article"):
                lead = "Main articles: "
            self.emit(lead, "")
            for k, target in enumerate(links):
                if k:
                    last = k == len(links) - 1
                    self.emit((", and " if len(links) > 2 else " and ") if last else ", ")
                self.emit(target, "link", target)
            self.block()
            return
        if name in ("quote", "blockquote", "cquote", "quotation"):
            self.block()
            value = _param(node, "text", "quote", "1")
            if value is not None:
                self.nodes(value.nodes)
            self.block()
            return
        if name in _TEXT_FIRST or name in _TEXT_LAST or name in _FLAG:
            values = _positional_code(node)
            chosen = (values[-1] if name in _TEXT_LAST else values[0]) if values else None
            if chosen is not None:
                self.nodes(chosen.nodes)
            return
        if name in ("convert", "cvt"):
            values = [str(v).strip() for v in _positional_code(node)]
            if len(values) >= 2:
                self.emit(f"{values[0]} {values[1]}")
            return
        if name in ("efn", "efn-ua", "efn-lr", "refn", "sfn", "harvnb", "r"):
            self.note_template(node, name)
            return
        if (
            name in _HIDDEN_NAMES
            or name.startswith(_HIDDEN_PREFIXES)
            or _STUB.match(name)
            or name.endswith((" navbox", " sidebar"))
        ):
            self.hidden.append("{{" + raw + "}}")
            return
        self.emit(raw, "tpl", raw)

    def note_template(self, node: Template, name: str) -> None:
        if name in ("sfn", "harvnb"):
            values = [str(v).strip() for v in _positional_code(node)]
            page = _param(node, "p", "page", "pp", "pages", "loc")
            text = " ".join(values[:-1]) + (f" {values[-1]}" if len(values) > 1 else "")
            if page is not None:
                text += f", p. {_plain_of(str(page), self.site)}"
            citation = text.strip()
        elif name == "r":
            values = [str(v).strip() for v in _positional_code(node)]
            for ref_name in values:
                if ref_name in self.named:
                    self.emit(NOTE_MARK, "note", self.named[ref_name])
            return
        else:
            value = _param(node, "1", "text")
            citation = _plain_of(str(value), self.site) if value is not None else ""
        if citation in self.notes:
            number = self.notes.index(citation) + 1
        else:
            self.notes.append(citation)
            number = len(self.notes)
        self.emit(NOTE_MARK, "note", number)

    def infobox_table(self, node: Template, raw: str) -> None:
        fields = []
        for param in node.params:
            if not param.showkey:
                continue
            value = _plain_of(str(param.value), self.site).strip()
            if value:
                fields.append((str(param.name).strip(), value))
        self.infobox.append((raw, tuple(fields)))
        self.block()
        self.emit(raw, "head", raw)
        self.emit("\n")
        for key, value in fields:
            self.emit(key.replace("_", " "), "field", key)
            self.emit(": " + value + "\n")
        self.block()


def _tidy(runs: list[Run]) -> list[Run]:
    """Blank space a reader does not see gone: at the ends, more than one blank line, spaces
    before a line end; empty runs."""
    out: list[Run] = []
    for text, style, extra in runs:
        if not text:
            continue
        if style == "":
            text = re.sub(r"[ \t]+\n", "\n", text)
            text = re.sub(r"\n{3,}", "\n\n", text)
            text = re.sub(r"[ \t]{2,}", " ", text)
        if out and out[-1][1] == style == "" and out[-1][2] == extra:
            out[-1] = (out[-1][0] + text, style, extra)
        else:
            out.append((text, style, extra))
    while out and out[0][1] == "" and not out[0][0].strip():
        out.pop(0)
    if out and out[0][1] == "":
        out[0] = (out[0][0].lstrip(), "", None)
    while out and out[-1][1] == "" and not out[-1][0].strip():
        out.pop()
    if out and out[-1][1] == "":
        out[-1] = (out[-1][0].rstrip(), "", None)
    if out:
        out.append(("\n", "", None))
    return out


def _attribute(node: Tag, name: str) -> str | None:
    for attr in node.attributes:
        if str(attr.name).strip().lower() == name:
            return str(attr.value).strip().strip("\"'") if attr.value is not None else ""
    return None


def _params(node: Template, site: SiteInfo) -> dict[str, str]:
    return {
        re.sub(r"[\s_]+", "-", str(p.name).strip().lower()): _plain_of(str(p.value), site).strip()
        for p in node.params
    }


def _param(node: Template, *names: str) -> Any:
    for name in names:
        if node.has(name):
            return node.get(name).value
    return None


def _positional_code(node: Template) -> list[Any]:
    return [p.value for p in node.params if not p.showkey]


def _positional(node: Template) -> list[str]:
    return [str(p.value).strip() for p in node.params if not p.showkey]


def _plain_of(wikitext: str, site: SiteInfo) -> str:
    """A piece of wikitext as one line of reader text (a parameter's value)."""
    if not wikitext.strip():
        return ""
    found = _reader_text(wikitext, site)
    return " ".join(pieces_text([("equal", *run) for run in found.runs]).split())


def _citation_of(contents: Any, site: SiteInfo) -> str:
    """What a reference shows in the references list: its text, citation templates
    written out."""
    return _plain_of(str(contents or ""), site)


# ---- citations ------------------------------------------------------------------------------

_WORK = ("website", "work", "newspaper", "journal", "magazine", "periodical", "encyclopedia",
         "encyclopaedia")  # fmt: skip


def format_citation(params: dict[str, str], kind: str = "cite web") -> str:
    """A citation template's parameters (names lower case, "-" for spaces and "_") as the
    references list shows it, in Citation Style 1's order: authors (date). "chapter".
    "title". work. volume (issue). location: publisher. agency. date (without authors).
    pages. identifiers. via. retrieval date. The URL is not text: the title links to it."""
    p = {k: v for k, v in params.items() if v}
    authors = _authors(p)
    date = p.get("date") or p.get("year") or ""
    title = p.get("title") or p.get("script-title") or ""
    work = next((p[k] for k in _WORK if p.get(k)), "")
    book = kind in ("cite book", "citation") and not work
    parts: list[str] = []
    if authors:
        parts.append(authors + (f" ({date})." if date else "."))
    if p.get("chapter"):
        parts.append(f"\u201c{p['chapter']}\u201d.")
    if title:
        parts.append(f"{title}." if book else f"\u201c{title}\u201d.")
    if work:
        parts.append(f"{work}.")
    if p.get("volume"):
        parts.append(f"{p['volume']}" + (f" ({p['issue']})" if p.get("issue") else "") + ".")
    place = p.get("location") or p.get("place") or ""
    if p.get("publisher"):
        parts.append(f"{place}: {p['publisher']}." if place else f"{p['publisher']}.")
    if p.get("agency"):
        parts.append(f"{p['agency']}.")
    if date and not authors:
        parts.append(f"{date}.")
    if p.get("pages") or p.get("pp"):
        parts.append(f"pp.\u00a0{p.get('pages') or p['pp']}.")
    elif p.get("page") or p.get("p"):
        parts.append(f"p.\u00a0{p.get('page') or p['p']}.")
    for key, label in (("isbn", "ISBN\u00a0"), ("doi", "doi:"), ("issn", "ISSN\u00a0"),
                       ("oclc", "OCLC\u00a0")):  # fmt: skip
        if p.get(key):
            parts.append(f"{label}{p[key]}.")
    if p.get("via"):
        parts.append(f"\u2013 via {p['via']}.")
    accessed = p.get("access-date") or p.get("accessdate") or ""
    if accessed:
        parts.append(f"Retrieved {accessed}.")
    return " ".join(parts) if parts else "(citation)"


def _authors(p: dict[str, str]) -> str:
    names = []
    for n in range(0, 10):
        suffix = str(n) if n else ""
        last = (p.get(f"last{suffix}") or p.get(f"surname{suffix}")
                or p.get(f"author{suffix}-last"))  # fmt: skip
        first = p.get(f"first{suffix}") or p.get(f"given{suffix}") or p.get(f"author{suffix}-first")
        whole = p.get(f"author{suffix}") or p.get(f"authors{suffix}")
        if last:
            names.append(f"{last}, {first}" if first else last)
        elif whole:
            names.append(whole)
        elif n >= 2:
            break
    return "; ".join(names)


# ---- diff -----------------------------------------------------------------------------------


def reader_diff(old: str | None, new: str | None, site: SiteInfo | None = None) -> ReaderDiff:
    """The word diff of two versions of a section's content as a reader sees them (None: the
    section was added, or removed), with what changed phrased for a reader. The same pair
    again (a page reloaded, its view or layout switched) is not diffed again: do not change
    what it returns."""
    return _reader_diff(old, new, site or _SITE)


@lru_cache(maxsize=256)
def _reader_diff(old: str | None, new: str | None, site: SiteInfo) -> ReaderDiff:
    before = reader_text(old, site) if old is not None else ReaderText(())
    after = reader_text(new, site) if new is not None else ReaderText(())
    ops = word_diff(before.text, after.text, by_words=True)
    added = sum(count_words(op["text"]) for op in ops if op["type"] == "insert")
    removed = sum(count_words(op["text"]) for op in ops if op["type"] == "delete")
    pieces = styled_pieces(before, after, ops)
    lines = _infobox_lines(before, after) + _source_lines(before, after)
    hidden = _hidden_lines(before, after)
    markup_only = not ops and old != new and old is not None and new is not None
    return ReaderDiff(pieces, added, removed, lines, hidden, markup_only)


def styled_pieces(before: ReaderText, after: ReaderText, ops: list[dict[str, Any]]) -> list[Piece]:
    """The word diff laid over the texts, each piece cut where the runs' styles change:
    deletions take the old runs' styles, the rest the new ones'."""
    laid = overlay(before.text, ops)
    if laid is None:  # (never so: the operations are the diff of these texts)
        raise ValueError("the reader diff does not fit the old text")
    old_runs, new_runs = _Cursor(before.runs), _Cursor(after.runs)
    pieces: list[Piece] = []
    for kind, text in laid:
        if kind == "equal":
            old_runs.take(len(text))  # (passed: the new runs' styles are shown)
            cut = new_runs.take(len(text))
        elif kind in ("delete", "moved_delete"):
            cut = old_runs.take(len(text))
        else:
            cut = new_runs.take(len(text))
        pieces += [(kind, t, style, extra) for t, style, extra in cut]
    return pieces


class _Cursor:
    """Walks runs by characters."""

    def __init__(self, runs: Sequence[Run]) -> None:
        self.runs = runs
        self.k = 0  # the run
        self.at = 0  # characters into it

    def take(self, size: int) -> list[Run]:
        out: list[Run] = []
        while size > 0 and self.k < len(self.runs):
            text, style, extra = self.runs[self.k]
            part = text[self.at : self.at + size]
            out.append((part, style, extra))
            size -= len(part)
            self.at += len(part)
            if self.at >= len(text):
                self.k += 1
                self.at = 0
        return out


def _infobox_lines(before: ReaderText, after: ReaderText) -> list[str]:
    lines = []
    old = {name.lower(): dict(fields) for name, fields in before.infobox}
    for name, fields in after.infobox:
        was = old.get(name.lower())
        if was is None:
            if before.runs:
                lines.append(f"Infobox added: {name}")
            continue
        label = "Infobox"
        now = dict(fields)
        for key in (
            [k for k in now if k not in was]
            + [k for k in was if k in now]
            + [k for k in was if k not in now]
        ):
            a, b = was.get(key), now.get(key)
            shown = key.replace("_", " ")
            if a == b:
                continue
            if a is None:
                lines.append(f"{label}: {shown}: added \u201c{b}\u201d")
            elif b is None:
                lines.append(f"{label}: {shown}: removed (was \u201c{a}\u201d)")
            else:
                lines.append(f"{label}: {shown}: {a} \u2192 {b}")
    new_names = {name.lower() for name, _ in after.infobox}
    lines += [f"Infobox removed: {name}" for name, _ in before.infobox
              if name.lower() not in new_names and after.runs]  # fmt: skip
    return lines


def _source_lines(before: ReaderText, after: ReaderText) -> list[str]:
    old, new = set(before.notes), set(after.notes)
    lines = [f"New source: {n}" for n in after.notes if n not in old]
    lines += [f"Source removed: {n}" for n in before.notes if n not in new]
    return lines


def _hidden_lines(before: ReaderText, after: ReaderText) -> list[str]:
    lines = [f"added {h}" for h in after.hidden if h not in before.hidden]
    lines += [f"removed {h}" for h in before.hidden if h not in after.hidden]
    return lines


# ---- output ---------------------------------------------------------------------------------


def pieces_text(
    pieces: Iterable[Piece], context: int | None = None, marks: Marks | None = None
) -> str:
    """Plain text of pieces: marks and citations numbered; deletions as ``[-…-]`` and
    insertions as ``{+…+}``; unchanged stretches longer than 2 x `context` cut to their
    ends around " … "; what `marks` finds in an insertion or deletion as ``>>…<<``."""
    out: list[str] = []
    for kind, text, style, extra in _shortened(list(pieces), context):
        spans = marks(kind, text) if marks is not None and kind != "equal" else []
        if spans and style not in ("note", "cite"):
            shown = "".join(f">>{part}<<" if hit else part for part, hit in _split_at(text, spans))
        else:
            shown = _shown_text(text, style, extra)
        if kind in ("insert", "moved_insert"):
            out.append("{+" + shown + "+}")
        elif kind in ("delete", "moved_delete"):
            out.append("[-" + shown + "-]")
        else:
            out.append(shown)
    joined = "".join(out)
    return re.sub(r"\+\}\{\+|-\]\[-", "", joined)


def _shown_text(text: str, style: str, extra: Any) -> str:
    if style == "note":
        return text.replace(NOTE_MARK, f"[{extra}]")
    if style == "cite" and extra is not None:
        return f"{extra}. {text}" if text else text
    return text


def pieces_html(
    pieces: Iterable[Piece], context: int | None = None, marks: Marks | None = None
) -> str:
    """Escaped HTML of pieces: emphasis as <b>/<i>, links and URLs as text (no request leaves
    the page: nothing is fetched), footnote marks as <sup>, the references list numbered;
    insertions in <ins>, deletions in <del> (moves with class "moved"); what `marks` finds
    in an insertion or deletion in <mark>."""
    out: list[str] = []
    for kind, text, style, extra in _shortened(list(pieces), context):
        spans = marks(kind, text) if marks is not None and kind != "equal" else []
        if spans and style not in ("note", "cite"):
            body = "".join(
                f'<mark class="rd-hit">{_html_run(part, style, extra)}</mark>'
                if hit
                else _html_run(part, style, extra)
                for part, hit in _split_at(text, spans)
            )
        else:
            body = _html_run(text, style, extra)
        if kind == "insert":
            body = f'<ins class="rd-ins">{body}</ins>'
        elif kind == "delete":
            body = f'<del class="rd-del">{body}</del>'
        elif kind == "moved_insert":
            body = f'<ins class="rd-ins moved">{body}</ins>'
        elif kind == "moved_delete":
            body = f'<del class="rd-del moved">{body}</del>'
        out.append(body)
    return "".join(out).replace("\n", "<br>\n")


def _split_at(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """`text` cut at the [start, end) `spans` (in order, apart): (part, inside a span)."""
    parts: list[tuple[str, bool]] = []
    at = 0
    for start, end in spans:
        if start > at:
            parts.append((text[at:start], False))
        parts.append((text[start:end], True))
        at = end
    if at < len(text):
        parts.append((text[at:], False))
    return parts


# Each style's element and class in HTML; "link" and "url" also name their target in a
# title (never an href: nothing leaves the page).
_HTML_STYLES = {
    "link": ("span", "rd-link"), "url": ("span", "rd-url"), "note": ("sup", "rd-note"),
    "cite": ("span", "rd-cite"), "mark": ("sup", "rd-mark"), "tpl": ("span", "rd-tpl"),
    "file": ("span", "rd-file"), "field": ("span", "rd-field"), "head": ("strong", "rd-head"),
    "bullet": ("span", "rd-bullet"),
}  # fmt: skip
_EMPHASIS = {"b": ("<b>", "</b>"), "i": ("<i>", "</i>"), "bi": ("<b><i>", "</i></b>")}


def _html_run(text: str, style: str, extra: Any) -> str:
    shown = html.escape(_shown_text(text, style, None if style == "cite" else extra))
    if not shown:
        return ""
    if style in _EMPHASIS:
        start, end = _EMPHASIS[style]
        return f"{start}{shown}{end}"
    if style not in _HTML_STYLES:
        return shown
    tag, cls = _HTML_STYLES[style]
    title = f' title="{html.escape(str(extra))}"' if style in ("link", "url") else ""
    if style == "cite" and extra is not None and text and not text.startswith("\n"):
        shown = html.escape(f"{extra}. ") + shown  # its number in the references list
    return f'<{tag} class="{cls}"{title}>{shown}</{tag}>'


def _shortened(pieces: list[Piece], context: int | None) -> list[Piece]:
    """Unchanged stretches longer than 2 x `context` characters cut to their ends, with
    " … " between (a piece of its own)."""
    if context is None or not any(p[0] != "equal" for p in pieces):
        return pieces
    out: list[Piece] = []
    k = 0
    while k < len(pieces):
        if pieces[k][0] != "equal":
            out.append(pieces[k])
            k += 1
            continue
        run_end = k
        while run_end < len(pieces) and pieces[run_end][0] == "equal":
            run_end += 1
        stretch = pieces[k:run_end]
        size = sum(len(p[1]) for p in stretch)
        first, last = k == 0, run_end == len(pieces)
        keep_head = 0 if first else context
        keep_tail = 0 if last else context
        if size <= keep_head + keep_tail + 8:
            out += stretch
        else:
            out += _cut(stretch, keep_head, from_end=False)
            out.append(("equal", " \u2026 ", "", None))
            out += _cut(stretch, keep_tail, from_end=True)
        k = run_end
    return out


def _cut(stretch: list[Piece], size: int, *, from_end: bool) -> list[Piece]:
    if size <= 0:
        return []
    out: list[Piece] = []
    items = reversed(stretch) if from_end else stretch
    for kind, text, style, extra in items:
        if size <= 0:
            break
        part = text[-size:] if from_end else text[:size]
        if style == "note" and len(part) < len(text):
            part = ""  # a mark whole or not at all
        size -= len(text)
        if part:
            out.append((kind, part, style, extra))
    return list(reversed(out)) if from_end else out
