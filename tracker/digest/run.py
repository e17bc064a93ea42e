"""Digests: for each subscription, what changed in its pages since its last digest, recorded
and delivered through its channels, each change exactly once per channel.

`deliver_due` is the entry point of `tracker run --once` and of the daemon's digest jobs:

1. for each subscription that is due (on change: always; an interval or a cron schedule,
   in its time zone: when it came round since the last check), `build` the digest of the
   windows after its cursors (model.py) and the pages that joined or left its watch sets
   since its last check (pages.py); the first digest of a subscription says what it
   started tracking;
2. render it in every format its channels need and record it, its cursors, one pending
   delivery per channel and the time of this check, in one transaction, BEFORE sending
   anything;
3. send every pending delivery whose time has come (new ones, failed ones after their
   backoff, ones a crash left unsent), oldest first.

A crash between 2 and 3 leaves pending deliveries that the next run sends; a crash after
a channel accepted a digest and before it was marked sent resends that one digest (with the
same Message-ID, digest id and file name). An empty window sends nothing, unless the
subscription asks for a heartbeat. See digest_store.py for the tables.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tracker.config import Config, Subscription, parse_since
from tracker.digest.alerts import check_alerts
from tracker.digest.channels import (
    CHANNELS,
    FeedEntry,
    Outgoing,
    channel_keys,
    channel_secrets,
    formats_needed,
    templates_of,
)
from tracker.digest.model import (
    Clock,
    Window,
    changes_model,
    followed_sections,
    last_with_text,
    page_window,
    section_title,
    started_model,
)
from tracker.digest.pages import (
    membership_events,
    membership_groups,
    membership_summary,
    subscription_pages,
    tracking_groups,
    tracking_summary,
)
from tracker.digest.render import render_digest
from tracker.digest.secrets import redact
from tracker.errors import CursorMoved
from tracker.history import revision_pair_diff
from tracker.model import parse_stamp, utc_stamp
from tracker.store import Store
from tracker.store import digests as ds
from tracker.text.display import one_line

log = logging.getLogger(__name__)


# --- one digest of a subscription ------------------------------------------------------------


@dataclass
class Built:
    """What `build` found: a digest to record (model set) or only cursors to advance."""

    kind: str | None  # "changes" | "start" | "heartbeat"; None: nothing to send
    model: dict[str, Any] | None
    windows: list[Window]
    # The subscription's last check when it was built: the start of its window of
    # membership events, which `record` closes at the digest's time.
    checked: str | None = None


def _last_checked(store: Store, sub: Subscription) -> str | None:
    run = ds.subscription_run(store, sub.name) if ds.has_schema(store) else None
    return run["last_checked_at"] if run and run["last_checked_at"] else None


def _events_since(
    sub: Subscription, checked: str | None, since: int | datetime | None
) -> str | None:
    """Where the window of membership events starts: ``since`` when it is a time, the
    last check, or ``subscription.since`` before the first; None (no events): the first
    digest, which says what it started tracking."""
    if isinstance(since, datetime):
        return utc_stamp(since)
    if checked is not None:
        return checked
    if sub.since is not None:
        start = parse_since(sub.since, sub.timezone)
        return utc_stamp(start) if isinstance(start, datetime) else None
    return None


def build(
    store: Store,
    config: Config,
    sub: Subscription,
    *,
    now: datetime,
    since: int | datetime | None = None,
) -> Built:
    """The digest of a subscription's pages since their cursors (or since ``since``)."""
    clock = Clock(ZoneInfo(sub.timezone), now)
    current = ds.cursors(store, sub.name)
    checked = _last_checked(store, sub)
    events_since = _events_since(sub, checked, since)
    windows: list[Window] = []
    errors: list[str] = []
    for ref in subscription_pages(store, config, sub, events_since):
        cursor = current.get(ref.page["id"]) if ref.page else None
        start = since
        if start is None and cursor is None and sub.since is not None:
            # The subscription asks for changes since a point rather than a summary.
            start = parse_since(sub.since, sub.timezone)
        window = page_window(store, ref, cursor, start)
        if window is None or (not window.rows and not window.new_page):
            if ref.error:
                errors.append(f"{ref.wiki.name}: {ref.title}: {ref.error}")
            continue
        if ref.left and window.new_page:
            continue  # it left its set before it was ever told: nothing to start tracking
        if window.new_page:
            titles = None
            if sub.sections:
                window.sections = followed_sections(store, sub, window, [])
                titles = _section_titles(store, window)
            window.model = started_model(store, config, window, clock, titles)
        else:
            window.model = changes_model(store, config, sub, window, clock)
        windows.append(window)
    entries = [(w.ref, w.model) for w in windows if w.model is not None]
    shown = [model for _ref, model in entries]
    membership = []
    if events_since is not None:
        membership = membership_events(store, config, sub, events_since, utc_stamp(now))
        for event in membership:
            event["time"] = clock.local(event["at"])
    if shown and all(p["started"] for p in shown) and not membership:
        kind = "start"
    elif shown or membership:
        kind = "changes"
    elif sub.heartbeat:
        kind = "heartbeat"
    else:
        return Built(None, None, windows, checked)
    starts = [
        w.start["timestamp"] for w in windows if w.start and w.model and not w.model["started"]
    ]
    ends = [p["to"]["timestamp"] for p in shown if p["to"]]
    if kind == "heartbeat" and not starts:
        starts = [checked] if checked else []
    if membership and not starts and not ends and events_since is not None:
        # Only pages joining or leaving: the window is that of the events.
        starts, ends = [events_since], [membership[-1]["at"]]
    counts = {
        key: sum(p["counts"][key] for p in shown)
        for key in ("edits", "bytes_added", "bytes_removed", "sections", "reverted", "filtered")
    }
    counts["editors"] = len({r["user"] for p in shown for r in p["revisions"]})
    counts["pages"] = (
        len(shown) if shown else len(windows) or len(subscription_pages(store, config, sub))
    )
    # More than a few pages newly tracked (a category's first digest): one entry per set.
    tracking = tracking_groups(entries, config.web.base_url)
    # More than a few pages joining or leaving (a bot filling a category): one entry per
    # set and event; `membership` still holds every event for the webhook's consumers.
    joins = membership_groups(membership, config.web.base_url)
    for group in joins:
        group["time"] = clock.span(group["first"], group["last"])
    model = {
        "subscription": sub.name,
        "kind": kind,
        "generated_at": utc_stamp(now),
        "generated_local": clock.local(now),
        "timezone": sub.timezone,
        "since": clock.local(min(starts)) if starts else None,
        "until": clock.local(max(ends)) if ends else None,
        "counts": counts,
        "pages": tracking.pages,
        # The pages newly tracked per watch set, when too many to list (pages.Tracking).
        "tracking": tracking.groups,
        # Pages that joined or left a watch set in the window (pages.membership_events).
        "membership": membership,
        # The same, per set and event, when too many to list (pages.membership_groups):
        # the formats show these instead of the list; empty when the list is shown.
        "membership_groups": joins,
        "errors": _few(errors + tracking.errors),
        "sections_filter": list(sub.sections),
        "view": sub.view,  # what each changed section shows: "reader", "wikitext" or "both"
        "links": {"web": config.web.base_url.rstrip("/") if config.web.base_url else None},
    }
    model["subject"] = subject(model)
    # The first page listed, else the first set's page in the history browser.
    firsts = [*tracking.pages[:1], *tracking.groups[:1], *shown[:1], *joins[:1], *membership[:1]]
    model["link"] = next(
        (
            links[key]
            for links in (item["links"] for item in firsts)
            for key in ("web_diff", "wiki_diff", "web_page", "wiki_page", "web_set")
            if links.get(key)
        ),
        None,
    )
    return Built(kind, model, windows, checked)


