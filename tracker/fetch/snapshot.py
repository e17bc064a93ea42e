"""MediaWiki XML exports (Special:Export format 0.10/0.11) as a source, and writing them.

Reading streams the file with mwxml, so a history of any size is never held in memory;
exportguard.py bounds what one element can make the parser hold: a revision's text over
``max_revision_size`` comes without its text, marked ``toolarge``. Writing produces what
MediaWiki's own ``importDump.php`` accepts.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, cast
from xml.etree import ElementTree
from xml.sax.saxutils import escape, quoteattr

import mwxml

from tracker import NAME, __version__
from tracker.config import DEFAULT_MAX_REVISION_SIZE
from tracker.errors import WikiError
from tracker.fetch.exportguard import ExportGuard, cut_size
from tracker.fetch.lists import too_many
from tracker.fetch.reader import items_from_child
from tracker.fetch.source import ChangeFeed, Member, PageStatus, RcCursor
from tracker.model import Revision, base36_to_hex, hex_to_base36, parse_stamp, utc_stamp
from tracker.text.sections import Adopted, adopt, split_delta
from tracker.text.siteinfo import SiteInfo

EXPORT_NS = "http://www.mediawiki.org/xml/export-0.11/"
BATCH_SIZE = 200
# ...and at most this many characters of text: three batches are in memory at once while a
# backfill streams (tracker.fetch.poll.prefetch), and 200 long revisions are 30 MB or more.
BATCH_CHARS = 1_000_000
# A file this large is parsed in a process of its own (tracker.fetch.reader), beside the
# diffing and storing; a smaller one is read in the process, without a child to start.
CHILD_MIN_BYTES = 32 * 1024 * 1024
# What the watch sets an export cannot list would need.
_UNLISTED = {
    "category": "a category's members",
    "linked_from": "the pages a page links to",
    "transcluding": "the pages that use a template",
    "user": "a user's contributions",
}
# The page lists of unchanged files kept (`SnapshotSource.pages`), if at most this long.
PAGE_LIST_CACHE = 10_000
_PAGE_LISTS: dict[tuple[str, int], tuple[tuple, tuple[SnapshotPage, ...]]] = {}


@dataclass(frozen=True)
class SnapshotPage:
    pageid: int
    title: str
    ns: int
    redirect: str | None
    lastrevid: int | None
    revisions: int


# Dumps come compressed: read them as they are, told by their first bytes.
_COMPRESSED: dict[bytes, Callable[[Path], IO[bytes]]] = {
    b"BZh": lambda path: bz2.open(path, "rb"),
    b"\x1f\x8b": lambda path: cast(IO[bytes], gzip.open(path, "rb")),
    b"\xfd7zXZ\x00": lambda path: lzma.open(path, "rb"),
}


def _open(path: Path) -> IO[bytes]:
    """The export's bytes, decompressed if it is a .bz2, .gz or .xz file."""
    with path.open("rb") as probe:
        magic = probe.read(6)
    if magic.startswith(b"7z\xbc\xaf\x27\x1c"):
        raise WikiError(
            f"{path} is a 7z archive: unpack it first (7z x {path.name}), or "
            "recompress it as .xz or .bz2, which are read as they are"
        )
    for prefix, opener in _COMPRESSED.items():
        if magic.startswith(prefix):
            return opener(path)
    return path.open("rb")


def _open_dump(
    path: Path, max_text: int = DEFAULT_MAX_REVISION_SIZE
) -> tuple[ExportGuard, mwxml.Dump]:
    """The export, guarded (tracker.fetch.exportguard), read by mwxml."""
    for siteinfo in (True, False):
        try:
            raw = _open(path)
            handle = ExportGuard(raw if siteinfo else _SiteinfoAdded(raw), max_text, str(path))
        except OSError as exc:
            raise WikiError(f"cannot read snapshot {path}: {exc.strerror}") from None
        try:
            return handle, mwxml.Dump.from_file(handle)
        except WikiError:
            handle.close()
            raise
        except Exception as exc:  # mwxml raises several kinds on a bad header
            handle.close()
            if siteinfo and "<siteinfo>" in str(exc):
                continue  # an export may lack it (export-0.10.xsd: minOccurs="0")
            raise WikiError(
                f"{path} is not a MediaWiki XML export ({exc}); use a file from "
                "Special:Export or `tracker snapshot export`"
            ) from None
    raise AssertionError("unreachable")


