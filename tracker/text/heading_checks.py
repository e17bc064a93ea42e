"""What MediaWiki's parser makes of the preprocessor's heading nodes (MediaWiki 1.39).

tracker.text.headings finds heading nodes as Preprocessor_Hash does. Not every one becomes a
heading on the page: Parser::handleHeadings wants the expanded line to be one line that
ends with the equals signs (`renders`), and Parser::handleInternalLinks, which runs after,
swallows a heading that is in a link's label (`in_link_label`). Such a node still has
its section number: it only makes no section.
"""

from __future__ import annotations

import bisect
import re

from mwparserfromhell.definitions import is_scheme

__all__ = ["LinkLabels", "in_link_label", "is_link_target", "renders", "valid_template_name"]


class LinkLabels:
    """Which headings Parser::handleInternalLinks puts in a link label, in one text.

    It runs after headings are made, on text cut at each "[[": a piece "target|label]]..."
    with a valid target makes a link, and a heading in its label loses its section marker.
    `opens`: where each "[[" starts (outside comments and tags), in order; `opaque`: the
    spans of comments and tags, in order. What follows each "[[" is read once, and the
    "]]" are found once, for thousands of headings after thousands of "[[".
    """

    def __init__(self, text: str, opens: list[int], opaque: list[tuple[int, int, bool]]):
        self.text = text
        self.opens = opens
        self.opaque = opaque
        self._closes: list[int] | None = None  # where each "]]" that counts starts
        self._labels: dict[int, tuple[bool, int]] = {}  # by "[[": see _link_label

    def __contains__(self, pos: object) -> bool:
        """Whether the heading at `pos` is in a link's label."""
        assert isinstance(pos, int)
        k = bisect.bisect_left(self.opens, pos)
        if not k:
            return False
        start = self.opens[k - 1] + 2
        end = self._close(start)
        if end < pos or (k < len(self.opens) and self.opens[k] < end):
            return False
        found = self._labels.get(k)
        if found is None:
            # (Read once per "[[": no other "[[" is before its "]]", so the pieces read for
            # all headings are apart.)
            found = self._labels[k] = _link_label(self.text, start, end)
        link, caption_start = found
        # In a framed image's caption a heading keeps its marker; elsewhere in a label not.
        return link and (caption_start < 0 or pos <= caption_start)

    def _close(self, start: int) -> int:
        """The first "]]" from `start` that is not in a comment or a tag (-1: none)."""
        if self._closes is None:
            closes = []
            text, opaque = self.text, self.opaque
            end = text.find("]]")
            while end >= 0:
                j = bisect.bisect_right(opaque, (end, len(text))) - 1
                if j >= 0 and opaque[j][1] > end:
                    end = text.find("]]", opaque[j][1])  # gone when links are made
                    continue
                closes.append(end)
                end = text.find("]]", end + 1)
            self._closes = closes
        n = bisect.bisect_left(self._closes, start)
        return self._closes[n] if n < len(self._closes) else -1


def in_link_label(
    text: str, pos: int, opens: list[int], opaque: list[tuple[int, int, bool]]
) -> bool:
    """Whether Parser::handleInternalLinks will put the heading at `pos` in a link label
    (`LinkLabels`, for one heading)."""
    return pos in LinkLabels(text, opens, opaque)


# Title characters ($wgLegalTitleChars) and URL schemes MediaWiki refuses as link targets.
_ILLEGAL_TARGET = re.compile(r"[<>\[\]{}|\x00-\x1f\x7f]")
_BLOCK_IMAGE_OPTIONS = {"thumb", "thumbnail", "frame", "framed"}


def _link_label(text: str, start: int, end: int) -> tuple[bool, int]:
    """Whether text[start:end], between [[ and ]], is a link target, "|" and a label; and
    where the caption of a framed image starts (-1 if none): a thumbnail's caption is a
    block of its own, where headings keep their marker."""
    content = text[start:end]
    target, pipe, label = content.partition("|")
    if not pipe or "[[" in content or not is_link_target(target):
        return False, -1
    target = target.strip()
    if target.startswith("#"):
        return False, -1  # a link to a section of the same page keeps its label as text
    namespace = target.split(":", 1)[0].strip().lower() if ":" in target else ""
    if namespace == "media":
        return False, -1
    if namespace in ("file", "image"):
        # Only the last part is a caption, and only a framed image makes it a block.
        *options, caption = label.split("|")
        if {o.strip().lower() for o in options} & _BLOCK_IMAGE_OPTIONS:
            return True, end - len(caption) - 2
    return True, -1


def is_link_target(target: str) -> bool:
    """Whether `target`, as written between "[[" and "|" or "]]", can make a link.

    Parser::handleInternalLinks2: not if it has a character titles may not have
    ($wgLegalTitleChars; "{" too: a template only the wiki can expand) or starts with a
    URL protocol ($wgUrlProtocols, as mwparserfromhell lists them).
    """
    target = target.strip()
    if not target or _ILLEGAL_TARGET.search(target) or target.startswith("//"):
        return False
    scheme, colon, rest = target.partition(":")
    if colon and (is_scheme(scheme, slashes=False) or is_scheme(scheme) and rest.startswith("//")):
        return False
    return True


_BAD_TEMPLATE_NAME = re.compile(r"[\[\]<>]")


_MAX_TITLE = 255  # bytes of a title (MediaWiki's Title: longer is no title)


def valid_template_name(text: str, start: int, end: int) -> bool:
    """Whether text[start:end], a template's content, starts with a name the wiki reads
    (one line, no brackets, a title's length). Reads 4 times a title's length at most, so
    that thousands of templates in one another cost no more than side by side."""
    limit = min(end, start + 4 * _MAX_TITLE)
    bar = text.find("|", start, limit)
    if bar < 0:
        if limit < end:
            return False  # a name longer than any title
        bar = end
    name = text[start:bar].strip()
    return (
        bool(name)
        and "\n" not in name
        and not _BAD_TEMPLATE_NAME.search(name)
        and len(name.encode()) <= _MAX_TITLE
    )


def renders(
    text: str,
    start: int,
    end: int,
    level: int,
    opaque: list[tuple[int, int, bool]],
    templates: list[tuple[int, int, bool]],
) -> bool:
    """Whether Parser::handleHeadings makes a heading of the expanded heading line.

    The preprocessor counts "=" in the raw text. The parser then puts a marker after the
    first `level` of them, expands the line (comments and <includeonly> vanish, tags and
    templates become opaque markers) and wants /^={level}.+={level}\\s*$/ on one line.
    """
    rest = text[start + level : end]
    if "<" in rest or "{" in rest or "\n" in rest:
        out = []
        pos = start + level
        first = bisect.bisect_left(opaque, (start,))
        last = bisect.bisect_left(opaque, (end,))
        spans = sorted(opaque[first:last] + [t for t in templates if start <= t[0] < end])
        for s, e, visible in spans:
            if s < pos:
                continue  # inside a span already replaced
            out.append(text[pos:s])
            if visible:
                out.append("\x7f")
            pos = e
        out.append(text[pos:end])
        rest = "".join(out)
    rest = rest.rstrip(" \t\n\r\f\v")
    return "\n" not in rest and rest.endswith("=" * level)
