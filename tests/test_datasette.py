"""Datasette over a real store: the shipped metadata describes every table, view and column,
and the plugin's SQL functions make the texts readable through Datasette's JSON API.

The store is made by `tracker run --once` on the bundled offline configuration."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from trackerutil import REPO, SEED_TITLE, tracker

datasette_app = pytest.importorskip("datasette.app")

from tracker.store import datasette as plugin  # noqa: E402
from tracker.store import sqlfunctions  # noqa: E402


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tracker.db made by `tracker run --once` on the bundled config.toml and snapshot."""
    directory = tmp_path_factory.mktemp("datasette")
    shutil.copy(REPO / "config.toml", directory / "config.toml")
    shutil.copytree(REPO / "snapshots", directory / "snapshots")
    result = tracker(directory / "config.toml", "run", "--once")
    assert result.exit_code == 0, result.output
    return directory / "tracker.db"


def metadata() -> dict:
    return json.loads(plugin.METADATA.read_text(encoding="utf-8"))


def schema(path: Path) -> dict[str, list[str]]:
    """Every table and view of the store with its columns, from sqlite_master."""
    with sqlite3.connect(path) as db:
        sqlfunctions.register(db)  # the views' columns call them
        names = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {name: [c[1] for c in db.execute(f"PRAGMA table_info([{name}])")] for name in names}


def test_metadata_describes_every_table_view_and_column(store_path: Path) -> None:
    tables = metadata()["databases"]["tracker"]["tables"]
    current = schema(store_path)
    assert set(current) == set(tables), "metadata and schema differ in tables"
    for name, columns in current.items():
        assert tables[name]["description"].strip(), name
        described = tables[name]["columns"]
        assert set(described) == set(columns), (name, set(columns) ^ set(described))
        assert all(text.strip() for text in described.values()), name


def test_the_plugin_is_declared_for_datasette() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    points = declared["project"]["entry-points"]["datasette"]
    assert points == {"wiki_tracker": "tracker.store.datasette"}
    assert "datasette.json" in declared["tool"]["setuptools"]["package-data"]["tracker.store"]
    # Installed (a stale *.egg-info in the working tree can hide it from importlib).
    found = {ep.name: ep.value for ep in entry_points(group="datasette")}
    if found:
        assert found.get("wiki_tracker") == "tracker.store.datasette"


def test_the_views_read_texts_with_the_functions(store_path: Path) -> None:
    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True) as db:
        with pytest.raises(sqlite3.OperationalError, match="no such function"):
            db.execute("SELECT text FROM revision_texts LIMIT 1").fetchall()
        sqlfunctions.register(db)
        rows = db.execute(
            "SELECT revid, text, size FROM revision_texts ORDER BY timestamp, revid"
        ).fetchall()
    assert len(rows) == 16
    for revid, text, size in rows:
        assert len(text.encode("utf-8")) == size, revid
    assert "{{Infobox" in rows[-1][1] and "NATO" in rows[-1][1]


def test_datasette_answers_with_readable_section_text(store_path: Path) -> None:
    asyncio.run(_ask_datasette(store_path))


async def _ask_datasette(store_path: Path) -> None:
    from datasette.plugins import pm

    if not any(
        p is plugin or getattr(p, "__name__", "") == plugin.__name__ for p in pm.get_plugins()
    ):
        pm.register(plugin, name="wiki_tracker")  # as its entry point does when installed
    ds = datasette_app.Datasette([str(store_path)], metadata=metadata())
    await ds.invoke_startup()
    sql = (
        "SELECT title, section_id, text FROM section_texts "
        "WHERE text LIKE '== NATO supply routes ==%' ORDER BY version_id LIMIT 1"
    )
    response = await ds.client.get("/tracker.json", params={"sql": sql, "_shape": "array"})
    assert response.status_code == 200, response.text
    rows = response.json()
    assert rows and rows[0]["title"] == SEED_TITLE
    assert rows[0]["text"].startswith("== NATO supply routes ==")
    # The view's own page, as a Datasette user browses it, and the described table.
    view = await ds.client.get("/tracker/revision_texts.json", params={"_shape": "array"})
    assert view.status_code == 200 and "NATO" in view.json()[0]["text"]
    described = await ds.client.get("/tracker/revisions")
    assert "in MediaWiki&#39;s history order" in described.text or "history order" in described.text
    changes = await ds.client.get(
        "/tracker/section_change_list.json", params={"_shape": "array", "kinds": "renamed"}
    )
    assert changes.status_code == 200 and changes.json()
