"""Push for Wikimedia wikis: follow the recent changes of EventStreams as they happen.

Wikimedia publishes every change to its wikis as server-sent events at
https://stream.wikimedia.org/v2/stream/recentchange (the ``mediawiki/recentchange`` schema:
the fields of MediaWiki's own JSON recent changes feed, ``JSONRCFeedFormatter``, plus
``$schema`` and ``meta``). A :class:`RecentChangeStream` follows it for one wiki and hands
each change on as the :class:`~tracker.fetch.source.RecentChange` that ``list=recentchanges``
gives the poller, so that both paths feed one pipeline::

    stream = RecentChangeStream(
        WIKIMEDIA_STREAM,
        server_name="en.wikipedia.org",  # the wiki's host; None: every wiki
        user_agent=user_agent(contact),  # tracker.fetch.api.user_agent
        last_event_id=saved,  # what the last run saved, or None
    )
    try:
        for event in stream.events(stop):  # blocks: run it in a thread of its own
            handle(event.change)  # a RecentChange; pageid None (the stream has none)
            save(stream.last_event_id)  # once the event is handled
    except WikiError:
        ...  # the stream is down: poll instead, and try the stream again later

Threads: ``events()`` is a generator that one thread runs. ``stop`` may be set from any
thread; it ends ``events()`` at the next event, or within a fraction of a second on a quiet
stream (the open connection is shut down under the read; a connection still being made
takes up to 10 s). ``last_event_id`` may be read from any thread. The HTTP session may be
passed in (``session=``), but not one whose requests have a deadline, as the API's have
(tracker.fetch.transport): a stream is one request that never ends.

What EventStreams does, and how this follows it (wikitech.wikimedia.org:
Event_Platform/EventStreams, and its server, KafkaSSE):

- Every event has an SSE ``id``: a JSON array of Kafka positions just *after* the event
  (``[{"topic": ..., "partition": 0, "timestamp": ms}]``, or ``"offset"`` instead). Sent
  back as the ``Last-Event-ID`` header, it resumes right after that event: after a dropped
  connection (at once), and after a restart (``last_event_id=``). It is kept as the opaque
  string the server sent (:attr:`RecentChangeStream.last_event_id`); skipped events (other
  wikis, canaries, malformed ones) move it on too.
- ``since`` (ISO 8601, or milliseconds since the epoch) starts at a time in the past
  (Kafka keeps about a week). Last-Event-ID wins over it, so only a connection without an id
  sends ``since``: the first one, or one after events that carried no id, which then starts
  at the last such event's time (what comes again is skipped).
- Events are told apart by ``meta.id`` (without one, by wiki and rcid); one seen already is
  skipped, across reconnections: resuming by timestamp or ``since`` can send some again.
- Canary events (``meta.domain == "canary"``, sent to check the pipeline) are skipped, and so
  are events of other wikis (``server_name``).
- A User-Agent naming a contact is required (Wikimedia's User-Agent policy).
- An event whose data is not a recent change is skipped with one warning.

Failures: an attempt fails when the stream cannot be reached (connection refused, timed
out, an HTTP error such as 503, a reply that is not an event stream) or when a connection
ends (or stays silent for ``timeout`` seconds) before bringing a new event. A connection
that brought events is taken up again at once; after a failed attempt the stream waits
``backoff(n)`` seconds (1, 2, 4, ... at most 60; cut short by ``stop``). After ``attempts``
failures in a row ``events()`` raises WikiError, in one line: follow the wiki by polling
then. ``events()`` may be called again later; it resumes from ``last_event_id``.

The SSE format itself is read by sseclient-py; connecting, resuming and waiting are here.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any

import requests
import sseclient
import urllib3.exceptions

from tracker.errors import WikiError
from tracker.fetch.source import RecentChange
from tracker.model import parse_stamp, utc_stamp

log = logging.getLogger(__name__)

WIKIMEDIA_STREAM = "https://stream.wikimedia.org/v2/stream/recentchange"

ATTEMPTS = 5  # failed attempts in a row before events() gives up
TIMEOUT = 60.0  # seconds of silence after which a connection counts as lost
CONNECT_TIMEOUT = 10.0
REMEMBERED = 20_000  # event ids kept to skip what a resumed connection sends again
STOP_CHECK = 0.1  # seconds between two looks at `stop` while a read waits

# MediaWiki's categorize entries name the page only in their comment, in the wiki's content
# language: "[[:Page]] added to category" (recentchanges-page-added-to-category, and the
# -bundled variants that go on after a comma). Other languages leave `member` unknown.
CATEGORIZED = re.compile(r"^\[\[:(?P<member>[^\]|]+)\]\] (?P<how>added to|removed from) category")


def default_backoff(failures: int) -> float:
    """Seconds to wait after the `failures`-th failed attempt in a row: 1, 2, 4, ... 60."""
    return float(min(60, 2 ** (failures - 1)))


@dataclass(frozen=True)
class StreamEvent:
    """One recent change from the stream, with where it came from."""

    id: str | None  # the SSE id: the position after this event (what Last-Event-ID resumes)
    uid: str | None  # meta.id, unique to the event (None in a plain MediaWiki feed)
    wiki: str  # the wiki's database name: "enwiki"
    server_name: str  # its host: "en.wikipedia.org"
    server_url: str  # "https://en.wikipedia.org"
    change: RecentChange


class RecentChangeStream:
    """Follows a recentchange event stream (see the module's docstring)."""

    def __init__(
        self,
        url: str = WIKIMEDIA_STREAM,
        *,
        server_name: str | None,
        user_agent: str,
        since: str | None = None,
        last_event_id: str | None = None,
        timeout: float = TIMEOUT,
        attempts: int = ATTEMPTS,
        backoff: Callable[[int], float] = default_backoff,
        session: requests.Session | None = None,
    ) -> None:
        if not user_agent.strip():
            raise ValueError("EventStreams requires a User-Agent")
        self.url = url
        self.server_name = server_name
        self.user_agent = user_agent
        self.since = since
        self.last_event_id = last_event_id
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.session = session or requests.Session()
        self.connections = 0  # connections opened (for logs and tests)
        self._seen: OrderedDict[str, None] = OrderedDict()

    def events(self, stop: threading.Event) -> Iterator[StreamEvent]:
        """This wiki's changes as they come, until `stop` is set; WikiError when the stream
        failed `attempts` times in a row."""
        failures = 0
        with _Cutter(stop) as cutter:
            while not stop.is_set():
                opened = self._connect()
                if isinstance(opened, str):
                    fresh, reason = False, opened
                else:
                    try:
                        cutter.watch(opened)
                        fresh, reason = yield from self._read(opened, stop)
                    finally:
                        cutter.watch(None)
                        opened.close()
                if stop.is_set():
                    return
                failures = 0 if fresh else failures + 1
                if failures >= self.attempts:
                    raise WikiError(
                        f"the event stream {self.url} failed {failures} times in a row "
                        f"(last: {reason}): follow the wiki by polling"
                    )
                if failures:
                    wait = self.backoff(failures)
                    log.warning("%s: %s; trying again in %.1f s", self.url, reason, wait)
                    if stop.wait(wait):
                        return
                else:
                    log.info("%s: %s; taking the stream up again", self.url, reason)

    # --- one connection --------------------------------------------------------------------

    def _connect(self) -> requests.Response | str:
        """An open event stream, or why there is none."""
        headers = {
            "User-Agent": self.user_agent,
            "Accept": "text/event-stream",
            "Cache-Control": "no-cache",
        }
        params = {}
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        elif self.since is not None:
            params["since"] = self.since
        self.connections += 1
        try:
            response = self.session.get(
                self.url,
                headers=headers,
                params=params,
                stream=True,
                timeout=(min(CONNECT_TIMEOUT, self.timeout), self.timeout),
            )
        except requests.Timeout:
            return "timed out"
        except requests.RequestException as exc:
            return _failure(exc)
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if response.status_code != 200 or kind != "text/event-stream":
            response.close()
            if response.status_code != 200:
                return f"HTTP {response.status_code}"
            return f"not an event stream ({kind or 'no Content-Type'})"
        return response

    def _read(
        self, response: requests.Response, stop: threading.Event
    ) -> Generator[StreamEvent, None, tuple[bool, str]]:
        """Yield the wanted events of one connection; return whether it brought an event
        not seen before, and why it ended."""
        fresh = False
        messages = sseclient.SSEClient(_until_end(response)).events()
        try:
            for message in messages:
                if stop.is_set():
                    return fresh, "stopped"
                if message.id:
                    self.last_event_id = message.id
                if message.event == "error":
                    # KafkaSSE's report of a failure after the stream started; it then ends
                    # the response.
                    log.warning("%s: the stream reported an error: %s", self.url, message.data)
                    continue
                if message.event != "message":
                    continue
                key, event = self._decode(message)
                if key is not None:
                    if key in self._seen:
                        continue
                    self._remember(key)
                fresh = True
                if event is not None and self._wanted(event):
                    yield event
                    if stop.is_set():
                        return fresh, "stopped"
        except requests.RequestException as exc:
            reason = _failure(exc)
            return fresh, f"no event for {self.timeout:g} s" if reason == "timed out" else reason
        except UnicodeDecodeError:
            return fresh, "an event that is not UTF-8"
        return fresh, "the stream ended"

    def _decode(self, message: Any) -> tuple[str | None, StreamEvent | None]:
        """What tells the message apart from others (meta.id; wiki and rcid without one),
        and its event: None for a canary, and for what is not a recent change (then with
        one warning)."""
        try:
            data = json.loads(message.data)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
        except (ValueError, TypeError) as exc:
            self._skip(message, exc)
            return None, None
        meta = _object(data, "meta")
        if not message.id and isinstance(meta.get("dt"), str):
            self.since = meta["dt"]  # no id to resume from: its time will do
        uid = _optional_text(meta, "id") or None
        if meta.get("domain") == "canary":
            return uid, None
        try:
            event = _parse(data, message.id)
        except (ValueError, TypeError, KeyError) as exc:
            self._skip(message, exc)
            return uid, None
        return uid or _fallback_key(event), event

    def _skip(self, message: Any, exc: Exception) -> None:
        shown = message.data if len(message.data) <= 200 else message.data[:200] + "..."
        log.warning(
            "%s: skipped an event that is not a recent change (%s): %s",
            self.url,
            _why(exc),
            json.dumps(shown),
        )

    def _wanted(self, event: StreamEvent) -> bool:
        return self.server_name is None or event.server_name == self.server_name

    def _remember(self, key: str) -> None:
        self._seen[key] = None
        if len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)


