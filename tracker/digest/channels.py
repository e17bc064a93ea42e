"""Delivery channels: where a recorded, rendered digest goes.

A small explicit registry (STYLE.md): each channel is a function registered with
``@channel("name", required=..., optional=...)``, declaring its option keys; its
docstring is its help (`describe_channels` lists them all, for the README). The config
loader calls `check_channel`, so that a typo in a channel's options fails at load time,
naming the key and the nearest valid one.

A channel function gets an `Outgoing` (the digest as recorded in the store: its id, subject,
Message-ID and rendered outputs) and its options, sends it, and returns a one-line detail
(a path, an HTTP status). Any exception means "not delivered": digest.py records it and
retries later with backoff. Channels must therefore be idempotent where they can: the file
and Atom channels write the same file names again on a retry, the e-mail reuses the digest's
Message-ID, the webhook payload carries the digest id, so a receiver can drop a repeat.
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Any

import requests

from tracker import NAME, __version__
from tracker.config.settings import Channel, Config, Subscription
from tracker.digest.secrets import _cause, host_of, redact, remember_secret, url_problem
from tracker.errors import DeliveryError

# --- the registry ----------------------------------------------------------------------------

Sender = Callable[["Outgoing", dict[str, Any]], str]


@dataclass(frozen=True)
class ChannelSpec:
    """A channel type: its sender, its option keys (name -> (default, accepted types))."""

    name: str
    send: Sender
    required: dict[str, tuple[type, ...]]
    optional: dict[str, tuple[Any, tuple[type, ...]]]
    one_of: tuple[tuple[str, ...], ...]
    needs: Callable[[dict[str, Any], tuple[str, ...]], set[str]]
    doc: str
    # Checks of the option values at config load: None, or (key suffix, message).
    check: Callable[[dict[str, Any]], tuple[str, str] | None] | None = None

    def options(self, given: dict[str, Any]) -> dict[str, Any]:
        """The options with the defaults of the keys not given."""
        out = {key: default for key, (default, _) in self.optional.items()}
        out.update(given)
        return out


CHANNELS: dict[str, ChannelSpec] = {}

# Every channel accepts a name; it identifies the channel in the delivery log and status.
COMMON_KEYS: dict[str, tuple[Any, tuple[type, ...]]] = {"name": (None, (str,))}


def channel(
    name: str,
    *,
    required: dict[str, tuple[type, ...]] | None = None,
    optional: dict[str, tuple[Any, tuple[type, ...]]] | None = None,
    one_of: tuple[tuple[str, ...], ...] = (),
    needs: Callable[[dict[str, Any], tuple[str, ...]], set[str]],
    check: Callable[[dict[str, Any]], tuple[str, str] | None] | None = None,
) -> Callable[[Sender], Sender]:
    """Register a channel type; ``needs(options, subscription formats)`` names the rendered
    formats it sends, so that they are rendered and stored before sending; ``check``
    tells what is wrong with option values, at config load."""

    def register(func: Sender) -> Sender:
        CHANNELS[name] = ChannelSpec(
            name,
            func,
            dict(required or {}),
            {**COMMON_KEYS, **(optional or {})},
            one_of,
            needs,
            inspect.getdoc(func) or "",
            check,
        )
        return func

    return register


def check_channel(kind: str, options: dict[str, Any]) -> tuple[str, str] | None:
    """None when the options suit the channel type, else (key suffix, message)."""
    spec = CHANNELS.get(kind)
    if spec is None:
        near = difflib.get_close_matches(kind, list(CHANNELS), n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"use one of {', '.join(CHANNELS)}"
        return ".type", f"unknown channel type {kind!r}; {hint}"
    known = {**spec.required, **{k: t for k, (_, t) in spec.optional.items()}}
    for key, value in options.items():
        if key not in known:
            near = difflib.get_close_matches(key, list(known), n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"valid keys: {', '.join(known)}"
            return f".{key}", f"unknown key for a {kind} channel; {hint}"
        types = known[key]
        if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
            wanted = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types)
            return f".{key}", f"expected {wanted}"
    for key in spec.required:
        if key not in options:
            return f".{key}", f"missing; a {kind} channel needs it"
    for group in spec.one_of:
        if sum(key in options for key in group) != 1:
            return "", f"a {kind} channel needs exactly one of {', '.join(group)}"
    if kind == "apprise" and importlib.util.find_spec("apprise") is None:
        return (
            ".type",
            "the apprise channel needs the optional extra: pip install 'wiki-tracker[apprise]'",
        )
    return spec.check(options) if spec.check else None


_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


def describe_channels() -> str:
    """Help text of every channel: its keys and docstring."""
    parts = []
    for spec in CHANNELS.values():
        keys = [f"{k} (required)" for k in spec.required]
        keys += [f"{k} = {d!r}" for k, (d, _) in spec.optional.items() if k != "name"]
        parts.append(f"{spec.name}: {spec.doc}\n  keys: {', '.join(keys)}")
    return "\n\n".join(parts)


def channel_secrets(kind: str, options: dict[str, Any]) -> list[str]:
    """The secret values a channel's options point at, as this process's environment holds
    them now (for hiding them from errors an older version stored)."""
    found = [
        os.environ.get(str(options[key]), "")
        for key in ("url_env", "password_env", "urls_env")
        if options.get(key)
    ]
    headers_env = options.get("headers_env")
    if isinstance(headers_env, dict):
        found += [os.environ.get(str(name), "") for name in headers_env.values()]
    if kind == "apprise" and options.get("urls"):
        found += _as_list(options["urls"])
    return [value for value in found if value]


# --- the channels of a subscription ----------------------------------------------------------


def channel_keys(sub: Subscription) -> list[tuple[str, Channel]]:
    """Each channel with its key in the delivery log: its ``name``, else its type (with a
    number when the subscription has several of that type)."""
    totals: dict[str, int] = {}
    for chan in sub.channels:
        if chan.label is None:
            totals[chan.type] = totals.get(chan.type, 0) + 1
    seen: dict[str, int] = {}
    out: list[tuple[str, Channel]] = []
    for chan in sub.channels:
        if chan.label is None:
            seen[chan.type] = seen.get(chan.type, 0) + 1
        key = chan.label or (
            chan.type if totals[chan.type] == 1 else f"{chan.type}-{seen[chan.type]}"
        )
        while key in {k for k, _ in out}:
            key += "+"
        out.append((key, chan))
    return out


def formats_needed(sub: Subscription) -> set[str]:
    """The rendered formats to store: the subscription's and what its channels send."""
    needed = set(sub.formats)
    for chan in sub.channels:
        spec = CHANNELS[chan.type]
        needed |= spec.needs(spec.options(chan.options), sub.formats)
    return needed


