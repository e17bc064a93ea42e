"""Wiki-semantic changes of a section: templates and their parameters, references,
wikilinks, files and interwiki links; and of a page: categories, interlanguage links,
DEFAULTSORT and behaviour switches (`page_changes`).

What a link is depends on the wiki (``[[Kategorie:X]]``, ``[[nl:Hallo]]``, a case-sensitive
``[[hallo]]``): every function takes a `tracker.siteinfo.SiteInfo` (None: English
Wikipedia's). What the tokenizer makes of a text does not depend on the wiki and is cached
once; what its links are is cached per wiki.

`extract` reads a section's wikitext with mwparserfromhell into plain data; `semantic_changes`
compares two extractions with DeepDiff and says what changed, as the change records listed
in tracker/diff.py. Only the paragraphs that changed are read, each text once (cached: at
ingest the new side of one pair is the old side of the next). Fast, with the same results:
a paragraph is tokenized whole (mwparserfromhell's C tokenizer), but the nodes of each
top-level construct are built (in Python, far slower) once per distinct construct; an edit
of plain words in plain text keeps the paragraph's extraction (`_plain_edit`), and one that
adds or removes simple [[links]] there changes just those (`_link_edit`): no reading at all.
"""

from __future__ import annotations

import bisect
import inspect
import operator
import re
from collections import Counter
from collections.abc import Callable, Container, Sequence
from functools import lru_cache
from itertools import chain, compress
from typing import Any

import mwparserfromhell
from deepdiff import DeepDiff
from deepdiff.model import TreeResult
from mwparserfromhell.nodes import ExternalLink, Node, Tag, Template, Wikilink
from mwparserfromhell.parser import tokens as tk

from tracker.sections import Edit, _common_prefix, _common_suffix
from tracker.siteinfo import SiteInfo
from tracker.wikiparse import STEP as _STEP
from tracker.wikiparse import Budget, Unreadable, build, parse, tokenize

__all__ = ["PAGE_TYPES", "blocks", "extract", "page_changes", "semantic_changes", "skipped"]

Change = dict[str, Any]
# What one construct contributes, in document order, as written (what it means on a wiki is
# read in _assemble): ("template", name, params), ("ref", name, title, url, text),
# ("wikilink", target, text or None), ("gallery", file name), ("switch", "__WORD__").
Item = tuple[Any, ...]
# The kinds of an extraction: those of a section, then those of the whole page.
SECTION_KINDS = ("templates", "refs", "links", "files", "interwiki")
PAGE_KINDS = ("categories", "interlanguage", "defaultsort", "switches")

_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
_REF_OPEN = re.compile(r"<ref(?:\s[^<>]*[^/<>]|\s*)>", re.I)
_REF_CLOSE = re.compile(r"</ref\s*>", re.I)
_URL = re.compile(r"https?://[^\s|\]}<>\"']+|//[^\s|\]}<>\"']+", re.I)
# A behaviour switch as written (MediaWiki's MagicWordArray: "__" word "__"), and what
# hides one (comments, tags whose content is not wikitext).
_SWITCH = re.compile(r"__[^\W_]+(?:_[^\W_]+)*__")
_NOT_WIKITEXT = re.compile(
    r"<!--.*?(?:-->|$)|<(nowiki|pre|syntaxhighlight|source|math)\b[^>]*>.*?(?:</\1\s*>|$)",
    re.I | re.S,
)
_DEFAULT_SITE = SiteInfo.default()


def extract(
    text: str, site: SiteInfo | None = None, budget: Budget | None = None
) -> dict[str, Any]:
    """The semantic content of a piece of wikitext on a wiki, as plain data for DeepDiff.

    ``{"templates": {key: {param: value}}, "refs": {key: {"name", "title", "url", "text"}},
    "links": {title: True}, "files": {file name: True}, "interwiki": {"prefix:title": True},
    "categories": {name: sort key}, "interlanguage": {lang: title},
    "defaultsort": {"key": sort key} or {}, "switches": {magic word id: True}}``. Templates
    are those outside other templates and references (an infobox, not the {{cite web}} in a
    <ref>), keyed by name (``name#2`` for a second one); references are keyed by their name,
    else their URL, else their text. Titles are normalized as the wiki does (its namespace
    names, its case rules); a category's or file's name is without its namespace.

    Raises tracker.wikiparse.Unreadable for text the parser cannot read in bounded time and
    stack (markup nested too deep...), or when `budget` (None: one of its own) is spent.
    """
    site = site or _DEFAULT_SITE
    done = _cache(site).get(text)
    if done is None:
        done = _remember(text, _tokenized(text, site, budget), site)
    return done[0]


