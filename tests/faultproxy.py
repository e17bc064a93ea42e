"""A small fault-injecting HTTP proxy on 127.0.0.1, in front of one upstream (a test wiki).

The daemon talks to ``proxy.api_url`` instead of the wiki's; the test decides what each
request meets:

- ``drop``: the request is read, then the connection is reset without a response;
- ``delay``: the request is forwarded after ``seconds``;
- ``status``: an HTTP error (503 by default) with ``Retry-After``;
- ``maxlag``: MediaWiki's maxlag refusal (HTTP 200, ``X-Database-Lag``, ``Retry-After``,
  error code ``maxlag``), exactly as a lagged wiki answers;
- ``hang``: the request is read and not answered for ``seconds`` (the client's timeout
  fires), or until ``heal()``, which resets it;
- ``cut``: the wiki is cut off: every connection is reset as soon as it is accepted.

Replies no well-behaved wiki sends, made here without asking the wiki (``size`` bytes are
streamed from a generator, never allocated):

- ``status``/``maxlag`` with ``retry_after="..."``: that Retry-After as it is ("inf",
  "99999999", "NaN", an HTTP date); ``"date+N"`` is an HTTP date N seconds from now;
- ``drip``: a 200 reply that comes one byte every ``seconds`` (``where="headers"``: its
  headers drip; ``"body"``: its ``size``-byte body does), until the client gives up;
- ``huge``: a 200 reply of ``size`` bytes (``length=True``: announced by Content-Length;
  otherwise chunked, its size unknown until it ends);
- ``gzip``: a gzip bomb: ``Content-Encoding: gzip``, a body that inflates to ``size`` bytes;
- ``reply``: the JSON that ``reply(params)`` returns for the request's parameters;
- ``rewrite``: the wiki's own reply, its JSON changed by ``reply(params, result)``;
- ``raw``: ``status``, ``headers`` and ``body`` as they are.

Faults come from a queue of one-off faults (``proxy.queue("drop", "maxlag")``), from a mode
that applies to every other request (``proxy.mode("cut")``), or at random
(``proxy.chaos(0.3)``), in that order of precedence. Requests are counted by kind
(``status``: prop=info, ``content``: prop=revisions with texts, ``other``) for the benchmark
and tests: ``counts`` as they are forwarded, ``answered`` once the wiki's reply has been
passed on.

A gate holds requests where a test wants the tracker to be: ``proxy.hold("content",
after=2)`` lets the first two content requests through and holds the next ones (not
forwarded, ``held`` counts them) until ``release(n)`` lets ``n`` of them go on, or
``release()`` (or ``heal()``) opens the gate. ``hanging`` counts the requests a "hang"
holds right now.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import http.client
import json
import math
import random
import socket
import struct
import sys
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "proxy-connection",
    "te",
    "upgrade",
    "trailer",
    "content-length",
    "server",
    "date",
}
FAULTS = (
    "drop",
    "delay",
    "status",
    "maxlag",
    "hang",
    "cut",
    "drip",
    "huge",
    "gzip",
    "reply",
    "rewrite",
    "raw",
)


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float = 1.0  # delay / hang duration, the Retry-After sent, a drip's interval
    status: int = 503
    retry_after: str | None = None  # sent as it is instead of ``seconds``
    size: int = 1000  # bytes of a drip's, huge or gzip body
    where: str = "body"  # what drips: "headers" or "body"
    length: bool = False  # huge: announce the size with Content-Length
    reply: Callable[..., dict] | None = field(default=None, compare=False)
    body: bytes = b""  # raw: the body sent as it is, with ``status`` and ``headers``
    headers: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


class FaultProxy:
    """A reverse proxy to ``upstream`` ("host:port") with faults injected on demand."""

    def __init__(self, upstream: str, seed: int = 0):
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.rng = random.Random(seed)
        self._lock = threading.Lock()
        self._mode: Fault | None = None
        self._queue: deque[Fault] = deque()
        self._chaos: tuple[float, tuple[Fault, ...]] | None = None
        self.counts: Counter[str] = Counter()  # status / content / other requests forwarded
        self.answered: Counter[str] = Counter()  # ... whose reply was passed on
        self.injected: Counter[str] = Counter()  # faults by kind
        self.hanging = 0  # requests a "hang" holds right now
        self.held = 0  # requests the gate holds right now
        self._hold: tuple[str, int] | None = None  # the gate: (kind, requests let through)
        self._gate = threading.Semaphore(0)  # one permit per request released
        self._unhang = threading.Event()  # ends the requests a "hang" holds: heal() or stop()
        self._stopped = threading.Event()  # ends the replies that drip
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.api_url = f"http://{self.host}/api.php"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name=f"faultproxy-{self.port}",
        )

    # -- life ------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._unhang.set()
        self._stopped.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what requests meet ----------------------------------------------------------------

    def mode(self, kind: str | None, **params: object) -> None:
        """Every request meets this fault until ``mode(None)``."""
        with self._lock:
            self._mode = _fault(kind, params) if kind else None
            if kind == "hang":
                self._unhang.clear()

    def queue(self, *kinds: str, **params: object) -> None:
        """The next requests meet these faults, one each, in order."""
        with self._lock:
            self._queue.extend(_fault(kind, params) for kind in kinds)
            if "hang" in kinds:
                self._unhang.clear()

    def chaos(
        self,
        rate: float,
        kinds: tuple[str, ...] = ("drop", "delay", "status", "maxlag"),
        **params: object,
    ) -> None:
        """Each request meets one of ``kinds`` with probability ``rate`` (0 turns it off)."""
        with self._lock:
            self._chaos = (rate, tuple(_fault(k, params) for k in kinds)) if rate else None
            if "hang" in kinds:
                self._unhang.clear()

    def heal(self) -> None:
        """No more faults, and the gate open."""
        with self._lock:
            self._mode, self._chaos = None, None
            self._queue.clear()
            self._unhang.set()
        self.release()

    # -- the gate ----------------------------------------------------------------------------

    def hold(self, kind: str = "content", after: int = 0) -> None:
        """Hold the requests of ``kind`` (status, content, other) after the first ``after``
        from now; they wait, not forwarded, until released."""
        with self._lock:
            self._hold = (kind, -after)

    def release(self, count: int | None = None) -> None:
        """Let ``count`` held requests (or those yet to come) go on; None: open the gate."""
        with self._lock:
            if count is None:
                self._hold = None
                count = self.held
            self.held -= count
        for _ in range(count):
            self._gate.release()

    def _wait_at_gate(self, kind: str) -> None:
        with self._lock:
            if self._hold is None or self._hold[0] != kind:
                return
            self._hold = (kind, self._hold[1] + 1)
            if self._hold[1] <= 0:
                return  # one of the first ``after``
            self.held += 1
        self._gate.acquire()

    @contextlib.contextmanager
    def cut_off(self) -> Iterator[None]:
        """The wiki is unreachable inside the block."""
        self.mode("cut")
        try:
            yield
        finally:
            self.mode(None)

    def _next_fault(self) -> Fault | None:
        with self._lock:
            if self._queue:
                fault: Fault | None = self._queue.popleft()
            elif self._mode is not None:
                fault = self._mode
            elif self._chaos and self.rng.random() < self._chaos[0]:
                fault = self.rng.choice(self._chaos[1])
            else:
                fault = None
            if fault is not None:
                self.injected[fault.kind] += 1
            return fault

    def _cut(self) -> bool:
        with self._lock:
            if self._mode is not None and self._mode.kind == "cut":
                self.injected["cut"] += 1
                return True
            return False

    def count(self, query: str, counter: Counter[str] | None = None) -> None:
        with self._lock:
            (self.counts if counter is None else counter)[_kind(query)] += 1

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.answered.clear()
            self.injected.clear()


def _kind(query: str) -> str:
    """status (prop=info, or list=recentchanges: what a poll asks to learn what changed),
    content (prop=revisions with their texts) or other (a revision list or count without
    texts among them)."""
    params = parse_qs(query)
    if params.get("list", [""])[0] == "recentchanges":
        return "status"
    prop = params.get("prop", [""])[0]
    if prop == "revisions" and "content" not in params.get("rvprop", [""])[0].split("|"):
        return "other"
    return {"info": "status", "revisions": "content"}.get(prop, "other")


def _fault(kind: str, params: dict[str, object]) -> Fault:
    if kind not in FAULTS:
        raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULTS)}")
    known = {f.name for f in fields(Fault)} - {"kind"}
    unknown = set(params) - known
    if unknown:
        raise ValueError(f"unknown fault parameters {sorted(unknown)}; known: {sorted(known)}")
    fault = Fault(kind, **params)  # type: ignore[arg-type]
    if kind in ("reply", "rewrite") and fault.reply is None:
        raise ValueError(f"the {kind!r} fault needs reply=...")
    return fault


def _retry_after(fault: Fault) -> str:
    value = fault.retry_after
    if value is None:
        return _seconds(fault.seconds)
    if value.startswith("date+"):
        return email.utils.formatdate(time.time() + float(value[5:]), usegmt=True)
    return value


@functools.lru_cache(maxsize=4)
def gzip_bomb(size: int) -> bytes:
    """One gzip member that inflates to ``size`` zero bytes (a multiple of 1 MiB): 1 GiB in
    about 1 MB. Made in a fraction of a second, not by deflating 1 GiB: after a full flush
    a deflate stream starts afresh on a byte boundary, so the compressed form of 1 MiB of
    zeros can be repeated; the trailer gets the CRC of the whole."""
    block = bytes(1024 * 1024)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    piece = packer.compress(block) + packer.flush(zlib.Z_FULL_FLUSH)
    count = size // len(block)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(block, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, deflate, no name, unix
    final = b"\x03\x00"  # an empty last block
    trailer = struct.pack("<II", crc, (count * len(block)) & 0xFFFFFFFF)
    return header + piece * count + final + trailer


def _seconds(value: float) -> str:
    """Retry-After in whole seconds, as servers send it (mwclient parses it with int())."""
    return str(max(1, math.ceil(value)))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that hung up: no news
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def verify_request(self, request: socket.socket, client_address: object) -> bool:
        if self.proxy._cut():
            _reset(request)
            return False
        return True


def _reset(sock: socket.socket) -> None:
    """Close with RST, as a wiki behind a broken network looks to a client."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real wiki server and requests use it
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass  # quiet: tests print what matters

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self._handle()

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self._handle()

    def _handle(self) -> None:
        proxy = self.server.proxy
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        proxy._wait_at_gate(_kind(self._query(body)))
        fault = proxy._next_fault()
        if fault is None:
            return self._forward(body)
        if fault.kind in ("drop", "cut"):  # cut: a connection kept alive from before
            self.close_connection = True
            _reset(self.connection)
            return None
        if fault.kind == "hang":
            with proxy._lock:
                proxy.hanging += 1
            proxy._unhang.wait(fault.seconds)
            with proxy._lock:
                proxy.hanging -= 1
            self.close_connection = True
            _reset(self.connection)
            return None
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return self._forward(body)
        if fault.kind == "status":
            return self._reply(
                fault.status,
                b"Service Unavailable (faultproxy)\n",
                {"Retry-After": _retry_after(fault), "Content-Type": "text/plain"},
            )
        if fault.kind == "drip":
            return self._drip(fault)
        if fault.kind == "huge":
            return self._huge(fault)
        if fault.kind == "raw":
            return self._reply(fault.status, fault.body, fault.headers)
        if fault.kind == "gzip":
            return self._reply(
                200,
                gzip_bomb(fault.size),
                {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
        if fault.kind in ("reply", "rewrite"):
            assert fault.reply is not None
            params = {
                k: v[0]
                for k, v in parse_qs(
                    urlsplit(self.path).query + "&" + body.decode("latin-1")
                ).items()
            }
            if fault.kind == "reply":
                result = fault.reply(params)
            else:
                result = fault.reply(params, json.loads(self._fetch(body)[2]))
            return self._reply(
                200, json.dumps(result).encode(), {"Content-Type": "application/json"}
            )
        # maxlag, as MediaWiki's ApiMain answers a request whose maxlag is exceeded.
        lag = _seconds(fault.seconds)
        error = {
            "error": {
                "code": "maxlag",
                "info": f"Waiting for a database server: {lag} seconds lagged.",
                "host": "faultproxy",
                "lag": int(lag),
                "type": "db",
            }
        }
        return self._reply(
            200,
            json.dumps(error).encode(),
            {
                "Retry-After": _retry_after(fault),
                "X-Database-Lag": lag,
                "MediaWiki-API-Error": "maxlag",
                "Content-Type": "application/json",
            },
        )

    def _drip(self, fault: Fault) -> None:
        """One byte every ``fault.seconds`` until done, the client gone or the proxy stopped."""
        self.close_connection = True
        stopped = self.server.proxy._stopped
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {fault.size}\r\n\r\n"
        ).encode()
        body = b" " * fault.size
        if fault.where == "headers":
            first, dripping = head[:17], head[17:] + body
        else:
            first, dripping = head, body
        try:
            self.wfile.write(first)
            self.wfile.flush()
            for at in range(len(dripping)):
                if stopped.wait(fault.seconds):
                    return
                self.wfile.write(dripping[at : at + 1])
                self.wfile.flush()
        except OSError:
            return  # the client gave up: the point of the fault

    def _huge(self, fault: Fault) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if fault.length:
            self.send_header("Content-Length", str(fault.size))
        else:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        block = b"x" * (64 * 1024)
        sent = 0
        self.close_connection = True
        try:
            while sent < fault.size:
                part = block[: min(len(block), fault.size - sent)]
                if fault.length:
                    self.wfile.write(part)
                else:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                sent += len(part)
            if not fault.length:
                self.wfile.write(b"0\r\n\r\n")
        except OSError:
            return  # the client cut the reply: the point of the fault

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _fetch(
        self, body: bytes, encoding: str = "identity"
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The wiki's own reply to this request: status, headers, body."""
        proxy = self.server.proxy
        proxy.count(self._query(body))
        upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = f"{proxy.upstream[0]}:{proxy.upstream[1]}"
            headers["Accept-Encoding"] = (
                encoding if encoding != "keep" else self.headers.get("Accept-Encoding", "identity")
            )
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            upstream.close()

    def _query(self, body: bytes) -> str:
        """The request's parameters, from its URL and its (form) body."""
        return urlsplit(self.path).query + "&" + body.decode("latin-1")

    def _forward(self, body: bytes) -> None:
        try:
            status, headers, data = self._fetch(body, "keep")
        except OSError:
            self.close_connection = True
            _reset(self.connection)  # the wiki itself is down: the client sees it as such
            return
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()
        self.server.proxy.count(self._query(body), self.server.proxy.answered)
