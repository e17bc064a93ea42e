"""Digests of the bundled seed history arriving in stages: windows, net effect per section,
collapsed vandalism, section subscriptions, filters, schedules, heartbeat, the CLI, and a
process killed between recording and sending."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from seedstages import Tracker, seed_config
from trackerutil import REPO, SEED_SNAPSHOT, SEED_TITLE, tracker, write_config

from tracker.config import load_config
from tracker.errors import ConfigError
from tracker.model import web_title
from tracker.web import create_app

FILE = {"type": "file", "path": "digests"}
EVERYTHING = {"name": "everything", "formats": ["markdown", "html", "text"], "channels": [FILE]}
VANDAL_TEXT = "ali was here"


def tracker_at(tmp_path: Path, *subs: dict, revisions: int | None = None, **kw: object) -> Tracker:
    t = Tracker(seed_config(tmp_path, *subs, revisions=revisions, **kw))  # type: ignore[arg-type]
    t.stage(revisions)
    return t


def sections_of(digest: dict) -> dict[str, dict]:
    (page,) = digest["model"]["pages"]
    return {section["title"]: section for section in page["sections"]}


def test_digest_first_run_says_what_it_started_tracking(tmp_path: Path) -> None:
    t = tracker_at(tmp_path, EVERYTHING)
    lines = t.deliver()
    assert len(lines) == 1 and "now tracking" in lines[0]
    (digest,) = t.digests()
    assert digest["kind"] == "start"
    (page,) = digest["model"]["pages"]
    assert page["started"] and page["revision_count"] == 16
    assert page["last"]["revid"] == 1845803 and page["sections"] == []
    files = sorted(p.name for p in (tmp_path / "digests").iterdir())
    assert [Path(f).suffix for f in files] == [".html", ".md", ".txt"]
    assert "16 revisions" in (tmp_path / "digests" / files[1]).read_text()
    # Nothing new: nothing sent, nothing recorded.
    assert t.deliver() == []
    assert len(t.digests()) == 1


def test_digest_second_window_is_the_net_effect_with_vandalism_collapsed(tmp_path: Path) -> None:
    t = tracker_at(tmp_path, EVERYTHING, revisions=9)
    t.deliver()
    t.stage(None)
    lines = t.deliver()
    assert len(lines) == 1, lines
    digest = t.digests()[-1]
    model = digest["model"]
    assert digest["kind"] == "changes"
    (page,) = model["pages"]
    assert (page["from"]["revid"], page["to"]["revid"]) == (1844397, 1845803)
    sections = sections_of(digest)
    assert set(sections) == {
        "(lead)",
        "Military relations and understanding › Stability in Afghanistan and Central Asia",
        "References",
        "NATO supply routes",
    }
    assert sections["NATO supply routes"]["kinds"] == ["removed"]
    assert [r["user"] for r in sections["References"]["revisions"]] == ["Zainab.Qureshi"]
    stability = sections[
        "Military relations and understanding › Stability in Afghanistan and Central Asia"
    ]
    assert [r["revid"] for r in stability["revisions"]] == [1845102, 1845517]
    # Semantic changes as such, word-level highlights with their context.
    assert any(
        c["type"] == "ref_added" and "Why Pakistan Can't Be Pulled Away From China" in c["text"]
        for c in sections["(lead)"]["semantic"]
    )
    # A category is the page's, not a section's (README, "The diff JSON": "page").
    assert not any(c["type"].startswith("category_") for c in sections["References"]["semantic"])
    assert any(
        c["type"] == "ref_removed"
        and "Joint Intelligence Operations Centre opens in Kabul" in c["text"]
        for c in stability["semantic"]
    )
    ops = [(w["op"], w["text"]) for w in stability["words"]]
    typo = ops.index(("del", "Brussles"))
    assert ops[typo + 1] == ("ins", "Brussels") and ops[typo - 1][0] == "eq"
    # The vandal edit and its revert are one line, not two edits, and their text is nowhere.
    (group,) = page["reverted"]
    assert group["text"] == "1 edit by 203.0.113.9 reverted by RevertBot 22 seconds later"
    assert [r["revid"] for r in page["revisions"]] == [1844630, 1845102, 1845340, 1845517, 1845803]
    counts = model["counts"]
    assert counts == {
        "edits": 5,
        "editors": 4,
        "bytes_added": 289,
        "bytes_removed": 1672,
        "sections": 4,
        "reverted": 1,
        "filtered": 0,
        "pages": 1,
    }
    for path in (tmp_path / "digests").glob("*-2.*"):
        text = path.read_text()
        assert VANDAL_TEXT not in text and "203.0.113.9 reverted by RevertBot" in text
    # Links to the wiki's diff of the whole window.
    assert page["links"]["wiki_diff"] == "https://wiki.example/index.php?diff=1845803&oldid=1844397"


def test_digest_tells_page_facts_for_the_page(tmp_path: Path) -> None:
    # The wikitext view lists page facts; the reader view counts them as not visible.
    t = tracker_at(tmp_path, dict(EVERYTHING, view="wikitext"), revisions=9)
    t.deliver()
    t.stage(None)
    t.deliver()
    (page,) = t.digests()[-1]["model"]["pages"]
    assert {
        "type": "category_added",
        "text": "category added: Military history of Pakistan",
    } in page["page_semantic"]
    for path in (tmp_path / "digests").glob("*-2.*"):
        assert "category added: Military history of Pakistan" in path.read_text()


def test_digest_links_to_the_history_browser_when_configured(tmp_path: Path) -> None:
    t = tracker_at(tmp_path, EVERYTHING, revisions=12, web="http://tracker.example/")
    t.deliver()
    t.stage(None)
    t.deliver()
    page = t.digests()[-1]["model"]["pages"][0]
    key = f"{page['wiki']}/{web_title(page['title'])}"  # as the web names the page
    assert page["links"]["web_page"] == f"http://tracker.example/wiki/{key}"
    diff = f"/diff/{key}?from=1844874&to=1845803"
    assert page["links"]["web_diff"] == f"http://tracker.example{diff}"
    html = next((tmp_path / "digests").glob("*-2.html")).read_text()
    assert f'href="http://tracker.example{diff.replace("&", "&amp;")}"' in html
    # The links answer in the history browser itself (no redirect on the way).
    client = create_app(t.config.database_path).test_client()
    for path in (f"/wiki/{key}", diff):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)


def test_digest_section_subscription_follows_a_renamed_then_moved_section(tmp_path: Path) -> None:
    sub = {
        "name": "afghanistan",
        "sections": ["Afghanistan"],
        "formats": ["markdown"],
        "channels": [FILE],
    }
    t = tracker_at(tmp_path, sub, revisions=6)
    t.deliver()
    start = t.digests()[-1]
    assert start["kind"] == "start"
    assert start["model"]["pages"][0]["followed"] == ["Afghanistan"]

    t.stage(7)  # 1844015: "Afghanistan" -> "Stability in Afghanistan and Central Asia"
    t.deliver()
    (renamed,) = sections_of(t.digests()[-1]).values()
    assert renamed["kinds"] == ["renamed"]
    assert (renamed["old_title"], renamed["title"]) == (
        "Afghanistan",
        "Stability in Afghanistan and Central Asia",
    )

    t.stage(8)  # 1844188: moved under "Military relations and understanding"
    t.deliver()
    (moved,) = sections_of(t.digests()[-1]).values()
    assert moved["kinds"] == ["moved"] and moved["id"] == renamed["id"]
    assert moved["path"] == [
        "Military relations and understanding",
        "Stability in Afghanistan and Central Asia",
    ]

    t.stage(10)  # infobox and a reference in the lead: not this subscription's section
    assert t.deliver() == []
    count = len(t.digests())

    t.stage(None)  # vandalism + revert, a reference removed, a typo: all in the section
    t.deliver()
    assert len(t.digests()) == count + 1
    digest = t.digests()[-1]
    (edited,) = sections_of(digest).values()
    assert edited["id"] == renamed["id"] and edited["kinds"] == ["edited"]
    page = digest["model"]["pages"][0]
    assert [r["revid"] for r in page["revisions"]] == [1845102, 1845517]
    assert len(page["reverted"]) == 1


def test_digest_filters_skip_minor_edits_and_users(tmp_path: Path) -> None:
    sub = dict(EVERYTHING, filters={"skip_minor": True, "skip_users": ["Zainab.Qureshi"]})
    t = tracker_at(tmp_path, sub, revisions=9)
    t.deliver()
    t.stage(None)
    t.deliver()
    digest = t.digests()[-1]
    sections = sections_of(digest)
    assert "References" not in sections  # only Zainab.Qureshi touched it
    assert "NATO supply routes" in sections and "(lead)" in sections
    page = digest["model"]["pages"][0]
    assert [r["revid"] for r in page["revisions"]] == [1844630, 1845102, 1845803]
    assert digest["model"]["counts"]["filtered"] == 2


def test_digest_lists_reverted_edits_when_asked_and_skips_bots(tmp_path: Path) -> None:
    sub = dict(EVERYTHING, filters={"skip_reverted": False, "skip_bots": True})
    t = tracker_at(tmp_path, sub, revisions=10)
    t.deliver()
    t.stage(None)
    t.deliver()
    page = t.digests()[-1]["model"]["pages"][0]
    assert page["reverted"] == []
    revids = [r["revid"] for r in page["revisions"]]
    assert 1844871 in revids and 1844874 not in revids  # RevertBot is a bot
    vandal = next(r for r in page["revisions"] if r["revid"] == 1844871)
    assert vandal["reverted"] and vandal["user"] == "203.0.113.9"


def test_digest_empty_window_sends_nothing_unless_heartbeat(tmp_path: Path) -> None:
    quiet = dict(EVERYTHING, name="quiet")
    beat = dict(EVERYTHING, name="beat", heartbeat=True, formats=["text"])
    t = tracker_at(tmp_path, quiet, beat)
    assert len(t.deliver()) == 2  # both start
    lines = t.deliver()
    assert len(lines) == 1 and "beat: nothing changed" in lines[0]
    assert [d["kind"] for d in t.digests("beat")] == ["start", "heartbeat"]
    assert [d["kind"] for d in t.digests("quiet")] == ["start"]


def test_digest_interval_and_cron_schedules(tmp_path: Path) -> None:
    every = dict(EVERYTHING, name="every6h", schedule="6h", formats=["text"])
    # 07:00 in Karachi is 02:00 UTC.
    daily = dict(
        EVERYTHING, name="daily", schedule="0 7 * * *", timezone="Asia/Karachi", formats=["text"]
    )
    t = tracker_at(tmp_path, every, daily, revisions=9)
    t.now = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
    assert len(t.deliver(minutes=0)) == 2  # a new subscription starts at once
    t.stage(None)
    assert t.deliver(minutes=60) == []  # 07:00 UTC: neither is due
    lines = t.deliver(minutes=5 * 60)  # 12:00 UTC: six hours later
    assert [line.split(":")[0] for line in lines] == ["every6h"]
    t.now = datetime(2024, 3, 2, 1, 58, tzinfo=UTC)
    assert t.deliver(minutes=0) == []
    t.now = datetime(2024, 3, 2, 2, 0, 5, tzinfo=UTC)
    lines = t.deliver(minutes=0)
    assert [line.split(":")[0] for line in lines] == ["daily"]
    assert t.digests("daily")[-1]["model"]["generated_local"] == "2024-03-02 07:00 PKT"


def test_digest_config_errors_name_the_key(tmp_path: Path) -> None:
    cases = [
        ({"channels": [{"type": "fiel", "path": "x"}]}, "channels[0].type", "'file'"),
        ({"channels": [{"type": "file", "pth": "x"}]}, "channels[0].pth", "'path'"),
        ({"channels": [{"type": "email", "to": "a@b.c"}]}, "channels[0].from", "missing"),
        ({"channels": [{"type": "webhook"}]}, "channels[0]", "exactly one of url, url_env"),
        (
            {"channels": [{"type": "atom", "path": "f", "entries": "x"}]},
            "channels[0].entries",
            "integer",
        ),
        ({"formats": ["markdwn"]}, "formats[0]", "'markdown'"),
        ({"schedule": "every day"}, "schedule", "cron"),
        ({"schedule": "61 * * * *"}, "schedule", "cron expression"),
        ({"timezone": "Mars/Olympus"}, "timezone", "IANA"),
        ({"pages": ["Pakistan-NATO relations"]}, "pages[0]", SEED_TITLE),
        ({"filters": {"skip_minr": True}}, "filters.skip_minr", "skip_minor"),
    ]
    for extra, key, hint in cases:
        path = seed_config(tmp_path, dict({"name": "s"}, **extra))
        with pytest.raises(ConfigError) as err:
            load_config(path)
        message = str(err.value)
        assert f"subscriptions[0].{key}" in message and hint in message, (extra, message)


def test_digest_issue_example_config_works_as_written(tmp_path: Path) -> None:
    path = seed_config(tmp_path)
    path.write_text(
        path.read_text()
        + textwrap.dedent("""
        [[subscriptions]]
        name = "everything"
        formats = ["markdown", "html"]
        channels = [{ type = "file", path = "digests" }]
        """)
    )
    sub = load_config(path).subscriptions[0]
    assert sub.formats == ("markdown", "html") and sub.channels[0].options == {"path": "digests"}


# --- the CLI -------------------------------------------------------------------------------------


def cli(config: Path, *args: str):  # noqa: ANN201
    from tracker.cli import main

    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def test_cli_digest_dry_run_prints_without_recording(tmp_path: Path) -> None:
    t = tracker_at(tmp_path, EVERYTHING, revisions=9)
    t.deliver()
    t.stage(None)
    result = cli(t.path, "digest", "everything", "--dry-run", "--format", "markdown")
    assert result.exit_code == 0, result.output
    assert "# everything: Pakistan–NATO relations: 5 edits, 4 sections changed" in result.output
    assert len(t.digests()) == 1  # nothing recorded
    since = cli(t.path, "digest", "--dry-run", "--since", "1845340", "--format", "json")
    model = json.loads(since.output)
    assert [r["revid"] for r in model["pages"][0]["revisions"]] == [1845517, 1845803]
    dated = cli(t.path, "digest", "--dry-run", "--since", "2023-08-01")
    assert dated.exit_code == 0 and "2 edits" in dated.output
    bad = cli(t.path, "digest", "evrything", "--dry-run")
    assert bad.exit_code == 2 and "did you mean 'everything'?" in bad.output


def test_cli_digest_delivers_now_and_never_twice(tmp_path: Path) -> None:
    t = tracker_at(tmp_path, dict(EVERYTHING, schedule="0 7 * * 1"), revisions=9)
    t.deliver()
    t.stage(None)
    first = cli(t.path, "digest", "everything", "--format", "text")
    assert first.exit_code == 0, first.output
    assert "via file" in first.output and "5 edits by 4 editors" in first.output
    again = cli(t.path, "digest", "everything")
    assert again.exit_code == 0 and "nothing to deliver" in again.output
    assert len(t.digests()) == 2


# --- a crash between recording and sending ---------------------------------------------------

KILLER = """
import os, signal, sys
from datetime import datetime
from tracker.digest import run as digest
from tracker.store import digests as digest_store
from tracker.config import load_config
from tracker.digest.run import deliver_due
from tracker.store import Store

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if sys.argv[2] == "before-send":  # recorded and rendered, nothing sent yet
    digest.send_due = die
