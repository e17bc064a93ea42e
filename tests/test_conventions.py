"""The conventions of a well-behaved command-line tool and wiki client (issue 13, item 7):
NO_COLOR and pipes, one log line per retry, a backfill's progress by revisions, `tracker
status` of a backfill in progress or interrupted, bots by the wiki's own user groups, and
the warning when a live wiki is asked with the project's contact."""

from __future__ import annotations

import json
import logging
import os
import pty
import select
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from faultproxy import FaultProxy
from mediawiki import MEDIAWIKI_DIR, TestWiki
from processes import query
from trackerutil import SEED_SNAPSHOT, SEED_TITLE, run_tracker, tracker, wiki_config, write_config
from waits import wait_until

from tracker.config import load_config
from tracker.errors import WikiError
from tracker.fetch.api import ApiSource, contact_warning
from tracker.fetch.poll import poll_wiki
from tracker.model import is_bot
from tracker.store import Store
from tracker.text.display import color_wanted

ESC = "\x1b["

# ---- colour: NO_COLOR, terminals and pipes --------------------------------------------------


@pytest.mark.parametrize(
    ("isatty", "requested", "no_color", "wanted"),
    [
        (True, None, None, True),
        (True, None, "1", False),
        (True, None, "", True),  # set but empty: no effect (no-color.org)
        (False, None, None, False),
        (True, True, "1", True),  # --color is the user's own, and wins
        (True, False, None, False),
    ],
)
def test_color_wanted_follows_no_color_and_the_terminal(
    isatty: bool, requested: bool | None, no_color: str | None, wanted: bool
) -> None:
    environ = {} if no_color is None else {"NO_COLOR": no_color}
    assert color_wanted(isatty, requested, environ) is wanted


@pytest.fixture(scope="module")
def seed_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed article's bundled history, stored."""
    directory = tmp_path_factory.mktemp("seed")
    config = write_config(
        directory,
        wikis=[{"name": "seed", "snapshot": str(SEED_SNAPSHOT)}],
        watches=[{"wiki": "seed", "title": SEED_TITLE}],
    )
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0, result.output
    return config


def _diff_command(config: Path) -> list[str]:
    # A pair of the seed's history with words both inserted and deleted.
    history = json.loads(tracker(config, "history", SEED_TITLE, "--json").stdout)
    return [
        sys.executable,
        "-m",
        "tracker",
        "--config",
        str(config),
        "diff",
        SEED_TITLE,
        "--from",
        str(history[0]["revid"]),
        "--to",
        str(history[-1]["revid"]),
    ]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return {**env, "TERM": "xterm", **extra}