MAX_ERRORS = 20  # failed pages named in a digest (a set of thousands on a wiki that is down)


def _few(errors: list[str]) -> list[str]:
    if len(errors) <= MAX_ERRORS:
        return errors
    more = len(errors) - MAX_ERRORS
    return [*errors[:MAX_ERRORS], f"and {more} more page{'s' * (more != 1)} whose last poll failed"]


def _section_titles(store: Store, window: Window) -> list[str]:
    last = last_with_text(store, window)
    if last is None or not window.sections:
        return []
    diff = revision_pair_diff(store, None, last)["sections"]
    return [section_title(s["path"]) for s in diff if s["id"] in set(window.sections)]


def subject(model: dict[str, Any]) -> str:
    """The one-line summary: e-mail subject, feed entry title, chat headline."""
    name, pages, counts = model["subscription"], model["pages"], model["counts"]
    if model["kind"] == "heartbeat":
        return f"{name}: nothing changed"
    groups = model.get("tracking") or []
    what = pages[0]["title"] if len(pages) == 1 else f"{len(pages)} pages"
    if groups:
        what = tracking_summary(groups, len(pages), counts["pages"])
    elif len(pages) == 1 and pages[0].get("used_by"):
        what += f" (used by {_watched_pages(pages[0]['used_by']['count'])})"
    if model["kind"] == "start":
        revisions = sum(p["revision_count"] or 0 for p in pages)
        revisions += sum(group["revisions"] for group in groups)
        number = f"{revisions:,}" if groups else str(revisions)  # small digests: as before
        return f"{name}: now tracking {what} ({number} revision{'s' * (revisions != 1)})"
    membership = model.get("membership") or []
    edits, sections = counts["edits"], counts["sections"]
    if membership and not (edits or sections):
        return f"{name}: {membership_summary(membership)}"
    line = (
        f"{name}: {what}: {edits} edit{'s' * (edits != 1)}, "
        f"{sections} section{'s' * (sections != 1)} changed"
    )
    return f"{line}; {membership_summary(membership)}" if membership else line