def templates_of(config: Config, sub: Subscription) -> Path | None:
    """The subscription's own template directory, if it has one."""
    return config.resolve(sub.templates) if sub.templates else None


# --- what a channel sends --------------------------------------------------------------------


@dataclass(frozen=True)
class FeedEntry:
    """An earlier digest, as an Atom feed keeps it."""

    digest_id: int
    subject: str
    created_at: str
    message_id: str
    html_body: str
    link: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """A recorded digest on its way out; `outputs` are the rendered formats, stored."""

    digest_id: int
    subscription: str
    kind: str  # "changes" | "start" | "heartbeat"
    subject: str
    created_at: str  # ISO 8601 UTC, "Z"
    message_id: str
    outputs: dict[str, str]
    model: dict[str, Any]
    base_dir: Path  # relative paths in options are relative to the config file
    formats: tuple[str, ...] = ("markdown",)
    templates: Path | None = None
    # Earlier digests delivered to this channel, newest first (the Atom channel's history).
    history: Callable[[int], list[FeedEntry]] = field(default=lambda n: [], repr=False)

    def path(self, value: str) -> Path:
        candidate = Path(value).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    def output(self, fmt: str) -> str:
        try:
            return self.outputs[fmt]
        except KeyError:
            raise DeliveryError(f"digest {self.digest_id} has no {fmt} rendering stored") from None


def _env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise DeliveryError(f"the environment variable {name} ({what}) is not set")
    return value


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    )
    try:
        with handle:
            handle.write(text)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


# --- file --------------------------------------------------------------------------------------

EXTENSIONS = {"text": "txt", "markdown": "md", "html": "html"}