# --- reading one event ----------------------------------------------------------------------


def _parse(data: dict[str, Any], sse_id: str | None) -> StreamEvent:
    """A recentchange event (the schema's fields) as a StreamEvent; KeyError, TypeError or
    ValueError when a field this needs is missing or of the wrong type."""
    meta = _object(data, "meta")
    kind = _text(data, "type")
    log_params = _object(data, "log_params")
    # A move's new title (target), a history merge's destination (dest).
    titles = tuple(
        value for key in ("target", "dest") if isinstance(value := log_params.get(key), str)
    )
    member = added = None
    if kind == "categorize":
        found = CATEGORIZED.match(_optional_text(data, "comment") or "")
        if found:
            member, added = found["member"], found["how"] == "added to"
    revision = _object(data, "revision")
    change = RecentChange(
        rcid=_number(data, "id") or 0,
        type=kind,
        title=_text(data, "title"),
        pageid=None,
        ns=_required_number(data, "namespace"),
        timestamp=_timestamp(data, meta),
        revid=_number(revision, "new"),
        old_revid=_number(revision, "old") or None,
        user=_optional_text(data, "user"),
        logtype=_optional_text(data, "log_type"),
        logaction=_optional_text(data, "log_action"),
        titles=titles,
        member=member,
        added=added,
    )
    return StreamEvent(
        id=sse_id or None,
        uid=_optional_text(meta, "id") or None,
        wiki=_text(data, "wiki"),
        server_name=_text(data, "server_name"),
        server_url=_optional_text(data, "server_url") or "",
        change=change,
    )


