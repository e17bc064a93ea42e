"""tracker.text.diff: section lineage, kinds, changes, and the text rendering."""

from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from diffcheck import assert_well_formed
from genhistory import generate
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tracker.text import diff, sections
from tracker.text.diff import diff_texts, render_text
from tracker.text.headings import scan
from tracker.text.sections import split
from tracker.text.semantic import compare as semantic_compare
from tracker.text.semantic import paragraphs as semantic_paragraphs
from tracker.text.semantic import read as semantic_read
from tracker.text.siteinfo import SiteInfo
from tracker.text.worddiff import word_counts

DATA = Path(__file__).parent / "data"
CASES = yaml.safe_load((DATA / "diff_cases.yaml").read_text("utf-8"))
SNAPSHOT = Path(__file__).resolve().parent.parent / "snapshots" / "pakistan-nato-relations.xml"
EXPORT_NS = "{http://www.mediawiki.org/xml/export-0.11/}"


def _matches(expected: dict, actual: dict) -> bool:
    return all(actual.get(key) == value for key, value in expected.items())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_diff_cases(case):
    site = SiteInfo.from_api(case["site"]) if "site" in case else None
    result = diff_texts(case["old"], case["new"], site=site)
    got = [(e["path"], e["kinds"]) for e in result.sections]
    want = [(e["path"], e["kinds"]) for e in case["sections"]]
    assert got == want
    for entry, expected in zip(result.sections, case["sections"], strict=True):
        if "old_path" in expected:
            assert entry["old_path"] == expected["old_path"], entry
        if "words" in expected:
            assert [entry["words_added"], entry["words_removed"]] == expected["words"], entry
        for change in expected.get("changes", []):
            assert any(_matches(change, c) for c in entry["changes"]), (change, entry["changes"])
        if expected.get("only"):
            assert [c["type"] for c in entry["changes"]] == [
                c["type"] for c in expected["changes"]
            ], entry["changes"]
        if "semantic" in expected:
            others = [c for c in entry["changes"] if c["type"] not in ("insert", "delete", "move")]
            assert len(others) == len(expected["semantic"]), others
            assert all(map(_matches, expected["semantic"], others)), others
    assert result.page_changes == case.get("page", [])
    assert result.changed == (any(e["kinds"] for e in case["sections"]) or bool(case.get("page")))
    json.dumps(result.sections)  # the contract is JSON
    json.dumps(result.page_changes)


def test_diff_ids_follow_sections_through_history():
    first_text = "Lead.\n== A ==\nText a.\n== B ==\nText b.\n== C ==\nText c.\n"
    first = diff_texts(None, first_text, id_prefix="r1.")
    assert first.new_ids == ["r1.0", "r1.1", "r1.2", "r1.3"]
    second = diff_texts(
        first_text,
        "Lead.\n== B ==\nText b.\n== C ==\nText c.\n== New ==\nFresh.\n== A2 ==\nText a.\n",
        old_ids=first.new_ids,
        id_prefix="r2.",
    )
    assert second.new_ids == ["r1.0", "r1.2", "r1.3", "r2.3", "r1.1"]
    by_id = {e["id"]: e for e in second.sections}
    assert by_id["r1.1"]["kinds"] == ["renamed", "moved"]
    assert by_id["r1.2"]["kinds"] == by_id["r1.3"]["kinds"] == []
    assert by_id["r2.3"]["kinds"] == ["added"]


def test_diff_old_ids_must_fit_the_old_text():
    with pytest.raises(ValueError):
        diff_texts("== A ==\n", "== A ==\n", old_ids=["only-the-lead"])


def test_diff_without_old_ids_names_old_sections():
    result = diff_texts("== A ==\nx\n== B ==\ny\n", "== A ==\nx\n")
    assert [e["id"] for e in result.sections] == ["o0", "o1", "o2"]
    assert result.sections[2]["kinds"] == ["removed"]


