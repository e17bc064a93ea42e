"""A page whose edit a reader reads differently from an editor, for the reader view's tests:
an infobox field, a word and a new source in the lead, a maintenance template removed, a
markup-only edit, a category added, and hostile text (a script, an attribute breaking out
of its quotes, a javascript: link) in a section of its own.

``reader_tracker`` stores its first revision, delivers the "started tracking" digest, then
stores the second, so that the next digest tells the edit.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from seedstages import Tracker
from trackerutil import write_config

from tracker.fetch.snapshot import write_export

TITLE = "Reader page"
OLD = """{{Use dmy dates}}
{{Infobox bilateral relations
| envoytitle1 = Ambassador
}}
'''Pakistan–NATO relations''' are the [[International relations|relations]] between \
[[Pakistan]] and [[NATO]].

== Envoys ==
The envoy meets the Council.

== Seat ==
The mission is in [[Brussels]].

== See also ==
* [[Foreign relations of Pakistan]]
"""
HOSTILE_SCRIPT = '<script>alert("x")</script>'
HOSTILE_IMG = '"><img src=x onerror=alert(1)>'
NEW = """{{Infobox bilateral relations
| envoytitle1 = Permanent Representative
}}
'''Pakistan–NATO relations''' are the [[International relations|bilateral relations]] \
between [[Pakistan]] and [[NATO]].<ref>{{cite web |last=Rubin |first=Michael \
|title=Why Pakistan Can't Be Pulled Away From China |work=The National Interest \
|date=2022-12-02 |url=https://example.org/rubin}}</ref>

== Envoys ==
The envoy meets the Council. HOSTILE_SCRIPT said [[Foo|HOSTILE_IMG]] and \
[javascript:alert(1) click here].

== Seat ==
The mission is in [[Brussels|Brussels]].

== See also ==
* [[Foreign relations of Pakistan]]

[[Category:Pakistan–NATO relations]]
""".replace("HOSTILE_SCRIPT", HOSTILE_SCRIPT).replace("HOSTILE_IMG", HOSTILE_IMG)
USERS = ["Alice", "Bob"]


def _export(path: Path, count: int) -> None:
    revisions = [
        (
            {
                "revid": 500 + i,
                "parentid": 499 + i if i else 0,
                "timestamp": f"2024-02-0{i + 1}T10:00:00Z",
                "user": USERS[i],
                "userid": 3 + i,
                "comment": "edit",
                "sha1": hashlib.sha1(text.encode()).hexdigest(),
            },
            text,
        )
        for i, text in enumerate([OLD, NEW][:count])
    ]
    with path.open("w", encoding="utf-8") as out:
        write_export(out, [({"title": TITLE, "pageid": 77}, revisions)])


def reader_tracker(directory: Path, **subscription: Any) -> Tracker:
    """A tracker of the page with one subscription (a file channel unless ``channels``
    says otherwise), its first digest delivered and the edit stored."""
    from tracker.fetch.poll import poll_all
    from tracker.store import Store

    sub = {"name": "r", "formats": ["text", "markdown", "html"]} | subscription
    sub.setdefault("channels", [{"type": "file", "path": "digests"}])
    snapshot = directory / "reader.xml"
    _export(snapshot, 1)
    config = write_config(
        directory,
        wikis=[{"name": "w", "snapshot": "reader.xml", "index_url": "https://w.example/index.php"}],
        watches=[{"wiki": "w", "title": TITLE}],
        web={"base_url": "http://tracker.example"},
        subscriptions=[sub],
    )
    t = Tracker(config)

    def poll() -> None:
        with Store(t.config.database_path) as store:
            poll_all(store, t.config, progress=False)

    poll()
    t.deliver()
    _export(snapshot, 2)
    poll()
    return t
