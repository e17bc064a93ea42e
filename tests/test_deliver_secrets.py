"""Secrets never stored or shown: webhook URLs, SMTP passwords and Apprise URLs taken from
environment variables stay out of `deliveries.last_error`, the output of `tracker run` and
`tracker status`, the /digests/N page and the logs (DEBUG included), whatever goes wrong:
a malformed URL, a receiver that fails and echoes the request, a refused connection, a
silent server, an SMTP server that repeats the password it was sent. The errors say which
variable and what is wrong, never the value.

Every case runs the real thing: `tracker run --once` on the bundled history, an HTTP
receiver and an SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from loopback import free_port
from seedstages import seed_config

from tracker.cli import main
from tracker.config import load_config
from tracker.errors import ConfigError
from tracker.store import Store
from tracker.web import create_app

SECRET = "SECRETsecret"


def run_and_collect(config: Path, caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    """`tracker run --once`, then everything a secret could leak into, by surface."""
    caplog.set_level(logging.DEBUG)
    runner = CliRunner()
    run = runner.invoke(main, ["--config", str(config), "run", "--once"])
    status = runner.invoke(main, ["--config", str(config), "status"])
    status_json = runner.invoke(main, ["--config", str(config), "status", "--json"])
    settings = load_config(config)
    with Store(settings.database_path, readonly=True) as store:
        deliveries = store.query("SELECT * FROM deliveries ORDER BY id")
        digest_ids = [row["id"] for row in store.query("SELECT id FROM digests")]
    client = create_app(settings, index=False).test_client()
    pages = [client.get(f"/digests/{n}") for n in digest_ids]
    assert all(page.status_code == 200 for page in pages)
    return {
        "run stdout": run.stdout,
        "run stderr": run.stderr,
        "status": status.stdout,
        "status --json": status_json.stdout,
        "deliveries": json.dumps(deliveries),
        "/digests/N": "\n".join(page.get_data(as_text=True) for page in pages),
        # Everything logged in this process but by the test's own SMTP server (aiosmtpd).
        "logs": "\n".join(
            f"{r.name}: {r.getMessage()} {r.exc_text or ''}"
            for r in caplog.records
            if not r.name.startswith("mail.log")
        ),
    }


def leaks(surfaces: dict[str, str], *secrets: str) -> list[str]:
    return [
        f"{secret!r} in {name}"
        for name, text in surfaces.items()
        for secret in secrets
        if secret in text
    ]


def errors_by_subscription(config: Path) -> dict[str, str]:
    with Store(load_config(config).database_path, readonly=True) as store:
        return {
            row["subscription"]: row["last_error"]
            for row in store.query(
                "SELECT subscription, last_error FROM deliveries WHERE status = 'failed'"
            )
        }


def webhook_sub(name: str, variable: str, **options: object) -> dict:
    return {"name": name, "channels": [{"type": "webhook", "url_env": variable, **options}]}


# A malformed URL in the variable: the error names the variable and the problem.
MALFORMED = {
    "no-scheme": (f"hooks.example.org/services/T0/B0/{SECRET}", "has no http(s) scheme"),
    "userinfo-no-scheme": (f"bot:{SECRET}@hooks.example.org/hook", "has no http(s) scheme"),
    "ftp": (f"ftp://bot:{SECRET}@hooks.example.org/x", "has no http(s) scheme"),
    "space": (f"https://hooks.example.org/services/{SECRET} more", "contains whitespace"),
    "leading-space": (f" https://hooks.example.org/{SECRET}", "contains whitespace"),
    "bad-port": (f"https://bot:{SECRET}@hooks.example.org:99999/x", "is not a valid URL"),
    "no-host": (f"https:///{SECRET}", "has no host"),
    "control": (f"https://hooks.example.org/{SECRET}\x1b[0m", "contains control characters"),
}


def test_malformed_webhook_urls_are_named_never_shown(
    tmp_path: Path, caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    subs = []
    for k, (name, (value, _)) in enumerate(MALFORMED.items()):
        monkeypatch.setenv(f"HOOK_URL_{k}", value)
        subs.append(webhook_sub(name, f"HOOK_URL_{k}"))
    config = seed_config(tmp_path, *subs)
    surfaces = run_and_collect(config, caplog)
    assert leaks(surfaces, SECRET, "hooks.example.org/") == []
    errors = errors_by_subscription(config)
    for k, (name, (_, problem)) in enumerate(MALFORMED.items()):
        assert errors[name] == f"webhook: the URL in $HOOK_URL_{k} {problem}" + (
            " (it must start with https:// or http://)"
            if "scheme" in problem
            else " (check the host and the port)"
            if "valid" in problem
            else ""
        ), name
        assert f"the URL in $HOOK_URL_{k} {problem}" in surfaces["status"]
    assert "Error: " in surfaces["run stderr"] and "$HOOK_URL_0" in surfaces["run stderr"]


class SilentServer:
    """Accepts connections on loopback and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_webhook_failures_on_loopback_keep_the_url_secret(
    tmp_path: Path,
    caplog,
    monkeypatch: pytest.MonkeyPatch,
    http_receiver,
    silent_server: SilentServer,
) -> None:
    failing = http_receiver([500], echo=True)  # its error page repeats the request
    working = http_receiver([200])
    closed = free_port()
    hooks = {
        "echo": f"http://bot:{SECRET}1@127.0.0.1:{failing.server.server_address[1]}/"
        f"services/{SECRET}2?token={SECRET}3",
        "refused": f"http://bot:{SECRET}4@127.0.0.1:{closed}/{SECRET}5",
        "silent": f"http://127.0.0.1:{silent_server.port}/{SECRET}6",
        "working": f"{working.url}/{SECRET}7",
    }
    for name, url in hooks.items():
        monkeypatch.setenv(f"HOOK_{name.upper()}", url)
    config = seed_config(
        tmp_path, *(webhook_sub(name, f"HOOK_{name.upper()}", timeout=0.5) for name in hooks)
    )
    surfaces = run_and_collect(config, caplog)
    assert leaks(surfaces, *(f"{SECRET}{n}" for n in range(1, 8))) == []
    assert leaks(surfaces, "Ym90OlNFQ1JFVHNlY3JldDE=") == []  # base64 of bot:SECRETsecret1

    # The requests were made, the secrets sent where they belong.
    assert failing.requests and failing.requests[0].path == f"/services/{SECRET}2?token={SECRET}3"
    assert working.accepted[0].path == f"/{SECRET}7"
    errors = errors_by_subscription(config)
    port = failing.server.server_address[1]
    assert errors["echo"].startswith(
        f"webhook 127.0.0.1:{port} answered HTTP 500: receiver failing on purpose POST *** HTTP/1.1"
    )
    assert errors["echo"].endswith("HTTP/1.1 Authorization: Basic ***")
    assert (
        errors["refused"] == f"webhook: cannot connect to 127.0.0.1:{closed} (Connection refused)"
    )
    assert errors["silent"] == f"webhook: no answer from 127.0.0.1:{silent_server.port} within 0.5s"
    assert "working" not in errors
    # urllib3 logs every request's path at DEBUG: there it is, hidden.
    assert '"POST *** HTTP/1.1" 200' in surfaces["logs"]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_password_never_shown_even_when_the_server_repeats_it(
    tmp_path: Path, caplog, monkeypatch: pytest.MonkeyPatch, smtp_server_factory
) -> None:
    server = smtp_server_factory(
        login=("tracker", "right-password"), refusal="535 5.7.8 password {password} is not right"
    )
    monkeypatch.setenv("SMTP_PASSWORD", f"{SECRET}-smtp")
    config = seed_config(
        tmp_path,
        {
            "name": "mail",
            "channels": [
                {
                    "type": "email",
                    "to": "me@example.org",
                    "from": "tracker@example.org",
                    "host": server.host,
                    "port": server.port,
                    "security": "none",
                    "username": "tracker",
                    "password_env": "SMTP_PASSWORD",
                    "timeout": 5,
                }
            ],
        },
    )
    surfaces = run_and_collect(config, caplog)
    assert leaks(surfaces, SECRET) == []
    error = errors_by_subscription(config)["mail"]
    assert error.startswith(f"email via {server.host}:{server.port}: (535, ")
    assert "password *** is not right" in error
    assert server.messages == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # apprise imports imghdr