def test_diff_bundled_snapshot_matches_its_expected_kinds():
    """Every consecutive pair of the seed history, against tests/data/seed_history.yaml."""
    root = ET.parse(SNAPSHOT).getroot()
    revisions = {
        int(rev.findtext(f"{EXPORT_NS}id")): rev.findtext(f"{EXPORT_NS}text") or ""
        for rev in root.iter(f"{EXPORT_NS}revision")
    }
    expected = yaml.safe_load((DATA / "seed_history.yaml").read_text("utf-8"))
    ids = diff_texts(None, revisions[expected[0]["from"]], id_prefix="first.").new_ids
    for pair in expected:
        result = diff_texts(
            revisions[pair["from"]], revisions[pair["to"]], ids, id_prefix=f"r{pair['to']}."
        )
        changed = [
            {"path": e["path"], "kinds": e["kinds"], "from_path": e["old_path"]}
            for e in result.sections
            if e["kinds"]
        ]
        want = [
            {
                "path": e["path"],
                "kinds": e["kinds"],
                "from_path": e.get("from_path", None if "added" in e["kinds"] else e["path"]),
            }
            for e in pair["expect"]
        ]
        assert changed == want, f"{pair['from']} -> {pair['to']}: {pair['summary']}"
        levels = [
            {"path": e["path"], "from": c["old"], "to": c["new"]}
            for e in result.sections
            for c in e["changes"]
            if c["type"] == "heading_level"
        ]
        assert levels == pair.get("heading_levels", []), pair["summary"]
        ids = result.new_ids


def test_diff_renamed_section_keeps_its_id_through_a_later_move():
    # The seed history renames "Afghanistan" then moves it: one id all along.
    texts = [
        "== Afghanistan ==\nJIOC opened in Kabul in 2007.\n== Military ==\nBosnia.\n",
        "== Stability ==\nJIOC opened in Kabul in 2007.\n== Military ==\nBosnia.\n",
        "== Military ==\nBosnia.\n=== Stability ===\nJIOC opened in Kabul in 2007.\n",
    ]
    ids = diff_texts(None, texts[0], id_prefix="r0.").new_ids
    for n, (old, new) in enumerate(pairwise(texts), 1):
        ids = diff_texts(old, new, ids, id_prefix=f"r{n}.").new_ids
    assert ids == ["r0.0", "r0.2", "r0.1"]


# ---- rendering ---------------------------------------------------------------------------


def _example():
    old = (
        "{{Infobox bilateral relations\n| envoytitle1 = Ambassador\n}}\nLead.\n"
        "== A ==\nThe quick brown fox.\n== Gone ==\nBye.\n"
    )
    new = (
        "{{Infobox bilateral relations\n| envoytitle1 = Permanent Representative\n}}\nLead.\n"
        "== A ==\nThe quick red fox.\n== New ==\nHello.\n"
    )
    result = diff_texts(old, new)
    return {
        "title": "Pakistan–NATO relations",
        "from": {"revid": 1, "timestamp": "2023-01-01T00:00:00Z", "user": "Alice"},
        "to": {"revid": 2, "timestamp": "2023-01-02T00:00:00Z", "user": "Bob"},
        "revert_of": None,
        "sections": result.sections,
    }


def test_render_text_plain():
    text = render_text(_example(), color=False)
    assert "\x1b[" not in text
    assert text.startswith("Pakistan–NATO relations\nfrom: r1 (2023-01-01T00:00:00Z Alice)\n")
    assert "A  [edited]  +1 -1 words" in text
    assert "…The quick [-brown-]{+red+}" in text
    infobox = "{{Infobox bilateral relations}} envoytitle1: Ambassador → Permanent Representative"
    assert infobox in text
    assert "New  [added]" in text and "{+Hello.+}" in text
    assert "Gone  [removed]" in text and "[-Bye.-]" in text


def test_render_text_color():
    text = render_text(_example(), color=True)
    assert "\x1b[1mA\x1b[0m" in text  # headings bold
    # Insertions green, deletions red, their marks kept: colour is never the only sign.
    assert "\x1b[32m{+red+}\x1b[0m" in text
    assert "\x1b[31m[-brown-]\x1b[0m" in text
    assert re.sub(r"\x1b\[[0-9;]*m", "", text).count("[edited]") == 2


def test_render_text_unchanged_sections_are_counted():
    result = diff_texts("== A ==\nx\n== B ==\ny\n", "== A ==\nx\n== B ==\nz\n")
    text = render_text({"sections": result.sections})
    assert "2 sections unchanged" in text


