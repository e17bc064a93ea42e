"""`tracker daemon` as a real process against a real MediaWiki: polls, digests, signals, lock.

Intervals are 1 s; every wait polls the store, the log or the SMTP server with a deadline.
What is asserted is what the daemon did (which poll stored an edit, what its log says, how
it exited), never how many seconds it took: deadlines only bound a broken run.
"""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from processes import DaemonProcess, query, stored_history, stored_revids, wiki_history
from trackerutil import run_tracker, wiki_table, write_config
from waits import wait_until

from tracker.config import load_config
from tracker.daemon.lock import DaemonLock, holder
from tracker.daemon.scheduler import Plan, backoff_delay
from tracker.errors import AlreadyRunning
from tracker.store import Store
from tracker.store import jobs as daemon_store

# ---- units: no wiki, no process ----------------------------------------------------------


def test_plan_polls_each_wiki_at_its_shortest_interval_and_schedules_digests(tmp_path):
    config = load_config(
        write_config(
            tmp_path,
            wikis=[
                wiki_table("a", "http://127.0.0.1:9/api.php"),
                wiki_table("b", "http://127.0.0.1:9/api.php"),
                wiki_table("idle", "http://127.0.0.1:9/api.php"),
            ],
            watches=[
                {"wiki": "a", "title": "X", "interval": "15m"},
                {"wiki": "a", "title": "Y", "interval": "90s"},
                {"wiki": "b", "title": "Z", "interval": "6h"},
            ],
            subscriptions=[
                {"name": "now"},
                {"name": "morning", "schedule": "0 7 * * *", "timezone": "Asia/Karachi"},
                {"name": "often", "schedule": "6h"},
            ],
        )
    )
    plan = Plan.of(config)
    assert plan.polls == {"a": 90.0, "b": 21600.0}  # a wiki without watches has no job
    assert plan.on_change == ("now",)
    assert plan.alerting == ()  # no scheduled subscription asks for alerts
    morning = plan.digests["morning"]
    fire = morning.get_next_fire_time(None, datetime(2026, 3, 1, 0, 0, tzinfo=UTC))
    assert fire.astimezone(UTC) == datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 07:00 at UTC+5
    assert plan.digests["often"].interval.total_seconds() == 6 * 3600
    assert set(plan.job_rows()) == {
        "poll:a",
        "poll:b",
        "digest:morning",
        "digest:often",
        "digest:on-change",
    }


def test_backoff_delay_grows_with_jitter_and_is_capped():
    for failures in range(1, 12):
        delays = [backoff_delay(failures, 10.0) for _ in range(50)]
        full = min(10.0 * 2 ** (failures - 1), 160.0)
        assert all(full / 2 <= d <= full for d in delays), (failures, delays)
        assert len(set(delays)) > 1  # jittered: failing daemons don't retry in lockstep
    assert backoff_delay(1, 10.0, retry_after=120) == 120  # the server's Retry-After wins
    assert backoff_delay(30, 1.0) <= 60  # a 1 s watch is retried at least once a minute
    assert backoff_delay(30, 3600.0) <= 3600


def test_lock_refuses_a_second_holder_and_frees_on_release(tmp_path):
    db = tmp_path / "tracker.db"
    with DaemonLock(db):
        assert holder(db) == os.getpid()
        with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
            DaemonLock(db).acquire()
    assert holder(db) is None
    with DaemonLock(db):  # free again
        pass


def test_job_status_is_empty_before_any_daemon_ran(tmp_path):
    with Store(tmp_path / "tracker.db") as store:
        assert daemon_store.job_status(store) == []
        assert daemon_store.daemon_status(store, None)["running"] is False


# ---- the daemon as a process ------------------------------------------------------------


def _config(tmp_path: Path, api_url: str, titles: list[str], **kwargs) -> Path:
    return write_config(
        tmp_path,
        wikis=[wiki_table("local", api_url)],
        watches=[{"wiki": "local", "title": t, "interval": 1} for t in titles],
        **kwargs,
    )


def _last_poll_run(db: Path) -> int:
    """The id of the latest poll run; a poll run's row is made as it starts."""
    return query(db, "SELECT coalesce(max(id), 0) FROM poll_runs")[0][0]


