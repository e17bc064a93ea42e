"""The history browser: a read-only web UI over the store (`tracker serve`).

URL scheme (other components link to it; keep it stable):

    /                                   the watched pages
    /page/<page_id>?page=N              a page's revision history, newest first
    /diff/<page_id>?from=REVID&to=REVID a section-level diff (mode=inline|side)
    /rev/<page_id>/<revid>              one revision: its section tree and wikitext
    /section/<page_id>/<section_id>     every revision that changed one section
    /search?q=...                       phrase search across every stored revision
    /digests, /digests/<id>             delivered digests, as rendered
    /feeds/page/<page_id>.atom          Atom feed of a page's revisions
    /feeds/subscription/<name>.atom     Atom feed of a subscription's digests

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
