"""The reader view in a real headless Chromium (Debian's chromium, driven by Playwright): a
reader digest's HTML e-mail and the web diff's Reader / Wikitext switch, screenshots kept
as test artifacts ($TRACKER_ARTIFACTS/reader_view, or the test's tmp_path; their paths are
printed). The page (tests/readerpages.py) has hostile text: nothing of it runs, and no
request leaves the page."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from readerpages import reader_tracker

from tracker.config import load_config
from tracker.web import create_app

# The browser and artifacts fixtures are conftest.py's: without Chromium these tests skip,
# or fail when TRACKER_REQUIRE_BROWSER is set (CI).


class Guard:
    """What a page did that it must not: dialogs, script errors, requests elsewhere."""

    def __init__(self, page, allowed: str) -> None:  # noqa: ANN001
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.elsewhere: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "request",
            lambda r: None if r.url.startswith(allowed) else self.elsewhere.append(r.url),
        )

    def clean(self) -> bool:
        return not (self.dialogs or self.errors or self.elsewhere)


def test_reader_digest_html_in_chromium(tmp_path: Path, browser, artifacts: Path) -> None:
    t = reader_tracker(tmp_path, formats=["html"])
    t.deliver()
    (html_file,) = (tmp_path / "digests").glob("*-2.html")
    page = browser.new_page(viewport={"width": 800, "height": 900})
    guard = Guard(page, html_file.as_uri())
    try:
        page.goto(html_file.as_uri())
        page.wait_for_load_state("load")
        shot = artifacts / "reader-digest.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"reader digest screenshot: {shot}")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

        words = page.locator(".reader-words")
        assert words.count() == 2 and words.first.is_visible()
        text = " ".join(words.all_inner_texts())
        # Link labels, not wikitext.
        assert "relations between Pakistan and NATO" in text
        assert "[[" not in text and "{{" not in text and "'''" not in text
        assert page.locator(".rd-link", has_text="NATO").first.is_visible()
        ins = page.locator(".reader-words ins", has_text="Permanent Representative")
        assert ins.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(209, 247, 218)"
        lines = page.locator(".reader-lines li").all_inner_texts()
        assert "Infobox: envoytitle1: Ambassador → Permanent Representative" in lines
        hidden = page.locator(".reader-hidden").inner_text()
        assert hidden.startswith("Not visible to readers:") and "1 category added" in hidden
        # The hostile text: shown as text, nothing runs, nothing is fetched.
        assert "javascript:alert(1) click here" in text
        assert page.locator("script, img, iframe, [onerror], [onclick]").count() == 0
        assert page.eval_on_selector_all("a", "as => as.map(a => a.href)") and all(
            h.startswith(("http://tracker.example/", "https://w.example/"))
            for h in page.eval_on_selector_all("a", "as => as.map(a => a.href)")
        )
        assert guard.clean(), (guard.dialogs, guard.errors, guard.elsewhere)
    finally:
        page.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The history browser of the reader page on a free loopback port (waitress)."""
    from waitress.server import create_server

    t = reader_tracker(tmp_path_factory.mktemp("reader-web"))
    app = create_app(load_config(t.path).database_path)
    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=10)


def test_web_diff_reader_wikitext_switch(site: str, browser, artifacts: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    guard = Guard(page, site)
    try:
        page.goto(f"{site}/diff/w/Reader_page?from=500&to=501")
        switch = page.get_by_role("navigation", name="Diff view")
        assert switch.is_visible()
        reader_link = switch.get_by_role("link", name="Reader")
        wikitext_link = switch.get_by_role("link", name="Wikitext")
        assert reader_link.get_attribute("aria-current") == "true"
        assert wikitext_link.get_attribute("aria-current") is None
        shot = artifacts / "diff-reader.png"
        page.screenshot(path=str(shot), full_page=True)
        reader = " ".join(page.locator(".rdiff.inline").all_inner_texts())
        assert "relations between Pakistan and NATO" in reader
        assert "[[" not in page.locator(".diff").inner_text()
        assert "Not visible to readers:" in page.locator(".reader-hidden").first.inner_text()

        # Side by side keeps the reader view, and the switch keeps the layout.
        page.get_by_role("link", name="Side by side").click()
        assert page.locator(".sbs .rdiff").first.is_visible()
        assert "mode=side" in page.url and "view=reader" in page.url
        assert "mode=side" in (wikitext_link.get_attribute("href") or "")
        page.screenshot(path=str(artifacts / "diff-reader-side.png"), full_page=True)

        wikitext_link.click()
        page.wait_for_url(re.compile(r"view=wikitext"))
        assert "mode=side" in page.url and "from=500" in page.url and "to=501" in page.url
        switch = page.get_by_role("navigation", name="Diff view")
        assert switch.get_by_role("link", name="Wikitext").get_attribute("aria-current") == "true"
        shot2 = artifacts / "diff-wikitext.png"
        page.screenshot(path=str(shot2), full_page=True)
        print(f"web switch screenshots: {shot} {shot2}")
        markup = page.locator(".diff").inner_text()
        assert "[[International relations|" in markup and "{{Use dmy dates}}" in markup
        # The hostile text shows as text in the wikitext, and runs in neither view.
        assert '<script>alert("x")</script>' in markup
        assert page.locator("main script, main img, [onerror]").count() == 0

        switch.get_by_role("link", name="Reader").click()
        page.wait_for_url(re.compile(r"view=reader"))
        assert "mode=side" in page.url
        assert guard.clean(), (guard.dialogs, guard.errors, guard.elsewhere)
    finally:
        context.close()