def test_render_text_every_change_type_is_a_readable_line():
    old = (
        "Lead.\n== A ==\nThe council met in [[Brussels]] in 2007.\n=== B ===\n"
        "The treaty was signed by both parties.\n\n[[Category:X]]\n"
    )
    new = (
        "Lead.\n__NOTOC__\n== A ==\nThe council met in 2007.\n== B ==\n"
        "The treaty was signed by both parties in [[Brussels]]. [[File:f.png]]\n\n[[nl:X]]\n"
    )
    result = diff_texts(old, new)
    text = render_text({"sections": result.sections, "page": result.page_changes})
    assert "{'type'" not in text and '{"type"' not in text
    for line in (
        "heading level 3 → 2",
        "link moved from A: Brussels",
        "file added: F.png",
        "category removed: X",
        "language link added: nl:X",
        "behaviour switch added: __NOTOC__",
    ):
        assert line in text, (line, text)
    assert text.index("page  [categories") < text.index("(lead)")


# ---- properties --------------------------------------------------------------------------

_HEADINGS = st.sampled_from(
    ["History", "Relations", "Notes", "See also", "A", "B", "''Italic''", "[[Page|Label]]", ""]
)
# fmt: off
_WORDS = st.sampled_from(
    ["alpha", "beta", "gamma", "the", "of", "[[NATO]]", "{{cn}}", "<ref>src</ref>", ".",
     ",", "\n", "\n\n", "'''", "1994", "[[Category:X]]", "{{Infobox|a=1}}"]
)
# fmt: on
_BODY = st.lists(_WORDS, max_size=12).map(" ".join)
_SECTION = st.tuples(st.integers(1, 4), _HEADINGS, _BODY)


def _render(lead: str, sections: list[tuple[int, str, str]]) -> str:
    parts = [lead + "\n"]
    for level, heading, body in sections:
        marks = "=" * level
        parts.append(f"{marks} {heading} {marks}\n{body}\n")
    return "".join(parts)


@st.composite
def _revisions(draw):
    """Two revisions: the second derived from the first by section-level edits."""
    lead = draw(_BODY)
    sections = draw(st.lists(_SECTION, max_size=7))
    old = _render(lead, sections)
    new_sections = list(sections)
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(["edit", "rename", "move", "add", "remove", "level"]))
        if action == "add" or not new_sections:
            new_sections.insert(draw(st.integers(0, len(new_sections))), draw(_SECTION))
            continue
        k = draw(st.integers(0, len(new_sections) - 1))
        level, heading, body = new_sections[k]
        if action == "edit":
            new_sections[k] = (level, heading, body + " " + draw(_BODY))
        elif action == "rename":
            new_sections[k] = (level, draw(_HEADINGS), body)
        elif action == "level":
            new_sections[k] = (draw(st.integers(1, 4)), heading, body)
        elif action == "remove":
            new_sections.pop(k)
        else:
            new_sections.insert(draw(st.integers(0, len(new_sections) - 1)), new_sections.pop(k))
    if draw(st.booleans()):
        lead = lead + " " + draw(_BODY)
    return old, _render(lead, new_sections)


@settings(max_examples=150, deadline=None, database=None)
@given(st.lists(_SECTION, max_size=8), _BODY)
def test_diff_of_a_text_with_itself_has_no_kinds(sections, lead):
    text = _render(lead, sections)
    result = diff_texts(text, text)
    assert all(e["kinds"] == [] and e["changes"] == [] for e in result.sections)
    assert not result.changed
    assert len(result.sections) == len(split(text))


@settings(max_examples=200, deadline=None, database=None)
@given(_revisions())
def test_diff_lists_every_section_once_and_its_changes_rebuild_it(pair):
    old_text, new_text = pair
    old_ids = [f"old{i}" for i in range(len(split(old_text)))]
    result = diff_texts(old_text, new_text, old_ids, id_prefix="new")
    assert_well_formed(old_text, new_text, old_ids, result)


# ---- the fast paths give the slow paths' results ---------------------------------------


