"""The bundled offline history of the seed article is a valid, self-consistent export."""

from __future__ import annotations

import hashlib
import ipaddress
import subprocess
import sys
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import mwparserfromhell
import mwxml
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "snapshots" / "pakistan-nato-relations.xml"
BUILDER = ROOT / "scripts" / "build_seed_snapshot.py"
EXPECTED = ROOT / "tests" / "data" / "seed_history.yaml"
NS = "{http://www.mediawiki.org/xml/export-0.11/}"


def base36_sha1(text: str) -> str:
    """Independent of the builder: MediaWiki's Wikimedia\\base_convert(sha1, 16, 36, 31)."""
    n = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)
    digits = []
    while n:
        n, r = divmod(n, 36)
        digits.append("0123456789abcdefghijklmnopqrstuvwxyz"[r])
    return "".join(reversed(digits)).rjust(31, "0")


@pytest.fixture(scope="module")
def page():
    with SNAPSHOT.open(encoding="utf-8") as f:
        # mwxml reads lazily: take each page's revisions while the file is open
        pages = [
            {"title": p.title, "ns": p.namespace, "id": p.id, "revisions": list(p)}
            for p in mwxml.Dump.from_file(f)
        ]
    assert len(pages) == 1
    return pages[0]


@pytest.fixture(scope="module")
def revisions(page):
    return page["revisions"]


@pytest.fixture(scope="module")
def expected():
    return yaml.safe_load(EXPECTED.read_text(encoding="utf-8"))


def test_seed_snapshot_page_identity(page):
    assert page["title"] == "Pakistan\u2013NATO relations"
    assert page["ns"] == 0
    assert page["id"] == 764512


def test_seed_snapshot_siteinfo():
    root = ET.parse(SNAPSHOT).getroot()
    assert root.tag == f"{NS}mediawiki"
    assert root.get("version") == "0.11"
    site = root.find(f"{NS}siteinfo")
    assert "EverybodyWiki" in site.findtext(f"{NS}sitename")
    assert site.findtext(f"{NS}base") == "https://en.everybodywiki.com/Main_Page"
    assert site.findtext(f"{NS}generator").startswith("MediaWiki 1.39")
    assert site.findtext(f"{NS}case") == "first-letter"
    keys = {int(ns.get("key")) for ns in site.find(f"{NS}namespaces")}
    assert {0, 1, 2, 10, 14} <= keys


def test_seed_snapshot_has_enough_revisions(revisions):
    assert 12 <= len(revisions) <= 16


def test_seed_snapshot_parentid_chain(revisions):
    assert revisions[0].parent_id is None
    for prev, rev in pairwise(revisions):
        assert rev.parent_id == prev.id
        assert rev.id > prev.id


def test_seed_snapshot_timestamps_increase(revisions):
    stamps = [rev.timestamp.unix() for rev in revisions]
    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)
    first, last = revisions[0].timestamp, revisions[-1].timestamp
    assert (last.unix() - first.unix()) > 90 * 24 * 3600


def test_seed_snapshot_sha1_is_base36_of_text(revisions):
    for rev in revisions:
        assert len(rev.sha1) == 31
        assert rev.sha1 == base36_sha1(rev.text), rev.id


def test_seed_snapshot_text_attributes():
    """bytes= is the UTF-8 length; the 0.11 text sha1= attribute matches <sha1>."""
    root = ET.parse(SNAPSHOT).getroot()
    revs = root.find(f"{NS}page").findall(f"{NS}revision")
    assert revs
    for rev in revs:
        text = rev.find(f"{NS}text")
        body = text.text or ""
        assert int(text.get("bytes")) == len(body.encode("utf-8"))
        assert text.get("sha1") == rev.findtext(f"{NS}sha1") == base36_sha1(body)
        assert rev.findtext(f"{NS}model") == "wikitext"
        assert rev.findtext(f"{NS}format") == "text/x-wiki"
        assert not body.endswith(("\n", " ")), "MediaWiki stores text right-trimmed"