def _polls_that_stored(db: Path) -> list[int]:
    """The poll runs that stored something, finished ones only."""
    return [
        row[0]
        for row in query(
            db,
            "SELECT id FROM poll_runs WHERE revisions_added > 0 "
            "AND finished_at IS NOT NULL ORDER BY id",
        )
    ]


def test_daemon_edit_is_stored_and_its_digest_arrives(mediawiki, tmp_path, smtp_server):
    smtp = smtp_server
    title = "Daemon digest page"
    first = mediawiki.edit(title, "== Intro ==\nThe first text.\n", "created")
    config = _config(
        tmp_path,
        mediawiki.api_url,
        [title],
        subscriptions=[
            {
                "name": "live",
                "formats": ["markdown", "html"],
                "channels": [{"type": "file", "path": "digests"}, smtp.channel()],
            }
        ],
    )
    db = tmp_path / "tracker.db"
    with DaemonProcess(config) as daemon:
        wait_until(
            lambda: stored_revids(db, title) == [first], 60, "the backfill", diagnose=daemon.tail
        )
        # The subscription's first digest says what it started tracking; wait for it so that
        # the next one is the edit's.
        wait_until(lambda: smtp.messages, 60, "the first digest by e-mail", diagnose=daemon.tail)
        second = mediawiki.edit(
            title, "== Intro ==\nThe second text, edited live.\n", "daemon test edit"
        )
        # Poll runs numbered after this one started after the edit was saved on the wiki.
        started_before_edit = _last_poll_run(db)
        wait_until(
            lambda: second in stored_revids(db, title), 60, "the edit stored", diagnose=daemon.tail
        )

        def mail_with_edit():
            return [m for m in smtp.messages if "daemon test edit" in m.as_string()]

        wait_until(mail_with_edit, 60, "the edit's digest by e-mail", diagnose=daemon.tail)
        wait_until(
            lambda: any(
                "daemon test edit" in p.read_text()
                for p in (tmp_path / "digests").glob("live-*.md")
            ),
            30,
            "the edit's digest in digests/",
            diagnose=daemon.tail,
        )
        # Poll runs are numbered as they start, and a run asks the wiki after its number is
        # committed: the first run numbered after the edit stored it, or one already going
        # did. No poll went by without the edit, whatever the machine's speed.
        stored_by = wait_until(
            lambda: _polls_that_stored(db)[1:], 60, "the poll run that stored the edit"
        )
        assert len(stored_by) == 1 and stored_by[0] <= started_before_edit + 1, (
            stored_by,
            started_before_edit,
        )
        # The digest after the start digest is the edit's, and covers that edit alone.
        assert query(db, "SELECT kind FROM digests WHERE subscription = 'live' ORDER BY id") == [
            ("start",),
            ("changes",),
        ]
        assert query(
            db,
            "SELECT p.from_revid, p.to_revid, p.revisions FROM digests d "
            "JOIN digest_pages p ON p.digest_id = d.id "
            "WHERE d.subscription = 'live' AND d.kind = 'changes'",
        ) == [(first, second, 1)]
        assert len(mail_with_edit()) == 1
        assert "poll local: 1 pages checked" in daemon.log()  # one line per poll, with counts

        with Store(db, readonly=True) as store:
            jobs = {job["id"]: job for job in daemon_store.job_status(store)}
            state = daemon_store.daemon_status(store, holder(db))
        assert jobs["poll:local"]["runs"] >= 2 and jobs["poll:local"]["last_ok"]
        assert jobs["poll:local"]["next_run"] and not jobs["poll:local"]["consecutive_failures"]
        assert jobs["digest:on-change"]["last_ok"]
        assert state["running"] and state["pid"] == daemon.pid

        assert daemon.stop() == 0
        assert "daemon stopped" in daemon.log()  # every job ended within the stop's grace
    assert holder(db) is None
    with Store(db, readonly=True) as store:
        assert daemon_store.daemon_status(store, holder(db))["stopped_at"]


