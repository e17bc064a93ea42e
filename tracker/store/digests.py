"""The digests and their deliveries: reads and writes (the tables: schema.py, 010_digests).

Nothing lost, nothing twice, and how:

- ``subscription_cursors`` holds, per subscription and page, the last revision a recorded
  digest covered. Recording a digest moves the cursors with a compare-and-swap (the row must
  still hold the revision the window started from), in the same transaction that inserts the
  digest, its rendered outputs and one *pending* delivery per channel. So a window's changes
  go into exactly one digest, even with a daemon and a `tracker run --once` racing.
- Sending happens after that commit. A delivery is claimed by moving its ``next_attempt``
  past the backoff and marking it ``sending``; success marks it ``sent``; an error marks it
  ``failed`` with the error, retried at ``next_attempt`` by a later run.
- A crash after the commit and before the send leaves ``pending`` deliveries, which the next
  run sends: nothing is lost. A crash after a channel accepted a digest but before ``sent``
  was written sends that one digest again after its backoff: the only duplicate possible,
  and it carries the same Message-ID / digest id / file name so that receivers can drop it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.errors import CursorMoved

if TYPE_CHECKING:  # pragma: no cover
    from tracker.store.db import Store

BACKOFF_BASE = 60.0  # seconds before the first retry; doubled each failure
BACKOFF_CAP = 6 * 3600.0  # never wait longer than this between attempts


def has_schema(store: Store) -> bool:
    """Whether the store has the digest tables (a read-only store of an older version may
    not: its migrations have not run)."""
    return store.has_table("digests")


def backoff(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: 1, 2, 4 ... minutes, capped."""
    return min(BACKOFF_BASE * 2 ** max(0, attempts - 1), BACKOFF_CAP)


# --- cursors and runs ------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    revid: int
    sections: tuple[str, ...] | None  # followed section ids (section subscriptions only)


@dataclass(frozen=True)
class PageWindow:
    """Where a digest's window of one page starts and ends (revids)."""

    page_id: int
    from_revid: int | None  # the cursor it started from (None: the page's first digest)
    to_revid: int
    revisions: int
    sections: tuple[str, ...] | None = None  # followed section ids after this window


def cursors(store: Store, subscription: str) -> dict[int, Cursor]:
    """Page id -> cursor of a subscription (none in a store without digests yet)."""
    if not has_schema(store):
        return {}
    rows = store.query(
        "SELECT page_id, revid, sections FROM subscription_cursors WHERE subscription = ?",
        [subscription],
    )
    return {
        row["page_id"]: Cursor(
            row["revid"],
            tuple(json.loads(row["sections"])) if row["sections"] is not None else None,
        )
        for row in rows
    }


def subscription_run(store: Store, subscription: str) -> dict | None:
    return store.one("SELECT * FROM subscription_runs WHERE subscription = ?", [subscription])


def mark_checked(store: Store, subscription: str, now: str) -> None:
    store.db.execute(
        "INSERT INTO subscription_runs (subscription, started_at, last_checked_at) "
        "VALUES (?, ?, ?) ON CONFLICT (subscription) DO UPDATE SET last_checked_at = ?",
        [subscription, now, now, now],
    )


def _move_cursor(store: Store, subscription: str, window: PageWindow, now: str) -> None:
    sections = json.dumps(list(window.sections)) if window.sections is not None else None
    if window.from_revid is None:
        cursor = store.db.execute(
            "INSERT OR IGNORE INTO subscription_cursors (subscription, page_id, revid, sections,"
            " updated_at) VALUES (?, ?, ?, ?, ?)",
            [subscription, window.page_id, window.to_revid, sections, now],
        )
    else:
        cursor = store.db.execute(
            "UPDATE subscription_cursors SET revid = ?, sections = ?, updated_at = ? "
            "WHERE subscription = ? AND page_id = ? AND revid = ?",
            [window.to_revid, sections, now, subscription, window.page_id, window.from_revid],
        )
    if cursor.rowcount != 1:
        raise CursorMoved(f"{subscription}: page {window.page_id} was digested meanwhile")


def advance_cursors(
    store: Store, subscription: str, windows: Iterable[PageWindow], now: str
) -> None:
    """Move cursors past windows that need no digest (all filtered out, or nothing to say)."""
    with store.atomic():
        for window in windows:
            _move_cursor(store, subscription, window, now)


# --- digests -----------------------------------------------------------------------------------


