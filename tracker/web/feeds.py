"""The digest archive (/digests) and the Atom feeds (/feeds/...).

Digests come from the digest store (tracker/digest_store.py): each one is shown as its
channels rendered it; the stored HTML goes into a sandboxed frame served with a CSP of its
own (no script at all), the text formats into <pre>. A database without the digest tables
(digests never configured) shows an empty archive.

The page feed is made here from the stored revisions and their section changes. The
subscription feed is the same document the "atom" channel writes (render.render_feed, same
feed and entry ids), made from the digests in the store, so a reader can switch between the
file and the URL without seeing entries twice.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from tracker.digest.channels import redact
from tracker.store import Store
from tracker.web.app import DIGEST_FRAME_CSP
from tracker.web.helpers import SQLITE_MAX_INT, int_arg, load_path, store
from tracker.web.pages import load_page

bp = Blueprint("feeds", __name__)

FEED_ENTRIES = 50
DIGESTS_PER_PAGE = 50
ATOM = "application/atom+xml; charset=utf-8"
# Formats shown as text, in this order; "html" is shown rendered, the rest are internal.
TEXT_FORMATS = ("markdown", "text", "chat", "slack")


def _has_digests(db: Store) -> bool:
    return "digests" in db.db.table_names()


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
    if _has_digests(db):
        where, params = ("WHERE d.subscription = ?", [subscription]) if subscription else ("", [])
        total = db.scalar(f"SELECT count(*) FROM digests d {where}", params) or 0
        rows = db.query(
            "SELECT d.id, d.subscription, d.kind, d.created_at, d.subject, "
            "(SELECT group_concat(v.status) FROM deliveries v WHERE v.digest_id = d.id) "
            f"AS statuses FROM digests d {where} ORDER BY d.id DESC LIMIT ? OFFSET ?",
            [*params, DIGESTS_PER_PAGE, (number - 1) * DIGESTS_PER_PAGE])
        names = [r["subscription"] for r in db.query(
            "SELECT DISTINCT subscription FROM digests ORDER BY subscription")]
    pages = max(1, -(-total // DIGESTS_PER_PAGE))
    if number > pages:
        abort(404, f"The archive has {pages} page(s); there is no page {number}.")
    for row in rows:
        row["statuses"] = _count_statuses(row["statuses"])
    return render_template("digests.html", digests=rows, subscription=subscription,
                           names=names, number=number, pages=pages, total=total)


def _count_statuses(raw: str | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in (raw or "").split(","):
        if status:
            counts[status] = counts.get(status, 0) + 1
    return counts


def load_digest(db: Store, digest_id: int) -> dict:
    row = None
    if _has_digests(db) and digest_id <= SQLITE_MAX_INT:
        row = db.one("SELECT * FROM digests WHERE id = ?", [digest_id])
    if row is None:
        abort(404, f"There is no digest with id {digest_id}.")
    return row


@bp.route("/digests/<int:digest_id>")
def digest(digest_id: int) -> str:
    db = store()
    row = load_digest(db, digest_id)
    outputs = {r["format"]: r["body"] for r in db.query(
        "SELECT format, body FROM digest_outputs WHERE digest_id = ?", [digest_id])}
    windows = db.query(
        "SELECT dp.*, p.title FROM digest_pages dp JOIN pages p ON p.id = dp.page_id "
        "WHERE dp.digest_id = ? ORDER BY p.title", [digest_id])
    deliveries = db.query("SELECT * FROM deliveries WHERE digest_id = ? ORDER BY id",
                          [digest_id])
    secrets = current_app.extensions["tracker"].secrets
    for delivery in deliveries:
        if delivery["last_error"]:
            # Errors are stored without secrets; one an older version stored may hold one.
            delivery["last_error"] = redact(delivery["last_error"], secrets)
    texts = [(fmt, outputs[fmt]) for fmt in TEXT_FORMATS if fmt in outputs]
    return render_template("digest.html", digest=row, windows=windows, deliveries=deliveries,
                           texts=texts, has_html="html" in outputs or "html_body" in outputs)


@bp.route("/digests/<int:digest_id>/html")
def digest_html(digest_id: int) -> Response:
    """The stored HTML of a digest, exactly as delivered, for the sandboxed frame."""
    db = store()
    load_digest(db, digest_id)
    row = db.one("SELECT body FROM digest_outputs WHERE digest_id = ? AND format IN "
                 "('html', 'html_body') ORDER BY format = 'html' DESC LIMIT 1", [digest_id])
    if row is None:
        abort(404, f"Digest {digest_id} has no HTML rendering stored.")
    response = Response(row["body"], mimetype="text/html")
    response.headers["Content-Security-Policy"] = DIGEST_FRAME_CSP
    return response


# --- feeds -----------------------------------------------------------------------------------


@bp.route("/feeds/page/<int:page_id>.atom")
def page_feed(page_id: int) -> Response:
    """The newest revisions of a page, each with the sections it changed."""
    page = load_page(page_id)
    db = store()
    revisions = db.query(
        "SELECT id, revid, timestamp, user, userhidden, comment, commenthidden, minor, tags, "
        "size, revert_of, reverted_by FROM revisions WHERE page_id = ? "
        "ORDER BY timestamp DESC, revid DESC LIMIT ?", [page_id, FEED_ENTRIES])
    changes: dict[int, list[dict]] = {}
    if revisions:
        marks = ",".join("?" * len(revisions))
        for change in db.query(
                "SELECT rev_id, section_id, kinds, path, words_added, words_removed FROM "
                f"section_changes WHERE rev_id IN ({marks}) ORDER BY path",
                [r["id"] for r in revisions]):
            change["path"] = load_path(change["path"])
            change["kinds"] = change["kinds"].split(",")
            changes.setdefault(change["rev_id"], []).append(change)
    entries = []
    for rev in revisions:
        # The entry's HTML is rendered (and escaped) on its own, then escaped once more as
        # the text of <content type="html">, as Atom wants.
        html = render_template("feed_entry.html", page=page, rev=rev,
                               changes=changes.get(rev["id"], []))
        entries.append({"rev": rev, "html": str(html),
                        "id": _urn(f"{page['wiki']}:{page['pageid']}:{rev['revid']}"),
                        "link": absolute("diffview.diff", page_id=page_id, to=rev["revid"])})
    body = render_template(
        "feed.xml", page=page, entries=entries, feed_id=_urn(f"{page['wiki']}:{page['pageid']}"),
        updated=revisions[0]["timestamp"] if revisions else "1970-01-01T00:00:00Z",
        self_url=absolute("feeds.page_feed", page_id=page_id),
        alternate=absolute("pages.history", page_id=page_id))
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
    if _has_digests(db):
        rows = db.query("SELECT * FROM digests WHERE subscription = ? ORDER BY id DESC LIMIT ?",
                        [name, FEED_ENTRIES])
    if not rows:
        abort(404, f"No digest of a subscription named {name!r} is stored.")
    entries = []
    for row in rows:
        body = db.scalar("SELECT body FROM digest_outputs WHERE digest_id = ? AND "
                         "format = 'html_body'", [row["id"]])
        if body is None:
            # Not rendered for a feed when it was delivered: render it now from its model.
            body = render_digest(json.loads(row["model"]), ["html_body"])["html_body"]
        entries.append(FeedEntry(row["id"], row["subject"], row["created_at"],
                                 row["message_id"], body,
                                 absolute("feeds.digest", digest_id=row["id"])))
    return Response(render_feed(entries, title=f"wiki tracker: {name}", subscription=name),
                    mimetype=ATOM)
