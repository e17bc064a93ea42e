"""Reading the Action API's replies (formatversion=2) into the records the fetch stage
passes on: what prop=info says of pages, and revisions with or without their text."""

from __future__ import annotations

from tracker.errors import WikiError
from tracker.fetch.source import PageStatus
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