def record_digest(
    store: Store,
    *,
    subscription: str,
    kind: str,
    created_at: str,
    subject: str,
    message_id: str,
    model: dict[str, Any],
    outputs: dict[str, str],
    windows: Iterable[PageWindow],
    channels: Iterable[tuple[str, str]],
) -> int:
    """Record a digest, move its cursors and queue one delivery per (key, type) channel,
    all in one transaction, BEFORE anything is sent. Raises CursorMoved if another process
    got there first (nothing is written then)."""
    windows = list(windows)
    with store.atomic():
        for window in windows:
            _move_cursor(store, subscription, window, created_at)
        cursor = store.db.execute(
            "INSERT INTO digests (subscription, kind, created_at, subject, message_id, model) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                subscription,
                kind,
                created_at,
                subject,
                message_id,
                json.dumps(model, ensure_ascii=False, separators=(",", ":")),
            ],
        )
        assert cursor.lastrowid is not None
        digest_id = cursor.lastrowid
        store.db.conn.executemany(
            "INSERT INTO digest_pages (digest_id, page_id, from_revid, to_revid, revisions) "
            "VALUES (?, ?, ?, ?, ?)",
            [(digest_id, w.page_id, w.from_revid, w.to_revid, w.revisions) for w in windows],
        )
        store.db.conn.executemany(
            "INSERT INTO digest_outputs (digest_id, format, body) VALUES (?, ?, ?)",
            [(digest_id, fmt, body) for fmt, body in outputs.items()],
        )
        store.db.conn.executemany(
            "INSERT INTO deliveries (digest_id, subscription, channel, channel_type, status, "
            "created_at, next_attempt) VALUES (?, ?, ?, ?, 'pending', ?, ?)",
            [
                (digest_id, subscription, key, kind_, created_at, created_at)
                for key, kind_ in channels
            ],
        )
    return digest_id


def _decoded(row: dict) -> dict:
    row["model"] = json.loads(row["model"])
    return row


def digest(store: Store, digest_id: int) -> dict | None:
    """A recorded digest, its render model (``model``) as a dict."""
    row = store.one("SELECT * FROM digests WHERE id = ?", [digest_id])
    return _decoded(row) if row else None


def outputs(store: Store, digest_id: int) -> dict[str, str]:
    """Format -> body of what was rendered of a digest when it was recorded."""
    rows = store.query("SELECT format, body FROM digest_outputs WHERE digest_id = ?", [digest_id])
    return {row["format"]: row["body"] for row in rows}


def sent_entries(store: Store, subscription: str, channel: str, limit: int) -> list[dict]:
    """The newest digests already delivered to a channel, with their HTML body (Atom)."""
    return [
        _decoded(row)
        for row in store.query(
            "SELECT d.id, d.subject, d.created_at, d.message_id, d.model, o.body AS html_body "
            "FROM deliveries v JOIN digests d ON d.id = v.digest_id "
            "JOIN digest_outputs o ON o.digest_id = d.id AND o.format = 'html_body' "
            "WHERE v.subscription = ? AND v.channel = ? AND v.status = 'sent' "
            "ORDER BY d.id DESC LIMIT ?",
            [subscription, channel, limit],
        )
    ]


# --- deliveries ------------------------------------------------------------------------------


def due_deliveries(
    store: Store, now: str, subscriptions: Iterable[str] | None = None
) -> list[dict]:
    """Deliveries not sent whose next attempt has come, oldest digest first."""
    rows = store.query(
        "SELECT * FROM deliveries WHERE status != 'sent' AND next_attempt <= ? "
        "ORDER BY digest_id, id",
        [now],
    )
    if subscriptions is not None:
        wanted = set(subscriptions)
        rows = [row for row in rows if row["subscription"] in wanted]
    return rows


def claim(store: Store, delivery: dict, now: str, retry_at: str) -> bool:
    """Take a due delivery for one attempt; False if another process took it first.

    The next attempt is set before sending, so that a process dying mid-send leaves a
    delivery that is retried after the backoff rather than stuck in ``sending``.
    """
    with store.atomic():
        cursor = store.db.execute(
            "UPDATE deliveries SET status = 'sending', attempts = attempts + 1, "
            "last_attempt_at = ?, next_attempt = ? WHERE id = ? AND status != 'sent' "
            "AND next_attempt <= ? AND attempts = ?",
            [now, retry_at, delivery["id"], now, delivery["attempts"]],
        )
    return cursor.rowcount == 1


def mark_sent(store: Store, delivery_id: int, now: str, detail: str) -> None:
    with store.atomic():
        store.db.execute(
            "UPDATE deliveries SET status = 'sent', sent_at = ?, detail = ?, last_error = NULL "
            "WHERE id = ?",
            [now, detail, delivery_id],
        )


