"""Comparing extractions: what changed in a section's templates, references, links, files
and interwiki links (`semantic_changes`), and in a page's categories, interlanguage links,
DEFAULTSORT and behaviour switches (`page_changes`), as the change records listed in
tracker/text/diff.py. DeepDiff does the comparing; only the paragraphs that changed are
read, each text once (cached: at ingest the new side of one pair is the old side of the
next).
"""

from __future__ import annotations

import inspect
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from deepdiff import DeepDiff
from deepdiff.model import TreeResult

from tracker.errors import Unreadable
from tracker.text.sections import Edit
from tracker.text.semantic.paragraphs import _blocks, _changed, _derive, _quiet_change
from tracker.text.semantic.read import (
    _DEFAULT_SITE,
    PAGE_KINDS,
    SECTION_KINDS,
    Change,
    _cache,
    _merge,
    extract,
)
from tracker.text.siteinfo import SiteInfo
from tracker.text.wikiparse import Budget, parse


def semantic_changes(
    old_text: str | None,
    new_text: str | None,
    edit: Edit | None = None,
    site: SiteInfo | None = None,
    page_facts: bool = True,
    budget: Budget | None = None,
) -> list[Change]:
    """What changed in templates, references, links, files, interwiki links and (unless
    `page_facts` is false) categories, interlanguage links, DEFAULTSORT and behaviour
    switches between two texts, read as `site` reads them (None: English Wikipedia).

    Only the paragraphs that differ are compared (and parsed): a link added to a paragraph
    is reported even if the page is linked elsewhere too; a paragraph that only moved
    brings no change. `edit`, if known: `new_text` is `old_text` with old_text[start:end]
    replaced by `new` (see tracker.text.sections.edits); it can spare all parsing. A diff of
    sections leaves page facts to `page_changes` (``page_facts=False``).

    If a changed paragraph cannot be read in bounded time and stack (markup nested too
    deep, too long, too many constructs that never close: tracker.text.wikiparse) or reading
    would spend more than is left of `budget` (None: a budget of its own; a diff shares
    one among its sections), the changes are one record saying so, and why::

        {"type": "semantics_skipped", "reason": str}
    """
    site = site or _DEFAULT_SITE
    budget = budget or Budget()
    try:
        return _semantic_changes(old_text, new_text, edit, site, page_facts, budget)
    except Unreadable as exc:
        return [skipped(exc.reason)]


def skipped(reason: str) -> Change:
    """The record of changes not read (see `semantic_changes`)."""
    return {"type": "semantics_skipped", "reason": reason}


def _semantic_changes(
    old_text: str | None,
    new_text: str | None,
    edit: Edit | None,
    site: SiteInfo,
    page_facts: bool,
    budget: Budget,
) -> list[Change]:
    if (
        old_text
        and new_text
        and edit is not None
        and _quiet_change(old_text, new_text, edit, site, budget)
    ):
        return []
    old_changed, new_changed = _changed(
        _blocks(old_text)[0] if old_text else (), _blocks(new_text)[0] if new_text else ()
    )
    if len(old_changed) == len(new_changed):
        # Paragraphs edited in place (the usual case, when `edit` did not say it all): the
        # n-th changed old one may be the n-th new one with plain words edited.
        cache = _cache(site)
        for old_block, new_block in zip(old_changed, new_changed, strict=True):
            if new_block not in cache:
                _derive(old_block, new_block, site, budget)
    old = _merge([extract(block, site, budget) for block in old_changed])
    new = _merge([extract(block, site, budget) for block in new_changed])
    if old == new:
        return []
    changes = _page_fact_changes(old, new, site) if page_facts else []
    # DeepDiff is thorough but slow on big dicts, and costs some 25 us a call even on empty
    # ones: hand it only the entries that differ, of the kinds that differ.
    old, new = _differing(old, new)
    _pair_unnamed_refs(old["refs"], new["refs"])
    changed_refs: dict[str, Change] = {}
    ref_texts: list[tuple[Change, str]] = []  # (ref added or removed, its text)
    for report, path, before, after in _differences(old, new):
        kind = path[0]
        added = report == "dictionary_item_added"
        removed = report == "dictionary_item_removed"
        how = "added" if added else "removed"
        record = after if added else before
        if kind == "templates" and len(path) == 2 and (added or removed):
            changes.append({"type": f"template_{how}", "template": record["@name"]})
        elif kind == "templates" and len(path) == 3 and path[2] != "@name":
            name = (new if path[1] in new["templates"] else old)["templates"][path[1]]["@name"]
            old_value, new_value = None if added else before, None if removed else after
            changes.append(
                {"type": "template_param", "template": name, "param": path[2],
                 "old": old_value, "new": new_value}
            )  # fmt: skip
        elif kind == "refs" and len(path) == 2 and (added or removed):
            changes.append({"type": f"ref_{how}", **_ref_names(record)})
            ref_texts.append((changes[-1], record["text"]))
        elif kind == "refs" and len(path) == 3:
            change = changed_refs.setdefault(
                path[1],
                {"type": "ref_changed", **_ref_names(new["refs"][path[1]]), "fields": {}},
            )
            change["fields"][path[2]] = {"old": _value(before), "new": _value(after)}
        elif len(path) == 2 and (added or removed):
            if kind == "links":
                changes.append({"type": f"link_{how}", "target": path[1]})
            elif kind == "files":
                changes.append({"type": f"file_{how}", "file": path[1]})
            elif kind == "interwiki":
                prefix, _colon, title = path[1].partition(":")
                changes.append({"type": f"interwiki_{how}", "prefix": prefix, "title": title})
    for change in changed_refs.values():
        if len(change["fields"]) > 1:
            change["fields"].pop("text", None)  # the title or URL says it; the words show it
        changes.append(change)
    if ref_texts:
        changes = _wrapped_templates(changes, ref_texts, site, budget)
    changes.sort(key=_order)
    return changes


