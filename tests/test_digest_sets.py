"""Digests of watch sets (issue 14): a subscription's pages include its sets' members (and
the pages that left inside the window), each once; pages joining and leaving a set are told
in every format and view, hostile titles escaped; a template that watched pages use
(cascade) is one page, "changed (used by N watched pages)"; ``pages = ["category:..."]``
selects a set; more than 20 pages newly tracked are told in one line per set (a first
digest of a set of 50 pages, pages joining later), title watches still one by one; an
alert for a set whose list cannot be read. The store is filled directly,
as the poller fills it: pages and revisions, sets and their members, the templates used."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hostile import HOSTILE, active_html, python_markdown_apprise
from trackerutil import write_config

from tracker.config import Config, load_config
from tracker.digest.render import render_digest
from tracker.digest.run import Built, build, record, run_digests
from tracker.errors import CursorMoved
from tracker.fetch.ingest import PageIngestor
from tracker.model import Revision, sha1_hex, utc_stamp
from tracker.store import Store

T0 = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)
WIKI = "w"
API = "https://wiki.example/w/api.php"
TEMPLATE = "Template:Infobox physics"
PHYSICS = "category:Physics"
FORMATS = ("text", "markdown", "html")
FRAME = frozenset({"meta"})  # the HTML e-mail's own <meta charset>, <meta name=...>


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def stamp(minutes: float) -> str:
    return utc_stamp(at(minutes))


class World:
    """A config with watch sets and its store, filled as the poller fills it."""

    def __init__(
        self,
        path: Path,
        subscriptions: list[dict],
        watches: list[dict] | None = None,
        web: dict | None = None,
    ):
        self.path = write_config(
            path,
            wikis=[{"name": WIKI, "api_url": API, "contact": "tests@example.org"}],
            watches=watches
            or [
                {"wiki": WIKI, "category": "Physics", "cascade": True},
                {"wiki": WIKI, "prefix": "Sol", "namespace": 0},
                {"wiki": WIKI, "title": "Lone page"},
            ],
            subscriptions=subscriptions,
            web=web,
        )
        self.config: Config = load_config(self.path)
        self.store = Store(self.config.database_path)
        self.wiki_id = self.store.wiki_id(WIKI, api_url=API)
        self.revid = 100
        self.last: dict[int, int] = {}  # pageid -> its last revid
        self.sets: dict[str, int] = {}

    def page(self, pageid: int, title: str, text: str, minutes: float, ns: int = 0) -> None:
        """A page polled for the first time: its current revision, its watch."""
        with self.store.atomic():
            page = self.store.upsert_page(self.wiki_id, pageid, title, ns)
        self.edit(pageid, text, minutes)
        self.store.mark_backfilled(page["id"], stamp(minutes), checked=True)
        watch = self.store.watch(self.wiki_id, title)
        self.store.update_watch(watch["id"], page_id=page["id"])

    def edit(self, pageid: int, text: str, minutes: float, user: str = "Alice") -> None:
        page = self.store.page_by_pageid(self.wiki_id, pageid)
        assert page is not None
        self.revid += 1
        revision = Revision(
            revid=self.revid,
            parentid=self.last.get(pageid, 0),
            timestamp=stamp(minutes),
            user=user,
            userid=1,
            comment="edit",
            minor=False,
            size=len(text.encode()),
            sha1=sha1_hex(text),
            text=text,
        )
        PageIngestor(self.store, self.wiki_id, page["id"]).add([revision])
        self.last[pageid] = self.revid

    def watch_set(self, key: str, members: list[tuple[int, str, int]], minutes: float) -> int:
        """A set read for the first time: its members are no news."""
        kind, target = key.split(":", 1)
        row = self.store.watch_set(self.wiki_id, key, kind, target)
        self.store.replace_members(row["id"], members, stamp(minutes), via="first")
        self.store.mark_set_refreshed(row["id"], stamp(minutes), None)
        self.sets[key] = row["id"]
        return row["id"]

    def members(self, key: str, members: list[tuple[int, str, int]], minutes: float) -> None:
        self.store.replace_members(self.sets[key], members, stamp(minutes), via="list")

    def build(self, name: str, minutes: float) -> Built:
        sub = next(s for s in self.config.subscriptions if s.name == name)
        return build(self.store, self.config, sub, now=at(minutes))

    def digest(self, name: str, minutes: float) -> Built:
        """Build and record (the window closes: the next one starts here)."""
        sub = next(s for s in self.config.subscriptions if s.name == name)
        built = self.build(name, minutes)
        record(self.store, self.config, sub, built, at(minutes))
        return built


FIRST = [(1, "Entropy", 0), (2, "Photon", 0), (3, "Solar wind", 0)]


@pytest.fixture
def world(tmp_path: Path):
    channel = [{"type": "file", "path": "out"}]
    w = World(
        tmp_path,
        [
            {"name": "all", "formats": list(FORMATS), "channels": channel},
            {
                "name": "physics",
                "pages": [PHYSICS],
                "view": "wikitext",
                "formats": list(FORMATS),
                "channels": channel,
            },
            {"name": "one", "pages": ["Entropy"], "channels": channel},
        ],
    )
    w.page(1, "Entropy", "Entropy is a measure.\n\n== History ==\nClausius.\n", -60)
    w.page(2, "Photon", "A photon is a particle.\n\n== Mass ==\nNone.\n", -60)
    w.page(3, "Solar wind", "Solar wind is a stream.\n", -60)
    w.page(10, TEMPLATE, "{| class=infobox\n| {{{name}}}\n|}\n", -60, ns=10)
    w.page(20, "Lone page", "Alone.\n", -60)
    w.watch_set(PHYSICS, FIRST, -30)
    w.watch_set("prefix:Sol", [(3, "Solar wind", 0)], -30)
    w.watch_set(f"cascade:{PHYSICS}", [(10, TEMPLATE, 10)], -30)
    w.store.set_template_uses(w.wiki_id, {1: [10], 2: [10], 3: [10]})
    yield w
    w.store.close()


def second_window(w: World) -> None:
    """After the first digests: Photon and Entropy edited, the template too; Photon
    leaves the category, Quantum foam joins it (and is polled); Solstice joins prefix:Sol."""
    w.edit(2, "A photon is a massless particle.\n\n== Mass ==\nNone.\n", 5, user="Bob")
    w.edit(1, "Entropy is a measure of disorder.\n\n== History ==\nClausius.\n", 6)
    w.edit(10, "{| class=infobox wide\n| {{{name}}}\n|}\n", 7, user="Tpl")
    w.members(PHYSICS, [(1, "Entropy", 0), (3, "Solar wind", 0), (4, "Quantum foam", 0)], 10)
    w.page(4, "Quantum foam", "Quantum foam is a concept.\n", 10)
    w.members("prefix:Sol", [(3, "Solar wind", 0), (5, "Solstice", 0)], 12)


def titles(built: Built) -> list[str]:
    assert built.model is not None
    return [page["title"] for page in built.model["pages"]]


def test_set_members_are_pages_each_once(world: World) -> None:
    built = world.digest("all", 1)
    assert built.kind == "start"
    # Solar wind is in two sets, once; the template of the cascade is a page of its own.
    assert sorted(titles(built)) == sorted(
        ["Entropy", "Photon", "Solar wind", TEMPLATE, "Lone page"]
    )
    assert built.model is not None and built.model["membership"] == []
    (template,) = [p for p in built.model["pages"] if p["title"] == TEMPLATE]
    assert template["used_by"] == {
        "count": 3,
        "titles": ["Entropy", "Photon", "Solar wind"],
        "more": 0,
    }
    text = render_digest(built.model, ["text"])["text"]
    assert f"{TEMPLATE} is tracked (used by 3 watched pages): Entropy, Photon, Solar wind" in text


def test_joined_left_and_cascade_in_every_format(world: World) -> None:
    world.digest("all", 1)
    second_window(world)
    built = world.digest("all", 20)
    assert built.kind == "changes" and built.model is not None
    model = built.model
    events = [(e["title"], e["event"], e["set"]) for e in model["membership"]]
    assert events == [
        ("Photon", "left", PHYSICS),
        ("Quantum foam", "joined", PHYSICS),
        ("Solstice", "joined", "prefix:Sol"),
    ]
    assert model["membership"][0]["time"] == "2024-03-01 06:10 UTC"
    # Photon left, and its last change still shows; Quantum foam starts; the template's
    # change is one page with its own diff, the pages that use it did not change.
    pages = {p["title"]: p for p in model["pages"]}
    assert sorted(pages) == sorted(["Photon", "Entropy", TEMPLATE, "Quantum foam"])
    assert pages["Photon"]["counts"]["edits"] == 1 and not pages["Photon"]["started"]
    assert pages["Quantum foam"]["started"]
    template = pages[TEMPLATE]
    assert template["counts"]["edits"] == 1 and template["sections"]
    assert template["used_by"]["count"] == 3
    assert pages["Entropy"]["used_by"] is None
    assert model["subject"] == (
        "all: 4 pages: 3 edits, 3 sections changed; 2 watch sets: 2 pages joined, 1 left"
    )
    out = render_digest(model, FORMATS)
    label = f"{TEMPLATE} changed (used by 3 watched pages)"
    assert "  - Photon left category:Physics (w), 2024-03-01 06:10 UTC" in out["text"]
    assert "  + Quantum foam joined category:Physics (w), 2024-03-01 06:10 UTC" in out["text"]
    assert f"{label}: Entropy, Photon, Solar wind" in out["text"]
    assert (
        "- [Quantum foam](https://wiki.example/w/index.php?title=Quantum_foam) joined "
        "category:Physics (w), 2024-03-01 06:10 UTC" in out["markdown"]
    )
    assert f"**{label}**: Entropy, Photon, Solar wind" in out["markdown"]
    assert ">Quantum foam</a> <strong" in out["html"]
    assert "joined</strong> <em>category:Physics</em>" in out["html"]
    assert (
        f"<strong>{TEMPLATE} changed</strong> (used by 3 watched pages): <em>Entropy</em>"
        in out["html"]
    )
    # The template shows once, not as a change of each page that uses it.
    assert out["text"].count(label) == 1


def test_a_window_of_joins_and_leaves_only_is_delivered(world: World) -> None:
    world.digest("all", 1)
    second_window(world)
    world.digest("all", 20)
    # A page joins and is not polled yet; another leaves: nothing else happened.
    world.members(PHYSICS, [(1, "Entropy", 0), (4, "Quantum foam", 0), (6, HOSTILE, 0)], 25)
    built = world.digest("all", 30)
    assert built.kind == "changes" and built.model is not None
    assert built.model["pages"] == []  # Photon left before this window: gone
    assert [(e["title"], e["event"]) for e in built.model["membership"]] == [
        (HOSTILE, "joined"),
        ("Solar wind", "left"),
    ]
    assert built.model["subject"] == "all: category:Physics: 1 page joined, 1 left"
    out = render_digest(built.model, FORMATS)
    assert "0 edits" not in out["text"] + out["markdown"] + out["html"]
    assert "Changes from 2024-03-01 06:20 UTC to 2024-03-01 06:25 UTC." in out["text"]
    # Nothing more: an empty window stays empty.
    assert world.digest("all", 40).kind is None


def test_hostile_titles_stay_text(world: World) -> None:
    world.digest("all", 1)
    world.digest("physics", 1)
    world.members(PHYSICS, [*FIRST, (6, HOSTILE, 0)], 5)
    world.page(6, HOSTILE, "Hostile.\n", 5)
    world.edit(2, "A photon is a massless particle.\n\n== Mass ==\nNone.\n", 6, user=HOSTILE)
    for name in ("all", "physics"):  # the reader view and the wikitext view
        built = world.build(name, 10)
        assert built.model is not None
        assert (HOSTILE, "joined") in [(e["title"], e["event"]) for e in built.model["membership"]]
        out = render_digest(built.model, FORMATS)
        assert f"  + {HOSTILE} joined category:Physics (w)" in out["text"]
        assert "<script>" not in out["html"] and "<script>" not in out["markdown"]
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in out["html"]
        assert active_html(out["html"], FRAME) == []
        assert active_html(python_markdown_apprise(out["markdown"])) == []
        assert "[click](javascript" not in out["markdown"]


def test_both_views_tell_the_joins(world: World) -> None:
    world.digest("all", 1)
    world.digest("physics", 1)
    second_window(world)
    for name in ("all", "physics"):
        built = world.build(name, 20)
        assert built.model is not None
        out = render_digest(built.model, FORMATS)
        assert built.model["view"] == ("reader" if name == "all" else "wikitext")
        assert "Quantum foam joined category:Physics (w)" in out["text"]
        assert "<em>category:Physics</em>" in out["html"]


def test_pages_select_a_set_by_its_key(world: World) -> None:
    built = world.digest("physics", 1)
    # The category's pages and its templates; not the prefix set's, nor the title watch.
    assert sorted(titles(built)) == sorted(["Entropy", "Photon", "Solar wind", TEMPLATE])
    second_window(world)
    built = world.digest("physics", 20)
    assert built.model is not None
    assert [(e["title"], e["set"]) for e in built.model["membership"]] == [
        ("Photon", PHYSICS),
        ("Quantum foam", PHYSICS),
    ]  # Solstice joined prefix:Sol: not this subscription's set
    assert sorted(titles(built)) == sorted(["Photon", "Entropy", TEMPLATE, "Quantum foam"])


def test_pages_select_one_member_by_its_title(world: World) -> None:
    assert titles(world.digest("one", 1)) == ["Entropy"]
    second_window(world)
    world.members(PHYSICS, [(3, "Solar wind", 0), (4, "Quantum foam", 0)], 15)
    built = world.digest("one", 20)
    assert titles(built) == ["Entropy"]
    assert built.model is not None
    assert [(e["title"], e["event"]) for e in built.model["membership"]] == [("Entropy", "left")]


def test_membership_events_are_told_once(world: World) -> None:
    world.digest("all", 1)
    second_window(world)
    first, second = world.build("all", 20), world.build("all", 21)
    sub = next(s for s in world.config.subscriptions if s.name == "all")
    record(world.store, world.config, sub, first, at(20))
    with pytest.raises(CursorMoved):  # another process closed the window meanwhile
        record(world.store, world.config, sub, second, at(21))
    assert world.build("all", 22).kind is None


def test_digest_by_email_through_smtp(tmp_path: Path, smtp_server) -> None:
    channel = {
        "type": "email",
        "to": "reader@example.org",
        "from": "tracker@example.org",
        "host": smtp_server.host,
        "port": smtp_server.port,
        "security": "none",
    }
    w = World(tmp_path, [{"name": "mail", "formats": ["text", "html"], "channels": [channel]}])
    try:
        w.page(1, "Entropy", "Entropy is a measure.\n", -60)
        w.page(10, TEMPLATE, "{| class=infobox\n|}\n", -60, ns=10)
        w.watch_set(PHYSICS, [(1, "Entropy", 0)], -30)
        w.watch_set(f"cascade:{PHYSICS}", [(10, TEMPLATE, 10)], -30)
        w.store.set_template_uses(w.wiki_id, {1: [10]})
        assert not run_digests(w.store, w.config, now=at(1)).errors
        w.edit(10, "{| class=infobox wide\n|}\n", 5)
        w.members(PHYSICS, [(1, "Entropy", 0), (6, HOSTILE, 0)], 6)
        run = run_digests(w.store, w.config, now=at(10))
        assert not run.errors and len(run.delivered) == 1
    finally:
        w.store.close()
    _start, message = smtp_server.wait(2)
    assert message["Subject"] == (
        f"[wiki tracker] mail: {TEMPLATE} (used by 1 watched page): 1 edit, 1 section changed; "
        f"{HOSTILE} joined category:Physics"
    )
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert f"  + {HOSTILE} joined category:Physics (w), 2024-03-01 06:06 UTC" in plain
    assert f"{TEMPLATE} changed (used by 1 watched page): Entropy" in plain
    assert "&lt;script&gt;" in html and active_html(html, FRAME) == []
    assert "(used by 1 watched page)" in html


def test_alert_on_a_set_whose_list_cannot_be_read(tmp_path: Path) -> None:
    channel = [{"type": "file", "path": "out"}]
    w = World(tmp_path, [{"name": "a", "alert_after": "1h", "channels": channel}])
    try:
        set_id = w.watch_set(PHYSICS, FIRST, 0)
        w.store.mark_set_refreshed(set_id, None, "the category has 12,000 pages; max_pages")

        def alerts(minutes: float) -> list[dict]:
            run_digests(w.store, w.config, now=at(minutes))
            rows = w.store.query("SELECT model FROM digests WHERE kind = 'alert' ORDER BY id")
            return [n for row in rows for n in json.loads(row["model"])["notices"]]

        # Due again at 6h (refresh), failing since: not an hour yet at 6h30.
        assert alerts(6 * 60 + 30) == []
        (alert,) = alerts(7 * 60 + 1)
        assert alert["state"] == "failing" and alert["title"] == PHYSICS
        assert alert["since"] == stamp(6 * 60) and "max_pages" in alert["error"]
        assert len(alerts(8 * 60)) == 1  # told once
        w.store.mark_set_refreshed(set_id, stamp(8 * 60 + 30), None)
        assert [n["state"] for n in alerts(9 * 60)] == ["failing", "recovered"]
    finally:
        w.store.close()


# --- "now tracking" per watch set ---------------------------------------------------------------

CHAT = ("chat", "slack")
PARTICLES = [(100 + n, f"Particle {n:02d}", 0) for n in range(50)]


def big_world(path: Path, members: list[tuple[int, str, int]] = PARTICLES) -> World:
    """A category of ``members`` (every other page with two revisions), read for the first
    time; Lone page watched by title; prefix:Sol holds Solstice and Particle 00."""
    channel = [{"type": "file", "path": "out"}]
    w = World(
        path,
        [
            {"name": "all", "formats": list(FORMATS), "channels": channel},
            {
                "name": "physics",
                "pages": [PHYSICS],
                "formats": list(FORMATS),
                "channels": channel,
            },
        ],
        web={"base_url": "https://tracker.example/"},
    )
    for n, (pageid, title, _ns) in enumerate(members):
        w.page(pageid, title, f"{n} is a particle.\n", -60)
        if n % 2 == 0:
            w.edit(pageid, f"{n} is a particle, really.\n", -50)
    w.page(5, "Solstice", "Solstice is a moment.\n", -60)
    w.page(20, "Lone page", "Alone.\n", -60)
    w.watch_set(PHYSICS, members, -30)
    w.watch_set("prefix:Sol", [(5, "Solstice", 0), members[0]], -30)
    return w


@pytest.fixture
def big(tmp_path: Path):
    w = big_world(tmp_path)
    yield w
    w.store.close()


SHOWN = [f"Particle {n:02d}" for n in range(10)]
HIDDEN = [f"Particle {n:02d}" for n in range(10, 50)]
COUNT_LINE = "now tracking 50 pages (75 revisions stored)"


def test_tracking_a_big_set_first_is_one_line_per_set(big: World) -> None:
    built = big.digest("physics", 1)
    assert built.kind == "start" and built.model is not None
    model = built.model
    assert model["subject"] == "physics: now tracking 50 pages of category:Physics (75 revisions)"
    assert model["pages"] == [] and model["counts"]["pages"] == 50
    (group,) = model["tracking"]
    assert group == {
        "set": PHYSICS,
        "watch": PHYSICS,
        "wiki": WIKI,
        "label": PHYSICS,
        "count": 50,
        "revisions": 75,
        "titles": SHOWN,
        "more": 40,
        "links": {"web_set": "https://tracker.example/sets/w/category:Physics"},
    }
    assert model["link"] == "https://tracker.example/sets/w/category:Physics"
    assert len(built.windows) == 50  # every page's cursor still moves
    out = render_digest(model, [*FORMATS, *CHAT])
    titles = ", ".join(SHOWN)
    assert f"category:Physics: {COUNT_LINE}: {titles} and 40 more" in out["text"]
    assert "All its pages: https://tracker.example/sets/w/category:Physics" in out["text"]
    assert "Started tracking 50 pages on 2024-03-01 06:01 UTC." in out["text"]
    assert (
        "- **[category:Physics](https://tracker.example/sets/w/category:Physics)**: "
        f"{COUNT_LINE}: {titles} and 40 more" in out["markdown"]
    )
    em = ", ".join(f"<em>{title}</em>" for title in SHOWN)
    assert (
        '<strong><a href="https://tracker.example/sets/w/category:Physics" '
        f'style="color:#0969da;">category:Physics</a></strong>: {COUNT_LINE}: {em} and 40 more'
        in out["html"]
    )
    assert (
        "• [category:Physics](https://tracker.example/sets/w/category:Physics): "
        f"{COUNT_LINE}: {titles} and 40 more" in out["chat"]
    )
    assert (
        "• <https://tracker.example/sets/w/category:Physics|category:Physics>: "
        f"{COUNT_LINE}: {titles} and 40 more" in out["slack"]
    )
    for fmt, text in out.items():
        assert "Now tracking:" not in text and "Started tracking:" not in text, fmt
        assert not [title for title in HIDDEN if title in text], fmt


def test_tracking_a_big_set_keeps_title_watches_one_by_one(big: World) -> None:
    built = big.digest("all", 1)
    assert built.model is not None
    model = built.model
    # Particle 00 is in both sets: told once, in the first (the config's order).
    assert [(g["set"], g["count"], g["titles"]) for g in model["tracking"]] == [
        (PHYSICS, 50, SHOWN),
        ("prefix:Sol", 1, ["Solstice"]),
    ]
    assert [p["title"] for p in model["pages"]] == ["Lone page"]
    assert model["counts"]["pages"] == 52
    assert model["subject"] == "all: now tracking 52 pages (77 revisions)"
    out = render_digest(model, [*FORMATS, *CHAT])
    assert "prefix:Sol: now tracking 1 page (1 revision stored): Solstice\n" in out["text"]
    assert "Lone page (w)\n" in out["text"] and "Now tracking: 1 revision stored" in out["text"]
    assert "Now tracking: 1 revision stored" in out["markdown"]
    assert '<p style="margin:4px 0;">Now tracking: 1 revision stored' in out["html"]
    assert "Started tracking: Lone page (1 revision)" in out["chat"]
    assert "Started tracking: Lone page (1 revision)" in out["slack"]


@pytest.mark.parametrize("size", [20, 21])
def test_tracking_is_grouped_past_twenty_pages(tmp_path: Path, size: int) -> None:
    channel = [{"type": "file", "path": "out"}]
    w = World(tmp_path, [{"name": "p", "pages": [PHYSICS], "channels": channel}])
    try:
        for pageid, title, _ns in PARTICLES[:size]:
            w.page(pageid, title, "A particle.\n", -60)
        w.watch_set(PHYSICS, PARTICLES[:size], -30)
        model = w.digest("p", 1).model
        assert model is not None
        if size == 20:  # 20 entries: listed as always
            assert model["tracking"] == [] and len(model["pages"]) == 20
            assert model["subject"] == "p: now tracking 20 pages (20 revisions)"
        else:
            assert [g["count"] for g in model["tracking"]] == [21] and model["pages"] == []
            assert model["subject"] == "p: now tracking 21 pages of category:Physics (21 revisions)"
    finally:
        w.store.close()


def test_a_first_digest_of_title_watches_is_as_before(tmp_path: Path) -> None:
    channel = [{"type": "file", "path": "out"}]
    names = ["Alpha", "Beta", "Gamma"]
    w = World(
        tmp_path,
        [{"name": "t", "formats": list(FORMATS), "channels": channel}],
        watches=[{"wiki": WIKI, "title": name} for name in names],
    )
    try:
        for pageid, name in enumerate(names, 1):
            w.page(pageid, name, f"{name} text.\n", -60)
        built = w.digest("t", 1)
    finally:
        w.store.close()
    assert built.kind == "start" and built.model is not None
    model = built.model
    assert model["tracking"] == [] and titles(built) == names
    assert model["subject"] == "t: now tracking 3 pages (3 revisions)"
    out = render_digest(model, [*FORMATS, *CHAT])
    for name in names:
        assert f"\n{name} (w)\n" in out["text"]
    assert out["text"].count("Now tracking: 1 revision stored, the latest ") == 3
    assert out["markdown"].count("Now tracking: 1 revision stored, the latest ") == 3
    assert out["html"].count("Now tracking: 1 revision stored, the latest ") == 3
    started = "Started tracking: Alpha (1 revision), Beta (1 revision), Gamma (1 revision)"
    assert out["chat"] == f"**{model['subject']}**\n{started}"
    assert out["slack"] == f"*{model['subject']}*\n{started}"
    assert "now tracking 3 pages (" not in out["text"].split("\n", 2)[2]  # no group line


def test_pages_joining_a_set_later_are_one_line(big: World) -> None:
    big.digest("physics", 1)
    joining = [(300 + n, f"Newcomer {n:02d}", 0) for n in range(30)]
    big.members(PHYSICS, [*PARTICLES, *joining], 10)
    for pageid, title, _ns in joining:
        big.page(pageid, title, "New.\n", 10)
    big.edit(101, "1 is a particle, and changed.\n", 11)
    built = big.digest("physics", 20)
    assert built.kind == "changes" and built.model is not None
    model = built.model
    assert [p["title"] for p in model["pages"]] == ["Particle 01"]  # its change, as always
    (group,) = model["tracking"]
    assert (group["count"], group["more"]) == (30, 20)
    assert group["titles"] == [f"Newcomer {n:02d}" for n in range(10)]
    assert model["subject"] == (
        "physics: 31 pages: 1 edit, 1 section changed; category:Physics: 30 pages joined"
    )
    out = render_digest(model, [*FORMATS, *CHAT])
    line = "category:Physics: now tracking 30 pages (30 revisions stored): Newcomer 00, "
    assert line in out["text"] and "Newcomer 09 and 20 more" in out["text"]
    assert "Newcomer 09 and 20 more" in out["chat"]
    # No entry of its own for a page that joined (the joins are one grouped line too).
    for fmt in FORMATS:
        assert "Now tracking:" not in out[fmt] and "Newcomer 10 (w)" not in out[fmt]
    for fmt in CHAT:
        assert ": now tracking (1 revision)" not in out[fmt]


def test_a_hostile_title_in_a_grouped_list_stays_text(tmp_path: Path) -> None:
    w = big_world(tmp_path, [*PARTICLES[:29], (99, HOSTILE, 0)])
    try:
        model = w.digest("physics", 1).model
    finally:
        w.store.close()
    assert model is not None
    (group,) = model["tracking"]
    assert group["titles"][0] == HOSTILE  # "<" sorts first
    out = render_digest(model, [*FORMATS, *CHAT])
    assert "<script>" not in out["html"] and active_html(out["html"], FRAME) == []
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; [click](javascript:alert(1))"
    assert f"<em>{escaped}" in out["html"]
    assert "<script>" not in out["markdown"] and "[click](javascript" not in out["markdown"]
    assert active_html(python_markdown_apprise(out["markdown"])) == []
    assert "<script>" not in out["chat"] and "<script>" not in out["slack"]
    line = f"category:Physics: now tracking 30 pages (45 revisions stored): {HOSTILE}, "
    assert line in out["text"]


def test_a_grouped_page_whose_poll_failed_is_named_in_the_errors(big: World) -> None:
    watch = big.store.watch(big.wiki_id, "Particle 03")
    big.store.update_watch(watch["id"], last_error="HTTP 503")
    model = big.digest("physics", 1).model
    assert model is not None and model["tracking"]
    assert model["errors"] == ["w: Particle 03: HTTP 503"]
    assert "! w: Particle 03: HTTP 503" in render_digest(model, ["text"])["text"]


def test_a_cascades_templates_are_a_group_of_their_watch(big: World) -> None:
    big.page(10, TEMPLATE, "{| class=infobox\n|}\n", -60, ns=10)
    big.watch_set(f"cascade:{PHYSICS}", [(10, TEMPLATE, 10)], -30)
    model = big.digest("physics", 1).model
    assert model is not None
    assert [(g["set"], g["label"], g["count"]) for g in model["tracking"]] == [
        (PHYSICS, PHYSICS, 50),
        (f"cascade:{PHYSICS}", "templates used by category:Physics", 1),
    ]
    # One watch: its pages and its templates.
    assert model["subject"] == "physics: now tracking 51 pages of category:Physics (76 revisions)"
    text = render_digest(model, ["text"])["text"]
    assert (
        f"templates used by category:Physics: now tracking 1 page (1 revision stored): {TEMPLATE}\n"
        in text
    )


# --- joined and left per watch set ----------------------------------------------------------------

NEWCOMERS = [(300 + n, f"Newcomer {n:02d}", 0) for n in range(50)]
GROUP_SPAN = "between 2024-03-01 06:10 and 06:40 UTC"


def churn(w: World, joining: list[tuple[int, str, int]] = NEWCOMERS, leaving: int = 30) -> None:
    """After a first digest of big_world: half of ``joining`` join at 06:10, the rest at
    06:40, when the last ``leaving`` particles leave; none of them is polled yet."""
    w.digest("physics", 1)
    half = len(joining) // 2
    w.members(PHYSICS, [*PARTICLES, *joining[:half]], 10)
    w.members(PHYSICS, [*PARTICLES[: len(PARTICLES) - leaving], *joining], 40)


def test_many_joins_and_leaves_are_one_line_per_set_and_event(big: World) -> None:
    churn(big)
    built = big.digest("physics", 50)
    assert built.kind == "changes" and built.model is not None
    model = built.model
    assert model["subject"] == "physics: category:Physics: 50 pages joined, 30 left"
    # Every event stays in `membership` (the webhook's JSON); the groups come beside it.
    assert len(model["membership"]) == 80
    web_set = "https://tracker.example/sets/w/category:Physics"
    joined, left = model["membership_groups"]
    assert joined == {
        "set": PHYSICS,
        "wiki": WIKI,
        "label": PHYSICS,
        "event": "joined",
        "count": 50,
        "titles": [f"Newcomer {n:02d}" for n in range(10)],
        "more": 40,
        "first": stamp(10),
        "last": stamp(40),
        "time": GROUP_SPAN,
        "links": {"web_set": web_set},
    }
    assert (left["event"], left["count"], left["more"]) == ("left", 30, 20)
    assert left["titles"] == [f"Particle {n:02d}" for n in range(20, 30)]
    assert left["time"] == "at 2024-03-01 06:40 UTC"
    assert model["link"] == web_set
    out = render_digest(model, [*FORMATS, *CHAT])
    news = ", ".join(f"Newcomer {n:02d}" for n in range(10))
    gone = ", ".join(f"Particle {n:02d}" for n in range(20, 30))
    joins = f"50 pages joined {GROUP_SPAN}: {news} and 40 more"
    leaves = f"30 pages left at 2024-03-01 06:40 UTC: {gone} and 20 more"
    assert f"  + {PHYSICS}: {joins}\n    All its pages: {web_set}\n" in out["text"]
    assert f"  - {PHYSICS}: {leaves}\n" in out["text"]
    assert f"- **[{PHYSICS}]({web_set})**: {joins}" in out["markdown"]
    assert f"- **[{PHYSICS}]({web_set})**: {leaves}" in out["markdown"]
    em = ", ".join(f"<em>Newcomer {n:02d}</em>" for n in range(10))
    assert (
        f'<strong><a href="{web_set}" style="color:#0969da;">{PHYSICS}</a></strong>: 50 pages '
        '<strong style="color:#116329;">joined</strong> '
        f'<span style="color:#57606a;font-size:13px;">{GROUP_SPAN}</span>: {em} and 40 more'
        in out["html"]
    )
    assert '<strong style="color:#82071e;">left</strong>' in out["html"]
    assert f"• [{PHYSICS}]({web_set}): {joins}" in out["chat"]
    assert f"• [{PHYSICS}]({web_set}): {leaves}" in out["chat"]
    assert f"• <{web_set}|{PHYSICS}>: {joins}" in out["slack"]
    assert f"• <{web_set}|{PHYSICS}>: {leaves}" in out["slack"]
    hidden = [f"Newcomer {n:02d}" for n in range(10, 50)]
    hidden += [f"Particle {n:02d}" for n in range(30, 50)]
    for fmt, text in out.items():
        assert not [title for title in hidden if title in text], fmt
        assert "Newcomer 00 joined" not in text, fmt  # no line per event


@pytest.mark.parametrize("size", [20, 21])
def test_membership_is_grouped_past_twenty_events(tmp_path: Path, size: int) -> None:
    w = big_world(tmp_path)
    try:
        churn(w, NEWCOMERS[:size], leaving=0)
        model = w.digest("physics", 50).model
    finally:
        w.store.close()
    assert model is not None and len(model["membership"]) == size
    out = render_digest(model, [*FORMATS, *CHAT])
    if size == 20:  # 20 events: a line each, as always
        assert model["membership_groups"] == []
        assert model["subject"] == "physics: category:Physics: 20 pages joined"
        assert out["text"].count(" joined category:Physics (w), ") == 20
        assert out["chat"].count(" joined category:Physics\n") == 20
    else:
        assert [(g["event"], g["count"]) for g in model["membership_groups"]] == [("joined", 21)]
        assert model["subject"] == "physics: category:Physics: 21 pages joined"
        assert " joined category:Physics (w), " not in out["text"]
        assert f"{PHYSICS}: 21 pages joined {GROUP_SPAN}: Newcomer 00, " in out["text"]
        assert "Newcomer 09 and 11 more" in out["text"]


def test_a_hostile_title_in_grouped_membership_stays_text(tmp_path: Path) -> None:
    w = big_world(tmp_path)
    try:
        churn(w, [*NEWCOMERS[:24], (99, HOSTILE, 0)], leaving=0)
        model = w.digest("physics", 50).model
    finally:
        w.store.close()
    assert model is not None
    (group,) = model["membership_groups"]
    assert group["titles"][0] == HOSTILE  # "<" sorts first
    out = render_digest(model, [*FORMATS, *CHAT])
    assert "<script>" not in out["html"] and active_html(out["html"], FRAME) == []
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; [click](javascript:alert(1))"
    assert f"<em>{escaped} **b** &amp; `c` # h</em>, <em>Newcomer 00</em>" in out["html"]
    assert "<script>" not in out["markdown"] and "[click](javascript" not in out["markdown"]
    assert active_html(python_markdown_apprise(out["markdown"])) == []
    assert "<script>" not in out["chat"] and "[click](javascript" not in out["chat"]
    assert "<script>" not in out["slack"] and "&lt;script&gt;" in out["slack"]  # no links
    assert f"{PHYSICS}: 25 pages joined {GROUP_SPAN}: {HOSTILE}, Newcomer 00" in out["text"]