class _SiteinfoAdded:
    """An export without <siteinfo>, read with an empty one after its <mediawiki> start tag
    (mwxml requires one; MediaWiki's schema and importDump.php do not): the wiki's
    namespaces are then the defaults, as importDump.php assumes the importing wiki's."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        head = b""
        while b">" not in head.partition(b"<mediawiki")[2]:
            more = raw.read(65536)
            if not more or len(head) > 1 << 20:
                break
            head += more
        before, tag, after = head.partition(b"<mediawiki")
        end = after.find(b">") + 1
        if tag and end:
            head = before + tag + after[:end] + b"<siteinfo></siteinfo>" + after[end:]
        self.head = head

    def read(self, size: int = -1) -> bytes:
        if self.head:
            data = self.head if size < 0 else self.head[:size]
            self.head = self.head[len(data) :]
            return data
        return self.raw.read(size)

    def close(self) -> None:
        self.raw.close()


def revision_from_xml(rev: mwxml.Revision) -> Revision:
    """A Revision from mwxml's; a text the export guard cut comes as None, ``toolarge``."""
    main = rev.slots.contents.get("main") if rev.slots else None
    texthidden = bool(rev.deleted and rev.deleted.text)
    text = None
    if not texthidden:
        text = (main.text if main is not None else None) or ""
    toolarge = cut_size(text)
    if toolarge is not None:
        text = None
    sha1_raw = main.sha1 if main is not None and main.sha1 else None
    sha1_raw = sha1_raw or (rev.slots.sha1 if rev.slots else None)
    if text is not None:
        sha1 = hashlib.sha1(text.encode("utf-8")).hexdigest()
    elif sha1_raw:
        sha1 = base36_to_hex(sha1_raw) if len(sha1_raw) != 40 else sha1_raw
    else:
        sha1 = None
    user = rev.user
    userhidden = bool(rev.deleted and rev.deleted.user)
    return Revision(
        revid=int(rev.id),
        parentid=int(rev.parent_id or 0),
        timestamp=_timestamp(rev),
        user=None if userhidden or user is None else user.text,
        userid=None if userhidden or user is None else (user.id or 0),
        comment=None if rev.deleted and rev.deleted.comment else (rev.comment or ""),
        minor=bool(rev.minor),
        size=(
            len(text.encode("utf-8"))
            if text is not None
            else toolarge
            if toolarge is not None
            else _known_size(main)
        ),
        sha1=sha1,
        text=text,
        content_model=(main.model if main is not None and main.model else "wikitext"),
        content_format=(main.format if main is not None and main.format else "text/x-wiki"),
        texthidden=texthidden,
        userhidden=userhidden,
        commenthidden=bool(rev.deleted and rev.deleted.comment),
        # An old export without sha1s gives none for a text too large to hash here.
        sha1hidden=sha1 is None and toolarge is None,
        toolarge=toolarge is not None,
    )


def _known_size(main: object) -> int | None:
    """The size an export gives for a hidden text; unknown (None), never the dumps' -1."""
    size = getattr(main, "bytes", None)
    return int(size) if size is not None and int(size) >= 0 else None