def _page_fact_changes(old: dict[str, Any], new: dict[str, Any], site: SiteInfo) -> list[Change]:
    """Categories, interlanguage links, DEFAULTSORT and behaviour switches of two
    extractions compared (for a whole page, `page_changes`)."""
    changes: list[Change] = []
    a, b = old["categories"], new["categories"]
    if a != b:
        changes += [{"type": "category_added", "category": c} for c in b if c not in a]
        changes += [{"type": "category_removed", "category": c} for c in a if c not in b]
    a, b = old["interlanguage"], new["interlanguage"]
    if a != b:
        for lang, title in b.items():
            if a.get(lang) != title:
                changes.append({"type": "interlanguage_added", "lang": lang, "title": title})
        for lang, title in a.items():
            if b.get(lang) != title:
                changes.append({"type": "interlanguage_removed", "lang": lang, "title": title})
    a, b = old["defaultsort"], new["defaultsort"]
    if a != b:
        changes.append({"type": "defaultsort_changed", "old": a.get("key"), "new": b.get("key")})
    a, b = old["switches"], new["switches"]
    if a != b:
        for word in b.keys() - a.keys():
            changes.append({"type": "switch_added", "switch": site.switch_name(word)})
        for word in a.keys() - b.keys():
            changes.append({"type": "switch_removed", "switch": site.switch_name(word)})
    return changes


def page_changes(
    old_parts: Sequence[str],
    new_parts: Sequence[str],
    site: SiteInfo | None = None,
    whole: Callable[[], tuple[Sequence[str], Sequence[str]]] | None = None,
    budget: Budget | None = None,
) -> list[Change]:
    """What changed in a page's categories, interlanguage links, DEFAULTSORT and behaviour
    switches: facts of the whole page, wherever they are written. `old_parts`, `new_parts`:
    the page's texts in pieces (the contents of its sections); a fact that moved from one
    piece to another did not change. If they are only the pieces that changed, `whole()`
    gives all of each side's.

    Only the pieces and then the paragraphs that differ are read; the whole page only when
    those say that something may have changed (to be sure it is not written elsewhere too).
    What cannot be read gives one ``semantics_skipped`` record, as in `semantic_changes`.
    """
    site = site or _DEFAULT_SITE
    try:
        return _page_changes(old_parts, new_parts, site, whole, budget or Budget())
    except Unreadable as exc:
        return [skipped(exc.reason)]


