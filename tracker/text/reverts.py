"""Reverts as MediaWiki defines them (EditResultBuilder, MediaWiki 1.36+).

A manual revert restores the exact content (sha1) of one of the revisions before its
parent, at most ``RADIUS`` of them (``$wgManualRevertSearchRadius``: the query skips the
parent, the page's latest revision at save time, and looks at the next 15). The same
content as the parent is a null edit (a move, a protection), not a revert. The revisions
between the restored one and the revert are reverted.

MediaWiki's own tags count too, where the source gives them: a revision tagged
``mw-rollback``, ``mw-undo`` or ``mw-manual-revert`` whose content matches an earlier
revision farther back than the radius (a rollback of a long run of edits) restores that
one; a revision tagged ``mw-reverted`` is reverted even where no content match says so.

Everything here works on history order: by timestamp, then revision id.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

RADIUS = 15
REVERT_TAGS = frozenset({"mw-rollback", "mw-undo", "mw-manual-revert"})
REVERTED_TAG = "mw-reverted"


@dataclass(frozen=True)
class Rev:
    """What revert detection reads of a revision."""

    revid: int
    sha1: str | None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Revert:
    """``revid`` restores the content of ``restored``; ``reverted`` are the revisions between
    them, in history order (None: too many to keep at hand; the caller reads the range)."""

    revid: int
    restored: int
    reverted: tuple[int, ...] | None


class Detector:
    """Feed revisions in history order; `process` says whether each one is a revert.

    It keeps the parent and the ``RADIUS`` revisions before it. `lookup(sha1)`, if given,
    finds the latest earlier revision with that content anywhere in the history (for
    tagged reverts beyond the radius); it must only know revisions already processed.
    """

    def __init__(
        self, recent: Iterable[Rev] = (), lookup: Callable[[str], int | None] | None = None
    ):
        self.window: deque[Rev] = deque(recent, maxlen=RADIUS + 1)
        self.lookup = lookup

    def process(self, rev: Rev) -> Revert | None:
        revert = self._find(rev)
        self.window.append(rev)
        return revert

    def _find(self, rev: Rev) -> Revert | None:
        if not rev.sha1 or not self.window:
            return None  # hidden content, or the page's first revision
        parent = self.window[-1]
        if rev.sha1 == parent.sha1:
            return None  # a null edit: nothing reverted
        before = list(self.window)[:-1]  # the RADIUS revisions before the parent
        for k in range(len(before) - 1, -1, -1):
            if before[k].sha1 == rev.sha1:
                reverted = tuple(r.revid for r in before[k + 1 :]) + (parent.revid,)
                return Revert(rev.revid, before[k].revid, reverted)
        if self.lookup is not None and REVERT_TAGS & set(rev.tags):
            restored = self.lookup(rev.sha1)
            if restored is not None and restored not in (r.revid for r in self.window):
                return Revert(rev.revid, restored, None)
        return None


def detect(history: Sequence[Rev]) -> tuple[dict[int, int], dict[int, int]]:
    """Every revert of a whole history in history order: ({revert: restored revision},
    {reverted revision: the first revert that reverted it})."""
    revert_of: dict[int, int] = {}
    reverted_by: dict[int, int] = {}
    position = {rev.revid: k for k, rev in enumerate(history)}
    latest: dict[str, int] = {}  # sha1 -> the latest revision processed with it
    detector = Detector(lookup=latest.get)
    for k, rev in enumerate(history):
        found = detector.process(rev)
        if rev.sha1:
            latest[rev.sha1] = rev.revid
        if found is None:
            continue
        revert_of[rev.revid] = found.restored
        between = found.reverted
        if between is None:
            between = tuple(r.revid for r in history[position[found.restored] + 1 : k])
        for revid in between:
            reverted_by.setdefault(revid, rev.revid)
    tagged_reverted(history, reverted_by)
    return revert_of, reverted_by


def tagged_reverted(history: Sequence[Rev], reverted_by: dict[int, int]) -> None:
    """Mark the revisions MediaWiki tagged ``mw-reverted`` that content did not show as
    reverted: reverted by the first later revision with a revert tag, if there is one."""
    next_revert: int | None = None
    for rev in reversed(history):
        if REVERTED_TAG in rev.tags and rev.revid not in reverted_by and next_revert:
            reverted_by[rev.revid] = next_revert
        if REVERT_TAGS & set(rev.tags):
            next_revert = rev.revid