class SnapshotSource:
    """An XML export read like a wiki: a page is found by id or title, revisions stream."""

    def __init__(
        self, name: str, path: Path, *, max_revision_size: int = DEFAULT_MAX_REVISION_SIZE
    ):
        self.name = name
        self.path = path
        self.max_revision_size = max_revision_size
        self.requests = 0  # file reads, for the poll log

    def check(self) -> None:
        if not self.path.is_file():
            raise WikiError(f"snapshot {self.path} not found; check the wiki's snapshot path")

    def pages(self) -> Iterator[SnapshotPage]:
        """Every page: its ids, title and revisions' count and last id (texts skipped).

        Read with ElementTree's own parser: the texts skipped, the metadata of thousands of
        revisions is all there is, and mwxml's objects for it took most of the time. The
        list of a file this process has read and that has not changed since (its size,
        times, inode and last 64 KB) is not read again: a daemon polls an export of a
        gigabyte every few minutes."""
        try:
            stat = self.path.stat()
            with self.path.open("rb") as handle:  # (and its end: a rewrite in the same tick)
                handle.seek(max(0, stat.st_size - 65536))
                tail = hashlib.sha1(handle.read()).digest()
        except OSError as exc:
            raise WikiError(f"cannot read snapshot {self.path}: {exc.strerror}") from None
        stamp = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, tail)
        key = (str(self.path), self.max_revision_size)
        known = _PAGE_LISTS.get(key)
        if known is not None and known[0] == stamp:
            yield from known[1]
            return
        self.requests += 1
        try:
            listed = list(_pages_by_elements(self.path, self.max_revision_size))
        except WikiError:
            raise
        except Exception as exc:
            raise WikiError(f"{self.path}: malformed XML export ({exc})") from None
        if len(listed) <= PAGE_LIST_CACHE:
            _PAGE_LISTS[key] = (stamp, tuple(listed))
        yield from listed

    def page_status(
        self, pageids: Iterable[int] = (), titles: Iterable[str] = ()
    ) -> list[PageStatus]:
        self.check()
        wanted_ids, wanted_titles = list(pageids), list(titles)
        by_id: dict[int, SnapshotPage] = {}
        by_title: dict[str, SnapshotPage] = {}
        for page in self.pages():
            by_id[page.pageid] = page
            by_title[page.title] = page
        out = []
        wanted: list[int | str] = [*wanted_ids, *wanted_titles]
        for requested in wanted:
            found = (
                by_id.get(requested)
                if isinstance(requested, int)
                else by_title.get(requested.replace("_", " "))
            )
            if found is None:
                out.append(PageStatus(requested, None, None, missing=True))
            else:
                out.append(
                    PageStatus(
                        requested,
                        found.pageid,
                        found.title,
                        found.ns,
                        found.lastrevid,
                        redirect=found.redirect is not None,
                        revisions=found.revisions,
                    )
                )
        return out

    def fetch_revisions(
        self,
        pageid: int,
        *,
        since: str | None = None,
        last: int | None = None,
        revids: Iterable[int] | None = None,
        site: SiteInfo | None = None,
    ) -> Iterator[list[Revision]]:
        """Revisions of one page in batches, each in history order (the file's own order
        may be another: dumps list revisions by id; the store puts each in its place).

        ``since``: from that timestamp on; ``last``: the N most recent; ``revids``: these.
        ``site``: the wiki's rules, for a consumer that splits texts by them
        (`tracker.fetch.ingest.PageIngestor`): a large file's wikitext revisions then come
        split, in the process that reads it, as `SplitDelta`s (``extra["split"]``) in place
        of their texts; the consumer makes the texts again with `whole_text`.
        """
        wanted = set(revids) if revids is not None else None
        if last is not None:
            # The N most recent in history order, whatever the file's order: their places
            # first (no text kept), then those revisions.
            places = sorted(rev.position() for rev in self.revision_list(pageid))
            wanted = {revid for _ts, revid in places[-last:]}
        args = (self.path, self.max_revision_size, pageid, since, wanted)
        self.requests += 1
        if self.path.stat().st_size < CHILD_MIN_BYTES:
            yield from _page_batches(*args)
        elif site is None:
            yield from items_from_child(_page_batches, *args)  # parsed on the other core
        else:
            yield from items_from_child(_split_batches, *args, site)  # split there too

    def revision_list(self, pageid: int) -> Iterator[Revision]:
        """Every revision of a page, without its text (``text`` None)."""
        for raw in self._page_revisions(pageid):
            yield replace(revision_from_xml(raw), text=None)

    def revision_count(self, pageid: int) -> int | None:
        """The page's revisions in the export (its page list, texts skipped)."""
        return next((page.revisions for page in self.pages() if page.pageid == pageid), None)

    def user_groups(self, names: Iterable[str]) -> dict[str, tuple[str, ...] | None]:
        """An export has no users' groups: bots are told by name (tracker.model.is_bot)."""
        return {}

    def site_info(self) -> SiteInfo:
        """The export's own siteinfo: its namespaces and their case (no interwiki map:
        interlanguage links are told by language code)."""
        handle, dump = _open_dump(self.path, self.max_revision_size)
        with handle:
            return SiteInfo.from_export(dump.site_info)

    def log_events(self, since: str) -> list:
        """An export has no log: its revision counts tell what changed."""
        return []

    # --- topic watches: an export names its pages, and nothing links them ---

    def set_members(
        self,
        kind: str,
        target: str,
        *,
        depth: int = 0,
        namespace: int | None = None,
        limit: int | None = None,
    ) -> list[Member]:
        """A prefix's pages from the export's page list (redirects left out); the other
        kinds need the wiki's link tables, which an export has not."""
        if kind != "prefix":
            raise WikiError(
                f"{kind} watches need a wiki's API (api_url); an export cannot list "
                f"{_UNLISTED.get(kind, 'such a set')} (snapshot {self.path})"
            )
        prefix = target
        if namespace is None:
            head, colon, rest = target.partition(":")
            number = self.site_info().namespace(head) if colon else None
            namespace, prefix = (number, rest.lstrip()) if number is not None else (0, target)
        found: dict[int, Member] = {}
        for page in self.pages():
            name = page.title.partition(":")[2] if page.ns else page.title
            if page.ns == namespace and page.redirect is None and name.startswith(prefix):
                found.setdefault(page.pageid, Member(page.pageid, page.title, page.ns))
                if limit is not None and len(found) > limit:
                    raise too_many(self.name, kind, target, limit)
        return sorted(found.values(), key=lambda m: (m.title, m.pageid))

    def recent_changes(self, cursor: RcCursor | None) -> ChangeFeed:
        """An export has no recent changes: never complete (its page list is checked)."""
        return ChangeFeed([], False, None)

    def latest_revisions(self, pageids: Iterable[int]) -> dict[int, Revision]:
        """The latest revision of each page the export has (one pass over the file)."""
        out: dict[int, Revision] = {}
        for pageid, rev in self._revisions(set(pageids), None):
            if pageid not in out or rev.position() > out[pageid].position():
                out[pageid] = rev
        return out

    def revisions_by_id(self, revids: Iterable[int]) -> dict[int, list[Revision]]:
        """These revisions of any pages of the export (one pass), by page id."""
        out: dict[int, list[Revision]] = {}
        for pageid, rev in self._revisions(None, set(revids)):
            out.setdefault(pageid, []).append(rev)
        return {pageid: sorted(revs, key=Revision.position) for pageid, revs in out.items()}

    def templates_of(self, pageids: Iterable[int]) -> dict[int, list[Member]]:
        """An export has no link tables: no page is known to use a template."""
        return {}

    def _revisions(
        self, pageids: set[int] | None, revids: set[int] | None
    ) -> Iterator[tuple[int, Revision]]:
        """The revisions of these pages, or these revisions, with their page ids."""
        self.check()
        self.requests += 1
        handle, dump = _open_dump(self.path, self.max_revision_size)
        with handle:
            try:
                for page in dump:
                    pageid = int(page.id)
                    if pageids is not None and pageid not in pageids:
                        continue
                    for raw in page:
                        if revids is None or int(raw.id) in revids:
                            yield pageid, revision_from_xml(raw)
            except WikiError:
                raise
            except Exception as exc:
                raise WikiError(f"{self.path}: malformed XML export ({exc})") from None

    def stream(self) -> Iterator[tuple[SnapshotPage, Iterator[list[Revision]]]]:
        """Every page with its revisions in batches, in one pass over the file (an import).

        A page's batches must be read before the next page is asked for.
        """
        handle, dump = _open_dump(self.path, self.max_revision_size)
        self.requests += 1
        with handle:
            try:
                for page in dump:
                    info = SnapshotPage(
                        int(page.id),
                        _title(dump, page),
                        int(page.namespace or 0),
                        page.redirect,
                        None,
                        0,
                    )
                    yield info, _batches(page)
            except WikiError:
                raise
            except Exception as exc:
                raise WikiError(f"{self.path}: malformed XML export ({exc})") from None

    def _page_revisions(self, pageid: int) -> Iterator[mwxml.Revision]:
        self.requests += 1
        return _page_revisions(self.path, self.max_revision_size, pageid)


