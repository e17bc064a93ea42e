"""HTTP for the API source: every request bounded in time and in size.

mwclient sends each request through the requests.Session it is given (``Site(pool=...)``);
the adapter mounted on that session is the one place every request passes, login included:

- **A deadline for the whole request** (connect, TLS, headers, body). requests' own timeout
  bounds each connect and each socket read only, so a reply dripping a byte every few
  seconds never trips it. A timer shuts the request's socket down when the deadline passes;
  whatever the request was waiting for then fails, and the failure is reported as the
  deadline. (A connect still under way has no socket to shut yet: it is bounded by the
  timeout, and cut the moment it succeeds if the deadline passed meanwhile.)
- **A cap on the reply's bytes**, counted after decompression while the body streams in:
  an endless body or a gzip bomb is cut at the cap, never held whole. Decompression is ours
  (gzip and deflate, the codings MediaWiki servers use), in steps of a bounded size, so the
  cap holds whatever urllib3 version is installed.

A reply within both bounds reaches mwclient exactly as requests would have given it: the
same status, headers and decoded content.
"""

from __future__ import annotations

import contextlib
import email.utils
import math
import random
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions
import urllib3.poolmanager
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from tracker.config import DEFAULT_MAX_RETRY_AFTER

READ_SIZE = 64 * 1024  # raw bytes read from the socket at a time
STEP_SIZE = 1024 * 1024  # decompressed bytes produced at a time


class ReplyTooLarge(requests.RequestException):
    """A reply was larger than the cap on its decompressed bytes."""

    def __init__(self, url: str, limit: int, announced: int | None = None):
        self.url, self.limit, self.announced = url, limit, announced
        what = f"announces {announced} bytes" if announced is not None else "goes on"
        super().__init__(f"the reply of {url} {what}, more than the {limit} bytes allowed")


class RequestDeadline(requests.Timeout):
    """A request (connect, headers and body together) took longer than its deadline."""

    def __init__(self, url: str, seconds: float):
        self.url, self.seconds = url, seconds
        super().__init__(f"no complete reply from {url} within {seconds:g} s")


@dataclass(frozen=True)
class Limits:
    deadline: float  # seconds for the whole of one request
    max_bytes: int  # decompressed bytes of one reply


# --- the deadline ----------------------------------------------------------------------------

_current = threading.local()  # the deadline of the request this thread is making


class _Deadline:
    """Shuts the watched socket down when time is up, unless the request ended first.

    The socket is watched through a duplicate of its file descriptor: shutting that down
    ends the connection whatever Python object wraps it (TLS included), and the duplicate
    is ours to close, so the timer can never touch a descriptor reused by someone else.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self._lock = threading.Lock()
        self._done = False
        self._watched: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        try:
            duplicate = socket.fromfd(sock.fileno(), sock.family, sock.type)
        except (OSError, ValueError):
            return  # already closed: nothing left to bound
        with self._lock:
            previous, self._watched = self._watched, duplicate
            if self.expired:
                _shut(duplicate)
        if previous is not None:
            previous.close()

    def _expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._watched is not None:
                _shut(self._watched)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._done = True
            watched, self._watched = self._watched, None
        if watched is not None:
            watched.close()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _watch(sock: socket.socket | None) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _Watched:
    """A connection whose socket the current request's deadline watches: a new socket as
    soon as it is connected (before TLS), a kept-alive one when a request starts on it."""

    sock: socket.socket | None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        _watch(sock)
        return sock

    def request(self, *args: object, **kwargs: object) -> None:
        _watch(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection  # type: ignore[assignment]


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


def _use_watched_pools(manager: object) -> None:
    # Plain and HTTP-proxy managers use urllib3's default pools; a SOCKS manager has its
    # own, left alone (its requests are then bounded between reads of the body only).
    default = urllib3.poolmanager.pool_classes_by_scheme
    if getattr(manager, "pool_classes_by_scheme", None) == default:
        manager.pool_classes_by_scheme = _POOLS  # type: ignore[attr-defined]


# --- the adapter -----------------------------------------------------------------------------


class BoundedAdapter(HTTPAdapter):
    """requests' adapter with a deadline per request and a cap on decompressed reply bytes."""

    def __init__(
        self, limits: Limits, *, clock: Callable[[], float] = time.monotonic, **kwargs: object
    ):
        self.limits = limits
        self.clock = clock
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)  # type: ignore[arg-type]
        _use_watched_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: object) -> object:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        _use_watched_pools(manager)
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        url = request.url or ""
        deadline = _Deadline(self.limits.deadline)
        _current.deadline = deadline
        try:
            response = super().send(
                request,
                stream=True,
                timeout=timeout,
                verify=verify,
                cert=cert,
                proxies=proxies,
            )
            try:
                body = self._read(response, url, deadline)
            except BaseException:
                response.close()
                raise
            if deadline.expired:  # a body without a length ends when its socket is shut
                response.close()
                raise RequestDeadline(url, deadline.seconds)
        except ReplyTooLarge:
            raise
        except Exception as exc:
            if deadline.expired:
                raise RequestDeadline(url, deadline.seconds) from exc
            raise
        finally:
            _current.deadline = None
            deadline.close()
        # As if requests had read the body itself: content decoded, connection released.
        response._content = body
        response._content_consumed = True
        return response

    def _read(self, response: requests.Response, url: str, deadline: _Deadline) -> bytes:
        limit = self.limits.max_bytes
        announced = response.headers.get("Content-Length", "").strip()
        if announced.isdigit() and int(announced) > limit:
            raise ReplyTooLarge(url, limit, int(announced))
        decoder = _decoder(response.headers.get("Content-Encoding", ""), url)
        body = bytearray()
        received = 0
        while not deadline.expired:
            try:
                chunk = response.raw.read(READ_SIZE, decode_content=False)
            except urllib3.exceptions.ReadTimeoutError as exc:
                raise requests.exceptions.ReadTimeout(exc, request=response.request) from None
            except urllib3.exceptions.SSLError as exc:
                raise requests.exceptions.SSLError(exc, request=response.request) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                # A connection dropped in the middle of the body, as requests reports it.
                raise requests.ConnectionError(exc, request=response.request) from None
            if not chunk:
                break
            received += len(chunk)
            if received > limit:  # compressed bytes are never many more than decoded ones
                raise ReplyTooLarge(url, limit)
            decoder.feed(chunk, body, limit)
        decoder.finish(body, limit)
        return bytes(body)