# A paragraph's top-level texts (start, end, whether right after a free link, before one),
# whether its tokenizer never gave up on a construct, and its top-level constructs (start,
# end, items); or _PLAIN, for text that cannot hold a construct. What tells what an edit
# does to the extraction (_plain_edit, _link_edit).
_Shape = tuple[
    tuple[tuple[int, int, bool, bool], ...], bool, tuple[tuple[int, int, list[Item]], ...]
]
_PLAIN: _Shape = ((), True, ())
# Paragraph -> (its extraction, its shape or None), one dict per wiki (by SiteInfo.key;
# _EXTRACTED is the default wiki's). A dict, not an LRU: entries are made from others too
# (_quiet_change). Ingest reads each paragraph once new and once old.
_EXTRACTED: dict[str, tuple[dict[str, Any], _Shape | None]] = {}
_BY_SITE: dict[str, dict[str, tuple[dict[str, Any], _Shape | None]]] = {
    _DEFAULT_SITE.key: _EXTRACTED
}


def _cache(site: SiteInfo) -> dict[str, tuple[dict[str, Any], _Shape | None]]:
    if site is _DEFAULT_SITE:
        return _EXTRACTED
    found = _BY_SITE.get(site.key)
    if found is None:
        if len(_BY_SITE) >= 16:
            for key in [k for k in _BY_SITE if k != _DEFAULT_SITE.key]:
                _BY_SITE.pop(key, None)
        found = _BY_SITE[site.key] = {}
    return found


def _remember(text: str, done: tuple[dict[str, Any], _Shape | None], site: SiteInfo) -> tuple:
    cache = _cache(site)
    if len(cache) >= 4096:
        cache.clear()  # simpler than an LRU, and safe across threads
    cache[text] = done
    return done


def _tokenized(
    text: str, site: SiteInfo | None = None, budget: Budget | None = None
) -> tuple[dict[str, Any], _Shape | None]:
    site = site or _DEFAULT_SITE
    if "{" not in text and "[" not in text and "<" not in text and "__" not in text:
        return _EMPTY, _PLAIN  # plain text: nothing to parse
    refused = _UNREADABLE.get(text)
    if refused is not None:
        raise Unreadable(refused)
    try:
        return _read(text, site, budget or Budget())
    except Unreadable as exc:
        if exc.lasting:  # the text's own: refused again without reading
            if len(_UNREADABLE) >= 256:
                _UNREADABLE.clear()
            _UNREADABLE[text] = exc.reason
        raise


# Texts refused for what they are (tracker.wikiparse.Unreadable's lasting reasons).
_UNREADABLE: dict[str, str] = {}


def _read(text: str, site: SiteInfo, budget: Budget) -> tuple[dict[str, Any], _Shape | None]:
    if "\n" in text and not any(map(text.__contains__, "{}<>")):
        by_lines = _by_lines(text, site, budget)
        if by_lines is not None:
            return by_lines
    tokens = tokenize(text, budget)  # as mwparserfromhell.parse(skip_style_tags), bounded
    types = list(map(type, tokens))
    items: list[Item] = []
    spans: list[list] = []  # [start, end, after a free link, before one] of top-level texts
    constructs: list[tuple[int, int, list[Item]]] = []
    free = False  # the last top-level node was a free link
    depth = end = pos = 0
    quiet = True
    # Only the tokens that open or close a node matter here: visit those alone.
    for k in compress(range(len(types) + 1), chain(map(_STEP.__contains__, types), [True])):
        if not depth:
            # Between top-level nodes there is only text (as the builder requires).
            if types[end:k].count(tk.Text) != k - end or (k < len(types) and _STEP[types[k]] < 0):
                return _extract_parsed(text, site, budget, tokens), None
            for token in tokens[end:k]:
                spans.append([pos, pos + len(token["text"]), free, False])
                pos += len(token["text"])
                quiet = quiet and not _LOUD.search(token["text"])
                free = False
            if k == len(types):
                break
            begin = k
        elif k == len(types):
            break  # a node never closed: below
        depth += _STEP[types[k]]
        if not depth:  # one top-level node: tokens[begin : k + 1]
            end = k + 1
            run = tokens[begin:end]
            key = (tuple(types[begin:end]), tuple(map(tuple, map(dict.items, run))))
            found = _CONSTRUCTS.get(key)
            if found is None:
                quiet_run = _quiet_tokens(run)
                code = build(run)  # (which empties `run`)
                if len(_CONSTRUCTS) >= 4096:
                    _CONSTRUCTS.clear()  # simpler than an LRU, and safe across threads
                found = _CONSTRUCTS[key] = (
                    [i for node in code.nodes for i in _items(node, set(key[0]), budget)],
                    len(str(code)),
                    quiet_run,
                )
            items += found[0]
            constructs.append((pos, pos + found[1], found[0]))
            pos += found[1]
            quiet = quiet and found[2]
            free = types[begin] is tk.ExternalLinkOpen and not tokens[begin].get("brackets")
            if free and spans and spans[-1][1] == pos - found[1]:
                spans[-1][3] = True
    if depth:
        return _extract_parsed(text, site, budget, tokens), None
    shape = tuple(map(tuple, spans)), quiet, tuple(constructs)
    if "__" in text:
        items += _switch_items(text)
    return _assemble(items, site), (shape if pos == len(text) else None)


