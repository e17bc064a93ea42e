"""wiki tracker: watch MediaWiki articles, keep every revision, digest what changed.

The public Python API is what this module names (listed in the README); everything else
is private by convention. Names are imported when first used, so that `import tracker`
and the `tracker` command start quickly.

    from tracker import Store, diff_texts, load_config, split_sections
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
NAME = "wiki-tracker"

# name -> "module:attribute"
_PUBLIC = {
    # configuration and errors
    "load_config": "tracker.config:load_config",
    "Config": "tracker.config:Config",
    "TrackerError": "tracker.errors:TrackerError",
    "ConfigError": "tracker.errors:ConfigError",
    "WikiError": "tracker.errors:WikiError",
    "StoreError": "tracker.errors:StoreError",
    # what crosses the stages
    "Revision": "tracker.model:Revision",
    # wikitext, pure
    "split_sections": "tracker.text.sections:split",
    "Section": "tracker.text.sections:Section",
    "heading_text": "tracker.text.headline:heading_text",
    "diff_texts": "tracker.text.diff:diff_texts",
    "TextDiff": "tracker.text.diff:TextDiff",
    "render_text": "tracker.text.diff:render_text",
    "SiteInfo": "tracker.text.siteinfo:SiteInfo",
    # the store and what feeds it
    "Store": "tracker.store:Store",
    "poll_wiki": "tracker.fetch.poll:poll_wiki",
    "poll_all": "tracker.fetch.poll:poll_all",
    "import_snapshot": "tracker.fetch.archive:import_snapshot",
    "export_snapshot": "tracker.fetch.archive:export_snapshot",
    # reading the history back
    "page_history": "tracker.history:page_history",
    "page_diff": "tracker.history:page_diff",
    # digests
    "run_digests": "tracker.digest.run:run_digests",
}

__all__ = ["NAME", "__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    target = _PUBLIC.get(name)
    if target is None:
        raise AttributeError(f"module 'tracker' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what type checkers and editors see
    from tracker.config import Config, load_config  # noqa: F401
    from tracker.digest.run import run_digests  # noqa: F401
    from tracker.errors import ConfigError, StoreError, TrackerError, WikiError  # noqa: F401
    from tracker.fetch.archive import export_snapshot, import_snapshot  # noqa: F401
    from tracker.fetch.poll import poll_all, poll_wiki  # noqa: F401
    from tracker.history import page_diff, page_history  # noqa: F401
    from tracker.model import Revision  # noqa: F401
    from tracker.store import Store  # noqa: F401
    from tracker.text.diff import TextDiff, diff_texts, render_text  # noqa: F401
    from tracker.text.headline import heading_text  # noqa: F401
    from tracker.text.sections import Section  # noqa: F401
    from tracker.text.sections import split as split_sections  # noqa: F401
    from tracker.text.siteinfo import SiteInfo  # noqa: F401
