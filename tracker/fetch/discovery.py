"""From what a user pastes (a wiki page's URL, or a title) to a watch: the wiki's api.php
found by MediaWiki's own discovery, the page's title read from the URL as the wiki builds
it, and the config edited to watch it (``watch_page``, which `tracker watch add` and
`tracker watch import` call).

Discovery asks what MediaWiki publishes for it: every page's HTML names the API in
``<link rel="EditURI" href=".../api.php?action=rsd">``. Without that link, the two usual
places (``/w/api.php``, ``/api.php``) are tried. A candidate counts only when it answers
``meta=siteinfo`` as a MediaWiki does; its ``articlepath`` (``/wiki/$1``) then says which
part of the URL is the title. Requests go through the same bounded transport and polite
User-Agent as polling.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import requests

from tracker.config import DEFAULT_CONTACT, Config, Watch, Wiki
from tracker.config.edit import ConfigEdit, clean_title, pick_wiki
from tracker.errors import UsageError, WikiError
from tracker.fetch.api import ApiSource, user_agent
from tracker.fetch.transport import BoundedAdapter, Limits, ReplyTooLarge, RequestDeadline

GUESSES = ("/w/api.php", "/api.php")  # Wikimedia's layout, then a wiki at the site's root
PAGE_LIMIT = 8 * 1024 * 1024  # bytes of a page's HTML read to find its EditURI link


def is_url(text: str) -> bool:
    return text.strip().lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class FoundPage:
    api_url: str
    title: str
    exists: bool


@dataclass(frozen=True)
class Added:
    """What watch_page did: the new watch, and the wiki it added (None: one configured)."""

    watch: Watch
    wiki: Wiki | None = None
    exists: bool | None = None  # whether the wiki has the page (None: not asked)


class _EditUri(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link" or self.href is not None:
            return
        values = dict(attrs)
        if "edituri" in (values.get("rel") or "").lower().split() and values.get("href"):
            self.href = values["href"]


def title_from_url(url: str, general: dict) -> str | None:
    """The page title in a wiki URL, read by the wiki's siteinfo: ``?title=X``, its
    articlepath (``/wiki/$1``) or its script's path info (``/index.php/X``)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if query.get("title"):
        return query["title"][0]
    paths = []
    articlepath = str(general.get("articlepath") or "")
    if "$1" in articlepath and "?" not in articlepath:
        paths.append(articlepath)
    script = str(general.get("script") or "")
    if script:
        paths.append(script + "/$1")
    for pattern in paths:
        prefix, _, suffix = pattern.partition("$1")
        path = parts.path
        if path.startswith(prefix) and path.endswith(suffix) and len(path) > len(prefix + suffix):
            return unquote(path[len(prefix) : len(path) - len(suffix)])
    return None


