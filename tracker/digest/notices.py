"""Notices: short messages through a subscription's channels that are not digests of
changes: a test message (`tracker channel test`) and alerts (alerts.py: a wiki or watch
failing for longer than ``alert_after``, and its recovery).

A notice has a render model as a digest does (``kind`` "test" or "alert", ``notices`` one
record each) and is rendered by its own templates (notice.*.j2), escaped as the digests are;
channels send it as they send a digest.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tracker.config import Config, Subscription
from tracker.digest.channels import CHANNELS, FeedEntry, Outgoing, channel_keys, templates_of
from tracker.digest.model import Clock, humanize
from tracker.digest.render import render_digest
from tracker.digest.secrets import redact
from tracker.errors import UsageError
from tracker.model import parse_stamp, utc_stamp
from tracker.text.display import one_line


def notice_model(
    sub: Subscription, kind: str, notices: list[dict[str, Any]], now: datetime, web: str | None
) -> dict[str, Any]:
    """The render model of a notice (see the module's docstring)."""
    clock = Clock(ZoneInfo(sub.timezone), now)
    for notice in notices:
        if notice.get("since"):
            notice["since_local"] = clock.local(notice["since"])
            notice["duration"] = humanize(
                max(0.0, (now - parse_stamp(notice["since"])).total_seconds())
            )
    model = {
        "subscription": sub.name,
        "kind": kind,
        "generated_at": utc_stamp(now),
        "generated_local": clock.local(now),
        "timezone": sub.timezone,
        "notices": notices,
        "pages": [],
        "links": {"web": web},
        "link": web,
    }
    model["subject"] = notice_subject(model)
    return model


def _target(notice: dict[str, Any]) -> str:
    if notice.get("title"):
        return f"{notice['title']} ({notice['wiki']})"
    return str(notice.get("wiki") or "")


def notice_subject(model: dict[str, Any]) -> str:
    """The one line of a notice: e-mail subject, feed entry title, chat headline."""
    name, notices = model["subscription"], model["notices"]
    if model["kind"] == "test":
        return f"{name}: test message"
    failing = [n for n in notices if n["state"] == "failing"]
    recovered = [n for n in notices if n["state"] == "recovered"]
    if len(notices) == 1:
        notice = notices[0]
        if failing:
            return one_line(
                f"{name}: ALERT: {_target(notice)} failing for {notice.get('duration', '?')}"
            )
        return one_line(f"{name}: recovered: {_target(notice)} works again")
    parts = []
    if failing:
        parts.append(f"{len(failing)} alert{'s' * (len(failing) != 1)}")
    if recovered:
        parts.append(f"{len(recovered)} recovered")
    return f"{name}: {', '.join(parts)}"


def message_id(sub: Subscription) -> str:
    slug = re.sub(r"[^A-Za-z0-9-]+", "-", sub.name).strip("-")[:20] or "notice"
    return f"<{secrets.token_hex(8)}.{slug}@wiki-tracker.invalid>"


# --- `tracker channel test` ------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelResult:
    """How a test message through one channel went: ``detail`` is what the channel said
    (a path, an HTTP status) or its one-line error, secrets hidden."""

    subscription: str
    channel: str
    type: str
    ok: bool
    detail: str


def channels_named(config: Config, name: str) -> list[tuple[Subscription, str]]:
    """The (subscription, channel key) pairs that NAME means: every channel of the
    subscription of that name, else every channel of that name (``name = "..."``)."""
    for sub in config.subscriptions:
        if sub.name == name:
            if not sub.channels:
                raise UsageError(
                    f"subscription {name!r} has no channels; add one, e.g. "
                    'channels = [{ type = "file", path = "digests" }]'
                )
            return [(sub, key) for key, _chan in channel_keys(sub)]
    found = [
        (sub, key)
        for sub in config.subscriptions
        for key, _chan in channel_keys(sub)
        if key == name
    ]
    if found:
        return found
    import difflib

    known = [s.name for s in config.subscriptions] + [
        key for s in config.subscriptions for key, _chan in channel_keys(s)
    ]
    near = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(known) or '(none)'}"
    raise UsageError(f"no subscription or channel named {name!r}; {hint}")


def send_test_messages(
    config: Config,
    targets: list[tuple[Subscription, str]],
    *,
    now: datetime,
    history: Callable[[str, str, int], list[FeedEntry]] | None = None,
) -> list[ChannelResult]:
    """Send a clearly labelled test message through each (subscription, channel key);
    one result each, in order. Nothing is recorded; ``history(subscription, channel, n)``
    gives an Atom channel the entries it already holds, so its feed keeps them."""
    web = config.web.base_url.rstrip("/") if config.web.base_url else None
    results = []
    for sub, key in targets:
        chan = dict(channel_keys(sub))[key]
        notice = {
            "state": "test",
            "channel": key,
            "channel_type": chan.type,
        }
        model = notice_model(sub, "test", [notice], now, web)
        spec = CHANNELS[chan.type]
        try:
            outputs = render_digest(
                model,
                spec.needs(spec.options(chan.options), sub.formats) | set(sub.formats),
                templates_of(config, sub),
            )
            out = Outgoing(
                0,
                sub.name,
                "test",
                model["subject"],
                model["generated_at"],
                message_id(sub),
                outputs,
                model,
                config.base_dir,
                sub.formats,
                templates_of(config, sub),
                _entries(history, sub.name, key),
            )
            detail = spec.send(out, spec.options(chan.options))
        except Exception as exc:  # noqa: BLE001 - each channel's result is reported
            message = " ".join(str(exc).split()) or exc.__class__.__name__
            results.append(ChannelResult(sub.name, key, chan.type, False, redact(message)))
            continue
        results.append(ChannelResult(sub.name, key, chan.type, True, redact(one_line(detail))))
    return results


def _entries(
    history: Callable[[str, str, int], list[FeedEntry]] | None, subscription: str, channel: str
) -> Callable[[int], list[FeedEntry]]:
    def entries(limit: int) -> list[FeedEntry]:
        return history(subscription, channel, limit) if history else []

    return entries
