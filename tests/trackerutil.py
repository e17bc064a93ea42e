"""Helpers shared by the tracker's own tests: config files and CLI runs on real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from tracker.cli import main

SEED_TITLE = "Pakistan–NATO relations"
REPO = Path(__file__).resolve().parent.parent
SEED_SNAPSHOT = REPO / "snapshots" / "pakistan-nato-relations.xml"


def toml_value(value: Any) -> str:
    """A Python value as a TOML value (inline tables for dicts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}"
                                for k, v in value.items()) + " }"
    raise TypeError(value)


def write_config(directory: Path, *, wikis: list[dict], watches: list[dict],
                 extra: str = "", database: str = "tracker.db") -> Path:
    """A config.toml in ``directory`` (database next to it)."""
    lines = ["[storage]", f"database = {toml_value(database)}", ""]
    for wiki in wikis:
        lines.append("[[wikis]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in wiki.items()]
        lines.append("")
    for watch in watches:
        lines.append("[[watches]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in watch.items()]
        lines.append("")
    path = directory / "config.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def wiki_config(directory: Path, api_url: str, titles: list[str], **wiki: Any) -> Path:
    """A config watching ``titles`` on one wiki named "test"."""
    return write_config(
        directory,
        wikis=[{"name": "test", "api_url": api_url, "contact": "tests@example.org",
                "max_retries": 1, **wiki}],
        watches=[{"wiki": "test", "title": t} for t in titles],
    )


def tracker(config: Path, *args: str) -> Result:
    """Run the CLI in-process on real files."""
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def history_json(config: Path, title: str, *extra: str) -> list[dict]:
    result = tracker(config, "history", title, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
