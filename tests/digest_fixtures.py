"""Fixtures and helpers of the digest tests: real receivers on loopback and staged histories.

- `SmtpServer`: aiosmtpd on 127.0.0.1 (plain, STARTTLS or implicit TLS, optional login),
  keeping every message it accepts.
- `HttpReceiver`: http.server in a thread on 127.0.0.1, answering each POST with the next
  status of a script (e.g. 500, 500, 200) and keeping every request.
- `seed_config` / `stage`: a config whose snapshot wiki is a copy of the bundled seed history
  cut after N revisions, so that a test can let the history arrive in stages.

Imported by the digest test modules (`from digest_fixtures import ...`); the pytest fixtures
are re-exported there.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from trackerutil import toml_value as toml

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "snapshots" / "pakistan-nato-relations.xml"
SEED_TITLE = "Pakistan\u2013NATO relations"
T0 = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)  # the tests' clock starts here


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
             ) -> Any:
    """Poll until ``predicate()`` is truthy; fail after ``timeout`` seconds (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- the seed history in stages ----------------------------------------------------------------


def seed_revids() -> list[int]:
    text = SEED.read_text(encoding="utf-8")
    return [int(m) for m in re.findall(r"<revision>\s*<id>(\d+)</id>", text)]


def cut_snapshot(target: Path, count: int | None) -> Path:
    """Write the seed export with only its first ``count`` revisions (all when None)."""
    text = SEED.read_text(encoding="utf-8")
    if count is not None:
        ends = [m.end() for m in re.finditer(r"</revision>\n", text)]
        assert 0 < count <= len(ends), count
        text = text[: ends[count - 1]] + "  </page>\n</mediawiki>\n"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target


def subscription_toml(**sub: Any) -> str:
    lines = ["[[subscriptions]]"]
    filters = sub.pop("filters", None)
    lines += [f"{k} = {toml(v)}" for k, v in sub.items()]
    if filters:
        lines.append("[subscriptions.filters]")
        lines += [f"{k} = {toml(v)}" for k, v in filters.items()]
    return "\n".join(lines) + "\n\n"


def seed_config(directory: Path, *subscriptions: dict[str, Any], revisions: int | None = None,
                web: str | None = None, index_url: str | None = "https://wiki.example/index.php"
                ) -> Path:
    """A config.toml in ``directory`` watching the seed article from a cut snapshot."""
    cut_snapshot(directory / "seed.xml", revisions)
    wiki = {"name": "seed", "snapshot": "seed.xml"}
    if index_url:
        wiki["index_url"] = index_url
    text = '[storage]\ndatabase = "tracker.db"\n\n[[wikis]]\n'
    text += "".join(f"{k} = {toml(v)}\n" for k, v in wiki.items())
    text += f'\n[[watches]]\nwiki = "seed"\ntitle = {toml(SEED_TITLE)}\n\n'
    if web:
        text += f"[web]\nbase_url = {toml(web)}\n\n"
    for sub in subscriptions:
        text += subscription_toml(**dict(sub))
    path = directory / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class Tracker:
    """A config and its store, polled and digested in-process with an injected clock."""

    path: Path
    now: datetime = T0

    @property
    def config(self):  # noqa: ANN201
        from tracker.config import load_config

        return load_config(self.path)

    def stage(self, revisions: int | None) -> None:
        """Let the history grow to its first ``revisions`` revisions, then poll."""
        from tracker.fetch.poll import poll_all
        from tracker.store import Store

        cut_snapshot(self.path.parent / "seed.xml", revisions)
        with Store(self.config.database_path) as store:
            results = poll_all(store, self.config, progress=False)
        assert all(r.ok for r in results), [r.errors for r in results]

    def deliver(self, minutes: float = 1.0, **kwargs: Any) -> list[str]:
        """deliver_due at a clock ``minutes`` later than the previous call."""
        from tracker.digest.run import deliver_due
        from tracker.store import Store

        self.now += timedelta(minutes=minutes)
        with Store(self.config.database_path) as store:
            return deliver_due(store, self.config, now=self.now, **kwargs)

    def digests(self, subscription: str | None = None) -> list[dict]:
        from tracker.store import Store

        with Store(self.config.database_path) as store:
            where = " WHERE subscription = ?" if subscription else ""
            rows = store.query(f"SELECT * FROM digests{where} ORDER BY id",
                               [subscription] if subscription else [])
        for row in rows:
            row["model"] = json.loads(row["model"])
        return rows

    def deliveries(self) -> list[dict]:
        from tracker.store import Store

        with Store(self.config.database_path) as store:
            return store.query("SELECT * FROM deliveries ORDER BY id")


# --- SMTP ----------------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def wait(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        wait_for(lambda: len(self.messages) >= count, timeout, f"{count} e-mail(s)")
        return self.messages


class _Handler:
    def __init__(self, server: SmtpServer):
        self.server = server

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.server.envelopes.append(envelope)
        self.server.messages.append(
            message_from_bytes(envelope.original_content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), returned as (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


@pytest.fixture
def smtp_server_factory(tmp_path: Path) -> Iterator[Callable[..., SmtpServer]]:
    """Start aiosmtpd servers: smtp_server_factory(tls=None|"starttls"|"ssl", login=None|
    (user, password)); all stopped at teardown."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    controllers: list[Any] = []

    def start(tls: str | None = None, login: tuple[str, str] | None = None,
              refusal: str | None = None) -> SmtpServer:
        """``refusal``: the server's answer to a wrong login, "{password}" replaced by the
        password tried (a server that echoes what it was sent)."""
        server = SmtpServer("127.0.0.1", free_port())
        kwargs: dict[str, Any] = {}
        context = None
        if tls:
            cert, key = make_certificate(tmp_path)
            server.cert = cert  # type: ignore[attr-defined]
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
        if tls == "starttls":
            kwargs.update(tls_context=context, require_starttls=True)
        if login:
            def authenticate(smtp: Any, session: Any, envelope: Any, mechanism: str,
                             auth_data: Any) -> AuthResult:
                ok = isinstance(auth_data, LoginPassword) and \
                    (auth_data.login.decode(), auth_data.password.decode()) == login
                if ok:
                    server.logins.append(login)
                if not ok and refusal and isinstance(auth_data, LoginPassword):
                    return AuthResult(success=False, handled=False, message=refusal.format(
                        password=auth_data.password.decode()))
                return AuthResult(success=ok)

            # With implicit TLS aiosmtpd does not see the session as TLS (it only tracks
            # STARTTLS), so it must not insist on TLS before AUTH there.
            kwargs.update(authenticator=authenticate, auth_required=True,
                          auth_require_tls=tls == "starttls")
        controller = Controller(_Handler(server), hostname=server.host, port=server.port,
                                ssl_context=context if tls == "ssl" else None,
                                server_hostname="127.0.0.1", **kwargs)
        controller.start()
        controllers.append(controller)
        return server

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpServer]) -> SmtpServer:
    """A plain SMTP server on 127.0.0.1 keeping what it receives."""
    return smtp_server_factory()


# --- HTTP ----------------------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """Answers POSTs with a scripted sequence of statuses (the last one repeats); with
    ``echo``, a failing answer's body repeats the request line and the Authorization
    header (as careless servers' error pages do)."""

    def __init__(self, statuses: list[int] | None = None, echo: bool = False):
        self.statuses = list(statuses or [200])
        self.requests: list[Request] = []
        self.accepted: list[Request] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(self.path, dict(self.headers), self.rfile.read(length))
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 \
                    else receiver.statuses[0]
                receiver.requests.append(request)
                if 200 <= status < 300:
                    receiver.accepted.append(request)
                body = b'{"ok": true}' if status < 300 else b"receiver failing on purpose"
                if echo and status >= 300:
                    body += (f" {self.requestline} Authorization: "
                             f"{self.headers.get('Authorization')}").encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http_receiver() -> Iterator[Callable[..., HttpReceiver]]:
    """http_receiver(statuses=[500, 500, 200], echo=False) -> a running HttpReceiver;
    closed at teardown."""
    receivers: list[HttpReceiver] = []

    def start(statuses: list[int] | None = None, echo: bool = False) -> HttpReceiver:
        receiver = HttpReceiver(statuses, echo)
        receivers.append(receiver)
        return receiver

    yield start
    for receiver in receivers:
        receiver.close()


def copy_templates(target: Path) -> Path:
    """A copy of the bundled templates (to override one in a test)."""
    from tracker.digest.render import bundled_templates

    shutil.copytree(bundled_templates(), target)
    return target