def _clear_caches() -> None:
    sections._CACHE.clear()
    for cache in (semantic_read._EXTRACTED, semantic_paragraphs._BLOCKS, semantic_read._CONSTRUCTS):
        cache.clear()


def _slow_diffs(texts: list[str]) -> str:
    """The diffs of consecutive texts without the shortcuts: each text split from scratch,
    no edits known, each paragraph parsed whole by mwparserfromhell."""

    def alone(_old_text, _old, text, tags):
        found, cuts, _stop = scan(text, tags)
        starts, heads = sections._relative(found)
        starts.insert(0, 0)
        return sections._made(sections._build(text, starts, heads), starts, heads, cuts)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sections, "_split_from", alone)
        patch.setattr(
            diff, "split_edited", lambda *a, **k: (*sections.split_edited(*a, **k)[:2], {})
        )
        patch.setattr(semantic_compare, "extract", semantic_read._extract_parsed)
        return _diffs(texts)


def _diffs(texts: list[str]) -> str:
    _clear_caches()
    out = []
    ids = None
    for n, text in enumerate(texts):
        result = diff_texts(texts[n - 1] if n else None, text, ids, id_prefix=f"{n}.")
        out.append([result.sections, result.new_ids])
        ids = result.new_ids
    return json.dumps(out)


def test_diff_fast_paths_on_a_generated_history():
    texts = [r.text or "" for r in generate(80, size=20_000, seed=21)]
    assert _diffs(texts) == _slow_diffs(texts)


_FUZZ_WORDS = "alpha beta gamma treaty council the of and".split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_FUZZ_WORDS) for _ in range(rng.randint(3, 8))]
    if rng.random() < 0.3:
        words[rng.randrange(len(words))] = f"[[{rng.choice(_FUZZ_WORDS)}]]"
    text = " ".join(words) + rng.choice([".", ".", ",", ":", " -", "!"])
    title, url = rng.choice(_FUZZ_WORDS), f"https://x.org/{rng.randint(1, 9)}"
    extra = [
        f"<ref>{{{{cite web |title={title} |url={url} }}}}</ref>",
        "{{cn}}",
        " http://free.org/" + rng.choice(_FUZZ_WORDS) + rng.choice(["", ".", ","]),
        " &amp; ''x'' <!-- c --> [[Category:C]]",
    ]
    return text + (rng.choice(extra) if rng.random() < 0.25 else "")


def _article(rng: random.Random) -> str:
    def paragraph():
        if rng.random() < 0.1:
            return "\n".join("* " + _sentence(rng) for _ in range(rng.randint(2, 4)))
        return " ".join(_sentence(rng) for _ in range(rng.randint(1, 4)))

    parts = [paragraph()]
    for n in range(rng.randint(1, 6)):
        marks = "=" * rng.choice([2, 2, 3])
        body = "\n\n".join(paragraph() for _ in range(rng.randint(1, 3)))
        parts.append(f"\n{marks} S{n} {rng.choice(_FUZZ_WORDS)} {marks}\n{body}")
    return "\n".join(parts) + "\n"


