"""The history browser in a real headless Chromium (Debian's chromium, driven by Playwright)
against the app served by waitress on 127.0.0.1, as `tracker serve` serves it.

Screenshots of every step are kept under $TRACKER_ARTIFACTS/web (or the test's tmp_path).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from trackerutil import SEED_TITLE
from webstore import HOSTILE_TITLE, HOSTILE_USER, build_store

from tracker.web import create_app

# The browser and artifacts fixtures are conftest.py's: without Chromium these tests skip,
# or fail when TRACKER_REQUIRE_BROWSER is set (CI).


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The app on a free loopback port, served by waitress in a thread."""
    from waitress.server import create_server

    stored = build_store(tmp_path_factory.mktemp("browser"))
    server = create_server(create_app(stored["path"]), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield {**stored, "url": f"http://127.0.0.1:{server.effective_port}"}
    server.close()
    thread.join(timeout=10)


class Watch:
    """Everything a page could do that it must not: dialogs, errors, CSP violations."""

    def __init__(self, page: object):
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("dialog", self._dialog)  # type: ignore[attr-defined]
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))  # type: ignore
        page.on("console", lambda msg: self.console.append(msg.text))  # type: ignore

    def _dialog(self, dialog: object) -> None:
        self.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def test_browse_history_diff_section_and_search(site: dict, page, artifacts: Path) -> None:
    watch = Watch(page)
    page.goto(site["url"] + "/")
    page.screenshot(path=artifacts / "1-pages.png", full_page=True)
    page.get_by_role("link", name=SEED_TITLE).first.click()
    page.wait_for_url(re.compile(rf"/wiki/{re.escape(site['keys']['seed'])}$"))
    page.screenshot(path=artifacts / "2-history.png", full_page=True)

    # Pick two far-apart revisions: from = the oldest shown, to = the newest.
    page.locator("#to-1845803").check()
    page.locator("#from-1844188").check()
    page.get_by_role("button", name="Compare selected revisions").first.click()
    page.wait_for_url(re.compile(rf"/diff/{re.escape(site['keys']['seed'])}\?"))
    assert "from=1844188" in page.url and "to=1845803" in page.url
    page.screenshot(path=artifacts / "3-diff-inline.png", full_page=True)
    inserted = page.locator(".inline ins").first
    deleted = page.locator(".inline del").first
    assert inserted.is_visible() and deleted.is_visible()
    assert "Permanent Representative" in " ".join(page.locator(".inline ins").all_inner_texts())
    background = inserted.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    contents = page.get_by_role("navigation", name="Changed sections")
    assert contents.is_visible() and "removed" in contents.inner_text()

    # Side by side, switched by the script without a reload, the URL kept bookmarkable.
    page.get_by_role("link", name="Side by side").click()
    assert page.locator(".sbs").first.is_visible()
    assert not page.locator("pre.inline").first.is_visible()
    assert "mode=side" in page.url
    page.screenshot(path=artifacts / "4-diff-side.png", full_page=True)

    # A section's own history, from the diff.
    page.locator(".dsection").first.get_by_role("link", name="section history").click()
    page.wait_for_url(re.compile(r"/section/"))
    assert page.get_by_text("Every revision that changed this section").is_visible()
    page.screenshot(path=artifacts / "5-section.png", full_page=True)

    # Search a phrase from the header box.
    page.locator("#top-q").fill("Ground Lines of Communication")
    page.locator("#top-q").press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    assert page.locator(".result mark").first.is_visible()
    assert "Appeared in #1843127" in page.locator(".presence").first.inner_text()
    page.screenshot(path=artifacts / "6-search.png", full_page=True)
    assert watch.errors == [] and watch.dialogs == []


def test_old_url_redirects_to_wiki_and_title(site: dict, page) -> None:
    """A bookmark of the former URL (by row id) lands on the page's URL by wiki and title,
    and the address bar shows the new one."""
    page.goto(f"{site['url']}/page/{site['seed']}?per=10")
    assert page.url == f"{site['url']}/wiki/{site['keys']['seed']}?per=10"
    assert page.get_by_role("heading", name=SEED_TITLE).is_visible()
    page.goto(f"{site['url']}/diff/{site['seed']}?from=1844188&to=1844397")
    assert page.url.startswith(f"{site['url']}/diff/{site['keys']['seed']}?")
    assert page.locator(".inline ins").first.is_visible()


def test_compare_radios_keep_from_older_than_to(site: dict, page) -> None:
    page.goto(f"{site['url']}/wiki/{site['keys']['seed']}")
    # Radios of impossible pairs are hidden by app.js, like MediaWiki's history.
    assert not page.locator("#from-1845803").is_visible()  # the newest cannot be "from"
    page.locator("#from-1844188").check()
    assert not page.locator("#to-1844015").is_visible()
    assert page.locator("#to-1844397").is_visible()


