"""Text triggers: a subscription's ``filters.added_text``, ``removed_text`` and ``text`` keep
only the sections whose added, removed, or either words match, and the digest shows what
matched.

One rule for every value: written between slashes (``"/cease-?fire/"``) it is a regular
expression in Python's syntax, matched as written (``(?i)`` ignores case); anything else is
plain text, matched case-insensitively anywhere in the changed words, a run of spaces in it
matching any run of whitespace. Matching looks at the words a section's net diff (the whole
window's effect) inserted or deleted, one run at a time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tracker.config.settings import Filters

MAX_MATCHES = 10  # distinct matched strings kept per section


def compile_trigger(value: str) -> re.Pattern[str]:
    """The pattern of a trigger value; raises re.error for an invalid regular expression
    and ValueError for an empty one."""
    if len(value) >= 2 and value.startswith("/") and value.endswith("/"):
        body = value[1:-1]
        if not body:
            raise ValueError("an empty regular expression matches everything")
        return re.compile(body)
    words = value.split()
    if not words:
        raise ValueError("empty text matches everything")
    return re.compile(r"\s+".join(re.escape(word) for word in words), re.IGNORECASE)


def trigger_problem(value: str) -> str | None:
    """What is wrong with a trigger value, in one line (for config errors); None if fine."""
    try:
        pattern = compile_trigger(value)
    except re.error as exc:
        return f"{value!r} is not a valid regular expression: {exc}"
    except ValueError as exc:
        return str(exc)
    if pattern.search(""):
        return f"{value!r} matches empty text, so every change; make it match a word"
    return None


@dataclass(frozen=True)
class Triggers:
    """The compiled text triggers of a subscription, by which side of a change they read."""

    added: tuple[re.Pattern[str], ...] = ()
    removed: tuple[re.Pattern[str], ...] = ()

    @classmethod
    def of(cls, filters: Filters) -> Triggers:
        either = tuple(compile_trigger(v) for v in filters.text)
        return cls(
            tuple(compile_trigger(v) for v in filters.added_text) + either,
            tuple(compile_trigger(v) for v in filters.removed_text) + either,
        )

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)

    def patterns(self, op: str) -> tuple[re.Pattern[str], ...]:
        """The patterns that read a segment or change of this kind."""
        if op in ("ins", "insert"):
            return self.added
        if op in ("del", "delete"):
            return self.removed
        return ()

    def section_matches(self, changes: list[dict[str, Any]]) -> list[str]:
        """The distinct strings the triggers found in a section's inserted and deleted
        words (empty: the section did not trigger)."""
        found: dict[str, None] = {}
        for change in changes:
            for pattern in self.patterns(str(change.get("type"))):
                for match in pattern.finditer(str(change.get("text", ""))):
                    if match.group() and len(found) < MAX_MATCHES:
                        found.setdefault(match.group())
        return list(found)

    def spans(self, kind: str, text: str) -> list[tuple[int, int]]:
        """Where the triggers match in a changed piece of a reader diff (its kind:
        "insert", "delete"...; moved text is neither added nor removed)."""
        return _spans(self.patterns(kind), text)

    def mark(self, segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Word segments ({"op", "text"}) with, on each inserted or deleted one a trigger
        matched in, ``"hits"``: the [start, end) offsets of the matches in its text."""
        out = []
        for segment in segments:
            spans = _spans(self.patterns(segment["op"]), segment["text"])
            out.append(segment | {"hits": [list(span) for span in spans]} if spans else segment)
        return out


def _spans(patterns: tuple[re.Pattern[str], ...], text: str) -> list[tuple[int, int]]:
    """The matched spans of all patterns in ``text``, overlapping ones merged, in order."""
    spans = sorted(
        (m.start(), m.end()) for p in patterns for m in p.finditer(text) if m.end() > m.start()
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
