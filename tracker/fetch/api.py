"""Sources of revisions: a live MediaWiki through its Action API (mwclient).

It offers what tracker.fetch.source.Source asks, as the snapshot source (snapshot.py) does,
so the poller does not care where revisions come from: ``page_status`` (one request per 50
pages, no content), ``fetch_revisions`` (batches with content, in history order),
``revision_list``, ``log_events``, ``site_info``; for topic watches ``latest_revisions``
and ``revisions_by_id`` (50 pages or ids a request, with content), and, through
tracker.fetch.lists, ``set_members``, ``recent_changes`` and ``templates_of``.

Everything a wiki sends is bounded (the wiki's config says how far): the time and bytes of
each request (transport.py), the waits it asks for (``Retry-After``), the continuations of
one query, and the size of one revision; a revision over the cap, or too large for a reply,
comes with its metadata and without its text (``Revision.toolarge``).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import urlparse

import mwclient
import mwclient.errors
import requests

from tracker import NAME, __version__
from tracker.config import DEFAULT_CONTACT, Wiki, format_size
from tracker.errors import TooLarge, WikiError
from tracker.fetch.apirevisions import BATCH, Continuation, RevisionQueries
from tracker.fetch.lists import WatchLists
from tracker.fetch.replies import log_titles, page_statuses
from tracker.fetch.source import (
    HISTORY_LOGS,
    ChangeFeed,
    LogEvent,
    Member,
    PageStatus,
    RcCursor,
)
from tracker.fetch.transport import (
    Backoff,
    BoundedAdapter,
    Limits,
    ReplyTooLarge,
    RequestDeadline,
    retry_after,
    wait_span,
)
from tracker.text.siteinfo import SiteInfo

log = logging.getLogger(__name__)

MAXLAG = 5
RETRYABLE_API_ERRORS = {
    "maxlag",
    "ratelimited",
    "readonly",
    "internal_api_error_DBQueryError",
    "internal_api_error_DBConnectionError",
}


def user_agent(contact: str) -> str:
    return f"{NAME}/{__version__} ({contact}) mwclient/{mwclient.__version__}"


def contact_warning(wiki: Wiki) -> str | None:
    """What to tell the operator when a live wiki (not one on this machine) is asked with the
    project's address as the User-Agent's contact: the wiki's operators could not reach the
    one who runs the tracker before blocking it (Wikimedia's User-Agent policy)."""
    if not wiki.api_url or wiki.contact != DEFAULT_CONTACT:
        return None
    host = urlparse(wiki.api_url).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if local:
        return None
    return (
        f"wiki {wiki.name!r}: requests name the project ({DEFAULT_CONTACT}) as their contact, "
        f'not you; set contact = "you@example.org" (or a URL of yours) in its [[wikis]] '
        "table (wikis[].contact) so that the wiki's operators can reach you"
    )


# What site_info reads of the wiki's siteinfo.
SITE_INFO_PROPS = "general|namespaces|namespacealiases|interwikimap|extensiontags|magicwords"


class _RetriedHere(logging.Filter):
    """mwclient says "Retrying in a moment" (and a 503's whole page) for each failure it
    hands back: ApiSource.call retries, and logs each retry in one line of its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        return not ("Retrying in a moment" in message or message.startswith("Database lag exceeds"))


_MWCLIENT_LOG = logging.getLogger("mwclient.client")
if not any(isinstance(f, _RetriedHere) for f in _MWCLIENT_LOG.filters):
    _MWCLIENT_LOG.addFilter(_RetriedHere())


class ApiSource(RevisionQueries):
    """A MediaWiki reached through api.php. Requests go out one at a time, politely."""

    def __init__(
        self,
        wiki: Wiki,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff | None = None,
        max_retries: int | None = None,
    ):
        if not wiki.api_url:
            raise WikiError(f"wiki {wiki.name!r} has no api_url")
        self.wiki = wiki
        self.name = wiki.name
        self.requests = 0
        self.sleep = sleep
        self.backoff = backoff or Backoff(max_retry_after=wiki.max_retry_after)
        self.max_retries = wiki.max_retries if max_retries is None else max_retries
        self.last_response: requests.Response | None = None
        # The API's error (code, info) when it refused the last request, else None: what a
        # caller tells a wiki that refuses a module (recent changes) by, apart from failures.
        self.refusal: tuple[str, str] | None = None
        self.session = session or requests.Session()
        # Every request mwclient makes passes here: bounded in time and bytes.
        adapter = BoundedAdapter(
            Limits(deadline=wiki.request_deadline, max_bytes=wiki.max_reply_size)
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent(wiki.contact)
        self.session.headers["Accept-Encoding"] = "gzip"
        self.session.hooks["response"].append(self._remember)
        url = urlparse(wiki.api_url)
        path = url.path
        if not path.endswith("api.php"):
            raise WikiError(
                f"{wiki.api_url} is not an api.php URL: give the full address of "
                "the wiki's api.php, e.g. https://en.wikipedia.org/w/api.php"
            )
        # mwclient retries by itself with linear sleeps and ignores Retry-After on 503;
        # we switch that off and retry in call() with backoff and the server's Retry-After.
        self.site = mwclient.Site(
            url.netloc,
            path=path[: -len("api.php")],
            scheme=url.scheme,
            pool=self.session,
            do_init=False,
            max_retries=0,
            retry_timeout=0,
            connection_options={"timeout": wiki.timeout},
        )
        self._checked = False
        self._site_info: SiteInfo | None = None  # read by the check, for site_info
        self._lists = WatchLists(self)
        # The categories (full titles) the last category set was read from: the set's own
        # and its subcategories down to its depth, whose categorize changes concern it.
        self.last_tree: list[str] | None = None

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
            self.refusal = None
            self.requests += 1
            try:
                result = self.site.api(action, http_method="GET", **params)
                if not isinstance(result, dict):
                    raise WikiError(
                        f"{self.wiki.api_url} answered something that is not an API "
                        "result; check api_url"
                    )
                if isinstance(result.get("query", {}).get("pages"), dict):
                    # formatversion=2 came with MediaWiki 1.25; an older wiki ignores it.
                    raise WikiError(
                        f"{self.wiki.api_url} answered in the old result format "
                        "(formatversion=1): wiki tracker needs MediaWiki 1.25 or "
                        "newer"
                    )
                return result
            except mwclient.errors.APIError as exc:
                if exc.code not in RETRYABLE_API_ERRORS:
                    self.refusal = (str(exc.code), str(exc.info))
                    raise WikiError(
                        f"{self.name}: the API refused the request: {exc.code}: {exc.info}"
                    ) from None
                reason = f"API error {exc.code}"
            except mwclient.errors.InvalidResponse:
                raise WikiError(
                    f"{self.wiki.api_url} did not answer like a MediaWiki api.php "
                    "(not JSON); check api_url"
                ) from None
            except mwclient.errors.APIDisabledError:
                raise WikiError(f"the API of {self.wiki.api_url} is disabled") from None
            except ReplyTooLarge as exc:
                size = (
                    f"announced {format_size(exc.announced)}"
                    if exc.announced is not None
                    else "cut off"
                )
                raise TooLarge(
                    f"{self.name}: a reply of {self.wiki.api_url} is larger than "
                    f"max_reply_size ({format_size(exc.limit)}; {size}); raise "
                    "wikis[].max_reply_size if the wiki is trusted"
                ) from None
            except requests.TooManyRedirects:
                raise WikiError(
                    f"{self.wiki.api_url} redirects in a loop; check api_url "
                    "(the address the wiki's own pages link as api.php)"
                ) from None
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if status == 429 or status >= 500:
                    reason = f"HTTP {status}"
                else:
                    hint = " (not found: check api_url)" if status == 404 else ""
                    raise WikiError(f"{self.wiki.api_url} answered HTTP {status}{hint}") from None
            except mwclient.errors.MaximumRetriesExceeded:
                reason = "the server is lagged"
            except RequestDeadline as exc:
                reason = f"no complete reply within {exc.seconds:g} s (request_deadline)"
            except (requests.ConnectionError, requests.Timeout) as exc:
                reason = "timed out" if isinstance(exc, requests.Timeout) else "connection failed"
            except (ValueError, TypeError, requests.exceptions.ContentDecodingError) as exc:
                if self._lagged():
                    # mwclient reads a lagged reply's Retry-After with int(): "inf", a date
                    # or none at all fail there; the header is read here instead.
                    reason = "the server is lagged"
                elif isinstance(exc, TypeError):
                    raise
                elif isinstance(exc, requests.exceptions.ContentDecodingError):
                    reason = f"malformed reply ({exc})"
                else:  # a truncated JSON body
                    reason = f"malformed reply ({exc.__class__.__name__})"
            asked = retry_after(self.last_response)
            if asked is not None and asked > self.wiki.max_retry_after:
                raise WikiError(
                    f"{self.name}: {self.wiki.api_url} not reachable now: {reason}, "
                    f"and it asks to wait {wait_span(asked)} (Retry-After), more than "
                    f"max_retry_after ({wait_span(self.wiki.max_retry_after)}); "
                    "will retry on the next poll"
                )
            if attempt >= self.max_retries:
                raise WikiError(
                    f"{self.name}: {self.wiki.api_url} not reachable: {reason} "
                    f"(after {attempt + 1} tries); will retry on the next poll"
                )
            wait = self.backoff.delay(attempt, asked)
            log.warning("%s: %s; retrying in %.1f s", self.name, reason, wait)
            self.sleep(wait)
            attempt += 1

    def _lagged(self) -> bool:
        response = self.last_response
        return response is not None and "X-Database-Lag" in response.headers

    def query(self, **params: object) -> Iterator[dict]:
        """A query followed through its continuations (at most ``max_continuations``)."""
        rounds = Continuation(self)
        cont: dict | None = {}
        while cont is not None:
            result = self.call("query", **params, **cont)
            yield result
            cont = rounds.next(result)

    # --- the source interface -------------------------------------------------------------

    def check(self, *, with_site_info: bool = False) -> None:
        """Fail clearly when the URL is not a MediaWiki, and log in when configured; with
        ``with_site_info`` the same request reads what ``site_info`` returns next."""
        if self._checked:
            return
        siprop = SITE_INFO_PROPS if with_site_info else "general"
        result = self.call("query", meta="siteinfo", siprop=siprop)
        general = result.get("query", {}).get("general")
        if not general or "generator" not in general:
            raise WikiError(
                f"{self.wiki.api_url} does not look like a MediaWiki api.php "
                "(no siteinfo); check api_url"
            )
        if with_site_info:
            self._site_info = self._read_site_info(result)
        if self.wiki.login is not None:
            self.login()
        self._checked = True

    def site_info(self) -> SiteInfo:
        """What wikitext means on this wiki: namespaces and their aliases, interwiki and
        interlanguage prefixes, extension tags, magic words (one request; none more when
        it is the source's first, its check reading them)."""
        self.check(with_site_info=True)
        if self._site_info is not None:
            site, self._site_info = self._site_info, None
            return site
        return self._read_site_info(self.call("query", meta="siteinfo", siprop=SITE_INFO_PROPS))

    def _read_site_info(self, result: dict) -> SiteInfo:
        query = result.get("query")
        if not isinstance(query, dict) or "namespaces" not in query:
            raise WikiError(
                f"{self.wiki.api_url} answered siteinfo without namespaces; check api_url"
            )
        return SiteInfo.from_api(query)

    def login(self) -> None:
        login = self.wiki.login
        assert login is not None
        password = login.password()
        self.requests += 2  # token + login
        try:
            self.site.login(login.username, password)
        except mwclient.errors.LoginError as exc:
            raise WikiError(
                f"{self.name}: login as {login.username} failed "
                f"({exc.args[1].get('result') if len(exc.args) > 1 else exc}): "
                f"check the bot password in ${login.password_env}"
            ) from None
        except (requests.RequestException, mwclient.errors.MwClientError) as exc:
            raise WikiError(f"{self.name}: login failed: {exc}") from None

    def page_status(
        self, pageids: Iterable[int] = (), titles: Iterable[str] = ()
    ) -> list[PageStatus]:
        """Latest revision id of each page, without content: one request per 50 pages."""
        self.check()
        out: list[PageStatus] = []
        for key, values in (("pageids", list(pageids)), ("titles", list(titles))):
            for start in range(0, len(values), BATCH):
                chunk = values[start : start + BATCH]
                result = self.call("query", prop="info", **{key: "|".join(map(str, chunk))})
                out.extend(page_statuses(result.get("query", {}), key, chunk))
        return out

    def set_members(
        self,
        kind: str,
        target: str,
        *,
        depth: int = 0,
        namespace: int | None = None,
        limit: int | None = None,
    ) -> list[Member]:
        """The pages of a watch set (a kind of SET_KINDS), sorted by title, one per page id;
        WikiError past ``limit`` pages."""
        try:
            return self._lists.set_members(
                kind, target, depth=depth, namespace=namespace, limit=limit
            )
        finally:
            self.last_tree = self._lists.last_tree

    def recent_changes(self, cursor: RcCursor | None) -> ChangeFeed:
        """The wiki's recent changes since ``cursor`` (None: only where they stand now)."""
        return self._lists.recent_changes(cursor)

    def templates_of(self, pageids: Iterable[int]) -> dict[int, list[Member]]:
        """The existing templates and modules each page transcludes, by page id."""
        return self._lists.templates_of(pageids)

    def user_groups(self, names: Iterable[str]) -> dict[str, tuple[str, ...] | None]:
        """Each user's groups on the wiki (``list=users&usprop=groups``, 50 a request):
        None for a name the wiki has no account of; an IP address is in no group. Imported
        names ("prefix>Name", users of another wiki) are not asked."""
        self.check()
        wanted = sorted({name for name in names if name and ">" not in name and "|" not in name})
        out: dict[str, tuple[str, ...] | None] = {}
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start : start + BATCH]
            result = self.call("query", list="users", ususers="|".join(chunk), usprop="groups")
            for user in result.get("query", {}).get("users", []):
                name = user.get("name")
                if not isinstance(name, str):
                    continue
                if user.get("missing"):
                    out[name] = None
                else:  # an IP address is "invalid": no account, no groups
                    out[name] = tuple(str(g) for g in user.get("groups") or ())
        return out

    def log_events(self, since: str) -> list[LogEvent]:
        """The log entries since a time that may change stored histories (recent changes'
        log entries: one request for every type; they reach back 30-90 days)."""
        self.check()
        events = []
        for result in self.query(
            list="recentchanges",
            rctype="log",
            rcdir="newer",
            rcstart=since,
            rcprop="title|ids|timestamp|loginfo",
            rclimit="max",
        ):
            for rc in result.get("query", {}).get("recentchanges", []):
                if rc.get("logtype") not in HISTORY_LOGS:
                    continue
                others = log_titles(rc.get("logparams"))
                events.append(
                    LogEvent(
                        str(rc.get("logtype")),
                        str(rc.get("logaction", "")),
                        str(rc.get("title", "")),
                        rc.get("pageid") or None,
                        str(rc.get("timestamp", "")),
                        others,
                    )
                )
        return events