def _page_revisions(path: Path, max_text: int, pageid: int) -> Iterator[mwxml.Revision]:
    handle, dump = _open_dump(path, max_text)
    with handle:
        try:
            for page in dump:
                if int(page.id) == pageid:
                    yield from page
                    return
        except WikiError:
            raise
        except Exception as exc:
            raise WikiError(f"{path}: malformed XML export ({exc})") from None


SPLIT = "split"  # the key of a revision's SplitDelta in its ``extra``


def _split_batches(
    path: Path,
    max_text: int,
    pageid: int,
    since: str | None,
    wanted: set[int] | None,
    site: SiteInfo,
) -> Iterator[list[Revision]]:
    """`_page_batches`, each wikitext revision's text sent as its split against the text
    before it in the stream (`tracker.text.sections.split_delta`): the splitting is done
    here, and only the sections an edit changed go through the pipe."""
    earlier: str | None = None
    for batch in _page_batches(path, max_text, pageid, since, wanted):
        out = []
        for rev in batch:
            if rev.text is not None and rev.content_model == "wikitext":
                try:
                    delta = split_delta(rev.text, earlier, site=site)
                except Exception:  # sent whole: the consumer splits it, and says what fails
                    out.append(rev)
                    earlier = None
                    continue
                earlier = rev.text
                rev = replace(rev, text=None, extra={**rev.extra, SPLIT: delta})
            elif rev.text is not None:
                earlier = None  # (the next split is made whole)
            out.append(rev)
        yield out


