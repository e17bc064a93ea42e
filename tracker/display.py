"""How a change record is told to a reader, once for every output: the terminal
(`tracker diff`), digests (text, Markdown, HTML, chat) and the web UI.

Plain text only: each output escapes it for its own format.
"""

from __future__ import annotations

from typing import Any

__all__ = ["describe_change", "where"]


def _clip(value: Any, limit: int = 160) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def where(path: list[str] | tuple[str, ...] | None) -> str:
    """A section by its heading path, as a change names it ("History › Early", "the lead")."""
    return " › ".join(path) if path else "the lead"


def describe_change(change: dict[str, Any]) -> str:
    """A change record (tracker/diff.py's, but for word operations) as a reader would say
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