def digest_file_name(out: Outgoing, fmt: str) -> str:
    """``{subscription}-{YYYY-mm-ddTHHMMSSZ}-{digest id}.{ext}``: sorted by time, and the
    same name again on a retry, so a retried delivery overwrites instead of duplicating."""
    stamp = out.created_at.replace(":", "").replace("-", "")
    stamp = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:]}"
    return f"{out.subscription}-{stamp}-{out.digest_id}.{EXTENSIONS[fmt]}"


@channel(
    "file",
    required={"path": (str,)},
    optional={"formats": (None, (list,))},
    needs=lambda opts, formats: set(opts.get("formats") or formats),
)
def send_file(out: Outgoing, opts: dict[str, Any]) -> str:
    """One file per digest and format in the directory `path` (made when missing), named
    by subscription, time and digest id; `formats` defaults to the subscription's."""
    directory = out.path(opts["path"])
    written = []
    for fmt in opts["formats"] or out.formats:
        if fmt not in EXTENSIONS:
            raise DeliveryError(f"file channel: unknown format {fmt!r}")
        target = directory / digest_file_name(out, fmt)
        _write_atomic(target, out.output(fmt))
        written.append(str(target))
    return ", ".join(written)


# --- e-mail ------------------------------------------------------------------------------------

SECURITY_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


@channel(
    "email",
    required={"to": (str, list), "from": (str,)},
    optional={
        "host": ("localhost", (str,)),
        "port": (None, (int,)),
        "security": ("starttls", (str,)),
        "username": (None, (str,)),
        "username_env": (None, (str,)),
        "password_env": (None, (str,)),
        "ca_file": (None, (str,)),
        "timeout": (30, (int, float)),
        "subject_prefix": ("[wiki tracker] ", (str,)),
    },
    needs=lambda opts, formats: {"text", "html"},
)
def send_email(out: Outgoing, opts: dict[str, Any]) -> str:
    """An e-mail over SMTP: multipart/alternative with a plain-text and an HTML part.
    `security` is "starttls" (default, port 587), "ssl" (465) or "none" (25). With
    `password_env` it logs in as `username` (or the value of `username_env`) with the
    password read from that environment variable. The Message-ID is the digest's own, the
    same on every retry. `ca_file` trusts a private CA (PEM) for TLS."""
    security = opts["security"]
    if security not in SECURITY_PORTS:
        raise DeliveryError(f"email: security must be one of {', '.join(SECURITY_PORTS)}")
    msg = build_email(out, opts)
    recipients = [addr for _, addr in getaddresses(_as_list(opts["to"]))]
    host, port = opts["host"], opts["port"] or SECURITY_PORTS[security]
    context = ssl.create_default_context(cafile=opts["ca_file"])
    try:
        if security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=opts["timeout"], context=context
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=opts["timeout"])
        with smtp:
            if security == "starttls":
                smtp.starttls(context=context)
            if opts["password_env"]:
                user = opts["username"] or (
                    _env(opts["username_env"], "SMTP user name") if opts["username_env"] else None
                )
                if not user:
                    raise DeliveryError(
                        "email: password_env is set but neither username nor username_env"
                    )
                password = remember_secret(_env(opts["password_env"], "SMTP password"))
                smtp.login(user, password)
            refused = smtp.send_message(
                msg, from_addr=getaddresses([opts["from"]])[0][1], to_addrs=recipients
            )
    except smtplib.SMTPException as exc:
        # The server's answer: what it said about the login or a recipient, never our
        # password (redacted should a server echo it).
        raise DeliveryError(redact(f"email via {host}:{port}: {_one_line(exc)}")) from None
    except OSError as exc:
        raise DeliveryError(f"email: cannot reach {host}:{port}: {_cause(exc)}") from None
    if refused:
        # Partly delivered: report it, but do not resend to those who got it.
        return f"sent to {len(recipients) - len(refused)}; refused: {', '.join(refused)}"
    return f"sent to {', '.join(recipients)} via {host}:{port}"