def test_daemon_alerts_of_a_scheduled_subscription_come_after_a_poll(tmp_path, http_receiver):
    # A daily digest that is not due for hours, alerts after 1 s of failing: the daemon
    # checks them after each poll, not only when the digest is due.
    receiver = http_receiver()
    config = write_config(
        tmp_path,
        wikis=[wiki_table("down", "http://127.0.0.1:9/api.php", max_retries=0)],
        watches=[{"wiki": "down", "title": "Nowhere", "interval": 1}],
        subscriptions=[
            {
                "name": "daily",
                "schedule": f"0 {(datetime.now(UTC).hour + 12) % 24} * * *",
                "timezone": "UTC",
                "alert_after": "1s",
                "channels": [{"type": "webhook", "url": receiver.url}],
            }
        ],
    )
    assert Plan.of(load_config(config)).alerting == ("daily",)
    with DaemonProcess(config) as daemon:
        wait_until(
            lambda: [r for r in receiver.accepted if r.json().get("kind") == "alert"],
            60,
            "the alert of the failing wiki",
            diagnose=daemon.tail,
        )
        assert daemon.stop() == 0
    kinds = [r.json().get("kind") for r in receiver.accepted]
    assert kinds.count("alert") == 1 and "changes" not in kinds  # the digest was not due


def test_daemon_sighup_reloads_watches_and_refuses_an_invalid_config(mediawiki, tmp_path):
    a, b = "Reload page A", "Reload page B"
    a1 = mediawiki.edit(a, "A one", "a1")
    b1 = mediawiki.edit(b, "B one", "b1")
    config = _config(tmp_path, mediawiki.api_url, [a])
    db = tmp_path / "tracker.db"
    with DaemonProcess(config) as daemon:
        wait_until(lambda: stored_revids(db, a) == [a1], 60, "A backfilled", diagnose=daemon.tail)
        assert stored_revids(db, b) == []

        _config(tmp_path, mediawiki.api_url, [a, b])  # B added
        daemon.signal(signal.SIGHUP)
        wait_until(
            lambda: stored_revids(db, b) == [b1], 60, "B tracked after SIGHUP", diagnose=daemon.tail
        )

        good = config.read_text()
        config.write_text(good + '\n[daemon]\nlog_levle = "INFO"\n')  # a typo
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("config reload refused")
        assert "log_levle" in daemon.log() and daemon.alive
        a2 = mediawiki.edit(a, "A two", "a2")
        wait_until(
            lambda: a2 in stored_revids(db, a),
            60,
            "polling on with the old config",
            diagnose=daemon.tail,
        )

        _config(tmp_path, mediawiki.api_url, [a])  # B removed
        daemon.signal(signal.SIGHUP)
        daemon.wait_for_log("config reloaded", count=2)
        # A poll that began before the reload may still ask for B. Polls of a wiki run one
        # at a time, so the second poll run numbered after this point began after the
        # reload: once it has ended, no poll asks for B.
        after_reload = _last_poll_run(db) + 2
        wait_until(
            lambda: query(
                db,
                "SELECT id FROM poll_runs WHERE id >= ? AND finished_at IS NOT NULL",
                (after_reload,),
            ),
            60,
            "a poll run begun after the reload",
            diagnose=daemon.tail,
        )
        b2 = mediawiki.edit(b, "B two", "b2")
        a3 = mediawiki.edit(a, "A three", "a3")
        # A's edit came after B's: once it is stored, a poll of B would have stored b2 too.
        wait_until(lambda: a3 in stored_revids(db, a), 60, "A polled", diagnose=daemon.tail)
        assert b2 not in stored_revids(db, b)
        assert daemon.stop() == 0 and "daemon stopped" in daemon.log()


def test_second_daemon_on_the_same_database_refuses(mediawiki, tmp_path):
    title = "Lock page"
    mediawiki.edit(title, "text", "created")
    config = _config(tmp_path, mediawiki.api_url, [title])
    with DaemonProcess(config) as first:
        first.wait_for_log("daemon started")
        for args in ((), ("--detach",)):
            second = run_tracker(config, "daemon", *args, timeout=60)
            assert second.returncode == 1, second
            assert f"daemon (pid {first.pid}) is already running" in second.stderr
            assert second.stderr.count("\n") == 1  # one line, no traceback
        assert first.alive
        assert first.stop() == 0 and "daemon stopped" in first.log()


