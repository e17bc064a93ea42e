"""Wikitext -> sections, found exactly where MediaWiki finds them.

A section is a heading line and everything up to the next heading line; the lead is what
comes before the first heading. `split` is lossless: the sections' texts joined give the
input back byte for byte.

Where a heading is, is decided by MediaWiki's preprocessor (``Preprocessor_Hash``), not by a
regex: ``==x==`` is not a section inside a comment, an extension tag (``<nowiki>``,
``<pre>``, ``<ref>``, ``<math>``, ``<syntaxhighlight>``...), ``<includeonly>`` or a
template's braces; it is one inside a table, a multi-line ``[[link]]`` or ``-{ }-``, and
inside brackets that never close. tracker.text.headings ports the preprocessor's heading logic
and scans a 60 KB article in about a millisecond, where a full parse takes 20-90 ms;
tests/test_sections_mediawiki.py checks it against a real MediaWiki's
``action=parse&prop=sections``, tests/test_mediawiki_parsertests.py against MediaWiki's
own parser tests. A section's `number` is MediaWiki's (``section=N``), its `heading` the
text a reader sees (tracker.text.headline: only heading texts are parsed, with mwparserfromhell).

An edited revision is split from the one before it (``split(text, previous=old)``, the
same result): the sections the edit left alone are the old ones (moved ones too), stretches
edited in plain words, whole [[links]] or lines need no scan (`_quiet_edit`), and only the
rest is scanned: from the last line before the edit where nothing is open (`_calm_line`) to
the first line after it where nothing is open here and in the old text, whose rest is
the old text's (`_resume_points`); tests/test_sections_incremental.py compares it with a
split from scratch. The usual edit, inside one section's body, is placed by the common
start and end of the two texts (`common_ends`, also what the word diff of that section
starts from) and its section alone is looked at (`_split_inside`).
"""

from __future__ import annotations

import bisect
import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import repeat
from typing import NamedTuple

from tracker.text.headings import (
    _SIMPLE_LINK,
    DEFAULT_TAGS,
    Heading,
    Quiet,
    QuietScan,
    scan_quiet,
)
from tracker.text.headline import LinkKinds, heading_text

__all__ = [
    "DEFAULT_TAGS",
    "Edit",
    "Section",
    "common_ends",
    "edits",
    "heading_text",
    "split",
    "split_edited",
]


@dataclass(frozen=True)
class Section:
    """One section of a revision's wikitext; the lead is index 0, level 0."""

    index: int  # 0 = lead, then in document order: the position in split()'s list
    level: int  # 0 for the lead, 1-6 for headings
    heading: str  # as a reader sees it; "" for the lead
    raw_heading: str  # the heading line's text between the = signs, as written
    text: str  # the full raw text, heading line included, up to the next heading line
    parent: int | None  # index of the parent section; None for the lead and top level
    path: tuple[str, ...]  # headings from the top level down; () for the lead
    body_start: int = 0  # where the body starts in `text`: after the heading line
    # MediaWiki's section number: what ``section=N``, edit links and action=parse's
    # ``index`` say. Headings in a template's arguments (and other heading nodes that make
    # no section) use up numbers, so it can be more than `index`; 0 for the lead.
    number: int = 0

    @property
    def body(self) -> str:
        """The section's own text after its heading line (all of it for the lead)."""
        return self.text[self.body_start :]

    @cached_property
    def content(self) -> str:
        """The text a section's changes are about: its body without blank space around it.

        Cached: a section of an edited text is mostly the same object as in the text before,
        so its content is too, and so are the caches keyed by it downstream.
        """
        return self.body.strip()


def split(
    text: str,
    *,
    tags: Iterable[str] | None = None,
    previous: str | None = None,
    site: LinkKinds | None = None,
) -> list[Section]:
    """Split wikitext into the lead and its headed sections, in document order.

    `tags`: the wiki's extension tags (DEFAULT_TAGS: Wikipedia's); `site`: what its links
    are, for headings (tracker.text.headline.heading_text). `previous`, a text this one was
    edited from (an earlier revision), makes it faster without changing the result: the
    sections before and after the edit are taken from the previous text's split.
    """
    return list(_split(text, _tags_key(tags, site), previous, site).sections)


def split_edited(
    old_text: str, text: str, *, site: LinkKinds | None = None
) -> tuple[list[Section], list[Section], dict[int, tuple[int, Edit]]]:
    """`split(old_text)`, `split(text, previous=old_text)` and `edits(text, old_text)` at
    once, as a diff of two revisions asks them (each split looked up once)."""
    tags = _tags_key(None, site)
    old = _split(old_text, tags, None, site)
    done = _split(text, tags, old_text, site, old)
    found = done.edits if done.previous is old_text or done.previous == old_text else {}
    return list(old.sections), list(done.sections), found


def _tags_key(tags: Iterable[str] | None, site: LinkKinds | None) -> frozenset[str]:
    """The extension tags to split by: given, else the site's (a tracker.text.siteinfo.SiteInfo
    has them), else Wikipedia's."""
    if tags is None:
        tags = getattr(site, "extension_tags", None)
    if tags is None:
        return DEFAULT_TAGS
    if isinstance(tags, frozenset):
        return _lowered(tags)  # (a wiki's: the same set at every split)
    return frozenset(t.lower() for t in tags)


@lru_cache(maxsize=64)
def _lowered(tags: frozenset[str]) -> frozenset[str]:
    return frozenset(t.lower() for t in tags)


