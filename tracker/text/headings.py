"""Where MediaWiki finds headings in wikitext: a port of its preprocessor's heading logic.

`find_headings` follows Preprocessor_Hash::buildDomTreeArrayFromText (MediaWiki 1.39) step
by step, keeping only what decides headings: comments, extension tags (their content is
opaque), ``<includeonly>``, template braces (a heading inside a template's arguments is not
a section), ``[[...]]`` and ``-{...}-`` (a heading inside them is, unless they make a link
whose label holds it), and brackets that never close (text again, their headings count).
It numbers heading nodes as MediaWiki does, then makes the parser's checks on them
(tracker.text.heading_checks): which are headings, which are swallowed by a link.

Instead of visiting every character it jumps from one character that can change the state
to the next with a regex chosen by the current state: about a millisecond for 60 KB, where
a full parse takes 20-90 ms. tests/test_sections_mediawiki.py checks it against a real
MediaWiki. Known differences, all in malformed text: a heading inside an HTML tag's
attributes spanning lines, and link labels whose templates expand to other links. `scan`
can start and stop at cuts, where nothing is open: an edited text is scanned again there.
`scan_quiet` also says where a line starts with nothing open (any line, not only one
starting with "="), and stops at such a line where the old text's scan had nothing open
either and the rest of the text is the old text's: the rest is the old text's scan, moved.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence
from functools import lru_cache
from typing import NamedTuple

from tracker.text.heading_checks import LinkLabels, renders, valid_template_name

__all__ = ["DEFAULT_TAGS", "Heading", "Quiet", "find_headings", "scan_quiet"]

# The extension tags whose content the preprocessor does not parse, as on Wikipedia
# (siteinfo "extensiontags"). A wiki without an extension parses inside its tag: pass that
# wiki's own list as `split(text, tags=...)`.
DEFAULT_TAGS = frozenset(
    """categorytree ce charinsert chem gallery graph hiero imagemap indicator inputbox
    langconvert mapframe maplink math nowiki poem pre ref references score section source
    syntaxhighlight templatedata templatestyles timeline""".split()
)

# (start of the heading line, end of the line, level, start and end of the raw title,
# its section number: MediaWiki's, which counts every heading node, sections or not)
Heading = tuple[int, int, int, int, int, int]
# A stretch of text the scanner passed with nothing open and nothing given up on: (start,
# end, heading nodes before it). A line that starts there is scanned from it alone.
Quiet = tuple[int, int, int]

# Brace rules of Preprocessor.php: opener -> (closer, min count, max count, names by count);
# a name of None means the construct is only text once closed (its headings stay visible).
_RULES: dict[str, tuple[str, int, int, dict[int, str | None]]] = {
    "{": ("}", 2, 3, {2: "template", 3: "tplarg"}),
    "[": ("]", 2, 2, {2: None}),
    "-{": ("}-", 2, 2, {2: None}),
}
# PCRE's \s without /u: ASCII whitespace only.
_WS = r"[ \t\n\r\f\v]"
# "[[...]]" with exactly two brackets and nothing inside that the scanner stops at.
_SIMPLE_LINK = re.compile(r"\[\[(?!\[)(?:[^\[\]{}<\n-]|-(?!\{))*\]\]")
_IGNORED_TAGS = ("noinclude", "/noinclude", "onlyinclude", "/onlyinclude")
_MISSING_END_OK = ("includeonly", "noinclude", "onlyinclude")


class _Part:
    __slots__ = ("heads", "eq", "comment_end", "visual_end")

    def __init__(self) -> None:
        self.heads: list[Heading] = []
        self.eq = False  # the part has had its name=value equals sign
        self.comment_end: int | None = None
        self.visual_end: int | None = None


class _Piece:
    __slots__ = ("open", "close", "count", "parts", "start", "prefix")

    def __init__(self, open_: str, close: str, count: int, start: int = 0, prefix: str = ""):
        self.open = open_
        self.close = close
        self.count = count
        self.parts = [_Part()]
        self.start = start
        self.prefix = prefix

    def broken(self) -> list[Heading]:
        """The headings inside a construct that turned out to be plain text."""
        if self.open == "\n":
            return self.parts[0].heads
        return [h for part in self.parts for h in part.heads]


@lru_cache(maxsize=8)
def _tag_regex(tags: frozenset[str]) -> re.Pattern[str]:
    names = sorted(tags | {"includeonly"} | set(_IGNORED_TAGS), key=lambda n: (-len(n), n))
    return re.compile(r"({})(?:{}|/>|>)|(!--)".format("|".join(map(re.escape, names)), _WS), re.I)


@lru_cache(maxsize=256)
def _search_regex(
    tags: frozenset[str], close: str, pipe: bool, equals: bool, heading: bool
) -> re.Pattern[str]:
    # Only the characters that can change the state: a lone "[" or "{", a "-" not before
    # "{", a "<" not opening a comment or a listed tag, a newline not starting with "=",
    # are text to the preprocessor too.
    names = sorted(tags | {"includeonly"} | set(_IGNORED_TAGS), key=lambda n: (-len(n), n))
    alts = [
        r"\{\{",
        r"\[\[",
        r"-\{",
        r"<(?:!--|(?i:{})(?:{}|/>|>))".format("|".join(map(re.escape, names)), _WS),
        r"\n" if heading else r"\n=",
    ]
    if close == "}":
        alts.append(r"\}\}")
    elif close == "]":
        alts.append(r"\]\]")
    elif close == "}-":
        alts.append(r"\}-")
    if pipe:
        alts.append(r"\|")
    if equals:
        alts.append("=")
    return re.compile("|".join(alts))


@lru_cache(maxsize=64)
def _closing_regex(name: str) -> re.Pattern[str]:
    return re.compile(rf"</{re.escape(name)}{_WS}*>", re.I)


def _run(text: str, i: int, chars: str, limit: int | None = None) -> int:
    """strspn: how many of `chars` start at i (at most `limit`)."""
    n = len(text) if limit is None else min(len(text), i + limit)
    j = i
    while j < n and text[j] in chars:
        j += 1
    return j - i


def _run_before(text: str, i: int, chars: str) -> int:
    """How many of `chars` end at i."""
    j = i
    while j > 0 and text[j - 1] in chars:
        j -= 1
    return i - j


def find_headings(text: str, tags: frozenset[str]) -> list[Heading]:
    """The page's own headings, in order, for a wiki whose extension tags are `tags`."""
    return scan(text, tags)[0]


