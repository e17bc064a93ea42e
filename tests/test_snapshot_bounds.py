"""What an XML export can make its reader hold is bounded (issue 15, item 3): a revision's
text over ``max_revision_size`` comes with its metadata and without its text; absurd
sizes anywhere else are refused with one line; normal exports read exactly as before."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

import pytest
from trackerutil import history_json, tracker, write_config

from tracker.config import MIB
from tracker.errors import WikiError
from tracker.fetch import exportguard, snapshot
from tracker.fetch.exportguard import utf8_size
from tracker.fetch.snapshot import SnapshotSource, write_export
from tracker.model import sha1_hex

TITLE = "Large revisions"
# Wikitext that XML escapes (<, >, &, ") and that takes 1 to 4 bytes per character.
TRICKY = 'a <ref name="x">b & c</ref> é € 😀 &amp;\n'


def export(path: Path, texts: Iterable[str | None]) -> list[dict]:
    rows = []
    for i, text in enumerate(texts):
        rows.append(
            (
                {
                    "revid": 10 + i,
                    "parentid": 9 + i if i else 0,
                    "timestamp": f"2024-02-01T00:00:{i:02d}Z",
                    "user": "Editor",
                    "userid": 3,
                    "comment": f"edit {i}",
                    "minor": False,
                    "size": len(text.encode()) if text is not None else 5,
                    "sha1": sha1_hex(text) if text is not None else None,
                },
                text,
            )
        )
    with path.open("w", encoding="utf-8") as out:
        write_export(out, [({"title": TITLE, "ns": 0, "pageid": 5}, rows)])
    return [row for row, _ in rows]


def read(path: Path, cap: int = 8 * MIB) -> list:
    source = SnapshotSource("snap", path, max_revision_size=cap)
    return [rev for batch in source.fetch_revisions(5) for rev in batch]


@pytest.mark.parametrize("block", [7, 61, 4096, exportguard.BLOCK])
def test_export_guard_leaves_normal_texts_as_they_are(
    tmp_path: Path, monkeypatch, block: int
) -> None:
    monkeypatch.setattr(exportguard, "BLOCK", block)  # entities split at every place
    texts = [TRICKY * n for n in (1, 2, 3, 17, 100)] + ["", "&#13;\n<>", "x" * 3000]
    path = tmp_path / "normal.xml"
    export(path, texts)
    revisions = read(path, cap=len((TRICKY * 100).encode()))  # the largest fits exactly
    assert [rev.text for rev in revisions] == texts
    assert not any(rev.toolarge for rev in revisions)


@pytest.mark.parametrize("block", [7, 61, exportguard.BLOCK])
def test_export_text_over_the_cap_comes_without_it(tmp_path: Path, monkeypatch, block: int) -> None:
    monkeypatch.setattr(exportguard, "BLOCK", block)
    cap = len((TRICKY * 40).encode())
    texts = ["start", TRICKY * 40, TRICKY * 40 + "x", "€" * 2000, None, "end"]
    path = tmp_path / "large.xml"
    rows = export(path, texts)
    revisions = read(path, cap=cap)
    assert [rev.revid for rev in revisions] == [row["revid"] for row in rows]
    assert [rev.toolarge for rev in revisions] == [False, False, True, True, False, False]
    for rev, row, text in zip(revisions, rows, texts, strict=True):
        assert (rev.timestamp, rev.user, rev.comment) == (
            row["timestamp"],
            "Editor",
            row["comment"],
        )
        if rev.toolarge:
            assert rev.text is None and not rev.texthidden and not rev.sha1hidden
            assert rev.size == len(text.encode())  # counted while skipped: exact
            assert rev.sha1 == sha1_hex(text)  # the export's own sha1
        elif text is not None:
            assert rev.text == text
    assert revisions[4].texthidden and revisions[4].text is None  # hidden stays hidden


@pytest.mark.parametrize("block", [7, 61, exportguard.BLOCK])
def test_export_page_list_skips_texts_and_agrees_with_a_full_read(
    tmp_path: Path, monkeypatch, block: int
) -> None:
    """The page list (`SnapshotSource.pages`, the status pass of every poll) skips texts
    unread; it counts the same revisions and finds the same last one as reading them."""
    monkeypatch.setattr(exportguard, "BLOCK", block)
    path = tmp_path / "pages.xml"
    rows = export(path, ["<b>", TRICKY * 30, None, "&lt;text&gt;", "x" * 3000, "end"])
    seen: list[int] = []
    real = exportguard.ExportGuard._text

    def text(self):  # what the parser is given of texts, by pass
        seen.append(self.skip_texts)
        return real(self)

    monkeypatch.setattr(exportguard.ExportGuard, "_text", text)
    [page] = list(SnapshotSource("snap", path).pages())
    assert (page.pageid, page.title, page.revisions) == (5, TITLE, len(rows))
    assert page.lastrevid == rows[-1]["revid"]
    assert seen == []  # no text was read
    assert [rev.text for rev in read(path)][-1] == "end"
    assert seen and not any(seen)


def test_export_page_list_refuses_markup_inside_a_text(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    export(path, ["one", "two"])
    xml = path.read_text(encoding="utf-8").replace(">two</text>", "><![CDATA[two]]></text>")
    path.write_text(xml, encoding="utf-8")
    with pytest.raises(WikiError, match="markup inside a <text> element"):
        list(SnapshotSource("snap", path).pages())


def test_export_utf8_size_counts_what_the_characters_are() -> None:
    for text in [
        "",
        "plain",
        TRICKY,
        "&lt;&gt;&amp;&quot;&apos;",
        "&#233;&#x20AC;&#128512;",
        "\r\n\r\n",
    ]:
        parsed = (
            text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", '"')
            .replace("&apos;", "'")
            .replace("&#233;", "é")
            .replace("&#x20AC;", "€")
            .replace("&#128512;", "😀")
            .replace("&amp;", "&")
            .replace("\r\n", "\n")
        )
        assert utf8_size(text.encode()) == len(parsed.encode()), text


def _huge_export(path: Path, size: int) -> None:
    """An export with one small revision and one of ``size`` bytes, written in pieces."""
    with path.open("w", encoding="utf-8") as out:
        write_export(
            out,
            [
                (
                    {"title": TITLE, "ns": 0, "pageid": 5},
                    [
                        (
                            {
                                "revid": 1,
                                "parentid": 0,
                                "timestamp": "2024-01-01T00:00:00Z",
                                "user": "A",
                                "userid": 1,
                                "comment": "",
                                "minor": False,
                                "sha1": sha1_hex("small"),
                            },
                            "small",
                        )
                    ],
                )
            ],
        )
    body = path.read_text(encoding="utf-8")
    head, tail = body.split("  </page>\n")
    with path.open("w", encoding="utf-8") as out:
        out.write(head)
        out.write(
            "    <revision>\n      <id>2</id>\n      <parentid>1</parentid>\n"
            "      <timestamp>2024-01-01T00:00:01Z</timestamp>\n"
            "      <contributor><username>B</username><id>2</id></contributor>\n"
            "      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
            f'      <text bytes="{size}" xml:space="preserve">'
        )
        piece = "&lt;ref&gt;" + "x" * (64 * 1024 - 5)  # stands for 64 KiB
        for _ in range(size // (64 * 1024)):
            out.write(piece)
        out.write("</text>\n      <sha1>" + "1" * 31 + "</sha1>\n    </revision>\n  </page>\n")
        out.write(tail)


def test_export_huge_text_is_never_held(tmp_path: Path) -> None:
    """200 MB in one <text>, read in a process of its own with the default bound: its peak
    RSS grows by the bound and a block, not by the text (nor by the text as a str)."""
    path = tmp_path / "huge.xml"
    size = 200 * MIB
    _huge_export(path, size)
    script = tmp_path / "read.py"
    script.write_text(
        textwrap.dedent(f"""
        import resource
        from pathlib import Path
        from tracker.fetch.snapshot import SnapshotSource
        source = SnapshotSource("snap", Path({str(path)!r}))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        revisions = [rev for batch in source.fetch_revisions(5) for rev in batch]
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        big = revisions[1]
        print(len(revisions), big.toolarge, big.size, big.text is None, before, after)
    """)
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    count, toolarge, found, no_text, before, after = done.stdout.split()
    assert (count, toolarge, int(found), no_text) == ("2", "True", size, "True")
    assert (int(after) - int(before)) * 1024 < 60 * MIB, done.stdout  # ru_maxrss: KiB


ABSURD = {
    "a summary of 2 MiB": ("<comment>" + "c" * (2 * MIB) + "</comment>", "of text in <comment>"),
    "a tag of 2 MiB": (
        '<comment note="' + "n" * (2 * MIB) + '">x</comment>',
        "a piece of markup longer",
    ),
    "a comment of 2 MiB": ("<!--" + "-" * 0 + "c" * (2 * MIB) + "-->", "a piece of markup"),
    "markup inside a text": ("", "markup inside a <text> element"),
}


@pytest.mark.parametrize("case", list(ABSURD))
def test_export_absurd_sizes_are_refused_in_one_line(tmp_path: Path, case: str) -> None:
    insert, expected = ABSURD[case]
    path = tmp_path / "absurd.xml"
    export(path, ["one", "two"])
    xml = path.read_text(encoding="utf-8")
    if case == "markup inside a text":
        xml = xml.replace(">two</text>", "><![CDATA[two]]></text>")
    else:
        xml = xml.replace("<comment>edit 1</comment>", insert)
    path.write_text(xml, encoding="utf-8")
    config = write_config(tmp_path, wikis=[], watches=[])
    result = tracker(config, "snapshot", "import", str(path), "--wiki", "w")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "refused" in lines[0], result.output


def test_export_doctype_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xml"
    export(path, ["one"])
    xml = path.read_text(encoding="utf-8")
    laughs = '<!DOCTYPE mediawiki [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>\n'
    path.write_text(laughs + xml.replace(">one<", ">&b;<"), encoding="utf-8")
    with pytest.raises(WikiError, match="DOCTYPE.*refused"):
        read(path)


def test_export_utf16_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "utf16.xml"
    export(path, ["one"])
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    with pytest.raises(WikiError, match="UTF-16"):
        read(path)


def test_export_too_large_revision_is_stored_with_its_metadata(tmp_path: Path) -> None:
    """Through `tracker snapshot import` and `tracker run --once` (a snapshot wiki), the
    default 8 MiB: every revision stored, the large one without its text, the diffs going
    from the revision before it to the one after."""
    texts = ["== A ==\nstart\n", "== A ==\n" + "big " * (9 * MIB // 4), "== A ==\nend\n"]
    path = tmp_path / "history.xml"
    export(path, texts)
    for way in ("import", "run"):
        (tmp_path / way).mkdir()
        config = write_config(
            tmp_path / way,
            wikis=[{"name": "snap", "snapshot": str(path)}],
            watches=[{"wiki": "snap", "title": TITLE}],
        )
        if way == "import":
            result = tracker(config, "snapshot", "import", str(path), "--wiki", "snap")
        else:
            result = tracker(config, "run", "--once")
        assert result.exit_code == 0, result.output
        history = history_json(config, TITLE)
        assert [r["revid"] for r in history] == [10, 11, 12]
        assert [r["size"] for r in history] == [len(t.encode()) for t in texts]
        assert [r["sha1"] for r in history] == [hashlib.sha1(t.encode()).hexdigest() for t in texts]
        assert not any(r["texthidden"] for r in history)
        assert [r["toolarge"] for r in history] == [False, True, False]
        shown = tracker(config, "show", "11")
        assert shown.exit_code == 0
        assert (
            f"was too large to keep ({len(texts[1].encode()):,} bytes, over the wiki's "
            "max_revision_size)" in shown.output
        )
        with sqlite3.connect(tmp_path / way / "tracker.db") as db:
            assert db.execute(
                "SELECT revid, has_text, texthidden FROM revisions ORDER BY revid"
            ).fetchall() == [(10, 1, 0), (11, 0, 0), (12, 1, 0)]
        diff = tracker(config, "diff", TITLE, "--from", "10", "--to", "12", "--json")
        assert diff.exit_code == 0 and "end" in diff.output


def test_export_batches_are_bounded_by_their_text(tmp_path: Path) -> None:
    """Three batches are in memory while a backfill streams: long revisions come in
    batches of at most BATCH_CHARS characters (one revision over), short ones 200 at a time."""
    from tracker.fetch import snapshot

    long = [f"{i} " + "x" * 450_000 for i in range(12)]
    short = [f"short {i}" for i in range(45)]
    path = tmp_path / "e.xml"
    export(path, long + short)
    batches = list(SnapshotSource("snap", path).fetch_revisions(5))
    sizes = [sum(len(r.text or "") for r in batch) for batch in batches]
    assert [r.text for batch in batches for r in batch] == long + short  # all, in order
    assert len(batches) > 2
    assert all(size < snapshot.BATCH_CHARS + 450_100 for size in sizes)
    assert max(len(batch) for batch in batches) <= snapshot.BATCH_SIZE


def test_export_page_list_of_an_unchanged_file_is_not_read_again(
    tmp_path: Path, monkeypatch
) -> None:
    """A daemon polls an export every few minutes: while the file does not change, its page
    list is not read again; an edit to it (even of the same size) is read."""
    path = tmp_path / "polled.xml"
    export(path, ["one", "two"])
    reads = []
    real = snapshot._pages_by_elements

    def counting(*args):
        reads.append(1)
        return real(*args)

    monkeypatch.setattr(snapshot, "_pages_by_elements", counting)
    source = SnapshotSource("snap", path)
    first = list(source.pages())
    assert list(SnapshotSource("snap", path).pages()) == first and len(reads) == 1
    export(path, ["one", "owt"])  # the same size, the same second
    [page] = list(SnapshotSource("snap", path).pages())
    assert len(reads) == 2 and page.lastrevid == first[0].lastrevid
    assert source.requests == 1


# --- the guard passes exports through as they are ---------------------------------------------

_PIECES = [
    "<page>", "</page>", "<title>T</title>", "<revision>", "</revision>", "<id>7</id>",
    '<contributor deleted="deleted" />', '<comment a="x>y">c &amp; d</comment>',
    "<!-- a comment with <text> in it -->", "<![CDATA[ <text>x</text> ]]>", "<?pi data?>",
    "<!-- a > b <text> c -->", "<![CDATA[ a > b <text>x</text> ]]>", "<?pi a > b <text>?>",
    "\n  ", "plain words", '<text bytes="3" xml:space="preserve">abc</text>',
    '<text xml:space="preserve" />', "<text>é € &lt;ref&gt;</text>", "<sha1>x</sha1>",
]  # fmt: skip


@pytest.mark.parametrize("block", [7, 64, 4096])
@pytest.mark.parametrize("seed", range(3))
def test_export_guard_passes_markup_through_as_it_is(monkeypatch, block: int, seed: int) -> None:
    # Tags passed on many at a time up to the next <text>, comments, CDATA and processing
    # instructions one by one: the same bytes either way, at any block size; and without
    # the texts' content when they are skipped.
    import io
    import random
    import re

    monkeypatch.setattr(exportguard, "BLOCK", block)
    rng = random.Random(seed)
    for _ in range(40):
        body = "".join(rng.choice(_PIECES) for _ in range(rng.randint(1, 60)))
        data = f"<mediawiki>{body}</mediawiki>".encode()
        guard = exportguard.ExportGuard(io.BytesIO(data), 1 << 20, "x.xml")
        pieces = iter(lambda g=guard: g.read(rng.choice([1, 5, 16384])), b"")
        assert b"".join(pieces) == data
        skipping = exportguard.ExportGuard(io.BytesIO(data), 1 << 20, "x.xml", skip_texts=True)
        skipped = skipping.read()
        # Each text's content gone; comments and CDATA (which may hold "<text>") kept.
        expected = re.sub(
            rb"(<text\b[^>]*(?<!/)>)[^<]*(</text>)|(<!--.*?-->|<!\[CDATA\[.*?\]\]>)",
            lambda m: m.group(3) or m.group(1) + m.group(2),
            data,
        )
        assert skipped == expected
