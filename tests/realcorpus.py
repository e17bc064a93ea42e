"""The corpus of real histories (tests/data/real): finding it, and reading it without the tracker.

Everything here reads the exports with ``xml.etree.ElementTree.iterparse``, independently of
the tracker's own reader (mwxml), so that the tests and the benchmark compare the tracker
with facts it did not compute itself. Reverts are computed with ``mwreverts``, the reference.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

import mwreverts
import yaml

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
MANIFEST = TESTS / "data" / "real" / "manifest.yaml"
CACHE = MANIFEST.parent / "cache"  # where scripts/get_real_corpus.py puts the registry files
REPRO = TESTS / "data" / "repro"
RADIUS = 15  # MediaWiki's $wgManualRevertSearchRadius; mwreverts' default too
XML_NS = "{http://www.w3.org/XML/1998/namespace}"


def corpus_dirs() -> list[Path]:
    """Where the corpus files may be, first match wins.

    ``$TRACKER_REAL_CORPUS``; ``tests/data/real/cache`` (what scripts/get_real_corpus.py
    writes by default); ``tests/data/real`` next to the manifest; ``shared/data/real`` in a
    parent folder of the checkout (see tests/data/real/README.md, "Where the files are").
    """
    dirs = []
    if os.environ.get("TRACKER_REAL_CORPUS"):
        dirs.append(Path(os.environ["TRACKER_REAL_CORPUS"]))
    dirs += [CACHE, MANIFEST.parent]
    # A clone elsewhere (CI clones the checkout) looks beside the checkout it came from.
    for checkout in (REPO, _origin()):
        if checkout is not None:
            dirs += [parent / "shared" / "data" / "real" for parent in checkout.parents]
    return dirs


def _origin() -> Path | None:
    """The checkout this one was cloned from, when that is a folder on this machine."""
    try:
        url = subprocess.run(
            ["git", "-C", str(REPO), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return None
    path = Path(url.removeprefix("file://"))
    return path.resolve() if url and path.is_dir() else None


def find_file(name: str) -> Path | None:
    for directory in corpus_dirs():
        if (directory / name).is_file():
            return directory / name
    return None


def load_manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def from_registry(entry: dict[str, Any]) -> bool:
    """Whether a manifest entry's file comes from a package registry (CI gets it with
    scripts/get_real_corpus.py), not only from a GitHub repository (opt-in)."""
    return "registry" in (entry.get("source") or {})


def available(manifest: dict[str, Any], role: str) -> list[str]:
    """The files of ``role`` the tests run on: every registry file (missing: the test says
    so), and each repository-only file that is present here (absent: no test at all)."""
    return [
        name
        for name, entry in manifest["files"].items()
        if entry["role"] == role and (from_registry(entry) or find_file(name) is not None)
    ]


def open_export(path: Path) -> IO[bytes]:
    """The export's bytes, whatever its compression (by file name)."""
    name = path.name
    if name.endswith(".bz2"):
        return bz2.open(path, "rb")
    if name.endswith(".gz"):
        return gzip.open(path, "rb")
    if name.endswith((".xz", ".lzma")):
        return lzma.open(path, "rb")
    return path.open("rb")


def decompressed(path: Path, directory: Path) -> Path:
    """A plain .xml copy of ``path`` in ``directory`` (the file itself if it is plain)."""
    if path.suffix == ".xml":
        return path
    target = directory / re.sub(r"\.(bz2|gz|xz|lzma)$", "", path.name)
    with open_export(path) as src, target.open("wb") as out:
        shutil.copyfileobj(src, out)
    return target


@dataclass
class Rev:
    """A revision as the export gives it; ``sha1`` is the sha1 of the text (None if hidden)."""

    revid: int
    timestamp: str
    sha1: str | None
    size: int | None
    texthidden: bool = False
    userhidden: bool = False
    commenthidden: bool = False
    blank: bool = False  # the text is empty or whitespace only
    bytes_attr: int | None = None  # <text bytes="...">, as written (-1: unknown)
    template_headings: tuple[str, ...] = ()
    text: str | None = None

    @property
    def hidden(self) -> bool:
        return self.texthidden or self.userhidden or self.commenthidden


@dataclass
class Page:
    title: str
    pageid: int
    ns: int | None
    revisions: list[Rev] = field(default_factory=list)

    def history(self) -> list[Rev]:
        """MediaWiki's history order: by timestamp, then revision id."""
        return sorted(self.revisions, key=lambda r: (r.timestamp, r.revid))


