"""mwparserfromhell, bounded: wikitext is read with it only where that takes bounded time and
stack, whatever the text.

The diff reads templates, references and links (tracker.text.semantic) and heading texts
(tracker.text.headline) with mwparserfromhell. On hostile text that parser costs what no edit
should: its builder, its nodes' ``str()`` and its filters recurse a few frames per level of
nesting (300 nested ``{{`` raise RecursionError), its C tokenizer recurses once per run of
"=" on a line that starts with "=" (some 100,000 runs overflow the C stack: the process
dies), and it reads on to the end of the text again for every construct that never closes
(16,000 unclosed ``{{a|`` in 64 KB: minutes). `tokenize` and `parse` refuse such text before
any of that happens, raising `Unreadable` with the reason a reader is given:

- a text longer than `MAX_TEXT` characters;
- a line starting with "=" with more than `MAX_DEPTH` runs of "=";
- more than `MAX_DEPTH` constructs open at once, counted before reading (openers not
  closed yet, a stack per kind): the tokenizer nests its attempts, and each that fails
  reads what follows again;
- more reading again than `MAX_EXCESS` characters, as `excess` predicts it from the
  constructs that cannot close (each is read to the end of the text, or of its line);
- constructs nested deeper than `MAX_DEPTH` (templates, links, tags... in one another:
  some 8 Python frames a level at most, well inside the default recursion limit);
- more work than a `Budget` has left: one diff's, shared by all it reads (tokens, mostly:
  the tokenizer, the builder and the diff spend some microseconds on each);
- and mwparserfromhell's own ParserError (none seen), said instead of raised.

The callers fall back, and say so: a section whose changed paragraphs cannot be read gets
its word diff and a ``semantics_skipped`` record (tracker.text.semantic); a heading shows its
wikitext (tracker.text.headline).
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import accumulate, repeat

from mwparserfromhell.parser import ParserError
from mwparserfromhell.parser import tokens as tk
from mwparserfromhell.parser.builder import Builder
from mwparserfromhell.wikicode import Wikicode

from tracker.errors import Unreadable

try:
    from mwparserfromhell.parser import CTokenizer as _Tokenizer
except ImportError:  # no C extension: the pure Python tokenizer, same tokens
    from mwparserfromhell.parser.tokenizer import Tokenizer as _Tokenizer  # type: ignore

__all__ = [
    "MAX_DEPTH",
    "MAX_EXCESS",
    "MAX_TEXT",
    "STEP",
    "Budget",
    "Unreadable",
    "build",
    "excess",
    "parse",
    "tokenize",
]

MAX_DEPTH = 32  # constructs in one another; and "=" runs on a line starting with "="
MAX_TEXT = 1 << 21  # characters of one text (a paragraph, a heading)
MAX_EXCESS = 1 << 22  # characters read again for constructs that cannot close, per text
# What one diff may spend reading wikitext, in units of about a microsecond of this
# project's 2-core test machine: a token costs TOKEN_COST (the tokenizer makes it, the
# builder and tracker.text.semantic visit it), CHARS characters read (or read again) one.
DIFF_BUDGET = 8 << 20
TOKEN_COST = 8
CHARS = 2

# How a token moves the builder in or out of a node: the first token of a node steps in, its
# last steps out (other tokens: text, or inside a node).
STEP: dict[type, int] = dict.fromkeys((tk.TemplateOpen, tk.ArgumentOpen, tk.WikilinkOpen,
    tk.ExternalLinkOpen, tk.HTMLEntityStart, tk.HeadingStart, tk.CommentStart, tk.TagOpenOpen),
    1) | dict.fromkeys((tk.TemplateClose, tk.ArgumentClose, tk.WikilinkClose,
    tk.ExternalLinkClose, tk.HTMLEntityEnd, tk.HeadingEnd, tk.CommentEnd, tk.TagCloseSelfclose,
    tk.TagCloseClose), -1)  # fmt: skip


class Budget:
    """What reading wikitext may cost one diff, in work units: `TOKEN_COST` a token, one
    for `CHARS` characters read. Shared by all the texts the diff reads (what is cached
    costs nothing), so that no text, however long or many, makes a diff take minutes:
    8 M units are some seconds at worst (dense markup, 2 MiB), and the largest real pages
    (2 MB, every paragraph changed, neither side read before) need less than half."""

    def __init__(self, units: int = DIFF_BUDGET) -> None:
        self.units = units
        self.left = units

    def spend(self, units: int) -> None:
        """Take `units`, or raise Unreadable if fewer are left (then take none)."""
        if units > self.left:
            raise Unreadable(
                f"more markup to read than one diff reads ({self.units:,} units)", lasting=False
            )
        self.left -= units


def tokenize(text: str, budget: Budget | None = None) -> list[tk.Token]:
    """mwparserfromhell's tokens of `text` (as ``parse(text, skip_style_tags=True)``), if it
    can be read in bounded time and stack (see the module); else raise Unreadable."""
    if len(text) > MAX_TEXT:
        raise Unreadable(f"text longer than {MAX_TEXT:,} characters")
    if "=" in text:
        _check_heading_lines(text)
    more, most_open = _count(text)
    if most_open > MAX_DEPTH:
        raise Unreadable(f"more than {MAX_DEPTH} constructs open at once ({{{{, [[, <tag>...)")
    if more > MAX_EXCESS:
        raise Unreadable("too many constructs that never close ({{, [[, <tag>...)")
    if budget is not None:
        budget.spend((len(text) + more) // CHARS)
    try:
        tokens = _Tokenizer().tokenize(text, 0, True)
    except ParserError as exc:  # (the parser's own bug: said, not raised)
        raise Unreadable(f"the parser failed: {exc}") from None
    if max(accumulate(map(STEP.get, map(type, tokens), repeat(0))), default=0) > MAX_DEPTH:
        raise Unreadable(f"markup nested deeper than {MAX_DEPTH} levels")
    if budget is not None:
        budget.spend(TOKEN_COST * len(tokens))  # (what most of the time is spent on)
    return tokens


def build(tokens: list[tk.Token]) -> Wikicode:
    """The nodes of tokens from `tokenize` (which empties the list)."""
    try:
        return Builder().build(tokens)
    except ParserError as exc:
        raise Unreadable(f"the parser failed: {exc}") from None


def parse(text: str, budget: Budget | None = None) -> Wikicode:
    """``mwparserfromhell.parse(text, skip_style_tags=True)``, bounded: see `tokenize`."""
    return build(tokenize(text, budget))


# A line where the tokenizer reads a heading: one starting with "=" (at the start of the text
# or after "\n"). It tries to close the heading at each later run of "=", recursing in C.
_HEADING_LINE = re.compile(r"^=[^\n]*", re.M)
_EQUALS = re.compile(r"=+")


def _check_heading_lines(text: str) -> None:
    for line in _HEADING_LINE.findall(text):
        if line.count("=") > MAX_DEPTH and len(_EQUALS.findall(line)) > MAX_DEPTH:
            raise Unreadable(f"a line starting with '=' with more than {MAX_DEPTH} runs of '='")


# What opens or closes a construct the tokenizer may read to the end of the text when it
# does not close: templates and arguments, links, comments, tags, tables (at a line start),
# external links "[scheme:..." (to the end of their line). A tag's attributes are read up
# to a brace, a bracket or a line end (then it is an opener without its ">": what follows
# is counted, not swallowed).
_MARKUP = re.compile(
    r"(\{\{+)|(\}\}+)|(\[\[+)|(\]+)|(<!--)|(-->)"
    r"|<(/?)([A-Za-z][^\s/<>]*)([^<>{}\[\]\n]*)(>?)"
    r"|^[ \t]*(\{\|)|^[ \t]*(\|\})|(\n)"
    r"|(\[)(?=(?i:[a-z][a-z0-9+.\-]*:|//))",
    re.M,
)
# Tags that never need closing (mwparserfromhell's SINGLE_ONLY), and those whose content is
# not read (PARSER_BLACKLIST): after their opening tag, the text up to their closing one is
# skipped, as the tokenizer skips it; but only where nothing else is open (inside a
# construct that fails, the tokenizer may read their content again and again).
_SINGLE_ONLY = frozenset({"br", "wbr", "hr", "meta", "link", "img"})
_OPAQUE = frozenset(
    """categorytree ce chem gallery graph hiero imagemap inputbox math nowiki
    pre score section source syntaxhighlight templatedata timeline""".split()
)


@lru_cache(maxsize=64)
def _closing(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{re.escape(name)}", re.I)


def excess(text: str) -> int:
    """How many characters the tokenizer may read again, predicted: each construct that
    cannot close (an opener with no closer of its kind after it, counted as a stack would)
    is read to the end of the text; an external link's bracket to the end of its line.

    A prediction, not a bound: failures inside constructs that do close are read up to
    their closer, and the tests measure what counts. Linear in the text.
    """
    return _count(text)[0]


def _count(text: str) -> tuple[int, int]:
    """`excess`, and the most constructs open at once by the same count (a stack per kind;
    ``{{{`` is one, external links left out): more than a few dozen and the tokenizer,
    nesting its attempts, may read the text again and again although the closers come."""
    if "{" not in text and "[" not in text and "<" not in text:
        return 0, 0
    most = tagged = 0  # (tagged: the tags open, all names)
    braces = links = comments = tables = brackets = 0
    tags: dict[str, int] = {}
    lines = 0  # characters read again for external links
    line_start = 0
    skip_to = 0
    unclosed_opaque: set[str] = set()
    for m in _MARKUP.finditer(text):
        if m.start() < skip_to:
            continue
        g = m.lastindex
        if g == 1:
            braces += len(m.group(1))
            most = max(most, braces // 2 + links + comments + tables + tagged)
        elif g == 2:
            braces = max(0, braces - len(m.group(2)))
        elif g == 3:
            links += len(m.group(3)) // 2
            most = max(most, braces // 2 + links + comments + tables + tagged)
        elif g == 4:
            # "]]" closes a link first; what is left, an external link.
            run = len(m.group(4))
            used = min(links, run // 2)
            links -= used
            brackets = max(0, brackets - (run - 2 * used))
        elif g == 5:
            comments += 1
            most = max(most, braces // 2 + links + comments + tables + tagged)
        elif g == 6:
            comments = max(0, comments - 1)
        elif g == 13:
            lines += brackets * (m.start() - line_start)
            brackets = 0
            line_start = m.end()
        elif g == 14:
            brackets += 1
        elif g == 11:
            tables += 1
            most = max(most, braces // 2 + links + comments + tables + tagged)
        elif g == 12:
            tables = max(0, tables - 1)
        else:
            closing, name, rest, end = m.group(7, 8, 9, 10)
            name = name.lower()
            if closing:
                if tags.get(name):
                    tags[name] -= 1
                    tagged -= 1
            elif (
                name in _OPAQUE
                and end
                and not rest.endswith("/")
                and not (braces > 1 or links or comments or tables or tagged)
            ):
                found = None if name in unclosed_opaque else _closing(name).search(text, m.end())
                if found is not None:
                    skip_to = found.start()  # its content is not read; its closing tag next
                else:
                    unclosed_opaque.add(name)  # (none further either: not looked for again)
                    tags[name] = tags.get(name, 0) + 1
                    tagged += 1
            elif name not in _SINGLE_ONLY and not (end and rest.endswith("/")):
                tags[name] = tags.get(name, 0) + 1
                tagged += 1
                most = max(most, braces // 2 + links + comments + tables + tagged)
    lines += brackets * (len(text) - line_start)
    unclosed = braces // 2 + links + comments + tables + tagged
    return unclosed * len(text) + lines, most