def _switch_items(text: str) -> list[Item]:
    """The behaviour switches written in a text (what they are is the wiki's to say)."""
    return [("switch", word) for word in _SWITCH.findall(_NOT_WIKITEXT.sub(" ", text))]


def _by_lines(
    text: str, site: SiteInfo | None = None, budget: Budget | None = None
) -> tuple[dict[str, Any], None] | None:
    """The extraction of a paragraph of lines (a list) from its lines', if each line's
    tokenizer made every construct it tried: then none reads on into the next line (no
    template, tag or comment: no "{" or "<" at all). Each line is read once (cached): an
    edited list is read again in its edited lines only.
    """
    site = site or _DEFAULT_SITE
    cache = _cache(site)
    parts = []
    for line in text.split("\n"):
        extraction, shape = cache.get(line) or _remember(line, _tokenized(line, site, budget), site)
        if shape is None or not shape[1]:
            return None
        parts.append(extraction)
    return _merge(parts), None


# A construct's tokens -> (its items, the length of its text, whether _quiet_tokens).
_CONSTRUCTS: dict[tuple, tuple[list[Item], int, bool]] = {}

# The characters that start a construct where text is (so: in text, one that failed), in a
# link target (where ":" is plain) and in a URL (where ":" and "=" are).
_LOUD = re.compile(r"[{\[<&=:]")
_LOUD_TARGET = re.compile(r"[{\[<&=]")
_LOUD_URL = re.compile(r"[{\[<&]")
_INSIDE = {tk.WikilinkOpen: _LOUD_TARGET, tk.ExternalLinkOpen: _LOUD_URL, tk.CommentStart: None}


def _quiet_tokens(run: list) -> bool:
    """Whether the tokenizer made every construct it tried in these tokens.

    A construct it gave up on leaves its opening characters in text; but a ":" that was not
    a free link can end a definition list's term instead: no definition lists.
    """
    where: list[re.Pattern[str] | None] = []  # what is loud inside each open node
    for token in run:
        kind = type(token)
        if kind is tk.Text:
            loud = where[-1] if where else _LOUD
            if loud is not None and loud.search(token["text"]):
                return False
        elif _STEP.get(kind) == 1:
            if kind is tk.TagOpenOpen and token.get("wiki_markup") in (";", ":"):
                return False
            where.append(_INSIDE.get(kind, _LOUD))
        elif _STEP.get(kind) == -1:
            where.pop()
        elif kind is tk.WikilinkSeparator or kind is tk.ExternalLinkSeparator:
            where[-1] = _LOUD  # a label: text again
    return True


def _extract_parsed(
    text: str,
    site: SiteInfo | None = None,
    budget: Budget | None = None,
    tokens: list[tk.Token] | None = None,
) -> dict[str, Any]:
    """`extract` from a full parse (of `text`'s `tokens`, if at hand): the reference the
    construct-by-construct way matches."""
    code = parse(text, budget) if tokens is None else build(tokens)
    items = [item for node in code.nodes for item in _items(node, budget=budget)]
    if "__" in text:
        items += _switch_items(text)
    return _assemble(items, site or _DEFAULT_SITE)