def mark_failed(store: Store, delivery_id: int, error: str) -> None:
    with store.atomic():
        store.db.execute(
            "UPDATE deliveries SET status = 'failed', last_error = ? WHERE id = ?",
            [error, delivery_id],
        )


def channel_summary(store: Store, subscription: str, channel: str) -> dict[str, Any]:
    """Counts by status and the latest attempt of one channel (for `tracker status`)."""
    counts = {
        row["status"]: row["n"]
        for row in store.query(
            "SELECT status, count(*) AS n FROM deliveries WHERE subscription = ? AND channel = ? "
            "GROUP BY status",
            [subscription, channel],
        )
    }
    last = store.one(
        "SELECT * FROM deliveries WHERE subscription = ? AND channel = ? "
        "ORDER BY COALESCE(last_attempt_at, created_at) DESC, id DESC LIMIT 1",
        [subscription, channel],
    )
    unsent = store.one(
        "SELECT min(next_attempt) AS next, max(attempts) AS attempts FROM deliveries "
        "WHERE subscription = ? AND channel = ? AND status != 'sent'",
        [subscription, channel],
    )
    return {"counts": counts, "last": last, "unsent": unsent}


# --- the archive (the web UI) ------------------------------------------------------------------


def digest_count(store: Store, subscription: str | None = None) -> int:
    """How many digests are recorded (of one subscription, or of all)."""
    where, params = ("WHERE subscription = ?", [subscription]) if subscription else ("", [])
    return int(store.scalar(f"SELECT count(*) FROM digests {where}", params) or 0)


def digest_list(store: Store, subscription: str | None, limit: int, offset: int = 0) -> list[dict]:
    """Recorded digests, newest first (of one subscription, or of all): id, subscription,
    kind, created_at, subject, and ``statuses``, their deliveries counted by status."""
    where, params = ("WHERE d.subscription = ?", [subscription]) if subscription else ("", [])
    rows = store.query(
        "SELECT d.id, d.subscription, d.kind, d.created_at, d.subject, "
        "(SELECT group_concat(v.status) FROM deliveries v WHERE v.digest_id = d.id) "
        f"AS statuses FROM digests d {where} ORDER BY d.id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    for row in rows:
        counts: dict[str, int] = {}
        for status in (row["statuses"] or "").split(","):
            if status:
                counts[status] = counts.get(status, 0) + 1
        row["statuses"] = counts
    return rows


def subscription_names(store: Store) -> list[str]:
    """The subscriptions that have recorded digests, by name."""
    return [
        row[0]
        for row in store.db.execute(
            "SELECT DISTINCT subscription FROM digests ORDER BY subscription"
        )
    ]


def recent_digests(store: Store, subscription: str, limit: int) -> list[dict]:
    """A subscription's newest recorded digests, newest first (``model`` as a dict)."""
    return [
        _decoded(row)
        for row in store.query(
            "SELECT * FROM digests WHERE subscription = ? ORDER BY id DESC LIMIT ?",
            [subscription, limit],
        )
    ]


def digest_windows(store: Store, digest_id: int) -> list[dict]:
    """The pages a digest covered (``digest_pages`` with the page's ``title``), by title."""
    return store.query(
        "SELECT dp.*, p.title FROM digest_pages dp JOIN pages p ON p.id = dp.page_id "
        "WHERE dp.digest_id = ? ORDER BY p.title",
        [digest_id],
    )


def digest_deliveries(store: Store, digest_id: int) -> list[dict]:
    return store.query("SELECT * FROM deliveries WHERE digest_id = ? ORDER BY id", [digest_id])


def html_output(store: Store, digest_id: int) -> str | None:
    """The HTML a digest was delivered as: the whole document, else the feed's body."""
    return store.scalar(
        "SELECT body FROM digest_outputs WHERE digest_id = ? AND format IN "
        "('html', 'html_body') ORDER BY format = 'html' DESC LIMIT 1",
        [digest_id],
    )


def outputs_in(store: Store, digest_ids: list[int], fmt: str) -> dict[int, str]:
    """Digest id -> its stored rendering in one format, for those that have one."""
    if not digest_ids:
        return {}
    marks = ",".join("?" * len(digest_ids))
    return dict(
        store.db.execute(
            "SELECT digest_id, body FROM digest_outputs "
            f"WHERE format = ? AND digest_id IN ({marks})",
            [fmt, *digest_ids],
        ).fetchall()
    )
