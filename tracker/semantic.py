"""Wiki-semantic changes of a section: templates and their parameters, references,
categories and wikilinks.

`extract` reads a section's wikitext with mwparserfromhell into plain data; `semantic_changes`
compares two extractions with DeepDiff and says what changed, as the change records listed
in tracker/diff.py. Parsing costs about 0.3 ms per KB, so only sections that changed are
parsed, and each text once (an LRU cache: at ingest the new side of one pair is the old side
of the next).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any

import mwparserfromhell
from deepdiff import DeepDiff
from mwparserfromhell.nodes import ExternalLink, Tag, Template, Wikilink
from mwparserfromhell.wikicode import Wikicode

__all__ = ["blocks", "extract", "semantic_changes"]

Change = dict[str, Any]

_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
_REF_OPEN = re.compile(r"<ref(?:\s[^<>]*[^/<>]|\s*)>", re.I)
_REF_CLOSE = re.compile(r"</ref\s*>", re.I)
_CATEGORY = re.compile(r"^\s*category\s*:", re.I)
_MEDIA = re.compile(r"^\s*(?:file|image|media)\s*:", re.I)
_URL = re.compile(r"https?://[^\s|\]}<>\"']+|//[^\s|\]}<>\"']+", re.I)
_SPACES = re.compile(r"[\s_]+")


def _title(text: str) -> str:
    """A page title as MediaWiki normalizes it: spaces for underscores, first letter up."""
    text = _SPACES.sub(" ", text).strip().lstrip(":").strip()
    return text[:1].upper() + text[1:]


def _template_name(template: Template) -> str:
    name = _title(str(template.name.strip_code(keep_template_params=False) or template.name))
    if name.lower().startswith("template:"):
        name = _title(name[len("template:") :])
    return name


@lru_cache(maxsize=512)
def extract(text: str) -> dict[str, Any]:
    """The semantic content of a piece of wikitext, as plain data for DeepDiff.

    ``{"templates": {key: {param: value}}, "refs": {key: {"name", "title", "url", "text"}},
    "categories": {name: sort key}, "links": {target: True}}``. Templates are those outside
    other templates and references (an infobox, not the {{cite web}} in a <ref>), keyed by
    name (``name#2`` for a second one); references are keyed by their name, else their URL,
    else their text.
    """
    if "{" not in text and "[" not in text and "<" not in text:
        return _EMPTY  # plain text: nothing to parse
    code = mwparserfromhell.parse(text, skip_style_tags=True)
    templates: dict[str, dict[str, str]] = {}
    refs: dict[str, dict[str, str | None]] = {}
    seen: dict[str, int] = {}
    _walk(code, templates, refs, seen)
    categories: dict[str, str] = {}
    links: dict[str, bool] = {}
    for link in code.filter_wikilinks(recursive=True):
        target = str(link.title)
        if target.lstrip().startswith(":"):
            # [[:Category:X]], [[:File:Y]]: links to those pages, not a category or an image.
            links[_title(target.split("#", 1)[0])] = True
            continue
        if _CATEGORY.match(target):
            name = _title(target.split(":", 1)[1])
            categories[name] = str(link.text).strip() if link.text is not None else ""
        elif _MEDIA.match(target) is None and target.strip() and not target.startswith("#"):
            links[_title(target.split("#", 1)[0])] = True
    return {"templates": templates, "refs": refs, "categories": categories, "links": links}


def _walk(
    code: Wikicode,
    templates: dict[str, dict[str, str]],
    refs: dict[str, dict[str, str | None]],
    seen: dict[str, int],
) -> None:
    for node in code.nodes:
        if isinstance(node, Template):
            name = _template_name(node)
            if not name:
                continue
            seen[name] = seen.get(name, 0) + 1
            key = name if seen[name] == 1 else f"{name}#{seen[name]}"
            params = {str(p.name).strip(): str(p.value).strip() for p in node.params}
            templates[key] = {"@name": name, **params}
            for param in node.params:
                _walk_refs(param.value, refs)  # a reference inside an infobox field
        elif isinstance(node, Tag):
            if str(node.tag).strip().lower() == "ref":
                _add_ref(node, refs)
            elif node.contents is not None:
                _walk(node.contents, templates, refs, seen)
        elif isinstance(node, Wikilink) and node.text is not None:
            _walk(node.text, templates, refs, seen)  # templates in an image caption


def _walk_refs(code: Wikicode, refs: dict[str, dict[str, str | None]]) -> None:
    for tag in code.filter_tags(recursive=True, matches=lambda t: str(t.tag).lower() == "ref"):
        _add_ref(tag, refs)


def _add_ref(tag: Tag, refs: dict[str, dict[str, str | None]]) -> None:
    name = None
    for attribute in tag.attributes:
        if str(attribute.name).strip().lower() == "name" and attribute.value is not None:
            name = str(attribute.value).strip()
    contents = tag.contents
    text = str(contents).strip() if contents is not None else ""
    if not text:
        return  # <ref name="x" /> reuses a reference defined elsewhere
    title = url = None
    for template in contents.filter_templates(recursive=True):
        for param in template.params:
            key = str(param.name).strip().lower()
            if key == "title" and title is None:
                title = str(param.value.strip_code()).strip() or None
            elif key in ("url", "archive-url") and url is None:
                url = str(param.value).strip() or None
    if url is None:
        for link in contents.filter(recursive=True, forcetype=ExternalLink):
            url = str(link.url).strip()
            if title is None and link.title is not None:
                title = str(link.title.strip_code()).strip() or None
            break
    if url is None:
        match = _URL.search(text)
        url = match.group(0) if match else None
    if title is None:
        # A plain-text reference: its text is the best title a reader gets.
        plain = contents.strip_code().strip()
        title = plain[:200] or None
    key = name or url or text
    if key in refs:
        key = f"{key}#{sum(1 for k in refs if k == key or k.startswith(key + '#')) + 1}"
    refs[key] = {"name": name, "title": title, "url": url, "text": text}


def blocks(text: str) -> list[str]:
    """Paragraphs (split at blank lines) that keep templates, tables, references whole."""
    out: list[str] = []
    pending: list[str] = []
    depth = 0
    for piece in _BLANK_LINES.split(text):
        pending.append(piece)
        depth += (
            piece.count("{{")
            - piece.count("}}")
            + piece.count("{|")
            - piece.count("|}")
            + piece.count("<!--")
            - piece.count("-->")
            + len(_REF_OPEN.findall(piece))
            - len(_REF_CLOSE.findall(piece))
        )
        if depth <= 0:
            out.append("\n\n".join(pending))
            pending = []
            depth = 0
    if pending:
        out.append("\n\n".join(pending))
    return out


def semantic_changes(old_text: str | None, new_text: str | None) -> list[Change]:
    """What changed in templates, references, categories and links between two texts.

    Only the paragraphs that differ are compared (and parsed): a link added to a paragraph
    is reported even if the page is linked elsewhere too; a paragraph that only moved
    brings no change.
    """
    old_blocks = blocks(old_text) if old_text else []
    new_blocks = blocks(new_text) if new_text else []
    common = Counter(old_blocks) & Counter(new_blocks)
    old_changed = list((Counter(old_blocks) - common).elements())
    new_changed = list((Counter(new_blocks) - common).elements())
    old = _merge([extract(block) for block in old_changed])
    new = _merge([extract(block) for block in new_changed])
    if old == new:
        return []
    # DeepDiff is thorough but slow on big dicts: hand it only the entries that differ.
    old, new = _differing(old, new)
    # threshold_to_diff_deeper=0: report keys, never a whole dict as one changed value.
    tree = DeepDiff(old, new, view="tree", threshold_to_diff_deeper=0)
    changes: list[Change] = []
    changed_refs: dict[str, Change] = {}
    for report, levels in tree.items():
        for level in levels:
            path = level.path(output_format="list")
            kind = path[0]
            added = report == "dictionary_item_added"
            removed = report == "dictionary_item_removed"
            if kind == "templates":
                key = path[1]
                if len(path) == 2 and (added or removed):
                    record = level.t2 if added else level.t1
                    changes.append(
                        {
                            "type": "template_added" if added else "template_removed",
                            "template": record["@name"],
                        }
                    )
                elif len(path) == 3 and path[2] != "@name":
                    name = (new if key in new["templates"] else old)["templates"][key]["@name"]
                    changes.append(
                        {
                            "type": "template_param",
                            "template": name,
                            "param": path[2],
                            "old": None if added else level.t1,
                            "new": None if removed else level.t2,
                        }
                    )
            elif kind == "refs":
                key = path[1]
                if len(path) == 2 and (added or removed):
                    record = level.t2 if added else level.t1
                    changes.append(
                        {
                            "type": "ref_added" if added else "ref_removed",
                            "name": record["name"],
                            "title": record["title"],
                            "url": record["url"],
                        }
                    )
                elif len(path) == 3:
                    record = new["refs"][key]
                    change = changed_refs.setdefault(
                        key,
                        {
                            "type": "ref_changed",
                            "name": record["name"],
                            "title": record["title"],
                            "url": record["url"],
                            "fields": {},
                        },
                    )
                    change["fields"][path[2]] = {"old": _value(level.t1), "new": _value(level.t2)}
            elif kind == "categories" and len(path) == 2 and (added or removed):
                changes.append(
                    {"type": "category_added" if added else "category_removed", "category": path[1]}
                )
            elif kind == "links" and len(path) == 2 and (added or removed):
                changes.append(
                    {"type": "link_added" if added else "link_removed", "target": path[1]}
                )
    for change in changed_refs.values():
        if len(change["fields"]) > 1:
            change["fields"].pop("text", None)  # the title or URL says it; the words show it
        changes.append(change)
    changes.sort(key=_order)
    return changes


def _differing(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict, dict]:
    slim_old: dict[str, Any] = {}
    slim_new: dict[str, Any] = {}
    for kind in old:
        a, b = old[kind], new[kind]
        slim_old[kind] = {k: v for k, v in a.items() if b.get(k, _MISSING) != v}
        slim_new[kind] = {k: v for k, v in b.items() if a.get(k, _MISSING) != v}
    return slim_old, slim_new


_MISSING = object()


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One extraction from several paragraphs' (each parsed once, then cached)."""
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, Any] = {"templates": {}, "refs": {}, "categories": {}, "links": {}}
    seen: dict[str, int] = {}
    for part in parts:
        for params in part["templates"].values():
            name = params["@name"]
            seen[name] = seen.get(name, 0) + 1
            merged["templates"][name if seen[name] == 1 else f"{name}#{seen[name]}"] = params
        for key, ref in part["refs"].items():
            while key in merged["refs"]:
                key += "#"
            merged["refs"][key] = ref
        merged["categories"].update(part["categories"])
        merged["links"].update(part["links"])
    return merged


_EMPTY: dict[str, Any] = {"templates": {}, "refs": {}, "categories": {}, "links": {}}
_TYPES = [
    "template_added",
    "template_removed",
    "template_param",
    "ref_added",
    "ref_removed",
    "ref_changed",
    "category_added",
    "category_removed",
    "link_added",
    "link_removed",
]


def _value(value: Any) -> Any:
    return None if type(value).__name__ == "NotPresent" else value


def _order(change: Change) -> tuple[int, str]:
    detail = change.get("template") or change.get("name") or change.get("category") or ""
    detail += "\x00" + str(change.get("param") or change.get("url") or change.get("target") or "")
    return _TYPES.index(change["type"]), detail
