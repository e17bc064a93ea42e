"""Section-level diff of two revisions: which section became which, and what changed inside.

`diff_texts(old, new)` splits both texts (tracker.text.sections), relates each new section to at
most one old section (lineage), and describes every section of both revisions once, in the
"sections" array of the diff JSON contract (README), and the page's own facts in its
"page" array (`TextDiff.page_changes`). A section's ``kinds`` are:

- ``added`` / ``removed``: no counterpart on the other side;
- ``renamed``: its heading, as a reader sees it, changed;
- ``moved``: its place in the outline changed: another parent, or another order among
  the siblings it kept (decided by a longest increasing subsequence, so that only the
  sections that really moved are marked). A heading level change alone (``====`` to
  ``===`` under the same parent) is not a move: it shows as a ``heading_level`` change;
- ``edited``: its own content changed (the text under its heading, up to the next heading,
  without the blank lines around it); a change in a subsection is the subsection's.

Renamed, moved and edited combine; ``[]`` means unchanged.

Lineage (tracker.text.lineage): the lead matches the lead, then sections pair by heading path,
by heading, by content similarity (which finds renamed sections) and last by place in the
outline. A section split in two keeps its id in the part that keeps the heading (or the most
text), the other part is added; of two merged into one, the one matched keeps its id, the
other is removed.

``changes`` of a section, in this order:

Word-level operations on the section's content (offsets into the old content, see
tracker.text.worddiff); an added section has one insert of its whole content, a removed one
delete of it::

    {"type": "insert", "at": int, "text": str, "before": str}
    {"type": "delete", "at": int, "text": str, "before": str}
    {"type": "move", "from": int, "at": int, "text": str}   # sentence/paragraph moved

The heading's markup level, when it changed (with or without a move)::

    {"type": "heading_level", "old": int, "new": int}

Wiki-semantic changes (tracker.text.semantic, read as the wiki reads them: `site`, a
tracker.text.siteinfo.SiteInfo; not computed for a page's first revision)::

    {"type": "template_added" | "template_removed", "template": str}
    {"type": "template_param", "template": str, "param": str, "old": str|None, "new": str|None}
    {"type": "ref_added" | "ref_removed", "name": str|None, "title": str|None, "url": str|None}
    {"type": "ref_changed", "name", "title", "url",   # as it is now
     "fields": {"title"|"url"|"name"|"text": {"old": ..., "new": ...}}}
    {"type": "link_added" | "link_removed", "target": str}
    {"type": "file_added" | "file_removed", "file": str}
    {"type": "interwiki_added" | "interwiki_removed", "prefix": str, "title": str}

Text the diff does not read in bounded time and stack (markup nested deeper than 32 levels
or more than 32 constructs open at once, a paragraph over 2 MiB, constructs that never close
by the thousand: tracker.text.wikiparse), or more markup to read than one diff reads
(tracker.text.wikiparse.Budget, shared by its sections):
the section keeps its word-level operations and, instead of its wiki-semantic changes, has
one record saying why (in ``page_changes`` too, when the page's facts could not be
compared)::

    {"type": "semantics_skipped", "reason": str}

A word diff that would take too long (megabytes of text without a word in common) is
coarser: stretches are replaced whole (the operations still rebuild the new content), and
the section says so after its word-level operations::

    {"type": "words_coarsened", "reason": str}

A link, reference, template or file removed from one section and added to another moved:
one record in the section it went to, with where it came from (that section's id and path)::

    {"type": "link_moved" | "ref_moved" | "template_moved" | "file_moved",
     ...the fields of its "_added" record, "from": str, "from_path": [str, ...]}

Page facts are compared for the whole page, wherever they are written (a category block
that went to another section did not change), and listed in ``page_changes``::

    {"type": "category_added" | "category_removed", "category": str}
    {"type": "interlanguage_added" | "interlanguage_removed", "lang": str, "title": str}
    {"type": "defaultsort_changed", "old": str|None, "new": str|None}
    {"type": "switch_added" | "switch_removed", "switch": str}

``words_added`` and ``words_removed`` count word tokens (letters and digits, not spaces or
punctuation) in inserted and deleted text; moved text counts as neither.
"""