def build_email(out: Outgoing, opts: dict[str, Any]) -> EmailMessage:
    """The MIME message of a digest (also used by tests and `--format email`)."""
    from datetime import datetime

    msg = EmailMessage()
    msg["Subject"] = " ".join((opts.get("subject_prefix", "") + out.subject).split())
    msg["From"] = opts["from"]
    msg["To"] = ", ".join(_as_list(opts["to"]))
    msg["Date"] = format_datetime(datetime.fromisoformat(out.created_at.replace("Z", "+00:00")))
    msg["Message-ID"] = out.message_id
    # RFC 3834: an automatic message; auto-responders should not answer it.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Wiki-Tracker-Subscription"] = out.subscription
    msg["X-Wiki-Tracker-Digest"] = str(out.digest_id)
    msg.set_content(out.output("text"), subtype="plain", charset="utf-8")
    msg.add_alternative(out.output("html"), subtype="html", charset="utf-8")
    return msg


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


# --- webhook -----------------------------------------------------------------------------------

PAYLOADS = ("json", "slack", "mattermost", "discord")
DISCORD_LIMIT = 2000  # characters of a Discord message's content


def _webhook_needs(opts: dict[str, Any], formats: tuple[str, ...]) -> set[str]:
    payload = opts.get("payload", "json")
    return {"slack"} if payload == "slack" else {"chat"} if payload != "json" else {"text"}


def _check_webhook(opts: dict[str, Any]) -> tuple[str, str] | None:
    if isinstance(opts.get("url"), str):
        problem = url_problem(opts["url"], "the webhook url")
        if problem:
            return ".url", problem
    if opts.get("payload", "json") not in PAYLOADS:
        return ".payload", f"use one of {', '.join(PAYLOADS)}"
    for header, name in (opts.get("headers_env") or {}).items():
        if not isinstance(name, str) or not name:
            return f".headers_env.{header}", "the name of an environment variable (a string)"
    return None


@channel(
    "webhook",
    optional={
        "url": (None, (str,)),
        "url_env": (None, (str,)),
        "payload": ("json", (str,)),
        "headers": ({}, (dict,)),
        "headers_env": ({}, (dict,)),  # header -> the environment variable holding its value
        "timeout": (30, (int, float)),
    },
    one_of=(("url", "url_env"),),
    needs=_webhook_needs,
    check=_check_webhook,
)
def send_webhook(out: Outgoing, opts: dict[str, Any]) -> str:
    """A JSON POST to `url` (or to the URL in the environment variable `url_env`, for
    secret hook URLs). `payload` "json" (default) posts the digest's whole model with its
    plain text; "slack", "mattermost" or "discord" post what those incoming webhooks
    accept, with mentions from the wiki muted. Any 2xx answer is success; anything else
    is retried later. The URL never appears in an error: only its host. `headers_env`:
    headers whose values (tokens) are in environment variables, never in the config."""
    if opts["url_env"]:
        url = remember_secret(_env(opts["url_env"], "webhook URL"))
        where = f"the URL in ${opts['url_env']}"
    else:
        url, where = remember_secret(opts["url"]), "the webhook url"
    problem = url_problem(url, where)
    if problem:
        raise DeliveryError(f"webhook: {problem}")
    body = webhook_payload(out, opts["payload"])
    headers = {"User-Agent": f"{NAME}/{__version__}", **opts["headers"]}
    for header, name in opts["headers_env"].items():
        headers[header] = remember_secret(_env(name, f"the webhook's {header} header"))
    host = host_of(url)
    # requests' exception texts quote the URL (and a bad header's value): only our own
    # words and the operating system's reason go into the error.
    try:
        response = requests.post(url, json=body, headers=headers, timeout=opts["timeout"])
    except requests.Timeout:
        raise DeliveryError(f"webhook: no answer from {host} within {opts['timeout']}s") from None
    except requests.ConnectionError as exc:
        raise DeliveryError(f"webhook: cannot connect to {host} ({_cause(exc)})") from None
    except requests.RequestException as exc:
        raise DeliveryError(
            f"webhook: the request to {host} could not be made ({exc.__class__.__name__})"
        ) from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(
            redact(
                f"webhook {host} answered HTTP {response.status_code}: "
                f"{_one_line(Exception(response.text[:200]))}"
            )
        )
    return f"HTTP {response.status_code}"