class _Split(NamedTuple):
    sections: tuple[Section, ...]
    starts: list[int]  # where each section starts (0 for the lead)
    heads: list[_Head]  # each headed section's heading, from its start
    cuts: list[int]  # where tracker.text.headings.scan may start again, in order
    texts: tuple[str, ...]  # the sections' texts, at hand
    edits: dict[int, tuple[int, Edit]]  # see edits()
    previous: str | None  # the text this one was split from (its edits are from it)
    counts: Sequence[int] = ()  # heading nodes (tracker.text.headings.scan_counted) before each cut
    site: LinkKinds | None = None  # what the headings' links are (split's `site`)
    # Where lines start with nothing open (tracker.text.headings.scan_quiet), in order; some
    # may be left out (those of a stretch edited in plain words, of a split made elsewhere).
    quiet: Sequence[Quiet] = ()


# One edit of a section's text: (where, where the old text resumes, the new text there).
Edit = tuple[int, int, str]
_TEXT = operator.attrgetter("text")


def _made(sections: tuple[Section, ...], starts: list[int], heads: list[_Head], cuts: list[int],
          edits: dict[int, tuple[int, Edit]] | None = None, previous: str | None = None,
          counts: Sequence[int] = (), site: LinkKinds | None = None,
          quiet: Sequence[Quiet] = ()) -> _Split:  # fmt: skip
    if not _ordered(starts):
        cuts, counts, quiet = [], [], []  # never so; but reuse relies on it
    texts = tuple(map(_TEXT, sections))
    return _Split(sections, starts, heads, cuts, texts, edits or {}, previous, counts, site, quiet)


def edits(
    text: str, previous: str, *, tags: Iterable[str] | None = None, site: LinkKinds | None = None
) -> dict[int, tuple[int, Edit]]:
    """After split(text, previous=previous): {section index: (old section index, edit)} where
    the split found a section edited in one place in plain words (the others are unknown).

    An edit (start, end, new) says the section's text is the old section's with
    old.text[start:end] replaced by `new` (tracker.text.semantic skips a parse with it).
    """
    done = _cached(text, _tags_key(tags, site), site)
    if done is None or done.previous is None:
        return {}
    if done.previous is not previous and done.previous != previous:
        return {}  # split from another text (the cache had it): its edits are from that one
    return done.edits


# A heading relative to its section's start: (line end, level, raw title start, end, section
# number). Moving a section moves its start only: most of an edited text's sections are the
# old ones moved.
_Head = tuple[int, int, int, int, int]


def _relative(heads: list[Heading]) -> tuple[list[int], list[_Head]]:
    return [h[0] for h in heads], [(b - a, lv, c - a, d - a, no) for a, b, lv, c, d, no in heads]


# Ingest diffs revision n against n-1, then n+1 against n: each text is split twice, the
# second time from the cache, the first time from the text before it. Looked up by identity
# or equality, not by hash: hashing a 60 KB text costs more than comparing it.
_CACHE: list[tuple[str, int, frozenset[str], _Split]] = []  # (text, its length, tags, split)
_CACHE_SIZE = 4  # (each holds a text and its sections: a long article is 0.5 MB)


def _cached(text: str, tags: frozenset[str], site: LinkKinds | None = None) -> _Split | None:
    size = len(text)
    for known, known_size, known_tags, done in reversed(_CACHE[:]):  # a copy: threads add
        if (known is text or (known_size == size and known == text)) and known_tags == tags:
            if done.site is site or done.site == site:
                return done
    return None


def _split(
    text: str,
    tags: frozenset[str],
    previous: str | None,
    site: LinkKinds | None = None,
    before: _Split | None = None,  # the split of `previous`, if at hand
) -> _Split:
    done = _cached(text, tags, site)
    if done is not None:
        return done
    if before is None and previous is not None:
        before = _cached(previous, tags, site)
    if before is not None and previous is not None:
        done = _split_from(previous, before, text, tags)
    else:
        found, cuts, _stop, counts, quiet, _resumed = scan_quiet(text, tags)
        starts, heads = _relative(found)
        starts.insert(0, 0)
        built = _build(text, starts, heads, tags=tags, site=site)
        done = _made(built, starts, heads, cuts, counts=counts, site=site, quiet=quiet)
    _CACHE.append((text, len(text), tags, done))
    del _CACHE[:-_CACHE_SIZE]
    return done


def _ordered(starts: list[int]) -> bool:
    # Cuts part the headings by position: the headings before a cut start before it.
    return all(map(operator.lt, starts[1:], starts[2:]))


