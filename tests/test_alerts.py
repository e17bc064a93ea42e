"""Alerts against a real MediaWiki behind the fault proxy: a wiki cut off for longer than
``alert_after`` is told once, more failing runs (and a fresh process) tell nothing more, and
its recovery is told once; a watch whose page does not exist likewise. The clock of the
digest stage is injected: the failures are real, their duration is the test's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from faultproxy import FaultProxy
from trackerutil import wiki_table, write_config

from tracker.config import load_config
from tracker.digest.run import run_digests
from tracker.errors import ConfigError
from tracker.fetch.poll import _watch_error, poll_all
from tracker.store import Store

TITLE = "Alerted page"
OTHER = "Alerted page, watched"
LATER = "Alerted page (later)"


def _poll(config_path: Path) -> list:
    config = load_config(config_path)
    with Store(config.database_path) as store:
        return poll_all(store, config, progress=False)


def _digest(config_path: Path, now: datetime) -> list[str]:
    config = load_config(config_path)
    with Store(config.database_path) as store:
        run = run_digests(store, config, now=now)
    assert not run.errors, run.errors
    return run.lines


def _alerts(config_path: Path) -> list[dict]:
    with Store(config_path.parent / "tracker.db", readonly=True) as store:
        rows = store.query("SELECT * FROM digests WHERE kind = 'alert' ORDER BY id")
    for row in rows:
        row["model"] = json.loads(row["model"])
    return rows


def test_alerts_wiki_down_told_once_and_recovery_once(
    tmp_path: Path, mediawiki, http_receiver
) -> None:
    mediawiki.edit(TITLE, "== A ==\nText.\n", "created")
    receiver = http_receiver()
    with FaultProxy(mediawiki.host) as proxy:
        config = write_config(
            tmp_path,
            wikis=[wiki_table("local", proxy.api_url, max_retries=0, contact="t@example.org")],
            watches=[{"wiki": "local", "title": TITLE}],
            subscriptions=[
                {
                    "name": "ops",
                    "alert_after": "1h",
                    "formats": ["text", "markdown", "html"],
                    "channels": [
                        {"type": "webhook", "url": receiver.url},
                        {"type": "file", "path": "out"},
                    ],
                }
            ],
        )
        assert all(r.ok for r in _poll(config))
        start = datetime.now(UTC)
        _digest(config, start)  # the "now tracking" digest
        assert len(receiver.accepted) == 1

        proxy.mode("cut")
        assert not any(r.ok for r in _poll(config))
        assert _digest(config, start + timedelta(minutes=30)) == []  # not yet an hour
        assert _alerts(config) == []

        lines = _digest(config, start + timedelta(hours=2))
        (alert,) = _alerts(config)
        assert len(lines) == 2  # one alert, through both channels
        (notice,) = alert["model"]["notices"]
        assert notice["state"] == "failing"
        assert notice["wiki"] == "local" and notice["title"] is None
        assert notice["error"]
        assert alert["subject"].startswith("ops: ALERT: local failing for ")
        payload = receiver.accepted[-1].json()
        assert payload["kind"] == "alert"
        assert "has been failing for" in payload["text"]

        # Failing on: more polls, more runs, a fresh process: nothing more to tell.
        for hours in (3, 4):
            assert not any(r.ok for r in _poll(config))
            assert _digest(config, start + timedelta(hours=hours)) == []
        assert len(_alerts(config)) == 1
        assert len(receiver.accepted) == 2

        proxy.heal()
        assert all(r.ok for r in _poll(config))
        lines = _digest(config, start + timedelta(hours=5))
        assert len(lines) == 2
        first, recovered = _alerts(config)
        (notice,) = recovered["model"]["notices"]
        assert notice["state"] == "recovered"
        assert recovered["subject"] == "ops: recovered: local works again"
        assert "works again, after failing for" in receiver.accepted[-1].json()["text"]
        assert _digest(config, start + timedelta(hours=6)) == []
        assert len(_alerts(config)) == 2
    # Every format the file channel wrote says so, escaped as the digests are.
    texts = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(texts) == 9  # start, alert, recovery: text, markdown, html each
    html = next(p for p in (tmp_path / "out").iterdir() if p.suffix == ".html" and "-2." in p.name)
    assert "Alert:" in html.read_text(encoding="utf-8")


def test_alerts_a_failing_watch_and_a_short_outage(tmp_path: Path, mediawiki) -> None:
    mediawiki.edit(OTHER, "== A ==\nText.\n", "created")
    with FaultProxy(mediawiki.host) as proxy:
        config = write_config(
            tmp_path,
            wikis=[wiki_table("local", proxy.api_url, max_retries=0, contact="t@example.org")],
            watches=[{"wiki": "local", "title": OTHER}, {"wiki": "local", "title": LATER}],
            subscriptions=[
                {
                    "name": "ops",
                    "alert_after": "6h",
                    "schedule": "0 7 * * *",  # a daily digest: alerts do not wait for it
                    "channels": [{"type": "file", "path": "out"}],
                }
            ],
        )
        _poll(config)  # LATER does not exist yet: that watch fails
        start = datetime.now(UTC)
        _digest(config, start)
        # A short outage of the wiki, healed before the threshold: never told.
        proxy.mode("cut")
        _poll(config)
        _digest(config, start + timedelta(hours=1))
        proxy.heal()
        _poll(config)
        _digest(config, start + timedelta(hours=2))
        assert _alerts(config) == []
        # The missing page's watch has failed for longer than six hours now.
        _digest(config, start + timedelta(hours=7))
        (alert,) = _alerts(config)
        (notice,) = alert["model"]["notices"]
        assert (notice["state"], notice["title"]) == ("failing", LATER)
        assert "does not exist" in notice["error"]
        mediawiki.edit(LATER, "Now it does.\n", "created")
        _poll(config)
        _digest(config, start + timedelta(hours=8))
        _alert, recovered = _alerts(config)
        assert [n["state"] for n in recovered["model"]["notices"]] == ["recovered"]
        assert recovered["model"]["notices"][0]["title"] == LATER


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "'soon' is not an interval"),
        (-5, "an interval must be positive"),
    ],
)
def test_alerts_config_errors_name_file_and_key(tmp_path: Path, value: object, message: str):
    config = write_config(tmp_path, subscriptions=[{"name": "ops", "alert_after": value}])
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert str(caught.value).startswith(
        f"{config.resolve()}: config.subscriptions[0].alert_after: "
    )
    assert message in str(caught.value)


def test_alerts_a_watch_fails_since_its_first_failed_poll(tmp_path: Path) -> None:
    # The first of a run of failed polls is kept (watches.failing_since): an alert switched on
    # while a watch was already failing times the outage from there, not from the last one.
    config = write_config(
        tmp_path,
        wikis=[wiki_table("w", "http://127.0.0.1:9/api.php")],
        watches=[{"wiki": "w", "title": "T"}],
        subscriptions=[
            {"name": "ops", "alert_after": "6h", "channels": [{"type": "file", "path": "o"}]}
        ],
    )
    with Store(tmp_path / "tracker.db") as store:
        wiki_id = store.wiki_id("w", api_url="http://127.0.0.1:9/api.php")
        with store.atomic():
            row = store.watch(wiki_id, "T")
            _watch_error(store, row, "first failure")
        first = store.watch_state("w", "T")
        with store.atomic():
            _watch_error(store, first, "second failure")
        second = store.watch_state("w", "T")
        assert second["error_count"] == 2 and second["last_error"] == "second failure"
        assert second["failing_since"] == first["failing_since"] == first["last_error_at"]
        with store.atomic():  # as if the first failure was seven hours ago, the last just now
            since = (datetime.now(UTC) - timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
            store.update_watch(row["id"], failing_since=since)
    lines = _digest(config, datetime.now(UTC))
    (alert,) = _alerts(config)
    (notice,) = alert["model"]["notices"]
    assert notice["state"] == "failing" and notice["since"] == since and lines
