"""Reading a piece of wikitext into plain data: its templates, references, links, files,
interwiki links and page facts (`extract`), as a wiki reads them (a
`tracker.text.siteinfo.SiteInfo`).

What the tokenizer makes of a text does not depend on the wiki and is cached once; what its
links are is cached per wiki. A paragraph is tokenized whole (mwparserfromhell's C
tokenizer), but the nodes of each top-level construct are built (in Python, far slower)
once per distinct construct.
"""

from __future__ import annotations

import re
from collections.abc import Container
from itertools import chain, compress
from typing import Any

import mwparserfromhell
from mwparserfromhell.nodes import ExternalLink, Node, Tag, Template, Wikilink
from mwparserfromhell.parser import tokens as tk

from tracker.errors import Unreadable
from tracker.text.siteinfo import SiteInfo
from tracker.text.wikiparse import STEP as _STEP
from tracker.text.wikiparse import Budget, build, parse, tokenize

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

    Raises tracker.text.wikiparse.Unreadable for text the parser cannot read in bounded time and
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


# Texts refused for what they are (tracker.text.wikiparse.Unreadable's lasting reasons).
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