def _split_inside(old_text: str, old: _Split, text: str, tags: frozenset[str]) -> _Split | None:
    """`_split_from` in the usual case, without its walk: `text` is `old_text` edited in one
    section, after its heading line, and the section still ends where it did (at a cut, or
    the end). The same split; None when it is not so simple (then the walk decides).

    The sections before it and after it are the old ones; it is scanned as the walk would
    (plain words edited: not at all; else from the quiet line before the edit), and must
    have no heading nor heading node more or less.
    """
    old_starts, old_cuts, old_counts, old_quiet = old.starts, old.cuts, old.counts, old.quiet
    prefix, same = common_ends(old_text, text, old)
    old_size, size = len(old_text), len(text)
    same = min(same, old_size - prefix, size - prefix)  # (not overlapping the prefix)
    shift = size - old_size
    j = bisect.bisect_right(old_starts, prefix) - 1  # the section the edit starts in
    start = old_starts[j]
    after = bisect.bisect_right(old_cuts, start)  # its first cut after its start
    if start and old_cuts[after - 1 : after] != [start]:
        return None  # it does not start at a cut
    last = j + 1 == len(old_starts)
    end = old_size if last else old_starts[j + 1]
    if (old_cuts[after] != end if after < len(old_cuts) else not last) or (
        not last and old_size - same >= end
    ):
        return None  # a cut inside it; or the next one not at a cut, or edited too
    head = old.heads[j - 1] if j else None
    if head is not None and prefix <= start + head[0]:
        return None  # on its heading's line
    edits: dict[int, tuple[int, Edit]] = {}
    tail_from = end  # where the old text's quiet lines are the text's again (moved)
    quiet = _quiet_edit(old_text, start, end, text, start, head) if not last else None
    if quiet is not None:
        if quiet[0] != end + shift:
            return None
        edits[j] = (j, quiet[1])
        calm = _clipped(old_quiet, 0, start, start)  # (none in the stretch: as the walk)
    else:
        calm_from = _calm_line(old_text, start, text, start, old_quiet, old_cuts)
        # From its start (then its heading is found again, the same), or a quiet line.
        begin, number = start, (old_counts[after - 1] if start else 0) + 1
        own = []
        if head is not None:
            line_end, level, raw_start, raw_end, number_ = head
            own = [(start, start + line_end, level, start + raw_start, start + raw_end, number_)]
        if calm_from is not None:
            own = []
            begin, before = calm_from
            number = before + 1
        calm = _clipped(old_quiet, 0, begin, begin - 1)  # (the text before is the same)
        if _has_heading_line(text, begin):
            resume = _resume_points(old_text, text, old_quiet) if old_quiet else []
            scanned = _scan_on(text, tags, begin, number, resume)
            found, _cuts, stop, found_counts, found_quiet, resumed = scanned
        else:
            # Nothing to scan; the quiet lines up to the edit are still quiet (the text
            # before them is the same), for the next edit's scan to start late. (Unless
            # no line starts with "=": a split from scratch keeps none, nor does this one.)
            found, stop, found_counts, found_quiet, resumed = [], None, [], [], None
            if _has_heading_line(text, 0):
                q, q_end = _quiet_range(old_quiet, begin, prefix)
                found_quiet = [
                    (max(lo, begin), min(hi, prefix - 1), c)
                    for lo, hi, c in old_quiet[q:q_end]
                    if max(lo, begin) < prefix
                ]
        if found != own:
            return None
        calm += found_quiet
        if resumed is not None:
            line, here, there = resumed
            if here != there or line >= end + shift:
                return None
            tail_from = line - shift
        elif stop is not None:
            if stop != end + shift or found_counts[-1] != old_counts[after]:
                return None
        elif not last:
            return None
        else:
            tail_from = old_size
    if tail_from < old_size:
        top = calm[-1][1] if calm else -1
        q = _quiet_range(old_quiet, tail_from, old_size + 1)[0]
        calm += [(max(lo, tail_from) + shift, hi + shift, c)
                 for lo, hi, c in old_quiet[q:] if hi + shift > top]  # fmt: skip
    starts = old_starts[: j + 1]
    starts += [s + shift for s in old_starts[j + 1 :]]
    cuts = old_cuts[:after]
    cuts += [c + shift for c in old_cuts[after:]]
    sections = list(old.sections)
    was = sections[j]
    body = text[start : end + shift]
    if head is None:
        sections[j] = Section(0, 0, "", "", body, None, ())
    else:
        sections[j] = Section(j, was.level, was.heading, was.raw_heading, body, was.parent,
                              was.path, min(head[0] + 1, len(body)), was.number)  # fmt: skip
    return _made(tuple(sections), starts, list(old.heads), cuts, edits, old_text,
                 list(old_counts), old.site, calm)  # fmt: skip


