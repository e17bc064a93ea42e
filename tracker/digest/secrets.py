"""Secrets kept out of every message: passwords and secret hook URLs come from environment
variables, Apprise URLs carry their service's token; none of them may reach an error, a log
line, `tracker status` or the web UI."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

# --- secrets -----------------------------------------------------------------------------------
# Passwords and secret hook URLs come from environment variables; Apprise URLs carry their
# service's token. None of them may reach an error, a log line, `tracker status` or the web
# UI: errors are worded without them (which variable, what is wrong), exception texts of
# the HTTP and mail libraries (which quote URLs and headers) are never passed on as they
# are, and, as a second line of defence, every message a delivery stores or prints and
# every log record of urllib3 and Apprise has the secrets this process read replaced.

REDACTED = "***"
_MIN_SECRET = 4  # shorter values would blank out ordinary words of a message
_MIN_SECRET_PATH = 8
_SECRETS: set[str] = set()


def remember_secret(value: str) -> str:
    """Note a secret (a password, a URL) so that `redact` hides it; returns it."""
    _SECRETS.update(_secret_pieces(value))
    _guard_logs()
    return value


def _secret_pieces(value: str) -> set[str]:
    """The value, and for a URL the parts a message could quote on their own: the
    password, the user info (also as the Basic authorization requests makes of it), the
    path with its query (as sent, and decoded)."""
    pieces = {value, value.strip()}
    try:
        parts = urlsplit(value.strip())
        password = parts.password
    except ValueError:
        parts, password = None, None
    if parts is not None and parts.netloc:
        pieces.add(parts.netloc.rpartition("@")[0])
        if password:
            user = unquote(parts.username or "")
            basic = base64.b64encode(f"{user}:{unquote(password)}".encode("latin-1", "replace"))
            pieces.update({password, unquote(password), basic.decode("ascii")})
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        if len(path) >= _MIN_SECRET_PATH:  # "/hook" is no secret, and a common word
            pieces.update({path, unquote(path)})
    return {piece for piece in pieces if len(piece) >= _MIN_SECRET}


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every remembered secret (and each of ``secrets``) replaced by ***."""
    known = set(_SECRETS)
    for secret in secrets:
        known |= _secret_pieces(secret)
    for secret in sorted(known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class _RedactSecrets(logging.Filter):
    """Hides remembered secrets in the records of libraries that log URLs (urllib3 logs
    each request's path at DEBUG; Apprise logs its service URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            message = record.getMessage()
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, ()
        return True


_LOG_FILTER = _RedactSecrets()
_URL_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "apprise")


def _guard_logs() -> None:
    for name in _URL_LOGGERS:
        logger = logging.getLogger(name)
        if _LOG_FILTER not in logger.filters:
            logger.addFilter(_LOG_FILTER)


def url_problem(url: str, where: str) -> str | None:
    """What is wrong with an http(s) URL, worded without its value ("the URL in $HOOK_URL
    has no http(s) scheme"); None when it will do."""
    if any(ch.isspace() for ch in url):
        return f"{where} contains whitespace"
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in url):
        return f"{where} contains control characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return f"{where} is not a valid URL (check the host and the port)"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not url.lower().startswith(f"{scheme}://"):
        return f"{where} has no http(s) scheme (it must start with https:// or http://)"
    if not parts.hostname:
        return f"{where} has no host"
    return None


def host_of(url: str) -> str:
    """Where a URL goes, for messages: host and port, never user info, path or query."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "?", parts.port
    except ValueError:
        return "?"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def _cause(exc: BaseException) -> str:
    """The operating system's reason for a failed connection ("Connection refused", a
    certificate error), found in the exception chain; the exceptions' own texts quote the
    URL, so they are not used."""
    stack, seen = [exc], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return " ".join(str(current.strerror).split())
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))
        for attr in ("reason", "__cause__", "__context__"):
            linked = getattr(current, attr, None)
            if isinstance(linked, BaseException):
                stack.append(linked)
    return exc.__class__.__name__