def test_daemon_detach_writes_pid_file_and_stops_on_sigterm(mediawiki, tmp_path):
    title = "Detach page"
    rev = mediawiki.edit(title, "text", "created")
    config = _config(tmp_path, mediawiki.api_url, [title])
    db, pid_file = tmp_path / "tracker.db", tmp_path / "run" / "tracker.pid"
    started = run_tracker(config, "daemon", "--detach", "--pid-file", str(pid_file), timeout=60)
    assert started.returncode == 0, started.stderr
    pid = int(pid_file.read_text())
    assert f"pid {pid}" in started.stdout
    try:
        assert holder(db) == pid
        wait_until(lambda: stored_revids(db, title) == [rev], 60, "the detached daemon polling")
        # The poll's line is logged when the poll ends, after its revisions are committed
        # (and the editors' groups asked): wait for it, do not race it.
        log = tmp_path / "tracker.log"
        wait_until(lambda: "poll local" in log.read_text(), 60, "the poll's line in the log")
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not pid_file.exists(), 60, "the pid file removed at exit")
    wait_until(lambda: holder(db) is None, 60, "the lock released")


@pytest.mark.parametrize("where", ["in a request", "in a retry wait"])
def test_daemon_sigterm_mid_poll_exits_without_waiting_for_the_wiki(make_wiki, tmp_path, where):
    wiki = make_wiki()
    titles = [f"Stop page {i}" for i in range(3)]
    for title in titles:
        wiki.edit(title, f"text of {title}", "created")
    with FaultProxy(wiki.host) as proxy:
        # Nothing but the stop can end the wait before the stop's deadline below: the
        # request's timeouts and the wiki's Retry-After are far longer.
        config = write_config(
            tmp_path,
            wikis=[
                wiki_table(
                    "local", proxy.api_url, timeout=300.0, request_deadline="10m", max_retries=5
                )
            ],
            watches=[{"wiki": "local", "title": t, "interval": 1} for t in titles],
        )
        db = tmp_path / "tracker.db"
        with DaemonProcess(config) as daemon:
            wait_until(
                lambda: all(stored_revids(db, t) for t in titles),
                60,
                "the backfill",
                diagnose=daemon.tail,
            )
            for title in titles:
                wiki.edit(title, f"new text of {title}", "edited")
            if where == "in a request":
                proxy.mode("hang", seconds=900)  # no answer until heal()
                wait_until(lambda: proxy.injected["hang"], 60, "a hanging request")
            else:
                proxy.mode("status", status=503, seconds=600)  # Retry-After: 10 minutes
                daemon.wait_for_log("retrying in 600.0 s")
            # TimeoutExpired here: the daemon waited for the wiki instead of stopping.
            code = daemon.stop(timeout=60)
            proxy.heal()
        assert code == 0
        log = daemon.log()
        if where == "in a request":
            # A socket read cannot be interrupted: the poll is left behind after the grace
            # time, its open batch rolled back by the exit.
            assert "still waiting on a wiki" in log, daemon.tail()
        else:
            # The retry wait ends at the stop: the poll unwinds, nothing is left behind.
            assert "poll:local interrupted by the stop" in log, daemon.tail()
            assert "daemon stopped" in log, daemon.tail()
        assert query(db, "PRAGMA integrity_check") == [("ok",)]
        # Whatever was stored is a consistent prefix; a restart completes it.
        for title in titles:
            stored = stored_history(db, title)
            assert stored == wiki_history(wiki, title)[: len(stored)]
        config = write_config(
            tmp_path,
            wikis=[wiki_table("local", wiki.api_url)],
            watches=[{"wiki": "local", "title": t, "interval": 1} for t in titles],
        )
        with DaemonProcess(config) as daemon:
            wait_until(
                lambda: all(stored_history(db, t) == wiki_history(wiki, t) for t in titles),
                60,
                "the restart catching up",
                diagnose=daemon.tail,
            )
            assert daemon.stop() == 0
