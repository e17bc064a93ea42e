"""Reading the Action API's replies (formatversion=2) into the records the fetch stage
passes on: what prop=info says of pages, revisions with or without their text, the pages
of lists (watch sets) and recent changes. What no MediaWiki sends is one line of WikiError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from tracker.errors import WikiError
from tracker.fetch.source import Member, PageStatus, RecentChange
from tracker.model import Revision


def page_statuses(query: dict, key: str, chunk: list) -> list[PageStatus]:
    """What a prop=info reply says of each page asked for (by id or title), in order."""
    normalized = {n["from"]: n["to"] for n in query.get("normalized", [])}
    by_key: dict[object, dict] = {}
    for page in query.get("pages", []):
        by_key[
            page.get("pageid") if key == "pageids" and "pageid" in page else page.get("title")
        ] = page
    statuses = []
    for requested in chunk:
        lookup = requested if key == "pageids" else normalized.get(requested, requested)
        page = by_key.get(lookup)
        if page is None:
            statuses.append(PageStatus(requested, None, None, missing=True))
            continue
        statuses.append(
            PageStatus(
                requested=requested,
                pageid=page.get("pageid") if not page.get("missing") else None,
                title=page.get("title"),
                ns=page.get("ns", 0),
                lastrevid=page.get("lastrevid"),
                missing=bool(page.get("missing")),
                invalid=bool(page.get("invalid")),
                redirect=bool(page.get("redirect")),
                content_model=page.get("contentmodel"),
            )
        )
    return statuses


def revision_from_api(raw: dict, max_size: int | None = None) -> Revision:
    """A Revision from one formatversion=2 API revision object; one whose text is over
    ``max_size`` bytes comes without it, marked ``toolarge``."""
    try:
        slot = raw.get("slots", {}).get("main", {})
        texthidden = bool(slot.get("texthidden") or raw.get("texthidden"))
        text = slot.get("content")
        if text is None and "content" in raw:
            text = raw["content"]
        toolarge = False
        if text is not None and max_size is not None:
            size = raw.get("size")
            toolarge = (isinstance(size, int) and size > max_size) or _longer_than(text, max_size)
            if toolarge:
                text = None
        return Revision(
            revid=int(raw["revid"]),
            parentid=int(raw.get("parentid") or 0),
            timestamp=str(raw["timestamp"]),
            user=raw.get("user") if not raw.get("userhidden") else None,
            userid=raw.get("userid") if not raw.get("userhidden") else None,
            comment=raw.get("comment") if not raw.get("commenthidden") else None,
            minor=bool(raw.get("minor")),
            size=int(raw["size"])
            if raw.get("size") is not None and int(raw["size"]) >= 0
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
            toolarge=toolarge,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WikiError(
            f"malformed revision in the API reply ({exc!r}); the wiki may be "
            "misbehaving, nothing was stored from this reply"
        ) from None


def _longer_than(text: str, limit: int) -> bool:
    """Whether the text takes more than ``limit`` bytes in UTF-8, encoding it only when its
    length in characters does not decide (a character takes one to four bytes)."""
    if len(text) > limit:
        return True
    if len(text) * 4 <= limit:
        return False
    return len(text.encode("utf-8", "surrogatepass")) > limit


# --- lists and recent changes ------------------------------------------------------------


# The messages MediaWiki words a categorize change's comment with; $1 is the member.
CATEGORIZE_MESSAGES = {
    "recentchanges-page-added-to-category": True,
    "recentchanges-page-added-to-category-bundled": True,
    "recentchanges-page-removed-from-category": False,
    "recentchanges-page-removed-from-category-bundled": False,
}
ENGLISH_CATEGORIZE = {
    "recentchanges-page-added-to-category": "[[:$1]] added to category",
    "recentchanges-page-added-to-category-bundled": (
        "[[:$1]] added to category, [[Special:WhatLinksHere/$1|this page is included "
        "within other pages]]"
    ),
    "recentchanges-page-removed-from-category": "[[:$1]] removed from category",
    "recentchanges-page-removed-from-category-bundled": (
        "[[:$1]] removed from category, [[Special:WhatLinksHere/$1|this page is included "
        "within other pages]]"
    ),
}


def malformed(what: str, detail: object) -> WikiError:
    """The one-line error of a reply no MediaWiki sends."""
    return WikiError(
        f"malformed {what} in the API reply ({detail!r}); the wiki may be misbehaving, "
        "nothing was taken from this reply"
    )


def list_entries(result: dict, key: str) -> list[dict]:
    """The entries of ``list=<key>`` in a reply (none when the reply has no such list)."""
    query = result.get("query", {})
    if not isinstance(query, dict):
        raise malformed("query", type(query).__name__)
    entries = query.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise malformed(key, type(entries).__name__)
    return entries


def member_from(entry: dict, what: str) -> Member:
    """A Member from a list entry or a page of a reply (pageid, title, ns)."""
    try:
        pageid, title, ns = entry["pageid"], entry["title"], entry.get("ns", 0)
        if not isinstance(pageid, int) or not isinstance(title, str) or not isinstance(ns, int):
            raise TypeError(f"pageid {pageid!r}, title {title!r}, ns {ns!r}")
        return Member(pageid, title, ns)
    except (KeyError, TypeError) as exc:
        raise malformed(what, exc) from None


def list_members(result: dict, key: str) -> list[Member]:
    """The pages a ``list=<key>`` reply names (categorymembers, allpages, embeddedin,
    usercontribs)."""
    return [member_from(entry, key) for entry in list_entries(result, key)]


def existing_pages(result: dict) -> tuple[list[Member], list[dict]]:
    """The pages of a reply that exist (with their ids), and the others as they came
    (missing, invalid, special pages)."""
    pages = list_entries(result, "pages")
    found = [member_from(page, "pages") for page in pages if exists(page)]
    return found, [page for page in pages if not exists(page)]


def exists(page: dict) -> bool:
    return not (page.get("missing") or page.get("invalid") or page.get("special"))


def log_titles(params: object) -> tuple[str, ...]:
    """The other pages a log entry names: a move's target, a merge's destination."""
    if not isinstance(params, dict):
        return ()
    return tuple(str(params[key]) for key in ("dest_title", "target_title") if params.get(key))


def recent_change_from(raw: dict) -> RecentChange:
    """A RecentChange from one entry of ``list=recentchanges`` (formatversion=2). A log
    entry whose action is hidden comes without title; ids of 0 are None."""
    try:
        logparams = raw.get("logparams")
        return RecentChange(
            rcid=_int(raw["rcid"]),
            type=str(raw["type"]),
            title=str(raw.get("title", "")) if not raw.get("actionhidden") else "",
            pageid=_int(raw.get("pageid") or 0) or None,
            ns=_int(raw.get("ns", 0)),
            timestamp=_stamp(raw["timestamp"]),
            revid=_int(raw.get("revid") or 0) or None,
            old_revid=_int(raw.get("old_revid") or 0) or None,
            user=str(raw["user"]) if raw.get("user") is not None else None,
            logtype=str(raw["logtype"]) if raw.get("logtype") else None,
            logaction=str(raw["logaction"]) if raw.get("logaction") else None,
            titles=log_titles(logparams),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise malformed("recent change", exc) from None


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"not a number: {value!r}")
    return value


_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _stamp(value: object) -> str:
    if not isinstance(value, str) or not _STAMP.fullmatch(value):
        raise ValueError(f"not a timestamp: {value!r}")
    return value


@dataclass(frozen=True)
class CategorizeComments:
    """Reads a categorize change's comment: its member and whether it was added, from the
    messages it is worded by (name -> text with $1)."""

    messages: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, messages: dict[str, str]) -> CategorizeComments:
        return cls(tuple(sorted(messages.items())))

    def read(self, comment: str) -> tuple[str, bool] | None:
        """(the member's title, added) or None when no message words the comment."""
        for name, text in self.messages:
            match = _pattern(text).fullmatch(comment)
            if match:
                return match.group("member").strip(), CATEGORIZE_MESSAGES[name]
        return None


def _pattern(message: str) -> re.Pattern[str]:
    """A message as a pattern: $1 the member's title (the first time; the same after)."""
    parts = message.split("$1")
    if len(parts) < 2:
        return re.compile(re.escape(message))
    body = re.escape(parts[0]) + "(?P<member>.+?)"
    for part in parts[1:-1]:
        body += re.escape(part) + "(?P=member)"
    return re.compile(body + re.escape(parts[-1]), re.S)


def categorized(
    change: RecentChange, comment: object, comments: CategorizeComments
) -> RecentChange:
    """A categorize change with its ``member`` and ``added`` from its comment (left None
    when the comment is hidden or worded by no known message)."""
    if not isinstance(comment, str):
        return change
    found = comments.read(comment)
    if found is None:
        return change
    return replace(change, member=found[0], added=found[1])