def test_apprise_urls_from_the_environment_stay_secret(
    tmp_path: Path, caplog, monkeypatch: pytest.MonkeyPatch, http_receiver
) -> None:
    pytest.importorskip("apprise")
    failing = http_receiver([500], echo=True)
    host = failing.url.removeprefix("http://")
    monkeypatch.setenv("APPRISE_BAD", f"{SECRET}1/token/{SECRET}2")
    monkeypatch.setenv(
        "APPRISE_FAILING", f"json://bot:{SECRET}3@{host}/{SECRET}4, json://{host}/{SECRET}5"
    )
    config = seed_config(
        tmp_path,
        {"name": "bad", "channels": [{"type": "apprise", "urls_env": "APPRISE_BAD"}]},
        {"name": "failing", "channels": [{"type": "apprise", "urls_env": "APPRISE_FAILING"}]},
    )
    surfaces = run_and_collect(config, caplog)
    assert leaks(surfaces, *(f"{SECRET}{n}" for n in range(1, 6))) == []
    errors = errors_by_subscription(config)
    assert (
        errors["bad"] == "apprise: URL 1 in $APPRISE_BAD is not a URL Apprise "
        "understands (a URL without a scheme)"
    )
    assert errors["failing"] == "apprise: at least one service did not accept the notification"
    assert {r.path for r in failing.requests} == {f"/{SECRET}4", f"/{SECRET}5"}