class _Every:
    def __contains__(self, _kind: object) -> bool:
        return True


def _items(
    node: Node, present: Container[type] = _Every(), budget: Budget | None = None
) -> list[Item]:
    """What one top-level node contributes: templates and references, then links.

    `present`: the kinds of tokens it was built from, if known. No search for what is not
    there: mwparserfromhell's recursive filters are most of the time this takes.
    """
    items: list[Item] = []
    _walk(node, items, present, budget)
    if tk.WikilinkOpen not in present:
        return items
    for link in mwparserfromhell.wikicode.Wikicode([node]).filter_wikilinks(recursive=True):
        text = str(link.text).strip() if link.text is not None else None
        items.append(("wikilink", str(link.title), text))
    return items


def _walk(
    node: Node, items: list[Item], present: Container[type], budget: Budget | None = None
) -> None:
    if isinstance(node, Template):
        name = str(node.name.strip_code(keep_template_params=False) or node.name).strip()
        if not name.strip(" _:"):
            return
        items.append(
            ("template", name, {str(p.name).strip(): str(p.value).strip() for p in node.params})
        )
        if tk.TagOpenOpen not in present:
            return
        for param in node.params:  # a reference inside an infobox field
            for tag in param.value.filter_tags(
                recursive=True, matches=lambda t: str(t.tag).lower() == "ref"
            ):
                _add_ref(tag, items, present)
    elif isinstance(node, Tag):
        tag_name = str(node.tag).strip().lower()
        if tag_name == "ref":
            _add_ref(node, items, present)
        elif tag_name == "gallery" and node.contents is not None:
            _gallery(str(node.contents), items, budget)
        elif node.contents is not None:
            for child in node.contents.nodes:
                _walk(child, items, present, budget)
    elif isinstance(node, Wikilink) and node.text is not None:
        for child in node.text.nodes:  # templates in an image caption
            _walk(child, items, present, budget)


def _gallery(text: str, items: list[Item], budget: Budget | None = None) -> None:
    """A <gallery>'s files and what its captions hold (mwparserfromhell leaves its content
    unparsed): one file a line, ``File:Name.jpg|caption``, the namespace optional."""
    for line in text.split("\n"):
        name, _bar, caption = line.partition("|")
        if not name.strip():
            continue
        items.append(("gallery", name.strip()))
        if caption.strip():
            code = parse(caption, budget)
            items += [item for node in code.nodes for item in _items(node, budget=budget)]


def _add_ref(tag: Tag, items: list[Item], present: Container[type]) -> None:
    name = None
    for attribute in tag.attributes:
        if str(attribute.name).strip().lower() == "name" and attribute.value is not None:
            name = str(attribute.value).strip()
    contents = tag.contents
    text = str(contents).strip() if contents is not None else ""
    if not text:
        return  # <ref name="x" /> reuses a reference defined elsewhere
    title = url = None
    templates = contents.filter_templates(recursive=True) if tk.TemplateOpen in present else ()
    for template in templates:
        for param in template.params:
            key = str(param.name).strip().lower()
            if key == "title" and title is None:
                title = str(param.value.strip_code()).strip() or None
            elif key in ("url", "archive-url") and url is None:
                url = str(param.value).strip() or None
    if url is None and tk.ExternalLinkOpen in present:
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
    items.append(("ref", name, title, url, text))