def _on_a_terminal(command: list[str], env: dict[str, str]) -> str:
    """The command's output with its stdout on a pseudo-terminal."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, stdout=follower, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        assert ready, "no output from the command on the terminal within 60 s"
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the command closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(60) == 0, process.stderr.read() if process.stderr else ""
    return b"".join(chunks).decode()


def test_diff_on_a_terminal_has_colour_and_the_marks(seed_config: Path) -> None:
    out = _on_a_terminal(_diff_command(seed_config), _env())
    assert ESC in out
    assert "{+" in out and "+}" in out and "[-" in out and "-]" in out
    # The marks are inside the colour: a copy of the text without the colours still has them.
    assert f"{ESC}32m{{+" in out and f"{ESC}31m[-" in out


def test_diff_on_a_terminal_with_no_color_has_the_marks_only(seed_config: Path) -> None:
    out = _on_a_terminal(_diff_command(seed_config), _env(NO_COLOR="1"))
    assert ESC not in out and "\x1b" not in out
    assert "{+" in out and "[-" in out


def test_diff_through_a_pipe_has_no_colour(seed_config: Path) -> None:
    result = subprocess.run(
        _diff_command(seed_config), capture_output=True, text=True, env=_env(), timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "{+" in result.stdout and "[-" in result.stdout


def test_diff_color_flag_overrides_no_color(seed_config: Path) -> None:
    result = subprocess.run(
        [*_diff_command(seed_config), "--color"],
        capture_output=True,
        text=True,
        env=_env(NO_COLOR="1"),
        timeout=60,
    )
    assert ESC in result.stdout and "{+" in result.stdout


# ---- one log line per retry ---------------------------------------------------------------


def test_each_retry_is_logged_once(
    mediawiki: TestWiki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(wiki_config(tmp_path, mediawiki.api_url, ["X"]))
    waits: list[float] = []
    source = ApiSource(config.wikis[0], sleep=waits.append, max_retries=2)
    caplog.set_level(logging.DEBUG)
    with mediawiki.unavailable(503), pytest.raises(WikiError, match="after 3 tries"):
        source.call("query", meta="siteinfo")
    assert len(waits) == 2
    retries = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert [r.name for r in retries] == ["tracker.fetch.api"] * 2, [
        (r.name, r.getMessage()) for r in retries
    ]
    assert all("HTTP 503; retrying in" in r.getMessage() for r in retries)
    assert not [r for r in caplog.records if r.name.startswith("mwclient")]


def test_each_retry_is_one_line_of_the_run(mediawiki: TestWiki, tmp_path: Path) -> None:
    """The whole command, its logging as set up for users: the fault proxy answers 503 with
    Retry-After twice, then lets the wiki answer."""
    mediawiki.edit("Retried page", "Some text.\n", "create")
    proxy = FaultProxy(mediawiki.host).start()
    try:
        config = wiki_config(tmp_path, proxy.api_url, ["Retried page"], max_retries=3)
        proxy.queue("status", "status", status=503, retry_after="0")
        result = run_tracker(config, "run", "--once")
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, result.stderr
    assert all("HTTP 503; retrying in" in line for line in lines)
    assert "Retrying in a moment" not in result.stderr


# ---- a backfill's progress counts revisions -----------------------------------------------


def _export(title: str, count: int, year_from: int = 2015) -> str:
    """A Special:Export file of one page whose history ends in 2017: `count` revisions."""
    parts = [
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/" version="0.11" '
        'xml:lang="en"><siteinfo><sitename>X</sitename><dbname>x</dbname>'
        "<base>http://x/</base><generator>MediaWiki 1.39</generator>"
        '<case>first-letter</case><namespaces><namespace key="0" case="first-letter" />'
        f"</namespaces></siteinfo><page><title>{escape(title)}</title><ns>0</ns><id>1</id>"
    ]
    for k in range(1, count + 1):
        # In order, 2015 to 2017: day k of the span, one a week.
        stamp = (datetime(year_from, 1, 1, tzinfo=UTC) + timedelta(days=7 * k)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        text = f"== Part ==\nRevision {k} of the old history.\n"
        parts.append(
            f"<revision><id>{k}</id><timestamp>{stamp}</timestamp><contributor>"
            f"<username>Editor{k % 3}</username><id>0</id></contributor><comment>edit {k}"
            "</comment><model>wikitext</model><format>text/x-wiki</format>"
            f'<text xml:space="preserve">{escape(text)}</text></revision>'
        )
    parts.append("</page></mediawiki>\n")
    return "".join(parts)


class Recorder:
    """A progress factory that keeps what the poller told."""

    def __init__(self) -> None:
        self.updates: list[tuple[int, int | None]] = []
        self.closed = 0

    def __call__(self, title: str) -> Recorder:
        return self

    def update(self, count: int, total: int | None) -> None:
        self.updates.append((count, total))

    def close(self) -> None:
        self.closed += 1


def _poll_with(config_path: Path, recorder: Recorder) -> None:
    config = load_config(config_path)
    with Store(config.database_path) as store:
        result = poll_wiki(store, config, config.wikis[0], progress=recorder)
    assert result.ok, result.errors


def test_progress_of_a_mediawiki_backfill_counts_revisions(make_wiki, tmp_path: Path) -> None:
    wiki: TestWiki = make_wiki()
    title = "History ending in 2017"
    (tmp_path / "old.xml").write_text(_export(title, 120))
    wiki.import_xml(tmp_path / "old.xml")
    recorder = Recorder()
    _poll_with(wiki_config(tmp_path, wiki.api_url, [title]), recorder)
    counts = [count for count, _total in recorder.updates]
    assert {total for _count, total in recorder.updates} == {120}
    # Three replies of 50, 50 and 20 revisions: 42 %, 83 %, 100 %, never by the calendar.
    assert counts == [50, 100, 120]
    assert recorder.closed == 1


def test_progress_of_an_export_backfill_counts_revisions(tmp_path: Path) -> None:
    (tmp_path / "old.xml").write_text(_export("From an export", 450))
    config = write_config(
        tmp_path,
        wikis=[{"name": "file", "snapshot": str(tmp_path / "old.xml")}],
        watches=[{"wiki": "file", "title": "From an export"}],
    )
    recorder = Recorder()
    _poll_with(config, recorder)
    # The export's page list counts its revisions (texts skipped); batches of 200.
    assert recorder.updates == [(200, 450), (400, 450), (450, 450)]


# ---- tracker status of an interrupted backfill ----------------------------------------------


def test_status_tells_a_backfill_in_progress_then_interrupted(make_wiki, tmp_path: Path) -> None:
    wiki: TestWiki = make_wiki()
    title = "Long history"
    (tmp_path / "long.xml").write_text(_export(title, 120))
    wiki.import_xml(tmp_path / "long.xml")
    proxy = FaultProxy(wiki.host).start()
    config = wiki_config(tmp_path, proxy.api_url, [title])
    db = tmp_path / "tracker.db"
    # Two replies with texts go through; the third waits.
    proxy.hold("content", after=2)
    process = subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(config), "run", "--once"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        wait_until(
            lambda: query(db, "SELECT count(*) FROM revisions") == [(100,)] and proxy.held >= 1,
            60,
            "two batches stored and the third request held",
        )
        running = tracker(config, "status")
        assert "status:        backfilling" in running.output, running.output
        assert "backfill:      100 of 120 revisions stored, in progress" in running.output
        process.kill()
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
        proxy.stop()
    stopped = tracker(config, "status")
    assert "status:        ok" not in stopped.output
    assert "status:        incomplete" in stopped.output, stopped.output
    (last,) = query(db, "SELECT max(ingested_at) FROM revisions")[0]
    assert f"backfill:      100 of 120 revisions stored, interrupted {last}" in stopped.output
    report = json.loads(tracker(config, "status", "--json").stdout)
    assert report["watches"][0]["backfill"] == {
        "stored": 100,
        "total": 120,
        "state": "interrupted",
        "since": last,
    }
    # The next run completes it, and the status says nothing of a backfill any more.
    wiki_config(tmp_path, wiki.api_url, [title])  # the wiki itself, no proxy in between
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0, result.output
    done = tracker(config, "status")
    assert "backfill" not in done.output and "status:        ok" in done.output


# ---- bots by the wiki's own groups --------------------------------------------------------


def test_bot_rule_by_name_when_no_groups_are_known() -> None:
    for name in ("ClueBot NG", "AAlertBot", "Archive bot", "Tal-bot", "Bot", "imported>MyBot"):
        assert is_bot(name), name
    for name in ("Talbot", "Abbot", "Robot", "Botany", "Cydebot", "Mybot", None, ""):
        assert not is_bot(name), name
    assert is_bot("Talbot", tags=["bot"])
    assert is_bot("Someone", named={"Someone"})


def test_bot_rule_by_groups_wins_over_the_name() -> None:
    groups = {"Talbot": ("bot", "user"), "ClueBot NG": ("user",)}
    assert is_bot("Talbot", groups=groups)
    assert not is_bot("ClueBot NG", groups=groups)
    assert is_bot("AAlertBot", groups=groups)  # not asked: its name tells


def _edit_as(wiki: TestWiki, user: str, title: str, text: str) -> None:
    """An edit by `user` (edit.php, as MediaWiki's own maintenance script saves it)."""
    subprocess.run(
        [
            "php",
            str(MEDIAWIKI_DIR / "maintenance" / "edit.php"),
            "--conf",
            str(wiki.conf),
            "--user",
            user,
            "--summary",
            f"edit by {user}",
            title,
        ],
        input=text,
        text=True,
        check=True,
        capture_output=True,
        env={**os.environ, "MW_CONFIG_FILE": str(wiki.conf)},
        timeout=120,
    )


def test_bots_by_the_wikis_groups(make_wiki, tmp_path: Path) -> None:
    wiki: TestWiki = make_wiki()
    password = "a-long-test-password-0123"
    wiki.run_maintenance("createAndPromote", "Talbot", password)
    wiki.run_maintenance("createAndPromote", "--bot", "Tidy", password)  # a bot, not by name
    wiki.run_maintenance("createAndPromote", "ReportBot", password)  # not a bot, by its groups
    title = "Edited by people and bots"
    _edit_as(wiki, "Talbot", title, "== One ==\nFirst words.\n")
    _edit_as(wiki, "Tidy", title, "== One ==\nFirst words, tidied.\n")
    _edit_as(wiki, "ReportBot", title, "== One ==\nFirst words, tidied, reported.\n")
    _edit_as(wiki, "Talbot", title, "== One ==\nFirst words, tidied, reported, again.\n")
    config = write_config(
        tmp_path,
        wikis=[{"name": "test", "api_url": wiki.api_url, "contact": "t@example.org"}],
        watches=[{"wiki": "test", "title": title}],
        subscriptions=[
            {
                "name": "all",
                "formats": ["text"],
                "filters": {"skip_reverted": False},
                "channels": [{"type": "file", "path": "digests"}],
            },
            {
                "name": "people",
                "formats": ["text"],
                "filters": {"skip_bots": True, "skip_reverted": False},
                "channels": [{"type": "file", "path": "digests"}],
            },
        ],
    )
    assert tracker(config, "run", "--once").exit_code == 0
    settings = load_config(config)
    with Store(settings.database_path, readonly=True) as store:
        wiki_id = store.find_wiki_id("test")
        assert wiki_id is not None
        groups = store.user_groups(wiki_id, ["Talbot", "Tidy", "ReportBot"])
    assert "bot" in groups["Tidy"] and "bot" not in groups["Talbot"]
    assert "bot" not in groups["ReportBot"]
    first = json.loads(tracker(config, "history", title, "--json").stdout)[0]["revid"]

    def digest(name: str) -> dict:
        result = tracker(
            config, "digest", name, "--dry-run", "--since", str(first), "--format", "json"
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    marks = {rev["user"]: rev["bot"] for rev in digest("all")["pages"][0]["revisions"]}
    assert marks == {"Talbot": False, "Tidy": True, "ReportBot": False}
    people = {rev["user"] for rev in digest("people")["pages"][0]["revisions"]}
    assert "Tidy" not in people and {"Talbot", "ReportBot"} <= people


# ---- the contact in the User-Agent ---------------------------------------------------------


def test_contact_warning_for_a_live_wiki_only(tmp_path: Path) -> None:
    config = load_config(
        write_config(
            tmp_path,
            wikis=[
                {"name": "live", "api_url": "https://wiki.invalid/w/api.php"},
                {
                    "name": "mine",
                    "api_url": "https://wiki.invalid/w/api.php",
                    "contact": "me@x.org",
                },
                {"name": "local", "api_url": "http://127.0.0.1:8080/api.php"},
                {"name": "file", "snapshot": str(SEED_SNAPSHOT)},
            ],
        )
    )
    warnings = {wiki.name: contact_warning(wiki) for wiki in config.wikis}
    assert warnings["mine"] is None and warnings["local"] is None and warnings["file"] is None
    assert warnings["live"] is not None and "wikis[].contact" in warnings["live"]


def test_contact_warning_once_a_run_and_in_status(tmp_path: Path) -> None:
    config = write_config(
        tmp_path,
        wikis=[{"name": "live", "api_url": "http://wiki.invalid/w/api.php", "max_retries": 0}],
        watches=[
            {"wiki": "live", "title": "One"},
            {"wiki": "live", "title": "Two"},
        ],
    )
    result = run_tracker(config, "run", "--once")
    assert result.returncode != 0  # the wiki does not exist
    assert result.stderr.count("wikis[].contact") == 1, result.stderr
    status = tracker(config, "status")
    assert status.output.startswith("warning: wiki 'live'"), status.output
    assert "wikis[].contact" in status.output
    assert json.loads(tracker(config, "status", "--json").stdout)["warnings"]


def test_no_contact_warning_for_a_wiki_no_watch_polls(tmp_path: Path) -> None:
    # tracker init names the live wiki with its watch commented out: nothing asks it.
    config = write_config(
        tmp_path,
        wikis=[{"name": "live", "api_url": "http://wiki.invalid/w/api.php"}],
        watches=[],
    )
    assert json.loads(tracker(config, "status", "--json").stdout)["warnings"] == []
