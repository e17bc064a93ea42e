"""Text triggers: filters.added_text / removed_text / text keep only the sections whose
added, removed, or either words match, through a real MediaWiki; every digest format shows
what matched, escaped (hostile text included); a bad pattern is a one-line config error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hostile import active_html
from trackerutil import wiki_table, write_config

from tracker.config import load_config
from tracker.digest.render import render_digest
from tracker.digest.run import run_digests
from tracker.digest.triggers import compile_trigger, trigger_problem
from tracker.errors import ConfigError
from tracker.fetch.poll import poll_all
from tracker.store import Store

TITLE = "Triggered page"
BEFORE = """Intro text.

== Talks ==
The parties met in Geneva.

== Other ==
Weather was fine.

== History ==
The old treaty of 1950 still holds.
"""
HOSTILE_ADD = "a ceasefire<script>alert(1)</script> & [x](javascript:y) @channel"
AFTER = (
    BEFORE.replace(
        "The parties met in Geneva.", f"The parties met in Geneva and agreed {HOSTILE_ADD} today."
    )
    .replace("Weather was fine.", "Weather was fine and sunny.")
    .replace("The old treaty of 1950 still holds.", "It still holds.")
)


def test_triggers_rule_plain_text_and_regex() -> None:
    plain = compile_trigger("Cease  Fire")
    assert plain.search("a cease\nfire here") and plain.search("CEASE FIRE")
    assert plain.search("a (cease fire)") and not plain.search("ceasefire")
    assert compile_trigger("a.b").search("a.b") and not compile_trigger("a.b").search("axb")
    regex = compile_trigger("/cease-?fire/")
    assert regex.search("ceasefire") and regex.search("cease-fire")
    assert not regex.search("Ceasefire")  # as written; (?i) ignores case
    assert compile_trigger("/(?i)cease-?fire/").search("Ceasefire")
    assert compile_trigger("/").search("a/b")  # one slash is plain text
    assert trigger_problem("/[unclosed/").startswith("'/[unclosed/' is not a valid regular")
    assert trigger_problem("/a*/") and trigger_problem("  ") and trigger_problem("//")


@pytest.mark.parametrize(
    ("filters", "where"),
    [
        ({"added_text": ["ok", "/(unbalanced/"]}, "filters.added_text[1]"),
        ({"removed_text": "/x{2,1}/"}, "filters.removed_text[0]"),
        ({"text": [""]}, "filters.text[0]"),
    ],
)
def test_triggers_config_errors_name_file_and_key(
    tmp_path: Path, filters: dict, where: str
) -> None:
    config = write_config(tmp_path, subscriptions=[{"name": "s", "filters": filters}])
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    message = str(caught.value)
    assert message.startswith(f"{config.resolve()}: subscriptions[0].{where}: ")
    assert "\n" not in message


def _digests(tmp_path: Path, mediawiki, subs: list[dict]) -> dict[str, list[dict]]:
    """The page created, polled, digested; edited, polled, digested: each subscription's
    recorded digests."""
    mediawiki.edit(TITLE, BEFORE, "created")
    config_path = write_config(
        tmp_path,
        wikis=[wiki_table("local", mediawiki.api_url, contact="t@example.org")],
        watches=[{"wiki": "local", "title": TITLE}],
        subscriptions=subs,
    )
    config = load_config(config_path)
    now = datetime.now(UTC)
    with Store(config.database_path) as store:
        assert all(r.ok for r in poll_all(store, config, progress=False))
        run_digests(store, config, now=now)
        mediawiki.edit(TITLE, AFTER, "talks <b>@here</b>")
        assert all(r.ok for r in poll_all(store, config, progress=False))
        run = run_digests(store, config, now=now + timedelta(minutes=5))
        assert not run.errors, run.errors
        rows = store.query("SELECT * FROM digests WHERE kind = 'changes' ORDER BY id")
    out: dict[str, list[dict]] = {sub["name"]: [] for sub in subs}
    for row in rows:
        out[row["subscription"]].append(json.loads(row["model"]))
    return out


def _sections(model: dict) -> dict[str, dict]:
    (page,) = model["pages"]
    return {s["title"]: s for s in page["sections"]}


def test_triggers_keep_matching_sections_and_highlight_them(tmp_path: Path, mediawiki) -> None:
    subs = [
        {"name": "added", "view": "both", "filters": {"added_text": "/ceasefire<script>[^<]*/"}},
        {"name": "removed", "view": "wikitext", "filters": {"removed_text": ["/old\\s+treaty/"]}},
        {"name": "either", "filters": {"text": ["TREATY", "Ceasefire"]}},
        {"name": "none", "filters": {"added_text": "armistice", "removed_text": "Geneva"}},
    ]
    got = _digests(tmp_path, mediawiki, subs)
    assert got["none"] == []  # Geneva was kept, no armistice came: nothing to tell
    (added,) = got["added"]
    assert list(_sections(added)) == ["Talks"]
    talks = _sections(added)["Talks"]
    assert talks["matched"] == ["ceasefire<script>alert(1)"]
    hits = [w for w in talks["words"] if w.get("hits")]
    assert hits and all(w["op"] == "ins" for w in hits)
    (removed,) = got["removed"]
    assert list(_sections(removed)) == ["History"]
    assert _sections(removed)["History"]["matched"] == ["old treaty"]
    (either,) = got["either"]
    assert sorted(_sections(either)) == ["History", "Talks"]
    assert _sections(either)["Talks"]["matched"] == ["ceasefire"]
    assert _sections(either)["History"]["matched"] == ["treaty"]
    # Only the edit that made the matching change is listed and counted.
    assert [r["comment"] for r in removed["pages"][0]["revisions"]] == ["talks <b>@here</b>"]

    out = render_digest(added, ["text", "markdown", "html", "chat", "slack"])
    text = out["text"]
    assert "matched: >>ceasefire<script>alert(1)<<" in text
    assert "{+and agreed a >>ceasefire<script>alert(1)<<</script> & [x]" in text
    md = out["markdown"]
    assert "Matched: **ceasefire&lt;script&gt;alert(1)**" in md
    # Inserted words in bold, the match (widened to the whole word) in bold italics.
    assert "**and agreed a** ***ceasefire&lt;script&gt;alert(1)&lt;/script&gt;*** **&" in md
    assert "<script>" not in md
    html = out["html"]
    assert "<mark" in html and "ceasefire&lt;script&gt;alert(1)</mark>" in html
    assert active_html(html, allowed=frozenset({"meta"})) == []  # the e-mail head's own
    assert "matched: **ceasefire&lt;script&gt;alert(1)**" in out["chat"]
    assert "matched: *ceasefire&lt;script&gt;alert(1)*" in out["slack"]
    assert "<script>" not in out["chat"] + out["slack"]
    # The struck-out words of a removal are marked in every format too.
    out = render_digest(removed, ["text", "markdown", "html"])
    assert "[-The >>old treaty<< of 1950-]{+It+} still holds." in out["text"]
    assert "~~The~~ ~~**old treaty**~~ ~~of 1950~~**It** still holds." in out["markdown"]
    assert '<del style="' in out["html"] and "old treaty</mark>" in out["html"]
    # In the reader view (the default) the matches are marked in the reader's words too.
    out = render_digest(either, ["text", "html"])
    assert ">>ceasefire<<" in out["text"] and ">>treaty<<" in out["text"]
    hit = '<mark style="background:#ffe08a;color:#1f2328;font-weight:600;" class="rd-hit">'
    assert f"{hit}ceasefire</mark>" in out["html"] and f"{hit}treaty</mark>" in out["html"]
    assert active_html(out["html"], allowed=frozenset({"meta"})) == []
