"""One revision (/rev/<wiki>/<title>/<revid>) and one section's own history (/section/...)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from werkzeug.wrappers import Response

from tracker.store import Store
from tracker.text.sections import split
from tracker.web.helpers import SQLITE_MAX_INT, int_arg, moved, page_at, store

bp = Blueprint("revisions", __name__)

SECTION_PER_PAGE = 50


def load_revision(page_id: int, revid: int) -> dict:
    """A stored revision of this page, or the 404 page."""
    row = None
    if revid <= SQLITE_MAX_INT:
        row = store().page_revision(page_id, revid)
    if row is None:
        abort(404, f"Revision {revid} is not a stored revision of this page.")
    return row


def neighbours(db: Store, page_id: int, revid: int) -> tuple[int | None, int | None]:
    """The revids stored right before and right after ``revid`` in history order."""
    row = db.page_revision(page_id, revid)
    if row is None:
        return None, None
    older, newer = db.revision_before(row), db.revision_after(row)
    return (older["revid"] if older else None), (newer["revid"] if newer else None)


def revision_sections(db: Store, rev: dict) -> list[dict]:
    """The sections of a stored revision: stable id, level, path, text, in document order."""
    layout = db.revision_layout(rev["id"])
    texts = [db.blob(blob_id) for _, blob_id in layout]
    if rev["content_model"] != "wikitext":
        return [
            {"id": sid, "level": 0, "depth": 0, "path": [], "heading": "", "text": text}
            for (sid, _), text in zip(layout, texts, strict=True)
        ]
    site = db.site_info(rev["wiki_id"])
    parts = split("".join(texts), site=site)
    if len(parts) == len(layout):
        return [
            {
                "id": sid,
                "level": part.level,
                "heading": part.heading,
                "path": list(part.path),
                "depth": len(part.path),
                "text": text,
            }
            for (sid, _), part, text in zip(layout, parts, texts, strict=True)
        ]
    # The splitter changed since this revision was stored: keep the stored sections (their
    # ids are what section histories follow) and take each one's heading from its own text.
    out = []
    stack: list[dict] = []
    for (sid, _), text in zip(layout, texts, strict=True):
        pieces = split(text, site=site)
        head = pieces[-1]
        path: list[str] = []
        if head.level:
            while stack and stack[-1]["level"] >= head.level:
                stack.pop()
            path = (stack[-1]["path"] if stack else []) + [head.heading]
        section = {
            "id": sid,
            "level": head.level,
            "heading": head.heading,
            "text": text,
            "path": path,
            "depth": len(path),
        }
        if head.level:
            stack.append(section)
        out.append(section)
    return out


@bp.route("/rev/<int:page_id>/<int:revid>")
def old_revision(page_id: int, revid: int) -> Response:
    return moved("revisions.revision", page_id, revid=revid)


@bp.route("/rev/<wiki>/<title:title>/<int:revid>")
def revision(wiki: str, title: str, revid: int) -> str:
    page = page_at(wiki, title)
    page_id = page["id"]
    rev = load_revision(page_id, revid)
    db = store()
    older, newer = neighbours(db, page_id, revid)
    sections = revision_sections(db, rev) if rev["has_text"] else []
    return render_template(
        "revision.html", page=page, rev=rev, older=older, newer=newer, sections=sections
    )


@bp.route("/section/<int:page_id>/<section_id>")
def old_section_history(page_id: int, section_id: str) -> Response:
    return moved("revisions.section_history", page_id, section_id=section_id)


@bp.route("/section/<wiki>/<title:title>/<section_id>")
def section_history(wiki: str, title: str, section_id: str) -> str:
    page = page_at(wiki, title)
    page_id = page["id"]
    number = int_arg("page", 1)
    assert number is not None
    db = store()
    total = db.section_change_count(page_id, section_id)
    # A section that never changed after it appeared has no changes of its own: it may still be.
    if total == 0 and not db.section_exists(page_id, section_id):
        abort(404, f"This page has no section with id {section_id!r}.")
    pages = max(1, -(-total // SECTION_PER_PAGE))
    if number > pages:
        abort(404, f"This section history has {pages} page(s); there is no page {number}.")
    # One more row than shown: each row's former path is the path of the change before it.
    rows = db.section_history(
        page_id, section_id, SECTION_PER_PAGE + 1, (number - 1) * SECTION_PER_PAGE
    )
    for row, older in zip(rows, rows[1:] + [None], strict=False):
        row["old_path"] = older["path"] if older else None
    current = _current(db, page_id, section_id)
    name = current["path"] if current else (rows[0]["path"] if rows else [])
    return render_template(
        "section.html",
        page=page,
        section_id=section_id,
        name=name,
        changes=rows[:SECTION_PER_PAGE],
        current=current,
        number=number,
        pages=pages,
        total=total,
    )


def _current(db: Store, page_id: int, section_id: str) -> dict | None:
    """The section in the latest revision with text, or None when it is gone."""
    latest = db.latest_revision(page_id, with_text=True)
    if latest is None:
        return None
    for section in revision_sections(db, latest):
        if section["id"] == section_id:
            return {**section, "revid": latest["revid"]}
    return None
