"""Wikimedia's EventStreams on loopback, and MediaWiki's own recent changes feed to fill it.

- ``RcFeedReceiver``: a UDP socket on 127.0.0.1 that a test wiki sends each recent change
  to as a JSON line (``$wgRCFeeds`` with ``JSONRCFeedFormatter``; ``settings()`` is the PHP
  to append to its LocalSettings.php).
- ``eventstreams_events(changes)``: those changes as EventStreams serves them: with
  ``$schema`` and ``meta`` added (as Wikimedia's EventBus does) and a Kafka timestamp each.
- ``SseServer``: http.server in a thread serving events the way EventStreams (KafkaSSE)
  does, and breaking the way a real stream breaks:

      server = SseServer(events)  # from the first event; server.publish(...) adds more
      server.drops = {0: Drop(3), 1: Drop(2, mid_event=True)}  # per connection, in order
      server.status = 503  # every request refused so; refused_url(): nothing listens
      server.content_type = "text/html"  # a page answers, not a stream
      server.requests  # what each connection asked (Last-Event-ID, since, User-Agent)

What it does as EventStreams does: ``text/event-stream`` in chunked transfer encoding, a
``:ok`` comment first, then each event as ``event: message``, ``id: [{"topic": ...,
"partition": 0, "timestamp": ms}]`` (the position after the event: its Kafka timestamp
+ 1 ms) and ``data: {json}``. A ``Last-Event-ID`` (that JSON array; ``offset`` entries too)
resumes at the first event at or after it; without one, ``since`` (ISO 8601 or epoch ms)
starts at a time; an unreadable Last-Event-ID or since is refused with HTTP 400. Where
EventStreams starts at the newest event when asked neither, this starts at the first (a
replay). After the last event the connection stays open, waiting for more.

A dropped connection ends without the closing chunk, as a cut connection does; with
``mid_event`` half of the next event is sent first.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loopback import free_port
from waits import wait_until

TOPIC = "eqiad.mediawiki.recentchange"
SCHEMA = "/mediawiki/recentchange/1.0.0"
STREAM_PATH = "/v2/stream/recentchange"


# --- MediaWiki's feed ------------------------------------------------------------------------


class RcFeedReceiver:
    """Receives MediaWiki's recent changes feed (one JSON object per UDP datagram)."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.changes: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def settings(self) -> str:
        """PHP for LocalSettings.php: every change to this receiver, categorize entries
        included (Wikimedia's wikis have them; MediaWiki's default does not)."""
        return (
            "\n$wgRCWatchCategoryMembership = true;\n"
            "$wgRCFeeds['tests'] = [ 'formatter' => 'JSONRCFeedFormatter', "
            f"'uri' => 'udp://127.0.0.1:{self.port}' ];\n"
        )

    def _receive(self) -> None:
        while True:
            try:
                data = self._sock.recv(65535)
            except OSError:
                return  # closed
            self.changes.append(json.loads(data))

    def wait(self, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        """The changes received, once there are at least `count`."""
        wait_until(
            lambda: len(self.changes) >= count,
            timeout,
            f"{count} recent changes from the wiki's feed",
            diagnose=lambda: json.dumps(self.changes, indent=1),
        )
        return list(self.changes)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RcFeedReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- events as EventStreams sends them -------------------------------------------------------


@dataclass(frozen=True)
class SseEvent:
    data: str  # the event's JSON text
    timestamp: int  # its Kafka timestamp, milliseconds since the epoch
    offset: int = 0  # its Kafka offset
    event: str = "message"

    @property
    def id(self) -> str:
        """The SSE id sent with it: the position just after it (KafkaSSE with
        useTimestampForId, as EventStreams runs it)."""
        return json.dumps([{"topic": TOPIC, "partition": 0, "timestamp": self.timestamp + 1}])

    def json(self) -> dict[str, Any]:
        return json.loads(self.data)

    def frame(self) -> bytes:
        lines = [f"event: {self.event}", f"id: {self.id}"]
        lines += [f"data: {line}" for line in self.data.split("\n")]
        return ("\n".join(lines) + "\n\n").encode()


def iso_ms(milliseconds: int) -> str:
    moment = datetime.fromtimestamp(milliseconds / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wrap(change: dict[str, Any], milliseconds: int, offset: int, **meta: Any) -> dict[str, Any]:
    """A recent change of MediaWiki's feed as EventStreams serves it: `$schema` and `meta`
    first (what Wikimedia's EventBus adds), then the change's own fields."""
    title_url = change.get("title", "").replace(" ", "_")
    return {
        "$schema": SCHEMA,
        "meta": {
            "uri": f"{change.get('server_url', '')}/wiki/{title_url}",
            "request_id": str(uuid.uuid4()),
            "id": str(uuid.uuid4()),
            "dt": iso_ms(milliseconds),
            "domain": change.get("server_name", ""),
            "stream": "mediawiki.recentchange",
            "topic": TOPIC,
            "partition": 0,
            "offset": offset,
            **meta,
        },
        **change,
    }


def eventstreams_events(
    changes: Iterable[dict[str, Any]], start: int = 1_700_000_000_000
) -> list[SseEvent]:
    """The changes as a stream's events, one millisecond apart (distinct Kafka timestamps:
    resuming by timestamp then loses nothing). A change with a `meta` already (a canary)
    is sent as it is."""
    events = []
    for offset, change in enumerate(changes):
        milliseconds = start + offset
        event = change if "meta" in change else wrap(change, milliseconds, offset)
        events.append(SseEvent(json.dumps(event), milliseconds, offset))
    return events


def canary(change: dict[str, Any]) -> dict[str, Any]:
    """A canary event as Wikimedia sends them to check its pipeline: a recent change in
    form (here `change`, of the same wiki) whose meta.domain is "canary"."""
    return wrap(change, 1_700_000_000_000, 0, domain="canary")


def sample_change(rcid: int, title: str = "Sample", **fields: Any) -> dict[str, Any]:
    """An edit as MediaWiki 1.39's JSONRCFeedFormatter writes it (wiki "wiki" on 127.0.0.1)."""
    return {
        "id": rcid,
        "type": "edit",
        "namespace": 0,
        "title": title,
        "comment": "",
        "timestamp": 1_796_658_761 + rcid,
        "user": "Admin",
        "bot": False,
        "minor": False,
        "patrolled": True,
        "length": {"old": 11, "new": 33},
        "revision": {"old": 100 + rcid - 1, "new": 100 + rcid},
        "server_url": "http://127.0.0.1:8080",
        "server_name": "127.0.0.1",
        "server_script_path": "/",
        "wiki": "wiki",
        **fields,
    }


# --- the server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drop:
    """Cut a connection after `after` events (in the middle of the next with mid_event)."""

    after: int
    mid_event: bool = False


@dataclass
class Asked:
    """What one connection asked for."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]

    @property
    def last_event_id(self) -> str | None:
        return self.headers.get("Last-Event-ID")


@dataclass
class SseServer:
    events: list[SseEvent] = field(default_factory=list)
    status: int = 200  # anything else: every request is answered so, with no stream
    drops: dict[int, Drop] = field(default_factory=dict)  # by connection, from 0
    honour_last_event_id: bool = True  # False: a server that replays from the start
    content_type: str = "text/event-stream; charset=utf-8"  # another: not a stream at all

    def __post_init__(self) -> None:
        self.requests: list[Asked] = []
        self._changed = threading.Condition()
        self._closing = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                server._serve(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}{STREAM_PATH}"
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def publish(self, *events: SseEvent) -> None:
        """More events, sent to the connections waiting at the end."""
        with self._changed:
            self.events.extend(events)
            self._changed.notify_all()

    def wait_requests(self, count: int, timeout: float = 10.0) -> list[Asked]:
        wait_until(lambda: len(self.requests) >= count, timeout, f"{count} connection(s)")
        return self.requests

    def close(self) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._http.shutdown()
        self._http.server_close()

    # -- one connection ----------------------------------------------------------------------

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        with self._changed:
            number = len(self.requests)
            self.requests.append(Asked(parts.path, query, dict(handler.headers)))
        if self.status != 200 or parts.path != STREAM_PATH:
            self._refuse(handler, self.status if self.status != 200 else 404, "refused")
            return
        try:
            position = self._start(handler.headers.get("Last-Event-ID"), query.get("since"))
        except ValueError as exc:
            self._refuse(handler, 400, f"invalid position: {exc}")
            return
        handler.send_response(200)
        handler.send_header("Content-Type", self.content_type)
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        drop = self.drops.get(number)
        sent = 0
        try:
            _chunk(handler, b":ok\n\n")
            while True:
                if drop is not None and sent == drop.after and not drop.mid_event:
                    _cut(handler)
                    return
                with self._changed:
                    self._changed.wait_for(
                        lambda at=position: self._closing or at < len(self.events)
                    )
                    if self._closing:
                        return
                    event = self.events[position]
                frame = event.frame()
                if drop is not None and sent == drop.after:
                    _chunk(handler, frame[: len(frame) // 2])
                    _cut(handler)
                    return
                _chunk(handler, frame)
                position += 1
                sent += 1
        except OSError:
            return  # the client went away

    def _start(self, last_event_id: str | None, since: str | None) -> int:
        """The index of the first event to send."""
        if last_event_id is not None and self.honour_last_event_id:
            positions = json.loads(last_event_id)
            if not isinstance(positions, list):
                raise ValueError("Last-Event-ID is not an array of assignments")
            for position in positions:
                if position.get("topic") != TOPIC:
                    continue
                if "offset" in position:
                    offset = int(position["offset"])
                    return self._first(lambda e, at=offset: e.offset >= at)
                if "timestamp" in position:
                    timestamp = int(position["timestamp"])
                    return self._first(lambda e, at=timestamp: e.timestamp >= at)
        if since is not None:
            moment = (
                int(since)
                if since.isdigit()
                else int(datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() * 1000)
            )
            return self._first(lambda e: e.timestamp >= moment)
        return 0

    def _first(self, wanted: Callable[[SseEvent], bool]) -> int:
        with self._changed:
            return next(
                (i for i, event in enumerate(self.events) if wanted(event)), len(self.events)
            )

    @staticmethod
    def _refuse(handler: BaseHTTPRequestHandler, status: int, text: str) -> None:
        body = json.dumps({"status": status, "detail": text}).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Retry-After", "1")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)
        handler.close_connection = True

    def __enter__(self) -> SseServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    handler.wfile.flush()


def _cut(handler: BaseHTTPRequestHandler) -> None:
    """End the connection without the closing chunk, as a network failure does."""
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def refused_url() -> str:
    """A stream URL where nothing listens: connections are refused."""
    return f"http://127.0.0.1:{free_port()}{STREAM_PATH}"


class FeedBridge:
    """A wiki's recent changes feed (RcFeedReceiver) published on an SseServer as each
    change arrives, stamped with the time it came: a live EventStreams of that wiki."""

    def __init__(self, feed: RcFeedReceiver, server: SseServer):
        self.feed, self.server = feed, server
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        sent = 0
        while not self.stop.wait(0.005):
            while sent < len(self.feed.changes):
                milliseconds = int(time.time() * 1000)
                event = wrap(self.feed.changes[sent], milliseconds, sent)
                self.server.publish(SseEvent(json.dumps(event), milliseconds, sent))
                sent += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)

    def __enter__(self) -> FeedBridge:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
