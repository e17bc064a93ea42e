"""Where the reader view shows (issue 12, item 4): the subscription's `view` key, digests
in each view and format, `tracker diff --view` and its JSON, the web diff's switch, an
e-mail digest to a real loopback SMTP server. The page is tests/readerpages.py's: an
infobox field, a word and a source in the lead, a maintenance template removed, a
markup-only edit, a category added, and hostile text in a section of its own."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hostile import active_html
from readerpages import HOSTILE_IMG, HOSTILE_SCRIPT, TITLE, reader_tracker
from trackerutil import tracker, write_config

from tracker.config import load_config
from tracker.digest.render import md_escape
from tracker.errors import ConfigError
from tracker.text.reader import reader_diff
from tracker.text.readerview import hidden_kind, invisible_line

INFOBOX_LINE = "Infobox: envoytitle1: Ambassador → Permanent Representative"
NOT_VISIBLE = "Not visible to readers: "
SOURCE = "New source: Rubin, Michael (2022-12-02)."


def digest_files(tmp_path: Path, view: str | None) -> dict[str, str]:
    """The text, Markdown and HTML digests of the edit, in ``view`` (None: the default)."""
    t = reader_tracker(tmp_path, **({"view": view} if view else {}))
    (line,) = t.deliver()
    assert "error" not in line, line
    files = sorted((tmp_path / "digests").glob("*-2.*"))
    return {p.suffix[1:]: p.read_text(encoding="utf-8") for p in files}


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    return {
        view or "default": digest_files(tmp_path_factory.mktemp(view or "default"), view)
        for view in (None, "reader", "wikitext", "both")
    }


# --- config -----------------------------------------------------------------------------------


def _config(tmp_path: Path, view: object) -> Path:
    (tmp_path / "seed.xml").write_text("", encoding="utf-8")
    return write_config(
        tmp_path,
        wikis=[{"name": "w", "snapshot": "seed.xml"}],
        watches=[{"wiki": "w", "title": TITLE}],
        subscriptions=[{"name": "s", "view": view}],
    )


def test_config_view_defaults_to_reader(tmp_path: Path) -> None:
    path = write_config(tmp_path, subscriptions=[{"name": "s"}])
    assert load_config(path).subscriptions[0].view == "reader"


@pytest.mark.parametrize("view", ["reader", "wikitext", "both"])
def test_config_view_accepts_the_three(tmp_path: Path, view: str) -> None:
    assert load_config(_config(tmp_path, view)).subscriptions[0].view == view


@pytest.mark.parametrize(
    ("value", "hint"),
    [("raeder", "did you mean 'reader'?"), ("html", "use reader, wikitext, both"), (3, "string")],
)
def test_config_view_wrong_value_is_one_line_naming_file_key_and_fix(
    tmp_path: Path, value: object, hint: str
) -> None:
    path = _config(tmp_path, value)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert "\n" not in message
    assert str(path) in message and "subscriptions[0].view" in message and hint in message


# --- what no reader sees, in one line ---------------------------------------------------------


def test_invisible_line_counts_markup_only_and_hidden_by_kind() -> None:
    diffs = [
        reader_diff("See [[Paris]].", "See [[Paris|Paris]]."),
        reader_diff("A [[Lyon]].", "A [[Lyon|Lyon]]."),
        reader_diff("Text.", "Text.\n[[Category:X]]"),
        reader_diff("{{Use dmy dates}}\nText.", "Text."),
        reader_diff("Old.", "New."),
    ]
    assert [d.markup_only for d in diffs] == [True, True, True, True, False]
    assert invisible_line(diffs) == (
        "Not visible to readers: 2 markup-only edits, 1 category added, "
        "1 maintenance template removed"
    )
    assert invisible_line(diffs[4:]) is None


def test_hidden_kind_of_each_hidden_thing() -> None:
    assert hidden_kind("Category:X") == "category"
    assert hidden_kind("{{Use dmy dates}}") == "maintenance template"
    assert hidden_kind("{{DEFAULTSORT}}") == "magic word"
    assert hidden_kind("__NOTOC__") == "behaviour switch"
    assert hidden_kind("fr:Paris") == "language link"


# --- digests in each view ---------------------------------------------------------------------


def _not_visible(text: str) -> str:
    (line,) = [line for line in text.splitlines() if NOT_VISIBLE in line]
    return line


@pytest.mark.parametrize("view", ["default", "reader"])
def test_digest_reader_view_text(views: dict, view: str) -> None:
    text = views[view]["txt"]
    assert INFOBOX_LINE in text and SOURCE in text
    assert "envoytitle1: [-Ambassador-]{+Permanent Representative+}" in text
    assert "{+bilateral +}relations between Pakistan and NATO" in text
    # The markup is gone: links are their labels, no templates, no category link.
    assert "[[" not in text and "{{" not in text and "'''" not in text
    line = _not_visible(text)
    for part in ("1 markup-only edit", "1 category added", "1 maintenance template removed"):
        assert part in line, line
    # The markup-only and category-only sections are told in that line, not one by one.
    assert "* Seat:" not in text and "* See also:" not in text
    assert "* Envoys: edited" in text


def test_digest_wikitext_view_is_todays_output(views: dict) -> None:
    text = views["wikitext"]["txt"]
    assert "[[International relations|{+bilateral+} relations]]" in text
    assert "* Seat: edited" in text and "{{Use dmy dates}}" in text
    assert NOT_VISIBLE not in text and INFOBOX_LINE not in text
    for fmt in ("md", "html"):
        assert NOT_VISIBLE not in views["wikitext"][fmt]
        assert 'class="reader' not in views["wikitext"][fmt]


def test_digest_both_views_show_both(views: dict) -> None:
    text = views["both"]["txt"]
    assert "What a reader sees" in text and "The wikitext:" in text
    assert INFOBOX_LINE in text and "[[International relations|{+bilateral+} relations]]" in text
    assert NOT_VISIBLE in text and "* Seat: edited" in text


def test_digest_reader_view_markdown_escapes_the_text_form(views: dict) -> None:
    md = views["reader"]["md"]
    assert "- " + md_escape(INFOBOX_LINE) in md
    assert "> envoytitle1: \\[-Ambassador-\\]\\{+Permanent Representative+\\}" in md
    assert "\\[\\[" not in md and "\\{\\{" not in md
    assert "*" + NOT_VISIBLE in md
    # Hostile text stays text under any Markdown renderer.
    assert "<script>" not in md and "<img" not in md and "](javascript:" not in md
    assert "\\[javascript:alert(1) click here\\]" in md


def test_digest_reader_view_html(views: dict) -> None:
    html = views["reader"]["html"]
    assert 'class="reader-words"' in html and 'class="reader-hidden"' in html
    words = html.split('class="reader-words"', 1)[1].split("</div>", 1)[0]
    # Inline styles (mail clients drop <style>), the reader's escaped words.
    assert re.search(r'<ins style="background:#d1f7da;[^"]*" class="rd-ins">', words)
    assert re.search(r'<del style="[^"]*line-through[^"]*" class="rd-del">Ambassador', words)
    assert '<span style="color:#0969da;" class="rd-link" title="NATO">NATO</span>' in html
    assert "[[" not in words and "{{" not in words
    # Hostile markup shown as text, escaped (the page's own <meta> aside).
    assert active_html(html, allowed=frozenset({"meta"})) == []
    assert "&lt;script&gt;alert(" in html


def test_digest_reader_view_model_keeps_wikitext_data(tmp_path: Path) -> None:
    t = reader_tracker(tmp_path)
    t.deliver()
    model = t.digests()[-1]["model"]
    assert model["view"] == "reader"
    (page,) = model["pages"]
    lead = page["sections"][0]
    # The wikitext's words and semantic lines are still in the model; the reader's beside.
    assert lead["words"] and lead["semantic"]
    assert lead["reader"]["lines"][0] == INFOBOX_LINE
    assert lead["reader"]["words_added"] < lead["words_added"]
    assert page["reader_hidden"].startswith(NOT_VISIBLE)


def test_digest_wikitext_view_computes_no_reader(tmp_path: Path) -> None:
    t = reader_tracker(tmp_path, view="wikitext")
    t.deliver()
    (page,) = t.digests()[-1]["model"]["pages"]
    assert all(s["reader"] is None for s in page["sections"]) and page["reader_hidden"] is None


def test_digest_reader_view_chat_lines(tmp_path: Path) -> None:
    from tracker.digest.render import render_digest

    t = reader_tracker(tmp_path)
    t.deliver()
    chat = render_digest(t.digests()[-1]["model"], ["chat", "slack"])
    for fmt in ("chat", "slack"):
        assert "Infobox: envoytitle1" in chat[fmt] and NOT_VISIBLE in chat[fmt]
        assert "Seat" not in chat[fmt]


@pytest.mark.parametrize("view", ["reader", "both"])
def test_email_digest_in_reader_view_arrives_by_smtp(tmp_path: Path, smtp_server, view) -> None:
    t = reader_tracker(tmp_path, view=view, channels=[smtp_server.channel()])
    t.deliver()
    messages = smtp_server.wait(2)
    msg = messages[-1]
    plain = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert INFOBOX_LINE in plain and NOT_VISIBLE in plain
    assert "{+bilateral +}relations between Pakistan and NATO" in plain
    assert 'class="reader-words"' in html and "Permanent Representative</ins>" in html
    assert ("[[International relations" in plain) == (view == "both")
    assert "<script" not in html and "<img" not in html


# --- tracker diff --view, --json --------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return reader_tracker(tmp_path_factory.mktemp("cli")).path


def test_cli_diff_default_is_the_wikitext(stored: Path) -> None:
    default = tracker(stored, "diff", TITLE, "--from", "500", "--to", "501", "--no-color")
    wikitext = tracker(
        stored, "diff", TITLE, "--from", "500", "--to", "501", "--no-color", "--view", "wikitext"
    )
    assert default.exit_code == 0 and default.stdout == wikitext.stdout
    assert "[[International relations|{+bilateral +}" in default.stdout
    assert NOT_VISIBLE not in default.stdout


def test_cli_diff_view_reader(stored: Path) -> None:
    result = tracker(stored, "diff", TITLE, "--from", "500", "--to", "501", "--view", "reader")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"{TITLE}\nfrom: r500")
    assert "    - " + INFOBOX_LINE in out
    assert "{+bilateral +}relations between Pakistan and NATO" in out
    assert "Seat  [edited]  +0 -0 words\n    (markup only: a reader sees no change)" in out
    assert "[[" not in out and "{{" not in out
    assert _not_visible(out).startswith(NOT_VISIBLE + "1 maintenance template removed")


def test_cli_diff_view_both(stored: Path) -> None:
    result = tracker(stored, "diff", TITLE, "--from", "500", "--to", "501", "--view", "both")
    out = result.stdout
    wiki, _sep, reader = out.partition("What a reader sees:")
    assert "[[International relations|{+bilateral +}" in wiki
    assert INFOBOX_LINE in reader and NOT_VISIBLE in reader


def test_cli_diff_view_wrong_value_is_a_usage_error(stored: Path) -> None:
    result = tracker(stored, "diff", TITLE, "--view", "html")
    assert result.exit_code == 2 and "'reader', 'wikitext', 'both'" in result.output


def test_cli_diff_json_gains_reader_and_keeps_every_field(stored: Path) -> None:
    from tracker.history import revision_pair_diff
    from tracker.store import Store

    result = tracker(stored, "diff", TITLE, "--from", "500", "--to", "501", "--json")
    data = json.loads(result.stdout)
    with Store(load_config(stored).database_path, readonly=True) as store:
        page = store.find_page(TITLE)
        rows = {r["revid"]: r for r in store.revisions(page["id"])}
        old, new = (store.revision(None, revid) for revid in (500, 501))
        new["title"] = page["title"]
        plain = json.loads(json.dumps(revision_pair_diff(store, old, new)))
    assert set(rows) == {500, 501}
    # Every field as it was; each section has one key more.
    assert {k: v for k, v in data.items() if k != "sections"} == {
        k: v for k, v in plain.items() if k != "sections"
    }
    assert [{k: v for k, v in s.items() if k != "reader"} for s in data["sections"]] == plain[
        "sections"
    ]
    lead, envoys, seat, see_also = data["sections"]
    assert lead["reader"]["lines"][0] == INFOBOX_LINE
    assert {"pieces", "words_added", "words_removed", "lines", "hidden", "markup_only"} == set(
        lead["reader"]
    )
    assert {"kind": "insert", "text": "Permanent Representative"} in lead["reader"]["pieces"]
    assert lead["reader"]["hidden"] == ["removed {{Use dmy dates}}"]
    assert seat["reader"]["markup_only"] is True and seat["reader"]["pieces"][0]["kind"] == "equal"
    assert see_also["reader"]["hidden"] == ["added Category:Pakistan–NATO relations"]
    inserted = "".join(p["text"] for p in envoys["reader"]["pieces"] if p["kind"] == "insert")
    # Data, shown as text as MediaWiki shows a tag it does not allow; each output escapes it.
    assert HOSTILE_SCRIPT in inserted and "javascript:alert(1) click here" in inserted


def test_cli_diff_json_reader_is_null_for_unchanged_sections(stored: Path) -> None:
    result = tracker(stored, "diff", TITLE, "--from", "501", "--to", "501", "--json")
    data = json.loads(result.stdout)
    assert data["sections"] and all(s["reader"] is None for s in data["sections"])


# --- the web diff's switch (test client; the browser: test_reader_view_browser.py) ------------


@pytest.fixture(scope="module")
def client(stored: Path):
    from tracker.web import create_app

    return create_app(load_config(stored).database_path).test_client()


def test_web_diff_reader_by_default_with_the_switch(client) -> None:
    html = client.get("/diff/w/Reader_page?from=500&to=501").get_data(as_text=True)
    assert 'data-view="reader"' in html and 'class="rdiff inline"' in html
    switch = html.split('aria-label="Diff view"', 1)[1].split("</nav>", 1)[0]
    assert re.search(r'data-view="reader" href="[^"]*view=reader[^"]*" aria-current="true"', switch)
    wikitext = re.search(r'data-view="wikitext" href="([^"]*)"', switch)
    assert wikitext
    href = wikitext.group(1).replace("&amp;", "&")
    assert all(p in href for p in ("from=500", "to=501", "mode=inline", "view=wikitext"))
    assert INFOBOX_LINE in html and NOT_VISIBLE in html
    assert "Markup only: a reader sees no change." in html
    assert "[[" not in html.split('class="diff ', 1)[1]


def test_web_diff_wikitext_view_and_links_keep_the_view(client) -> None:
    html = client.get("/diff/w/Reader_page?from=500&to=501&view=wikitext&mode=side").get_data(
        as_text=True
    )
    assert 'data-view="wikitext"' in html and "rdiff" not in html.split('class="diff ', 1)[1]
    assert "[[International relations|" in html.replace("&#34;", '"')
    modes = html.split('aria-label="Diff layout"', 1)[1].split("</nav>", 1)[0]
    assert modes.count("view=wikitext") == 2
    switch = html.split('aria-label="Diff view"', 1)[1].split("</nav>", 1)[0]
    assert switch.count("mode=side") == 2


def test_web_diff_view_bad_value_is_400(client) -> None:
    response = client.get("/diff/w/Reader_page?view=raw")
    assert response.status_code == 400 and "view" in response.get_data(as_text=True)


def test_web_diff_reader_view_escapes_hostile_text(client) -> None:
    html = client.get("/diff/w/Reader_page?from=500&to=501").get_data(as_text=True)
    assert HOSTILE_SCRIPT not in html and HOSTILE_IMG not in html
    page_own = frozenset({"script", "link", "meta", "form", "input"})  # (the search box...)
    assert active_html(html, allowed=page_own) == []
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # as text, as MediaWiki shows it