from __future__ import annotations

import operator
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress, count
from typing import Any

from tracker.text import display
from tracker.text.display import describe_change, section_label
from tracker.text.lineage import content, match_sections, moved_sections
from tracker.text.sections import Edit, Section, common_ends, split, split_edited
from tracker.text.semantic import page_changes, semantic_changes
from tracker.text.siteinfo import SiteInfo
from tracker.text.textcache import TextCache
from tracker.text.wikiparse import Budget
from tracker.text.worddiff import count_section_words, count_words, word_counts, word_diff

__all__ = ["TextDiff", "content", "diff_texts", "match_sections", "render_text"]

_TEXT = operator.attrgetter("text")
KIND_ORDER = ("added", "removed", "renamed", "moved", "edited")


@dataclass
class TextDiff:
    """The section-level diff of two wikitexts."""

    sections: list[dict[str, Any]]  # the contract's "sections" array
    new_ids: list[str]  # the stable id of each section of split(new_text), in order
    page_changes: list[dict[str, Any]] = field(default_factory=list)  # the contract's "page"

    @property
    def changed(self) -> bool:
        """Whether any section was added, removed, renamed, moved or edited."""
        return any(entry["kinds"] for entry in self.sections) or bool(self.page_changes)


def diff_texts(
    old_text: str | None,
    new_text: str,
    old_ids: Sequence[str] | None = None,
    id_prefix: str = "",
    site: SiteInfo | None = None,
    *,
    new_ids: Sequence[str] | None = None,
    detail: bool = True,
) -> TextDiff:
    """Diff two revisions' wikitext section by section.

    `old_ids[i]` is the stable id of old section i; a new section matched to it inherits
    it, an unmatched one gets f"{id_prefix}{j}" (j: its index in the new text). Without
    `old_ids` the old sections are called "o0", "o1"... `old_text` None is a first
    revision: every section is added. `site`: the wiki the texts are from (its namespaces,
    interwiki prefixes, extension tags, magic words); None is English Wikipedia.
    `new_ids`: stable ids the new sections are known to have (stored lineage, for a
    far-apart pair): a new section with the id of an old one is that section, whatever
    happened in between.
    `detail` False: only what the store keeps of a diff (ids, paths, kinds, word counts;
    tracker.store.diffs); ``changes`` stay empty and ``page_changes`` too. The same ids,
    kinds and counts, in about two thirds of the time (ingest).
    """
    site = site or SiteInfo.default()
    budget = Budget() if detail else None  # what reading markup may cost, for all the sections
    if old_text is None:
        new = split(new_text, site=site)
        ids = [f"{id_prefix}{j}" for j in range(len(new))]
        return TextDiff([_added(s, ids[s.index], False, site, detail=detail) for s in new], ids)
    # Most new sections are the old ones; of some edited ones, the split says where.
    old, new, new_edits = split_edited(old_text, new_text, site=site)
    if old_ids is None:
        old_ids = [f"o{i}" for i in range(len(old))]
    elif len(old_ids) != len(old):
        raise ValueError(f"{len(old_ids)} old ids given for {len(old)} old sections")
    known = None
    if new_ids is not None and len(new_ids) == len(new):
        where = {sid: i for i, sid in enumerate(old_ids)}
        known = {j: where[sid] for j, sid in enumerate(new_ids) if sid in where}
    if not known and _kept_outline(old, new):
        # The usual edit: the split kept every section but the one edited, in its place.
        match, new_ids, moved = {j: j for j in range(len(new))}, list(old_ids), set()
    else:
        match = match_sections(old, new, known)
        if len(match) == len(old) == len(new) and all(map(operator.eq, match, match.values())):
            new_ids = list(old_ids)  # the same outline: section j is section j
        else:
            new_ids = [old_ids[match[j]] if j in match else f"{id_prefix}{j}"
                       for j in range(len(new))]  # fmt: skip
        moved = moved_sections(old, new, match, old_ids, new_ids)

    # New order; each removed section right after the new place of its old predecessor.
    removed_after: dict[int, list[int]] = {}
    if len(match) < len(old):
        matched_old = {i: j for j, i in match.items()}
        anchor = 0
        for i in range(len(old)):
            if i in matched_old:
                anchor = matched_old[i]
            else:
                removed_after.setdefault(anchor, []).append(i)
    entries = []
    gone: list[str] = []  # the contents that changed (for page facts)
    came: list[str] = []
    for j, section in enumerate(new):
        matched = match.get(j)
        if matched is None:
            entries.append(_added(section, new_ids[j], True, site, budget, detail))
            came.append(content(section))
        elif old[i := matched] is section:
            entries.append(_unchanged(section, section, new_ids[j], j in moved))  # the most
        else:
            # An edit tracker.text.sections saw, if it is of the old section this one is matched to.
            found = new_edits.get(j)
            edit = found[1] if found is not None and found[0] == i else None
            if edit is None and not detail:
                edit = _texts_edit(old_text, new_text, old, i, new, j)
            entries.append(
                _pair(old[i], section, new_ids[j], j in moved, edit, site, budget, detail)
            )
            if "edited" in entries[-1]["kinds"]:
                gone.append(content(old[i]))
                came.append(content(section))
        if removed_after:
            for i in removed_after.get(j, ()):
                entries.append(_removed(old[i], old_ids[i], site, budget, detail))
                gone.append(content(old[i]))
    page: list[dict[str, Any]] = []
    if detail and (gone or came):
        # Page facts (categories...) of the whole page: a category block that went to
        # another section is not removed and added.
        page = page_changes(
            gone, came, site, lambda: (list(map(content, old)), list(map(content, new))), budget
        )
        if sum(1 for entry in entries if entry["changes"]) > 1:
            _moves(entries)  # (one section edited: nothing moved between sections)
    return TextDiff(entries, new_ids, page)