class Discovery:
    """Finds the api.php and title behind page URLs; remembers each wiki it found, so that
    more URLs of the same wiki (`tracker watch import`) need one request each."""

    def __init__(
        self,
        *,
        contact: str = DEFAULT_CONTACT,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ):
        self.contact = contact
        self.timeout = timeout
        self.session = session or requests.Session()
        adapter = BoundedAdapter(Limits(deadline=timeout * 2, max_bytes=PAGE_LIMIT))
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent(contact)
        self.session.headers["Accept-Encoding"] = "gzip"
        self.known: dict[str, dict] = {}  # api.php URL -> its siteinfo's general part

    def page(self, url: str) -> FoundPage:
        """The api.php and the title of a page URL; WikiError when there is no MediaWiki
        behind it, UsageError when the URL names no page."""
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"{url!r} is not an http(s) URL of a wiki page")
        for api_url, general in self.known.items():
            title = title_from_url(url, general)
            if urlsplit(api_url).netloc == parts.netloc and title:
                return self._found(api_url, title)
        final, href = self._edit_uri(url)
        origin = f"{urlsplit(final).scheme}://{urlsplit(final).netloc}"
        candidates = [urljoin(final, href).split("?")[0].split("#")[0]] if href else []
        candidates += [origin + guess for guess in GUESSES if origin + guess not in candidates]
        problems = []
        for candidate in candidates:
            try:
                general = self._siteinfo(candidate)
            except WikiError as exc:
                problems.append(str(exc))
                continue
            title = title_from_url(final, general) or title_from_url(url, general)
            if not title:
                shown = f"{general.get('server', origin)}{general.get('articlepath', '/wiki/$1')}"
                raise UsageError(
                    f"{url} names no page of {general.get('sitename', 'the wiki')} "
                    f"(its pages are at {shown})"
                )
            return self._found(candidate, title)
        tried = "EditURI link " + ("found" if href else "absent")
        raise WikiError(
            f"{url}: no MediaWiki API found ({tried}; {', '.join(candidates)} did not answer "
            f"siteinfo{': ' + problems[-1] if problems else ''}); add the wiki's api_url to "
            "[[wikis]] by hand"
        )

    def _edit_uri(self, url: str) -> tuple[str, str | None]:
        """The page's address after redirects, and the href of its EditURI link."""
        try:
            response = self.session.get(url, timeout=self.timeout)
        except ReplyTooLarge:
            return url, None  # no EditURI within the bytes read: try the usual places
        except RequestDeadline as exc:
            raise WikiError(
                f"{url}: not reachable: no complete reply within {exc.seconds:g} s"
            ) from None
        except requests.TooManyRedirects:
            raise WikiError(f"{url}: redirects in a loop; check the address") from None
        except requests.Timeout:
            raise WikiError(f"{url}: not reachable: timed out; check the address") from None
        except requests.RequestException as exc:
            reason = "connection failed" if isinstance(exc, requests.ConnectionError) else exc
            raise WikiError(f"{url}: not reachable: {reason}; check the address") from None
        # A missing page answers 404 with the wiki's whole skin, EditURI link included.
        parser = _EditUri()
        if "html" in response.headers.get("Content-Type", "html"):
            parser.feed(response.text)
        return response.url or url, parser.href

    def _source(self, api_url: str) -> ApiSource:
        host = urlsplit(api_url).hostname or api_url
        wiki = Wiki(host, api_url=api_url, contact=self.contact, timeout=self.timeout)
        return ApiSource(wiki, session=self.session, max_retries=0)

    def _siteinfo(self, api_url: str) -> dict:
        if api_url in self.known:
            return self.known[api_url]
        try:
            source = self._source(api_url)
        except WikiError as exc:
            raise WikiError(str(exc)) from None
        result = source.call("query", meta="siteinfo", siprop="general")
        general = result.get("query", {}).get("general")
        if not isinstance(general, dict) or "generator" not in general:
            raise WikiError(f"{api_url} does not answer siteinfo as a MediaWiki api.php does")
        self.known[api_url] = general
        return general

    def _found(self, api_url: str, title: str) -> FoundPage:
        """The title as the wiki spells it (its own normalisation), and whether it exists."""
        title = clean_title(title)
        result = self._source(api_url).call("query", titles=title)
        query = result.get("query", {})
        for item in query.get("normalized", []):
            if item.get("from") == title:
                title = str(item.get("to"))
        pages = query.get("pages") or [{}]
        if pages[0].get("invalid"):
            raise UsageError(f"{title!r} is not a valid page title on {api_url}")
        return FoundPage(api_url, title, exists=not pages[0].get("missing", False))


def same_api(a: str, b: str) -> bool:
    """Whether two api.php URLs are the same wiki (http and https alike, host in any case,
    the default port written or not)."""

    def key(url: str) -> tuple[str, int | None, str]:
        parts = urlsplit(url.strip())
        port = parts.port if parts.port not in (80, 443) else None
        return (parts.hostname or "", port, parts.path.rstrip("/"))

    return key(a) == key(b)


def wiki_name(config: Config, api_url: str) -> str:
    """A name for a new wiki: its host ("de.wikipedia.org"), made unique with -2, -3..."""
    host = urlsplit(api_url).hostname or "wiki"
    base = host.removeprefix("www.")
    names = {w.name for w in config.wikis}
    name, n = base, 1
    while name in names:
        n += 1
        name = f"{base}-{n}"
    return name


def operator_contact(config: Config) -> str:
    """The contact the operator gave for another wiki: the new one is theirs too."""
    for wiki in config.wikis:
        if wiki.contact != DEFAULT_CONTACT:
            return wiki.contact
    return DEFAULT_CONTACT


def watch_page(
    edit: ConfigEdit,
    page: str,
    *,
    wiki: str | None = None,
    interval: str | None = None,
    discovery: Discovery | None = None,
) -> Added:
    """Add a watch to the config being edited: a title on the given (or only) wiki, or a
    page URL, whose wiki is added when no configured wiki has its api.php."""
    config = edit.config
    if not is_url(page):
        target = pick_wiki(config, wiki)
        return Added(edit.add_watch(target.name, page, interval))
    discovery = discovery or Discovery(contact=operator_contact(config))
    found = discovery.page(page)
    known = [w for w in config.wikis if w.api_url and same_api(w.api_url, found.api_url)]
    if wiki is not None and not any(w.name == wiki for w in known):
        chosen = pick_wiki(config, wiki)  # UsageError when there is no such wiki
        raise UsageError(
            f"{page} is a page of {found.api_url}, not of wiki {chosen.name!r} "
            f"({chosen.api_url or chosen.snapshot}); leave out --wiki"
        )
    target_name = wiki or (known[0].name if known else None)
    before = edit.checkpoint()
    new_wiki = None
    if target_name is None:
        target_name = wiki_name(config, found.api_url)
        contact = operator_contact(config)
        extra = {"contact": contact} if contact != DEFAULT_CONTACT else {}
        new_wiki = edit.add_wiki(target_name, found.api_url, **extra)
    try:
        watch = edit.add_watch(target_name, found.title, interval)
    except Exception:
        edit.restore(before)  # no wiki added without its watch
        raise
    return Added(watch, new_wiki, found.exists)
