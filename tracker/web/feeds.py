"""The digest archive (/digests) and the Atom feeds (/feeds/...).

Digests come from the digest store (tracker.store.digests): each one is shown as its
channels rendered it; the stored HTML goes into a sandboxed frame served with a CSP of its
own (no script at all), the text formats into <pre>. A database without the digest tables
(digests never configured) shows an empty archive.

The page feed is made here from the stored revisions and their section changes. The
subscription feed is the same document the "atom" channel writes (render.render_feed, same
feed and entry ids), made from the digests in the store, so a reader can switch between the
file and the URL without seeing entries twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from tracker.digest.secrets import redact
from tracker.store import Store
from tracker.store import digests as ds
from tracker.web.helpers import SQLITE_MAX_INT, int_arg, moved, page_at, store

bp = Blueprint("feeds", __name__)

FEED_ENTRIES = 50
DIGESTS_PER_PAGE = 50
ATOM = "application/atom+xml; charset=utf-8"
# Formats shown as text, in this order; "html" is shown rendered, the rest are internal.
TEXT_FORMATS = ("markdown", "text", "chat", "slack")
# A delivered HTML digest is shown as its channel rendered it, with its inline CSS, in a
# sandboxed frame: no script of any origin, no forms, nothing from the network.
DIGEST_FRAME_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "sandbox; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


def absolute(endpoint: str, **values: Any) -> str:
    """A full URL for feeds: the configured web.base_url, else the URL of this request."""
    base = current_app.extensions["tracker"].base_url or request.url_root
    return base.rstrip("/") + url_for(endpoint, **values)


# --- the digest archive ----------------------------------------------------------------------


@bp.route("/digests")
def digests() -> str:
    db = store()
    number = int_arg("page", 1)
    assert number is not None
    subscription = request.args.get("subscription") or None
    rows: list[dict] = []
    total, names = 0, []
    if ds.has_schema(db):
        total = ds.digest_count(db, subscription)
        rows = ds.digest_list(db, subscription, DIGESTS_PER_PAGE, (number - 1) * DIGESTS_PER_PAGE)
        names = ds.subscription_names(db)
    pages = max(1, -(-total // DIGESTS_PER_PAGE))
    if number > pages:
        abort(404, f"The archive has {pages} page(s); there is no page {number}.")
    return render_template(
        "digests.html",
        digests=rows,
        subscription=subscription,
        names=names,
        number=number,
        pages=pages,
        total=total,
    )


def load_digest(db: Store, digest_id: int) -> dict:
    row = None
    if ds.has_schema(db) and digest_id <= SQLITE_MAX_INT:
        row = ds.digest(db, digest_id)
    if row is None:
        abort(404, f"There is no digest with id {digest_id}.")
    return row


@bp.route("/digests/<int:digest_id>")
def digest(digest_id: int) -> str:
    db = store()
    row = load_digest(db, digest_id)
    outputs = ds.outputs(db, digest_id)
    windows = ds.digest_windows(db, digest_id)
    for window in windows:  # the wiki's name too, for links by wiki and title
        window["page"] = db.page_with_wiki(window["page_id"])
    deliveries = ds.digest_deliveries(db, digest_id)
    secrets = current_app.extensions["tracker"].secrets
    for delivery in deliveries:
        if delivery["last_error"]:
            # Errors are stored without secrets; one an older version stored may hold one.
            delivery["last_error"] = redact(delivery["last_error"], secrets)
    texts = [(fmt, outputs[fmt]) for fmt in TEXT_FORMATS if fmt in outputs]
    return render_template(
        "digest.html",
        digest=row,
        windows=windows,
        deliveries=deliveries,
        texts=texts,
        has_html="html" in outputs or "html_body" in outputs,
    )


@bp.route("/digests/<int:digest_id>/html")
def digest_html(digest_id: int) -> Response:
    """The stored HTML of a digest, exactly as delivered, for the sandboxed frame."""
    db = store()
    load_digest(db, digest_id)
    body = ds.html_output(db, digest_id)
    if body is None:
        abort(404, f"Digest {digest_id} has no HTML rendering stored.")
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DIGEST_FRAME_CSP
    return response


# --- feeds -----------------------------------------------------------------------------------


@bp.route("/feeds/page/<int:page_id>.atom")
def old_page_feed(page_id: int) -> BaseResponse:
    return moved("feeds.page_feed", page_id)


@bp.route("/feeds/wiki/<wiki>/<title:title>.atom")
def page_feed(wiki: str, title: str) -> Response:
    """The newest revisions of a page, each with the sections it changed."""
    page = page_at(wiki, title)
    page_id = page["id"]
    db = store()
    revisions = db.newest_revisions(page_id, FEED_ENTRIES)
    changes: dict[int, list[dict]] = {}
    for change in db.section_changes([r["id"] for r in revisions]):
        changes.setdefault(change["rev_id"], []).append(change)
    key = {"wiki": page["wiki"], "title": page["title"]}
    entries = []
    for rev in revisions:
        # The entry's HTML is rendered (and escaped) on its own, then escaped once more as
        # the text of <content type="html">, as Atom wants.
        html = render_template(
            "feed_entry.html", page=page, rev=rev, changes=changes.get(rev["id"], [])
        )
        entries.append(
            {
                "rev": rev,
                "html": str(html),
                "id": _urn(f"{page['wiki']}:{page['pageid']}:{rev['revid']}"),
                "link": absolute("diffview.diff", **key, to=rev["revid"]),
            }
        )
    body = render_template(
        "feed.xml",
        page=page,
        entries=entries,
        feed_id=_urn(f"{page['wiki']}:{page['pageid']}"),
        updated=revisions[0]["timestamp"] if revisions else "1970-01-01T00:00:00Z",
        self_url=absolute("feeds.page_feed", **key),
        alternate=absolute("pages.history", **key),
    )
    return Response(body, mimetype=ATOM)


def _urn(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'wiki-tracker:page:' + key)}"


@bp.route("/feeds/subscription/<name>.atom")
def subscription_feed(name: str) -> Response:
    """A subscription's newest digests: the document its "atom" channel would write."""
    from tracker.digest.channels import FeedEntry
    from tracker.digest.render import render_digest, render_feed

    db = store()
    rows = []
    if ds.has_schema(db):
        rows = ds.recent_digests(db, name, FEED_ENTRIES)
    if not rows:
        abort(404, f"No digest of a subscription named {name!r} is stored.")
    entries = []
    bodies = ds.outputs_in(db, [row["id"] for row in rows], "html_body")
    for row in rows:
        body = bodies.get(row["id"])
        if body is None:
            # Not rendered for a feed when it was delivered: render it now from its model.
            body = render_digest(row["model"], ["html_body"])["html_body"]
        entries.append(
            FeedEntry(
                row["id"],
                row["subject"],
                row["created_at"],
                row["message_id"],
                body,
                absolute("feeds.digest", digest_id=row["id"]),
            )
        )
    feed = render_feed(
        entries,
        title=f"wiki tracker: {name}",
        subscription=name,
        self_url=absolute("feeds.subscription_feed", name=name),
    )
    return Response(feed, mimetype=ATOM)
