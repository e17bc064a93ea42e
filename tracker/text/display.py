"""How a change record is told to a reader, once for every output: the terminal
(`tracker diff`), digests (text, Markdown, HTML, chat) and the web UI; and how text from
the wiki is made safe to show on a terminal or in a text digest.

Plain text only: each output escapes it for its own format.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "LEAD",
    "color_wanted",
    "deleted",
    "describe_change",
    "for_terminal",
    "inserted",
    "one_line",
    "paint",
    "printable",
    "section_label",
    "terminal_text",
    "where",
]

# What every output calls the section before the first heading.
LEAD = "(lead)"


def section_label(path: list[str] | tuple[str, ...]) -> str:
    """A section by its heading path ("History › Early years"), the lead as `LEAD`."""
    return " › ".join(path) if path else LEAD


# --- colour on a terminal ----------------------------------------------------------------------
# Colour is extra, never the only sign: an insertion reads {+like this+} and a deletion
# [-like this-] with or without it (a reader who cannot tell red from green, a terminal
# without colours, a copy pasted elsewhere all see the change).

_STYLE = {"bold": "1", "green": "32", "red": "31", "cyan": "36", "yellow": "33", "dim": "2"}


def color_wanted(
    isatty: bool, requested: bool | None = None, environ: Mapping[str, str] = os.environ
) -> bool:
    """Whether to print colour: as --color/--no-color say when given; otherwise on a
    terminal only, and never when NO_COLOR is set to anything but "" (https://no-color.org)."""
    if requested is not None:
        return requested
    return isatty and not environ.get("NO_COLOR")


def paint(text: str, *styles: str, color: bool = True) -> str:
    """``text`` in these styles (`_STYLE`) when ``color``; as it is otherwise."""
    if not color or not text or not styles:
        return text
    return f"\x1b[{';'.join(_STYLE[s] for s in styles)}m{text}\x1b[0m"


def inserted(text: str, color: bool = False) -> str:
    """Inserted words as every terminal output marks them: ``{+text+}``, green in colour."""
    return paint("{+" + text + "+}", "green", color=color)


def deleted(text: str, color: bool = False) -> str:
    """Deleted words: ``[-text-]``, red in colour."""
    return paint("[-" + text + "-]", "red", color=color)


# --- text from the wiki on a terminal ----------------------------------------------------------
# Summaries, user names, titles and headings are the wiki's users' text: a summary with ESC
# sequences would drive the reader's terminal, a CR would overwrite what came before on the
# line, a U+202E (right-to-left override) would reverse what follows it. They are shown,
# not obeyed: C0 controls as Unicode's symbols for them (ESC as "␛"), C1 controls as
# "\x9b", bidi embeddings, overrides and isolates as "\u202e"; line breaks inside a field as
# "⏎". The bidi marks (LRM, RLM, ALM) are dropped: common in right-to-left names, they
# set no direction for the text after them.

_LINE_BREAK = re.compile(r"\r\n|[\n\r\x0b\x0c\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but TAB and LF
_BIDI_CONTROL = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_BIDI_MARK = re.compile(r"[\u200e\u200f\u061c]")
NEWLINE_MARK = "⏎"


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Control Pictures block: U+241B "␛" for ESC
    if code == 0x7F:
        return "\u2421"  # "␡"
    return f"\\x{code:02x}"


def _neutral(text: str) -> str:
    text = _BIDI_MARK.sub("", text)
    text = _BIDI_CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return _CONTROL.sub(_shown, text)


def one_line(value: Any, newline: str = NEWLINE_MARK) -> str:
    """A value from the wiki as one line of a terminal or a text digest: line breaks as
    ``newline`` ("⏎"), tabs as spaces, control and bidi characters shown, not obeyed."""
    text = _LINE_BREAK.sub(newline, str(value)).replace("\t", " ")
    return _neutral(text)


def terminal_text(value: Any) -> str:
    """Text of several lines (a revision's wikitext, a changed passage) for a terminal:
    line feeds and tabs kept (CR LF as LF), every other control and bidi character shown."""
    return _neutral(str(value).replace("\r\n", "\n"))


_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def printable(value: Any) -> str:
    """Text for HTML and XML: the control characters XML forbids (and C1 ones) shown as
    symbols; line breaks, tabs and the rest kept."""
    return _NOT_XML.sub(_shown, str(value))


def for_terminal(value: Any) -> Any:
    """A JSON-like record (a diff, a revision) with every string made `one_line`."""
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, dict):
        return {key: for_terminal(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [for_terminal(item) for item in value]
    return value


def _clip(value: Any, limit: int = 160) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def where(path: list[str] | tuple[str, ...] | None) -> str:
    """A section by its heading path, as a change names it ("History › Early", "the lead")."""
    return " › ".join(path) if path else "the lead"


def describe_change(change: dict[str, Any]) -> str:
    """A change record (tracker/text/diff.py's, but for word operations) as a reader would say
    it: "template added: Infobox country", "heading level 2 → 3"."""
    kind = str(change["type"])
    verb = kind.rsplit("_", 1)[-1]
    moved = f" from {where(change.get('from_path'))}" if verb == "moved" else ""
    if kind == "heading_level":
        return f"heading level {change.get('old')} → {change.get('new')}"
    if kind == "template_param":
        name = f"{change.get('template', '')} {change.get('param', '')}".strip()
        return _value_change(name, change)
    if kind.startswith("template_"):
        return f"template {verb}{moved}: {change.get('template')}"
    if kind.startswith("ref_"):
        what = change.get("title") or change.get("name") or change.get("url") or "(untitled)"
        url = f" <{change['url']}>" if change.get("url") and change.get("url") != what else ""
        fields = ""
        if kind == "ref_changed" and change.get("fields"):
            fields = " (" + ", ".join(sorted(change["fields"])) + ")"
        return f"reference {verb}{moved}: {_clip(what)}{url}{fields}"
    if kind.startswith("category_"):
        return f"category {verb}: {change.get('category')}"
    if kind.startswith("link_"):
        return f"link {verb}{moved}: {change.get('target')}"
    if kind.startswith("file_"):
        return f"file {verb}{moved}: {change.get('file')}"
    if kind.startswith("interwiki_"):
        return f"interwiki link {verb}: {change.get('prefix')}:{change.get('title')}"
    if kind.startswith("interlanguage_"):
        return f"language link {verb}: {change.get('lang')}:{change.get('title')}"
    if kind == "defaultsort_changed":
        return _value_change("default sort key", change)
    if kind.startswith("switch_"):
        return f"behaviour switch {verb}: {change.get('switch')}"
    detail = next((change[k] for k in ("title", "name", "target", "text") if change.get(k)), "")
    return f"{kind.replace('_', ' ')}: {_clip(detail)}" if detail else kind.replace("_", " ")


def _value_change(name: str, change: dict[str, Any]) -> str:
    """A value set, removed or changed: "X set: v", "X removed (was v)", "X: a → b"."""
    old, new = change.get("old"), change.get("new")
    if old is None:
        return f"{name} set: {_clip(new)}"
    if new is None:
        return f"{name} removed (was {_clip(old)})"
    return f"{name}: {_clip(old)} → {_clip(new)}"
