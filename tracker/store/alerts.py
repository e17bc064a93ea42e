"""What subscriptions' alerts have told (the table: schema.py, 120_subscription_alerts).

One row per subscription and failing target (a wiki, or a watch): since when it fails, its
last error, and when its alert was recorded. The row goes when the target works again (its
recovery recorded in the same transaction), so each outage is told once and its end once,
whatever restarts and runs come between.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from tracker.store.db import Store


def has_schema(store: Store) -> bool:
    return store.has_table("subscription_alerts")


def target_key(kind: str, *names: str) -> str:
    """The stored key of a target: ``["wiki", name]`` or ``["watch", wiki, title]``."""
    return json.dumps([kind, *names], ensure_ascii=False)


def alert_states(store: Store, subscription: str) -> dict[str, dict]:
    """Target key -> its row, for one subscription."""
    if not has_schema(store):
        return {}
    rows = store.query("SELECT * FROM subscription_alerts WHERE subscription = ?", [subscription])
    return {row["target"]: row for row in rows}


def save_alert_state(
    store: Store,
    subscription: str,
    target: str,
    *,
    failing_since: str,
    error: str | None,
    alerted_at: str | None,
) -> None:
    store.db.execute(
        "INSERT INTO subscription_alerts (subscription, target, failing_since, error, "
        "alerted_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (subscription, target) DO UPDATE SET "
        "failing_since = excluded.failing_since, error = excluded.error, "
        "alerted_at = excluded.alerted_at",
        [subscription, target, failing_since, error, alerted_at],
    )


def drop_alert_state(store: Store, subscription: str, target: str) -> None:
    store.db.execute(
        "DELETE FROM subscription_alerts WHERE subscription = ? AND target = ?",
        [subscription, target],
    )