def _split_from(old_text: str, old: _Split, text: str, tags: frozenset[str]) -> _Split:
    """Split `text` from the split of `old_text`, scanning again only where they differ.

    Between two cuts (tracker.text.headings.scan) the headings depend on the text between them
    only: where `text` has the old text from one cut to another (and the "=" after it),
    the old headings and cuts are taken, moved (also when an old section was moved: found
    by its start); elsewhere `text` is scanned, cut to cut. Section numbers count the heading
    nodes before: a stretch taken from the old text has its old numbers, shifted by as many
    heading nodes as there are more before it now. A scan also stops at the first line
    where nothing is open, here and at the same line of the old text, after which `text`
    is the old text to the end (an edit in a long section is not scanned to its end).
    """
    inside = _split_inside(old_text, old, text, tags)
    if inside is not None:
        return inside
    old_starts, old_cuts, texts, old_counts = old.starts, old.cuts, old.texts, old.counts
    n_texts, n_cuts, old_size, size = len(texts), len(old_cuts), len(old_text), len(text)
    starts: list[int] = [0]
    heads: list[_Head] = []
    cuts: list[int] = []
    counts: list[int] = []  # the heading nodes before each cut
    count = 0  # the heading nodes before `at`
    kept: list[tuple[int, int, int]] = []  # (n, j, count): sections n... may be old j...
    firsts: dict[str, list[int]] | None = None
    jumped = -1  # the last cut of the new text where an old section was looked for
    found_edits: dict[int, tuple[int, Edit]] = {}
    calm: list[Quiet] = []  # where lines start with nothing open (tracker.text.headings)
    old_quiet = old.quiet
    resume: list[Quiet] | None = None  # old_quiet where the rest is the old text, moved
    end_shift = size - old_size  # (from the end: where the text is the old text again)
    at = at_old = 0  # a cut of the new text, and the old cut with the same text after it
    while True:
        j = -1  # the old section at at_old, if one starts there and it is a cut
        c = bisect.bisect_left(old_cuts, at_old)
        if at_old == at == 0:
            j = 0
        elif at_old > 0 and c < n_cuts and old_cuts[c] == at_old:
            j = bisect.bisect_left(old_starts, at_old, 1)
            j = j if j < len(old_starts) and old_starts[j] == at_old else -1
        # Numbers here are the old ones plus this (if an old section starts at at_old).
        delta = count - (old_counts[c] if j > 0 else 0)
        if j >= 0:
            # Whole old sections from at_old are here: take them, up to the last cut in them.
            # (Compared one by one, in C: no copy of the rest of the text.)
            shift = at - at_old
            same = map(text.startswith, texts[j:], map(shift.__add__, old_starts[j:]))
            try:
                k = j + operator.indexOf(same, False)
            except ValueError:
                k = n_texts
            there = old_starts[k] if k < n_texts else old_size
            here = there + shift
            if k == n_texts and here == size:
                to = there = old_size  # all the rest
            else:
                m = bisect.bisect_right(old_cuts, there) - 1  # its "=" must be the same too
                if m >= 0 and old_cuts[m] == there and text[here : here + 1] != old_text[there]:
                    m -= 1
                to = old_cuts[m] if m >= 0 else 0
            if to > at_old:
                first, last = max(j, 1), bisect.bisect_left(old_starts, to, 1)
                # The old sections that end by `to` have their text here.
                whole = to == old_size or old_starts[last : last + 1] == [to]
                kept.append((len(starts) if j else 0, j, last - j - (not whole)))
                starts += map(shift.__add__, old_starts[first:last])
                heads += _renumbered(old.heads[first - 1 : last - 1], delta)
                lo = bisect.bisect_right(old_cuts, at_old)
                hi = bisect.bisect_right(old_cuts, to)
                cuts += map(shift.__add__, old_cuts[lo:hi])
                counts += map(delta.__add__, old_counts[lo:hi])
                if old_quiet:
                    q, q_end = _quiet_range(old_quiet, at_old, to)
                    calm += [(lo + shift, min(hi, to) + shift, c + delta)
                              for lo, hi, c in old_quiet[q:q_end]]  # fmt: skip
                if to == old_size:
                    break
                at, at_old, count = to + shift, to, counts[-1]
                continue
        if jumped != at and not text.startswith(old_text[at_old : at_old + _SIGN], at):
            # Not the old stretch edited in place: maybe an old section moved here, whole.
            jumped = at  # (once: then it is scanned)
            if firsts is None:
                firsts = _firsts(old_text, old_cuts)
            moved = next((c for c in firsts.get(text[at : at + _SIGN], ()) if c != at_old
                          and _starts_section(text, at, c, old_starts, texts)), -1)  # fmt: skip
            if moved >= 0:
                at_old = moved
                continue
        n = bisect.bisect_right(old_cuts, at_old)
        if j >= 0 and n < n_cuts:
            # Words edited between two cuts: the old headings, no scan needed.
            stretch = texts[j] if old_starts[j + 1 : j + 2] == [old_cuts[n]] else None
            quiet = _quiet_edit(
                old_text, at_old, old_cuts[n], text, at, old.heads[j - 1] if j else None, stretch
            )
            if quiet is not None:
                quiet_end, edit = quiet
                if j:
                    starts.append(at)
                    heads += _renumbered(old.heads[j - 1 : j], delta)
                if stretch is not None:
                    found_edits[len(starts) - 1 if j else 0] = j, edit  # the stretch: section j
                cuts.append(quiet_end)
                count = old_counts[n] + delta
                counts.append(count)
                at, at_old = quiet_end, old_cuts[n]
                continue
        # Scan to the next cut; then guess the old cut with the same text after it: the next
        # one if a stretch was edited in place, else one whose text starts the same way.
        begin, number = at, count + 1
        calm_from = _calm_line(old_text, at_old, text, at, old_quiet, old_cuts) if j >= 0 else None
        if calm_from is not None:
            # The text is the old one from the cut to a line with nothing open: so are the
            # headings and quiet lines up to there, moved; the scan starts at that line.
            line_old, before = calm_from
            shift = at - at_old
            first = bisect.bisect_left(old_starts, at_old, 1)
            last = bisect.bisect_left(old_starts, line_old, first)
            starts += map(shift.__add__, old_starts[first:last])
            heads += _renumbered(old.heads[first - 1 : last - 1], delta)
            q, q_end = _quiet_range(old_quiet, at_old, line_old)
            calm += [(lo + shift, min(hi, line_old - 1) + shift, c + delta)
                     for lo, hi, c in old_quiet[q:q_end]]  # fmt: skip
            begin, number = line_old + shift, before + delta + 1
        if resume is None and old_quiet and _has_heading_line(text, begin):
            resume = _resume_points(old_text, text, old_quiet)  # (else no scan needs them)
        scanned = _scan_on(text, tags, begin, number, resume or [])
        found, _cuts, stop, found_counts, found_quiet, resumed = scanned
        found_starts, found_heads = _relative(found)
        starts += found_starts
        heads += found_heads
        calm += found_quiet
        if resumed is not None:
            # From a line with nothing open, the text is the old text's to the end: so are
            # its sections, cuts and quiet lines, moved, numbered after the nodes before.
            line, here, there = resumed
            line_old, delta = line - end_shift, here - there
            first = bisect.bisect_right(old_starts, line_old)  # (not 0: the lead starts at 0)
            if first < n_texts:
                kept.append((len(starts), first, n_texts - first))
            starts += map(end_shift.__add__, old_starts[first:])
            heads += _renumbered(old.heads[first - 1 :], delta)
            lo = bisect.bisect_right(old_cuts, line_old)
            cuts += map(end_shift.__add__, old_cuts[lo:])
            counts += map(delta.__add__, old_counts[lo:])
            last = calm[-1][1] if calm else -1
            q = _quiet_range(old_quiet, line_old, old_size + 1)[0]
            calm += [(max(lo, line_old) + end_shift, hi + end_shift, c + delta)
                      for lo, hi, c in old_quiet[q:] if hi + end_shift > last]  # fmt: skip
            break
        if stop is None:
            break
        cuts.append(stop)
        count = found_counts[-1]
        counts.append(count)
        n = bisect.bisect_right(old_cuts, at_old)
        at, at_old = stop, old_cuts[n] if at_old >= 0 and n < n_cuts else -1
        if at_old < 0 or not text.startswith(old_text[at_old : at_old + _SIGN], at):
            if firsts is None:
                firsts = _firsts(old_text, old_cuts)
            found_at = firsts.get(text[at : at + _SIGN], [-1])
            at_old = next((c for c in found_at if c >= at_old), found_at[0])
    built = _build(text, starts, heads, old, kept, tags, old.site)  # (the same site: cached so)
    return _made(built, starts, heads, cuts, found_edits, old_text, counts, old.site, calm)


