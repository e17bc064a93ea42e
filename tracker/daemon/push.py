"""Push: the daemon follows a wiki's stream of recent changes (Wikimedia's EventStreams) and
polls the wiki as soon as a change names one of its watched pages, instead of waiting for
the next interval. Polling at the interval goes on beside it, and is all there is while the
stream is down; the stream is tried again after a growing wait.

Which changes matter: an edit, a new page or a log entry of a watched page (a page watched
by title, or one of a set's or a cascade's pages), a page put in or taken out of a watched
category, a new page whose title fits a watched prefix, an edit by a watched user, an edit
of a `linked_from` list page. What the poll then fetches comes from the wiki's recent
changes as always (tracker.fetch.poll): the stream only says when.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from tracker.config import Config, Wiki
from tracker.errors import TrackerError, WikiError
from tracker.fetch.api import user_agent
from tracker.fetch.source import RecentChange
from tracker.fetch.stream import RecentChangeStream, default_backoff
from tracker.fetch.topics import title_key
from tracker.store import Store

log = logging.getLogger(__name__)

SAVE_EVERY = 5.0  # seconds between two saves of the stream's position
RETRY_MAX = 900.0  # the longest wait before the stream is tried again
FORGET_AFTER = 3  # failed attempts in a row after which the saved position is dropped


@dataclass
class Interest:
    """What a wiki's changes must name to be worth a poll now."""

    titles: set[str] = field(default_factory=set)
    categories: set[str] = field(default_factory=set)  # without the namespace
    prefixes: list[tuple[int, str]] = field(default_factory=list)
    users: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, config: Config, wiki: Wiki, store: Store) -> Interest:
        found = cls()
        wiki_id = store.find_wiki_id(wiki.name)
        if wiki_id is not None:
            found.titles.update(title_key(row["title"]) for row in store.wiki_watches(wiki_id))
            for row in store.wiki_watch_sets(wiki_id):
                if row["kind"] == "category" and row["tree"]:
                    found.categories.update(
                        title_key(t.split(":", 1)[-1]) for t in json.loads(row["tree"])
                    )
        for watch in config.watches_of(wiki.name):
            if watch.kind == "title":
                found.titles.add(title_key(watch.title))
            elif watch.kind == "category":
                found.categories.add(title_key(watch.target.split(":", 1)[-1]))
            elif watch.kind == "prefix":
                found.prefixes.append((watch.namespace or 0, watch.target))
            elif watch.kind == "user":
                found.users.add(title_key(watch.target))
            elif watch.kind == "linked_from":
                found.titles.add(title_key(watch.target))
        return found

    def wants(self, change: RecentChange) -> bool:
        title = title_key(change.title)
        if title in self.titles or any(title_key(t) in self.titles for t in change.titles):
            return True
        if change.type == "categorize":
            return title_key(title.split(":", 1)[-1]) in self.categories
        if change.user and title_key(change.user) in self.users:
            return True
        if change.type == "new" or (change.type == "log" and change.logtype == "move"):
            names = [(change.ns, change.title), *((change.ns, t) for t in change.titles)]
            for ns, name in names:
                text = name.split(":", 1)[-1] if ns else name
                if any(ns == want and text.startswith(p) for want, p in self.prefixes):
                    return True
        return False


class PushFollower:
    """One wiki's stream, followed in a thread of its own until ``close()``."""

    def __init__(
        self,
        config: Config,
        wiki: Wiki,
        on_change: Callable[[str], None],
        *,
        backoff: Callable[[int], float] = default_backoff,
        retry: Callable[[int], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.config = config
        self.wiki = wiki
        self.on_change = on_change
        self.backoff = backoff  # between two attempts to connect (the stream's own)
        # Between two rounds of attempts: 30 s, doubling, at most RETRY_MAX.
        self.retry = retry or (lambda failures: min(RETRY_MAX, 30.0 * 2 ** min(failures - 1, 5)))
        self.clock = clock
        self.stop = threading.Event()
        self.interest = Interest()
        self.connected = threading.Event()  # an event came through (for status and tests)
        self.pushed = 0  # changes that asked for a poll
        self._thread = threading.Thread(target=self._run, name=f"push:{wiki.name}", daemon=True)

    @property
    def database(self) -> Path:
        return self.config.database_path

    def start(self) -> None:
        self.refresh()
        self._thread.start()

    def close(self, timeout: float = 2.0) -> None:
        self.stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def refresh(self, config: Config | None = None) -> None:
        """Read again what the wiki's changes must name (after a poll, a reload)."""
        if config is not None:
            self.config = config
        try:
            with Store(self.database) as store:
                self.interest = Interest.of(self.config, self.wiki, store)
        except TrackerError as exc:
            log.warning("%s: watched pages not read for the stream (%s)", self.wiki.name, exc)

    def _run(self) -> None:
        failures = 0
        while not self.stop.is_set():
            try:
                self._follow()
                failures = 0
            except WikiError as exc:
                failures += 1
                if failures == FORGET_AFTER:
                    # A saved position the stream no longer has (Kafka keeps about a week)
                    # is refused for good: start from now; polling has what came between.
                    with Store(self.database) as store:
                        wiki_id = store.find_wiki_id(self.wiki.name)
                        if wiki_id is not None and store.stream_position(wiki_id):
                            store.set_stream_position(wiki_id, None)
                            log.info("%s: stream position forgotten", self.wiki.name)
                wait = self.retry(failures)
                log.warning(
                    "%s: stream of recent changes not followed (%s); polling at the "
                    "interval meanwhile, the stream is tried again in %.0f s",
                    self.wiki.name,
                    exc,
                    wait,
                )
                self.stop.wait(wait)
            except Exception as exc:  # noqa: BLE001 - the daemon's polling goes on
                log.error("%s: stream follower failed: %r; polling goes on", self.wiki.name, exc)
                self.stop.wait(RETRY_MAX)

    def _follow(self) -> None:
        wiki = self.wiki
        with Store(self.database) as store:
            wiki_id = store.wiki_id(wiki.name, wiki.api_url, wiki.snapshot)
            position = store.stream_position(wiki_id)
        stream = RecentChangeStream(
            wiki.eventstreams_url,
            server_name=urlparse(wiki.api_url or "").hostname,
            user_agent=user_agent(wiki.contact),
            last_event_id=position,
            backoff=self.backoff,
        )
        saved, last_save = position, self.clock()
        for event in stream.events(self.stop):
            self.connected.set()
            wanted = self.interest.wants(event.change)
            if wanted:
                self.pushed += 1
                self.on_change(wiki.name)
            now = self.clock()
            if stream.last_event_id != saved and (wanted or now - last_save >= SAVE_EVERY):
                saved, last_save = stream.last_event_id, now
                with Store(self.database) as store:
                    store.set_stream_position(wiki_id, saved)
        if stream.last_event_id != saved:
            with Store(self.database) as store:
                store.set_stream_position(wiki_id, stream.last_event_id)