def test_keyboard_only_navigation(site: dict, page) -> None:
    page.goto(site["url"] + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert "Skip to content" in focused
    # Tab to the first page card link and open it with Enter (past the links of the
    # cards before it, their summaries' links included).
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == SEED_TITLE:
            break
    else:
        pytest.fail("the seed page's link was not reached by 20 tabs")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/wiki/"))
    outline = page.evaluate(
        "(() => { const b = document.querySelector('button[type=submit]'); b.focus();"
        " return getComputedStyle(b).outlineStyle; })()"
    )
    assert outline != "none"  # focus is visible


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/wiki/{seed}",
        "/diff/{seed}?from=1843012&to=1845803",
        "/rev/{seed}/1845803",
        "/search?q=NATO",
    ],
)
def test_phone_width_has_no_sideways_scroll(
    site: dict, browser, path: str, artifacts: Path
) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 800}, is_mobile=True)
    try:
        tab = context.new_page()
        tab.goto(site["url"] + path.format(seed=site["keys"]["seed"]))
        width = tab.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width}px wide"
        name = re.sub(r"\W+", "-", path).strip("-") or "index"
        tab.screenshot(path=artifacts / f"phone-{name}.png", full_page=True)
    finally:
        context.close()


def test_hostile_content_never_runs(site: dict, page, artifacts: Path) -> None:
    watch = Watch(page)
    evil = site["keys"]["evil"]
    urls = [
        f"/wiki/{evil}",
        f"/diff/{evil}",
        f"/diff/{evil}?mode=side",
        f"/rev/{evil}/9002",
        "/search?q=marker+phrase",
        "/",
        f"/feeds/wiki/{evil}.atom",
    ]
    page.goto(f"{site['url']}/rev/{evil}/9002")
    urls += [page.locator(".wsection-head a").nth(1).get_attribute("href")]
    for n, url in enumerate(urls):
        page.goto(site["url"] + url)
        page.wait_for_load_state("load")
        if not url.endswith(".atom"):
            page.screenshot(path=artifacts / f"hostile-{n}.png", full_page=True)
        # Move over and click everything the hostile text might have made interactive.
        for element in page.locator("main b, main i, main img, main svg").all()[:20]:
            element.hover()
        state = page.evaluate("""() => ({
            pwned: window.__pwned === undefined ? null : String(window.__pwned),
            handlers: [...document.querySelectorAll('*')].flatMap(el =>
                [...el.attributes].filter(a => a.name.startsWith('on')).map(a => a.name)),
            scripts: [...document.scripts].map(s => s.src),
            badLinks: [...document.querySelectorAll('[href],[src]')].map(el =>
                el.getAttribute('href') || el.getAttribute('src'))
                .filter(v => /^\\s*(javascript|data|vbscript):/i.test(v)),
        })""")
        assert state["pwned"] is None, (url, state)
        assert state["handlers"] == [], url
        assert all(src.endswith("/static/app.js") for src in state["scripts"]), url
        assert state["badLinks"] == [], url
    assert watch.dialogs == [] and watch.errors == []

    # Everything shows as text.
    page.goto(f"{site['url']}/wiki/{evil}")
    assert page.get_by_role("heading", name=HOSTILE_TITLE).is_visible()
    assert page.get_by_text(HOSTILE_USER).first.is_visible()
    assert page.get_by_text("<script>window.__pwned='summary'</script>").first.is_visible()
    page.goto(f"{site['url']}/rev/{evil}/9002")
    assert page.get_by_text("<script>window.__pwned='body'</script>", exact=False).is_visible()


def test_history_shows_summary_links_to_the_wiki(tmp_path: Path, page, artifacts: Path) -> None:
    from waitress.server import create_server
    from webstore import revision

    from tracker.fetch.ingest import PageIngestor
    from tracker.store import Store

    path = tmp_path / "summaries.db"
    with Store(path) as store:
        wiki = store.wiki_id("w", api_url="https://w.example/api.php")
        with store.atomic():
            stored = store.upsert_page(wiki, 1, "Some page")
        PageIngestor(store, wiki, stored["id"]).add(
            [
                revision(1, 0, "One.\n", comment="create"),
                revision(
                    2, 1, "One.\n\n== Early life ==\nTwo.\n",
                    comment="/* Early life */ see [[Foo bar]]s", minutes=1,
                ),
            ]
        )  # fmt: skip
    server = create_server(create_app(path), host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        page.goto(f"http://127.0.0.1:{server.effective_port}/wiki/w/Some_page")
        page.screenshot(path=artifacts / "history-summaries.png", full_page=True)
        section = page.locator("a.summary-section")
        assert section.inner_text() == "→\u200eEarly life"
        assert section.get_attribute("href") == (
            "https://w.example/index.php?title=Some_page#Early_life"
        )
        autocomment = page.locator(".autocomment").inner_text()
        assert autocomment.replace("\u200e", "").startswith("→Early life:")
        link = page.get_by_role("link", name="Foo bars")
        assert link.is_visible()
        assert link.get_attribute("href") == "https://w.example/index.php?title=Foo_bar"
    finally:
        server.close()
        thread.join(timeout=10)
