"""Sources of revisions: a live MediaWiki through its Action API (mwclient).

The snapshot source in snapshot.py offers the same two calls, so the poller does not care
where revisions come from:

- ``page_status(pageids, titles)``: the latest revision id of many pages, no content,
  one request per 50 pages;
- ``fetch_revisions(pageid, ...)``: batches of revisions with content, oldest first.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from urllib.parse import urlparse

import mwclient
import mwclient.errors
import requests

from . import NAME, __version__
from .config import Wiki
from .errors import WikiError
from .model import Revision
from .siteinfo import SiteInfo

log = logging.getLogger(__name__)

BATCH = 50  # titles or page ids per request: the API's limit for anonymous clients
MAXLAG = 5
RETRYABLE_API_ERRORS = {"maxlag", "ratelimited", "readonly", "internal_api_error_DBQueryError",
                        "internal_api_error_DBConnectionError"}
REVPROPS = "ids|timestamp|flags|comment|user|userid|size|sha1|tags|contentmodel"


def user_agent(contact: str) -> str:
    return f"{NAME}/{__version__} ({contact}) mwclient/{mwclient.__version__}"


@dataclass(frozen=True)
class PageStatus:
    """What a cheap status query says about one page."""

    requested: str | int  # the title or page id asked for
    pageid: int | None
    title: str | None
    ns: int = 0
    lastrevid: int | None = None
    missing: bool = False
    invalid: bool = False
    redirect: bool = False
    content_model: str | None = None
    revisions: int | None = None  # how many revisions the page has, where a source knows


@dataclass(frozen=True)
class LogEvent:
    """A log entry that may change a page's stored history (import, undeletion, revision
    deletion, history merge): the page's revisions are then compared with the store."""

    type: str
    action: str
    title: str
    pageid: int | None
    timestamp: str
    titles: tuple[str, ...] = ()  # other pages it names (a merge's destination)


# Log types that change which revisions a page has, or what of them is visible.
HISTORY_LOGS = frozenset({"import", "delete", "merge", "suppress"})


class Backoff:
    """Exponential backoff with jitter, never shorter than what the server asked for."""

    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None):
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        wait = min(self.cap, self.base * (2 ** attempt))
        wait = wait / 2 + self.rng.uniform(0, wait / 2)
        return max(wait, retry_after or 0.0)