def test_webhook_url_in_the_config_is_checked_at_load_without_quoting_it(tmp_path: Path) -> None:
    config = seed_config(
        tmp_path,
        {
            "name": "s",
            "channels": [{"type": "webhook", "url": f"hooks.example.org/services/{SECRET}"}],
        },
    )
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    message = str(caught.value)
    assert message.endswith(
        "subscriptions[0].channels[0].url: the webhook url has no "
        "http(s) scheme (it must start with https:// or http://)"
    )
    assert SECRET not in message and "\n" not in message


def test_an_error_an_older_version_stored_is_shown_without_the_secret(
    tmp_path: Path, caplog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Errors stored before this version may quote the URL (requests' "Invalid URL
    '...': No scheme supplied"): status and the web UI hide what the environment holds."""
    value = f"hooks.example.org/services/{SECRET}"
    monkeypatch.setenv("OLD_HOOK", value)
    config = seed_config(tmp_path, webhook_sub("old", "OLD_HOOK"))
    run_and_collect(config, caplog)
    with Store(load_config(config).database_path) as store:
        store.db.execute(
            "UPDATE deliveries SET last_error = ?",
            [
                f"webhook: Invalid URL '{value}': No scheme supplied. Perhaps you "
                f"meant https://{value}?"
            ],
        )
        store.db.conn.commit()
    runner = CliRunner()
    status = runner.invoke(main, ["--config", str(config), "status"]).stdout
    assert "last error: webhook: Invalid URL '***': No scheme supplied" in status
    assert SECRET not in status
    page = create_app(load_config(config), index=False).test_client().get("/digests/1")
    assert "Invalid URL &#39;***&#39;" in page.get_data(as_text=True)
    assert SECRET not in page.get_data(as_text=True)


def test_webhook_header_tokens_from_the_environment_stay_secret(
    tmp_path: Path, caplog, monkeypatch: pytest.MonkeyPatch, http_receiver
) -> None:
    # headers_env: a header's value (a token) from an environment variable, never in the
    # config; sent, and hidden wherever an error could repeat it (the receiver echoes it).
    failing = http_receiver([500], echo=True)
    working = http_receiver([200])
    monkeypatch.setenv("HOOK_TOKEN", f"Bearer {SECRET}9")
    subs = [
        {
            "name": name,
            "channels": [
                {"type": "webhook", "url": url, "headers_env": {"Authorization": "HOOK_TOKEN"}}
            ],
        }
        for name, url in (("echo", failing.url), ("working", working.url))
    ]
    config = seed_config(tmp_path, *subs)
    assert f"{SECRET}9" not in config.read_text(encoding="utf-8")
    surfaces = run_and_collect(config, caplog)
    assert leaks(surfaces, f"{SECRET}9") == []
    assert working.accepted[0].headers["Authorization"] == f"Bearer {SECRET}9"
    assert errors_by_subscription(config)["echo"].endswith("Authorization: ***")


def test_webhook_header_token_variable_unset_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_receiver
) -> None:
    monkeypatch.delenv("HOOK_TOKEN", raising=False)
    receiver = http_receiver([200])
    sub = {
        "name": "hook",
        "channels": [
            {"type": "webhook", "url": receiver.url, "headers_env": {"Authorization": "HOOK_TOKEN"}}
        ],
    }
    config = seed_config(tmp_path, sub)
    CliRunner().invoke(main, ["--config", str(config), "run", "--once"])
    error = errors_by_subscription(config)["hook"]
    assert (
        error
        == "the environment variable HOOK_TOKEN (the webhook's Authorization header) is not set"
    )
    assert receiver.accepted == []