# ---- moves between sections --------------------------------------------------------------

# What names a link, reference, template or file in its records.
_MOVABLE = {"link": ("target",), "ref": ("name", "title", "url"), "template": ("template",),
            "file": ("file",)}  # fmt: skip


def _moves(entries: list[dict[str, Any]]) -> None:
    """A link, reference, template or file removed from one section and added to another
    moved: one ``X_moved`` record in the section it went to, saying where it came from
    (``from``: that section's id, ``from_path``: its path), instead of the two."""
    # What names it -> {the section it was removed from: its records there, in order}: the
    # first not taken of another section is where one that was added came from. (Sections
    # in order; emptied ones dropped: thousands of links moved at once cost no more.)
    removed: dict[tuple, dict[int, deque[dict[str, Any]]]] = defaultdict(dict)
    for n, entry in enumerate(entries):
        for change in entry["changes"]:
            kind, _sep, how = change["type"].rpartition("_")
            if how == "removed" and kind in _MOVABLE:
                key = (kind, *(change[f] for f in _MOVABLE[kind]))
                removed[key].setdefault(n, deque()).append(change)
    if not removed:
        return
    taken: set[int] = set()  # id() of the removed records that moved
    for n, entry in enumerate(entries):
        changes = entry["changes"]
        for k, change in enumerate(changes):
            kind, _sep, how = change["type"].rpartition("_")
            if how != "added" or kind not in _MOVABLE:
                continue
            sources = removed.get((kind, *(change[f] for f in _MOVABLE[kind])))
            source = _take(sources, n) if sources else None
            if source is None:
                continue
            taken.add(id(source[1]))
            came_from = entries[source[0]]
            changes[k] = {**change, "type": f"{kind}_moved", "from": came_from["id"],
                          "from_path": list(came_from["path"])}  # fmt: skip
    if taken:
        for entry in entries:
            entry["changes"] = [c for c in entry["changes"] if id(c) not in taken]


