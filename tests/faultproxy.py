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

Faults come from a mode that applies to every request (``proxy.mode("cut")``), from a queue
of one-off faults (``proxy.queue("drop", "maxlag")``), or at random (``proxy.chaos(0.3)``),
in that order of precedence. Requests are counted by kind (``status``: prop=info,
``content``: prop=revisions, ``other``) for the benchmark and the tests.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import random
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te",
              "upgrade", "trailer", "content-length", "server", "date"}
FAULTS = ("drop", "delay", "status", "maxlag", "hang", "cut")


@dataclass(frozen=True)
class Fault:
    kind: str
    seconds: float = 1.0  # delay / hang duration, or the Retry-After sent
    status: int = 503


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
        self.injected: Counter[str] = Counter()  # faults by kind
        self._unhang = threading.Event()  # ends the requests a "hang" holds: heal() or stop()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.api_url = f"http://{self.host}/api.php"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"faultproxy-{self.port}")

    # -- life ------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._unhang.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what requests meet ----------------------------------------------------------------

    def mode(self, kind: str | None, **params: float) -> None:
        """Every request meets this fault until ``mode(None)``."""
        with self._lock:
            self._mode = _fault(kind, params) if kind else None
            if kind == "hang":
                self._unhang.clear()

    def queue(self, *kinds: str, **params: float) -> None:
        """The next requests meet these faults, one each, in order."""
        with self._lock:
            self._queue.extend(_fault(kind, params) for kind in kinds)
            if "hang" in kinds:
                self._unhang.clear()

    def chaos(self, rate: float, kinds: tuple[str, ...] = ("drop", "delay", "status", "maxlag"),
              **params: float) -> None:
        """Each request meets one of ``kinds`` with probability ``rate`` (0 turns it off)."""
        with self._lock:
            self._chaos = (rate, tuple(_fault(k, params) for k in kinds)) if rate else None
            if "hang" in kinds:
                self._unhang.clear()

    def heal(self) -> None:
        """No more faults."""
        with self._lock:
            self._mode, self._chaos = None, None
            self._queue.clear()
            self._unhang.set()

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
            if self._mode is not None:
                fault: Fault | None = self._mode
            elif self._queue:
                fault = self._queue.popleft()
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

    def count(self, query: str) -> None:
        params = parse_qs(query)
        prop = params.get("prop", [""])[0]
        kind = {"info": "status", "revisions": "content"}.get(prop, "other")
        with self._lock:
            self.counts[kind] += 1

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()
            self.injected.clear()


def _fault(kind: str, params: dict[str, float]) -> Fault:
    if kind not in FAULTS:
        raise ValueError(f"unknown fault {kind!r}; one of {', '.join(FAULTS)}")
    return Fault(kind, float(params.get("seconds", 1.0)), int(params.get("status", 503)))


def _seconds(value: float) -> str:
    """Retry-After in whole seconds, as servers send it (mwclient parses it with int())."""
    return str(max(1, math.ceil(value)))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: FaultProxy

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
        fault = proxy._next_fault()
        if fault is None:
            return self._forward(body)
        if fault.kind in ("drop", "cut"):  # cut: a connection kept alive from before
            self.close_connection = True
            _reset(self.connection)
            return None
        if fault.kind == "hang":
            proxy._unhang.wait(fault.seconds)
            self.close_connection = True
            _reset(self.connection)
            return None
        if fault.kind == "delay":
            time.sleep(fault.seconds)
            return self._forward(body)
        if fault.kind == "status":
            return self._reply(fault.status, b"Service Unavailable (faultproxy)\n",
                               {"Retry-After": _seconds(fault.seconds),
                                "Content-Type": "text/plain"})
        # maxlag, as MediaWiki's ApiMain answers a request whose maxlag is exceeded.
        lag = _seconds(fault.seconds)
        error = {"error": {"code": "maxlag", "info": f"Waiting for a database server: "
                           f"{lag} seconds lagged.", "host": "faultproxy", "lag": int(lag),
                           "type": "db"}}
        return self._reply(200, json.dumps(error).encode(), {
            "Retry-After": lag, "X-Database-Lag": lag,
            "MediaWiki-API-Error": "maxlag", "Content-Type": "application/json"})

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self, body: bytes) -> None:
        proxy = self.server.proxy
        proxy.count(urlsplit(self.path).query + "&" + body.decode("latin-1"))
        upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = f"{proxy.upstream[0]}:{proxy.upstream[1]}"
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        except OSError:
            self.close_connection = True
            _reset(self.connection)  # the wiki itself is down: the client sees it as such
            return
        finally:
            upstream.close()
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
