"""The daemon under faults: a flaky network, a wiki cut off, kill -9 mid-backfill and
mid-digest. Whatever happens, the store ends up as a run without faults would have left it:
nothing lost, nothing twice."""

from __future__ import annotations

from pathlib import Path

from faultproxy import FaultProxy
from genhistory import write_history
from processes import DaemonProcess, query, stored_history, stored_revids, wiki_history
from trackerutil import run_tracker, wiki_table, write_config
from waits import wait_until

from tracker.store import Store
from tracker.store.encoding import text_key

# Everything a stored revision is, in a form two databases can be compared by.
HISTORY_SQL = """
    SELECT p.title, r.revid, r.parentid, r.timestamp, r.user, r.comment, r.minor, r.size,
           r.sha1, r.revert_of, r.reverted_by, r.has_text
    FROM revisions r JOIN pages p ON p.id = r.page_id ORDER BY r.revid
"""


def stored_sections(db: Path) -> list[tuple[int, list[str]]]:
    """(revid, the SHA-1 of each section text) of every stored revision, by revid."""
    with Store(db, readonly=True) as store:
        return [
            (
                row["revid"],
                [text_key(store.blob(b)).hex() for _, b in store.revision_layout(row["id"])],
            )
            for row in store.query("SELECT id, revid FROM revisions ORDER BY revid")
        ]


def _watches(titles: list[str]) -> list[dict]:
    return [{"wiki": "local", "title": t, "interval": 1} for t in titles]


def test_daemon_rides_out_faults_and_stores_what_a_clean_run_stores(make_wiki, tmp_path):
    wiki = make_wiki()
    titles = [f"Flaky page {i}" for i in range(3)]
    for title in titles:
        wiki.edit(title, f"== Start ==\n{title} begins.\n", "created")
    with FaultProxy(wiki.host, seed=7) as proxy:
        config = write_config(
            tmp_path / "faulty",
            wikis=[wiki_table("local", proxy.api_url, max_retries=2)],
            watches=_watches(titles),
        )
        db = config.parent / "tracker.db"
        with DaemonProcess(config) as daemon:
            wait_until(
                lambda: all(stored_revids(db, t) for t in titles),
                60,
                "the backfill",
                diagnose=daemon.tail,
            )
            # A flaky network: dropped connections, slow answers, 503s, maxlag refusals.
            proxy.chaos(0.4, seconds=0.5)
            for n in range(4):
                title = titles[n % len(titles)]
                wiki.edit(
                    title,
                    f"== Start ==\n{title} begins.\n\n== Edit {n} ==\nMore.\n",
                    f"edit {n} under chaos",
                )
                seen = proxy.counts["status"]
                wait_until(
                    lambda s=seen: proxy.counts["status"] >= s + 1,
                    60,
                    "polls going on",
                    diagnose=daemon.tail,
                )
            proxy.heal()
            # The wiki cut off: polls fail, the daemon backs off, then the wiki returns.
            with proxy.cut_off():
                wiki.edit(
                    titles[0],
                    "== Start ==\nWritten while the wiki was cut off.\n",
                    "edit while cut off",
                )
                wait_until(
                    lambda: query(db, "SELECT unreachable_since FROM wikis")[0][0],
                    60,
                    "the wiki marked unreachable",
                    diagnose=daemon.tail,
                )
                daemon.wait_for_log("failed polls in a row", count=2, timeout=60)
            wait_until(
                lambda: all(stored_history(db, t) == wiki_history(wiki, t) for t in titles),
                60,
                "recovery",
                diagnose=daemon.tail,
            )
            assert query(db, "SELECT error_count, unreachable_since FROM wikis") == [(0, None)]
            assert daemon.alive
            log = daemon.log()
            assert "retrying in" in log  # retries inside a poll (ApiSource)
            assert "next try in" in log  # backoff across polls (the daemon)
            assert sum(proxy.injected.values()) >= 5, proxy.injected
            daemon.stop()

    clean = write_config(
        tmp_path / "clean", wikis=[wiki_table("local", wiki.api_url)], watches=_watches(titles)
    )
    result = run_tracker(clean, "run", "--once")
    assert result.returncode == 0, result.stderr
    assert query(db, HISTORY_SQL) == query(clean.parent / "tracker.db", HISTORY_SQL)
    assert stored_sections(db) == stored_sections(clean.parent / "tracker.db")


def test_a_hanging_wiki_never_delays_another(make_wiki, tmp_path):
    good, bad = make_wiki(), make_wiki()
    good.edit("Good page", "one", "created")
    bad.edit("Bad page", "one", "created")
    with FaultProxy(bad.host) as proxy:
        config = write_config(
            tmp_path,
            wikis=[
                wiki_table("good", good.api_url),
                wiki_table("bad", proxy.api_url, timeout=300.0, request_deadline="10m"),
            ],
            watches=[
                {"wiki": "good", "title": "Good page", "interval": 1},
                {"wiki": "bad", "title": "Bad page", "interval": 1},
            ],
        )
        db = tmp_path / "tracker.db"
        with DaemonProcess(config) as daemon:
            wait_until(
                lambda: stored_revids(db, "Good page") and stored_revids(db, "Bad page"),
                15,
                "both backfilled",
                diagnose=daemon.tail,
            )
            # Every request to "bad" hangs until heal(): its timeouts are far longer than
            # the test.
            proxy.mode("hang", seconds=900)
            wait_until(lambda: proxy.injected["hang"], 60, "a hanging request")
            for n in range(3):
                rev = good.edit("Good page", f"edit {n}", f"good edit {n}")
                wait_until(
                    lambda r=rev: r in stored_revids(db, "Good page"),
                    60,
                    f"good edit {n} stored",
                    diagnose=daemon.tail,
                )
            # ...all of them while bad's request still hung: good never waited for it.
            assert proxy.hanging == 1
            assert proxy.injected["hang"] == 1  # never two polls of one wiki at once
            proxy.heal()
            daemon.stop()


