"""What MediaWiki's parser makes of the preprocessor's heading nodes (MediaWiki 1.39).

tracker.headings finds heading nodes as Preprocessor_Hash does. Not every one becomes a
heading on the page: Parser::handleHeadings wants the expanded line to be one line that
ends with the equals signs (`renders`), and Parser::handleInternalLinks, which runs after,
swallows a heading that is in a link's label (`in_link_label`). Such a node still has
its section number: it only makes no section.
"""

from __future__ import annotations

import bisect
import re

from mwparserfromhell.definitions import is_scheme

__all__ = ["in_link_label", "is_link_target", "renders", "valid_template_name"]


def in_link_label(
    text: str, pos: int, opens: list[int], opaque: list[tuple[int, int, bool]]
) -> bool:
    """Whether Parser::handleInternalLinks will put the heading at `pos` in a link label.

    It runs after headings are made, on text cut at each "[[": a piece "target|label]]..."
    with a valid target makes a link, and a heading in its label loses its section marker.
    """
    k = bisect.bisect_left(opens, pos)
    if not k:
        return False
    start = opens[k - 1] + 2
    end = text.find("]]", start)
    while end >= 0:
        # A "]]" in a comment or a tag is not there any more when links are made.
        j = bisect.bisect_right(opaque, (end, len(text))) - 1
        if j < 0 or opaque[j][1] <= end:
            break
        end = text.find("]]", opaque[j][1])
    if end < pos or (k < len(opens) and opens[k] < end):
        return False
    return _is_link_label(text, start, end, pos)


# Title characters ($wgLegalTitleChars) and URL schemes MediaWiki refuses as link targets.
_ILLEGAL_TARGET = re.compile(r"[<>\[\]{}|\x00-\x1f\x7f]")
_BLOCK_IMAGE_OPTIONS = {"thumb", "thumbnail", "frame", "framed"}


def _is_link_label(text: str, start: int, end: int, pos: int) -> bool:
    """Whether text[start:end], between [[ and ]], is a link target, "|" and a label.

    A thumbnail's caption is a block of its own, where headings keep their marker.
    """
    content = text[start:end]
    target, pipe, label = content.partition("|")
    if not pipe or "[[" in content or not is_link_target(target):
        return False
    target = target.strip()
    if target.startswith("#"):
        return False  # a link to a section of the same page keeps its label as text
    namespace = target.split(":", 1)[0].strip().lower() if ":" in target else ""
    if namespace == "media":
        return False
    if namespace in ("file", "image"):
        # Only the last part is a caption, and only a framed image makes it a block.
        *options, caption = label.split("|")
        if pos <= end - len(caption) - 2:  # not in the caption
            return True
        return not {o.strip().lower() for o in options} & _BLOCK_IMAGE_OPTIONS
    return True


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


def valid_template_name(text: str, start: int, end: int) -> bool:
    name = text[start:end].split("|", 1)[0].strip()
    return bool(name) and "\n" not in name and not _BAD_TEMPLATE_NAME.search(name)


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