def scan(
    text: str, tags: frozenset[str], start: int = 0, stops: Container[int] = ()
) -> tuple[list[Heading], list[int], int | None]:
    """`find_headings` from `start` (0 or a cut), with the cuts it passes; stop at one of `stops`.

    Returns the headings after `start`, the cuts passed, the stop reached (see `scan_counted`).
    """
    return scan_counted(text, tags, start, stops)[:3]


def scan_counted(
    text: str, tags: frozenset[str], start: int = 0, stops: Container[int] = (), number: int = 1
) -> tuple[list[Heading], list[int], int | None, list[int]]:
    """`scan`, numbering the heading nodes from `number` on, and counting them.

    A cut: the start of a line beginning with "=", reached with nothing open (braces,
    brackets, heading, comment, tag) and no failed search for ">" or a closing tag yet. The
    headings before a cut depend on the text before it only, the scan from it on the text
    after it only: a text sharing `text[:cut + 1]` is scanned again from there (see
    tracker.text.sections).

    MediaWiki numbers every heading node the preprocessor makes (Preprocessor_Hash's
    headingIndex), also those that make no section (in a template's arguments, in a link's
    label, not rendered): those numbers are what ``section=N`` and edit links use.
    Returns the headings after `start`, the cuts passed, the stop reached, and how many
    heading nodes come before each cut passed and before the stop (`number` - 1 come
    before `start`).
    """
    if start in stops:
        return [], [], start, [number - 1]
    if not text.startswith("=", start) and text.find("\n=", start) < 0:
        # (No line starts with "=" after `start`: no heading node, no cut; a huge line of
        # templates and links is not read.)
        return [], [], None, []
    return _Scan(text, tags, start, stops, number).run()


class QuietScan(NamedTuple):
    """What `scan_quiet` found (as scan_counted), where lines start with nothing open,
    and where it stopped at such a line of `resume`: (where, the heading nodes before it,
    the nodes before it in the other text: as its stretch of `resume` says), or None."""

    headings: list[Heading]
    cuts: list[int]
    stop: int | None
    counts: list[int]
    quiet: list[Quiet]
    resumed: tuple[int, int, int] | None