_FAR = 1 << 62  # after any position


def _clipped(quiet: Sequence[Quiet], start: int, end: int, last: int) -> list[Quiet]:
    """The stretches `_quiet_range` gives, each ending by `last`."""
    q, q_end = _quiet_range(quiet, start, end)
    return [s if s[1] <= last else (s[0], last, s[2]) for s in quiet[q:q_end]]


def _quiet_range(quiet: Sequence[Quiet], start: int, end: int) -> tuple[int, int]:
    """The stretches of `quiet` (in order, apart) from the one holding `start` or after
    it to the last starting before `end`, as a slice."""
    first = bisect.bisect_right(quiet, (start, _FAR, _FAR))
    if first and quiet[first - 1][1] >= start:
        first -= 1
    return first, bisect.bisect_left(quiet, (end,), first)


def _calm_line(
    old_text: str, at_old: int, text: str, at: int, old_quiet: Sequence[Quiet], old_cuts: list[int]
) -> tuple[int, int] | None:
    """The last line of the old text after cut `at_old`, before the next cut, that starts
    with nothing open (`old_quiet`) and that `text` has from `at` on, up to its first
    character: (where it starts in the old text, the heading nodes before it). None if none.

    The scan of the old text reached it in a state that the text from the cut decided
    (every search it made found its end before it): the scan of `text` reaches it so too.
    """
    if not old_quiet:
        return None
    n = bisect.bisect_right(old_cuts, at_old)
    end = old_cuts[n] if n < len(old_cuts) else len(old_text)
    prefix = common_ends(old_text, text)[0]
    if at == at_old <= prefix:
        shared = min(prefix, end, len(text)) - at  # (the texts' common start says it)
    else:
        shared = _common_prefix(old_text[at_old:end], text, at)
    limit = at_old + shared - 1  # the last shared
    q = _quiet_range(old_quiet, limit, limit + 1)[0]
    if q == len(old_quiet) or old_quiet[q][0] > limit:
        q -= 1  # (the stretch holding `limit`, else the one before it)
    while q >= 0 and old_quiet[q][1] > at_old:
        lo, hi, before = old_quiet[q]
        newline = old_text.rfind("\n", max(lo, at_old + 1) - 1, min(hi, limit))
        if newline >= 0:
            return newline + 1, before
        q -= 1
    return None


def _resume_points(old_text: str, text: str, old_quiet: Sequence[Quiet]) -> list[Quiet]:
    """The stretches of `old_quiet` where a line starts that `text` has, with the old
    text's rest from the newline before it, moved to `text`'s positions."""
    prefix, same = common_ends(old_text, text)
    shorter = min(len(old_text), len(text))
    if same == shorter - prefix:  # (it may go on over the common start)
        same = _common_suffix(old_text, text, shorter, at_least=same)
    first = len(old_text) - same + 1  # an old line starting from here: its "\n" is the same
    shift = len(text) - len(old_text)
    q = _quiet_range(old_quiet, first, len(old_text) + 1)[0]
    return [(max(lo, first) + shift, hi + shift, c) for lo, hi, c in old_quiet[q:] if hi >= first]


# The last `_scan_on`: its text, tags, start, number and resume lines, and what it found.
_SCANNED: tuple[str, frozenset[str], int, int, list[Quiet], QuietScan] | None = None


