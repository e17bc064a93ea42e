"""The Flask application: settings, per-thread read-only stores, security headers, errors.

Every page is read through a read-only SQLite connection per server thread, so the app runs
beside a daemon that writes (WAL). The one thing it writes is the derived search index
(tracker.store.search.Indexer), through a separate connection. Every response carries a
Content-Security-Policy without inline script; every wiki value goes through Jinja2's
autoescaping; errors are pages, never tracebacks.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

from tracker.config import Config, load_config
from tracker.digest.channels import channel_secrets
from tracker.errors import StoreError, TrackerError
from tracker.store import Store, store_error_message
from tracker.store.search import Indexer
from tracker.text.display import LEAD
from tracker.web import helpers

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class TrackerWeb:
    """What the views share: the database path, one read-only Store per thread, settings."""

    def __init__(
        self,
        db_path: Path,
        *,
        index_urls: dict[str, str | None],
        base_url: str | None,
        clock: Callable[[], datetime],
        secrets: tuple[str, ...] = (),
    ):
        self.db_path = db_path
        self.index_urls = index_urls
        self.base_url = base_url
        # The channels' secret URLs and passwords, hidden from delivery errors shown.
        self.secrets = secrets
        self.clock = clock
        self.indexer = Indexer(db_path)
        self._local = threading.local()

    def store(self) -> Store:
        # sqlite3 connections are not for sharing between threads; waitress's worker
        # threads live as long as the server, so each keeps one connection and blob cache.
        current = getattr(self._local, "store", None)
        if current is None:
            current = self._local.store = Store(self.db_path, readonly=True)
        return current


def create_app(
    source: Config | str | Path, *, clock: Callable[[], datetime] | None = None, index: bool = True
) -> Flask:
    """The Flask app over a config (or a config.toml path) or a database path.

    ``clock`` gives "now" for the activity counts (tests pin it). ``index`` brings the
    search index up to date at start.
    """
    if isinstance(source, str | Path) and str(source).endswith(".toml"):
        source = load_config(source)
    if isinstance(source, Config):
        db_path = source.database_path
        index_urls = {w.name: w.script_url for w in source.wikis}
        base_url = helpers.safe_url(source.web.base_url)
        secrets = tuple(
            value
            for sub in source.subscriptions
            for chan in sub.channels
            for value in channel_secrets(chan.type, chan.options)
        )
    else:
        db_path, index_urls, base_url, secrets = Path(source), {}, None, ()
    Store(db_path, readonly=True).close()  # fail now, with StoreError, if there is no store

    app = Flask(__name__)
    app.config.update(JSON_AS_ASCII=False, TEMPLATES_AUTO_RELOAD=False)
    # Ids in URLs are SQLite integers: a larger number is no page (404), not an overflow.
    app.url_map.converters["int"] = _SqliteInt
    app.url_map.converters["title"] = helpers.TitleConverter
    # Titles may hold "//" (MediaWiki allows it): no merging of slashes in paths.
    app.url_map.merge_slashes = False
    state = TrackerWeb(
        db_path,
        index_urls=index_urls,
        base_url=base_url,
        clock=clock or (lambda: datetime.now(UTC)),
        secrets=secrets,
    )
    app.extensions["tracker"] = state
    _register_template_helpers(app)
    _register_errors(app)
    app.after_request(_security_headers)

    from tracker.web import diffview, feeds, pages, revisions, searchview, sets

    for module in (pages, sets, diffview, revisions, searchview, feeds):
        app.register_blueprint(module.bp)
    if index:
        state.indexer.catch_up()
    return app


class _SqliteInt(IntegerConverter):
    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", helpers.SQLITE_MAX_INT)
        super().__init__(url_map, *args, **kwargs)


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if "frame-ancestors 'self'" not in response.headers["Content-Security-Policy"]:
        response.headers["X-Frame-Options"] = "DENY"
    return response


def _register_template_helpers(app: Flask) -> None:
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(
        time=helpers.fmt_time,
        signed=helpers.signed,
        path_label=helpers.path_label,
        summary_text=helpers.summary_text,
        safe_url=helpers.safe_url,
    )
    app.jinja_env.globals.update(
        user_link=helpers.user_link,
        wiki_link=helpers.wiki_link,
        page_link=helpers.page_link,
        page_url=helpers.page_url,
        summary_html=helpers.summary_html,
        is_bot=helpers.is_bot,
        tags_of=helpers.tags_of,
        LEAD=LEAD,
    )


def _register_errors(app: Flask) -> None:
    def page(code: int, title: str, message: str) -> tuple[str, int]:
        return render_template("error.html", code=code, title=title, message=message), code

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if exc.code is None or exc.code >= 500:
            return page(500, "Something went wrong", "The server could not show this page.")
        return page(exc.code, exc.name, exc.description or "")

    @app.errorhandler(StoreError)
    def store_error(exc: StoreError):  # type: ignore[no-untyped-def]
        log.error("store error on %s: %s", request.path, exc)
        return page(503, "The database is not available", str(exc))

    @app.errorhandler(sqlite3.DatabaseError)
    def database_error(exc: sqlite3.DatabaseError):  # type: ignore[no-untyped-def]
        # Locked for too long, damaged, gone: the operator's business, told in one line.
        message = store_error_message(exc, app.extensions["tracker"].db_path)
        log.error("database error on %s: %s", request.path, message)
        return page(503, "The database is not available", message)

    @app.errorhandler(TrackerError)
    def tracker_error(exc: TrackerError):  # type: ignore[no-untyped-def]
        # A library refusal (a hidden revision's text, an impossible pair): the user's ask.
        return page(409, "This cannot be shown", str(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        # Logged in full for the operator; the browser gets a page without the traceback.
        log.exception("error on %s", request.path)
        return page(
            InternalServerError.code,
            "Something went wrong",
            "The server could not show this page; the error is in its log.",
        )