def whole_text(
    rev: Revision, earlier: Adopted | None, site: SiteInfo
) -> tuple[Revision, Adopted | None]:
    """A revision of `_split_batches` with its text again, its split cached
    (`tracker.text.sections.adopt`), and what the next one follows on from. ``earlier``:
    what the one before it in the stream returned (None first)."""
    delta = rev.extra.get(SPLIT)
    if delta is None:
        return rev, earlier if rev.text is None else None
    try:
        adopted = adopt(delta, earlier, site=site)
    except ValueError as exc:
        raise WikiError(
            f"revision {rev.revid}: the export's reading process sent a split that does not "
            f"follow on ({exc}); run again, and report it if it happens again"
        ) from None
    extra = {key: value for key, value in rev.extra.items() if key != SPLIT}
    return replace(rev, text=adopted.text, extra=extra), adopted


def _page_batches(
    path: Path, max_text: int, pageid: int, since: str | None, wanted: set[int] | None
) -> Iterator[list[Revision]]:
    """The revisions of one page in batches (`SnapshotSource.fetch_revisions`)."""
    return _batches(
        raw
        for raw in _page_revisions(path, max_text, pageid)
        if (wanted is None or int(raw.id) in wanted) and (since is None or _timestamp(raw) >= since)
    )


def _pages_by_elements(path: Path, max_text: int) -> Iterator[SnapshotPage]:
    """`SnapshotSource.pages` with xml.etree. Titles and namespaces as mwxml reads them
    (`_title`): "_" read as " "; without <ns> (formats before 0.6), the namespace whose
    name the title starts with."""
    try:
        raw = _open(path)
        handle = ExportGuard(raw, max_text, str(path), skip_texts=True)
    except OSError as exc:
        raise WikiError(f"cannot read snapshot {path}: {exc.strerror}") from None
    with handle:
        depth = 0
        names: dict[str, int] | None = None  # namespace name -> number, from <siteinfo>
        page: dict = {}
        revision: dict = {}
        for event, element in ElementTree.iterparse(handle, events=("start", "end")):
            tag = element.tag.rpartition("}")[2]
            if event == "start":
                depth += 1
                if depth == 2 and tag == "page":
                    page = {"count": 0, "last": None, "redirect": None, "ns": None}
                elif depth == 3 and tag == "revision":
                    revision = {}
                continue
            depth -= 1
            if depth == 2 and tag in ("title", "id", "ns"):  # the page's own
                page[tag] = element.text or ""
            elif depth == 2 and tag == "redirect":
                page["redirect"] = element.get("title")
            elif depth == 3 and tag in ("id", "timestamp"):  # the revision's own
                revision[tag] = element.text or ""
            elif depth == 2 and tag == "revision":
                here = (utc_stamp(parse_stamp(revision["timestamp"])), int(revision["id"]))
                page["count"] += 1
                page["last"] = here if page["last"] is None else max(page["last"], here)
                element.clear()
            elif depth == 1 and tag == "page":
                title = page["title"].replace("_", " ")
                yield SnapshotPage(
                    int(page["id"]),
                    title,
                    int(page["ns"] or 0) if page["ns"] is not None else _namespace(title, names),
                    page["redirect"],
                    page["last"][1] if page["last"] else None,
                    page["count"],
                )
                element.clear()
            elif depth == 1 and tag == "siteinfo":
                names = {
                    child.text or "": int(child.get("key") or 0)
                    for child in element.iter()
                    if child.tag.rpartition("}")[2] == "namespace"
                }
                element.clear()