def _scan_on(
    text: str, tags: frozenset[str], begin: int, number: int, resume: list[Quiet]
) -> QuietScan:
    """tracker.text.headings.scan_quiet from `begin` (heading nodes numbered from `number`) to
    the first cut after it or the first line of `resume`. The last scan is remembered:
    when the shortcut for the usual edit (`_split_inside`) gives up after scanning, the
    walk scans the same stretch the same way."""
    global _SCANNED
    last = _SCANNED
    if last is not None and last[0] is text and last[1:5] == (tags, begin, number, resume):
        return last[5]
    found = scan_quiet(text, tags, begin, range(begin + 1, len(text) + 1), number, resume)
    _SCANNED = (text, tags, begin, number, resume, found)
    return found


def _has_heading_line(text: str, at: int) -> bool:
    """Whether a line starts with "=" from `at` on: else a scan from there finds nothing
    (tracker.text.headings.scan_quiet returns at once)."""
    return text.startswith("=", at) or text.find("\n=", at) >= 0


def _renumbered(heads: list[_Head], delta: int) -> list[_Head]:
    """Old headings with their section numbers moved by `delta` (mostly 0: the same list)."""
    if not delta:
        return heads
    return [(end, level, start, stop, number + delta) for end, level, start, stop, number in heads]


def _starts_section(
    text: str, at: int, c: int, old_starts: list[int], texts: tuple[str, ...]
) -> bool:
    """Whether an old section starts at old cut `c` and `text` has all of it at `at`."""
    k = bisect.bisect_left(old_starts, c, 1)
    return k < len(texts) and old_starts[k] == c and text.startswith(texts[k], at)


def _firsts(old_text: str, old_cuts: list[int]) -> dict[str, list[int]]:
    """The old cuts by the text that starts there."""
    firsts: dict[str, list[int]] = {}
    for c in old_cuts:
        firsts.setdefault(old_text[c : c + _SIGN], []).append(c)
    return firsts


_SIGN = 64  # characters that find the old cut a new one may correspond to
# What the heading scanner stops at or looks for: "{{", "[[", "-{", "<!--", "<tag", "\n=",
# "}}", "]]", "}-", "|", "=", "-->", ">", "/>"; an edit without these changes no heading. A
# "\n" does, only before "=" (or in a heading's line, or by a comment: not allowed there).
_LOUD = re.compile(r"[{}\[\]<>|=\-/!]")
_LOUD_CHARS = frozenset("{}[]<>|=-/!")  # one character each
_TAG_GAP = re.compile(r"/?[^\s<>]*\s*")  # from "<": maybe still in a tag name, "</x  >"


def _quiet_edit(
    old_text: str,
    at_old: int,
    to_old: int,
    text: str,
    at: int,
    head: _Head | None,
    old: str | None = None,
) -> tuple[int, Edit] | None:
    """Where the stretch of `text` from `at` ends, and its edit, if it is the old text's from
    cut `at_old` to cut `to_old` with one edit that cannot change what the heading scanner
    sees; else None.

    The edit, old and new, must hold none of the characters the scanner stops at or looks
    for but newlines (nor make one of its tokens by joining the text around it, nor a line
    start with "="); not be on the heading's line or on lines with a comment; not follow a
    "<" that may still be reading a tag name.
    The stretch must have no other heading line. The scan of the new stretch then meets the
    same tokens at the same places, moved, and stops at the same cut: it is not needed.
    `old`: the old stretch, if at hand (a section's text).
    """
    if old is None:
        old = old_text[at_old:to_old]
    if "\n=" in old or (head is None and old[:1] == "="):
        return None  # a heading line inside a construct: its line may become a heading
    prefix, same = common_ends(old_text, text)
    if at == at_old <= prefix:
        p = min(prefix - at, len(old), len(text) - at)  # (the texts' common start says it)
    else:
        p = _common_prefix(old, text, at)
    # Where the old text resumes: near, after an edit (a far one is a scan's business).
    end = text.find(old_text[to_old : to_old + _SIGN], at + p, at + 2 * len(old) + 4096)
    if end < 0:
        return None
    limit = min(len(old), end - at) - p
    delta = end - at - len(old)
    rest = len(old_text) - to_old
    if delta and text.startswith(old[p + max(-delta, 0) :], at + p + max(delta, 0)):
        s = limit  # an insertion or a deletion at p: all the rest is the same
    elif same >= rest and end - to_old == len(text) - len(old_text):
        s = min(same - rest, limit)  # (the texts' common end goes on into it)
    else:
        s = _common_suffix(old, text, limit, end)
    removed, added = old[p : len(old) - s], text[at + p : end - s]
    left, right = at_old + p, at_old + len(old) - s
    before = old_text[left - 1 : left] if left else "\n"  # the text starts a line
    after = old_text[right : right + 1]
    line_start = old.rfind("\n", 0, p) + 1
    if _LOUD.search(removed) or _LOUD.search(added):
        # Whole [[links]] are skipped whole by the scanner: fine, in plain text.
        if _LOUD.search(_SIMPLE_LINK.sub("", removed)) or _LOUD.search(_SIMPLE_LINK.sub("", added)):
            return None
        if before in _LOUD_CHARS or after in _LOUD_CHARS:
            return None
        link = old.rfind("[[", 0, p)
        if link >= 0 and old.find("]]", link, p) < 0:
            return None  # maybe in a link
    elif not removed or not added:
        # The text around the edit meets (or met): "[" "[" is "[[", "-" "->" is "-->".
        if before in _LOUD_CHARS and after in _LOUD_CHARS:
            return None
    if head is not None and p <= head[0]:
        return None  # on the heading's line
    if "\n=" in before + added + after or text[end - 1 : end] != "\n":
        return None  # a new heading line; or the stretch no longer ends a line
    line_end = old.find("\n", len(old) - s)  # the lines the edit is on: no comment
    if old.find("<!--", line_start, line_end) >= 0 or old.find("-->", line_start, line_end) >= 0:
        return None  # blanks around a comment decide whether it eats its line
    lt = old.rfind("<", 0, p)  # on an earlier line too: "</ref\n" + " >" closes a tag
    if lt >= 0 and _TAG_GAP.fullmatch(old, lt + 1, p):
        return None
    return end, (p, len(old) - s, added)


