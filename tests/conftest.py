"""Shared fixtures. Sections: markers, real MediaWiki (more to come: store, SMTP, HTTP)."""

from __future__ import annotations

import os
import tempfile

# Hypothesis keeps its example database in the working directory by default; tests never
# write into the source tree.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY",
                      os.path.join(tempfile.gettempdir(), "wiki-tracker-hypothesis"))
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# tests/ has no __init__.py: pytest puts this directory on sys.path, so this is
# tests/mediawiki.py.
from mediawiki import TestWiki

# ---- markers ----------------------------------------------------------------------------

WIKI_FIXTURES = {"mediawiki", "make_wiki"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mediawiki: needs a real MediaWiki on loopback (Debian's mediawiki package); "
        "added automatically to tests using the mediawiki or make_wiki fixture",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # So that `pytest -m "not mediawiki"` runs the quick unit tests only.
    for item in items:
        if WIKI_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mediawiki)


# ---- a real MediaWiki -------------------------------------------------------------------


@pytest.fixture(scope="session")
def mediawiki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestWiki]:
    """One MediaWiki for the whole session; tests sharing it use titles of their own."""
    wiki = TestWiki.start(tmp_path_factory.mktemp("mediawiki"))
    yield wiki
    wiki.stop()


@pytest.fixture
def make_wiki(tmp_path: Path) -> Iterator[Callable[..., TestWiki]]:
    """Factory of fresh wikis (0.1-0.3 s each), all stopped at teardown: make_wiki(port=None)."""
    wikis: list[TestWiki] = []

    def make(port: int | None = None) -> TestWiki:
        wiki = TestWiki.start(tmp_path / f"wiki-{len(wikis)}", port=port)
        wikis.append(wiki)
        return wiki

    yield make
    for wiki in wikis:
        wiki.stop()
