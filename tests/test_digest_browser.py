"""The HTML digest in a real headless Chromium (Debian's chromium, driven by Playwright):
rendered to a screenshot kept as a test artifact, and checked to show the changed sections
with their highlights, and to run nothing from hostile wiki values.

Screenshots are kept under $TRACKER_ARTIFACTS/digest (or the test's tmp_path); their paths
are printed (pytest -s, or in the report of a failure).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hostile import (
    HOSTILE,
    HOSTILE_VALUES,
    apprise_email_html,
    hostile_model,
    python_markdown_apprise,
)
from seedstages import Tracker, seed_config

from tracker.digest.render import render_digest

# The browser and artifacts fixtures are conftest.py's: without Chromium these tests skip,
# or fail when TRACKER_REQUIRE_BROWSER is set (CI).


def open_digest(browser, path: Path, width: int = 800):  # noqa: ANN001, ANN201
    page = browser.new_page(viewport={"width": width, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, dialogs


def test_digest_html_renders_the_changed_sections(tmp_path: Path, browser, artifacts: Path) -> None:
    t = Tracker(
        seed_config(
            tmp_path,
            {
                "name": "browser",
                "formats": ["html"],
                "view": "wikitext",  # the reader view: test_reader_digest_browser.py
                "channels": [{"type": "file", "path": "digests"}],
            },
            revisions=9,
            web="http://tracker.example",
        )
    )
    t.stage(9)
    t.deliver()
    t.stage(None)
    t.deliver()
    (html_file,) = (tmp_path / "digests").glob("*-2.html")
    page, dialogs = open_digest(browser, html_file)
    try:
        shot = artifacts / "digest.png"
        page.screenshot(path=str(shot), full_page=True)
        narrow = artifacts / "digest-phone.png"
        page.set_viewport_size({"width": 380, "height": 800})
        page.screenshot(path=str(narrow), full_page=True)
        print(f"digest screenshots: {shot} {narrow}")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000

        headings = [h.strip() for h in page.locator(".section h3").all_inner_texts()]
        titles = [
            re.sub(r"\s*(added|removed|renamed|moved|edited)$", "", h.split("\n")[0])
            for h in headings
        ]
        assert {t.strip() for t in titles} == {
            "(lead)",
            "Military relations and understanding › Stability in Afghanistan and Central Asia",
            "References",
            "NATO supply routes",
        }
        for section in page.locator(".section").all():
            assert section.is_visible()
        body = page.inner_text("body")
        assert "1 edit by 203.0.113.9 reverted by RevertBot 22 seconds later" in body
        assert "ali was here" not in body
        # Highlights keep their inline colours (no stylesheet to lose in a mail client).
        ins = page.locator("ins").first
        assert ins.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(209, 247, 218)"
        deleted = page.locator("del").first
        assert "line-through" in deleted.evaluate("e => getComputedStyle(e).textDecorationLine")
        link = page.locator("a", has_text="history browser").first.get_attribute("href")
        assert link and link.startswith("http://tracker.example/diff/")
        # Readable on a phone: nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 400
        assert dialogs == []
    finally:
        page.close()


def test_digest_html_runs_nothing_from_hostile_values(
    tmp_path: Path, browser, artifacts: Path
) -> None:
    path = tmp_path / "hostile.html"
    model = hostile_model()
    model["pages"][0]["title"] = HOSTILE + '<img src=x onerror="alert(1)">'
    path.write_text(render_digest(model, ["html"])["html"], encoding="utf-8")
    page, dialogs = open_digest(browser, path)
    try:
        page.screenshot(path=str(artifacts / "hostile.png"), full_page=True)
        print(f"hostile digest screenshot: {artifacts / 'hostile.png'}")
        assert page.locator("script").count() == 0 and page.locator("img").count() == 0
        assert dialogs == []
        assert '<script>alert("x")</script>' in page.inner_text("h1")
    finally:
        page.close()


def load_and_watch(browser, path: Path):  # noqa: ANN001, ANN201
    """Open a file, waiting for every image to have loaded or failed (so that an onerror
    handler would have run), and say whether any script ran."""
    page, dialogs = open_digest(browser, path)
    page.wait_for_function("Array.from(document.images).every(i => i.complete)")
    return page, dialogs


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # apprise imports imghdr
def test_markdown_digest_as_html_email_runs_nothing(
    tmp_path: Path, browser, artifacts: Path, smtp_server
) -> None:
    """The Markdown digest of hostile values, made HTML by Python-Markdown (Apprise's
    settings) and by Apprise itself on its way to a real SMTP server: Chromium runs
    nothing of it and shows the values as text."""
    armed = [v.replace("alert(1)", "window.__pwned=1") for v in HOSTILE_VALUES]
    bodies = [
        python_markdown_apprise(render_digest(hostile_model(v), ["markdown"])["markdown"])
        for v in armed
    ]
    bodies.append(apprise_email_html(tmp_path, smtp_server))
    path = tmp_path / "markdown-digests.html"
    path.write_text(
        "<!DOCTYPE html><meta charset=utf-8><body>" + "<hr>".join(bodies), encoding="utf-8"
    )
    page, dialogs = load_and_watch(browser, path)
    try:
        page.screenshot(path=str(artifacts / "markdown-digests.png"), full_page=True)
        assert dialogs == []
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.evaluate("document.body.dataset.pwned") is None
        assert page.locator("script, img, iframe, svg, form, details, style").count() == 0
        assert page.locator("[onerror], [onload], [onclick], [onmouseover]").count() == 0
        hrefs = page.eval_on_selector_all("a", "links => links.map(a => a.href)")
        assert hrefs and all(h.startswith("https://w.example/") for h in hrefs), hrefs
        text = page.inner_text("body")
        assert "<img src=x onerror=window.__pwned=1>" in text
        assert "<script>window.__pwned='summary'</script>" in text
    finally:
        page.close()
