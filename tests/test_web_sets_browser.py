"""Watch sets in a real headless Chromium (Debian's chromium, driven by Playwright), the app
served by waitress on 127.0.0.1 as `tracker serve` serves it: from the pages list to a set,
its members and those that left, on to a member's history; hostile titles, target and error
shown as text, nothing run. Screenshots under $TRACKER_ARTIFACTS/web_sets."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from setstore import HOSTILE_KEY, build_set_store
from webstore import HOSTILE_TITLE

from tracker.web import create_app


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from waitress.server import create_server

    stored = build_set_store(tmp_path_factory.mktemp("sets-browser"))
    server = create_server(create_app(stored["path"]), host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield {**stored, "url": f"http://127.0.0.1:{server.effective_port}"}
    server.close()
    thread.join(timeout=10)


def test_browse_from_the_pages_list_to_a_set_and_a_member(site: dict, browser, artifacts: Path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    errors: list[str] = []
    dialogs: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        tab.goto(site["url"] + "/")
        sets = tab.get_by_role("region", name="Watch sets")
        assert sets.is_visible()
        tab.screenshot(path=artifacts / "1-pages.png", full_page=True)
        sets.get_by_role("link", name="category:Physics", exact=True).click()
        tab.wait_for_url(re.compile(r"/sets/local/category:Physics$"))
        assert tab.get_by_role("heading", name="category:Physics").is_visible()
        members = tab.locator("table.members tbody tr")
        assert members.count() == 5
        assert HOSTILE_TITLE in members.first.inner_text()  # shown as text
        left = tab.locator("table.left tbody tr")
        assert left.count() == 1 and "Beta" in left.first.inner_text()
        assert "2026-12-02 10:00" in left.first.inner_text()
        warn = tab.locator("p.warn")
        assert "<script>window.__pwned='error'</script>" in warn.inner_text()
        tab.screenshot(path=artifacts / "2-set.png", full_page=True)

        tab.locator("table.members").get_by_role("link", name="Alpha").click()
        tab.wait_for_url(re.compile(r"/wiki/local/Alpha$"))
        assert tab.get_by_role("heading", name="Alpha").is_visible()
        tab.screenshot(path=artifacts / "3-member.png", full_page=True)

        tab.goto(site["url"] + "/")
        tab.get_by_role("region", name="Watch sets").get_by_role("link", name=HOSTILE_KEY).click()
        tab.wait_for_url(re.compile(r"/sets/local/category:"))
        assert tab.get_by_role("heading", name=HOSTILE_KEY).is_visible()
        tab.screenshot(path=artifacts / "4-hostile-set.png", full_page=True)
        assert tab.evaluate("window.__pwned") is None
        assert errors == [] and dialogs == []
    finally:
        context.close()
    # At a phone's width the set's page scrolls down, never sideways.
    phone = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    try:
        tab = phone.new_page()
        tab.goto(site["url"] + "/sets/local/category:Physics")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 375
        tab.screenshot(path=artifacts / "5-set-phone.png", full_page=True)
    finally:
        phone.close()