def _watched_pages(count: int) -> str:
    return f"{count} watched page{'s' * (count != 1)}"


# --- channels of a subscription ----------------------------------------------------------------


def _message_id(sub: Subscription) -> str:
    # Made once when the digest is recorded and stored with it: every retry, and a resend
    # after a crash, carries the same Message-ID, so mail clients show it once.
    # Short enough (<= 66 characters) that the header is never folded.
    slug = re.sub(r"[^A-Za-z0-9-]+", "-", sub.name).strip("-")[:20] or "digest"
    return f"<{secrets.token_hex(8)}.{slug}@wiki-tracker.invalid>"


def record(
    store: Store, config: Config, sub: Subscription, built: Built, now: datetime
) -> int | None:
    """Render and record a built digest with its pending deliveries, and mark the
    subscription checked, in one transaction; None if nothing to send (the cursors still
    move past what the window held). CursorMoved when another process checked the
    subscription or moved a cursor since `build`: the window of membership events,
    (last check, now], is told once."""
    windows = [w.record() for w in built.windows]
    outputs = None
    if built.model is not None and built.kind is not None:
        outputs = render_digest(built.model, formats_needed(sub), templates_of(config, sub))
    stamp = utc_stamp(now)
    with store.atomic():
        if _last_checked(store, sub) != built.checked:
            raise CursorMoved(f"{sub.name}: checked by another process meanwhile")
        digest_id = None
        if built.model is None or built.kind is None or outputs is None:
            if windows:
                ds.advance_cursors(store, sub.name, windows, stamp)
        else:
            digest_id = ds.record_digest(
                store,
                subscription=sub.name,
                kind=built.kind,
                created_at=stamp,
                subject=built.model["subject"],
                message_id=_message_id(sub),
                model=built.model,
                outputs=outputs,
                windows=windows,
                channels=[(key, chan.type) for key, chan in channel_keys(sub)],
            )
        ds.mark_checked(store, sub.name, stamp)
    return digest_id


# --- when a digest is due ----------------------------------------------------------------------


def is_due(store: Store, sub: Subscription, now: datetime) -> bool:
    """On change: always. An interval: when it has passed since the last check. Cron: when
    a fire time (in the subscription's time zone) came since the last check. A little slack
    keeps a daemon timer that fires early from skipping a whole period."""
    schedule = sub.parsed_schedule
    state = ds.subscription_run(store, sub.name)
    if schedule.kind == "on change" or state is None or not state["last_checked_at"]:
        return True
    last = parse_stamp(state["last_checked_at"])
    if schedule.kind == "interval":
        slack = min(60.0, schedule.seconds * 0.1)
        return (now - last).total_seconds() + slack >= schedule.seconds
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(schedule.cron, timezone=ZoneInfo(sub.timezone))
    fire = trigger.get_next_fire_time(None, last + timedelta(seconds=1))
    return fire is not None and fire <= now + timedelta(seconds=60)


