"""`tracker daemon`: APScheduler wiring only. Poll jobs, digest jobs, signals.

- One poll job per wiki, at the shortest interval of its watches; each run polls the
  watches that are due (``watches.next_poll``). Each wiki has an executor with one thread of
  its own, so a slow or failing wiki never delays another, and never polls itself twice.
- A wiki whose status request keeps failing is backed off across polls, exponentially with
  jitter (``wikis.error_count`` counts the failures in a row); inside one poll,
  ``ApiSource.call`` already retries transient failures.
- One job per scheduled digest subscription (cron or interval, in its time zone), and one
  job for the "on change" subscriptions, nudged after every poll that stored something.
- SIGTERM/SIGINT stop it: sleeps and requests are cut short, the running batch rolls back
  (``Store.atomic``), and the process exits within ``STOP_GRACE`` seconds. SIGHUP reloads
  the config; an invalid one is refused and the old one kept.

Every job opens its own short-lived Store: SQLite connections are not shared between
threads, and nothing accumulates over months of runs.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tracker.config import SCHEDULE_ON_CHANGE, Config, Subscription, Wiki, load_config
from tracker.daemon.push import PushFollower
from tracker.errors import ConfigError, Stopping, TrackerError
from tracker.fetch.api import ApiSource
from tracker.fetch.poll import make_source, poll_wiki
from tracker.fetch.source import Source
from tracker.fetch.transport import Backoff, retry_after
from tracker.model import utc_stamp
from tracker.store import Store
from tracker.store import jobs as daemon_store

log = logging.getLogger(__name__)

STOP_GRACE = 4.0  # seconds a stop waits for running jobs before leaving them behind
BACKOFF_MIN_CAP = 60.0  # a failing wiki is retried at least once a minute...
BACKOFF_MAX_CAP = 3600.0  # ...and at least once an hour, whatever its interval
ON_CHANGE = "digest:on-change"


class Stopper:
    """The stop flag, and a sleep that a stop cuts short (injected into ApiSource)."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; raise Stopping as soon as the daemon stops."""
        if self.event.wait(max(0.0, seconds)):
            raise Stopping()

    def check(self) -> None:
        """Raise Stopping when the daemon stops."""
        if self.event.is_set():
            raise Stopping()


class DaemonSource(ApiSource):
    """An ApiSource whose retry waits end at a stop, and that sends nothing after one."""

    def __init__(self, wiki: Wiki, stopper: Stopper):
        super().__init__(wiki, sleep=stopper.sleep)
        self.stopper = stopper

    def call(self, action: str = "query", **params: object) -> dict:
        """ApiSource.call, refused once the daemon stops."""
        self.stopper.check()
        return super().call(action, **params)


# --- what to schedule --------------------------------------------------------------------


def is_on_change(sub: Subscription) -> bool:
    """Whether a subscription is delivered after polls rather than on a schedule."""
    return sub.parsed_schedule.kind == SCHEDULE_ON_CHANGE


def subscription_trigger(sub: Subscription) -> BaseTrigger:
    """The trigger of a scheduled subscription (interval or cron), in its time zone."""
    schedule = sub.parsed_schedule  # load_config has checked it and the time zone
    try:
        zone = ZoneInfo(sub.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"subscription {sub.name!r}: unknown time zone {sub.timezone!r}"
        ) from None
    if schedule.kind == "interval":
        return IntervalTrigger(seconds=schedule.seconds, timezone=zone)
    return CronTrigger.from_crontab(schedule.cron, timezone=zone)