# The last two texts `common_ends` compared, and what it found.
_ENDS: tuple[str, str, int, int] = ("", "", 0, 0)


def common_ends(old: str, new: str, parts: _Split | None = None) -> tuple[int, int]:
    """How long the common start of two texts is, and their common end after it (not
    overlapping it). The last pair is remembered: the split of an edited text and the
    word diff of its edited section ask about the same two texts.

    `parts`: the split of `old`. Its sections found whole in `new`, in place from either
    end, are compared in C without copies: only the first and the last edited are
    searched (a long page costs what a short one does)."""
    global _ENDS
    last = _ENDS
    if last[0] is old and last[1] is new:
        return last[2], last[3]
    shorter = min(len(old), len(new))
    if parts is None or len(parts.texts) < 2 or shorter < _BY_SECTIONS:
        prefix = _common_prefix(old, new, 0)
        found = prefix, _common_end(old, new, shorter - prefix)
    else:
        texts, starts = parts.texts, parts.starts
        k = _first_false(map(new.startswith, texts, starts))
        prefix = shorter if k < 0 else starts[k] + _common_prefix(texts[k], new, starts[k])
        # From the end: each old section where it ends in the new text, the rest the same.
        ends = [*starts[1:], len(old)]
        shift = len(new) - len(old)
        moved = [max(end + shift, 0) for end in reversed(ends)]
        k = _first_false(map(new.endswith, reversed(texts), repeat(0), moved))
        if k < 0:
            same = shorter
        else:
            k = len(texts) - 1 - k
            end = moved[len(texts) - 1 - k]
            within = _common_suffix(texts[k], new, min(len(texts[k]), end), end)
            same = len(old) - ends[k] + within
        found = prefix, min(same, shorter - prefix)
    _ENDS = (old, new, *found)
    return found


_BY_SECTIONS = 8_192  # characters from which `common_ends` compares whole sections first


def _common_end(a: str, b: str, limit: int) -> int:
    """`_common_suffix` of two whole texts, found from `limit` down: an edit inserts,
    removes or replaces a few characters, so the common end is all of what is left, or
    nearly (steps doubling down to one that is common, then a search between)."""
    if limit <= 0 or b.endswith(a[len(a) - limit :]):
        return max(limit, 0)
    above, step = limit, 1  # (`above` is not common)
    while (length := max(limit - step, 0)) and not b.endswith(a[len(a) - length :]):
        above, step = length, step * 2
    return _common_suffix(a, b, above - 1, at_least=length)


def _first_false(flags: Iterator[bool]) -> int:
    """The index of the first false one of `flags` (in C); -1 if none is."""
    try:
        return operator.indexOf(flags, False)
    except ValueError:
        return -1


