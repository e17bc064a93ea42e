"""Small pieces shared by the views: query parameters, safe links, display formats."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlparse

from flask import abort, current_app, redirect, request, url_for
from markupsafe import Markup
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response

from tracker.errors import AmbiguousTitle
from tracker.model import index_url, parse_stamp, web_title
from tracker.model import is_bot as edit_is_bot
from tracker.store import Store
from tracker.store.encoding import decode_tags
from tracker.text import summary as text_summary
from tracker.text.display import section_label

SQLITE_MAX_INT = 2**63 - 1


def store() -> Store:
    """The read-only store of this thread (see create_app)."""
    return current_app.extensions["tracker"].store()


# --- pages by wiki and title -------------------------------------------------------------------
# A page's URL names it as `tracker history --wiki WIKI TITLE` does: by its wiki's name and
# its title (MediaWiki's form, spaces as underscores), found by the same store lookup
# (current title first, then former titles). Row ids stay inside the store.


class TitleConverter(BaseConverter):
    """A page title in a URL path: slashes kept (subpages), spaces as underscores as
    MediaWiki writes them; everything else percent-encoded. The view gets the path's
    text as it is (page_at reads the underscores)."""

    part_isolating = False
    regex = ".+?"  # any title, even one starting with "/"
    weight = 200

    def to_url(self, value: str) -> str:
        return web_title(value)


def url_title(title: str) -> str:
    return title.replace(" ", "_")


def page_at(wiki: str, title: str) -> dict:
    """The stored page a URL names, with its wiki, or the 404 page. MediaWiki titles hold
    no underscores (they are spaces), so "A_b" is "A b"; a title that holds both (an
    export made by another tool) is found among the wiki's pages. A former title
    redirects to the page's URL."""
    db = store()
    found = None
    for candidate in dict.fromkeys((title.replace("_", " "), title)):
        try:
            found = db.find_page(candidate, wiki)
        except AmbiguousTitle:  # pragma: no cover - one wiki is named, so no ambiguity
            found = None
        if found is not None:
            break
    if found is None:
        key = url_title(title)
        found = next(
            (
                row
                for row in db.pages_with_watches()
                if row["wiki"] == wiki and url_title(row["title"]) == key
            ),
            None,
        )
    if found is None:
        abort(404, f"There is no stored page titled {title!r} on the wiki {wiki!r}.")
    page = db.page_with_wiki(found["id"])
    assert page is not None
    if url_title(page["title"]) != url_title(title):
        values = {**(request.view_args or {}), "wiki": page["wiki"], "title": page["title"]}
        abort(redirect(url_for(request.endpoint or "pages.history", **values, **query()), 308))
    return page


def query() -> dict[str, Any]:
    """The query parameters of this request, as url_for takes them back."""
    return {
        key: values
        for key, values in request.args.to_dict(flat=False).items()
        if key not in ("wiki", "title", "page_id")
    }


def page_url(endpoint: str, page: dict, **values: Any) -> str:
    """The URL of a view of ``page`` (a row with ``wiki`` and ``title``)."""
    return url_for(endpoint, wiki=page["wiki"], title=page["title"], **values)


def moved(endpoint: str, page_id: int, **values: Any) -> Response:
    """A permanent redirect from an old URL by row id to the page's URL by wiki and title,
    with the query kept; the 404 page when no page has that id."""
    row = store().page_with_wiki(page_id) if page_id <= SQLITE_MAX_INT else None
    if row is None:
        abort(404, f"There is no stored page with id {page_id}.")
    target = url_for(endpoint, wiki=row["wiki"], title=row["title"], **values, **query())
    return redirect(target, 308)


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
    """The one rule (tracker.model.is_bot), with the editor's groups on the wiki as stored."""
    user, wiki_id = row.get("user"), row.get("wiki_id")
    groups = store().user_groups(wiki_id, [user]) if user and wiki_id else None
    return edit_is_bot(user, tags_of(row), groups=groups)


def signed(value: int | None) -> str:
    if value is None:
        return "?"  # a size the wiki hides
    return f"+{value:,}" if value > 0 else (f"−{-value:,}" if value < 0 else "0")


def path_label(path: list[str] | tuple[str, ...] | None) -> str:
    if path is None:
        return ""
    return section_label(path)