def _take(sources: dict[int, deque[dict[str, Any]]], n: int) -> tuple[int, dict] | None:
    """The first record of `sources` (section -> its records, none empty) not in section
    `n`, taken out: the first or the second section looked at."""
    for m, records in sources.items():
        if m != n:
            record = records.popleft()
            if not records:
                del sources[m]  # (and no more iterating)
            return m, record
    return None


# ---- entries -----------------------------------------------------------------------------


def _pair(
    old: Section,
    new: Section,
    section_id: str,
    moved: bool,
    edit: Edit | None = None,
    site: SiteInfo | None = None,
    budget: Budget | None = None,
    detail: bool = True,
) -> dict[str, Any]:
    if (
        old.text == new.text
        and old.body_start == new.body_start
        and old.heading == new.heading
        and old.level == new.level
    ):
        return _unchanged(old, new, section_id, moved)
    kinds = []
    if new.index and old.heading != new.heading:
        kinds.append("renamed")
    if moved:
        kinds.append("moved")
    changes: list[dict[str, Any]] = []
    if detail and old.level != new.level:
        changes.append({"type": "heading_level", "old": old.level, "new": new.level})
    added = removed = 0
    old_content, new_content = content(old), content(new)
    if old_content != new_content:
        kinds.append("edited")
        edit = _content_edit(old, new, edit, old_content, new_content, not detail)  # if known
        if not detail:
            added, removed = _word_counts(old_content, new_content, edit)
        else:
            coarse: list[str] = []
            ops = word_diff(old_content, new_content, edit, coarse=coarse)
            added, removed = _counts(ops)
            changes.extend(ops)
            if coarse:
                changes.append({"type": "words_coarsened", "reason": coarse[0]})
            changes.extend(semantic_changes(
                old_content, new_content, edit, site, page_facts=False, budget=budget
            ))  # fmt: skip
    return {
        "id": section_id,
        "path": list(new.path),
        "old_path": list(old.path),
        "kinds": kinds,
        "words_added": added,
        "words_removed": removed,
        "changes": changes,
    }


def _counts(ops: list[dict[str, Any]]) -> tuple[int, int]:
    """The words a word diff's operations insert and delete (moved words are neither)."""
    added = removed = 0
    for op in ops:
        if op["type"] == "insert":
            added += count_words(op["text"])
        elif op["type"] == "delete":
            removed += count_words(op["text"])
    return added, removed


# The word counts of section pairs diffed lately, by the two contents: an edit war or a
# vandal coming back makes the same pair again and again (a quarter of the pairs of a real
# 2001-2010 history, two fifths of its word-diff time). Bounded by the characters it holds.
_COUNTS: TextCache[tuple[int, int]] = TextCache(4_000_000, largest_share=8)


def _word_counts(old: str, new: str, edit: Edit | None) -> tuple[int, int]:
    """`_counts` of the word diff of two contents (the edit, a hint, changes nothing)."""
    key = (old, new)
    found = _COUNTS.get(key)
    if found is None:
        found = word_counts(old, new, edit)
        _COUNTS.put(key, found, len(old) + len(new))
    return found


def _unchanged(old: Section, new: Section, section_id: str, moved: bool) -> dict[str, Any]:
    # Most sections are untouched (mostly the same object: tracker.text.sections keeps what an
    # edit left alone): no change but maybe a move.
    return {
        "id": section_id,
        "path": list(new.path),
        "old_path": list(old.path),
        "kinds": ["moved"] if moved else [],
        "words_added": 0,
        "words_removed": 0,
        "changes": [],
    }


def _kept_outline(old: list[Section], new: list[Section]) -> bool:
    """Whether the new sections are the old ones (the same objects: tracker.text.sections keeps
    what an edit left alone) but at most one, with the same path and parent: then each is
    matched to the old one in its place, and none moved (as tracker.text.lineage finds)."""
    if len(old) != len(new):
        return False
    changed = list(compress(count(), map(operator.is_not, old, new)))
    if len(changed) > 1:
        return False
    return not changed or (
        old[changed[0]].path == new[changed[0]].path
        and old[changed[0]].parent == new[changed[0]].parent
    )


