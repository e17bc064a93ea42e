"""`tracker watch add|list|remove|pause|resume|import` and `run --once --watch`: on real
config files (in-process with CliRunner, and as processes of their own), config.toml kept
as written around each edit, page URLs found on the real MediaWiki."""

from __future__ import annotations

import difflib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from loopback import free_port
from mediawiki import TestWiki
from trackerutil import history_json, run_tracker, wiki_table, write_config

from tracker.cli import main
from tracker.config import load_config
from tracker.daemon.scheduler import Plan

OFFLINE_API = "http://127.0.0.1:9/api.php"  # never asked: titles are added without the wiki


def cli(config: Path, *args: str) -> Result:
    """A command in-process; exceptions are caught as a user would meet them."""
    return CliRunner().invoke(main, ["--config", str(config), *args])


def one_line_error(result: Result) -> str:
    """The error of a failed command: exactly one line, no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


def fresh(tmp_path: Path, wikis: int = 1, **kwargs: object) -> Path:
    tables = [wiki_table(f"w{i}" if wikis > 1 else "local", OFFLINE_API) for i in range(wikis)]
    return write_config(tmp_path / "fresh", wikis=tables, **kwargs)  # type: ignore[arg-type]


# --- every command, in-process and as a process -------------------------------------------


def test_watch_commands_end_to_end_in_process(tmp_path: Path) -> None:
    config = fresh(tmp_path)
    assert cli(config, "watch", "list").output.startswith("No watches")
    result = cli(config, "watch", "add", "Pakistan_NATO relations", "--interval", "6h")
    assert result.exit_code == 0, result.output
    assert result.output == "watching 'Pakistan NATO relations' on 'local'\n"
    assert cli(config, "watch", "add", "Second page").exit_code == 0
    listed = json.loads(cli(config, "watch", "list", "--json").output)
    assert listed == [
        {"wiki": "local", "title": "Pakistan NATO relations", "interval": 21600.0, "paused": False},
        {"wiki": "local", "title": "Second page", "interval": 900.0, "paused": False},
    ]
    assert cli(config, "watch", "pause", "Second page").output == (
        "'Second page' on 'local' is paused\n"
    )
    assert cli(config, "watch", "pause", "Second page").output == (
        "'Second page' on 'local' is already paused\n"
    )
    text = cli(config, "watch", "list").output.splitlines()
    assert text[0].split() == ["WIKI", "INTERVAL", "PAUSED", "TITLE"]
    assert text[1].split() == ["local", "6h", "Pakistan", "NATO", "relations"]
    assert text[2].split() == ["local", "15m", "yes", "Second", "page"]
    assert load_config(config).watches[1].paused
    assert cli(config, "watch", "resume", "Second page").exit_code == 0
    assert not load_config(config).watches[1].paused
    result = cli(config, "watch", "remove", "Pakistan NATO relations")
    assert result.output == (
        "removed 'Pakistan NATO relations' on 'local'; its stored history is kept\n"
    )
    assert [w.title for w in load_config(config).watches] == ["Second page"]


def test_watch_commands_end_to_end_as_processes(tmp_path: Path) -> None:
    config = fresh(tmp_path)
    steps = [
        (("watch", "add", "Alpha", "--wiki", "local"), "watching 'Alpha' on 'local'\n"),
        (("watch", "add", "Beta", "--interval", "90"), "watching 'Beta' on 'local'\n"),
        (("watch", "pause", "Beta"), "'Beta' on 'local' is paused\n"),
        (("watch", "resume", "Beta"), "'Beta' on 'local' is resumed\n"),
        (("watch", "remove", "Alpha"), "removed 'Alpha' on 'local'; its stored history is kept\n"),
    ]
    for args, expected in steps:
        done = run_tracker(config, *args)
        assert (done.returncode, done.stdout, done.stderr) == (0, expected, ""), args
    listed = run_tracker(config, "watch", "list", "--json")
    assert json.loads(listed.stdout) == [
        {"wiki": "local", "title": "Beta", "interval": 90.0, "paused": False}
    ]
    lines = tmp_path / "pages.txt"
    lines.write_text("# my pages\n\nGamma\nBeta\n", encoding="utf-8")
    done = run_tracker(config, "watch", "import", str(lines))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "line 3: watching 'Gamma' on 'local'",
        "line 4: skipped: 'Beta' is already watched on 'local'",
        "1 added, 1 skipped (already watched), 0 not added",
    ]
    failed = run_tracker(config, "watch", "remove", "Gama")
    assert failed.returncode == 2
    assert failed.stderr == "Error: 'Gama' is not watched; did you mean 'Gamma'?\n"


def test_watch_add_refuses_duplicates_and_bad_input_in_one_line(tmp_path: Path) -> None:
    config = fresh(tmp_path, wikis=2)
    before = config.read_text()
    assert "pick one with --wiki" in one_line_error(cli(config, "watch", "add", "A"))
    assert cli(config, "watch", "add", "A", "--wiki", "w0").exit_code == 0
    assert one_line_error(cli(config, "watch", "add", "A", "--wiki", "w0")) == (
        "Error: 'A' is already watched on 'w0'"
    )
    assert cli(config, "watch", "add", "A", "--wiki", "w1").exit_code == 0  # another wiki
    assert "no wiki named 'w2' in config.toml; known: w0, w1" in one_line_error(
        cli(config, "watch", "add", "B", "--wiki", "w2")
    )
    assert "cannot contain '#'" in one_line_error(
        cli(config, "watch", "add", "B#x", "--wiki", "w0")
    )
    assert "not an interval" in one_line_error(
        cli(config, "watch", "add", "B", "--wiki", "w0", "--interval", "soon")
    )
    assert "several wikis (w0, w1): pick one with --wiki" in one_line_error(
        cli(config, "watch", "pause", "A")
    )
    assert cli(config, "watch", "pause", "A", "--wiki", "w1").exit_code == 0
    assert [(w.wiki, w.paused) for w in load_config(config).watches] == [
        ("w0", False),
        ("w1", True),
    ]
    assert config.read_text() != before


def test_watch_edit_that_would_break_the_config_is_not_written(tmp_path: Path) -> None:
    config = fresh(
        tmp_path,
        watches=[{"wiki": "local", "title": "Kept"}],
        subscriptions=[
            {"name": "me", "pages": ["Kept"], "channels": [{"type": "file", "path": "out"}]}
        ],
    )
    before = config.read_bytes()
    error = one_line_error(cli(config, "watch", "remove", "Kept"))
    assert "subscriptions[0].pages[0]: 'Kept' is not watched" in error
    assert "was not changed" in error
    assert config.read_bytes() == before
    assert list(config.parent.glob(".config.toml*")) == []  # no temp file left behind


def test_watch_missing_config_is_one_line(tmp_path: Path) -> None:
    error = one_line_error(cli(tmp_path / "none.toml", "watch", "add", "X"))
    assert "none.toml" in error


# --- comments and layout ---------------------------------------------------------------------

COMMENTED = """\
# My tracker: what it watches and who is told.