def _mutate(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    roll = rng.random()
    if roll < 0.5:  # plain words
        return (
            text[:at]
            + rng.choice(["x", "word", " ", "", "foo bar", "é"])
            + text[at + rng.randint(0, 6) :]
        )
    if roll < 0.75:
        return text[:at] + " " + _sentence(rng) + text[at:]
    if roll < 0.95:
        return text[:at] + text[at + rng.randint(1, 40) :]
    return (
        text[:at]
        + rng.choice(["\n== New ==\n", "[[", "]]", "{{", "}}", "<ref>", "\n\n"])
        + text[at:]
    )


@pytest.mark.parametrize("seed", range(3))
def test_diff_fast_paths_on_random_edits(seed):
    rng = random.Random(seed)
    for _ in range(25):
        texts = [_article(rng)]
        for _ in range(10):
            texts.append(
                texts[-2] if rng.random() < 0.1 and len(texts) > 1 else _mutate(rng, texts[-1])
            )
        assert _diffs(texts) == _slow_diffs(texts)


def test_ingest_word_counts_of_a_pair_seen_again_are_the_same_and_bounded(monkeypatch):
    # An edit war makes the same section pair again and again: its counts are remembered
    # (by the two contents), the same as a diff with detail says, within a character bound.
    import tracker.text.diff as diff_module

    old = "== A ==\\nThe quick brown fox jumps over the lazy dog.\\n"
    new = "== A ==\\nThe quick red fox leaps over the lazy dog today.\\n"
    full = diff_texts(old, new).sections[0]
    calls = []
    real = diff_module.word_counts
    monkeypatch.setattr(
        diff_module, "word_counts", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    diff_module._COUNTS.clear()
    for _ in range(3):  # vandalism, revert, vandalism again...
        seen = diff_texts(old, new, detail=False).sections[0]
        assert (seen["words_added"], seen["words_removed"]) == (
            full["words_added"],
            full["words_removed"],
        )
        diff_texts(new, old, detail=False)
    assert len(calls) == 2  # each direction diffed once
    monkeypatch.setattr(diff_module._COUNTS, "max_chars", 2000)
    for n in range(20):
        diff_texts(old, new + f"x{n} " * 5, detail=False)
    assert diff_module._COUNTS.chars <= 2000 and len(diff_module._COUNTS) < 20  # oldest gone
    assert sum(len(a) + len(b) for a, b in diff_module._COUNTS) == diff_module._COUNTS.chars


def _ingest(texts: list[str], detail: bool) -> list:
    """What the store keeps of each consecutive pair's diff: ids, paths, kinds, counts."""
    _clear_caches()
    out, ids = [], None
    for n, text in enumerate(texts):
        result = diff_texts(texts[n - 1] if n else None, text, ids, f"{n}.", detail=detail)
        out.append(
            [{k: v for k, v in entry.items() if k != "changes"} for entry in result.sections]
            + [result.new_ids]
        )
        ids = result.new_ids
    return out


@settings(max_examples=400, deadline=None, database=None)
@given(
    st.text(" \n.ab[]", max_size=24),
    st.integers(0, 30),
    st.integers(0, 4),
    st.text(" \n.ac", max_size=8),
)
@example("a b\n", 3, 0, "\n[[x]]")  # a line added at the content's end
@example("\n a", 0, 0, "b ")  # at its start, in the blank space before it
def test_content_edit_clipped_to_the_content_rebuilds_it(body, at, gone, added):
    # An edit of a section's text that reaches the ends of its content, clipped to the
    # content for the ingest's word diff: an edit of the content, and the same counts.
    old_text = "== H ==\n" + body
    start = 8 + min(at, len(body))
    end = min(start + gone, len(old_text))
    old = split(old_text)[1]
    new = split(old_text[:start] + added + old_text[end:])[1]
    edit = (start, end, added)
    got = diff._content_edit(old, new, edit, old.content, new.content, clip=True)
    if got is None:
        return
    first, last, text = got
    assert old.content[:first] + text + old.content[last:] == new.content
    assert word_counts(old.content, new.content, got) == word_counts(old.content, new.content)


def test_content_edit_clipped_for_a_line_added_at_the_end():
    # The usual edit of a category block: inside the section's text, at its content's end.
    old = split("== H ==\nSee [[a]].\n\n")[1]
    new = split("== H ==\nSee [[a]].\n[[Kategorie:B]]\n\n")[1]
    at = len("== H ==\nSee [[a]].")
    edit = (at, at, "\n[[Kategorie:B]]")
    assert diff._content_edit(old, new, edit, old.content, new.content) is None
    end = len("See [[a]].")
    assert diff._content_edit(old, new, edit, old.content, new.content, clip=True) == (
        end,
        end,
        "\n[[Kategorie:B]]",
    )


@pytest.mark.parametrize("seed", range(3))
def test_ingest_diff_is_what_the_whole_diff_says_on_random_edits(seed):
    # The ingest path (no detail) takes the edited section's edit from the texts' common
    # start and end and the outline from the sections kept: the same ids, kinds and counts.
    rng = random.Random(100 + seed)
    for _ in range(25):
        texts = [_article(rng)]
        for _ in range(10):
            texts.append(
                texts[-2] if rng.random() < 0.1 and len(texts) > 1 else _mutate(rng, texts[-1])
            )
        assert _ingest(texts, detail=False) == _ingest(texts, detail=True)