# --- decompression -----------------------------------------------------------------------------


class _Identity:
    def __init__(self, url: str):
        self.url = url

    def feed(self, data: bytes, out: bytearray, limit: int) -> None:
        out += data
        if len(out) > limit:
            raise ReplyTooLarge(self.url, limit)

    def finish(self, out: bytearray, limit: int) -> None:
        pass


class _Inflate(_Identity):
    """gzip (every member) or deflate (zlib-wrapped or raw), never producing more than
    ``STEP_SIZE`` bytes at a time nor more than the cap in all."""

    def __init__(self, url: str, gzip: bool):
        super().__init__(url)
        self.gzip = gzip
        self.started = False
        self.ignore_rest = False  # bytes after a whole gzip member that are not another one
        self.obj = self._new()

    def _new(self, raw: bool = False) -> zlib._Decompress:
        if self.gzip:
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def feed(self, data: bytes, out: bytearray, limit: int) -> None:
        try:
            while not self.ignore_rest:
                member = 0
                if self.obj.eof:
                    if not self.gzip or not data:
                        return  # deflate: bytes after the end are ignored, as zlib does
                    self.obj = self._new()  # gzip: another member follows
                    member = 1
                room = max(1, min(STEP_SIZE, limit - len(out) + 1))
                try:
                    chunk = self.obj.decompress(data, room)
                except zlib.error:
                    if member:  # padding after the first member, ignored as urllib3 does
                        self.ignore_rest = True
                        return
                    if self.gzip or self.started:
                        raise
                    # "deflate" sent as raw deflate without the zlib wrapper, as some do.
                    self.obj = self._new(raw=True)
                    chunk = self.obj.decompress(data, room)
                self.started = True
                out += chunk
                if len(out) > limit:
                    raise ReplyTooLarge(self.url, limit)
                data = self.obj.unused_data if self.obj.eof else self.obj.unconsumed_tail
                if not data and len(chunk) < room:
                    return  # all input used, no output pending
        except zlib.error as exc:
            raise requests.exceptions.ContentDecodingError(
                f"the reply of {self.url} is not valid {'gzip' if self.gzip else 'deflate'} ({exc})"
            ) from None

    def finish(self, out: bytearray, limit: int) -> None:
        if self.started and not self.obj.eof and not self.ignore_rest:
            raise requests.exceptions.ContentDecodingError(
                f"the compressed reply of {self.url} ends early"
            )


def _decoder(coding: str, url: str) -> _Identity:
    codings = [c.strip().lower() for c in coding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return _Identity(url)
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflate(url, gzip=codings[0] != "deflate")
    raise requests.exceptions.ContentDecodingError(
        f"{url} answered with Content-Encoding {coding!r}, which was not asked for "
        "(only gzip is); check the wiki's server or a proxy in between"
    )


# --- waiting as the server asks ---------------------------------------------------------


class Backoff:
    """Exponential backoff with jitter, never shorter than what the server asked for, and
    never longer than ``max_retry_after`` for what it asked (nor ``cap`` for its own part)."""

    def __init__(
        self,
        base: float = 1.0,
        cap: float = 60.0,
        rng: random.Random | None = None,
        max_retry_after: float = DEFAULT_MAX_RETRY_AFTER,
    ):
        self.base, self.cap = base, cap
        self.max_retry_after = max_retry_after
        self.rng = rng or random.Random()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wait = min(self.cap, self.base * 2.0 ** min(max(attempt, 0), 64))
        wait = wait / 2 + self.rng.uniform(0, wait / 2)
        if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def parse_retry_after(
    value: str | None, date: str | None = None, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delay-seconds, or an HTTP-date
    (RFC 9110 10.2.3), counted from the reply's own ``Date`` when it has one (the server's
    clock, not ours). None when absent or not a valid value (negative, NaN, garbage); inf
    for an endless wait; 0 for a date in the past."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isnan(seconds) or seconds < 0:
            return None
        return seconds
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None or moment.tzinfo is None:
        return None
    base = now()
    if date:
        try:
            sent = email.utils.parsedate_to_datetime(date)
            if sent is not None and sent.tzinfo is not None:
                base = sent.timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    return max(0.0, moment.timestamp() - base)


def retry_after(response: requests.Response | None) -> float | None:
    """The wait a reply asks for (parse_retry_after of its headers), for callers that keep
    a source's ``last_response``, such as the daemon between failed polls."""
    if response is None:
        return None
    return parse_retry_after(response.headers.get("Retry-After"), response.headers.get("Date"))


def wait_span(seconds: float) -> str:
    """A wait for a message: "45 s", "15 min", "3 h", "1157 days", "forever"."""
    if not math.isfinite(seconds):
        return "forever"
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"
