"""Edit summaries read as MediaWiki shows them (pure, no I/O).

MediaWiki does not show a summary as typed: ``/* Section */ fix`` becomes "→Section: fix"
with the arrow linking to that section of the page, and ``[[target|label]]`` a link. The
rules follow MediaWiki 1.39's CommentParser (includes/CommentFormatter/CommentParser.php):

- newlines become spaces (an ESC is kept, for the outputs to show as "␛", where MediaWiki
  shows a space); character references (``&eacute;``, ``&#60;``) are decoded
  (Sanitizer::escapeHtmlAllowEntities), and nothing else of HTML or wikitext counts: no
  templates, no external links, no bold;
- ``/* text */`` is an autocomment (doSectionLinks): a link to the section whose anchor
  the text gives (Parser::guessSectionNameFromStrippedText, the anchor encoded by
  Sanitizer::escapeIdForLink in the html5 fragment mode), labelled "→" and the text as
  typed; ": " follows it when more text does; its text is never read for links;
- ``[[target]]``, ``[[target|label]]`` (doWikiLinks): a link to the title the target parses
  to (MediaWikiTitleCodec::splitTitleString: namespaces, interwiki prefixes, first-letter
  case, invalid titles left as text), labelled as typed after one leading ":"; no pipe
  trick (``[[A (b)|]]`` shows "A (b)"); ``[[#anchor]]`` is this page's anchor; letters
  a-z right after ``]]`` join the label (the English link trail); ``%xx`` in the target
  is decoded; ``[[Media:X]]`` links to the file's page.

`parse_summary` gives the parts; `summary_html` renders them for HTML (every piece of the
summary escaped) and `summary_text` as plain text for text and Markdown outputs.
"""

from __future__ import annotations

import html.entities
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes, urlparse

from markupsafe import Markup, escape

from tracker.text.display import printable
from tracker.text.siteinfo import NS_FILE, NS_MEDIA, SiteInfo

__all__ = [
    "SectionLink",
    "Text",
    "WikiLink",
    "anchor_for_link",
    "parse_summary",
    "pieces_html",
    "pieces_text",
    "summary_html",
    "summary_pieces",
    "summary_text",
]

ARROW = "→"  # Language::getArrow() of a left-to-right language
LRM = "\u200e"  # Language::getDirMark(): what MediaWiki puts between arrow and section
COLON = ": "  # the message colon-separator in English


@dataclass(frozen=True)
class Text:
    """Summary text shown as it is."""

    text: str


@dataclass(frozen=True)
class WikiLink:
    """A ``[[link]]``: ``title`` the page (prefixed, with spaces; "" for this page),
    ``fragment`` the anchor as a URL carries it ("" for none), ``label`` what is shown."""

    title: str
    fragment: str
    label: str


@dataclass(frozen=True)
class SectionLink:
    """A ``/* section */`` autocomment: ``label`` the text as typed, ``anchor`` the
    section's anchor as a URL carries it (None: no link, as for ``/* [[ */``), ``colon``
    whether ": " follows (more text comes after it)."""

    label: str
    anchor: str | None
    colon: bool


Part = Text | WikiLink | SectionLink

# PCRE's \s without the u flag: ASCII whitespace only.
_WS = "[ \t\n\r\f\v]"
_AUTOCOMMENT = re.compile(rf"/\*{_WS}*(.*?){_WS}*\*/")
_LINK = re.compile(
    rf"\[\[{_WS}*+:?([^\[\]|]+)(?:\|((?:\]?[^\]])*+))?\]\]([^\[]*)",
)
_TRAIL = re.compile(r"[a-z]+")  # MessagesEn.php's $linkTrail
# An autocomment while links are read is a mark: a character the summary does not hold
# around its number (MediaWiki uses ESC, which it turns into a space in the summary
# first). A link whose target or label spans a mark is no link (see _link).
_MARK_CHARS = ("\x1b", *map(chr, range(0xE000, 0xF900)))