@dataclass(frozen=True)
class Plan:
    """The jobs a config asks for; building one validates what load_config cannot."""

    polls: dict[str, float]  # wiki name -> job interval (its shortest watch interval)
    digests: dict[str, BaseTrigger]  # scheduled subscription name -> trigger
    on_change: tuple[str, ...]  # names of the "on change" subscriptions
    # Scheduled subscriptions with ``alert_after``: their alerts are checked after each poll
    # (with the on-change digests), not only when their digest is due.
    alerting: tuple[str, ...] = ()

    @classmethod
    def of(cls, config: Config) -> Plan:
        """The plan of ``config``; ConfigError when a schedule cannot be built."""
        polls = {}
        for wiki in config.wikis:
            watches = config.watches_of(wiki.name)
            if watches:
                polls[wiki.name] = min(w.interval for w in watches)
        digests = {
            s.name: subscription_trigger(s) for s in config.subscriptions if not is_on_change(s)
        }
        on_change = tuple(s.name for s in config.subscriptions if is_on_change(s))
        alerting = tuple(
            s.name
            for s in config.subscriptions
            if not is_on_change(s) and s.alert_after is not None
        )
        return cls(polls, digests, on_change, alerting)

    def job_rows(self) -> dict[str, tuple[str, str, str]]:
        """Job id -> (kind, target, schedule), as the daemon_jobs table lists them."""
        rows = {
            f"poll:{name}": ("poll", name, f"every {interval:g}s")
            for name, interval in self.polls.items()
        }
        for name, trigger in self.digests.items():
            rows[f"digest:{name}"] = ("digest", name, str(trigger))
        if self.on_change or self.alerting:
            names = [*self.on_change, *(f"{name} (alerts)" for name in self.alerting)]
            rows[ON_CHANGE] = ("digest", ", ".join(names), "on change")
        return rows


def backoff_delay(failures: int, interval: float, retry_after: float | None = None) -> float:
    """Seconds to leave a wiki alone after ``failures`` failed polls in a row (jittered)."""
    cap = max(interval, BACKOFF_MIN_CAP, min(16 * interval, BACKOFF_MAX_CAP))
    return Backoff(base=interval, cap=cap).delay(max(0, failures - 1), retry_after)


def _iso(moment: datetime | float | None) -> str | None:
    return None if moment is None else utc_stamp(moment)


class _WikiState:
    """What the daemon remembers about one wiki between its polls."""

    def __init__(self) -> None:
        self.wiki: Wiki | None = None
        self.source: Source | None = None
        self.backoff_until = 0.0
        self.pushed = False  # the wiki's stream named a watched page: poll every watch now


# --- the daemon --------------------------------------------------------------------------