def _namespace(title: str, names: dict[str, int] | None) -> int:
    """The namespace a title without <ns> is in, as mwxml tells it."""
    prefix, colon, rest = title.partition(":")
    if not colon or names is None or rest.startswith(" "):
        return 0
    return names.get(prefix, 0)


def _title(dump: mwxml.Dump, page: mwxml.Page) -> str:
    """The page's full title. Exports before format 0.6 have no <ns>: mwxml then takes the
    namespace from the title and leaves it out ("Talk:X" becomes "X"); put it back."""
    title = page.title
    if not page.namespace:
        return title
    names = {
        ns.id: ns.name for ns in (dump.site_info.namespaces or []) if getattr(ns, "name", None)
    }
    prefix = names.get(int(page.namespace))
    if prefix and not title.startswith(prefix + ":"):
        return f"{prefix}:{title}"
    return title


def _batches(revisions: Iterable[mwxml.Revision]) -> Iterator[list[Revision]]:
    """Revisions of an export in batches, each in history order."""
    batch: list[Revision] = []
    chars = 0
    for raw in revisions:
        rev = revision_from_xml(raw)
        batch.append(rev)
        chars += len(rev.text or "")
        if len(batch) >= BATCH_SIZE or chars >= BATCH_CHARS:
            yield sorted(batch, key=Revision.position)
            batch, chars = [], 0
    if batch:
        yield sorted(batch, key=Revision.position)


def _timestamp(rev: mwxml.Revision) -> str:
    return rev.timestamp.long_format() if rev.timestamp else ""


# --- writing ---------------------------------------------------------------------------------


