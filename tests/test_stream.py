"""Push for Wikimedia wikis (issue 14, item 4): tracker.fetch.stream follows a recentchange
event stream. The stream here is EventStreams on loopback (tests/ssefixture.py) replaying
what a real MediaWiki sent of its own changes through its JSON feed."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from mediawiki import TestWiki
from ssefixture import (
    Drop,
    RcFeedReceiver,
    SseEvent,
    SseServer,
    canary,
    eventstreams_events,
    iso_ms,
    refused_url,
    sample_change,
    wrap,
)
from waits import wait_until

from tracker.errors import WikiError
from tracker.fetch.stream import RecentChangeStream, StreamEvent
from tracker.model import utc_stamp

AGENT = "wiki-tracker-tests/0.1 (https://example.org/contact)"
HOST = "127.0.0.1"  # the test wiki's server_name


@pytest.fixture
def sse_server() -> Iterator[Callable[..., SseServer]]:
    """sse_server(events, **options) -> a running SseServer; closed at teardown."""
    servers: list[SseServer] = []

    def start(events: list[SseEvent] | None = None, **options: object) -> SseServer:
        server = SseServer(list(events or []), **options)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def stream_of(url: str, **options: object) -> RecentChangeStream:
    """A stream client that never waits between attempts (backoff 0)."""
    options.setdefault("server_name", HOST)
    options.setdefault("backoff", lambda failures: 0.0)
    return RecentChangeStream(url, user_agent=AGENT, **options)  # type: ignore[arg-type]


def follow(stream: RecentChangeStream, count: int, timeout: float = 15.0) -> list[StreamEvent]:
    """The first `count` events the stream yields, read in a thread of its own and stopped
    then; fails when they do not come within `timeout` or the stream does not stop."""
    stop = threading.Event()
    got: list[StreamEvent] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            for event in stream.events(stop):
                got.append(event)
                if len(got) >= count:
                    stop.set()
        except BaseException as exc:  # reported to the test below
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    stop.set()
    thread.join(5)
    assert not thread.is_alive(), "the stream did not stop"
    if failed:
        raise failed[0]
    assert len(got) == count, f"{len(got)} of {count} events within {timeout} s"
    return got


def events_of(*changes: dict) -> list[SseEvent]:
    return eventstreams_events(changes)


# ---- a real MediaWiki's changes, replayed -------------------------------------------------


def _make_changes(wiki: TestWiki, feed: RcFeedReceiver) -> dict[str, int]:
    """Creations, an edit that categorizes, a move and a deletion, each waited for in the
    feed before the next (a log entry's change is sent after the API has answered); the
    revision ids."""
    revids = {}
    steps: list[tuple[str, Callable[[], object]]] = [
        ("alpha", lambda: wiki.edit("Stream Alpha", "First text.")),
        ("alpha2", lambda: wiki.edit("Stream Alpha", "Second text. [[Category:Streamed]]")),
        ("beta", lambda: wiki.edit("Stream Beta", "Beta text.")),
        ("move", lambda: wiki.move("Stream Alpha", "Stream Gamma", reason="renamed")),
        ("delete", lambda: wiki.delete("Stream Beta", reason="gone")),
        # The category membership entry is made by a job: run now, after the move.
        ("jobs", lambda: wiki.run_maintenance("runJobs")),
    ]
    for count, (name, step) in enumerate(steps, start=1):
        done = step()
        if isinstance(done, int):
            revids[name] = done
        feed.wait(count)
    return revids


def test_stream_yields_a_real_wikis_changes_once_in_order_across_dropped_connections(
    make_wiki: Callable[..., TestWiki],
    sse_server: Callable[..., SseServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    with RcFeedReceiver() as feed:
        wiki = make_wiki()
        with wiki.conf.open("a") as conf:
            # Jobs only when the test runs them: the categorize entry comes last.
            conf.write(feed.settings() + "$wgJobRunRate = 0;\n")
        revids = _make_changes(wiki, feed)
        changes = list(feed.changes)
    assert [(c["type"], c.get("log_type")) for c in changes] == [
        ("new", None),
        ("edit", None),
        ("new", None),
        ("log", "move"),
        ("log", "delete"),
        ("categorize", None),
    ]

    # Among them, as on the real stream: a canary of the same wiki (skipped by its meta),
    # and another wiki's change.
    other = dict(changes[1], server_name="other.example.org", wiki="otherwiki")
    events = eventstreams_events(
        [*changes[:2], canary(changes[0]), *changes[2:4], other, *changes[4:]]
    )
    # The first connection is cut after 3 events; the second after 2 more and half of the
    # next one; the third goes on.
    server = sse_server(events, drops={0: Drop(3), 1: Drop(2, mid_event=True)})
    stream = stream_of(server.url, since="2023-11-14T00:00:00Z")

    with caplog.at_level(logging.WARNING, logger="tracker.fetch.stream"):
        got = follow(stream, len(changes))

    # Each change of the wiki once, in order; the canary and the other wiki's change not.
    assert [(e.change.rcid, e.change.type, e.change.title) for e in got] == [
        (c["id"], c["type"], c["title"]) for c in changes
    ]
    assert [e.uid for e in got] == [
        e.json()["meta"]["id"]
        for e in events
        if e.json()["meta"]["domain"] == HOST and e.json()["wiki"] == "wiki"
    ]
    assert {(e.wiki, e.server_name, e.server_url) for e in got} == {
        ("wiki", HOST, f"http://{wiki.host}")
    }
    new, edit, beta, move, delete, categorize = (e.change for e in got)
    assert (new.revid, new.old_revid, new.ns, new.user) == (revids["alpha"], None, 0, "Admin")
    assert (edit.revid, edit.old_revid) == (revids["alpha2"], revids["alpha"])
    assert beta.revid == revids["beta"]
    assert (move.logtype, move.logaction, move.title, move.titles) == (
        "move",
        "move",
        "Stream Alpha",
        ("Stream Gamma",),
    )
    assert (delete.logtype, delete.title, delete.titles, delete.revid) == (
        "delete",
        "Stream Beta",
        (),
        None,
    )
    assert (categorize.title, categorize.ns, categorize.member, categorize.added) == (
        "Category:Streamed",
        14,
        "Stream Gamma",
        True,
    )
    assert [e.change.timestamp for e in got] == [utc_stamp(c["timestamp"]) for c in changes]
    assert all(e.change.pageid is None for e in got)

    # Resumed each time right after the last whole event received, by its id alone.
    first, second, third = server.requests
    assert (first.last_event_id, first.query) == (None, {"since": "2023-11-14T00:00:00Z"})
    assert (second.last_event_id, second.query) == (events[2].id, {})
    assert (third.last_event_id, third.query) == (events[4].id, {})
    assert {asked.headers["User-Agent"] for asked in server.requests} == {AGENT}
    assert stream.last_event_id == events[-1].id
    assert got[-1].id == events[-1].id
    assert caplog.records == []  # skipping canaries and other wikis is not worth a warning


# ---- resuming -------------------------------------------------------------------------------


def test_stream_skips_what_a_server_sends_again(sse_server: Callable[..., SseServer]) -> None:
    # A server that ignores Last-Event-ID starts again from the first event after the
    # connection is cut: each event is still yielded once.
    events = events_of(*(sample_change(rcid) for rcid in range(1, 6)))
    server = sse_server(events, drops={0: Drop(3)}, honour_last_event_id=False)
    got = follow(stream_of(server.url), 5)
    assert [e.change.rcid for e in got] == [1, 2, 3, 4, 5]
    assert server.requests[1].last_event_id == events[2].id


def test_stream_resumes_after_a_restart_from_the_saved_id(
    sse_server: Callable[..., SseServer],
) -> None:
    events = events_of(*(sample_change(rcid) for rcid in range(1, 6)))
    server = sse_server(events)
    first = stream_of(server.url, since=iso_ms(events[0].timestamp))
    assert [e.change.rcid for e in follow(first, 2)] == [1, 2]
    saved = first.last_event_id

    again = stream_of(server.url, since=iso_ms(events[0].timestamp), last_event_id=saved)
    assert [e.change.rcid for e in follow(again, 3)] == [3, 4, 5]
    # The id alone: EventStreams lets Last-Event-ID win over since anyway.
    assert (server.requests[-1].last_event_id, server.requests[-1].query) == (saved, {})


def test_stream_starts_at_since(sse_server: Callable[..., SseServer]) -> None:
    events = events_of(*(sample_change(rcid) for rcid in range(1, 6)))
    server = sse_server(events)
    got = follow(stream_of(server.url, since=iso_ms(events[3].timestamp)), 2)
    assert [e.change.rcid for e in got] == [4, 5]
    assert server.requests[0].query == {"since": iso_ms(events[3].timestamp)}


def test_stream_takes_up_new_events_as_they_come(sse_server: Callable[..., SseServer]) -> None:
    events = events_of(*(sample_change(rcid) for rcid in range(1, 4)))
    server = sse_server(events[:1])
    stop = threading.Event()
    got: list[StreamEvent] = []

    def run() -> None:
        for event in stream_of(server.url).events(stop):
            got.append(event)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: len(got) == 1, 10, "the first event")
        server.publish(*events[1:])
        wait_until(lambda: len(got) == 3, 10, "the published events")
    finally:
        stop.set()
        thread.join(5)
    assert [e.change.rcid for e in got] == [1, 2, 3]
    assert len(server.requests) == 1


def test_stream_stops_at_once_while_waiting_on_a_quiet_stream(
    sse_server: Callable[..., SseServer],
) -> None:
    server = sse_server(events_of(sample_change(1)))
    stream = stream_of(server.url, timeout=120)  # no read timeout to end the wait early
    stop = threading.Event()
    got: list[StreamEvent] = []
    thread = threading.Thread(target=lambda: got.extend(stream.events(stop)), daemon=True)
    thread.start()
    wait_until(lambda: got, 10, "the first event")
    stop.set()
    # Not the 120 s of the read timeout: the connection is cut under the waiting read.
    wait_until(lambda: not thread.is_alive(), 10, "events() to return after stop")
    assert len(server.requests) == 1


# ---- down: WikiError, quickly ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("down", "reason"),
    [
        ("refused", "connection refused"),
        ("503", "HTTP 503"),
        ("html", "not an event stream (text/html)"),
        ("empty", "the connection was lost"),
    ],
)
def test_stream_down_raises_wiki_error_after_its_attempts(
    sse_server: Callable[..., SseServer], down: str, reason: str
) -> None:
    if down == "refused":
        url = refused_url()
    elif down == "503":
        url = sse_server(status=503).url
    elif down == "html":
        url = sse_server(events_of(sample_change(1)), content_type="text/html").url
    else:  # accepts, then closes before any event, every time
        url = sse_server(drops={n: Drop(0) for n in range(10)}).url
    waits: list[int] = []

    def backoff(failures: int) -> float:
        waits.append(failures)
        return 0.0

    stream = stream_of(url, attempts=3, backoff=backoff)
    started = time.monotonic()
    with pytest.raises(WikiError) as raised:
        list(stream.events(threading.Event()))
    message = str(raised.value)
    assert "\n" not in message
    assert url in message and "3 times in a row" in message and reason in message
    assert waits == [1, 2]  # a wait after each failed attempt but the last
    assert stream.connections == 3
    assert time.monotonic() - started < 10  # no wait of its own besides backoff's


def test_stream_waits_between_failed_attempts_as_backoff_says(
    sse_server: Callable[..., SseServer],
) -> None:
    server = sse_server(status=503)
    stream = stream_of(server.url, attempts=2, backoff=lambda failures: 30.0)
    stop = threading.Event()
    ended: list[str] = []

    def run() -> None:
        try:
            list(stream.events(stop))
            ended.append("stopped")
        except WikiError:
            ended.append("WikiError")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    server.wait_requests(1)
    # Waiting 30 s for the second attempt: stop cuts the wait short, without an error.
    stop.set()
    wait_until(lambda: ended, 5, "events() to return")
    assert ended == ["stopped"] and len(server.requests) == 1


# ---- what is not a recent change -----------------------------------------------------------


def test_stream_skips_malformed_events_with_one_warning_each(
    sse_server: Callable[..., SseServer], caplog: pytest.LogCaptureFixture
) -> None:
    good = events_of(sample_change(1), sample_change(2))
    no_title = wrap({k: v for k, v in sample_change(3).items() if k != "title"}, 5, 5)
    bad_namespace = wrap(sample_change(4, namespace="main"), 6, 6)
    events = [
        good[0],
        SseEvent("{not json", good[0].timestamp + 1, 1),
        SseEvent("[1, 2, 3]", good[0].timestamp + 2, 2),
        SseEvent(json.dumps(no_title), good[0].timestamp + 3, 3),
        SseEvent(json.dumps(bad_namespace), good[0].timestamp + 4, 4),
        SseEvent(json.dumps({"status": "oops"}), good[0].timestamp + 5, 5, event="error"),
        SseEvent(good[1].data, good[0].timestamp + 6, 6),
    ]
    server = sse_server(events)
    stream = stream_of(server.url)
    with caplog.at_level(logging.WARNING, logger="tracker.fetch.stream"):
        got = follow(stream, 2)
    assert [e.change.rcid for e in got] == [1, 2]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 5, warnings
    assert all("\n" not in w for w in warnings)
    assert ["not JSON" in w for w in warnings[:1]] == [True]
    assert "not a JSON object" in warnings[1]
    assert "no title" in warnings[2]
    assert "namespace is not a number" in warnings[3]
    assert "reported an error" in warnings[4]
    assert stream.last_event_id == events[-1].id
    assert len(server.requests) == 1  # no reconnection for any of them
