"""Section lineage: matching by heading first, the page-level block left out of similarity,
and far-apart diffs that follow the stored lineage."""

from __future__ import annotations

from pathlib import Path

from trackerutil import SEED_SNAPSHOT, SEED_TITLE

from tracker.fetch.archive import import_snapshot
from tracker.history import page_diff
from tracker.store import Store
from tracker.text.diff import diff_texts

PAGE_BLOCK = "\n[[Category:Languages]]\n[[Category:Greetings]]\n[[de:Hallo]]\n[[nl:Hallo]]\n"


def kinds_by_path(result) -> dict[tuple[str, ...], list[str]]:
    return {tuple(s["path"]): s["kinds"] for s in result.sections}


def test_lineage_section_appended_after_the_last_keeps_the_old_one() -> None:
    # The same heading twice (as Wiktionary's "Noun" under each language); the new one is
    # appended last and the category block moves under it.
    old = (
        "Intro.\n\n== English ==\n=== Noun ===\nA greeting used when meeting someone.\n"
        + PAGE_BLOCK
    )
    new = (
        "Intro.\n\n== English ==\n=== Noun ===\nA greeting used when meeting someone.\n\n"
        "== English ==\n=== Noun ===\nAn exclamation of surprise in old usage.\n" + PAGE_BLOCK
    )
    result = diff_texts(old, new, ["lead", "english", "noun"], id_prefix="n")
    assert result.new_ids[:3] == ["lead", "english", "noun"]
    assert result.new_ids[3:] == ["n3", "n4"]
    entries = {s["id"]: s["kinds"] for s in result.sections}
    assert entries["noun"] == ["edited"] and entries["n4"] == ["added"]


def test_lineage_similarity_ignores_the_page_level_block() -> None:
    # Both sections renamed and swapped; the category block stays last, so it moves from
    # "Career" to what "Early life" became. It must not make those two look alike.
    old = (
        "Lead.\n\n== Early life ==\nBorn in 1901 in a village.\n\n"
        "== Career ==\nWorked as a teacher.\n" + PAGE_BLOCK
    )
    new = (
        "Lead.\n\n== Work ==\nWorked as a teacher.\n\n"
        "== Childhood ==\nBorn in 1901 in a village.\n" + PAGE_BLOCK
    )
    result = diff_texts(old, new, ["lead", "early", "career"], id_prefix="n")
    assert result.new_ids == ["lead", "career", "early"]


def test_lineage_far_apart_diff_follows_stored_lineage(tmp_path: Path) -> None:
    with Store(tmp_path / "t.db") as store:
        import_snapshot(store, SEED_SNAPSHOT, "seed")
        rows = store.revisions(store.find_page(SEED_TITLE)["id"])
        diff = page_diff(store, SEED_TITLE, rows[0]["revid"], rows[-1]["revid"])
    by_path = {tuple(s["path"]): s for s in diff["sections"]}
    bosnia = by_path[("Military relations and understanding", "Cooperation on Bosnian War")]
    assert "renamed" in bosnia["kinds"] and "added" not in bosnia["kinds"]
    assert bosnia["old_path"] == ["Military relations and understanding", "Cooperation in Bosnia"]
    assert not any("removed" in s["kinds"] for s in diff["sections"])
