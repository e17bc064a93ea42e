"""The Datasette plugin of wiki tracker (entry point ``datasette: wiki_tracker``).

Installed beside Datasette, it defines tracker.store.sqlfunctions' SQL functions on every
connection Datasette opens, so that the views ``revision_texts`` and ``section_texts``
show readable wikitext:

    datasette tracker.db -m "$(python -m tracker.store.datasette)"

``python -m tracker.store.datasette`` prints the path of the shipped metadata
(datasette.json: a description of every table, view and column). pluggy's marker is
Datasette's own (``HookimplMarker("datasette")``), so this module needs no import of Datasette.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pluggy

from tracker.store import sqlfunctions

hookimpl = pluggy.HookimplMarker("datasette")

METADATA = Path(__file__).with_name("datasette.json")


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    sqlfunctions.register(conn)


if __name__ == "__main__":  # pragma: no cover - a one-line helper for the command line
    print(METADATA)
