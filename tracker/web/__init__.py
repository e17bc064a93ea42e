"""The history browser: a read-only web UI over the store (`tracker serve`).

URL scheme (other components link to it; keep it stable):

    /                                       the watched pages
    /wiki/<wiki>/<title>?page=N             a page's revision history, newest first
    /diff/<wiki>/<title>?from=REVID&to=REVID a section-level diff (mode=inline|side)
    /rev/<wiki>/<title>/<revid>             one revision: its section tree and wikitext
    /section/<wiki>/<title>/<section_id>    every revision that changed one section
    /sets/<wiki>/<key>?page=N               a watch set ("category:Physics"): its pages with
                                            when each joined, those that left and when
    /search?q=...[&wiki=W&title=T]          phrase search across every stored revision
    /digests, /digests/<id>                 delivered digests, as rendered
    /feeds/wiki/<wiki>/<title>.atom         Atom feed of a page's revisions
    /feeds/subscription/<name>.atom         Atom feed of a subscription's digests

<wiki> is the wiki's name in config.toml, <title> the page's title as MediaWiki writes it
in URLs (spaces as underscores, "/" kept), as `tracker history --wiki WIKI TITLE` takes
it; <key> is a set's key as `tracker watch members` takes it, its target spelled the
same way. The former URLs by row id (/page/<id>, /diff/<id>, /rev/<id>/<revid>,
/section/<id>/<section>, /feeds/page/<id>.atom, /search?page_id=) redirect (308).

This package module stays light: Flask is loaded when an app is made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

__all__ = ["create_app"]


def create_app(source: Any, **options: Any) -> Flask:
    """The Flask app over a Config, a config.toml path or a database path (see app.py)."""
    from tracker.web.app import create_app as make

    return make(source, **options)
