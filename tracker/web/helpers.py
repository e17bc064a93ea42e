"""Small pieces shared by the views: query parameters, safe links, display formats."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import quote, urlencode, urlparse

from flask import abort, current_app, request
from markupsafe import Markup

from tracker.model import index_url, parse_stamp
from tracker.model import is_bot as edit_is_bot
from tracker.store import Store
from tracker.store.encoding import decode_tags
from tracker.text import summary as text_summary
from tracker.text.display import section_label

SQLITE_MAX_INT = 2**63 - 1
# MediaWiki has no bot flag on revisions; a user name ending in "bot" is the convention
# (Wikipedia's bot policy asks for it), and the tags list may carry one too.


def store() -> Store:
    """The read-only store of this thread (see create_app)."""
    return current_app.extensions["tracker"].store()


def int_arg(
    name: str, default: int | None = None, *, low: int = 1, high: int = SQLITE_MAX_INT
) -> int | None:
    """An integer query parameter, or a 400 naming the parameter and what is valid."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"\d{1,19}", raw.strip()):
        abort(400, f"the parameter {name!r} must be a whole number, not {raw[:40]!r}")
    value = int(raw.strip())
    if not low <= value <= high:
        abort(400, f"the parameter {name!r} must be between {low} and {high}")
    return value


def choice_arg(name: str, choices: tuple[str, ...], default: str) -> str:
    raw = request.args.get(name) or default
    if raw not in choices:
        abort(400, f"the parameter {name!r} must be one of: {', '.join(choices)}")
    return raw


def safe_url(url: str | None) -> str | None:
    """The URL when it is http(s); anything else (javascript:, data:...) is dropped."""
    if not url:
        return None
    parsed = urlparse(url.strip())
    if parsed.scheme in ("http", "https") and parsed.netloc:
        return url.strip()
    return None


def wiki_script_url(page: dict) -> str | None:
    """index.php of a page's wiki (None for snapshot wikis), for links to the wiki itself.

    ``page``: a row with the wiki's ``wiki`` (name) and ``api_url``; the config's index_url
    wins over the one derived from api_url.
    """
    configured = current_app.extensions["tracker"].index_urls.get(page.get("wiki"))
    if configured:
        return safe_url(configured)
    derived = index_url(page.get("api_url"))
    return safe_url(derived) if derived else None


def wiki_link(wiki: dict, **params: object) -> str | None:
    base = wiki_script_url(wiki)
    if base is None:
        return None
    return f"{base}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def user_link(wiki: dict, user: str | None) -> str | None:
    if not user:
        return None
    return wiki_link(wiki, title=f"Special:Contributions/{user}")


def page_link(wiki: dict, title: str) -> str | None:
    base = wiki_script_url(wiki)
    return f"{base}?title={quote(title.replace(' ', '_'))}" if base else None


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parse_stamp(value)
    except ValueError:
        return None


def fmt_time(value: str | None) -> str:
    """ISO 8601 UTC -> "2023-01-14 09:30" (UTC; the <time> element keeps the exact value)."""
    moment = parse_time(value)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else (value or "")


def summary_html(row: dict, page: dict | None = None) -> Markup:
    """A revision's summary as MediaWiki shows it (tracker.text.summary): section and
    wiki links to ``page``'s wiki, or their labels alone without a page or a wiki URL."""
    comment = row.get("comment")
    if page is None:
        return text_summary.summary_html(comment, lambda title: None, "")
    site = store().site_info(page["wiki_id"]) if page.get("wiki_id") else None
    return text_summary.summary_html(
        comment, lambda title: page_link(page, title), page["title"], site
    )


def summary_text(row: dict) -> str:
    """A revision's summary as plain text ("→ Section: rest"), for feed titles."""
    return text_summary.summary_text(row.get("comment"))


def tags_of(row: dict) -> list[str]:
    try:
        return [str(t) for t in decode_tags(row.get("tags"))]
    except ValueError:  # a damaged value shows no tags
        return []


def is_bot(row: dict) -> bool:
    return edit_is_bot(row.get("user"), tags_of(row))


def signed(value: int | None) -> str:
    if value is None:
        return "?"  # a size the wiki hides
    return f"+{value:,}" if value > 0 else (f"−{-value:,}" if value < 0 else "0")


def path_label(path: list[str] | tuple[str, ...] | None) -> str:
    if path is None:
        return ""
    return section_label(path)