def _el(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def write_export(
    out: IO[str],
    pages: Iterable[tuple[dict, Iterable[tuple[dict, str | None]]]],
    sitename: str = "wiki tracker export",
    base: str = "",
    site: SiteInfo | None = None,
) -> int:
    """Write pages and their revisions as a format 0.11 export; return revisions written.

    ``pages`` yields (page row, iterable of (revision row, text or None)); ``site``: the
    wiki's namespaces, written into the siteinfo (English Wikipedia's by default).
    """
    site = site or SiteInfo.default()
    main_case = next((ns.case for ns in site.namespaces if ns.id == 0), "first-letter")
    namespaces = "".join(
        f'      <namespace key="{ns.id}" case="{ns.case}"'
        + (f">{escape(ns.name)}</namespace>\n" if ns.name else " />\n")
        for ns in sorted(site.namespaces, key=lambda ns: ns.id)
    )
    out.write(
        f'<mediawiki xmlns="{EXPORT_NS}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:schemaLocation="{EXPORT_NS} http://www.mediawiki.org/xml/export-0.11.xsd" '
        'version="0.11" xml:lang="en">\n'
        "  <siteinfo>\n"
        f"    {_el('sitename', sitename)}\n"
        f"    {_el('dbname', 'wikitracker')}\n"
        f"    {_el('base', base or 'http://localhost/')}\n"
        f"    {_el('generator', f'{NAME} {__version__}')}\n"
        f"    <case>{main_case}</case>\n"
        "    <namespaces>\n"
        f"{namespaces}"
        "    </namespaces>\n"
        "  </siteinfo>\n"
    )
    written = 0
    for page, revisions in pages:
        out.write("  <page>\n")
        out.write(f"    {_el('title', page['title'])}\n")
        out.write(f"    {_el('ns', page.get('ns') or 0)}\n")
        out.write(f"    {_el('id', page['pageid'])}\n")
        if page.get("redirect_to"):
            out.write(f"    <redirect title={quoteattr(page['redirect_to'])} />\n")
        for rev, text in revisions:
            out.write(_revision_xml(rev, text))
            written += 1
        out.write("  </page>\n")
    out.write("</mediawiki>\n")
    return written


def _revision_xml(rev: dict, text: str | None) -> str:
    parts = ["    <revision>", f"      {_el('id', rev['revid'])}"]
    if rev.get("parentid"):
        parts.append(f"      {_el('parentid', rev['parentid'])}")
    parts.append(f"      {_el('timestamp', rev['timestamp'])}")
    if rev.get("userhidden") or rev.get("user") is None:
        parts.append('      <contributor deleted="deleted" />')
    elif rev.get("userid"):
        parts.append(
            f"      <contributor>{_el('username', rev['user'])}"
            f"{_el('id', rev['userid'])}</contributor>"
        )
    elif _looks_like_ip(rev["user"]):
        parts.append(f"      <contributor>{_el('ip', rev['user'])}</contributor>")
    else:
        parts.append(f"      <contributor>{_el('username', rev['user'])}<id>0</id></contributor>")
    if rev.get("minor"):
        parts.append("      <minor />")
    if rev.get("commenthidden"):
        parts.append('      <comment deleted="deleted" />')
    elif rev.get("comment"):
        parts.append(f"      {_el('comment', rev['comment'])}")
    parts.append(f"      {_el('model', rev.get('content_model') or 'wikitext')}")
    parts.append(f"      {_el('format', rev.get('content_format') or 'text/x-wiki')}")
    sha1 = rev.get("sha1")
    if text is None:
        parts.append(f'      <text bytes="{int(rev.get("size") or 0)}" deleted="deleted" />')
    else:
        size = len(text.encode("utf-8"))
        parts.append(f'      <text bytes="{size}" xml:space="preserve">{escape(text)}</text>')
    parts.append(f"      {_el('sha1', hex_to_base36(sha1) if sha1 else '')}")
    parts.append("    </revision>\n")
    return "\n".join(parts)


def _looks_like_ip(user: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(user)
    except ValueError:
        return False
    return True