def _retry_after(response: requests.Response | None) -> float | None:
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class ApiSource:
    """A MediaWiki reached through api.php. Requests go out one at a time, politely."""

    def __init__(self, wiki: Wiki, *, session: requests.Session | None = None,
                 sleep: Callable[[float], None] = time.sleep, backoff: Backoff | None = None,
                 max_retries: int | None = None):
        if not wiki.api_url:
            raise WikiError(f"wiki {wiki.name!r} has no api_url")
        self.wiki = wiki
        self.name = wiki.name
        self.requests = 0
        self.sleep = sleep
        self.backoff = backoff or Backoff()
        self.max_retries = wiki.max_retries if max_retries is None else max_retries
        self.last_response: requests.Response | None = None
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent(wiki.contact)
        self.session.headers["Accept-Encoding"] = "gzip"
        self.session.hooks["response"].append(self._remember)
        url = urlparse(wiki.api_url)
        path = url.path
        if not path.endswith("api.php"):
            raise WikiError(f"{wiki.api_url} is not an api.php URL: give the full address of "
                            "the wiki's api.php, e.g. https://en.wikipedia.org/w/api.php")
        # mwclient retries by itself with linear sleeps and ignores Retry-After on 503;
        # we switch that off and retry in call() with backoff and the server's Retry-After.
        self.site = mwclient.Site(
            url.netloc, path=path[: -len("api.php")], scheme=url.scheme, pool=self.session,
            do_init=False, max_retries=0, retry_timeout=0,
            connection_options={"timeout": wiki.timeout},
        )
        self._checked = False

    def _remember(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        self.last_response = response

    # --- the one door to the API ----------------------------------------------------------

    def call(self, action: str = "query", **params: object) -> dict:
        """One API request (GET), retried with backoff on transient failures."""
        params.setdefault("maxlag", MAXLAG)
        params.setdefault("formatversion", 2)
        attempt = 0
        while True:
            self.last_response = None
            self.requests += 1
            try:
                result = self.site.api(action, http_method="GET", **params)
                if not isinstance(result, dict):
                    raise WikiError(f"{self.wiki.api_url} answered something that is not an API "
                                    "result; check api_url")
                return result
            except mwclient.errors.APIError as exc:
                if exc.code not in RETRYABLE_API_ERRORS:
                    raise WikiError(f"{self.name}: the API refused the request: "
                                    f"{exc.code}: {exc.info}") from None
                reason = f"API error {exc.code}"
            except mwclient.errors.InvalidResponse:
                raise WikiError(f"{self.wiki.api_url} did not answer like a MediaWiki api.php "
                                "(not JSON); check api_url") from None
            except mwclient.errors.APIDisabledError:
                raise WikiError(f"the API of {self.wiki.api_url} is disabled") from None
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status == 429 or status >= 500:
                    reason = f"HTTP {status}"
                else:
                    hint = (" (not found: check api_url)" if status == 404 else "")
                    raise WikiError(f"{self.wiki.api_url} answered HTTP {status}{hint}") from None
            except mwclient.errors.MaximumRetriesExceeded:
                reason = "the server is lagged"
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
            except ValueError as exc:  # a truncated gzip or JSON body
                reason = f"malformed reply ({exc.__class__.__name__})"
            if attempt >= self.max_retries:
                raise WikiError(f"{self.name}: {self.wiki.api_url} not reachable: {reason} "
                                f"(after {attempt + 1} tries); will retry on the next poll")
            wait = self.backoff.delay(attempt, _retry_after(self.last_response))
            log.warning("%s: %s; retrying in %.1f s", self.name, reason, wait)
            self.sleep(wait)
            attempt += 1

    def query(self, **params: object) -> Iterator[dict]:
        """A query followed through every continuation."""
        cont: dict = {}
        while True:
            result = self.call("query", **params, **cont)
            yield result
            if "continue" not in result:
                return
            cont = dict(result["continue"])

    # --- the source interface -------------------------------------------------------------

    def check(self) -> None:
        """Fail clearly when the URL is not a MediaWiki, and log in when configured."""
        if self._checked:
            return
        result = self.call("query", meta="siteinfo", siprop="general")
        general = result.get("query", {}).get("general")
        if not general or "generator" not in general:
            raise WikiError(f"{self.wiki.api_url} does not look like a MediaWiki api.php "
                            "(no siteinfo); check api_url")
        if self.wiki.login is not None:
            self.login()
        self._checked = True

    def site_info(self) -> SiteInfo:
        """What wikitext means on this wiki: namespaces and their aliases, interwiki and
        interlanguage prefixes, extension tags, magic words (one request)."""
        result = self.call("query", meta="siteinfo",
                           siprop="general|namespaces|namespacealiases|interwikimap|"
                                  "extensiontags|magicwords")
        query = result.get("query")
        if not isinstance(query, dict) or "namespaces" not in query:
            raise WikiError(f"{self.wiki.api_url} answered siteinfo without namespaces; "
                            "check api_url")
        return SiteInfo.from_api(query)

    def login(self) -> None:
        login = self.wiki.login
        assert login is not None
        password = login.password()
        self.requests += 2  # token + login
        try:
            self.site.login(login.username, password)
        except mwclient.errors.LoginError as exc:
            raise WikiError(f"{self.name}: login as {login.username} failed "
                            f"({exc.args[1].get('result') if len(exc.args) > 1 else exc}): "
                            f"check the bot password in ${login.password_env}") from None
        except (requests.RequestException, mwclient.errors.MwClientError) as exc:
            raise WikiError(f"{self.name}: login failed: {exc}") from None

    def page_status(self, pageids: Iterable[int] = (), titles: Iterable[str] = ()
                    ) -> list[PageStatus]:
        """Latest revision id of each page, without content: one request per 50 pages."""
        self.check()
        out: list[PageStatus] = []
        for key, values in (("pageids", list(pageids)), ("titles", list(titles))):
            for start in range(0, len(values), BATCH):
                chunk = values[start:start + BATCH]
                result = self.call("query", prop="info", **{key: "|".join(map(str, chunk))})
                out.extend(self._statuses(result.get("query", {}), key, chunk))
        return out

    @staticmethod
    def _statuses(query: dict, key: str, chunk: list) -> list[PageStatus]:
        normalized = {n["from"]: n["to"] for n in query.get("normalized", [])}
        by_key: dict[object, dict] = {}
        for page in query.get("pages", []):
            by_key[page.get("pageid") if key == "pageids" and "pageid" in page
                   else page.get("title")] = page
        statuses = []
        for requested in chunk:
            lookup = requested if key == "pageids" else normalized.get(requested, requested)
            page = by_key.get(lookup)
            if page is None:
                statuses.append(PageStatus(requested, None, None, missing=True))
                continue
            statuses.append(PageStatus(
                requested=requested,
                pageid=page.get("pageid") if not page.get("missing") else None,
                title=page.get("title"),
                ns=page.get("ns", 0),
                lastrevid=page.get("lastrevid"),
                missing=bool(page.get("missing")),
                invalid=bool(page.get("invalid")),
                redirect=bool(page.get("redirect")),
                content_model=page.get("contentmodel"),
            ))
        return statuses

    def fetch_revisions(self, pageid: int, *, since: str | None = None,
                        last: int | None = None, revids: Iterable[int] | None = None
                        ) -> Iterator[list[Revision]]:
        """Revisions of a page with content, in batches, in history order.

        ``since``: from that timestamp on (included); ``last``: only the N most recent;
        ``revids``: only these revisions (50 per request); nothing: the whole history.
        """
        self.check()
        params: dict = {"prop": "revisions", "rvslots": "main",
                        "rvprop": REVPROPS + "|content"}
        if revids is not None:
            wanted = sorted(set(revids))
            for start in range(0, len(wanted), BATCH):
                chunk = wanted[start:start + BATCH]
                result = self.call("query", **params, revids="|".join(map(str, chunk)))
                batch = self._revisions(result, pageid)
                if batch:
                    yield sorted(batch, key=_position)
            return
        params.update(pageids=pageid, rvlimit="max")
        if last is not None:
            # The newest N, fetched newest first and handed over oldest first.
            params.update(rvdir="older", rvlimit=min(last, 50))
            collected: list[Revision] = []
            for result in self.query(**params):
                collected.extend(self._revisions(result, pageid))
                if len(collected) >= last:
                    break
            collected = sorted(collected[:last], key=_position)
            if collected:
                yield collected
            return
        params["rvdir"] = "newer"  # by timestamp, then id: MediaWiki's history order
        if since is not None:
            params["rvstart"] = since
        for result in self.query(**params):
            batch = self._revisions(result, pageid)
            if batch:
                yield sorted(batch, key=_position)

    def revision_list(self, pageid: int) -> Iterator[Revision]:
        """Every revision of a page without content (``text`` None), in history order."""
        self.check()
        for result in self.query(prop="revisions", pageids=pageid, rvprop=REVPROPS,
                                 rvlimit="max", rvdir="newer"):
            for rev in self._revisions(result, pageid):
                # Without content the API tells a hidden text by its hidden sha1 only.
                yield replace(rev, texthidden=rev.texthidden or rev.sha1hidden)

    def log_events(self, since: str) -> list[LogEvent]:
        """The log entries since a time that may change stored histories (recent changes'
        log entries: one request for every type; they reach back 30-90 days)."""
        self.check()
        events = []
        for result in self.query(list="recentchanges", rctype="log", rcdir="newer",
                                 rcstart=since, rcprop="title|ids|timestamp|loginfo",
                                 rclimit="max"):
            for rc in result.get("query", {}).get("recentchanges", []):
                if rc.get("logtype") not in HISTORY_LOGS:
                    continue
                params = rc.get("logparams") or {}
                others = tuple(str(params[key]) for key in ("dest_title", "target_title")
                               if isinstance(params, dict) and params.get(key))
                events.append(LogEvent(str(rc.get("logtype")), str(rc.get("logaction", "")),
                                       str(rc.get("title", "")), rc.get("pageid") or None,
                                       str(rc.get("timestamp", "")), others))
        return events

    @staticmethod
    def _revisions(result: dict, pageid: int) -> list[Revision]:
        pages = result.get("query", {}).get("pages", [])
        out = []
        for page in pages:
            if page.get("pageid") != pageid:
                continue
            for raw in page.get("revisions", []):
                out.append(revision_from_api(raw))
        return out


def _position(rev: Revision) -> tuple[str, int]:
    return rev.timestamp, rev.revid


def revision_from_api(raw: dict) -> Revision:
    """A Revision from one formatversion=2 API revision object."""
    try:
        slot = raw.get("slots", {}).get("main", {})
        texthidden = bool(slot.get("texthidden") or raw.get("texthidden"))
        text = slot.get("content")
        if text is None and "content" in raw:
            text = raw["content"]
        return Revision(
            revid=int(raw["revid"]),
            parentid=int(raw.get("parentid") or 0),
            timestamp=str(raw["timestamp"]),
            user=raw.get("user") if not raw.get("userhidden") else None,
            userid=raw.get("userid") if not raw.get("userhidden") else None,
            comment=raw.get("comment") if not raw.get("commenthidden") else None,
            minor=bool(raw.get("minor")),
            size=int(raw["size"]) if raw.get("size") is not None and int(raw["size"]) >= 0
            else None,
            sha1=raw.get("sha1") if not raw.get("sha1hidden") else None,
            text=None if texthidden else text,
            tags=tuple(raw.get("tags") or ()),
            content_model=slot.get("contentmodel") or raw.get("contentmodel") or "wikitext",
            content_format=slot.get("contentformat") or "text/x-wiki",
            texthidden=texthidden,
            userhidden=bool(raw.get("userhidden")),
            commenthidden=bool(raw.get("commenthidden")),
            sha1hidden=bool(raw.get("sha1hidden")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WikiError(f"malformed revision in the API reply ({exc!r}); the wiki may be "
                        "misbehaving, nothing was stored from this reply") from None