_CHAR_REF = re.compile(r"&([A-Za-z0-9\x80-\U0010ffff]+;)|&#([0-9]+);|&#[xX]([0-9A-Fa-f]+);")
_MW_ENTITY_ALIASES = {"רלמ;": "rlm;", "رلم;": "rlm;"}
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e]+")
_TITLE_SPACES = re.compile("[ _\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_PREFIX = re.compile(r"^(.+?)_*:_*(.*)$")
# MediaWikiTitleCodec::getTitleInvalidRegex with $wgLegalTitleChars (bytes \x80-\xff are
# every non-ASCII character).
_INVALID_TITLE = re.compile(
    r"[^ %!\"$&'()*,\-./0-9:;=?@A-Z\\^_`a-z~+\x80-\U0010ffff]"
    r"|%[0-9A-Fa-f]{2}|&[A-Za-z0-9\x80-\U0010ffff]+;"
)
_ID_SPACES = re.compile("[\t\n\f\r ]")
_PERCENT = re.compile(r"%([a-fA-F0-9]{2})")
NS_TALK, NS_SPECIAL = 1, -1


def decode_char_references(text: str) -> str:
    """Sanitizer::decodeCharReferences: named (HTML5) and numeric references as their
    characters, a reference to an invalid code point as U+FFFD."""

    def one(match: re.Match[str]) -> str:
        name, dec, hexa = match.groups()
        if name is not None:
            name = _MW_ENTITY_ALIASES.get(name, name)
            return html.entities.html5.get(name, "&" + name)
        point = int(dec) if dec is not None else int(hexa, 16)
        return chr(point) if _valid_codepoint(point) else "\ufffd"

    return _CHAR_REF.sub(one, text)


def _valid_codepoint(point: int) -> bool:
    return (
        point in (0x09, 0x0A)
        or 0x20 <= point <= 0x7E
        or 0xA0 <= point <= 0xD7FF
        or 0xE000 <= point <= 0xFFFD
        or 0x10000 <= point <= 0x10FFFF
    )


def anchor_for_link(fragment: str) -> str:
    """Sanitizer::escapeIdForLink in the html5 mode: whitespace as "_", "%xx" as
    "%25xx" (the rest is left for the browser to encode)."""
    return _PERCENT.sub(r"%25\1", _ID_SPACES.sub("_", fragment[:1024]))


def _section_anchor(auto: str) -> str:
    """The anchor an autocomment links to (CommentParser::doSectionLinks)."""
    section = auto.replace("[[:", "").replace("[[", "").replace("]]", "")
    section = re.sub("[ _]+", " ", section).strip(" \t\n\r\0\x0b")
    # Parser::normalizeSectionName: the fragment of the title "#section".
    if "\ufffd" not in section:
        key = _TITLE_SPACES.sub("_", _BIDI.sub("", section)).rstrip("_")
        section = key.replace("_", " ")
    # The anchor is escaped once by guessSectionNameFromStrippedText and once more as the
    # fragment of the link's title (Title::getFragmentForURL).
    return anchor_for_link(anchor_for_link(section))


@dataclass(frozen=True)
class _Title:
    namespace: int
    dbkey: str
    fragment: str
    interwiki: str


def _ucfirst(text: str) -> str:
    first = text[:1].upper()
    return (first if len(first) == 1 else text[:1]) + text[1:]


def parse_title(text: str, site: SiteInfo) -> _Title | None:
    """MediaWikiTitleCodec::splitTitleString: the title a link target names, or None
    when MediaWiki finds it malformed (the link is then left as text)."""
    dbkey = _BIDI.sub("", unicodedata.normalize("NFC", text).replace(" ", "_"))
    dbkey = _TITLE_SPACES.sub("_", dbkey).strip("_")
    if "\ufffd" in dbkey:
        return None
    namespace, interwiki = 0, ""
    if dbkey.startswith(":"):
        dbkey = dbkey[1:].strip("_")
    if not dbkey:
        return None
    while True:
        match = _PREFIX.match(dbkey)
        if match:
            prefix = match.group(1)
            number = site.namespace(prefix.replace("_", " "))
            if number is not None:
                dbkey, namespace = match.group(2), number
                inner = _PREFIX.match(dbkey) if number == NS_TALK else None
                if inner and (
                    site.namespace(inner.group(1).replace("_", " "))
                    or inner.group(1).lower() in site.interwiki
                ):
                    return None  # Talk:File:x, Talk:Interwiki:x
            elif prefix.lower() in site.interwiki:
                dbkey, interwiki = match.group(2), prefix.lower()
                if interwiki in site.local_interwiki:
                    if not dbkey:
                        return None  # the main page: not followed here
                    interwiki = ""
                    continue  # a prefix pointing to this wiki: split again
                if dbkey.startswith(":"):
                    namespace, dbkey = 0, dbkey[1:].strip("_")
        break
    fragment = ""
    if "#" in dbkey:
        dbkey, _, fragment = dbkey.partition("#")
        fragment = fragment.replace("_", " ")
        dbkey = dbkey.rstrip("_")
    if _INVALID_TITLE.search(dbkey):
        return None
    if "." in dbkey and (
        dbkey in (".", "..")
        or dbkey.startswith(("./", "../"))
        or "/./" in dbkey
        or "/../" in dbkey
        or dbkey.endswith(("/.", "/.."))
    ):
        return None
    if "~~~" in dbkey:
        return None
    if len(dbkey.encode("utf-8")) > (512 if namespace == NS_SPECIAL else 255):
        return None
    if not interwiki and site.is_capitalized(namespace):
        dbkey = _ucfirst(dbkey)
    if not dbkey and not interwiki and namespace != 0:
        return None
    if dbkey.startswith(":"):
        return None
    return _Title(namespace, dbkey, fragment, interwiki)


def _prefixed(title: _Title, site: SiteInfo) -> str:
    text = title.dbkey.replace("_", " ")
    if title.namespace and not title.interwiki:
        text = f"{site.namespace_name(title.namespace)}:{text}"
    return f"{title.interwiki}:{text}" if title.interwiki else text


def parse_summary(comment: str | None, site: SiteInfo | None = None) -> list[Part]:
    """An edit summary as MediaWiki reads it: text, section links and wiki links, in
    order. ``site``: the wiki's namespaces and interwiki prefixes (English Wikipedia's
    when not given)."""
    if not comment:
        return []
    site = site or SiteInfo.default()
    text = decode_char_references(comment.replace("\n", " "))
    mark = next(char for char in _MARK_CHARS if char not in text)
    marks = re.compile(f"{mark}([0-9]+){mark}")
    sections: list[SectionLink] = []

    def autocomment(match: re.Match[str]) -> str:
        auto = match.group(1)
        anchor = _section_anchor(auto) or None
        colon = match.end() < len(text)
        if not auto and not colon:
            return ""
        sections.append(SectionLink(auto, anchor, colon))
        return f"{mark}{len(sections) - 1}{mark}"

    marked = _AUTOCOMMENT.sub(autocomment, text)
    parts: list[Part] = []
    pos = 0
    for match in _LINK.finditer(marked):
        found = _link(match, site, marks)
        if found is None:
            continue
        link, rest = found
        _add_text(parts, marked[pos : match.start()], sections, marks)
        parts.append(link)
        _add_text(parts, rest, sections, marks)
        pos = match.end()
    _add_text(parts, marked[pos:], sections, marks)
    return parts


def _add_text(
    parts: list[Part], text: str, sections: list[SectionLink], marks: re.Pattern[str]
) -> None:
    pos = 0
    for match in marks.finditer(text):
        if match.start() > pos:
            _append(parts, text[pos : match.start()])
        parts.append(sections[int(match.group(1))])
        pos = match.end()
    if pos < len(text):
        _append(parts, text[pos:])


def _append(parts: list[Part], text: str) -> None:
    if parts and isinstance(parts[-1], Text):
        parts[-1] = Text(parts[-1].text + text)
    else:
        parts.append(Text(text))


def _link(
    match: re.Match[str], site: SiteInfo, marks: re.Pattern[str]
) -> tuple[WikiLink, str] | None:
    """One ``[[...]]`` match of doWikiLinks: the link and the text after it, or None
    when MediaWiki leaves it as text."""
    target, label, after = match.group(1), match.group(2), match.group(3)
    if "%" in target:
        try:
            target = unquote_to_bytes(target).decode("utf-8")
        except UnicodeDecodeError:
            return None  # title-invalid-utf8
    text = label if label else target
    if marks.search(text) or marks.search(target):
        return None  # a link across an autocomment (see _MARK_CHARS)
    media = re.match(r"(?:Media|" + re.escape(site.namespace_name(NS_MEDIA)) + "):(.*)$",
                     target, re.I)  # fmt: skip
    if media:
        # A media link: MediaWiki links to the file itself; here to its page. No trail.
        title = parse_title(media.group(1), site)
        if title is None or title.interwiki or title.namespace != 0:
            return None
        file = _Title(NS_FILE, title.dbkey, "", "")
        return WikiLink(_prefixed(file, site), "", text), after
    if target.startswith(":"):
        target = target[1:]
    if not target:
        return None
    trail = _TRAIL.match(after)
    letters = trail.group() if trail else ""
    title = parse_title(target, site)
    if title is None:
        return None
    fragment = anchor_for_link(title.fragment) if title.fragment else ""
    page = "" if not title.dbkey and not title.interwiki else _prefixed(title, site)
    return WikiLink(page, fragment, text + letters), after[len(letters) :]


# --- rendering -------------------------------------------------------------------------------


def _href(url: str | None) -> str | None:
    if url and urlparse(url).scheme in ("http", "https"):
        return url
    return None


def summary_pieces(
    comment: str | Sequence[Part] | None,
    page_url: Callable[[str], str | None],
    page_title: str,
    site: SiteInfo | None = None,
) -> list[dict[str, Any]]:
    """A summary (or its parts) with its links resolved to URLs, as plain data (a digest
    keeps it in its JSON model): ``{"kind": "text"|"link"|"section", "text", "href"}``,
    sections with ``"arrow"`` (it is a section link) and ``"colon"``. ``page_url(title)``
    gives a page's URL on the wiki (None: no link); ``page_title`` is the summary's page."""
    parts = parse_summary(comment, site) if isinstance(comment, str | None) else comment
    pieces: list[dict[str, Any]] = []
    for part in parts:
        if isinstance(part, Text):
            pieces.append({"kind": "text", "text": part.text})
        elif isinstance(part, WikiLink):
            url = _href(page_url(part.title or page_title))
            if url is not None and part.fragment:
                url += "#" + part.fragment
            pieces.append({"kind": "link", "text": part.label, "href": url})
        else:
            url = _href(page_url(page_title)) if part.anchor is not None else None
            pieces.append(
                {
                    "kind": "section",
                    "text": part.label,
                    "href": f"{url}#{part.anchor}" if url is not None else None,
                    "arrow": part.anchor is not None,
                    "colon": part.colon,
                }
            )
    return pieces


def pieces_html(pieces: Sequence[dict[str, Any]]) -> Markup:
    """`summary_pieces` as HTML: every text escaped, links as ``<a>`` with class names
    (``summary-link``, ``summary-section`` inside ``span.autocomment``)."""
    out: list[str] = []
    for piece in pieces:
        text = escape(printable(piece["text"]))
        href = _href(piece.get("href"))
        if piece["kind"] == "text":
            out.append(text)
        elif piece["kind"] == "link":
            out.append(
                f'<a class="summary-link" href="{escape(href)}">{text}</a>' if href else text
            )
        else:
            label = str((ARROW + LRM if piece.get("arrow") else "") + text)
            if href:
                label = f'<a class="summary-section" href="{escape(href)}">{label}</a>'
            colon = COLON if piece.get("colon") else ""
            out.append(f'<span class="autocomment" dir="auto">{label}{colon}</span>')
    return Markup("".join(out))


def pieces_text(pieces: Sequence[dict[str, Any]]) -> str:
    """`summary_pieces` as plain text: "→ Section: rest", links as their labels."""
    out: list[str] = []
    for i, piece in enumerate(pieces):
        if piece["kind"] != "section":
            out.append(piece["text"])
            continue
        out.append(f"{ARROW} {piece['text']}" if piece.get("arrow") else piece["text"])
        if piece.get("colon"):
            following = pieces[i + 1] if i + 1 < len(pieces) else None
            spaced = following is not None and following["text"][:1].isspace()
            out.append(":" if spaced else COLON)
    return "".join(out)


def summary_html(
    comment: str | Sequence[Part] | None,
    page_url: Callable[[str], str | None],
    page_title: str,
    site: SiteInfo | None = None,
) -> Markup:
    """A summary as HTML (Markup): text escaped, wiki links and section links as ``<a>``
    to the wiki (see `summary_pieces`)."""
    return pieces_html(summary_pieces(comment, page_url, page_title, site))


def summary_text(comment: str | Sequence[Part] | None, site: SiteInfo | None = None) -> str:
    """A summary as plain text for text and Markdown outputs: "→ Section: rest", links as
    their labels (the caller escapes it for its format)."""
    return pieces_text(summary_pieces(comment, lambda title: None, "", site))