def _object(data: dict[str, Any], key: str) -> dict[str, Any]:
    """A field holding an object; {} when absent or not an object (log_params is [] when
    a log entry has none)."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _text(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise TypeError(f"{key} is not a text")
    return value


def _number(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key} is not a number")
    return value


def _required_number(data: dict[str, Any], key: str) -> int:
    value = _number(data, key)
    if value is None:
        raise KeyError(key)
    return value


def _timestamp(data: dict[str, Any], meta: dict[str, Any]) -> str:
    """The change's time, ISO 8601 UTC: `timestamp` (seconds), else meta.dt."""
    seconds = _number(data, "timestamp")
    if seconds is not None:
        return utc_stamp(seconds)
    if isinstance(meta.get("dt"), str):
        return utc_stamp(parse_stamp(meta["dt"]))
    raise KeyError("timestamp")


def _fallback_key(event: StreamEvent) -> str | None:
    """Where an event has no meta.id: its wiki's rcid, unique on that wiki."""
    return f"{event.wiki}#{event.change.rcid}" if event.change.rcid else None


def _why(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"no {exc.args[0]}"
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    return str(exc)


def _failure(exc: requests.RequestException) -> str:
    """A failed request in a few words."""
    causes = _causes(exc)
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "connection refused"
    if any(
        isinstance(cause, requests.Timeout | urllib3.exceptions.TimeoutError) for cause in causes
    ):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection was lost"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return exc.__class__.__name__


def _causes(exc: BaseException) -> list[BaseException]:
    """An exception and those behind it (urllib3's are requests' first argument)."""
    found: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending and len(found) < 20:
        current = pending.pop()
        if current in found:
            continue
        found.append(current)
        pending += [c for c in (current.__cause__, current.__context__) if c is not None]
        pending += [a for a in current.args if isinstance(a, BaseException)]
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            pending.append(reason)
    return found


def _until_end(response: requests.Response) -> Iterator[bytes]:
    """The stream's bytes; its end is reported as a lost connection.

    sseclient-py dispatches an event cut off by the end of the stream, which the SSE format
    says to drop (its id would then skip the event on resuming): an exception at the end
    leaves it undispatched.
    """
    # Chunks as they come (a chunked reply yields each chunk at once, however short).
    yield from response.iter_content(chunk_size=4096)
    raise requests.exceptions.ChunkedEncodingError("the stream ended")


class _Cutter:
    """Shuts the open connection down once `stop` is set, so that a read waiting on a quiet
    stream ends at once rather than after the read timeout."""

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._done = threading.Event()

    def __enter__(self) -> _Cutter:
        threading.Thread(target=self._run, name="recentchange-stop", daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._done.set()  # the thread ends at its next look

    def watch(self, response: requests.Response | None) -> None:
        """Cut this response's connection when stopped (None: the response is done)."""
        connection = getattr(response.raw, "connection", None) if response is not None else None
        with self._lock:
            self._sock = getattr(connection, "sock", None)
            if self._stop.is_set():
                self._shut()

    def _run(self) -> None:
        while not self._done.is_set():
            if self._stop.wait(STOP_CHECK):
                with self._lock:
                    self._shut()
                return

    def _shut(self) -> None:
        # Through a duplicate of the descriptor: it ends the connection whatever object
        # wraps the socket (TLS included) without touching that object from this thread.
        if self._sock is None:
            return
        try:
            duplicate = socket.fromfd(self._sock.fileno(), self._sock.family, self._sock.type)
        except (OSError, ValueError):
            return
        with duplicate:
            try:
                duplicate.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