@dataclass
class Export:
    version: str | None = None
    lang: str | None = None
    case: str | None = None
    sitename: str | None = None
    dbname: str | None = None
    base: str | None = None
    generator: str | None = None
    namespaces: dict[int, tuple[str, str | None]] = field(default_factory=dict)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def read_export(path: Path, keep_text: bool = False) -> tuple[Export, Iterator[Page]]:
    """Header facts and a stream of pages; the header is complete once a page is read."""
    info = Export()

    def pages() -> Iterator[Page]:
        with open_export(path) as handle:
            page: Page | None = None
            in_siteinfo = False
            for event, el in ElementTree.iterparse(handle, events=("start", "end")):
                tag = _local(el.tag)
                if event == "start":
                    if tag == "mediawiki":
                        info.version = el.get("version")
                        info.lang = el.get(XML_NS + "lang")
                    elif tag == "siteinfo":
                        in_siteinfo = True
                    elif tag == "page":
                        page = Page("", 0, None)
                    continue
                if in_siteinfo:
                    if tag in ("sitename", "dbname", "base", "generator", "case"):
                        setattr(info, tag, el.text)
                    elif tag == "namespace":
                        info.namespaces[int(el.get("key"))] = (el.text or "", el.get("case"))
                    elif tag == "siteinfo":
                        in_siteinfo = False
                elif tag == "revision" and page is not None:
                    page.revisions.append(_revision(el, keep_text))
                    el.clear()
                elif tag == "page" and page is not None:
                    for child in el:
                        name = _local(child.tag)
                        if name == "title":
                            page.title = child.text or ""
                        elif name == "id":
                            page.pageid = int(child.text)
                        elif name == "ns":
                            page.ns = int(child.text)
                    yield page
                    page = None
                    el.clear()

    return info, pages()


def _revision(el: Any, keep_text: bool) -> Rev:
    rev = Rev(0, "", None, None)
    for child in el:
        name = _local(child.tag)
        deleted = child.get("deleted") == "deleted"
        if name == "id":
            rev.revid = int(child.text)
        elif name == "timestamp":
            rev.timestamp = child.text
        elif name == "contributor":
            rev.userhidden = deleted
        elif name == "comment":
            rev.commenthidden = deleted
        elif name == "text":
            rev.texthidden = deleted
            if child.get("bytes") is not None:
                rev.bytes_attr = int(child.get("bytes"))
            if not deleted:
                text = child.text or ""
                data = text.encode("utf-8")
                rev.sha1 = hashlib.sha1(data).hexdigest()
                rev.size = len(data)
                rev.blank = not text.strip()
                rev.template_headings = tuple(template_headings(text))
                if keep_text:
                    rev.text = text
    return rev


def read_pages(path: Path, keep_text: bool = False) -> tuple[Export, list[Page]]:
    info, pages = read_export(path, keep_text)
    return info, list(pages)


@dataclass(frozen=True)
class Reverts:
    """Reverts by MediaWiki's manual-revert rule, as mwreverts computes them."""

    reverting: dict[int, int]  # reverting revid -> the revid whose content it restores
    reverted: set[int]

    @property
    def reverting_ids(self) -> set[int]:
        return set(self.reverting)


def reference_reverts(history: list[Rev], radius: int = RADIUS) -> Reverts:
    """``mwreverts.detect`` over the history (timestamp, revid order), keyed by sha1 of text.

    A revision with hidden text has no known content: it gets a checksum of its own, so it
    restores nothing and is never restored, but it still counts towards the radius.
    """
    checksums = [(rev.sha1 or f"hidden:{rev.revid}", rev.revid) for rev in history]
    reverting: dict[int, int] = {}
    reverted: set[int] = set()
    for revert in mwreverts.detect(checksums, radius=radius):
        reverting[revert.reverting] = revert.reverted_to
        reverted.update(revert.reverteds)
    return Reverts(reverting, reverted)


def ids_out_of_order(history: list[Rev]) -> int:
    """Revisions whose id is lower than the id of the revision before them in history order."""
    return sum(1 for a, b in zip(history, history[1:], strict=False) if b.revid < a.revid)


def ids_below_earlier_max(history: list[Rev]) -> int:
    """Revisions whose id is lower than that of some earlier revision (what an ingest that
    skips ids at or below the last stored one would drop)."""
    count, top = 0, -1
    for rev in history:
        if rev.revid < top:
            count += 1
        top = max(top, rev.revid)
    return count


HEADING = re.compile(r"^(={1,6})(.+?)\1[ \t]*$", re.M)


def template_headings(text: str) -> list[str]:
    """Heading lines of ``text`` whose title has a template or magic word (``{{...}}``)."""
    return [m.group(0) for m in HEADING.finditer(text) if "{{" in m.group(2)]


def blankings(history: list[Rev]) -> int:
    """Revisions whose text is empty or whitespace only (hidden texts are not counted)."""
    return sum(1 for rev in history if rev.blank)