def webhook_payload(out: Outgoing, payload: str) -> dict[str, Any]:
    if payload == "json":
        return {
            "digest_id": out.digest_id,
            "message_id": out.message_id,
            "subscription": out.subscription,
            "kind": out.kind,
            "subject": out.subject,
            "created_at": out.created_at,
            "text": out.output("text"),
            "digest": out.model,
        }
    if payload == "slack":
        return {"text": out.output("slack"), "unfurl_links": False}
    if payload == "mattermost":
        return {"text": out.output("chat"), "username": "wiki tracker"}
    if payload == "discord":
        from tracker.digest.render import discord_markdown

        content = discord_markdown(out.output("chat"))
        if len(content) > DISCORD_LIMIT:
            content = content[: DISCORD_LIMIT - 2] + " …"
        return {"content": content, "allowed_mentions": {"parse": []}}
    raise DeliveryError(f"webhook: payload must be one of {', '.join(PAYLOADS)}")


# --- Atom feed ---------------------------------------------------------------------------------


@channel(
    "atom",
    required={"path": (str,)},
    optional={"entries": (20, (int,)), "title": (None, (str,)), "url": (None, (str,))},
    needs=lambda opts, formats: {"html_body"},
)
def send_atom(out: Outgoing, opts: dict[str, Any]) -> str:
    """An Atom feed file at `path` for the subscription, keeping the last `entries`
    digests (default 20), rebuilt from the store on every delivery so that it is always
    valid and never holds a digest twice. `url`: where readers fetch it (its rel="self"
    link; the file's own file: URL when not given)."""
    from tracker.digest.render import render_feed

    keep = max(1, opts["entries"])
    current = FeedEntry(
        out.digest_id,
        out.subject,
        out.created_at,
        out.message_id,
        out.output("html_body"),
        out.model.get("link"),
    )
    entries = [current] + [e for e in out.history(keep) if e.digest_id != out.digest_id]
    # Newest first, by digest: a retried older digest takes its place, not the top.
    entries.sort(key=lambda e: e.digest_id, reverse=True)
    target = out.path(opts["path"])
    title = opts["title"] or f"wiki tracker: {out.subscription}"
    _write_atomic(
        target,
        render_feed(
            entries[:keep],
            title=title,
            subscription=out.subscription,
            templates=out.templates,
            self_url=opts["url"] or target.resolve().as_uri(),
        ),
    )
    return f"{target} ({min(len(entries), keep)} entries)"


# --- Apprise -----------------------------------------------------------------------------------


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,31})://")


@channel(
    "apprise",
    optional={"urls": (None, (str, list)), "urls_env": (None, (str,))},
    one_of=(("urls", "urls_env"),),
    needs=lambda opts, formats: {"markdown"},
)
def send_apprise(out: Outgoing, opts: dict[str, Any]) -> str:
    """Any service Apprise knows (ntfy, Matrix, Telegram, Teams, e-mail...), given as
    Apprise URLs in `urls`, or in the environment variable `urls_env` (several separated
    by spaces or commas: the URLs hold the services' tokens). Sends the Markdown digest,
    which Apprise turns into HTML where the service wants it. Needs the optional extra:
    pip install 'wiki-tracker[apprise]'."""
    try:
        import apprise
    except ImportError:
        raise DeliveryError(
            "the apprise channel needs the optional extra: pip install 'wiki-tracker[apprise]'"
        ) from None
    if opts["urls_env"]:
        value = remember_secret(_env(opts["urls_env"], "Apprise URLs"))
        urls = [
            (f"URL {i} in ${opts['urls_env']}", url)
            for i, url in enumerate(re.split(r"[\s,]+", value.strip()), 1)
        ]
    else:
        urls = [(f"URL {i} of urls", url) for i, url in enumerate(_as_list(opts["urls"]), 1)]
    hub = apprise.Apprise()
    for where, url in urls:
        remember_secret(url)
        if not hub.add(url):
            scheme = _SCHEME.match(url)
            kind = f"a {scheme.group(1)}:// URL" if scheme else "a URL without a scheme"
            raise DeliveryError(f"apprise: {where} is not a URL Apprise understands ({kind})")
    ok = hub.notify(
        body=out.output("markdown"), title=out.subject, body_format=apprise.NotifyFormat.MARKDOWN
    )
    if not ok:
        raise DeliveryError("apprise: at least one service did not accept the notification")
    return f"notified {len(hub)} service(s)"