def _assemble(items: list[Item], site: SiteInfo) -> dict[str, Any]:
    """The extraction from the items of a text's constructs, in document order: what they
    are on `site` (MediaWiki's Parser::handleInternalLinks2)."""
    templates: dict[str, dict[str, str]] = {}
    refs: dict[str, dict[str, str | None]] = {}
    links: dict[str, bool] = {}
    files: dict[str, bool] = {}
    interwiki: dict[str, bool] = {}
    categories: dict[str, str] = {}
    interlanguage: dict[str, str] = {}
    defaultsort: dict[str, str] = {}
    switches: dict[str, bool] = {}
    seen: dict[str, int] = {}
    numbered: dict[str, int] = {}  # the last number given to a reference key used again
    for item in items:
        kind = item[0]
        if kind == "wikilink":
            target = item[1]
            if not target.strip() or target.startswith("#"):
                continue  # a link to a section of this page
            found = site.link_target(target)
            how = found.kind
            if how == "link":
                if found.full:
                    links[found.full] = True
            elif how == "category":
                categories[found.title] = item[2] if item[2] is not None else ""
            elif how == "file" or how == "media":
                files[found.title] = True
            elif how == "interlanguage":
                interlanguage.setdefault(found.prefix, found.title)  # the first counts
            else:
                interwiki[found.full] = True
        elif kind == "template":
            raw = item[1]
            head, colon, rest = raw.partition(":")
            if colon and site.is_defaultsort(head):
                defaultsort = {"key": rest.strip()}  # the last one counts
                continue
            name = site.template_name(raw)
            seen[name] = seen.get(name, 0) + 1
            key = name if seen[name] == 1 else f"{name}#{seen[name]}"
            templates[key] = {"@name": name, **item[2]}
        elif kind == "ref":
            _kind, name, title, url, text = item
            refs[_free_key(refs, name or url or text, numbered)] = {
                "name": name, "title": title, "url": url, "text": text}  # fmt: skip
        elif kind == "gallery":
            found = site.link_target(item[1])
            title = found.title if found.kind in ("file", "media") else None
            if found.kind == "link" and found.namespace == 0:
                title = site.normalize(found.title, 6)  # a gallery's default namespace
            if title:
                files[title] = True
        elif kind == "switch":
            switch = site.switch(item[1])
            if switch is not None:
                switches[switch] = True
    return {
        "templates": templates, "refs": refs, "links": links, "files": files,
        "interwiki": interwiki, "categories": categories, "interlanguage": interlanguage,
        "defaultsort": defaultsort, "switches": switches,
    }  # fmt: skip


def _free_key(refs: dict[str, Any], key: str, numbered: dict[str, int]) -> str:
    """`key`, or for a key used before, the next free "key#2", "key#3"... (`numbered`: the
    last number given to each key, so that 16,000 identical references cost no more than
    16,000 different ones)."""
    if key not in refs:
        return key
    n = numbered.get(key, 1)
    while True:
        n += 1
        numbered_key = f"{key}#{n}"
        if numbered_key not in refs:
            numbered[key] = n
            return numbered_key


def blocks(text: str) -> list[str]:
    """Paragraphs (split at blank lines) that keep templates, tables, references whole."""
    return list(_blocks(text)[0])


# Text -> (its paragraphs, where each starts and ends in it). A dict, not an LRU: entries
# are made from others too (_quiet_change).
_BLOCKS: dict[str, tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]] = {}


def _blocks(text: str) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    done = _BLOCKS.get(text)
    if done is None:
        done = _paragraphs(text)
        if len(_BLOCKS) >= 2048:
            _BLOCKS.clear()  # simpler than an LRU, and safe across threads
        _BLOCKS[text] = done
    return done


def _paragraphs(text: str) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...]]:
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pending: list[str] = []
    depth = pos = first = 0
    for blank in chain(_BLANK_LINES.finditer(text), [None]):
        end = blank.start() if blank else len(text)
        piece = text[pos:end]
        if not pending:
            first = pos
        pending.append(piece)
        # Each counted string has a brace or an angle bracket: most paragraphs have neither.
        if "{" in piece or "}" in piece or "<" in piece or ">" in piece:
            depth += _depth(piece)
        if depth <= 0 or blank is None:
            out.append("\n\n".join(pending))
            starts.append(first)
            ends.append(end)
            pending = []
            depth = 0
        pos = blank.end() if blank else len(text)
    return tuple(out), tuple(starts), tuple(ends)


@lru_cache(maxsize=4096)
def _depth(piece: str) -> int:
    # Cached: most pieces are the same from revision to revision (hashing one is faster).
    depth = piece.count("{{") - piece.count("}}") + piece.count("{|") - piece.count("|}")
    depth += piece.count("<!--") - piece.count("-->")
    lowered = piece.lower()
    if "<ref" in lowered or "</ref" in lowered:
        depth += len(_REF_OPEN.findall(piece)) - len(_REF_CLOSE.findall(piece))
    return depth


