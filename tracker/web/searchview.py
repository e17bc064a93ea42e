"""Phrase search (/search): which revisions contain a phrase, and when it came and went."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request
from werkzeug.wrappers import Response

from tracker.store.search import has_index, index_lag
from tracker.web.helpers import choice_arg, int_arg, moved, page_at, store
from tracker.web.search import MAX_QUERY_CHARS, phrase_query, search

bp = Blueprint("search", __name__)

MAX_PAGES = 100


@bp.route("/search")
def search_page() -> str | Response:
    text = request.args.get("q", "")
    if len(text) > MAX_QUERY_CHARS:
        abort(400, f"A search is at most {MAX_QUERY_CHARS} characters long.")
    match = choice_arg("match", ("phrase", "words"), "phrase")
    old_id = int_arg("page_id")
    if old_id is not None:  # the former form, by row id
        return moved("search.search_page", old_id)
    wiki, title = request.args.get("wiki"), request.args.get("title")
    page = page_at(wiki, title) if wiki and title else None
    page_id = page["id"] if page else None
    db = store()
    # Cheap when nothing is new (two max(id) lookups); indexes what the daemon added since.
    current_app.extensions["tracker"].indexer.catch_up(db)
    results = None
    query = phrase_query(text, match == "words") if text.strip() else None
    if text.strip() and has_index(db):
        results = search(db, query, page_id, snippets=MAX_PAGES) if query else []
    return render_template(
        "search.html",
        q=text,
        match=match,
        page=page,
        results=(results or [])[:MAX_PAGES],
        searched=results is not None,
        more=max(0, len(results or []) - MAX_PAGES),
        no_words=bool(text.strip()) and query is None,
        lag=index_lag(db),
        index_error=current_app.extensions["tracker"].indexer.error,
    )
