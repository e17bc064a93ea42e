"""Alerts: a subscription with ``alert_after`` is told once when one of its wikis, or one of
its watches, has been failing for longer than that, and once when it works again.

What fails is what the poll recorded and `tracker status` shows: a wiki not reachable
(``wikis.unreachable_since``), a watch whose last polls failed (``watches.error_count``; a
watch of a wiki that is down is not told apart from its wiki). A watch fails since the first
of its failed polls in a row (``watches.failing_since``).

A watch set fails when its list cannot be read (``watch_sets.refresh_error``): since its
next reading was due (its last reading plus its ``refresh``; since it was added, if it was
never read). A member page that fails is not alerted on, by itself or through its set: it
shows in the digest ("Last poll failed"), and a wiki down is told as the wiki.

Each check runs in one transaction holding the write lock: it reads what was told
(store.alerts), records the alert as a digest of kind "alert" with one pending delivery per
channel (sent, and retried, as digests are), and writes what it told. Two processes checking
at once, a restart, or a run repeated, tell nothing twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tracker.config import Config, Subscription, Watch
from tracker.digest.channels import channel_keys, formats_needed, templates_of
from tracker.digest.notices import message_id, notice_model
from tracker.digest.render import render_digest
from tracker.model import parse_stamp, utc_stamp
from tracker.store import Store
from tracker.store import alerts as st
from tracker.store import digests as ds


def _watches(config: Config, sub: Subscription) -> list[Watch]:
    """The watches of a subscription: all, or those ``pages`` names by key; a name that is
    no watch's key may be a set's member, so then every set is the subscription's."""
    keys = {w.key for w in config.watches}
    members = any(name not in keys for name in sub.pages)
    return [
        w
        for w in config.watches
        if (sub.wiki is None or w.wiki == sub.wiki)
        and (not sub.pages or w.key in sub.pages or (w.is_set and members))
    ]


def _failures(
    store: Store, config: Config, sub: Subscription, now: datetime
) -> dict[str, dict[str, Any]]:
    """Target key -> what is failing now (``since`` None: since when is not known yet);
    also, with ``failing`` False, the targets that work (or are not told apart now)."""
    out: dict[str, dict[str, Any]] = {}
    down: set[str] = set()
    watches = _watches(config, sub)
    for name in dict.fromkeys(w.wiki for w in watches):
        wiki_id = store.find_wiki_id(name)
        row = store.wiki(wiki_id) if wiki_id is not None else None
        failing = bool(row and row["unreachable_since"])
        if failing:
            down.add(name)
        out[st.target_key("wiki", name)] = {
            "target": "wiki",
            "wiki": name,
            "title": None,
            "failing": failing,
            "since": row["unreachable_since"] if failing and row else None,
            "error": row["last_error"] if failing and row else None,
        }
    for watch in watches:
        key = st.target_key("watch", watch.wiki, watch.key)
        if watch.wiki in down:
            out[key] = {"failing": None}  # its wiki's alert tells it
            continue
        if watch.is_set:
            out[key] = _set_failure(store, watch, now)
            continue
        row = store.watch_state(watch.wiki, watch.title)
        failing = bool(row and row["error_count"])
        out[key] = {
            "target": "watch",
            "wiki": watch.wiki,
            "title": watch.title,
            "failing": failing,
            "since": (row["failing_since"] or row["last_error_at"]) if failing and row else None,
            "error": row["last_error"] if failing and row else None,
        }
    return out


def _set_failure(store: Store, watch: Watch, now: datetime) -> dict[str, Any]:
    row = store.find_watch_set(watch.wiki, watch.key)
    failing = bool(row and row["refresh_error"])
    since = None
    if failing and row:
        if row["refreshed_at"]:
            due = parse_stamp(row["refreshed_at"]) + timedelta(seconds=watch.refresh)
            since = utc_stamp(min(due, now))
        else:
            since = row["added_at"]
    return {
        "target": "watch",
        "wiki": watch.wiki,
        "title": watch.key,
        "failing": failing,
        "since": since,
        "error": row["refresh_error"] if failing and row else None,
    }


def check_alerts(store: Store, config: Config, sub: Subscription, now: datetime) -> int | None:
    """Record the alerts and recoveries of a subscription that are due now, as one notice
    of kind "alert" with its pending deliveries; its digest id, or None when there is
    nothing to tell."""
    if sub.alert_after is None or not st.has_schema(store):
        return None
    stamp = utc_stamp(now)
    with store.atomic():
        told = st.alert_states(store, sub.name)
        notices = []
        current = _failures(store, config, sub, now)
        for key, fact in current.items():
            state = told.get(key)
            if fact["failing"] is None:
                continue
            if not fact["failing"]:
                if state is not None:
                    st.drop_alert_state(store, sub.name, key)
                    if state["alerted_at"]:
                        notices.append(_notice(fact, "recovered", state["failing_since"]))
                continue
            since = state["failing_since"] if state else (fact["since"] or stamp)
            alerted = state["alerted_at"] if state else None
            if not alerted and (now - parse_stamp(since)).total_seconds() >= sub.alert_after:
                notices.append(_notice(fact, "failing", since))
                alerted = stamp
            st.save_alert_state(
                store,
                sub.name,
                key,
                failing_since=since,
                error=fact["error"],
                alerted_at=alerted,
            )
        for key in set(told) - set(current):
            st.drop_alert_state(store, sub.name, key)  # no longer watched: nothing to tell
        if not notices:
            return None
        web = config.web.base_url.rstrip("/") if config.web.base_url else None
        model = notice_model(sub, "alert", notices, now, web)
        outputs = render_digest(model, formats_needed(sub), templates_of(config, sub))
        return ds.record_digest(
            store,
            subscription=sub.name,
            kind="alert",
            created_at=stamp,
            subject=model["subject"],
            message_id=message_id(sub),
            model=model,
            outputs=outputs,
            windows=[],
            channels=[(key, chan.type) for key, chan in channel_keys(sub)],
        )


def _notice(fact: dict[str, Any], state: str, since: str) -> dict[str, Any]:
    return {
        "state": state,
        "target": fact["target"],
        "wiki": fact["wiki"],
        "title": fact["title"],
        "since": since,
        "error": fact["error"] if state == "failing" else None,
    }