def _changed(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The paragraphs of each side that the other lacks (a multiset difference)."""
    global _LAST_CHANGED
    last = _LAST_CHANGED
    if last[0] is old and last[1] is new:
        return last[2]  # a section's, asked again for the page's facts (page_changes)
    old_set, new_set = set(old), set(new)
    if len(old_set) == len(old) and len(new_set) == len(new):
        # No paragraph twice (the usual case): the same as below, in the same order.
        found = [b for b in old if b not in new_set], [b for b in new if b not in old_set]
    else:
        common = Counter(old) & Counter(new)
        found = list((Counter(old) - common).elements()), list((Counter(new) - common).elements())
    _LAST_CHANGED = (old, new, found)  # one tuple: safe across threads
    return found


_LAST_CHANGED: tuple = (None, None, None)


# ---- an edit of plain words --------------------------------------------------------------

# The tokenizer's markers: any other character is text wherever text is. And "_", which
# can make a behaviour switch ("__NOTOC__").
_MARKERS = re.compile(r"[{}\[\]<>|=&'#*;:/\-!\n\x00_]")
_MARKER_CHARS = frozenset("{}[]<>|=&'#*;:/-!\n\x00_")


def _plain_edit(block: str, shape: _Shape | None, p: int, end: int, added: str) -> _Shape | None:
    """The shape of `block` with block[p:end] replaced by `added`, if its tokens are the same
    but for one top-level text (so its extraction is the same); else None.

    Sure of a one-line paragraph whose tokenizer made every construct it tried (none it gave
    up on read past its end, into the edit), edited inside a top-level text without markers:
    plain characters start no construct, and only a free link reads them (its scheme back to
    a non-word character, its trailing punctuation on to a space). Text without "{", "[" or
    "<" has no construct at all. And the text around the edit must not join into a token
    ("}" "}", "-" "->": blocks() counts them). tests/test_semantic.py checks many edits.
    """
    removed = block[p:end]
    if shape is None:
        return None
    if (not removed or not added) and {block[p - 1 : p], block[end : end + 1]} <= _MARKER_CHARS:
        return None
    if not p and (added + block[end : end + 1])[:1] in _MARKER_CHARS:
        return None  # the line now starts with "*", "#", ";"... a list item, say
    if shape is _PLAIN:
        plain = not _NOT_PLAIN.search(removed) and not _NOT_PLAIN.search(added)
        return _PLAIN if plain else None
    if not shape[1] or "\n" in block or _MARKERS.search(removed) or _MARKERS.search(added):
        return None
    if "__" in block:
        return None  # letters edited between "__"s may make a behaviour switch
    spans = shape[0]
    # The first text that holds the edit: the first ending at or after it, if it starts by p
    # (texts are in order).
    k = bisect.bisect_left(spans, end, key=_END)
    if k == len(spans) or spans[k][0] > p:
        return None
    a, b, after_free, before_free = spans[k]
    if after_free and " " not in block[a:p]:
        return None  # maybe still a free link's trailing punctuation
    if (end == b and before_free) or (a == p and b == end and not added):
        return None  # a free link's scheme reads back to a non-word character; or no text
    delta = len(added) - len(removed)
    moved = (*spans[:k], (a, b + delta, after_free, before_free))
    texts = (*moved, *((x + delta, y + delta, f, g) for x, y, f, g in spans[k + 1 :]))
    return texts, True, _moved(shape[2], b, delta)


def _moved(
    constructs: tuple[tuple[int, int, list[Item]], ...], at: int, delta: int
) -> tuple[tuple[int, int, list[Item]], ...]:
    """The constructs, those from `at` on moved by `delta`."""
    if not delta:
        return constructs
    c = bisect.bisect_left(constructs, at, key=_START)
    return (*constructs[:c], *((x + delta, y + delta, i) for x, y, i in constructs[c:]))


_START = operator.itemgetter(0)
# A link the tokenizer reads as one wherever text is: letters, digits and spaces.
_SIMPLE_LINK = re.compile(r"\[\[([^\W_][^\W_ ]*(?: [^\W_]+)*)\]\]")


def _link_edit(
    block: str,
    done: tuple[dict[str, Any], _Shape | None],
    p: int,
    end: int,
    added: str,
    site: SiteInfo | None = None,
) -> tuple[dict[str, Any], _Shape] | None:
    """The extraction and shape of `block` (`done`: its own) with block[p:end] replaced by
    `added`, if that adds or removes simple [[links]] amid plain words; else None.

    As _plain_edit, but the edit may hold whole links (and the old text's constructs it
    covers must be such links): the tokens are the same, but for those links and the texts
    around them. Every text must stay (constructs never meet where they did not).
    """
    extraction, shape = done
    if shape is None or shape is _PLAIN or not shape[1] or "\n" in block or "__" in block:
        return None
    if not p and (added + block[end : end + 1])[:1] in _MARKER_CHARS:
        return None  # the line now starts with "*", "[["...: as in _plain_edit
    removed = block[p:end]
    pieces = _SIMPLE_LINK.split(added)  # text, link title, text, ...
    if _MARKERS.search(_SIMPLE_LINK.sub("", removed)) or any(map(_MARKERS.search, pieces[::2])):
        return None
    spans, _quiet, constructs = shape
    k1 = bisect.bisect_left(spans, p, key=_END)  # the texts the edit starts and ends in
    k2 = bisect.bisect_left(spans, end, key=_END)
    if k2 == len(spans) or spans[k1][0] > p or spans[k2][0] > end:
        return None
    first, last = spans[k1], spans[k2]
    if first[2] and " " not in block[first[0] : p]:
        return None  # maybe still a free link's trailing punctuation
    if end == last[1] and last[3]:
        return None  # a free link's scheme reads back to a non-word character
    c1 = bisect.bisect_left(constructs, first[1], key=_START)
    c2 = bisect.bisect_left(constructs, last[0], key=_START)
    if any(not _SIMPLE_LINK.fullmatch(block, x, y) for x, y, _i in constructs[c1:c2]):
        return None  # it takes away another construct
    head, tail = block[first[0] : p], block[end : last[1]]
    texts = [head + pieces[0], *pieces[2:-1:2], pieces[-1] + tail] if len(pieces) > 1 else []
    texts = texts or [head + added + tail]
    if not all(texts):
        return None
    if not any(map((block[:p] + added + block[end:]).__contains__, "{[<")):
        return _EMPTY, _PLAIN  # as _tokenized says of it
    new_spans, new_constructs = list(spans[:k1]), list(constructs[:c1])
    at = first[0]
    for n, text in enumerate(texts):
        if n:
            title = pieces[2 * n - 1]
            new_constructs.append((at, at + len(title) + 4, [("wikilink", title, None)]))
            at += len(title) + 4
        after = first[2] if n == 0 else False
        before = last[3] if n == len(texts) - 1 else False
        new_spans.append((at, at + len(text), after, before))
        at += len(text)
    delta = len(added) - len(removed)
    new_spans += ((x + delta, y + delta, f, g) for x, y, f, g in spans[k2 + 1 :])
    new_constructs += _moved(constructs[c2:], last[1], delta)
    # Only links change: as _assemble would make them (the first of each), the rest kept.
    site = site or _DEFAULT_SITE
    links = {}
    for _x, _y, found in new_constructs:
        for item in found:
            if item[0] == "wikilink" and item[1].strip() and not item[1].startswith("#"):
                target = site.link_target(item[1])
                if target.kind == "link" and target.full:
                    links[target.full] = True
    extraction = {**extraction, "links": links}
    return extraction, (tuple(new_spans), True, tuple(new_constructs))


_END = operator.itemgetter(1)
# What a paragraph without a construct must not get in an edit (and blocks() counts).
_NOT_PLAIN = re.compile(r"[{}\[\]<>|\-\n_]")


def _quiet_change(
    old_text: str, new_text: str, edit: Edit, site: SiteInfo, budget: Budget | None = None
) -> bool:
    """Whether `new_text`, `old_text` with `edit`, has plain words edited in one paragraph:
    then its extraction is the same, and so is every paragraph's (no change).

    Both are remembered for `new_text` (the old text of the next pair at ingest); so is the
    new paragraph's extraction if the edit added or removed links there (`_link_edit`).
    """
    paragraphs, starts, ends = _blocks(old_text)
    p, end, added = edit
    k = bisect.bisect_right(starts, p) - 1
    if k < 0 or end > ends[k] or ends[k] - starts[k] != len(paragraphs[k]):
        return False  # not in one paragraph, or in one joined from several (not one line)
    block, at = paragraphs[k], starts[k]
    done = _cache(site).get(block) or _remember(block, _tokenized(block, site, budget), site)
    shape = _plain_edit(block, done[1], p - at, end - at, added)
    found = None
    if shape is not None:
        found = done[0], shape
    elif "[[" in added or "[[" in block[p - at : end - at]:
        found = _link_edit(block, done, p - at, end - at, added, site)  # (a changed extraction)
    if shape is None and found is None:
        return False
    delta = len(new_text) - len(old_text)
    new_block = new_text[at : ends[k] + delta]
    _remember(new_block, found, site)
    _BLOCKS[new_text] = (
        (*paragraphs[:k], new_block, *paragraphs[k + 1 :]),
        (*starts[: k + 1], *(x + delta for x in starts[k + 1 :])),
        (*ends[:k], *(x + delta for x in ends[k:])),
    )
    return shape is not None


def _derive(old_block: str, new_block: str, site: SiteInfo, budget: Budget | None = None) -> None:
    """Remember the extraction of `new_block` without reading it if `_plain_edit` or
    `_link_edit` says what the one edit between the two (their common start and end kept)
    makes of `old_block`'s."""
    done = _cache(site).get(old_block) or _remember(
        old_block, _tokenized(old_block, site, budget), site
    )
    p = _common_prefix(old_block, new_block, 0)
    s = _common_suffix(old_block, new_block, min(len(old_block), len(new_block)) - p)
    added = new_block[p : len(new_block) - s]
    shape = _plain_edit(old_block, done[1], p, len(old_block) - s, added)
    if shape is not None:
        _remember(new_block, (done[0], shape), site)
    elif "[[" in added or "[[" in old_block[p : len(old_block) - s]:
        found = _link_edit(old_block, done, p, len(old_block) - s, added, site)
        if found is not None:
            _remember(new_block, found, site)


# ---- changes ---------------------------------------------------------------------------


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
    replaced by `new` (see tracker.sections.edits); it can spare all parsing. A diff of
    sections leaves page facts to `page_changes` (``page_facts=False``).

    If a changed paragraph cannot be read in bounded time and stack (markup nested too
    deep, too long, too many constructs that never close: tracker.wikiparse) or reading
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
    for report, kind, levels in _deepdiff(old, new):
        added = report == "dictionary_item_added"
        removed = report == "dictionary_item_removed"
        how = "added" if added else "removed"
        for level in levels:
            path = [kind, *level.path(output_format="list")]
            record = level.t2 if added else level.t1
            if kind == "templates" and len(path) == 2 and (added or removed):
                changes.append({"type": f"template_{how}", "template": record["@name"]})
            elif kind == "templates" and len(path) == 3 and path[2] != "@name":
                name = (new if path[1] in new["templates"] else old)["templates"][path[1]]["@name"]
                old_value, new_value = None if added else level.t1, None if removed else level.t2
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
                change["fields"][path[2]] = {"old": _value(level.t1), "new": _value(level.t2)}
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
_QUICK = (
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


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One extraction from several paragraphs' (each parsed once, then cached), as
    _assemble would make it of their items."""
    if len(parts) == 1:
        return parts[0]
    merged: dict[str, Any] = {kind: {} for kind in _EMPTY}
    seen: dict[str, int] = {}
    numbered: dict[str, int] = {}
    for part in parts:
        for params in part["templates"].values():
            name = params["@name"]
            seen[name] = seen.get(name, 0) + 1
            merged["templates"][name if seen[name] == 1 else f"{name}#{seen[name]}"] = params
        refs = merged["refs"]
        for ref in part["refs"].values():
            # Keyed as _assemble keys the references of all parts in order.
            refs[_free_key(refs, ref["name"] or ref["url"] or ref["text"], numbered)] = ref
        for kind in ("links", "files", "interwiki", "categories", "switches"):
            if part[kind]:
                merged[kind].update(part[kind])
        for lang, title in part["interlanguage"].items():
            merged["interlanguage"].setdefault(lang, title)  # the first counts
        if part["defaultsort"]:
            merged["defaultsort"] = part["defaultsort"]  # the last counts
    return merged


_EMPTY: dict[str, Any] = {kind: {} for kind in (*SECTION_KINDS, *PAGE_KINDS)}
# Every change type of tracker.semantic and tracker.diff, in the order they are listed.
_TYPES = """template_added template_removed template_moved template_param ref_added
    ref_removed ref_changed ref_moved category_added category_removed link_added link_removed
    link_moved file_added file_removed file_moved interwiki_added interwiki_removed
    interlanguage_added interlanguage_removed defaultsort_changed switch_added
    switch_removed semantics_skipped""".split()
# The change types of page facts (tracker.diff lists them for the page, not a section).
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
