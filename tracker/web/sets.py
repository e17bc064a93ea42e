"""Watch sets (/sets/<wiki>/<key>): the pages a set holds, with when each joined, those that
left it and when, and the last reading of its list; the sets of the pages list (/).

A set is named as `tracker watch members KEY --wiki WIKI` names it: ``category:Physics``,
``cascade:<watch>`` (the templates a watch's pages use), the target spelled as MediaWiki
writes titles in URLs (spaces as underscores). A database older than watch sets has none.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from tracker.config import SET_KEYS
from tracker.config.edit import key_spellings
from tracker.store import Store
from tracker.web.helpers import int_arg, store, url_title

bp = Blueprint("sets", __name__)

MEMBERS_PER_PAGE = 500


def watch_sets(db: Store, wikis: list[str]) -> list[dict]:
    """Every stored watch set of these wikis (by name), with its ``wiki`` and ``members``
    (how many now), by wiki and key."""
    if not db.has_table("watch_sets"):
        return []
    found = []
    for name in sorted(set(wikis)):
        wiki_id = db.find_wiki_id(name)
        if wiki_id is not None:
            found += [{**row, "wiki": name} for row in db.wiki_watch_sets(wiki_id)]
    return found


def set_at(wiki: str, key: str) -> dict:
    """The stored set a URL names, or the 404 page. Its target's underscores are spaces,
    as in titles; a target that holds both (written so in config.toml) is found among the
    wiki's sets by its URL form."""
    db = store()
    wiki_id = db.find_wiki_id(wiki) if db.has_table("watch_sets") else None
    if wiki_id is not None:
        for spelling in key_spellings(key):
            row = db.find_watch_set(wiki, spelling)
            if row is not None:
                return {**row, "wiki": wiki}
        for row in db.wiki_watch_sets(wiki_id):
            if url_title(row["key"]) == url_title(key):
                return {**row, "wiki": wiki}
    abort(404, f"There is no stored watch set {key!r} on the wiki {wiki!r}.")


@bp.route("/sets/<wiki>/<title:key>")
def watch_set(wiki: str, key: str) -> str:
    found = set_at(wiki, key)
    rows = store().set_members(found["id"], current=False)
    current = [row for row in rows if row["left_at"] is None]
    left = sorted(
        (row for row in rows if row["left_at"] is not None),
        key=lambda row: (row["left_at"], row["title"]),
        reverse=True,
    )
    pages = max(1, -(-len(current) // MEMBERS_PER_PAGE))
    number = int_arg("page", 1)
    assert number is not None
    if number > pages:
        abort(404, f"This set has {pages} page(s) of members; there is no page {number}.")
    start = (number - 1) * MEMBERS_PER_PAGE
    of = found["key"].removeprefix("cascade:") if found["kind"] == "cascade" else None
    return render_template(
        "set.html",
        set=found,
        members=current[start : start + MEMBERS_PER_PAGE],
        total=len(current),
        left=left,
        number=number,
        pages=pages,
        first=start + 1,
        # A watch's templates: the watch, a set's page or a page's history.
        of=of,
        of_set=of is not None and of.partition(":")[0] in SET_KEYS,
    )