def _page_changes(
    old_parts: Sequence[str],
    new_parts: Sequence[str],
    site: SiteInfo,
    whole: Callable[[], tuple[Sequence[str], Sequence[str]]] | None,
    budget: Budget,
) -> list[Change]:
    if len(old_parts) == len(new_parts) == 1:  # one section edited (the usual edit)
        if old_parts[0] == new_parts[0]:
            return []
        old_pieces, new_pieces = list(old_parts), list(new_parts)
    else:
        old_pieces, new_pieces = _changed(tuple(old_parts), tuple(new_parts))
    if not old_pieces and not new_pieces:
        return []
    if len(old_pieces) == len(new_pieces) == 1:  # the same paragraphs as semantic_changes'
        old_blocks, new_blocks = _changed(_blocks(old_pieces[0])[0], _blocks(new_pieces[0])[0])
    else:
        old_blocks, new_blocks = _changed(
            tuple(b for part in old_pieces for b in _blocks(part)[0]),
            tuple(b for part in new_pieces for b in _blocks(part)[0]),
        )
    old = _merge([extract(block, site, budget) for block in old_blocks])
    new = _merge([extract(block, site, budget) for block in new_blocks])
    if all(old[kind] == new[kind] for kind in PAGE_KINDS):
        return []
    if whole is not None:
        old_parts, new_parts = whole()
    old = _merge([extract(b, site, budget) for part in old_parts for b in _blocks(part)[0]])
    new = _merge([extract(b, site, budget) for part in new_parts for b in _blocks(part)[0]])
    changes = _page_fact_changes(old, new, site)
    changes.sort(key=_order)
    return changes