def _texts_edit(
    old_text: str, new_text: str, old: list[Section], i: int, new: list[Section], j: int
) -> Edit | None:
    """The edit of old section i's text that makes new section j's, if the one stretch where
    the two revisions differ (their common start and end) is in both, at the same place."""
    prefix, same = common_ends(old_text, new_text)
    same = min(same, len(old_text) - prefix, len(new_text) - prefix)
    at = sum(map(len, map(_TEXT, old[:i])))
    if prefix < at or at != sum(map(len, map(_TEXT, new[:j]))):
        return None
    start, end = prefix - at, len(old_text) - same - at
    added = new_text[prefix : len(new_text) - same]
    if end > len(old[i].text) or len(new[j].text) != len(old[i].text) - (end - start) + len(added):
        return None  # (the stretch is not all in them)
    return start, end, added


def _content_edit(
    old: Section,
    new: Section,
    edit: Edit | None,
    old_content: str,
    new_content: str,
    clip: bool = False,
) -> Edit | None:
    """The edit of a section's text (tracker.text.sections.edits) as one of its content, if it is
    strictly inside it (so the blank space stripped around the content is the same).

    `clip`: else, the edit clipped to the content (a line added at its end, the usual
    edit of a category block), if the new content has the old one's text around it: a
    hint for the word diff (tracker.text.semantic wants the edit as made)."""
    if edit is None or old.body_start != new.body_start:
        return None
    start, end, added = edit
    at = old.body_start  # where the content starts: after the blank space strip() took
    while old.text[at : at + 1].isspace():
        at += 1
    size = len(old_content)
    if at < start <= end < at + size:
        if len(new_content) != size - (end - start) + len(added):
            return None  # the new section is not the old one with this edit (ends elsewhere)
        return start - at, end - at, added
    if not clip:
        return None
    first, last = min(max(start - at, 0), size), min(max(end - at, 0), size)
    kept = size - last  # (the old content's end after the edit)
    if (
        len(new_content) < first + kept
        or not new_content.startswith(old_content[:first])
        or not new_content.endswith(old_content[last:])
    ):
        return None
    return first, last, new_content[first : len(new_content) - kept]


def _added(
    section: Section,
    section_id: str,
    semantic: bool,
    site: SiteInfo | None = None,
    budget: Budget | None = None,
    detail: bool = True,
) -> dict[str, Any]:
    text = content(section)
    changes: list[dict[str, Any]] = word_diff("", text) if detail else []
    if semantic and detail:
        changes.extend(semantic_changes(None, text, site=site, page_facts=False, budget=budget))
    return {
        "id": section_id,
        "path": list(section.path),
        "old_path": None,
        "kinds": ["added"],
        "words_added": count_section_words(text),
        "words_removed": 0,
        "changes": changes,
    }


def _removed(
    section: Section,
    section_id: str,
    site: SiteInfo | None = None,
    budget: Budget | None = None,
    detail: bool = True,
) -> dict[str, Any]:
    text = content(section)
    changes: list[dict[str, Any]] = []
    if detail:
        changes = word_diff(text, "")
        changes.extend(semantic_changes(text, None, site=site, page_facts=False, budget=budget))
    return {
        "id": section_id,
        "path": list(section.path),
        "old_path": list(section.path),
        "kinds": ["removed"],
        "words_added": 0,
        "words_removed": count_section_words(text),
        "changes": changes,
    }


# ---- terminal output ---------------------------------------------------------------------


