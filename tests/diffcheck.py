"""What every diff must be, whatever the texts: the properties tests/test_diff.py and
tests/test_adversarial.py check."""

from __future__ import annotations

import json

from tracker.text.diff import TextDiff, content
from tracker.text.sections import split
from tracker.text.worddiff import apply_word_diff

WORD_OPS = ("insert", "delete", "move")
KINDS = {"added", "removed", "renamed", "moved", "edited"}


def assert_well_formed(old_text: str, new_text: str, old_ids: list[str], result: TextDiff) -> None:
    """Every section of both texts once, in order; word operations that rebuild each new
    section's content from its old one (and empty a removed one's); JSON-ready records."""
    old, new = split(old_text), split(new_text)
    entries = result.sections
    assert len(result.new_ids) == len(new) == len(set(result.new_ids))

    # The new sections, in order, are the entries that are not removed.
    kept = [e for e in entries if "removed" not in e["kinds"]]
    assert [e["id"] for e in kept] == result.new_ids
    assert [tuple(e["path"]) for e in kept] == [s.path for s in new]
    # Every old section is either matched (its id lives on) or removed, once.
    old_seen = [e["id"] for e in entries if e["id"] in old_ids]
    assert sorted(old_seen) == sorted(old_ids)
    assert len(entries) == len(new) + sum("removed" in e["kinds"] for e in entries)

    by_old_id = dict(zip(old_ids, old, strict=True))
    for entry, section in zip(kept, new, strict=True):
        ops = [c for c in entry["changes"] if c["type"] in WORD_OPS]
        before = "" if "added" in entry["kinds"] else content(by_old_id[entry["id"]])
        assert apply_word_diff(before, ops) == content(section)
        assert ("edited" in entry["kinds"]) == (bool(ops) and "added" not in entry["kinds"])
    for entry in entries:
        if "removed" in entry["kinds"]:
            ops = [c for c in entry["changes"] if c["type"] in WORD_OPS]
            assert apply_word_diff(content(by_old_id[entry["id"]]), ops) == ""
        assert set(entry["kinds"]) <= KINDS
        assert all(isinstance(c.get("type"), str) for c in entry["changes"])
    assert all(isinstance(c.get("type"), str) for c in result.page_changes)
    json.dumps([entries, result.page_changes])  # plain data


def clear_caches() -> None:
    """Forget every text the diff remembers (splits, extractions, headings, word pairs)."""
    from tracker.text import headline, lineage, sections
    from tracker.text.semantic import paragraphs as semantic_paragraphs
    from tracker.text.semantic import read as semantic_read

    sections._CACHE.clear()
    for cache in (
        semantic_paragraphs._BLOCKS,
        semantic_read._CONSTRUCTS,
        semantic_read._UNREADABLE,
    ):
        cache.clear()
    for by_site in semantic_read._BY_SITE.values():
        by_site.clear()
    semantic_paragraphs._depth.cache_clear()
    headline.heading_text.cache_clear()
    lineage._shingles.cache_clear()