def _pair_unnamed_refs(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Give an edited reference without a name the key it had (so that it is changed, not
    removed and added): unnamed references only on one side each, paired by the similarity
    of their texts, then the rest in order if they are still somewhat alike."""
    gone = [k for k, ref in old.items() if ref["name"] is None and k not in new]
    came = [k for k, ref in new.items() if ref["name"] is None and k not in old]
    if not gone or not came:
        return
    words_old = [_words(old[a]["text"]) for a in gone]
    words_new = [_words(new[b]["text"]) for b in came]
    # Every pair, as long as they are few (the usual edit); thousands of references rewritten
    # at once compare each with the 40 around its place only (the pairs are as many as the
    # references, not their square).
    band = None if len(gone) * len(came) <= _REF_PAIRS else _REF_BAND
    scale = len(came) / len(gone)
    scores = []
    for i, x in enumerate(words_old):
        js = range(len(came))
        if band is not None:
            middle = int(i * scale)
            js = range(max(0, middle - band), min(len(came), middle + band + 1))
        for j in js:
            score = _similarity(x, words_new[j])
            if score >= _REF_SIMILAR:
                scores.append((score, -i, -j))
    scores.sort(reverse=True)
    pairs: dict[int, int] = {}
    paired: set[int] = set()
    for _score, minus_i, minus_j in scores:  # the best first; of equals, the first in order
        if -minus_i not in pairs and -minus_j not in paired:
            pairs[-minus_i] = -minus_j
            paired.add(-minus_j)
    rest_old = [i for i in range(len(gone)) if i not in pairs]
    rest_new = [j for j in range(len(came)) if j not in paired]
    if len(rest_old) == len(rest_new):  # the same number left: in order, if alike at all
        for i, j in zip(rest_old, rest_new, strict=True):
            if _similarity(words_old[i], words_new[j]) >= _REF_ALIKE:
                pairs[i] = j
    for i, j in pairs.items():
        new[gone[i]] = new.pop(came[j])


_REF_SIMILAR = 0.5  # two unnamed references this alike are one, edited
_REF_ALIKE = 0.25  # ...or this alike, in the same order among those left
_REF_PAIRS = 10_000  # up to this many pairs of changed references, all are compared
_REF_BAND = 20  # above: each with the 2 x 20 around its place in the other side's order


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORDS.findall(text.lower()))


def _similarity(x: frozenset[str], y: frozenset[str]) -> float:
    """Shared words over the words of the larger text (`_words`)."""
    if not x or not y:
        return 0.0
    return len(x & y) / max(len(x), len(y))


_WORDS = re.compile(r"\w+")


def _wrapped_templates(
    changes: list[Change],
    ref_texts: list[tuple[Change, str]],
    site: SiteInfo,
    budget: Budget | None = None,
) -> list[Change]:
    """A template that went into a new reference ({{cite book}} -> <ref>{{cite book}}</ref>)
    is the reference added, not the template removed; and out of a removed one, the
    reference removed."""
    inside: dict[str, Counter[str]] = {"ref_added": Counter(), "ref_removed": Counter()}
    for change, text in ref_texts:
        if "{{" in text:
            code = parse(text, budget)
            for template in code.filter_templates(recursive=False):
                name = str(template.name.strip_code(keep_template_params=False) or template.name)
                inside[change["type"]][site.template_name(name.strip())] += 1
    wrapped = {"template_removed": inside["ref_added"], "template_added": inside["ref_removed"]}
    kept = []
    for change in changes:
        names = wrapped.get(change["type"])
        if names and names[change["template"]] > 0:
            names[change["template"]] -= 1
            continue
        kept.append(change)
    return kept


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, list, Any, Any]]:
    """(report type, path, old value, new value) of each difference of `old` and `new` (two
    `_differing` extractions), in DeepDiff's terms and order.

    Entries on one side only are reported as DeepDiff would, without it: a section added or
    removed whole has hundreds of links and references, and DeepDiff makes an object for
    each (three quarters of a long history's semantic diffs). DeepDiff compares the entries
    on both sides, field by field.
    """
    found: list[tuple[str, list, Any, Any]] = []
    both_old: dict[str, Any] = {}
    both_new: dict[str, Any] = {}
    for kind in SECTION_KINDS:
        a, b = old[kind], new[kind]
        found += [("dictionary_item_added", [kind, k], None, v) for k, v in b.items() if k not in a]
        found += [
            ("dictionary_item_removed", [kind, k], v, None) for k, v in a.items() if k not in b
        ]
        both_old[kind] = {k: v for k, v in a.items() if k in b}
        both_new[kind] = {k: v for k, v in b.items() if k in a}
    for report, kind, levels in _deepdiff(both_old, both_new):
        found += [
            (report, [kind, *level.path(output_format="list")], level.t1, level.t2)
            for level in levels
        ]
    found.sort(key=lambda item: _REPORT_ORDER.get(item[0], len(_REPORT_ORDER)))  # stable
    return found


def _deepdiff(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """DeepDiff's tree of `old` against `new`: (report type, kind, levels) in its order.

    One DeepDiff per kind that differs: the same reports as one DeepDiff of the whole, in
    the same order (by report type, then kind), a level less deep and so faster.
    """
    found = []
    for kind in SECTION_KINDS:
        if old[kind] or new[kind]:
            # threshold_to_diff_deeper=0: report keys, never a whole dict as one changed value.
            tree = DeepDiff(old[kind], new[kind], view="tree", threshold_to_diff_deeper=0, **_QUICK)
            found += [(report, kind, levels) for report, levels in tree.items()]
    found.sort(key=lambda item: _REPORT_ORDER.get(item[0], len(_REPORT_ORDER)))  # stable
    return found


# DeepDiff 9 asks the OS for its CPU count on every call, for multiprocessing it does not do
# here: saying how many workers not to start spares that (a fifth of a small diff's time).
_QUICK: dict[str, Any] = (
    {"multiprocessing_workers": 1}
    if "multiprocessing_workers" in inspect.signature(DeepDiff.__init__).parameters
    else {}
)
# The order of report types in a DeepDiff tree (its TreeResult lists them all, then drops
# the empty ones).
_REPORT_ORDER = {report: n for n, report in enumerate(TreeResult())}


def _differing(old: dict[str, Any], new: dict[str, Any]) -> tuple[dict, dict]:
    slim_old: dict[str, Any] = {}
    slim_new: dict[str, Any] = {}
    for kind in SECTION_KINDS:
        a, b = old[kind], new[kind]
        slim_old[kind] = {k: v for k, v in a.items() if b.get(k, _MISSING) != v}
        slim_new[kind] = {k: v for k, v in b.items() if a.get(k, _MISSING) != v}
    return slim_old, slim_new


_MISSING = object()


# Every change type of tracker.text.semantic and tracker.text.diff, in the order they are listed.
_TYPES = """template_added template_removed template_moved template_param ref_added
    ref_removed ref_changed ref_moved category_added category_removed link_added link_removed
    link_moved file_added file_removed file_moved interwiki_added interwiki_removed
    interlanguage_added interlanguage_removed defaultsort_changed switch_added
    switch_removed semantics_skipped""".split()
# The change types of page facts (tracker.text.diff lists them for the page, not a section).
PAGE_TYPES = frozenset(
    """category_added category_removed interlanguage_added interlanguage_removed
    defaultsort_changed switch_added switch_removed""".split()
)


def _ref_names(record: dict[str, Any]) -> dict[str, Any]:
    return {"name": record["name"], "title": record["title"], "url": record["url"]}


def _value(value: Any) -> Any:
    return None if type(value).__name__ == "NotPresent" else value


def _order(change: Change) -> tuple[int, str]:
    detail = (
        change.get("template") or change.get("name") or change.get("category")
        or change.get("file") or change.get("prefix") or change.get("lang")
        or change.get("switch") or ""
    )  # fmt: skip
    detail += "\x00" + str(
        change.get("param") or change.get("url") or change.get("target") or change.get("title")
        or ""
    )  # fmt: skip
    return _TYPES.index(change["type"]), detail
