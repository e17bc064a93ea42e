"""Watch sets on the command line (issue 14, item 5): `tracker watch add --category ...`,
`watch list`, `watch members`, remove/pause/resume by a set's key, and `tracker status`, on
real config files with a store filled through the Store's own methods (the poller that
fills it against the real MediaWiki is tested in its own module)."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from trackerutil import wiki_table, write_config

from tracker.cli import main
from tracker.config import load_config
from tracker.store import Store

OFFLINE_API = "http://127.0.0.1:9/api.php"  # never asked: sets are added without the wiki
DAY1, DAY2, DAY3 = "2026-12-01T10:00:00Z", "2026-12-02T10:00:00Z", "2026-12-03T10:00:00Z"
# The keys of a title watch's record in `status --json`, as before watch sets.
TITLE_KEYS = {
    "wiki",
    "title",
    "interval",
    "status",
    "current_title",
    "last_poll",
    "last_revision",
    "revisions",
    "last_error",
    "error_count",
    "unreachable_since",
    "backfill",
}


def cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def ok(config: Path, *args: str) -> str:
    result = cli(config, *args)
    assert result.exit_code == 0, result.output
    return result.output


def error(config: Path, *args: str) -> str:
    """The one line of a refused command (exit 2, no traceback)."""
    result = cli(config, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def config_with(tmp_path: Path, watches: list[dict], wikis: tuple[str, ...] = ("local",)) -> Path:
    return write_config(
        tmp_path / "conf", wikis=[wiki_table(name, OFFLINE_API) for name in wikis], watches=watches
    )


SETS = [
    {"wiki": "local", "title": "Plain page"},
    {"wiki": "local", "category": "Physics", "depth": 2, "max_pages": 50},
    {"wiki": "local", "prefix": "List of ", "namespace": 4, "refresh": "1h"},
    {"wiki": "local", "linked_from": "Main Page", "cascade": True},
    {"wiki": "local", "transcluding": "Template:Infobox"},
]


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    """A config of a page and four sets; the store holds what two readings of the
    category's list and one of the links found, a failed reading, a member's failing
    polls, and the templates the linked pages use (cascade)."""
    config = config_with(tmp_path, SETS)
    with Store(load_config(config).database_path) as store:
        wiki = store.wiki_id("local", OFFLINE_API)
        physics = store.watch_set(wiki, "category:Physics", "category", "Physics")["id"]
        first = [(11, "Alpha", 0), (12, "Beta", 0), (13, "Gamma ray", 0)]
        store.replace_members(physics, first, DAY1, via="first")
        store.mark_set_refreshed(physics, DAY1, None)
        store.replace_members(
            physics, [(11, "Alpha", 0), (13, "Gamma ray", 0), (14, "Delta", 0)], DAY2
        )
        store.mark_set_refreshed(physics, DAY2, None)
        store.mark_set_refreshed(physics, None, "the wiki answered 503 Service Unavailable")
        # Each member is polled as a watch of its own; Gamma's last two polls failed.
        for pageid, title, _ in first:
            page = store.upsert_page(wiki, pageid, title)
            watch = store.watch(wiki, title)
            store.update_watch(watch["id"], page_id=page["id"], last_poll=DAY3)
        gamma = store.watch(wiki, "Gamma ray")
        store.update_watch(gamma["id"], error_count=2, last_error="timed out")
        links = store.watch_set(wiki, "linked_from:Main Page", "linked_from", "Main Page")["id"]
        store.replace_members(links, [(21, "Linked\nevil\x1b[2J", 0)], DAY1, via="first")
        store.mark_set_refreshed(links, DAY1, None)
        # A first reading that failed: nothing read yet.
        prefix = store.watch_set(wiki, "prefix:List of ", "prefix", "List of ")["id"]
        store.mark_set_refreshed(prefix, None, "more than 50 pages")
        templates = store.watch_set(
            wiki, "cascade:linked_from:Main Page", "cascade", "linked_from:Main Page"
        )["id"]
        store.replace_members(templates, [(31, "Template:Navbox", 10)], DAY1, via="first")
        store.mark_set_refreshed(templates, DAY1, None)
    return config


# --- watch add ---------------------------------------------------------------------------------


def test_watch_add_each_kind_of_set(tmp_path: Path) -> None:
    config = config_with(tmp_path, [])
    assert ok(config, "watch", "add", "--category", "Physics", "--depth", "2") == (
        "watching 'category:Physics' on 'local'; its pages are read on the next poll\n"
    )
    ok(config, "watch", "add", "--prefix", "List_of_", "--namespace", "4", "--refresh", "1h")
    ok(config, "watch", "add", "--linked-from", "Main Page", "--cascade", "--interval", "6h")
    ok(config, "watch", "add", "--transcluding", "Template:Infobox", "--max-pages", "500")
    ok(config, "watch", "add", "--user", "Some_editor", "--namespace", "0")
    ok(config, "watch", "add", "Plain page", "--cascade")
    tables = tomllib.loads(config.read_text(encoding="utf-8"))["watches"]
    assert tables == [
        {"wiki": "local", "category": "Physics", "depth": 2},
        # A prefix keeps its trailing space; underscores are spaces as in titles.
        {"wiki": "local", "prefix": "List of ", "namespace": 4, "refresh": "1h"},
        {"wiki": "local", "linked_from": "Main Page", "cascade": True, "interval": "6h"},
        {"wiki": "local", "transcluding": "Template:Infobox", "max_pages": 500},
        {"wiki": "local", "user": "Some editor", "namespace": 0},
        {"wiki": "local", "title": "Plain page", "cascade": True},
    ]
    keys = [w.key for w in load_config(config).watches]
    assert keys == [
        "category:Physics",
        "prefix:List of ",
        "linked_from:Main Page",
        "transcluding:Template:Infobox",
        "user:Some editor",
        "Plain page",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give one page or one of --category, --prefix"),
        (("Page", "--category", "X"), "give one page or one of --category"),
        (("--category", "X", "--user", "Y"), ", not 2"),
        (("--prefix", "X", "--depth", "1"), "--depth goes with --category, not with --prefix"),
        (("--category", "X", "--namespace", "1"), "--namespace goes with --prefix or --user"),
        (("Page", "--refresh", "1h"), "--refresh goes with a watch set, not with a page"),
        (("--category", "X", "--refresh", "soon"), "--refresh: 'soon' is not an interval"),
        (("--category", "A[b]"), "not a page title: MediaWiki titles cannot contain '['"),
        (("--user", "  "), "empty user name"),
        (("--category", "Physics"), "'category:Physics' is already watched on 'local'"),
        (("--category", "X", "--wiki", "nowhere"), "no wiki named 'nowhere'"),
    ],
)
def test_watch_add_set_refused(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    config = config_with(tmp_path, [{"wiki": "local", "category": "Physics"}])
    before = config.read_text(encoding="utf-8")
    assert message in error(config, "watch", "add", *args)
    assert config.read_text(encoding="utf-8") == before


def test_watch_add_depth_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    config = config_with(tmp_path, [])
    result = cli(config, "watch", "add", "--category", "X", "--depth", "11")
    assert result.exit_code == 2 and "0<=x<=10" in result.output


# --- remove, pause, resume by a set's key ----------------------------------------------------


def test_watch_remove_pause_resume_a_set_by_its_key(tmp_path: Path) -> None:
    config = config_with(tmp_path, SETS)
    assert ok(config, "watch", "pause", "linked_from:Main_Page") == (
        "'linked_from:Main Page' on 'local' is paused\n"
    )
    assert load_config(config).watches[3].paused
    assert ok(config, "watch", "resume", "linked_from:Main Page") == (
        "'linked_from:Main Page' on 'local' is resumed\n"
    )
    # The prefix's trailing space is part of its key.
    assert ok(config, "watch", "remove", "prefix:List of ") == (
        "removed 'prefix:List of ' on 'local'; its stored history is kept\n"
    )
    assert ok(config, "watch", "remove", "category:Physics").startswith("removed 'category:")
    assert [w.key for w in load_config(config).watches] == [
        "Plain page",
        "linked_from:Main Page",
        "transcluding:Template:Infobox",
    ]
    line = error(config, "watch", "remove", "category:Physic")
    assert "'category:Physic' is not watched" in line
    line = error(config, "watch", "pause", "Category:Physics")
    assert "not watched" in line


def test_watch_set_of_the_same_key_on_two_wikis_needs_wiki(tmp_path: Path) -> None:
    watches = [{"wiki": "a", "category": "Physics"}, {"wiki": "b", "category": "Physics"}]
    config = config_with(tmp_path, watches, wikis=("a", "b"))
    assert "watched on several wikis (a, b): pick one with --wiki" in error(
        config, "watch", "pause", "category:Physics"
    )
    assert ok(config, "watch", "pause", "category:Physics", "--wiki", "b") == (
        "'category:Physics' on 'b' is paused\n"
    )


# --- watch list ----------------------------------------------------------------------------------


def test_watch_list_json_has_the_sets_with_their_members(filled: Path) -> None:
    records = json.loads(ok(filled, "watch", "list", "--json"))
    assert records[0] == {
        "wiki": "local",
        "title": "Plain page",
        "interval": 900.0,
        "paused": False,
    }
    assert records[1] == {
        "wiki": "local",
        "key": "category:Physics",
        "kind": "category",
        "target": "Physics",
        "depth": 2,
        "namespace": None,
        "interval": 900.0,
        "refresh": 21600.0,
        "max_pages": 50,
        "cascade": False,
        "paused": False,
        "members": 3,
        "last_refresh": DAY2,
        "refresh_error": "the wiki answered 503 Service Unavailable",
    }
    assert [(r.get("key"), r.get("members")) for r in records[2:]] == [
        ("prefix:List of ", None),  # its first reading failed
        ("linked_from:Main Page", 1),
        ("transcluding:Template:Infobox", None),
    ]
    assert records[2]["namespace"] == 4 and records[2]["refresh"] == 3600.0
    assert records[3]["cascade"] is True


def test_watch_list_text_has_a_table_of_sets(filled: Path) -> None:
    lines = ok(filled, "watch", "list").splitlines()
    assert lines[0].split() == ["WIKI", "INTERVAL", "PAUSED", "TITLE"]
    assert lines[1].split() == ["local", "15m", "Plain", "page"]
    assert lines[2] == ""
    assert lines[3].split() == [
        "WIKI", "INTERVAL", "REFRESH", "PAUSED", "MEMBERS", "LAST", "REFRESH", "SET"
    ]  # fmt: skip
    assert lines[4].split() == ["local", "15m", "6h", "3", DAY2, "category:Physics", "(depth", "2)"]
    assert lines[5] == "  refresh error: the wiki answered 503 Service Unavailable"
    prefix = ["local", "15m", "1h", "-", "never", "prefix:List", "of", "(namespace", "4)"]
    assert lines[6].split() == prefix
    assert lines[7] == "  refresh error: more than 50 pages"
    assert lines[8].split()[-3:] == [DAY1, "linked_from:Main", "Page"]


def test_watch_list_before_any_run(tmp_path: Path) -> None:
    config = config_with(tmp_path, [{"wiki": "local", "user": "Someone"}])
    assert not load_config(config).database_path.exists()
    [record] = json.loads(ok(config, "watch", "list", "--json"))
    assert record["key"] == "user:Someone" and record["members"] is None
    assert record["last_refresh"] is None
    lines = ok(config, "watch", "list").splitlines()
    assert lines[0].split()[-1] == "SET" and lines[1].split()[-3:] == ["-", "never", "user:Someone"]
    assert not load_config(config).database_path.exists()  # listing makes no database


# --- watch members -----------------------------------------------------------------------------


def test_watch_members_now_and_all(filled: Path) -> None:
    lines = ok(filled, "watch", "members", "category:Physics").splitlines()
    assert lines[0] == (
        f"'category:Physics' on 'local': 3 pages, list last read {DAY2}; "
        "the last reading failed: the wiki answered 503 Service Unavailable"
    )
    assert lines[1].split() == ["JOINED", "TITLE"]
    assert [line.split(maxsplit=1) for line in lines[2:]] == [
        [DAY1, "Alpha"],
        [DAY2, "Delta"],
        [DAY1, "Gamma ray"],
    ]
    lines = ok(filled, "watch", "members", "category:Physics", "--all").splitlines()
    assert lines[1].split() == ["JOINED", "LEFT", "TITLE"]
    assert lines[3].split() == [DAY1, DAY2, "Beta"]
    assert lines[4].split() == [DAY2, "Delta"]


def test_watch_members_json(filled: Path) -> None:
    records = json.loads(ok(filled, "watch", "members", "category:Physics", "--all", "--json"))
    first = {"ns": 0, "joined_at": DAY1, "via": "first"}
    assert records[:2] == [
        {"title": "Alpha", "pageid": 11, "left_at": None, **first},
        {"title": "Beta", "pageid": 12, "left_at": DAY2, **first},
    ]
    assert records[2]["title"] == "Delta" and records[2]["via"] == "list"
    now = json.loads(ok(filled, "watch", "members", "category:Physics", "--json"))
    assert [r["title"] for r in now] == ["Alpha", "Delta", "Gamma ray"]


def test_watch_members_of_a_watchs_templates_and_titles_shown_safely(filled: Path) -> None:
    lines = ok(filled, "watch", "members", "cascade:linked_from:Main_Page").splitlines()
    assert lines[0].startswith("'cascade:linked_from:Main Page' on 'local': 1 page,")
    assert lines[-1].split() == [DAY1, "Template:Navbox"]
    lines = ok(filled, "watch", "members", "linked_from:Main Page").splitlines()
    assert lines[-1] == f"{DAY1}  Linked⏎evil␛[2J"  # one line, no escape obeyed
    [record] = json.loads(ok(filled, "watch", "members", "linked_from:Main Page", "--json"))
    assert record["title"] == "Linked\nevil\x1b[2J"  # JSON: as stored


def test_watch_members_refused_or_not_read_yet(filled: Path) -> None:
    assert "'Plain page' is a page, not a watch set" in error(
        filled, "watch", "members", "Plain page"
    )
    assert "did you mean 'category:Physics'?" in error(
        filled, "watch", "members", "category:Phisics"
    )
    assert ok(filled, "watch", "members", "prefix:List of ") == (
        "'prefix:List of ' on 'local' has not been read yet (the last reading failed: more "
        "than 50 pages); its pages are read on the next poll (`tracker run --once`)\n"
    )
    assert ok(filled, "watch", "members", "transcluding:Template:Infobox").startswith(
        "'transcluding:Template:Infobox' on 'local' has not been read yet; its pages"
    )
    assert (
        json.loads(ok(filled, "watch", "members", "transcluding:Template:Infobox", "--json")) == []
    )


def test_watch_members_of_a_set_no_longer_configured(filled: Path) -> None:
    ok(filled, "watch", "remove", "category:Physics")
    lines = ok(filled, "watch", "members", "category:Physics", "--wiki", "local").splitlines()
    assert lines[0].startswith("'category:Physics' on 'local': 3 pages")


# --- tracker status ------------------------------------------------------------------------------


def test_status_json_of_sets_and_title_watches_as_before(filled: Path) -> None:
    report = json.loads(ok(filled, "status", "--json"))
    title, physics, prefix, links, _ = report["watches"]
    assert set(title) == TITLE_KEYS and title["title"] == "Plain page"
    assert physics == {
        "wiki": "local",
        "key": "category:Physics",
        "kind": "category",
        "target": "Physics",
        "depth": 2,
        "namespace": None,
        "interval": 900.0,
        "refresh": 21600.0,
        "max_pages": 50,
        "paused": False,
        "status": "failing",
        "members": 3,
        "last_refresh": DAY2,
        "refresh_error": "the wiki answered 503 Service Unavailable",
        "last_poll": DAY3,
        "failing_members": [{"title": "Gamma ray", "last_error": "timed out", "error_count": 2}],
    }
    assert prefix["status"] == "failing" and prefix["members"] is None
    assert prefix["last_refresh"] is None and prefix["refresh_error"] == "more than 50 pages"
    assert links["status"] == "ok" and links["members"] == 1
    assert links["cascade"] == {"templates": 1, "last_refresh": DAY1, "refresh_error": None}


def test_status_text_of_a_set(filled: Path) -> None:
    text = ok(filled, "status")
    assert (
        "local: category:Physics (depth 2)\n"
        "  status:        failing\n"
        "  members:       3 (at most 50)\n"
        f"  last refresh:  {DAY2}\n"
        f"  last poll:     {DAY3}\n"
        "  refresh error: the wiki answered 503 Service Unavailable\n"
        "  failing:       1 of its pages\n"
        "    Gamma ray: timed out (2 in a row)\n"
    ) in text
    assert (
        "local: linked_from:Main Page\n  status:        ok\n  members:       1 (at most 10,000)\n"
    ) in text
    assert f"  templates:     1 (cascade; last read {DAY1})\n" in text
    assert "local: prefix:List of  (namespace 4)\n  status:        failing\n" in text
    assert "local: transcluding:Template:Infobox\n  status:        not read yet\n" in text


def test_status_of_sets_before_any_run(tmp_path: Path) -> None:
    config = config_with(tmp_path, SETS)
    report = json.loads(ok(config, "status", "--json"))
    assert set(report["watches"][0]) == TITLE_KEYS
    assert [w.get("status") for w in report["watches"]] == ["not polled yet"] + ["not read yet"] * 4
    assert report["watches"][3]["cascade"]["templates"] is None
    assert "  members:       not read yet (at most 50)" in ok(config, "status")