[storage]
database = "tracker.db"   # next to this file

# The wikis, each with its api.php
[[wikis]]
name = "local"
api_url = "http://127.0.0.1:9/api.php"   # loopback
login = { username = "Admin@tests", password_env = "WIKI_PASSWORD" }
timeout = 3.0

# The main article
[[watches]]
wiki   = "local"
title  = "First"
interval = "15m"      # often

# Watched for a colleague
#   (ask before removing)
[[watches]]
wiki = "local"
title = 'Second'


[[subscriptions]]
name = "me"
channels = [ { type = "file", path = "digests" },   # kept here
             { type = "file", path = "more" } ]
"""


def edits_only(before: str, after: str) -> list[tuple[str, list[str], list[str]]]:
    """The changed lines between two texts, as (operation, old lines, new lines)."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    return [
        (op, a[i1:i2], b[j1:j2]) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"
    ]


def test_watch_edits_keep_comments_and_layout(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(COMMENTED, encoding="utf-8")
    assert cli(config, "watch", "add", "Third", "--interval", "6h").exit_code == 0
    added = config.read_text()
    third = '\n[[watches]]\nwiki = "local"\ntitle = "Third"\ninterval = "6h"\n'
    assert added == COMMENTED.replace("title = 'Second'\n", "title = 'Second'\n" + third)
    assert [op for op, _, _ in edits_only(COMMENTED, added)] == ["insert"]  # nothing else moved
    assert cli(config, "watch", "remove", "Third").exit_code == 0
    assert config.read_text() == COMMENTED  # byte for byte

    assert cli(config, "watch", "pause", "First").exit_code == 0
    assert edits_only(COMMENTED, config.read_text()) == [("insert", [], ["paused = true\n"])]
    assert 'interval = "15m"      # often\npaused = true\n\n# Watched' in config.read_text()
    assert cli(config, "watch", "resume", "First").exit_code == 0
    assert config.read_text() == COMMENTED

    # Removing a watch takes its own comment lines along, and nothing else.
    assert cli(config, "watch", "remove", "Second").exit_code == 0
    assert edits_only(COMMENTED, config.read_text()) == [
        (
            "delete",
            [
                "# Watched for a colleague\n",
                "#   (ask before removing)\n",
                "[[watches]]\n",
                'wiki = "local"\n',
                "title = 'Second'\n",
                "\n",
            ],
            [],
        )
    ]
    assert cli(config, "watch", "remove", "First").exit_code == 0
    remaining = config.read_text()
    assert "[[watches]]" not in remaining and "# The main article" not in remaining
    assert remaining.startswith(COMMENTED[: COMMENTED.index("# The main article")].rstrip("\n"))
    assert remaining.endswith(COMMENTED[COMMENTED.index("[[subscriptions]]") :])
    load_config(config)


def test_watch_remove_first_with_nothing_above_keeps_the_next_ones_comments(
    tmp_path: Path,
) -> None:
    # [[watches]] first in the file (only comments above): the comments of the watch after
    # the removed one stay above it (tomlkit held them as the removed table's tail).
    config = tmp_path / "config.toml"
    watches = COMMENTED[COMMENTED.index("# The main article") : COMMENTED.index("\n\n[[subs")]
    wikis = COMMENTED[COMMENTED.index("[[wikis]]") : COMMENTED.index("\n# The main article")]
    text = f"# Watches first\n\n{watches}\n\n{wikis}"
    config.write_text(text, encoding="utf-8")
    load_config(config)
    assert cli(config, "watch", "remove", "First").exit_code == 0
    after = config.read_text()
    assert "# Watched for a colleague\n#   (ask before removing)\n[[watches]]\n" in after
    assert "First" not in after and "# The main article" not in after
    assert [w.title for w in load_config(config).watches] == ["Second"]


def test_watch_add_to_a_config_without_watches_and_with_inline_arrays(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'watches = [ { wiki = "local", title = "X" } ]  # inline\n\n'
        '[[wikis]]\nname = "local"\napi_url = "http://127.0.0.1:9/api.php"\n'
    )
    assert cli(config, "watch", "add", "Y").exit_code == 0
    assert [w.title for w in load_config(config).watches] == ["X", "Y"]
    assert "# inline" in config.read_text()
    assert cli(config, "watch", "remove", "X").exit_code == 0
    assert [w.title for w in load_config(config).watches] == ["Y"]

    bare = tmp_path / "bare" / "config.toml"
    bare.parent.mkdir()
    bare.write_text(
        '# only a wiki\n[[wikis]]\nname = "local"\napi_url = "http://127.0.0.1:9/api.php"\n'
    )
    assert cli(bare, "watch", "add", "Z").exit_code == 0
    assert bare.read_text().endswith(
        'api_url = "http://127.0.0.1:9/api.php"\n\n[[watches]]\nwiki = "local"\ntitle = "Z"\n'
    )


# --- import ---------------------------------------------------------------------------------


def test_watch_import_reports_each_line_and_keeps_the_good_ones(tmp_path: Path) -> None:
    config = fresh(tmp_path, watches=[{"wiki": "local", "title": "Old"}])
    dead = f"http://127.0.0.1:{free_port()}/wiki/Gone"
    pages = tmp_path / "pages.txt"
    pages.write_text(
        "# pages to watch\n"
        "New one\n"
        "   \n"
        "Old\n"
        "Bad|title\n"
        f"{dead}\n"
        "  # indented comment\n"
        "New_one\n"
        "Last\n",
        encoding="utf-8",
    )
    result = cli(config, "watch", "import", str(pages), "--interval", "1h")
    assert result.exit_code == 2
    out = result.stdout.splitlines()
    assert out[0] == "line 2: watching 'New one' on 'local'"
    assert out[1] == "line 4: skipped: 'Old' is already watched on 'local'"
    assert out[2].startswith("line 5: not added: 'Bad|title' is not a page title")
    assert out[3].startswith(f"line 6: not added: {dead}: not reachable: connection failed")
    assert out[4] == "line 8: skipped: 'New one' is already watched on 'local'"
    assert out[5] == "line 9: watching 'Last' on 'local'"
    assert out[6] == "2 added, 2 skipped (already watched), 2 not added"
    assert len(out) == 7
    assert result.stderr == f"Error: 2 lines of {pages} not added (lines 5, 6); see above\n"
    watches = load_config(config).watches
    assert [(w.title, w.interval) for w in watches] == [
        ("Old", 900.0),
        ("New one", 3600.0),
        ("Last", 3600.0),
    ]
    assert "Traceback" not in result.output


# --- run --once --watch and paused watches ----------------------------------------------------


def test_run_watch_unknown_title_is_one_line_with_close_matches(tmp_path: Path) -> None:
    config = fresh(tmp_path, watches=[{"wiki": "local", "title": "Pakistan–NATO relations"}])
    error = one_line_error(cli(config, "run", "--once", "--watch", "Pakistan-NATO relation"))
    assert error == (
        "Error: 'Pakistan-NATO relation' is not watched; did you mean 'Pakistan–NATO relations'?"
    )


def test_paused_watch_leaves_the_daemon_plan(tmp_path: Path) -> None:
    config = fresh(
        tmp_path,
        watches=[
            {"wiki": "local", "title": "A", "interval": "1h"},
            {"wiki": "local", "title": "B", "interval": "1m"},
        ],
    )
    assert Plan.of(load_config(config)).polls == {"local": 60.0}
    assert cli(config, "watch", "pause", "B").exit_code == 0
    assert Plan.of(load_config(config)).polls == {"local": 3600.0}
    assert cli(config, "watch", "pause", "A").exit_code == 0
    assert Plan.of(load_config(config)).polls == {}


def test_paused_key_is_validated(tmp_path: Path) -> None:
    config = fresh(tmp_path, watches=[{"wiki": "local", "title": "A", "paused": "yes"}])
    error = one_line_error(cli(config, "watch", "list"))
    assert "watches[0].paused: expected true or false" in error


@pytest.mark.mediawiki
def test_paused_watch_is_not_polled(make_wiki: Callable[..., TestWiki], tmp_path: Path) -> None:
    wiki = make_wiki()
    wiki.edit("Polled page", "one")
    wiki.edit("Paused page", "one")
    wiki.edit("Paused page", "two")
    config = write_config(
        tmp_path / "run",
        wikis=[wiki_table("test", wiki.api_url)],
        watches=[
            {"wiki": "test", "title": "Polled page"},
            {"wiki": "test", "title": "Paused page"},
        ],
    )
    assert cli(config, "watch", "pause", "Paused page").exit_code == 0
    result = cli(config, "run", "--once")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("test: 1 pages checked, 1 changed, 1 revisions stored")
    assert len(history_json(config, "Polled page")) == 1
    assert cli(config, "history", "Paused page").exit_code != 0  # never fetched

    # Asked for by name, a paused watch is polled (and only it).
    wiki.edit("Polled page", "two")
    result = cli(config, "run", "--once", "--watch", "Paused page")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("test: 1 pages checked, 1 changed, 2 revisions stored")
    assert [r["revid"] for r in history_json(config, "Paused page")] == [
        r["revid"] for r in wiki.revisions("Paused page")
    ]
    assert len(history_json(config, "Polled page")) == 1  # not polled this time


# --- a page's URL: its wiki found on the real MediaWiki -------------------------------------


class _PageServer(ThreadingHTTPServer):
    html = b""


class _PageHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = self.server.html  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def page_server() -> Iterator[_PageServer]:
    """A site on loopback whose every page is the HTML the test sets: no api.php of its own."""
    server = _PageServer(("127.0.0.1", 0), _PageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.mediawiki
def test_watch_add_url_finds_the_wiki_and_run_stores_the_page(
    make_wiki: Callable[..., TestWiki], tmp_path: Path
) -> None:
    wiki = make_wiki()
    for text in ("== A ==\none", "== A ==\ntwo", "== A ==\nthree"):
        wiki.edit("Berlin (city)", text)
    wiki.edit("Other page", "x")
    config = write_config(tmp_path / "fresh", watches=[])  # no wiki yet
    url = f"http://{wiki.host}/index.php?title=Berlin_(city)&action=history"
    result = cli(config, "watch", "add", url, "--interval", "1h")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"added wiki '127.0.0.1' ({wiki.api_url})",
        "watching 'Berlin (city)' on '127.0.0.1'",
    ]
    loaded = load_config(config)
    assert [(w.name, w.api_url) for w in loaded.wikis] == [("127.0.0.1", wiki.api_url)]
    # The articlepath form of the same wiki: no second wiki.
    result = cli(config, "watch", "add", f"http://{wiki.host}/index.php/Other_page")
    assert result.stdout == "watching 'Other page' on '127.0.0.1'\n"
    assert one_line_error(
        cli(config, "watch", "add", f"http://{wiki.host}/index.php/Other_page")
    ) == ("Error: 'Other page' is already watched on '127.0.0.1'")
    result = cli(config, "watch", "add", f"http://{wiki.host}/index.php/Not_yet_written")
    assert (
        result.stdout == "watching 'Not yet written' on '127.0.0.1' (the page does not exist yet)\n"
    )

    result = cli(config, "run", "--once", "--watch", "Berlin (city)")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("127.0.0.1: 1 pages checked, 1 changed, 3 revisions stored")
    stored = history_json(config, "Berlin (city)")
    assert [r["revid"] for r in stored] == [r["revid"] for r in wiki.revisions("Berlin (city)")]
    assert cli(config, "history", "Other page").exit_code != 0  # not asked for

    # Another wiki on the same host: a name of its own.
    other = make_wiki()
    other.edit("Elsewhere", "x")
    done = run_tracker(config, "watch", "add", f"http://{other.host}/index.php?title=Elsewhere")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"added wiki '127.0.0.1-2' ({other.api_url})"


@pytest.mark.mediawiki
def test_watch_add_url_follows_the_pages_edituri(
    mediawiki: TestWiki, page_server: _PageServer, tmp_path: Path
) -> None:
    # The page is served by a host without any api.php: only its EditURI link leads to the
    # wiki, so finding it proves the link was read (the guesses would fail).
    mediawiki.edit("Watch CLI EditURI page", "text")
    page_server.html = (
        "<!DOCTYPE html><html><head><title>x</title>"
        '<link rel="EditURI" type="application/rsd+xml" '
        f'href="//{mediawiki.host}/api.php?action=rsd"/>'
        "</head><body>page</body></html>"
    ).encode()
    host, port = page_server.server_address[:2]
    config = write_config(
        tmp_path / "edituri", wikis=[wiki_table("mine", mediawiki.api_url)], watches=[]
    )
    result = cli(
        config, "watch", "add", f"http://{host}:{port}/index.php?title=Watch_CLI_EditURI_page"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "watching 'Watch CLI EditURI page' on 'mine'\n"  # the wiki known

    page_server.html = b"<html><head></head><body>no link</body></html>"
    error = one_line_error(cli(config, "watch", "add", f"http://{host}:{port}/wiki/X"))
    assert "no MediaWiki API found (EditURI link absent" in error
    assert f"http://{host}:{port}/w/api.php, http://{host}:{port}/api.php" in error


def test_watch_add_unreachable_url_is_one_line(tmp_path: Path) -> None:
    config = fresh(tmp_path)
    url = f"http://127.0.0.1:{free_port()}/wiki/Berlin"
    done = run_tracker(config, "watch", "add", url)
    assert done.returncode == 1
    assert done.stderr == (f"Error: {url}: not reachable: connection failed; check the address\n")
    assert load_config(config).watches == ()