def render_text(diff_json: dict[str, Any], color: bool = False) -> str:
    """A diff (the JSON contract, or any dict with "sections") as text for a terminal.

    Insertions read ``{+like this+}`` and deletions ``[-like this-]``, in colour or not;
    with `color`, headings are bold, insertions green, deletions red too.
    """

    def paint(text: str, *styles: str) -> str:
        return display.paint(text, *styles, color=color)

    def ins(text: str) -> str:
        return display.inserted(text, color)

    def dele(text: str) -> str:
        return display.deleted(text, color)

    lines = []
    if "title" in diff_json:
        lines.append(paint(str(diff_json["title"]), "bold"))
    for side in ("from", "to"):
        rev = diff_json.get(side)
        if rev:
            who = " ".join(str(rev[k]) for k in ("timestamp", "user") if rev.get(k))
            lines.append(f"{side:>4}: r{rev.get('revid')}" + (f" ({who})" if who else ""))
    if diff_json.get("revert_of"):
        lines.append(paint(f"reverts to r{diff_json['revert_of']}", "yellow"))
    page = diff_json.get("page") or []
    if page:
        lines.append("")
        label = paint("[categories, language links...]", "cyan")
        lines.append(paint("page", "bold") + "  " + label)
        lines.extend("    " + paint("• ", "yellow") + _semantic_line(change) for change in page)
    unchanged = 0
    for entry in diff_json.get("sections", []):
        if not entry["kinds"]:
            unchanged += 1
            continue
        lines.append("")
        lines.append(_header(entry, paint))
        lines.extend("    " + line for line in _change_lines(entry["changes"], ins, dele, paint))
    if unchanged:
        lines.append("")
        lines.append(paint(f"{unchanged} section{'s' if unchanged != 1 else ''} unchanged", "dim"))
    return "\n".join(lines) + "\n"


def _header(entry: dict[str, Any], paint) -> str:
    title = section_label(entry["path"])
    labels = [k for k in KIND_ORDER if k in entry["kinds"]]
    out = paint(title, "bold") + "  " + " ".join(paint(f"[{k}]", "cyan") for k in labels)
    old_path = entry.get("old_path")
    if old_path is not None and old_path != entry["path"]:
        out += "  " + paint("was: " + section_label(old_path), "dim")
    counts = f"+{entry['words_added']} -{entry['words_removed']} words"
    return out + "  " + paint(counts, "dim")


def _short(text: str, limit: int = 400) -> str:
    text = text.replace("\n", "⏎ ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _change_lines(changes: list[dict[str, Any]], ins, dele, paint) -> list[str]:
    lines = []
    k = 0
    while k < len(changes):
        change = changes[k]
        kind = change["type"]
        if kind in ("insert", "delete"):
            before = change.get("before", "")
            text = dele(_short(change["text"])) if kind == "delete" else ins(_short(change["text"]))
            nxt = changes[k + 1] if k + 1 < len(changes) else None
            if kind == "delete" and nxt and nxt["type"] == "insert" and nxt["at"] == change["at"]:
                text += ins(_short(nxt["text"]))
                k += 1
            lines.append(("…" + before if before else "") + text)
        elif kind == "move":
            lines.append(paint("moved: ", "yellow") + _short(change["text"], 200))
        else:
            lines.append(paint("• ", "yellow") + _semantic_line(change))
        k += 1
    return lines


def _semantic_line(change: dict[str, Any]) -> str:
    kind = change["type"]
    if kind == "template_param":
        return (
            f"{{{{{change['template']}}}}} {change['param']}: "
            f"{change['old'] if change['old'] is not None else '(none)'} → "
            f"{change['new'] if change['new'] is not None else '(none)'}"
        )
    if kind in ("template_added", "template_removed"):
        return f"template {kind.split('_')[1]}: {{{{{change['template']}}}}}"
    if kind in ("ref_added", "ref_removed", "ref_changed"):
        what = change.get("title") or change.get("name") or "(untitled)"
        url = f" <{change['url']}>" if change.get("url") else ""
        fields = ""
        if kind == "ref_changed":
            fields = " (" + ", ".join(sorted(change.get("fields", {}))) + ")"
        return f"reference {kind.split('_')[1]}: {what}{url}{fields}"
    if kind in ("link_added", "link_removed"):
        return f"link {kind.split('_')[1]}: [[{change['target']}]]"
    return _short(describe_change(change), 400)  # every other type, as digests say it