# --- the run -------------------------------------------------------------------------------------


@dataclass
class DigestRun:
    """What a digest run did, as data: the deliveries made, the failures, the digests
    recorded; `lines` is the same as text for a terminal (failures start with "error:")."""

    delivered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    recorded: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        message = one_line(message)
        self.lines.append(f"error: {message}")
        self.errors.append(message)

    def done(self, line: str) -> None:
        # Printed by the CLI, logged by the daemon: the wiki's text in it is shown, not obeyed.
        line = one_line(line)
        self.lines.append(line)
        self.delivered.append(line)


def run_digests(
    store: Store,
    config: Config,
    *,
    now: datetime | None = None,
    names: list[str] | None = None,
    force: bool = False,
    since: int | datetime | None = None,
) -> DigestRun:
    """Record the due digests of the subscriptions (all, or ``names``), then send every
    pending delivery. ``force`` ignores schedules (`tracker digest`); one failing
    subscription or channel never stops the others."""
    now = now or datetime.now(UTC)
    run = DigestRun()
    subs = [s for s in config.subscriptions if names is None or s.name in names]
    for sub in subs:
        # Alerts do not wait for a schedule: a failing wiki is told on the first run after
        # ``alert_after``, whenever the subscription's digest is due.
        try:
            alert_id = check_alerts(store, config, sub, now)
        except Exception as exc:  # noqa: BLE001 - reported, and the digests go on
            log.debug("alerts of %s failed", sub.name, exc_info=True)
            run.fail(f"{sub.name}: the alerts could not be checked: {redact(_one_line(exc))}")
        else:
            if alert_id is not None:
                run.recorded.append(alert_id)
    for sub in subs:
        try:
            if not (force or is_due(store, sub, now)):
                continue
            built = build(store, config, sub, now=now, since=since)
            digest_id = record(store, config, sub, built, now)
        except CursorMoved:
            log.info("%s: another process recorded this window first", sub.name)
            continue
        except Exception as exc:  # noqa: BLE001 - reported, and the other subscriptions go on
            log.debug("digest of %s failed", sub.name, exc_info=True)
            run.fail(f"{sub.name}: the digest could not be made: {redact(_one_line(exc))}")
            continue
        if digest_id is not None:
            run.recorded.append(digest_id)
    send_due(store, config, now=now, names=[s.name for s in subs], run=run)
    return run


def deliver_due(
    store: Store, config: Config, *, now: datetime | None = None, names: list[str] | None = None
) -> list[str]:
    """`tracker run --once` and the daemon: record and deliver what is due; one line per
    digest delivered or failed (failures start with "error:")."""
    return run_digests(store, config, now=now, names=names).lines


def send_due(
    store: Store,
    config: Config,
    *,
    now: datetime,
    names: list[str] | None = None,
    run: DigestRun | None = None,
) -> DigestRun:
    """Send each pending delivery whose next attempt has come, oldest digest first."""
    run = run or DigestRun()
    subs = {s.name: s for s in config.subscriptions}
    for delivery in ds.due_deliveries(store, utc_stamp(now), names):
        sub = subs.get(delivery["subscription"])
        chan = dict(channel_keys(sub)).get(delivery["channel"]) if sub else None
        if sub is None or chan is None or chan.type not in CHANNELS:
            continue  # its subscription or channel left the config: kept, shown by status
        retry_at = utc_stamp(now + timedelta(seconds=ds.backoff(delivery["attempts"] + 1)))
        if not ds.claim(store, delivery, utc_stamp(now), retry_at):
            continue  # another process is sending it
        row = ds.digest(store, delivery["digest_id"])
        assert row is not None
        spec = CHANNELS[chan.type]
        where = f"{sub.name}: digest {row['id']} via {delivery['channel']}"
        try:
            detail = spec.send(
                outgoing(store, config, sub, delivery["channel"], row), spec.options(chan.options)
            )
        except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
            # Stored, printed, logged and shown by status and the web UI: never a secret.
            message = redact(_one_line(exc))
            ds.mark_failed(store, delivery["id"], message)
            run.fail(
                f"{where} failed (attempt {delivery['attempts'] + 1}, next at "
                f"{retry_at}): {message}"
            )
            continue
        ds.mark_sent(store, delivery["id"], utc_stamp(now), detail)
        run.done(f"{where}: {row['subject']} -> {detail}")
    return run


