"""Servers on 127.0.0.1 that receive what the tracker sends, and free ports.

- ``free_port()``: a TCP port nothing listens on right now.
- ``SmtpServer``: aiosmtpd keeping every message it accepts (plain, STARTTLS or implicit
  TLS, optional login); it can hold a message in DATA until the test releases it.
- ``HttpReceiver``: http.server in a thread, answering each POST with the next status of a
  script (e.g. 500, 500, 200) and keeping every request.

The pytest fixtures that start and stop them (``smtp_server``, ``smtp_server_factory``,
``http_receiver``) are in conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from waits import wait_until


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- SMTP ----------------------------------------------------------------------------------


@dataclass
class SmtpServer:
    """What an SMTP server on loopback received, and switches to hold its replies."""

    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[Any] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    cert: Path | None = None  # with TLS: its self-signed certificate
    # Set ``hold``: DATA is not answered until ``release`` is set (then refused with 451);
    # ``holding`` tells that a message is being held right now.
    hold: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)

    def wait(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages, once there are at least ``count``."""
        wait_until(lambda: len(self.messages) >= count, timeout, f"{count} e-mail(s)")
        return self.messages

    def channel(self, **extra: Any) -> dict:
        """An e-mail channel of a subscription, sending here."""
        return {
            "type": "email",
            "host": self.host,
            "port": self.port,
            "from": "tracker@example.org",
            "to": "reader@example.org",
            "security": "none",
            **extra,
        }

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.hold.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
            return "451 held by the test, try again later"
        self.envelopes.append(envelope)
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), returned as (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def start_smtp(
    directory: Path,
    *,
    tls: str | None = None,
    login: tuple[str, str] | None = None,
    refusal: str | None = None,
    port: int | None = None,
) -> tuple[SmtpServer, Any]:
    """Start aiosmtpd on 127.0.0.1; return the server and its controller (to stop it).

    ``tls``: None, "starttls" or "ssl" (a certificate made in ``directory``); ``login``:
    (user, password) required; ``refusal``: the answer to a wrong login, "{password}"
    replaced by the password tried (a server that echoes what it was sent); ``port``: a
    given port (e.g. one a client already failed to reach).
    """
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    server = SmtpServer("127.0.0.1", port or free_port())
    kwargs: dict[str, Any] = {}
    context = None
    if tls:
        cert, key = make_certificate(directory)
        server.cert = cert
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
    if tls == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    if login:

        def authenticate(
            smtp: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            ok = (
                isinstance(auth_data, LoginPassword)
                and (auth_data.login.decode(), auth_data.password.decode()) == login
            )
            if ok:
                server.logins.append(login)
            if not ok and refusal and isinstance(auth_data, LoginPassword):
                return AuthResult(
                    success=False,
                    handled=False,
                    message=refusal.format(password=auth_data.password.decode()),
                )
            return AuthResult(success=ok)

        # With implicit TLS aiosmtpd does not see the session as TLS (it only tracks
        # STARTTLS), so it must not insist on TLS before AUTH there.
        kwargs.update(
            authenticator=authenticate, auth_required=True, auth_require_tls=tls == "starttls"
        )
    controller = Controller(
        server,
        hostname=server.host,
        port=server.port,
        ssl_context=context if tls == "ssl" else None,
        server_hostname="127.0.0.1",
        **kwargs,
    )
    controller.start()
    return server, controller


# --- HTTP ----------------------------------------------------------------------------------


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
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                receiver.requests.append(request)
                if 200 <= status < 300:
                    receiver.accepted.append(request)
                body = b'{"ok": true}' if status < 300 else b"receiver failing on purpose"
                if echo and status >= 300:
                    body += (
                        f" {self.requestline} Authorization: {self.headers.get('Authorization')}"
                    ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