def test_daemon_kill9_mid_backfill_then_restart_loses_and_duplicates_nothing(make_wiki, tmp_path):
    wiki = make_wiki()
    title = "Long history"
    write_history(tmp_path / "history.xml", title, 260, size=12_000)
    wiki.import_xml(tmp_path / "history.xml")
    expected = wiki_history(wiki, title)
    assert len(expected) == 260
    with FaultProxy(wiki.host) as proxy:
        # A held request waits for the test, never for a timeout: no retry comes to the gate.
        config = write_config(
            tmp_path,
            wikis=[wiki_table("local", proxy.api_url, timeout=300.0)],
            watches=_watches([title]),
        )
        db = tmp_path / "tracker.db"
        # Batches of 50: the third reply waits at the proxy's gate until two are stored,
        # then goes on and the kill lands while it is stored (or right after); the fourth
        # is held, so the backfill cannot have ended.
        proxy.hold("content", after=2)
        with DaemonProcess(config) as daemon:
            wait_until(
                lambda: len(stored_revids(db, title)) == 100 and proxy.held == 1,
                60,
                "two batches of the backfill stored",
                diagnose=daemon.tail,
            )
            proxy.release(1)
            wait_until(lambda: proxy.answered["content"] == 3, 60, "the third batch sent")
            daemon.kill9()
        partial = len(stored_revids(db, title))
        assert partial in (100, 150), partial
        proxy.heal()
        with DaemonProcess(config) as daemon:
            wait_until(
                lambda: len(stored_revids(db, title)) >= 260, 60, "the rest", diagnose=daemon.tail
            )
            daemon.stop()
    stored = stored_history(db, title)
    assert stored == expected
    assert all(b[1] == a[0] for a, b in zip(stored, stored[1:], strict=False))  # no gaps
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def test_daemon_kill9_mid_digest_then_restart_delivers_once(mediawiki, tmp_path, smtp_server):
    smtp = smtp_server
    title = "Digest kill page"
    mediawiki.edit(title, "== Intro ==\nFirst.\n", "created")
    config = write_config(
        tmp_path,
        wikis=[wiki_table("local", mediawiki.api_url)],
        watches=_watches([title]),
        subscriptions=[
            {
                "name": "kill",
                "formats": ["markdown"],
                "channels": [{"type": "file", "path": "digests"}, smtp.channel(timeout=30)],
            }
        ],
    )
    db = tmp_path / "tracker.db"

    def mails(text: str) -> list:
        return [m for m in smtp.messages if text in m.as_string()]

    with DaemonProcess(config) as daemon:
        wait_until(lambda: smtp.messages, 60, "the first digest", diagnose=daemon.tail)
        smtp.hold.set()  # the next e-mail hangs in DATA: the daemon is mid-digest
        rev = mediawiki.edit(title, "== Intro ==\nSecond.\n", "edit before the kill")
        wait_until(smtp.holding.is_set, 60, "the digest being sent", diagnose=daemon.tail)
        daemon.kill9()
    smtp.hold.clear()
    smtp.release.set()
    assert rev in stored_revids(db, title)
    digests = query(db, "SELECT count(*) FROM digests")[0][0]
    # The delivery was claimed when the process died; its retry waits for the backoff.
    # Let that time pass (the clock is the test's to move) instead of waiting a minute.
    query_rw(
        db, "UPDATE deliveries SET next_attempt = '2000-01-01T00:00:00Z' WHERE status != 'sent'"
    )
    with DaemonProcess(config) as daemon:
        wait_until(
            lambda: mails("edit before the kill"),
            60,
            "the digest after the restart",
            diagnose=daemon.tail,
        )
        barrier = mediawiki.edit(title, "== Intro ==\nThird.\n", "edit after the restart")
        wait_until(
            lambda: mails("edit after the restart"), 60, "the next digest", diagnose=daemon.tail
        )
        daemon.stop()
    assert barrier in stored_revids(db, title)
    assert len(mails("edit before the kill")) == 1
    assert len({m["Message-ID"] for m in smtp.messages}) == len(smtp.messages)
    # One digest per window: the restart re-sent the recorded digest, it made no new one.
    assert query(db, "SELECT count(*) FROM digests")[0][0] == digests + 1
    files = [
        p
        for p in (tmp_path / "digests").glob("kill-*.md")
        if "edit before the kill" in p.read_text()
    ]
    assert len(files) == 1


def query_rw(db: Path, sql: str) -> None:
    import sqlite3

    conn = sqlite3.connect(db, timeout=10)
    with conn:
        conn.execute(sql)
    conn.close()
