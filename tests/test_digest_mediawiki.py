"""Digests through a real MediaWiki: the seed history arrives in two stages (part of it
imported, polled, the rest imported, polled) and the second digest covers exactly the
second window; its links lead to the wiki's own diff of that window."""

from __future__ import annotations

from pathlib import Path

import requests
import yaml
from seedstages import Tracker, cut_snapshot
from trackerutil import REPO, SEED_TITLE, write_config

FIRST = 9  # revisions in the first stage: up to 1844397 (the infobox change)


def test_digest_two_stages_through_a_real_wiki(tmp_path: Path, make_wiki) -> None:
    wiki = make_wiki()
    part = cut_snapshot(tmp_path / "part.xml", FIRST)
    wiki.import_xml(part)
    config = write_config(
        tmp_path,
        wikis=[
            {
                "name": "test",
                "api_url": wiki.api_url,
                "contact": "tests@example.org",
                "max_retries": 1,
                # Stage two comes by importDump.php, which makes no recent change: the
                # status of the page finds it.
                "recent_changes": False,
            }
        ],
        watches=[{"wiki": "test", "title": SEED_TITLE}],
        subscriptions=[
            {
                "name": "staged",
                "formats": ["markdown", "html"],
                "channels": [{"type": "file", "path": "digests"}],
            }
        ],
    )
    t = Tracker(config)

    def poll() -> None:
        from tracker.fetch.poll import poll_all
        from tracker.store import Store

        with Store(t.config.database_path) as store:
            results = poll_all(store, t.config, progress=False)
        assert all(r.ok for r in results), [r.errors for r in results]

    poll()
    t.deliver()
    (start,) = t.digests()
    assert start["kind"] == "start"
    assert start["model"]["pages"][0]["revision_count"] == FIRST
    first_window_end = start["model"]["pages"][0]["last"]["revid"]

    cut_snapshot(tmp_path / "full.xml", None)
    wiki.import_xml(tmp_path / "full.xml")
    poll()
    t.deliver()
    digest = t.digests()[-1]
    assert digest["kind"] == "changes"
    (page,) = digest["model"]["pages"]
    # Exactly the second window: from the last revision of the first stage to the newest.
    assert page["from"]["revid"] == first_window_end
    api = wiki.site().api(
        "query",
        "GET",
        prop="revisions",
        titles=SEED_TITLE,
        rvlimit="max",
        rvdir="newer",
        rvprop="ids|comment",
        formatversion=2,
    )
    revisions = api["query"]["pages"][0]["revisions"]
    second = revisions[FIRST:]
    assert page["to"]["revid"] == second[-1]["revid"]
    listed = [r["revid"] for r in page["revisions"]]
    collapsed = [r["revid"] for g in page["reverted"] for r in g["revisions"]]
    assert sorted(listed + collapsed) == [r["revid"] for r in second]
    expected = yaml.safe_load((REPO / "tests" / "data" / "seed_history.yaml").read_text())
    assert [r["comment"] for r in page["revisions"]] == [
        e["comment"]
        for e in expected[FIRST - 1 :]
        if not e.get("vandalism") and e["user"] != "RevertBot"
    ]
    (group,) = page["reverted"]
    assert group["text"].startswith("1 edit by 203.0.113.9 reverted by ")
    assert group["text"].endswith(" 22 seconds later")
    assert {s["title"] for s in page["sections"]} == {
        "(lead)",
        "Military relations and understanding › Stability in Afghanistan and Central Asia",
        "References",
        "NATO supply routes",
    }
    # The link to the wiki's diff of the window works on the wiki itself.
    link = page["links"]["wiki_diff"]
    assert link == f"{wiki.index_url}?diff={page['to']['revid']}&oldid={first_window_end}"
    answer = requests.get(link, timeout=30)
    assert answer.status_code == 200 and "diff" in answer.text
    md = next((tmp_path / "digests").glob(f"*-{digest['id']}.md")).read_text()
    assert "ali was here" not in md and "NATO supply routes" in md
