"""What wikitext means on one wiki: its namespaces, interwiki prefixes, extension tags and
magic words (pure data, no I/O).

A ``[[link]]`` is a category, a file, an interlanguage link or an ordinary link depending
on the wiki: ``[[Kategorie:X]]`` is a category on a German wiki, ``[[nl:Hallo]]`` an
interlanguage link where ``nl`` is an interwiki prefix and a language code, and
``[[hallo]]`` stays ``hallo`` on a wiki whose main namespace is case-sensitive (Wiktionary).
`SiteInfo` holds what decides it, from the wiki's own siteinfo (`from_api`), an XML export's
``<siteinfo>`` (`from_export`), or English Wikipedia's defaults (`default`). The rules
follow MediaWiki 1.39: MediaWikiTitleCodec::splitTitleString (titles),
Language::getNsIndex (namespace names, case-insensitive), NamespaceInfo::isCapitalized
(per-namespace case) and Parser::handleInternalLinks2 (what a link is).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any, NamedTuple

from tracker.text.languages import LANGUAGE_CODES

__all__ = ["LinkTarget", "MagicWord", "Namespace", "SiteInfo"]

NS_MEDIA, NS_FILE, NS_TEMPLATE, NS_CATEGORY = -2, 6, 10, 14
FIRST_LETTER, CASE_SENSITIVE = "first-letter", "case-sensitive"

# MediaWiki's canonical namespace names (NamespaceInfo::CANONICAL_NAMES): valid on every
# wiki whatever its language, as are the core aliases Image and Image talk.
CANONICAL = {
    -2: "Media", -1: "Special", 0: "", 1: "Talk", 2: "User", 3: "User talk", 4: "Project",
    5: "Project talk", 6: "File", 7: "File talk", 8: "MediaWiki", 9: "MediaWiki talk",
    10: "Template", 11: "Template talk", 12: "Help", 13: "Help talk", 14: "Category",
    15: "Category talk",
}  # fmt: skip
CORE_ALIASES = {"Image": 6, "Image talk": 7}
# Namespaces MediaWiki always capitalizes, whatever the wiki's case setting.
ALWAYS_CAPITALIZED = frozenset({-1, 2, 3, 8, 9})

# The extension tags whose content the preprocessor does not parse, as on Wikipedia; the
# same list as tracker.text.sections.DEFAULT_TAGS (kept apart: sections must not import this).
_WIKIPEDIA_TAGS = """categorytree ce charinsert chem gallery graph hiero imagemap indicator
    inputbox langconvert mapframe maplink math nowiki poem pre ref references score section
    source syntaxhighlight templatedata templatestyles timeline""".split()
# English Wikipedia's namespaces beyond the canonical ones, and its aliases.
_WIKIPEDIA_NAMESPACES = {
    4: "Wikipedia", 5: "Wikipedia talk", 100: "Portal", 101: "Portal talk", 118: "Draft",
    119: "Draft talk", 126: "MOS", 127: "MOS talk", 710: "TimedText", 711: "TimedText talk",
    828: "Module", 829: "Module talk",
}  # fmt: skip
_WIKIPEDIA_ALIASES = {"WP": 4, "WT": 5, "Project": 4, "Project talk": 5, "Image": 6,
                      "Image talk": 7, "TM": 10}  # fmt: skip
# Interwiki prefixes of Wikimedia's map that are not languages (the common ones).
_WIKIMEDIA_PROJECTS = """b c commons d foundation incubator m mail mediawikiwiki meta
    metawikimedia mw n outreach phab q s species v voy w wikibooks wikidata wikimedia
    wikinews wikipedia wikiquote wikisource wikispecies wikiversity wikivoyage wikt
    wiktionary wmf""".split()
# Magic words the semantics read: behaviour switches and DEFAULTSORT, as MediaWiki's
# MessagesEn.php names them ((case-sensitive, aliases)), plus common extensions' switches.
_ENGLISH_MAGIC = {
    "defaultsort": (True, ("DEFAULTSORT:", "DEFAULTSORTKEY:", "DEFAULTCATEGORYSORT:")),
    "notoc": (False, ("__NOTOC__",)), "nogallery": (False, ("__NOGALLERY__",)),
    "forcetoc": (False, ("__FORCETOC__",)), "toc": (False, ("__TOC__",)),
    "noeditsection": (False, ("__NOEDITSECTION__",)),
    "newsectionlink": (True, ("__NEWSECTIONLINK__",)),
    "nonewsectionlink": (True, ("__NONEWSECTIONLINK__",)),
    "hiddencat": (True, ("__HIDDENCAT__",)), "index": (True, ("__INDEX__",)),
    "noindex": (True, ("__NOINDEX__",)), "staticredirect": (True, ("__STATICREDIRECT__",)),
    "notitleconvert": (False, ("__NOTITLECONVERT__", "__NOTC__")),
    "nocontentconvert": (False, ("__NOCONTENTCONVERT__", "__NOCC__")),
    "expectunusedcategory": (True, ("__EXPECTUNUSEDCATEGORY__",)),
    "disambiguation": (True, ("__DISAMBIG__",)),
    "expectedunconnectedpage": (True, ("__EXPECTED_UNCONNECTED_PAGE__",)),
    "archivedtalk": (True, ("__ARCHIVEDTALK__",)), "notalk": (True, ("__NOTALK__",)),
}  # fmt: skip

# MediaWikiTitleCodec: the characters that are one space in a title; bidi marks dropped.
_SPACES = re.compile("[ _\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e]+")
_PREFIX = re.compile(r"^(.+?) *: *(.*)$", re.S)


@dataclass(frozen=True)
class Namespace:
    """One namespace: its id, canonical (English) name, local name, aliases, and case."""

    id: int
    name: str  # the local name ("Kategorie"); "" for the main namespace
    canonical: str | None = None  # "Category"; None for a namespace without one
    aliases: tuple[str, ...] = ()
    case: str = FIRST_LETTER  # or "case-sensitive"


@dataclass(frozen=True)
class MagicWord:
    """A magic word: MediaWiki's id ("notoc", "defaultsort"), its aliases as written
    ("__NOTOC__", "DEFAULTSORT:"), and whether they are case-sensitive."""

    name: str
    aliases: tuple[str, ...]
    case_sensitive: bool = False


class LinkTarget(NamedTuple):
    """What a ``[[target]]`` is on a wiki.

    ``kind``: "category", "file" (an image or other file shown), "media" (a link to a
    file), "interlanguage", "interwiki" or "link" (a leading ":" makes a category or file
    an ordinary link, and an interlanguage prefix an interwiki link). ``title`` is the
    normalized title without namespace (or, for interwiki and interlanguage links, the
    remote title as written, with spaces); ``full`` the title as the wiki shows it, with its
    local namespace name ("Kategorie:Foo"); ``prefix`` the interwiki prefix, lower case.
    """

    kind: str
    namespace: int
    title: str
    full: str
    prefix: str = ""
    fragment: str = ""


@dataclass(frozen=True)
class SiteInfo:
    """What wikitext semantics need to know of one wiki. Build it with `default`,
    `from_api`, `from_export` or `from_json`; it is immutable and hashable."""

    namespaces: tuple[Namespace, ...]
    interwiki: frozenset[str]  # every interwiki prefix, lower case
    interlanguage: frozenset[str]  # those that make interlanguage links
    extension_tags: frozenset[str]  # lower case, without angle brackets
    magic_words: tuple[MagicWord, ...] = ()
    local_interwiki: frozenset[str] = frozenset()  # prefixes that point to this wiki
    lang: str = "en"  # the content language
    _memo: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __hash__(self) -> int:
        # Hashed at every heading looked up (a cache key): the fields' hash, made once.
        found = self._memo.get("hash")
        if found is None:
            found = self._memo["hash"] = hash(
                (self.namespaces, self.interwiki, self.interlanguage, self.extension_tags,
                 self.magic_words, self.local_interwiki, self.lang)
            )  # fmt: skip
        return found

    def __post_init__(self) -> None:
        names: dict[str, int] = {}
        for ns in self.namespaces:
            for name in (ns.canonical, ns.name, *ns.aliases):
                if name is not None and (ns.id == 0 or name):
                    names.setdefault(_ns_key(name), ns.id)
        for name, number in CORE_ALIASES.items():
            names.setdefault(_ns_key(name), number)
        for number, name in CANONICAL.items():
            names.setdefault(_ns_key(name), number)
        by_id = {ns.id: ns for ns in self.namespaces}
        switches: dict[str, str] = {}  # alias (lower case if not case-sensitive) -> id
        defaultsort: list[tuple[str, bool]] = []
        for word in self.magic_words:
            for alias in word.aliases:
                if word.name == "defaultsort":
                    defaultsort.append((alias.rstrip(":"), word.case_sensitive))
                elif alias.startswith("__") and alias.endswith("__") and len(alias) > 4:
                    key = alias if word.case_sensitive else alias.lower()
                    switches.setdefault(key, word.name)
        memo = self._memo
        memo.update(names=names, by_id=by_id, switches=switches, defaultsort=defaultsort,
                    links={})  # fmt: skip

    # ---- constructors ----------------------------------------------------------------

    @staticmethod
    @cache
    def default() -> SiteInfo:
        """English Wikipedia's: its namespaces and aliases, first-letter case everywhere,
        interlanguage links to every language MediaWiki knows."""
        aliases: dict[int, list[str]] = {}
        for alias, number in _WIKIPEDIA_ALIASES.items():
            aliases.setdefault(number, []).append(alias)
        namespaces = []
        for number in sorted({**CANONICAL, **_WIKIPEDIA_NAMESPACES}):
            local = _WIKIPEDIA_NAMESPACES.get(number, CANONICAL.get(number, ""))
            canonical = CANONICAL.get(number, local)
            namespaces.append(Namespace(number, local, canonical, tuple(aliases.get(number, ()))))
        return SiteInfo.from_parts(namespaces, lang="en", local_interwiki=("en",))

    @classmethod
    def from_parts(
        cls,
        namespaces: Iterable[Namespace],
        *,
        interwiki: Iterable[str] | None = None,
        interlanguage: Iterable[str] | None = None,
        extension_tags: Iterable[str] | None = None,
        magic_words: Iterable[MagicWord] | None = None,
        local_interwiki: Iterable[str] = (),
        lang: str = "en",
    ) -> SiteInfo:
        """A SiteInfo from its parts; what is not given is English Wikipedia's."""
        if interlanguage is None:
            interlanguage = LANGUAGE_CODES
        interlanguage = frozenset(p.lower() for p in interlanguage)
        if interwiki is None:
            interwiki = interlanguage | frozenset(_WIKIMEDIA_PROJECTS)
        if magic_words is None:
            magic_words = [MagicWord(k, a, c) for k, (c, a) in _ENGLISH_MAGIC.items()]
        tags = _WIKIPEDIA_TAGS if extension_tags is None else extension_tags
        return cls(
            namespaces=tuple(sorted(namespaces, key=lambda n: n.id)),
            interwiki=frozenset(p.lower() for p in interwiki) | interlanguage,
            interlanguage=interlanguage,
            extension_tags=frozenset(t.strip("<>").lower() for t in tags),
            magic_words=tuple(magic_words),
            local_interwiki=frozenset(p.lower() for p in local_interwiki),
            lang=lang,
        )

    @classmethod
    def from_api(cls, query: Mapping[str, Any]) -> SiteInfo:
        """From the ``query`` object of ``action=query&meta=siteinfo&siprop=general|
        namespaces|namespacealiases|interwikimap|extensiontags|magicwords&formatversion=2``
        (formatversion 1 is read too). A property not asked for is English Wikipedia's."""
        general = query.get("general") or {}
        raw = query.get("namespaces") or {}
        entries = raw.values() if isinstance(raw, Mapping) else raw
        aliases: dict[int, list[str]] = {}
        for entry in query.get("namespacealiases") or ():
            name = entry.get("alias", entry.get("*"))
            if name:
                aliases.setdefault(int(entry["id"]), []).append(name)
        namespaces = [
            Namespace(
                int(ns["id"]), ns.get("name", ns.get("*", "")) or "",
                ns.get("canonical") if int(ns["id"]) else "",
                tuple(aliases.get(int(ns["id"]), ())), ns.get("case", FIRST_LETTER),
            )
            for ns in entries
        ]  # fmt: skip
        if not namespaces:
            namespaces = list(cls.default().namespaces)
        interwiki = interlanguage = None
        local: list[str] = []
        if query.get("interwikimap") is not None:
            interwiki, interlanguage = [], []
            for entry in query["interwikimap"]:
                prefix = entry["prefix"]
                interwiki.append(prefix)
                if entry.get("language") is not None:
                    interlanguage.append(prefix)
                if entry.get("localinterwiki") not in (None, False):
                    local.append(prefix)
        tags = query.get("extensiontags")
        magic = None
        if query.get("magicwords") is not None:
            magic = [
                MagicWord(w["name"], tuple(w.get("aliases") or ()),
                          w.get("case-sensitive") not in (None, False, ""))
                for w in query["magicwords"]
            ]  # fmt: skip
        return cls.from_parts(
            namespaces, interwiki=interwiki, interlanguage=interlanguage,
            extension_tags=tags, magic_words=magic, local_interwiki=local,
            lang=general.get("lang", "en"),
        )  # fmt: skip

    @classmethod
    def from_export(cls, site_info: Any) -> SiteInfo:
        """From an XML export's ``<siteinfo>`` as mwxml reads it (``Dump.site_info``):
        its namespaces with their case. Exports carry no interwiki map, aliases or magic
        words: interlanguage prefixes are every language code, the rest English
        Wikipedia's."""
        namespaces = []
        for ns in getattr(site_info, "namespaces", None) or ():
            number = int(ns.id)
            canonical = CANONICAL.get(number, getattr(ns, "canonical", None))
            case = getattr(ns, "case", None) or getattr(site_info, "case", None)
            namespaces.append(Namespace(number, ns.name or "", canonical,
                                        tuple(getattr(ns, "aliases", None) or ()),
                                        case or FIRST_LETTER))  # fmt: skip
        if not namespaces:
            return cls.default()
        # An export may list only some namespaces (a page's own); the core ones exist on
        # every wiki under their canonical names.
        listed = {ns.id for ns in namespaces}
        default_case = getattr(site_info, "case", None) or FIRST_LETTER
        namespaces += [
            Namespace(number, name, name, (), default_case)
            for number, name in CANONICAL.items()
            if number not in listed
        ]
        lang = _lang_of(getattr(site_info, "dbname", None), getattr(site_info, "base", None))
        return cls.from_parts(namespaces, lang=lang, local_interwiki=(lang,))

    def to_json(self) -> str:
        """This SiteInfo as JSON text, for storing it per wiki (`from_json` reads it)."""
        data = {
            "namespaces": [asdict(ns) for ns in self.namespaces],
            "interwiki": sorted(self.interwiki),
            "interlanguage": sorted(self.interlanguage),
            "extension_tags": sorted(self.extension_tags),
            "magic_words": [asdict(w) for w in self.magic_words],
            "local_interwiki": sorted(self.local_interwiki),
            "lang": self.lang,
        }
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SiteInfo:
        data = json.loads(text)
        return cls(
            namespaces=tuple(
                Namespace(
                    n["id"],
                    n["name"],
                    n.get("canonical"),
                    tuple(n.get("aliases", ())),
                    n.get("case", FIRST_LETTER),
                )
                for n in data["namespaces"]
            ),  # fmt: skip
            interwiki=frozenset(data["interwiki"]),
            interlanguage=frozenset(data["interlanguage"]),
            extension_tags=frozenset(data["extension_tags"]),
            magic_words=tuple(
                MagicWord(w["name"], tuple(w["aliases"]), w.get("case_sensitive", False))
                for w in data.get("magic_words", ())
            ),
            local_interwiki=frozenset(data.get("local_interwiki", ())),
            lang=data.get("lang", "en"),
        )

    @property
    def key(self) -> str:
        """A short fingerprint: two SiteInfos with the same key read wikitext alike."""
        found = self._memo.get("key")
        if found is None:
            found = self._memo["key"] = hashlib.sha1(self.to_json().encode()).hexdigest()[:16]
        return found

    # ---- namespaces and titles --------------------------------------------------------

    def namespace(self, name: str) -> int | None:
        """The id of the namespace called `name` (local, canonical or alias; case and
        underscores do not matter, as in MediaWiki), or None."""
        return self._memo["names"].get(_ns_key(name))

    def namespace_name(self, number: int) -> str:
        """The local name of a namespace ("" for the main one)."""
        ns = self._memo["by_id"].get(number)
        if ns is not None:
            return ns.name
        return CANONICAL.get(number, "")

    def is_capitalized(self, number: int) -> bool:
        """Whether titles in the namespace start with a capital (NamespaceInfo)."""
        if number == NS_MEDIA:
            number = NS_FILE
        if number > 0 and number % 2:
            number -= 1  # a talk namespace follows its subject
        if number in ALWAYS_CAPITALIZED:
            return True
        ns = self._memo["by_id"].get(number)
        return ns is None or ns.case != CASE_SENSITIVE

    def normalize(self, title: str, namespace: int = 0) -> str:
        """A title (without namespace prefix) as the wiki stores it, with spaces:
        whitespace runs one space, trimmed, first letter up unless the namespace is
        case-sensitive."""
        text = _SPACES.sub(" ", _BIDI.sub("", title)).strip(" ")
        if text and self.is_capitalized(namespace):
            text = _ucfirst(text)
        return text

    def link_target(self, target: str) -> LinkTarget:
        """What ``[[target]]`` (the part before any "|") is on this wiki."""
        links = self._memo["links"]
        found = links.get(target)
        if found is None:
            if len(links) >= 8192:
                links.clear()
            found = links[target] = self._link_target(target)
        return found

    def _link_target(self, target: str) -> LinkTarget:
        text = _SPACES.sub(" ", _BIDI.sub("", html.unescape(target))).strip(" ")
        forced = text.startswith(":")
        if forced:
            text = text[1:].strip(" ")
        namespace, prefix = 0, ""
        match = _PREFIX.match(text)
        if match:
            number = self.namespace(match.group(1))
            if number is not None:
                namespace, text = number, match.group(2)
            elif match.group(1).lower() in self.interwiki:
                prefix, text = match.group(1).lower(), match.group(2)
                if prefix in self.local_interwiki:
                    # A prefix pointing to this wiki: a local link (MediaWiki splits again).
                    return self._link_target(":" + text)
                if text.startswith(":"):
                    text = text[1:].strip(" ")
        text, _hash, fragment = text.partition("#")
        text = text.rstrip(" ")
        if prefix:
            kind = "interlanguage" if prefix in self.interlanguage and not forced else "interwiki"
            return LinkTarget(kind, 0, text, f"{prefix}:{text}", prefix, fragment)
        if text and self.is_capitalized(namespace):
            text = _ucfirst(text)
        name = self.namespace_name(namespace)
        full = f"{name}:{text}" if name else text
        kind = "link"
        if not forced and namespace == NS_CATEGORY:
            kind = "category"
        elif not forced and namespace == NS_FILE:
            kind = "file"
        elif namespace == NS_MEDIA:
            kind = "media"
        return LinkTarget(kind, namespace, text, full, "", fragment)

    def template_name(self, name: str) -> str:
        """A transclusion's name as a title: ``{{cite_web}}`` is "Cite web" (namespace
        Template, not shown), ``{{Vorlage:Info}}`` "Info", ``{{:Main}}`` ":Main",
        ``{{Wikipedia:X}}`` "Wikipedia:X"."""
        text = _SPACES.sub(" ", name).strip(" ")
        if text.startswith(":"):
            return ":" + self.normalize(text[1:])
        match = _PREFIX.match(text)
        if match:
            number = self.namespace(match.group(1))
            if number == NS_TEMPLATE:
                return self.normalize(match.group(2), NS_TEMPLATE)
            if number is not None and number != 0:
                rest = self.normalize(match.group(2), number)
                return f"{self.namespace_name(number)}:{rest}"
        return self.normalize(text, NS_TEMPLATE)

    # ---- magic words ------------------------------------------------------------------

    def switch(self, word: str) -> str | None:
        """The magic word id of a behaviour switch as written ("__NOTOC__" -> "notoc"),
        or None if it is not one on this wiki."""
        switches = self._memo["switches"]
        return switches.get(word) or switches.get(word.lower())

    def switch_name(self, name: str) -> str:
        """How a behaviour switch is written on this wiki: its first alias."""
        for word in self.magic_words:
            if word.name == name and word.aliases:
                return word.aliases[0]
        return f"__{name.upper()}__"

    def is_defaultsort(self, name: str) -> bool:
        """Whether a ``{{NAME:...}}`` is DEFAULTSORT (or an alias: SORTIERUNG on a German
        wiki)."""
        name = name.strip()
        for alias, case_sensitive in self._memo["defaultsort"]:
            if name == alias or (not case_sensitive and name.lower() == alias.lower()):
                return True
        return False


def _ns_key(name: str) -> str:
    return _SPACES.sub(" ", name).strip(" ").lower()


def _ucfirst(text: str) -> str:
    # As MediaWiki's Language::ucfirst: the first character in upper case ("ß" stays).
    first = text[0].upper()
    return (first if len(first) == 1 else text[0]) + text[1:]


def _lang_of(dbname: str | None, base: str | None) -> str:
    """The content language of a Wikimedia wiki from its dbname or main page URL."""
    if base:
        match = re.match(
            r"https?://([a-z0-9-]+)\.(?:wikipedia|wiktionary|wikibooks|"
            r"wikinews|wikiquote|wikisource|wikiversity|wikivoyage)\.org",
            base,
        )
        if match and match.group(1) in LANGUAGE_CODES:
            return match.group(1)
    if dbname:
        match = re.match(
            r"([a-z_]+?)(?:wiki|wiktionary|wikibooks|wikinews|wikiquote|"
            r"wikisource|wikiversity|wikivoyage)$",
            dbname,
        )
        if match and match.group(1).replace("_", "-") in LANGUAGE_CODES:
            return match.group(1).replace("_", "-")
    return "en"