def outgoing(store: Store, config: Config, sub: Subscription, channel: str, row: dict) -> Outgoing:
    """A recorded digest as a channel gets it (``row``: as `digests.digest` reads it)."""
    model = row["model"]
    outputs = ds.outputs(store, row["id"])

    def history(limit: int) -> list[FeedEntry]:
        return feed_entries(store, sub.name, channel, limit)

    return Outgoing(
        row["id"],
        sub.name,
        row["kind"],
        row["subject"],
        row["created_at"],
        row["message_id"],
        outputs,
        model | {"link": _entry_link(model, row["id"])},
        config.base_dir,
        sub.formats,
        templates_of(config, sub),
        history,
    )


def feed_entries(store: Store, subscription: str, channel: str, limit: int) -> list[FeedEntry]:
    """The newest digests delivered to a channel, as its Atom feed keeps them."""
    return [
        FeedEntry(
            r["id"],
            r["subject"],
            r["created_at"],
            r["message_id"],
            r["html_body"],
            _entry_link(r["model"], r["id"]),
        )
        for r in ds.sent_entries(store, subscription, channel, limit)
    ]


def _entry_link(model: dict[str, Any], digest_id: int) -> str | None:
    """The digest in the history browser when its URL is configured, else its first diff."""
    web = (model.get("links") or {}).get("web")
    return f"{web}/digests/{digest_id}" if web else model.get("link")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or exc.__class__.__name__


# --- status ----------------------------------------------------------------------------------


def delivery_status(store: Store, config: Config) -> list[dict[str, Any]]:
    """One record per configured subscription channel (for `tracker status`): counts by
    status, the last delivery, the last error and when the next attempt is due."""
    records = []
    has = ds.has_schema(store)
    for sub in config.subscriptions:
        run = ds.subscription_run(store, sub.name) if has else None
        for key, chan in channel_keys(sub):
            summary = (
                ds.channel_summary(store, sub.name, key)
                if has
                else {"counts": {}, "last": None, "unsent": None}
            )
            last_error = summary["last"]["last_error"] if summary["last"] else None
            if last_error:
                # An error stored by an older version may quote a secret URL or password.
                last_error = redact(last_error, channel_secrets(chan.type, chan.options))
            counts, last, unsent = summary["counts"], summary["last"], summary["unsent"]
            failing = counts.get("failed", 0) + counts.get("sending", 0)
            records.append(
                {
                    "subscription": sub.name,
                    "channel": key,
                    "type": chan.type,
                    "schedule": sub.schedule,
                    "last_checked_at": run["last_checked_at"] if run else None,
                    "sent": counts.get("sent", 0),
                    "pending": counts.get("pending", 0),
                    "failed": failing,
                    "status": "failing"
                    if failing
                    else "pending"
                    if counts.get("pending")
                    else "ok"
                    if counts.get("sent")
                    else "nothing sent yet",
                    "last_sent_at": last["sent_at"] if last else None,
                    "last_error": last_error,
                    "next_attempt": unsent["next"] if unsent and unsent["next"] else None,
                    "attempts": unsent["attempts"] if unsent and unsent["attempts"] else 0,
                }
            )
    return records


def status_lines(records: list[dict[str, Any]]) -> list[str]:
    """`tracker status` text for delivery_status records."""
    lines = []
    for rec in records:
        line = (
            f"digest {rec['subscription']} -> {rec['channel']} ({rec['type']}): "
            f"{rec['status']}, {rec['sent']} sent"
        )
        if rec["pending"] or rec["failed"]:
            line += (
                f", {rec['pending'] + rec['failed']} waiting (next attempt "
                f"{rec['next_attempt']}, {rec['attempts']} attempts)"
            )
        if rec["last_error"]:
            line += f"; last error: {rec['last_error']}"
        lines.append(line)
    return lines