else:  # the first channel accepted it; killed before it is marked sent
    digest_store.mark_sent = die
config = load_config(sys.argv[1])
with Store(config.database_path) as store:
    deliver_due(store, config, now=datetime.fromisoformat(sys.argv[3]))
"""


def _run_killed(t: Tracker, when: str) -> None:
    t.now += timedelta(minutes=1)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, str(t.path), when, t.now.isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert proc.returncode == -9, proc.stderr


@pytest.mark.parametrize("when", ["before-send", "after-send"])
def test_digest_killed_between_recording_and_sending(
    tmp_path: Path, http_receiver, when: str
) -> None:
    receiver = http_receiver()
    sub = dict(EVERYTHING, channels=[{"type": "webhook", "url": receiver.url + "/hook"}, FILE])
    t = tracker_at(tmp_path, sub, revisions=9)
    t.deliver()
    assert len(receiver.accepted) == 1
    t.stage(None)
    _run_killed(t, when)
    digests = t.digests()
    assert len(digests) == 2, "the digest was recorded before the process died"
    crashed = digests[-1]["id"]
    assert [d["status"] for d in t.deliveries() if d["digest_id"] == crashed] == (
        ["pending", "pending"] if when == "before-send" else ["sending", "pending"]
    )
    assert len(receiver.accepted) == (1 if when == "before-send" else 2)

    t.deliver(minutes=0)  # the next run: the pending deliveries go out
    t.deliver(minutes=10)  # after the backoff: a delivery cut off mid-send goes again
    t.deliver(minutes=60)
    ids = [r.json()["digest_id"] for r in receiver.accepted]
    # Never lost; sent twice only when the process died after the receiver had it.
    assert ids == [1, crashed] if when == "before-send" else [1, crashed, crashed]
    assert len(list((tmp_path / "digests").glob(f"*-{crashed}.md"))) == 1
    assert all(d["status"] == "sent" for d in t.deliveries())
    assert len(t.digests()) == 2


# --- the first digest from a point in history; the shipped config ----------------------------

SHIPPED_SUBSCRIPTION = """
# Digests of what changed, section by section, written to digests/ as HTML and Markdown by
# every `tracker run --once`. The first one covers the seed article's changes since May 2023;
# a subscription without `since` starts with a summary of what it tracks instead.
[[subscriptions]]
name = "seed-article"
pages = ["Pakistan–NATO relations"]
formats = ["html", "markdown"]
since = "2023-05-01"
channels = [{ type = "file", path = "digests" }]
"""


def test_digest_since_makes_the_first_digest_show_changes(tmp_path: Path) -> None:
    t = tracker_at(tmp_path, dict(EVERYTHING, since="1844630"))
    t.deliver()
    (digest,) = t.digests()
    assert digest["kind"] == "changes"
    page = digest["model"]["pages"][0]
    assert page["from"]["revid"] == 1844630
    assert [r["revid"] for r in page["revisions"]] == [1845102, 1845340, 1845517, 1845803]
    assert t.deliver() == []


def test_digest_shipped_config_leaves_a_digest_to_read(tmp_path: Path) -> None:
    from tracker.digest.run import deliver_due
    from tracker.fetch.poll import poll_all
    from tracker.store import Store

    (tmp_path / "snapshots").mkdir()
    for snapshot in (REPO / "snapshots").glob("*.xml"):
        (tmp_path / "snapshots" / snapshot.name).write_bytes(snapshot.read_bytes())
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    if "[[subscriptions]]" not in text:  # until config.toml ships it
        text += SHIPPED_SUBSCRIPTION
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    with Store(config.database_path) as store:
        poll_all(store, config, progress=False)
        lines = deliver_due(store, config)
        assert len(lines) == len(config.subscriptions) and "error" not in " ".join(lines)
        assert deliver_due(store, config) == []
    written = sorted((tmp_path / "digests").iterdir())
    assert {p.suffix for p in written} == {".html", ".md"}
    md = next(p for p in written if p.suffix == ".md").read_text()
    assert "Pakistan–NATO relations" in md and "reverted by RevertBot" in md
    # The reader view by default: the infobox field as a reader reads it, no wikitext.
    assert "Infobox: envoytitle1: Ambassador → Permanent Representative" in md
    assert "Not visible to readers: 1 category added" in md


def test_digest_tells_which_wiki_is_not_reachable(tmp_path: Path) -> None:
    """A wiki that fails its polls shows up in the next digest, with since when."""
    config = write_config(
        tmp_path,
        wikis=[
            {"name": "seed", "snapshot": str(SEED_SNAPSHOT)},
            {"name": "gone", "api_url": "http://127.0.0.1:9/api.php", "max_retries": 0},
        ],
        watches=[{"wiki": "seed", "title": SEED_TITLE}, {"wiki": "gone", "title": "Elsewhere"}],
        subscriptions=[
            {"name": "all", "formats": ["markdown"], "since": "2023-08-01", "channels": [FILE]}
        ],
    )
    result = tracker(config, "run", "--once")
    assert result.exit_code == 1 and "not reachable" in result.output
    (digest,) = (tmp_path / "digests").glob("*.md")
    text = digest.read_text()
    assert "gone not reachable since 20" in text and "Elsewhere" in text
    assert "Brussels" in text  # and the reachable wiki's changes are there as usual
