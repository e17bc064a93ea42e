"""Wikitext -> sections, found exactly where MediaWiki finds them.

A section is a heading line and everything up to the next heading line; the lead is what
comes before the first heading. `split` is lossless: the sections' texts joined give the
input back byte for byte.

Where a heading is, is decided by MediaWiki's preprocessor (``Preprocessor_Hash``), not by a
regex: ``==x==`` is not a section inside a comment, an extension tag (``<nowiki>``,
``<pre>``, ``<ref>``, ``<math>``, ``<syntaxhighlight>``...), ``<includeonly>`` or a
template's braces; it is one inside a table, a multi-line ``[[link]]`` or ``-{ }-``, and
inside brackets that never close. tracker.headings ports the preprocessor's heading logic
and splits a 60 KB article in about a millisecond, where a full parse takes 20-90 ms;
tests/test_sections_mediawiki.py checks it against a real MediaWiki's
``action=parse&prop=sections``. Only heading texts are parsed (mwparserfromhell).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import mwparserfromhell

from tracker.headings import find_headings

__all__ = ["DEFAULT_TAGS", "Section", "heading_text", "split"]

# The extension tags whose content the preprocessor does not parse, as on Wikipedia
# (siteinfo "extensiontags"). A wiki without an extension parses inside its tag: pass that
# wiki's own list as `split(text, tags=...)`.
DEFAULT_TAGS = frozenset(
    """categorytree ce charinsert chem gallery graph hiero imagemap indicator inputbox
    langconvert mapframe maplink math nowiki poem pre ref references score section source
    syntaxhighlight templatedata templatestyles timeline""".split()
)


@dataclass(frozen=True)
class Section:
    """One section of a revision's wikitext; the lead is index 0, level 0."""

    index: int  # 0 = lead, then in document order
    level: int  # 0 for the lead, 1-6 for headings
    heading: str  # as a reader sees it; "" for the lead
    raw_heading: str  # the heading line's text between the = signs, as written
    text: str  # the full raw text, heading line included, up to the next heading line
    parent: int | None  # index of the parent section; None for the lead and top level
    path: tuple[str, ...]  # headings from the top level down; () for the lead
    body_start: int = 0  # where the body starts in `text`: after the heading line

    @property
    def body(self) -> str:
        """The section's own text after its heading line (all of it for the lead)."""
        return self.text[self.body_start :]


def split(text: str, *, tags: Iterable[str] | None = None) -> list[Section]:
    """Split wikitext into the lead and its headed sections, in document order."""
    key = DEFAULT_TAGS if tags is None else frozenset(t.lower() for t in tags)
    return list(_split_cached(text, key))


@lru_cache(maxsize=16)
def _split_cached(text: str, tags: frozenset[str]) -> tuple[Section, ...]:
    # Ingest diffs revision n against n-1 and then n+1 against n: each text is split twice.
    heads = find_headings(text, tags)
    sections = [Section(0, 0, "", "", text[: heads[0][0]] if heads else text, None, ())]
    ancestors: list[Section] = []  # the open headings, levels strictly increasing
    for n, (start, line_end, level, raw_start, raw_end) in enumerate(heads, 1):
        end = heads[n][0] if n < len(heads) else len(text)
        raw = text[raw_start:raw_end]
        while ancestors and ancestors[-1].level >= level:
            ancestors.pop()
        parent = ancestors[-1] if ancestors else None
        heading = heading_text(raw)
        path = (parent.path if parent else ()) + (heading,)
        section = Section(
            n,
            level,
            heading,
            raw,
            text[start:end],
            parent.index if parent else None,
            path,
            min(line_end + 1, end) - start,
        )
        sections.append(section)
        ancestors.append(section)
    return tuple(sections)


# ---- heading text -------------------------------------------------------------------------

_PLAIN_HEADING = re.compile(r"[^\[\]{}<>'&_~]*")
_QUOTES = re.compile(r"(''+)")
# Tags the sanitizer lets through as HTML: in a heading a reader sees their content only.
_HTML_TAG = re.compile(
    r"</?(?:abbr|b|bdi|bdo|big|blockquote|br|caption|center|cite|code|data|dd|del|dfn|div|dl|"
    r"dt|em|font|h[1-6]|hr|i|ins|kbd|li|mark|ol|p|q|rb|rp|rt|rtc|ruby|s|samp|small|span|"
    r"strike|strong|sub|sup|table|td|th|time|tr|tt|u|ul|var|wbr|noinclude|onlyinclude)"
    r"(?:\s[^<>]*)?/?>",
    re.I,
)
_INCLUDEONLY = re.compile(r"<includeonly\s*>.*?(?:</includeonly\s*>|$)", re.I | re.S)
_INVISIBLE_TAGS = {"ref", "references", "includeonly"}


@lru_cache(maxsize=4096)
def heading_text(raw: str) -> str:
    """Render a heading's markup to the text a reader sees, trimmed.

    Links show their label, italics and bold lose their quotes, HTML tags keep their
    content; comments, ``<ref>`` and templates (which only a wiki can expand) disappear;
    entities are decoded.
    """
    if _PLAIN_HEADING.fullmatch(raw):
        return raw.strip()
    raw = _INCLUDEONLY.sub("", raw)
    # The leading space keeps a heading-like "== x ==" inside from parsing as a heading.
    code = mwparserfromhell.parse(" " + raw, skip_style_tags=True)
    for tag in code.filter_tags(recursive=True):
        if str(tag.tag).strip().lower() in _INVISIBLE_TAGS:
            try:
                code.remove(tag)
            except ValueError:
                pass  # already gone with an enclosing tag
    text = code.strip_code(normalize=False, collapse=False)
    text = _HTML_TAG.sub("", text)
    return html.unescape(_strip_quotes(text)).strip()


def _strip_quotes(text: str) -> str:
    """Drop ''italic'' and '''bold''' markup the way MediaWiki's doQuotes reads it."""
    parts = _QUOTES.split(text)
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
