"""The pages list (/), with the watch sets, and a page's revision history
(/wiki/<wiki>/<title>)."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, current_app, render_template
from werkzeug.wrappers import Response

from tracker.history import size_change
from tracker.model import utc_stamp
from tracker.store import Store
from tracker.text.display import LEAD
from tracker.web.helpers import int_arg, moved, page_at, parse_time, store
from tracker.web.sets import watch_sets

bp = Blueprint("pages", __name__)

PER_PAGE = 50
INDEX_PAGES = 200  # pages the pages list shows, those changed last first when there are more
CHART_WEEKS = 26
# Labels shown per revision in the history before "+N more": the first revision of a
# page adds every section and would otherwise fill the row.
MAX_LABELS = 5


@bp.route("/")
def index() -> str:
    db = store()
    now = current_app.extensions["tracker"].clock()
    rows = db.pages_with_watches()
    wikis = [*current_app.extensions["tracker"].index_urls, *(row["wiki"] for row in rows)]
    hidden = 0
    if len(rows) > INDEX_PAGES:
        # A watch set of thousands of pages: the pages changed last here, the rest on their
        # sets' pages and through search.
        latest = db.latest_change_times()
        rows = sorted(rows, key=lambda row: latest.get(row["id"]) or "", reverse=True)
        hidden, rows = len(rows) - INDEX_PAGES, rows[:INDEX_PAGES]
    return render_template(
        "index.html",
        pages=[page_summary(db, row, now) for row in rows],
        hidden=hidden,
        sets=watch_sets(db, wikis),
        now=now,
    )


def page_summary(db: Store, page: dict, now: datetime) -> dict:
    """Last change, editors, recent edit counts and a weekly activity chart of one page."""
    pid = page["id"]
    day7, day30 = (utc_stamp(now - timedelta(days=d)) for d in (7, 30))
    counts = db.activity_counts(pid, day7, day30)
    last = db.latest_revision(pid)
    return {"page": page, "last": last, **counts, "chart": activity_chart(db, pid, now, last)}


def activity_chart(db: Store, page_id: int, now: datetime, last: dict | None) -> dict:
    """Edits per week for CHART_WEEKS weeks up to now, or up to the last edit when the page
    has been quiet for longer (so a page imported from an old export still shows its shape)."""
    end = now
    last_time = parse_time(last["timestamp"]) if last else None
    if last_time is not None and last_time < now - timedelta(weeks=CHART_WEEKS):
        end = last_time + timedelta(days=1)
    start = end - timedelta(weeks=CHART_WEEKS)
    weeks = [0] * CHART_WEEKS
    for stamp in db.revision_times(page_id, utc_stamp(start), utc_stamp(end)):
        moment = parse_time(stamp)
        if moment is not None:
            weeks[min(CHART_WEEKS - 1, (moment - start).days // 7)] += 1
    top = max(weeks) or 1
    bars = [
        {
            "x": i * 6,
            "h": max(1, round(28 * n / top)) if n else 0,
            "n": n,
            "week": (start + timedelta(weeks=i)).strftime("%Y-%m-%d"),
        }
        for i, n in enumerate(weeks)
    ]
    return {
        "bars": bars,
        "start": start.strftime("%Y-%m-%d"),
        "end": end.strftime("%Y-%m-%d"),
        "total": sum(weeks),
        "width": CHART_WEEKS * 6,
    }


@bp.route("/page/<int:page_id>")
def old_history(page_id: int) -> Response:
    """The history's former URL, by row id."""
    return moved("pages.history", page_id)


@bp.route("/wiki/<wiki>/<title:title>")
def history(wiki: str, title: str) -> str:
    page = page_at(wiki, title)
    page_id = page["id"]
    per = int_arg("per", PER_PAGE, low=10, high=500)
    number = int_arg("page", 1)
    assert per is not None and number is not None
    db = store()
    total = db.revision_count(page_id)
    pages = max(1, -(-total // per))
    if number > pages:
        abort(
            404, f"This history has {pages} page(s) of {per} revisions; there is no page {number}."
        )
    # One row more than shown: the size change of the oldest row needs its predecessor.
    rows = db.newest_revisions(page_id, per + 1, (number - 1) * per)
    shown = rows[:per]
    for row, older in zip(shown, rows[1:] + [None], strict=False):
        row["delta"] = size_change(row["size"], older["size"] if older else 0)
        row["labels"] = []
    first = db.first_revision(page_id)
    first_id = first["id"] if first else None
    _attach_section_labels(db, shown, first_id)
    return render_template(
        "history.html",
        page=page,
        revisions=shown,
        number=number,
        pages=pages,
        per=per,
        total=total,
        first_id=first_id,
    )


def _attach_section_labels(db: Store, rows: list[dict], first_id: int | None) -> None:
    by_id = {row["id"]: row for row in rows}
    if not by_id:
        return
    for change in db.section_changes(list(by_id)):
        row = by_id[change["rev_id"]]
        if row["id"] == first_id:
            continue  # the first revision adds every section: "created" says it
        path = change["path"]
        row["labels"].append(
            {
                "id": change["section_id"],
                "name": path[-1] if path else LEAD,
                "path": path,
                "kinds": change["kinds"],
            }
        )
    for row in rows:
        labels = row["labels"]
        row["more_labels"] = max(0, len(labels) - MAX_LABELS)
        row["labels"] = labels[:MAX_LABELS]
