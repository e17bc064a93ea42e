"""A section of the diff JSON -> what the diff template shows: word highlights for the inline
and side-by-side modes, and semantic changes (infobox fields, references...) as such.

The word operations of tracker/text/diff.py carry offsets into the section's *old* content, not
the unchanged text around them; the view lays them over that content, which it reads from
the store, the way tracker.text.worddiff.apply_word_diff rebuilds the new text. If they do not
fit (the content is not there, or was split differently), each change is shown with the
``before`` context the operation carries.

Pieces are (kind, text) pairs; the template prints the text escaped inside <ins>, <del> or
plain spans. The reader view's HTML is tracker.text.reader's (`pieces_html`, which escapes
every text it is given); nothing else here produces markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

from tracker.text.display import describe_change, where
from tracker.text.reader import ReaderDiff, pieces_html
from tracker.text.worddiff import overlay as word_overlay
from tracker.web.helpers import safe_url

# Unchanged runs longer than this are cut to their ends: a one-word edit in a 5 KB section
# should not print the whole section.
ELIDE_OVER = 600
KEEP = 220
WORD_OPS = ("insert", "delete", "move")

Piece = tuple[str, str]  # kind: equal | insert | delete | moved_insert | moved_delete | elide


@dataclass
class SectionView:
    id: str
    path: list[str]
    old_path: list[str] | None
    kinds: list[str]
    words_added: int
    words_removed: int
    inline: list[Piece] = field(default_factory=list)
    old_side: list[Piece] = field(default_factory=list)
    new_side: list[Piece] = field(default_factory=list)
    semantic: list[dict[str, Any]] = field(default_factory=list)
    # The reader view (tracker.text.reader): None when the section's text is not stored.
    reader: ReaderDiff | None = None
    reader_inline: Markup = Markup("")
    reader_old: Markup = Markup("")
    reader_new: Markup = Markup("")

    @property
    def moved_from(self) -> list[str] | None:
        """The former path, when it differs (renamed or moved)."""
        if self.old_path is not None and self.old_path != self.path:
            return self.old_path
        return None


def section_view(section: dict, old_content: str | None) -> SectionView:
    """The layout of one section entry; ``old_content`` is what its word operations index."""
    view = SectionView(
        id=str(section.get("id", "")),
        path=list(section.get("path") or []),
        old_path=section.get("old_path"),
        kinds=list(section.get("kinds") or []),
        words_added=int(section.get("words_added") or 0),
        words_removed=int(section.get("words_removed") or 0),
    )
    changes = section.get("changes") or []
    ops = [c for c in changes if c.get("type") in WORD_OPS]
    view.semantic = [semantic_line(c) for c in changes if c.get("type") not in WORD_OPS]
    if not ops:
        return view
    pieces = overlay(old_content or "", ops)
    if pieces is None:
        pieces = _with_context(ops)
    view.inline = _elide(pieces)
    # Each side keeps its own text; the equal runs on either side of a dropped piece join.
    view.old_side = _elide(
        _merge([p for p in pieces if p[0] in ("equal", "delete", "moved_delete", "elide")])
    )
    view.new_side = _elide(
        _merge([p for p in pieces if p[0] in ("equal", "insert", "moved_insert", "elide")])
    )
    return view


def overlay(old: str, ops: list[dict]) -> list[Piece] | None:
    """The old content with the operations laid over it, or None when they do not fit."""
    pieces = word_overlay(old, ops)
    return None if pieces is None else _merge(pieces)


def _with_context(ops: list[dict]) -> list[Piece]:
    pieces: list[Piece] = []
    for op in ops:
        if pieces:
            pieces.append(("elide", " … "))
        if op.get("before"):
            pieces.append(("equal", "…" + op["before"]))
        kind = {"move": "moved_insert"}.get(op["type"], op["type"])
        pieces.append((kind, str(op.get("text", ""))))
    return pieces


def semantic_line(change: dict) -> dict[str, Any]:
    """A semantic change as the template shows it: a label, words, an optional old -> new,
    and a link when the change names an http(s) URL."""
    kind = str(change.get("type", "change"))
    action = kind.rsplit("_", 1)[-1] if "_" in kind else kind
    line: dict[str, Any] = {
        "kind": kind,
        "label": kind.replace("_", " "),
        "text": "",
        "old": None,
        "new": None,
        "url": None,
        "fields": [],
    }
    if kind == "template_param":
        line.update(
            label=f"{{{{{change.get('template')}}}}} {change.get('param')}",
            old=_value(change.get("old")),
            new=_value(change.get("new")),
        )
    elif kind.startswith("template_"):
        line.update(label=f"template {action}", text=f"{{{{{change.get('template')}}}}}")
    elif kind.startswith("ref_"):
        line.update(
            label=f"reference {action}",
            text=change.get("title") or change.get("name") or change.get("url") or "(untitled)",
            url=safe_url(change.get("url")),
        )
        fields = change.get("fields") or {}
        line["fields"] = [
            (name, _value((v or {}).get("old")), _value((v or {}).get("new")))
            for name, v in sorted(fields.items())
            if isinstance(v, dict)
        ]
    elif kind.startswith("category_"):
        line.update(label=f"category {action}", text=change.get("category"))
    elif kind.startswith("link_"):
        line.update(label=f"link {action}", text=change.get("target"))
    elif kind == "defaultsort_changed":
        line.update(
            label="default sort key", old=_value(change.get("old")), new=_value(change.get("new"))
        )
    else:
        # Every other type (files, interwiki and language links, switches, heading levels)
        # as digests and the terminal say it.
        label, _sep, text = describe_change(change).partition(": ")
        line.update(label=label, text=text)
    if action == "moved":
        line["label"] = f"{line['label']} from {where(change.get('from_path'))}"
    return line


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 300 else text[:300] + "…"


def _merge(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for kind, text in pieces:
        if not text:
            continue
        if out and out[-1][0] == kind:
            out[-1] = (kind, out[-1][1] + text)
        else:
            out.append((kind, text))
    return out


def _elide(pieces: list[Piece]) -> list[Piece]:
    out: list[Piece] = []
    for n, (kind, text) in enumerate(pieces):
        if kind != "equal" or len(text) <= ELIDE_OVER:
            out.append((kind, text))
            continue
        # Keep the context next to a change; a run at the start or end keeps one side only.
        head = text[:KEEP] if n > 0 else ""
        tail = text[-KEEP:] if n < len(pieces) - 1 else ""
        hidden = len(text) - len(head) - len(tail)
        if head:
            out.append(("equal", head))
        out.append(("elide", f" … {hidden:,} unchanged characters … "))
        if tail:
            out.append(("equal", tail))
    return out


READER_CONTEXT = KEEP  # unchanged characters of reader text kept around a change


def with_reader(view: SectionView, diff: ReaderDiff) -> SectionView:
    """The section's reader diff laid out inline and side by side (escaped HTML)."""
    view.reader = diff
    # (A reader diff is remembered for its pair of texts: so is its HTML.)
    html = diff.rendered.get("web")
    if html is None:
        pieces = diff.pieces
        old = [p for p in pieces if p[0] in ("equal", "delete", "moved_delete")]
        new = [p for p in pieces if p[0] in ("equal", "insert", "moved_insert")]
        html = diff.rendered["web"] = tuple(
            Markup(pieces_html(part, READER_CONTEXT)) for part in (pieces, old, new)
        )
    view.reader_inline, view.reader_old, view.reader_new = html
    return view