def _common_prefix(a: str, b: str, at: int) -> int:
    """The length of the common start of `a` and `b[at:]` (a binary search, C comparisons)."""
    lo, hi = 0, min(len(a), len(b) - at)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if b.startswith(a[lo:mid], at + lo):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int, end: int | None = None, *, at_least: int = 0) -> int:
    """The length of the common end of `a` and `b[:end]`, at most `limit` (and, known, at
    least `at_least`)."""
    end = len(b) if end is None else end
    lo, hi = at_least, max(limit, 0)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if b.startswith(a[len(a) - mid : len(a) - lo], end - mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _build(
    text: str,
    starts: list[int],
    heads: list[_Head],
    old: _Split | None = None,
    kept: list[tuple[int, int, int]] | None = None,
    tags: frozenset[str] = DEFAULT_TAGS,
    site: LinkKinds | None = None,
) -> tuple[Section, ...]:
    """The sections of `text`, from where they start and their headings.

    `kept` says which may be `old` sections: (n, j, count) for sections n to n + count - 1,
    old sections j... moved, if each ends where the old one did. Such a section is the old
    one if its place in the outline is the same, else has its text and heading.
    """
    sections: list[Section] = []
    ancestors: list[Section] = []  # the open headings, levels increasing
    kept = kept or []
    r = n = 0
    count, size, kept_count = len(starts), len(text), len(kept)
    while n < count:
        start = starts[n]
        end = starts[n + 1] if n + 1 < count else size
        while r < kept_count and kept[r][0] + kept[r][2] <= n:
            r += 1
        was = None  # the old section with this text
        if old is not None and r < kept_count and kept[r][0] <= n:
            n0, j0, run = kept[r]
            j = j0 + n - n0
            if j == n and _same_outline(_chain(old.sections, n - 1), ancestors):
                # The same place in the outline: so are the old sections after it here (the
                # last one, if it ends where it did), with the same numbers if the first has.
                k = n0 + run
                last = starts[k] if k < count else size
                if last - starts[k - 1] != len(old.sections[k - 1].text):
                    k -= 1
                first = n or 1
                if k > first and old.sections[first].number != heads[first - 1][4]:
                    k = n
                if k > n:
                    sections += old.sections[n:k]
                    ancestors = _chain(sections, k - 1)
                    n = k
                    continue
            if end - start == len(old.sections[j].text):
                was = old.sections[j]
        if not n:
            sections.append(was or Section(0, 0, "", "", text[:end], None, ()))
            n += 1
            continue
        line_end, level, raw_start, raw_end, number = heads[n - 1]
        while ancestors and ancestors[-1].level >= level:
            ancestors.pop()
        parent = ancestors[-1] if ancestors else None
        index = parent.index if parent else None
        if was is not None:
            path = (parent.path if parent else ()) + (was.heading,)
            # (As dataclasses.replace, a few times faster; and the content is the same.)
            section = Section(
                n,
                was.level,
                was.heading,
                was.raw_heading,
                was.text,
                index,
                path,
                was.body_start,
                number,
            )
            if "content" in was.__dict__:
                section.__dict__["content"] = was.content
        else:
            raw = text[start + raw_start : start + raw_end]
            # A blank title shows as the heading line: no heading is empty.
            heading = heading_text(raw, tags, site) or f"{'=' * level}{raw}{'=' * level}"
            path = (parent.path if parent else ()) + (heading,)
            body_start = min(line_end + 1, end - start)
            section = Section(
                n, level, heading, raw, text[start:end], index, path, body_start, number
            )
        sections.append(section)
        ancestors.append(section)
        n += 1
    return tuple(sections)


def _same_outline(a: list[Section], b: list[Section]) -> bool:
    """Whether two chains of sections (_chain) are the same places in the outline."""
    if len(a) != len(b):
        return False
    if all(map(operator.is_, a, b)):
        return True  # (mostly: the same sections, kept)
    return [(s.index, s.level, s.path) for s in a] == [(s.index, s.level, s.path) for s in b]


def _chain(sections: Sequence[Section], n: int) -> list[Section]:
    """Section n and its ancestors, from the top level down (the lead has none)."""
    chain = []
    while n > 0:
        chain.append(sections[n])
        n = sections[n].parent or 0
    chain.reverse()
    return chain


# ---- a split made elsewhere -------------------------------------------------------------


@dataclass(frozen=True)
class SplitDelta:
    """A text's split, made in another process, as what it changed of the split of the text
    before it (`split_delta`): most sections of an edited text are the sections it had, sent
    by their place; the others whole. `adopt` makes the split again from it and the split of
    the text before, sharing those sections as a split made here would, and caches it."""

    parts: tuple[int | Section, ...]  # each section: the earlier text's k-th, or a new one
    starts: list[int]
    heads: list[_Head]
    cuts: list[int]
    counts: tuple[int, ...]
    edits: dict[int, tuple[int, Edit]]
    from_earlier: bool  # split from the earlier text (its edits are from it)
    tags: frozenset[str]
    length: int  # of the text, in characters
    follows: int  # `_shape` of the earlier text's split: what this delta follows on from


def split_delta(text: str, earlier: str | None, *, site: LinkKinds | None = None) -> SplitDelta:
    """Split `text` (from `earlier`, the text before it, as `split(previous=...)` does) and
    say it as a `SplitDelta` against the split of `earlier`."""
    tags = _tags_key(None, site)
    done = _split(text, tags, earlier, site)
    before = _cached(earlier, tags, site) if earlier is not None else None
    place = {id(s): k for k, s in enumerate(before.sections)} if before is not None else {}
    from_earlier = earlier is not None and (done.previous is earlier or done.previous == earlier)
    return SplitDelta(
        tuple(place.get(id(s), s) for s in done.sections),
        done.starts,
        done.heads,
        done.cuts,
        tuple(done.counts),
        done.edits if from_earlier else {},
        from_earlier,
        tags,
        len(text),
        _shape(before),
    )


def _shape(done: _Split | None) -> int:
    """Where a split's sections start and how long its text is, as one number (ints hash
    the same in every process)."""
    if done is None:
        return 0
    return hash((*done.starts, sum(map(len, done.texts))))


@dataclass(frozen=True)
class Adopted:
    """A text made again from a `SplitDelta`, with its split: what the next delta follows
    on from. Kept by whoever adopts (not only in the split cache, which other threads use)."""

    text: str
    split: _Split


def adopt(delta: SplitDelta, earlier: Adopted | None, *, site: LinkKinds | None = None) -> Adopted:
    """The text of a `SplitDelta` against `earlier` (what the delta before it gave), its
    split cached as if made here; ValueError if the delta does not follow on from it."""
    if earlier is None and any(isinstance(p, int) for p in delta.parts):
        raise ValueError("the text before it has not been split here")
    if earlier is not None and delta.follows and _shape(earlier.split) != delta.follows:
        raise ValueError("the split does not follow on from the text before it")
    known = earlier.split.sections if earlier is not None else ()
    try:
        sections = tuple(known[p] if isinstance(p, int) else p for p in delta.parts)
    except IndexError:
        raise ValueError("the split does not follow on from the text before it") from None
    text = "".join(s.text for s in sections)
    if len(text) != delta.length:
        raise ValueError("the sections do not make the text")
    done = _made(
        sections,
        delta.starts,
        delta.heads,
        delta.cuts,
        delta.edits,
        earlier.text if earlier is not None and delta.from_earlier else None,
        delta.counts,
        site,
    )
    _CACHE.append((text, len(text), delta.tags, done))
    del _CACHE[:-_CACHE_SIZE]
    return Adopted(text, done)
