"""The tracker on real files: config files, and commands run on them.

- ``write_config``: the one writer of ``config.toml`` in the tests (``toml_value`` turns a
  Python value into TOML); ``wiki_config`` and ``wiki_table`` for the common cases.
- ``tracker``: a command run in-process with click's CliRunner; ``history_json`` its
  ``history --json``; ``run_tracker``: a command as a process of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
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
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(value)


def _table(header: str, values: dict) -> list[str]:
    return [header, *(f"{k} = {toml_value(v)}" for k, v in values.items()), ""]


def write_config(
    directory: Path,
    *,
    wikis: Iterable[dict] = (),
    watches: Iterable[dict] = (),
    subscriptions: Iterable[dict] = (),
    daemon: dict | None = None,
    web: dict | None = None,
    database: str = "tracker.db",
    extra: str = "",
) -> Path:
    """``directory``/config.toml (the directory made if need be; the database next to it
    unless ``database`` says otherwise); ``extra``: TOML text added as it is."""
    lines = _table("[storage]", {"database": database})
    for name, table in (("daemon", daemon), ("web", web)):
        if table:
            lines += _table(f"[{name}]", table)
    for name, rows in (("wikis", wikis), ("watches", watches), ("subscriptions", subscriptions)):
        for row in rows:
            lines += _table(f"[[{name}]]", row)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def wiki_config(directory: Path, api_url: str, titles: list[str], **wiki: Any) -> Path:
    """A config watching ``titles`` on one wiki named "test"."""
    return write_config(
        directory,
        wikis=[
            {
                "name": "test",
                "api_url": api_url,
                "contact": "tests@example.org",
                "max_retries": 1,
                **wiki,
            }
        ],
        watches=[{"wiki": "test", "title": t} for t in titles],
    )


def wiki_table(name: str, api_url: str, **extra: Any) -> dict:
    """A [[wikis]] table for a loopback wiki: fail fast (few retries, short timeout)."""
    return {"name": name, "api_url": api_url, "timeout": 3.0, "max_retries": 1, **extra}


def tracker(config: Path, *args: str) -> Result:
    """Run the CLI in-process on real files."""
    return CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)


def history_json(config: Path, title: str, *extra: str) -> list[dict]:
    result = tracker(config, "history", title, "--json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def run_tracker(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """A `tracker` command as its own process."""
    return subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=config.parent,
    )
