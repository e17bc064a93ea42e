"""Every Atom feed names itself (rel="self") and parses cleanly: the atom channel's file, the
web's subscription feed and page feed, made from a real `tracker run --once` on the bundled
offline configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import feedparser
import pytest
from trackerutil import REPO, tracker

from tracker.web import create_app

FILE_CHANNEL = '{ type = "file", path = "digests" }'


def run_bundled(directory: Path, atom: str) -> Path:
    """The bundled config.toml with an atom channel added, after one `tracker run --once`."""
    shutil.copytree(REPO / "snapshots", directory / "snapshots")
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    assert text.count(FILE_CHANNEL) == 1
    config = directory / "config.toml"
    config.write_text(text.replace(FILE_CHANNEL, f"{FILE_CHANNEL}, {atom}"), encoding="utf-8")
    result = tracker(config, "run", "--once")
    assert result.exit_code == 0, result.output
    return config


def self_link(feed: feedparser.FeedParserDict) -> str | None:
    return next((link.href for link in feed.feed.links if link.rel == "self"), None)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    atom = '{ type = "atom", path = "feed.atom", url = "https://feeds.example/seed.atom" }'
    return run_bundled(tmp_path_factory.mktemp("feeds"), atom)


def test_atom_channel_file_links_to_its_url(bundled: Path) -> None:
    feed = feedparser.parse((bundled.parent / "feed.atom").read_bytes())
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert self_link(feed) == "https://feeds.example/seed.atom"
    assert feed.entries


def test_atom_channel_file_without_url_links_to_the_file(tmp_path: Path) -> None:
    config = run_bundled(tmp_path, '{ type = "atom", path = "out/seed.atom" }')
    path = config.parent / "out" / "seed.atom"
    feed = feedparser.parse(path.read_bytes())
    assert feed.bozo == 0, feed.get("bozo_exception")
    # The file: URL as written (feedparser drops one slash of "file:///" when it reads it).
    uri = path.resolve().as_uri()
    assert f'<link rel="self" type="application/atom+xml" href="{uri}"/>' in path.read_text()
    assert self_link(feed) is not None


def test_web_feeds_link_to_themselves(bundled: Path) -> None:
    client = create_app(bundled).test_client()
    base = "http://localhost"
    page = "/feeds/wiki/everybodywiki-snapshot/Pakistan%E2%80%93NATO_relations.atom"
    for url in (page, "/feeds/subscription/seed-article.atom"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.mimetype == "application/atom+xml"
        feed = feedparser.parse(response.get_data())
        assert feed.bozo == 0, (url, feed.get("bozo_exception"))
        assert self_link(feed) == base + url
        assert feed.entries, url