class TrackerDaemon:
    """The scheduler and its jobs; ``run()`` blocks until a stop signal."""

    def __init__(self, config: Config, *, clock: Callable[[], float] = time.time):
        self.config = config
        self.plan = Plan.of(config)
        self.clock = clock
        self.stopper = Stopper()
        self.wikis: dict[str, _WikiState] = {}
        self._executors: set[str] = set()
        self._wake = threading.Event()
        self._reload_requested = False
        self._running = 0
        self._running_cond = threading.Condition()
        self._on_change_pending = threading.Event()
        self.followers: dict[str, PushFollower] = {}  # wikis followed by their stream
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={
                "digest": ThreadPoolExecutor(1, pool_kwargs={"thread_name_prefix": "digest"})
            },
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": config.daemon.misfire_grace_time,
            },
        )

    # -- life --------------------------------------------------------------------------------

    def start(self) -> None:
        """Prepare the store, schedule every job (polls run at once) and start the scheduler."""
        # Before anything slow: a SIGHUP's default action would kill a daemon still starting.
        self._install_signals()
        with self._store() as store:
            daemon_store.daemon_started(store, str(self.config.path))
        self._apply(self.plan)
        self.scheduler.start()
        log.info(
            "daemon started (pid %d): %d wikis, %d watches, %d subscriptions; database %s",
            os.getpid(),
            len(self.plan.polls),
            len(self.config.watches),
            len(self.config.subscriptions),
            self.config.database_path,
        )

    def run(self) -> bool:
        """Serve until SIGTERM/SIGINT; SIGHUP reloads. False when a job had to be left behind."""
        while not self.stopper.event.is_set():
            self._wake.wait(60)
            self._wake.clear()
            if self._reload_requested and not self.stopper.event.is_set():
                self._reload_requested = False
                self.reload()
        return self.stop()

    def request_stop(self) -> None:
        """Ask run() to stop (what SIGTERM and SIGINT do); safe from any thread."""
        self.stopper.event.set()
        self._wake.set()

    def request_reload(self) -> None:
        """Ask run() to reload the config (what SIGHUP does)."""
        self._reload_requested = True
        self._wake.set()

    def _install_signals(self) -> None:
        def stop(signum: int, frame: object) -> None:
            if self.stopper.event.is_set():
                log.warning("second %s: exiting now", signal.Signals(signum).name)
                os._exit(1)
            log.info("%s received: stopping", signal.Signals(signum).name)
            self.request_stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, lambda signum, frame: self.request_reload())

    def stop(self) -> bool:
        """Stop scheduling, give running jobs STOP_GRACE seconds, record the stop.

        False when a job still runs after the grace time: the caller then ends the process
        without waiting for it (``os._exit``).
        """
        self.request_stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        for follower in self.followers.values():
            follower.stop.set()
        deadline = time.monotonic() + STOP_GRACE
        with self._running_cond:
            while self._running and time.monotonic() < deadline:
                self._running_cond.wait(deadline - time.monotonic())
            left = self._running
        if left:
            # A thread blocked in a socket read cannot be interrupted; the process exiting
            # rolls its open transaction back, which SQLite guarantees, so leave it behind.
            log.warning(
                "stopped with %d job(s) still waiting on a wiki; their unfinished "
                "batches are rolled back",
                left,
            )
            return False
        with self._store() as store:
            daemon_store.daemon_stopped(store)
        log.info("daemon stopped")
        return True

    # -- configuration -----------------------------------------------------------------------

    def reload(self) -> bool:
        """Re-read the config file; keep the old config when the new one is invalid."""
        path = self.config.path
        try:
            config = load_config(path)
            plan = Plan.of(config)
            if config.database_path != self.config.database_path:
                raise ConfigError(
                    f"{path}: storage.database changed; restart the daemon to switch databases"
                )
        except TrackerError as exc:
            log.error("config reload refused, keeping the running configuration: %s", exc)
            return False
        self.config, self.plan = config, plan
        self._apply(plan)
        with self._store() as store:
            daemon_store.daemon_reloaded(store)
        log.info(
            "config reloaded: %d wikis, %d watches, %d subscriptions",
            len(plan.polls),
            len(config.watches),
            len(config.subscriptions),
        )
        return True

    def _apply(self, plan: Plan) -> None:
        """Make the scheduled jobs those of ``plan``: add, reschedule, remove."""
        wanted: set[str] = set()
        now = datetime.now(UTC)
        for name, interval in plan.polls.items():
            job_id = f"poll:{name}"
            wanted.add(job_id)
            alias = f"wiki:{name}"
            if alias not in self._executors:
                self.scheduler.add_executor(
                    ThreadPoolExecutor(1, pool_kwargs={"thread_name_prefix": alias}), alias
                )
                self._executors.add(alias)
            self.wikis.setdefault(name, _WikiState())
            trigger = IntervalTrigger(seconds=interval, timezone=UTC)
            job = self.scheduler.get_job(job_id)
            if job is None:
                # A new wiki polls at once; its first due watches decide what that costs.
                self.scheduler.add_job(
                    self._poll_job,
                    trigger,
                    args=[name],
                    id=job_id,
                    name=job_id,
                    executor=alias,
                    next_run_time=now,
                )
            elif job.trigger.interval.total_seconds() != interval:
                self.scheduler.reschedule_job(job_id, trigger=trigger)
        for name, trigger in plan.digests.items():
            job_id = f"digest:{name}"
            wanted.add(job_id)
            job = self.scheduler.get_job(job_id)
            if job is None or str(job.trigger) != str(trigger):
                self.scheduler.add_job(
                    self._digest_job,
                    trigger,
                    args=[job_id, [name]],
                    id=job_id,
                    name=job_id,
                    executor="digest",
                    replace_existing=True,
                )
        if plan.on_change or plan.alerting:
            wanted.add(ON_CHANGE)
            # Nudged after each poll; the interval is a safety net that also retries
            # failed deliveries when nothing new arrives.
            every = min(plan.polls.values(), default=60.0)
            if self.scheduler.get_job(ON_CHANGE) is None:
                self.scheduler.add_job(
                    self._on_change_job,
                    IntervalTrigger(seconds=every),
                    id=ON_CHANGE,
                    name=ON_CHANGE,
                    executor="digest",
                    next_run_time=now,
                )
            else:
                self.scheduler.reschedule_job(ON_CHANGE, trigger=IntervalTrigger(seconds=every))
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
                log.info("job %s removed", job.id)
        for name in set(self.wikis) - set(plan.polls):
            del self.wikis[name]
            alias = f"wiki:{name}"
            if alias in self._executors:
                self._executors.discard(alias)
                # Its thread ends after a poll still running; a reload doesn't wait for it.
                self.scheduler.remove_executor(alias, shutdown=False)
        self._follow_streams()
        with self._store() as store:
            daemon_store.sync_jobs(store, plan.job_rows())

    def _follow_streams(self) -> None:
        """A stream follower for each polled wiki with `eventstreams`, none for the others."""
        wanted = {
            name: self.config.wiki(name)
            for name in self.plan.polls
            if self.config.wiki(name).eventstreams and self.config.wiki(name).api_url
        }
        for name, follower in list(self.followers.items()):
            if wanted.get(name) != follower.wiki:
                follower.close()
                del self.followers[name]
        for name, wiki in wanted.items():
            if name in self.followers:
                self.followers[name].refresh(self.config)
            else:
                follower = PushFollower(self.config, wiki, self.push)
                self.followers[name] = follower
                follower.start()
                log.info("%s: following its recent changes at %s", name, wiki.eventstreams_url)

    def push(self, name: str) -> None:
        """The wiki's stream named a watched page: poll the wiki now (safe from any thread)."""
        state = self.wikis.get(name)
        if state is None or self.stopper.event.is_set():
            return
        state.pushed = True
        log.debug("%s: its stream named a watched page: polling now", name)
        # (While a poll of the wiki runs, APScheduler skips this run: the poll repeats when
        # it ends, for the change may have come after it read the wiki's recent changes.)
        try:
            self.scheduler.modify_job(f"poll:{name}", next_run_time=datetime.now(UTC))
        except Exception:  # noqa: BLE001 - the job was removed by a reload, or we stop
            pass

    # -- jobs ---------------------------------------------------------------------------------

    @contextmanager
    def _store(self) -> Iterator[Store]:
        with Store(self.config.database_path) as store:
            yield store

    @contextmanager
    def _job(self, job_id: str) -> Iterator[None]:
        """Count running jobs (for the stop) and keep a failure from killing the thread."""
        with self._running_cond:
            self._running += 1
        try:
            yield
        except Stopping:
            log.info("%s interrupted by the stop; its unfinished batch was rolled back", job_id)
        except Exception as exc:  # noqa: BLE001 - one failing job must not stop the daemon
            log.error("%s failed: %s", job_id, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            try:
                with self._store() as store:
                    daemon_store.record_run(
                        store, job_id, error=str(exc), summary=None, next_run=self._next_run(job_id)
                    )
            except Exception:  # noqa: BLE001
                log.exception("could not record the failure of %s", job_id)
        finally:
            with self._running_cond:
                self._running -= 1
                self._running_cond.notify_all()

    def _next_run(self, job_id: str) -> str | None:
        job = self.scheduler.get_job(job_id)
        return _iso(job.next_run_time) if job is not None else None

    def _poll_job(self, name: str) -> None:
        if self.stopper.event.is_set():
            return
        job_id = f"poll:{name}"
        polled = True
        while polled and not self.stopper.event.is_set():
            polled = False
            with self._job(job_id):
                polled = self._poll(name, job_id)
            state = self.wikis.get(name)
            # A change pushed while the poll ran: poll again now, not at the next interval.
            polled = polled and state is not None and state.pushed

    def _poll(self, name: str, job_id: str) -> bool:
        """Poll the wiki's due watches (every watch after a push); False: nothing polled."""
        config, state = self.config, self.wikis.get(name)
        interval = self.plan.polls.get(name)
        if state is None or interval is None:
            return False  # removed by a reload while this run waited
        started = self.clock()
        if started < state.backoff_until:
            return False
        wiki = config.wiki(name)
        if state.wiki != wiki or state.source is None:
            state.wiki = wiki
            state.source = (
                DaemonSource(wiki, self.stopper) if wiki.api_url else make_source(config, wiki)
            )
        with self._store() as store:
            wiki_id = store.wiki_id(wiki.name, wiki.api_url, wiki.snapshot)
            due = self._due_watches(store, config, wiki_id, name, started, interval)
            pushed, state.pushed = state.pushed, False
            # A push polls every watch of the wiki: its recent changes say which changed
            # (one request), the others cost nothing more.
            polled = config.watches_of(name) if pushed else due
            if not polled:
                return False
            result = poll_wiki(store, config, wiki, source=state.source, watches=polled)
            failures = store.wiki_failures(wiki_id)
            if failures:
                delay = backoff_delay(failures, interval, _retry_after(state.source))
                state.backoff_until = started + delay
                log.warning(
                    "%s: not reachable (%d failed polls in a row); next try in %.1f s",
                    name,
                    failures,
                    delay,
                )
            else:
                state.backoff_until = 0.0
            with store.atomic():
                # From the start of this poll, so that a watch whose interval equals the
                # job's is due again at the job's next run, not one run later.
                store.set_next_polls(
                    wiki_id,
                    {
                        watch.key: max(started + watch.interval, state.backoff_until)
                        for watch in due
                    },
                )
            next_run = _iso(state.backoff_until) if failures else self._next_run(job_id)
            daemon_store.record_run(
                store,
                job_id,
                summary=result.summary(),
                next_run=next_run,
                error=_first_error(result.errors),
            )
        follower = self.followers.get(name)
        if follower is not None:
            follower.refresh()  # (a set's new pages, a page's new title)
        if result.revisions_added or self.plan.alerting:
            self.nudge_on_change()  # (a failed poll too, for the alerts of failing wikis)
        return True

    def _due_watches(
        self, store: Store, config: Config, wiki_id: int, name: str, now: float, interval: float
    ) -> list:
        next_polls = store.next_polls(wiki_id)
        # A run that fires a little early (timer jitter) must not skip a whole interval.
        slack = min(1.0, interval * 0.1)
        return [
            w
            for w in config.watches_of(name)
            if (due := next_polls.get(w.key)) is None or due <= now + slack
        ]

    def nudge_on_change(self) -> None:
        """Run the on-change digests soon; a run already going repeats once for the nudge."""
        if not (self.plan.on_change or self.plan.alerting) or self.stopper.event.is_set():
            return
        self._on_change_pending.set()
        try:
            self.scheduler.modify_job(ON_CHANGE, next_run_time=datetime.now(UTC))
        except Exception:  # noqa: BLE001 - the job was removed by a reload, or we stop
            pass

    def _on_change_job(self) -> None:
        while not self.stopper.event.is_set():
            self._on_change_pending.clear()
            # (A scheduled subscription's digest is sent only when due: run_digests asks.)
            names = [*self.plan.on_change, *self.plan.alerting]
            if not names:
                return
            self._digest_job(ON_CHANGE, names)
            if not self._on_change_pending.is_set():
                return

    def _digest_job(self, job_id: str, names: list[str]) -> None:
        if self.stopper.event.is_set():
            return
        with self._job(job_id):
            from tracker.digest.run import run_digests  # the digest stage, when first needed

            with self._store() as store:
                run = run_digests(store, self.config, names=names)
                for line in run.delivered:
                    log.info("digest %s", line)
                for error in run.errors:
                    # A failed delivery is retried by the digest stage with its own backoff.
                    log.warning("digest error: %s", error)
                daemon_store.record_run(
                    store,
                    job_id,
                    error="; ".join(run.errors) or None,
                    next_run=self._next_run(job_id),
                    summary=f"{len(run.delivered)} delivered, {len(run.errors)} failed",
                )


def _first_error(errors: list[str]) -> str | None:
    if not errors:
        return None
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return errors[0] + more


def _retry_after(source: Source | None) -> float | None:
    """What the wiki's last reply asked for (seconds or an HTTP date; nonsense ignored)."""
    return retry_after(getattr(source, "last_response", None))