def scan_quiet(
    text: str,
    tags: frozenset[str],
    start: int = 0,
    stops: Container[int] = (),
    number: int = 1,
    resume: Sequence[Quiet] = (),
) -> QuietScan:
    """`scan_counted`, also saying where lines start with nothing open (`Quiet` stretches;
    end-inclusive, merged where no line starts between them), and stopping at the first
    line that starts in a stretch of `resume` with nothing open here either.

    `resume`: stretches, in order, where another text's scan had nothing open, moved to
    this text's positions, each where this text has the other's text from the line start
    on: from such a line on, this scan would find what the other did (moved). A cut of
    `stops` before it stops the scan first.
    """
    if start in stops:
        return QuietScan([], [], start, [number - 1], [], None)
    if not text.startswith("=", start) and text.find("\n=", start) < 0:
        return QuietScan([], [], None, [], [], None)  # (as scan_counted: no heading node)
    scanner = _Scan(text, tags, start, stops, number, resume)
    found, cuts, stop, counts = scanner.run()
    return QuietScan(found, cuts, stop, counts, scanner.quiet, scanner.resumed)


class _Scan:
    """The state of one scan, as Preprocessor_Hash keeps it, and a method per kind of
    character that can change it (`run` jumps from one to the next)."""

    def __init__(
        self,
        text: str,
        tags: frozenset[str],
        start: int,
        stops: Container[int],
        number: int,
        resume: Sequence[Quiet] | None = None,
    ) -> None:
        self.text, self.tags, self.stops, self.number = text, tags, stops, number
        self.n = len(text)
        self.tag_re = _tag_regex(tags)
        self.cuts: list[int] = []
        self.counts: list[int] = []
        self.stop: int | None = None
        self.stack: list[_Piece] = []
        self.root: list[Heading] = []
        self.accum = self.root
        self.find_pipe = self.find_equals = self.in_heading = False
        self.no_more_gt = False
        self.no_more_closing: set[str] = set()
        self.fake_line_start = True
        self.i = start
        # Spans the parser sees as one opaque marker (True: extension tags; templates, kept
        # only while a heading is open) or as nothing (False: comments, <includeonly>).
        # Comments and tags are never nested: `opaque` is in text order.
        self.opaque: list[tuple[int, int, bool]] = []
        self.templates: list[tuple[int, int, bool]] = []
        self.headings_open = 0
        self.link_opens: list[int] = []  # where "[[" starts, outside comments and tags
        # The last run of closing braces or brackets.
        self.run_char, self.run_start, self.run_end = "", 0, 0
        self.close = ""  # what closes the innermost construct open
        self.search = _search_regex(tags, "", False, False, False).search
        self.quiet: list[Quiet] = []  # (when asked for: `resume` given)
        self.record = resume is not None
        self.resume, self.next_resume = resume or (), 0
        self.resumed: tuple[int, int, int] | None = None

    def run(self) -> tuple[list[Heading], list[int], int | None, list[int]]:
        next_event, open_, close = self._next, self._open, self._close
        while (event := next_event()) is not None:
            found, cur = event
            if found == "open":
                open_(cur)
            elif found == "close":
                close(cur)
            elif found == "line-start":
                if self._line_start():
                    break
            elif found == "line-end":
                self._line_end()
            elif found == "angle":
                self._angle()
            elif found == "pipe":
                self.stack[-1].parts.append(_Part())
                self._flags()
                self.i += 1
            else:  # "equals"
                self.stack[-1].parts[-1].eq = True
                self._flags()  # (no more equals sign to look for in this part)
                self.i += 1
        root = self.root
        for piece in self.stack:
            # Unclosed constructs are text: their headings reach the top level.
            root.extend(piece.broken())
        if self.link_opens and root:
            # A "[[" before `start` closed before it: no heading after it is in its label.
            labels = LinkLabels(self.text, self.link_opens, self.opaque)
            root = [h for h in root if h[0] not in labels]
        return root, self.cuts, self.stop, self.counts

    def _flags(self) -> None:
        """What the innermost construct open makes of the characters to come."""
        if not self.stack:
            self.accum = self.root
            self.find_pipe = self.find_equals = self.in_heading = False
            self.close = ""
        else:
            top = self.stack[-1]
            self.accum = top.parts[-1].heads
            self.find_pipe = top.open != "\n" and top.open != "["
            self.find_equals = self.find_pipe and len(top.parts) > 1 and not top.parts[-1].eq
            self.in_heading = top.open == "\n"
            self.close = top.close
        self.search = _search_regex(
            self.tags, self.close, self.find_pipe, self.find_equals, self.in_heading
        ).search

    def _next(self) -> tuple[str, str] | None:
        """The next character that can change the state: (what it is, the opener or
        closer found), with `i` on it; None at the end."""
        if self.fake_line_start:
            return "line-start", ""
        text, close = self.text, self.close
        m = self.search(text, self.i)
        if self.record and not self.stack and not self.no_more_gt and not self.no_more_closing:
            # Nothing open up to the next event: a line starting here is scanned alone.
            if self._quiet(self.i, self.n if m is None else m.start()):
                return None
        if m is None:
            if close != "\n":
                return None
            self.i = self.n  # a past-the-end run to finish off the heading
            return "line-end", ""
        i = self.i = m.start()
        cur = text[i]
        two = text[i : i + 2]
        if cur == "|":
            return "pipe", cur
        if cur == "=":
            return "equals", cur
        if cur == "<":
            return "angle", cur
        if cur == "\n":
            return ("line-end" if self.in_heading else "line-start"), cur
        if two == close:
            return "close", two
        if cur == close:
            return "close", cur
        if two == "-{":
            return "open", two
        return "open", cur

    def _quiet(self, start: int, end: int) -> bool:
        """Note that nothing is open from `start` to `end`; True if a line of `resume`
        starts there (the scan stops at it)."""
        quiet, text = self.quiet, self.text
        before = self.number - 1
        last = quiet[-1] if quiet else None
        if last is not None and last[2] == before and text.find("\n", last[1], start) < 0:
            quiet[-1] = (last[0], end, before)  # no line starts between them
        else:
            quiet.append((start, end, before))
        resume = self.resume
        if not resume:
            return False
        k = self.next_resume
        while k < len(resume) and resume[k][1] < start:
            k += 1
        self.next_resume = k
        while k < len(resume) and resume[k][0] <= end:
            lo, hi = max(resume[k][0], start, 1), min(resume[k][1], end)
            line = text.find("\n", lo - 1, hi)  # (a line starting from lo to hi)
            if line >= 0 and line + 1 < self.n:
                self.stop = line + 1
                self.resumed = (line + 1, before, resume[k][2])
                return True
            k += 1
        return False

    def _angle(self) -> None:
        m = self.tag_re.match(self.text, self.i + 1)
        assert m is not None  # the search regex only stops before these
        if m.group(2):
            self._comment()
        else:
            self._tag(m.group(1))

    def _comment(self) -> None:
        text, i = self.text, self.i
        end = text.find("-->", i + 4)
        if end < 0:
            self.opaque.append((i, self.n, False))
            self.i = self.n  # an unclosed comment runs to the end
            return
        ws_start = i - _run_before(text, i, " \t") if i else 0
        ws_end = end + 2 + _run(text, end + 3, " \t")
        while text.startswith("<!--", ws_end + 1):
            c = text.find("-->", ws_end + 4)
            if c < 0:
                break
            ws_end = c + 2 + _run(text, c + 3, " \t")
        alone = text[ws_start - 1 : ws_start] == "\n" == text[ws_end + 1 : ws_end + 2]
        if ws_start > 0 and alone:
            # Comments alone on their line eat it: look for a heading right after.
            end = ws_end + 1
            self.fake_line_start = True
            hidden = ws_start
        else:
            end += 2
            hidden = i
        if self.stack:
            part = self.stack[-1].parts[-1]
            if not (part.comment_end is not None and part.comment_end == ws_start - 1):
                part.visual_end = ws_start
            part.comment_end = end
        self.opaque.append((hidden, end + 1, False))
        self.i = end + 1

    def _tag(self, name: str) -> None:
        text, i = self.text, self.i
        lower = name.lower()
        attr_start = i + len(name) + 1
        tag_end = -1 if self.no_more_gt else text.find(">", attr_start)
        if tag_end < 0:
            self.no_more_gt = True  # as MediaWiki: no O(n^2) backtracking
            self.i += 1
            return
        if lower in _IGNORED_TAGS or text[tag_end - 1] == "/":
            end = tag_end + 1
        else:
            closing = None
            if name not in self.no_more_closing:
                closing = _closing_regex(name).search(text, tag_end + 1)
            if closing is not None:
                end = closing.end()
            elif name in _MISSING_END_OK:
                end = self.n
            else:
                # Not a tag after all: its text is parsed on.
                self.i = tag_end + 1
                self.no_more_closing.add(name)
                return
        visible = lower != "includeonly" and lower not in _IGNORED_TAGS
        self.opaque.append((i, end, visible))
        self.i = end

    def _line_start(self) -> bool:
        """A line starts (maybe a heading): True when it is the stop asked for."""
        if self.fake_line_start:
            self.fake_line_start = False
        else:
            self.i += 1
            if not self.stack and not self.no_more_gt and not self.no_more_closing:
                self.counts.append(self.number - 1)
                if self.i in self.stops:
                    self.stop = self.i
                    return True
                self.cuts.append(self.i)
        count = _run(self.text, self.i, "=", 6)
        if count == 1 and self.find_equals:
            pass  # DWIM: a name=value separator, not a heading
        elif count > 0:
            self.stack.append(_Piece("\n", "\n", count, start=self.i))
            self.headings_open += 1
            self._flags()
            self.i += count
        return False

    def _line_end(self) -> None:
        text, i = self.text, self.i
        piece = self.stack[-1]
        part = piece.parts[-1]
        search_start = i - _run_before(text, i, " \t")
        if part.comment_end is not None and search_start - 1 == part.comment_end:
            # A comment at the line end: look for the equals signs before it.
            search_start = part.visual_end or 0
            search_start -= _run_before(text, search_start, " \t")
        count = piece.count
        equals = _run_before(text, search_start, "=")
        element = self.accum
        if equals > 0:
            if search_start - equals == piece.start:
                # A line of equals signs only: as /={count}(.+)={count}/ would read it.
                count = 0 if equals < 3 else min(6, (equals - 1) // 2)
            else:
                count = min(equals, count)
            if count > 0:
                element = []  # a heading node, numbered, but maybe no section
                if renders(text, piece.start, i, count, self.opaque, self.templates):
                    raw_end = search_start - count
                    element = [(piece.start, i, count, piece.start + count, raw_end, self.number)]
                self.number += 1
        self.stack.pop()
        self.headings_open -= 1
        if not self.headings_open:
            self.templates.clear()
        self._flags()
        self.accum.extend(element)
        # The newline is not consumed: it may open the next heading.

    def _open(self, cur: str) -> None:
        text, i = self.text, self.i
        if cur == "[":
            m = _SIMPLE_LINK.match(text, i)
            if m is not None:
                # Most links: nothing inside can change the state; skip them whole.
                self.link_opens.append(i)
                self.i = m.end()
                return
        rule = _RULES[cur]
        count = (_run(text, i + 1, "{") + 1) if cur == "-{" else _run(text, i, cur)
        prefix = ""
        if cur == "-{" and count > 2:
            # -{{ is "-" then a template: the rightmost reading wins.
            prefix = "-"
            i += 1
            cur = "{"
            count -= 1
            rule = _RULES[cur]
        if cur == "[":
            self.link_opens.append(i + count - 2)
        if count >= rule[1]:
            self.stack.append(_Piece(cur, rule[0], count, start=i, prefix=prefix))
            self._flags()
        self.i = i + count

    def _close(self, cur: str) -> None:
        i = self.i
        piece = self.stack[-1]
        _close, _min, max_count, names = _RULES[piece.open]
        if len(cur) > 1:
            count = len(cur)
        else:
            # (A run of 8,000 "}" closes 3 at a time: its end is found once.)
            if not (self.run_char == cur and self.run_start <= i < self.run_end):
                self.run_char, self.run_start = cur, i
                self.run_end = i + _run(self.text, i, cur)
            count = min(self.run_end - i, piece.count)
        if count > max_count:
            matching = max_count
        else:
            matching = count
            while matching > 0 and matching not in names:
                matching -= 1
        if matching <= 0:
            self.i += count
            return
        # A template or argument hides its headings; [[...]] and -{...}- do not.
        if names[matching] is None:
            element = piece.broken()
        else:
            element = []
            node_start = piece.start + piece.count - matching
            if self.headings_open and valid_template_name(self.text, node_start + matching, i):
                # An invalid name (a newline, brackets) is shown as the text it is.
                self.templates.append((node_start, i + matching, True))
        self.i += matching
        self.stack.pop()
        if matching < piece.count:
            piece.parts = [_Part()]
            piece.count -= matching
            if piece.count >= _RULES[piece.open][1]:
                self.stack.append(piece)
            elif piece.count == 1 and piece.open == "{" and piece.prefix == "-":
                piece.prefix = ""
                piece.open = "-{"
                piece.count = 2
                piece.close = "}-"
                self.stack.append(piece)
        self._flags()
        self.accum.extend(element)