def test_seed_snapshot_bytes_match_utf8_length(revisions):
    for rev in revisions:
        assert rev.bytes == len(rev.text.encode("utf-8"))


def test_seed_snapshot_contributors(revisions):
    names = {rev.user.text for rev in revisions}
    assert len(names) >= 5
    ips = [rev for rev in revisions if rev.user.id is None]
    assert [rev.user.text for rev in ips] == ["203.0.113.9"]
    ipaddress.ip_address(ips[0].user.text)
    assert "RevertBot" in names


def test_seed_snapshot_revert_restores_pre_vandal_text(revisions, expected):
    by_id = {rev.id: rev for rev in revisions}
    vandal = [e for e in expected if e.get("vandalism")]
    revert = [e for e in expected if "revert_of" in e]
    assert len(vandal) == len(revert) == 1
    vandal, revert = vandal[0], revert[0]
    assert revert["from"] == vandal["to"]
    assert revert["revert_of"] == vandal["from"]
    assert by_id[revert["to"]].text == by_id[vandal["from"]].text
    assert by_id[revert["to"]].sha1 == by_id[vandal["from"]].sha1
    assert by_id[vandal["to"]].sha1 != by_id[vandal["from"]].sha1
    assert by_id[vandal["to"]].user.id is None
    assert by_id[revert["to"]].user.text == "RevertBot"


def test_seed_snapshot_expectations_match_export(revisions, expected):
    """The YAML has one entry per consecutive pair, and its metadata matches the XML."""
    pairs = [(a.id, b.id) for a, b in pairwise(revisions)]
    assert [(e["from"], e["to"]) for e in expected] == pairs
    by_id = {rev.id: rev for rev in revisions}
    kinds = {"added", "removed", "renamed", "moved", "edited"}
    for e in expected:
        rev = by_id[e["to"]]
        assert e["user"] == rev.user.text
        assert e["minor"] == rev.minor
        assert e["comment"] == rev.comment
        for change in e["expect"]:
            assert change["kinds"] and set(change["kinds"]) <= kinds
            assert isinstance(change["path"], list)
            if {"renamed", "moved"} & set(change["kinds"]):
                assert "from_path" in change


def test_seed_snapshot_covers_every_kind_of_edit(expected):
    kinds = {k for e in expected for c in e["expect"] for k in c["kinds"]}
    assert kinds == {"added", "removed", "renamed", "moved", "edited"}
    semantic = " ".join(s for e in expected for s in e.get("semantic", []))
    for needle in ("infobox envoytitle1", "reference added", "reference removed", "category added"):
        assert needle in semantic
    assert any(e.get("heading_levels") and not e["expect"] for e in expected)
    assert any(e["minor"] and "typo" in e["comment"] for e in expected)


def test_seed_snapshot_final_revision_has_seed_sections(revisions):
    code = mwparserfromhell.parse(revisions[-1].text)
    headings = [(h.level, h.title.strip_code().strip()) for h in code.filter_headings()]
    assert headings == [
        (2, "Military relations and understanding"),
        (3, "Cooperation on Bosnian War"),
        (3, "Stability in Afghanistan and Central Asia"),
        (2, "See also"),
        (2, "References"),
    ]
    text = revisions[-1].text
    assert "{{Reflist}}" in text and "[[Category:" in text
    assert text.count('<ref name="nato"') == 5


def test_seed_snapshot_builder_check_reports_up_to_date():
    result = subprocess.run(
        [sys.executable, str(BUILDER), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


def test_seed_snapshot_builder_check_detects_stale_file(tmp_path):
    stale = tmp_path / "stale.xml"
    stale.write_bytes(SNAPSHOT.read_bytes().replace(b"RevertBot", b"RevertBat", 1))
    result = subprocess.run(
        [sys.executable, str(BUILDER), "--check", "--output", str(stale)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 1
    assert "out of date" in result.stderr
