"""The diff view (/diff/<wiki>/<title>?from=REVID&to=REVID): section by section.

The diff itself is the library's (history.revision_pair_diff: worked out from the two texts
and their stored section ids); this module only lays it out.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request
from werkzeug.wrappers import Response

from tracker.history import reader_diffs, revision_pair_diff
from tracker.store import Store
from tracker.text.diff import content
from tracker.text.readerview import invisible_line
from tracker.text.sections import split
from tracker.web.diffrender import SectionView, section_view, semantic_line, with_reader
from tracker.web.helpers import choice_arg, int_arg, moved, page_at, page_url, store
from tracker.web.revisions import load_revision, neighbours

bp = Blueprint("diffview", __name__)


@bp.route("/diff/<int:page_id>")
def old_diff(page_id: int) -> Response:
    return moved("diffview.diff", page_id)


@bp.route("/diff/<wiki>/<title:title>")
def diff(wiki: str, title: str) -> str | Response:
    page = page_at(wiki, title)
    page_id = page["id"]
    from_revid = int_arg("from")
    to_revid = int_arg("to")
    mode = choice_arg("mode", ("inline", "side"), "inline")
    # Reader: the words a reader of the article sees; wikitext: the markup, word by word.
    view = choice_arg("view", ("reader", "wikitext"), "reader")
    db = store()
    if to_revid is not None:
        new = load_revision(page_id, to_revid)
    else:
        new = db.latest_revision(page_id, with_text=True) or abort(
            404, "No revision of this page with text is stored."
        )
    if from_revid is not None:
        old: dict | None = load_revision(page_id, from_revid)
    else:
        # The parent by default: the stored revision before, skipping hidden texts.
        old = db.revision_before(new, with_text=True)
    if old is not None and (old["timestamp"], old["revid"]) > (new["timestamp"], new["revid"]):
        # Picked the wrong way round: the older is always "from".
        pair = {
            "from": new["revid"],
            "to": old["revid"],
            "mode": request.args.get("mode"),
            "view": request.args.get("view"),
        }
        return redirect(page_url("diffview.diff", page, **pair))
    new["title"] = page["title"]
    result = revision_pair_diff(db, old, new)
    views = _views(db, result, old)
    changed = [v for v in views if v.kinds]
    reader_hidden = None
    if view == "reader":
        diffs = reader_diffs(db, old, new, result["sections"])
        changed = [with_reader(v, diffs[v.id]) if v.id in diffs else v for v in changed]
        reader_hidden = invisible_line(diffs.values())
    unchanged = [v for v in views if not v.kinds]
    between = db.span_counts(page_id, old, new)
    older_edit = neighbours(db, page_id, old["revid"])[0] if old else None
    newer_edit = neighbours(db, page_id, new["revid"])[1]
    page_changes = [semantic_line(c) for c in result.get("page") or ()]
    return render_template(
        "diff.html",
        page=page,
        old=old,
        new=new,
        result=result,
        changed=changed,
        page_changes=page_changes,
        unchanged=unchanged,
        mode=mode,
        view=view,
        reader_hidden=reader_hidden,
        between=between,
        older_edit=older_edit,
        newer_edit=newer_edit,
        consecutive=between["revisions"] <= 1 and old is not None,
    )


def _views(db: Store, result: dict, old: dict | None) -> list[SectionView]:
    """Each section's layout, with the old content its word operations point into."""
    contents: dict[str, str] = {}
    if old is not None and any("edited" in s["kinds"] for s in result["sections"]):
        # The stored layout is split(old text), in order: pair ids with sections.
        text = db.revision_text(old["id"]) or ""
        sections = split(text, site=db.site_info(old["wiki_id"]))
        for section_id, section in zip(db.section_ids(old["id"]), sections, strict=False):
            contents[section_id] = content(section)
    return [section_view(s, contents.get(s["id"])) for s in result["sections"]]
