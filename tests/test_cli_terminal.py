"""Wiki text on a terminal: `tracker history`, `show`, `diff`, `status` and text digests
show control characters, line breaks inside a field and bidi controls instead of obeying
them; `--json` keeps the values as stored.

The store holds a page whose title, users, summaries and headings carry ESC sequences
(clear the screen, set the window title, colours), CR (overwrite the line), LF (a fake
line), U+2028, C1 controls and bidi overrides/isolates, as an import could deliver them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hostile import hostile_model
from trackerutil import tracker, write_config
from webstore import revision

from tracker.digest.render import render_digest
from tracker.fetch.ingest import PageIngestor
from tracker.store import Store
from tracker.text.display import one_line, terminal_text

TITLE = "Evil\x1b]0;owned\x07 page\u202e"
USER = "Mallory\x1b[2J\x1b[H\u202eevil"
SUMMARY = (
    "fix\r\n1845803  2023-09-07T13:59:23Z  Admin  spoofed line\rover\x1b[31m"
    "red\x9b31m\u2028next \u2066isolate\u2069 \u200fmark"
)
HEADING = "Bad\x1b[5m heading\u202d"
BODY_LINE = "Text with \x1b[41mred\x1b[0m and \u202eesrever\u202c\ttab.\r\n"

# What a terminal obeys: C0 but TAB and LF, DEL, C1, and the bidi embeddings, overrides
# and isolates.
OBEYED = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def config(tmp_path: Path) -> Path:
    with Store(tmp_path / "tracker.db") as store:
        wiki = store.wiki_id("evil", api_url="http://127.0.0.1:9/api.php")
        with store.atomic():
            page = store.upsert_page(wiki, 66, TITLE)
        PageIngestor(store, wiki, page["id"]).add(
            [
                revision(1, 0, "Intro.\n\n== Safe ==\nText.\n", comment="create", minutes=1),
                revision(
                    2,
                    1,
                    f"Intro.\n\n== {HEADING} ==\n{BODY_LINE}\n== Safe ==\nText.\n",
                    user=USER,
                    comment=SUMMARY,
                    minutes=2,
                ),
            ]
        )
        watch = store.watch(wiki, TITLE)
        with store.atomic():  # as a poll leaves it, with an error the wiki wrote
            store.update_watch(
                watch["id"],
                page_id=page["id"],
                status="error",
                error_count=1,
                last_error=f"the wiki said: {SUMMARY}",
            )
            if "backfilled_at" in store.db["pages"].columns_dict:
                # Where the store knows it: the page's whole history is in, as after a poll.
                store.db.execute(
                    "UPDATE pages SET backfilled_at = created_at WHERE id = ?", [page["id"]]
                )
    return write_config(
        tmp_path,
        wikis=[{"name": "evil", "api_url": "http://127.0.0.1:9/api.php"}],
        watches=[{"wiki": "evil", "title": TITLE}],
        extra='[[subscriptions]]\nname = "evil"\nformats = ["text"]\n'
        'channels = [{ type = "file", path = "digests" }]\n',
    )


def run(config: Path, *args: str) -> str:
    result = tracker(config, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_history_shows_controls_and_keeps_one_line_per_revision(config: Path) -> None:
    out = run(config, "history", TITLE)
    assert not OBEYED.search(out), repr(out)
    lines = out.splitlines()
    assert len(lines) == 3  # the title line and two revisions: no line of the summary's
    assert lines[0].startswith("Evil␛]0;owned␇ page\\u202e (evil, page id 66)")
    assert "Mallory␛[2J␛[H\\u202eevil"[:24] in lines[2]
    assert (
        "fix⏎1845803  2023-09-07T13:59:23Z  Admin  spoofed line⏎over␛[31mred\\x9b31m⏎"
        "next \\u2066isolate\\u2069 mark" in lines[2]
    )


def test_history_json_keeps_the_values_as_stored(config: Path) -> None:
    records = json.loads(run(config, "history", TITLE, "--json"))
    assert records[1]["user"] == USER and records[1]["comment"] == SUMMARY


def test_show_metadata_one_line_each_and_text_with_its_lines(config: Path) -> None:
    out = run(config, "show", "2")
    assert not OBEYED.search(out), repr(out)
    head, _, body = out.partition("\n\n")
    fields = dict(line.split(":", 1) for line in head.splitlines())
    assert list(fields)[:6] == ["title", "wiki", "revid", "parentid", "timestamp", "user"]
    assert fields["user"].strip() == one_line(USER)
    assert fields["comment"].strip() == one_line(SUMMARY)
    # The wikitext keeps its lines and tabs; what would drive the terminal is shown.
    assert (
        "== Bad␛[5m heading\\u202d ==\nText with ␛[41mred␛[0m and \\u202eesrever\\u202c\ttab.\n"
    ) in body


def test_show_json_keeps_the_text_as_stored(config: Path) -> None:
    record = json.loads(run(config, "show", "2", "--json"))
    assert BODY_LINE in record["text"] and record["user"] == USER


@pytest.mark.parametrize("color", ["--no-color", "--color"])
def test_diff_text_prints_only_its_own_escape_sequences(config: Path, color: str) -> None:
    out = run(config, "diff", TITLE, "--from", "1", "--to", "2", color)
    ours = re.sub(r"\x1b\[[0-9;]*m", "", out)  # the colours `diff --color` paints
    assert not OBEYED.search(ours), repr(out)
    assert ("\x1b" in out) == (color == "--color")
    assert "Bad␛[5m heading\\u202d" in ours and "Mallory␛[2J␛[H\\u202eevil" in ours
    assert "␛[41mred␛[0m" in ours


def test_diff_json_keeps_the_values_as_stored(config: Path) -> None:
    result = json.loads(run(config, "diff", TITLE, "--from", "1", "--to", "2", "--json"))
    assert result["to"]["user"] == USER
    assert [s["path"] for s in result["sections"]] == [[], [HEADING], ["Safe"]]


def test_status_shows_controls(config: Path) -> None:
    out = run(config, "status")
    assert not OBEYED.search(out), repr(out)
    assert f"last error:    the wiki said: {one_line(SUMMARY)} (1 in a row)" in out
    assert (
        json.loads(run(config, "status", "--json"))["watches"][0]["last_error"]
        == f"the wiki said: {SUMMARY}"
    )


def test_text_digest_of_the_page_shows_controls(config: Path) -> None:
    out = run(config, "digest", "evil", "--dry-run", "--since", "1", "--format", "text")
    assert not OBEYED.search(out), repr(out)
    assert one_line(SUMMARY) in out and one_line(USER) in out
    assert "Bad␛[5m heading\\u202d" in out


def test_text_digest_fields_on_one_line_changed_text_with_its_lines() -> None:
    value = "first\nsecond\r\nthird\x1b[2J\u202e"
    text = render_digest(hostile_model(value), ["text"])["text"]
    assert not OBEYED.search(text), repr(text)
    assert "first⏎second⏎third␛[2J\\u202e" in text  # fields: title, user, summary...
    assert "{+first\n    second\n    third␛[2J\\u202e+}" in text  # a changed passage


def test_terminal_helpers() -> None:
    assert one_line("a\r\nb\rc\nd\u2028e\u2029f\x85g\x0bh\x0ci") == "a⏎b⏎c⏎d⏎e⏎f⏎g⏎h⏎i"
    assert one_line("tab\there \x00\x07\x1b\x7f\x9b") == "tab here ␀␇␛␡\\x9b"
    assert (
        one_line("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
        == "\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069"
    )
    assert one_line("اسم\u200f\u200e\u061c") == "اسم"  # marks dropped: no direction set
    assert one_line("Pakistan–NATO relations › History") == "Pakistan–NATO relations › History"
    assert terminal_text("a\r\nb\rc\n\td\x1b") == "a\nb␍c\n\td␛"


def test_digest_run_lines_show_controls(config: Path) -> None:
    """What `run`, `digest` print and the daemon logs for each delivery."""
    from tracker.config import load_config
    from tracker.digest.run import deliver_due

    settings = load_config(config)
    with Store(settings.database_path) as store:
        lines = deliver_due(store, settings)
    assert lines and lines[0].startswith("evil: digest 1 via file: evil: now tracking Evil␛]0;")
    assert not [line for line in lines if OBEYED.search(line)], lines
