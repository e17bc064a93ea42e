"""The fixtures shared by the test modules, and a map of the helpers beside them.

Fixtures (below): ``mediawiki`` (one real MediaWiki for the session) and ``make_wiki``
(fresh ones); ``smtp_server`` and ``smtp_server_factory`` (aiosmtpd on loopback);
``http_receiver`` (a scripted HTTP receiver); ``browser`` (Debian's Chromium through
Playwright) and ``artifacts`` (where a test keeps its screenshots).

Helper modules, one per kind, imported by name (this directory is on sys.path; no test
module imports another):

- ``waits``: ``wait_until``, the one way a test waits for something (a deadline, no sleep);
- ``trackerutil``: config files (``write_config``, the one TOML writer) and CLI runs;
- ``processes``: the tracker as a process (``DaemonProcess``) and its database read while
  it runs;
- ``loopback``: free ports, the SMTP server and the HTTP receiver behind the fixtures;
- ``seedstages``: the bundled seed history arriving in stages, polled and digested;
- ``hostile``: hostile wiki values for the digests; ``webstore``: the store the web tests
  browse, hostile page included; ``setstore``: a store with watch sets, for the CLI and web
  tests of sets;
- ``ssefixture``: Wikimedia's EventStreams on loopback (``SseServer``) and a real wiki's
  recent changes feed over UDP to fill it (``RcFeedReceiver``);
- ``mediawiki``: a real MediaWiki (``TestWiki``); ``faultproxy``: faults between the
  tracker and a wiki; ``genhistory``: generated histories; ``realcorpus``: the corpus of
  real histories; ``mwsections``/``parsertests``: MediaWiki's own rules and parser tests.

Environment: ``TRACKER_REQUIRE_BROWSER`` (set by .ci/run) makes a missing Chromium or
Playwright a failure instead of a skip, as ``TRACKER_REQUIRE_REAL_CORPUS`` does for the
corpus; ``TRACKER_ARTIFACTS`` keeps screenshots there instead of in the test's tmp_path.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile

# Hypothesis keeps its example database in the working directory by default; tests never
# write into the source tree.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "wiki-tracker-hypothesis")
)
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from loopback import HttpReceiver, SmtpServer, start_smtp

# tests/ has no __init__.py: pytest puts this directory on sys.path, so this is
# tests/mediawiki.py.
from mediawiki import TestWiki

# CI gates main: there the property tests draw the same examples every run (a commit is
# green or not, whatever the seed). Runs elsewhere explore new examples each time and keep
# failures in the example database; add what they find as an @example.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

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


# ---- receivers on loopback: SMTP, HTTP ----------------------------------------------------


@pytest.fixture
def smtp_server_factory(tmp_path: Path) -> Iterator[Callable[..., SmtpServer]]:
    """Start SMTP servers: smtp_server_factory(tls=None|"starttls"|"ssl", login=None|
    (user, password), refusal=None, port=None); all stopped at teardown."""
    started: list[tuple[SmtpServer, Any]] = []

    def start(**options: Any) -> SmtpServer:
        server, controller = start_smtp(tmp_path, **options)
        started.append((server, controller))
        return server

    yield start
    for server, controller in started:
        server.release.set()  # a message held in DATA ends
        controller.stop()


@pytest.fixture
def smtp_server(smtp_server_factory: Callable[..., SmtpServer]) -> SmtpServer:
    """A plain SMTP server on 127.0.0.1 keeping what it receives."""
    return smtp_server_factory()


@pytest.fixture
def http_receiver() -> Iterator[Callable[..., HttpReceiver]]:
    """http_receiver(statuses=[500, 500, 200], echo=False) -> a running HttpReceiver;
    closed at teardown."""
    receivers: list[HttpReceiver] = []

    def start(statuses: list[int] | None = None, echo: bool = False) -> HttpReceiver:
        receiver = HttpReceiver(statuses, echo)
        receivers.append(receiver)
        return receiver

    yield start
    for receiver in receivers:
        receiver.close()


# ---- a real browser -----------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium package
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def browser_missing() -> str | None:
    """What the browser tests lack on this machine, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        return f"Debian's chromium package is not installed ({CHROMIUM} is missing)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (Debian's, driven by Playwright), one per test module.

    Without it the tests using it skip, saying why; with TRACKER_REQUIRE_BROWSER set (CI
    sets it) they fail instead, so that a CI run cannot pass without them.
    """
    missing = browser_missing()
    if missing:
        if os.environ.get("TRACKER_REQUIRE_BROWSER"):
            pytest.fail(
                f"{missing}; TRACKER_REQUIRE_BROWSER is set, so the browser tests "
                "must run (scripts/test.sh installs both)",
                pytrace=False,
            )
        pytest.skip(
            f"browser tests skipped: {missing} (scripts/test.sh installs it; "
            "TRACKER_REQUIRE_BROWSER=1 makes this a failure)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def artifacts(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """Where a browser test keeps its screenshots: $TRACKER_ARTIFACTS/<web|digest>/<test>
    (the test's tmp_path without TRACKER_ARTIFACTS)."""
    base = (
        Path(os.environ["TRACKER_ARTIFACTS"]) if os.environ.get("TRACKER_ARTIFACTS") else tmp_path
    )
    area = request.module.__name__.removeprefix("test_").removesuffix("_browser")
    directory = base / area / re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    directory.mkdir(parents=True, exist_ok=True)
    return directory
