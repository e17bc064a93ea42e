"""The bundled seed history arriving in stages, polled and digested in-process.

- ``cut_snapshot``: the seed export with only its first N revisions;
- ``seed_config``: a config whose snapshot wiki is such a cut copy, with subscriptions;
- ``Tracker``: that config and its store, polled (``stage(N)``: the history grew to N
  revisions) and digested (``deliver()``) with an injected clock starting at ``T0``;
- ``copy_templates``: the bundled digest templates, to override one.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from trackerutil import SEED_SNAPSHOT, SEED_TITLE, write_config

T0 = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)  # the tests' clock starts here


def seed_revids() -> list[int]:
    text = SEED_SNAPSHOT.read_text(encoding="utf-8")
    return [int(m) for m in re.findall(r"<revision>\s*<id>(\d+)</id>", text)]


def cut_snapshot(target: Path, count: int | None) -> Path:
    """Write the seed export with only its first ``count`` revisions (all when None)."""
    text = SEED_SNAPSHOT.read_text(encoding="utf-8")
    if count is not None:
        ends = [m.end() for m in re.finditer(r"</revision>\n", text)]
        assert 0 < count <= len(ends), count
        text = text[: ends[count - 1]] + "  </page>\n</mediawiki>\n"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target


def seed_config(
    directory: Path,
    *subscriptions: dict[str, Any],
    revisions: int | None = None,
    web: str | None = None,
    index_url: str | None = "https://wiki.example/index.php",
) -> Path:
    """A config.toml in ``directory`` watching the seed article from a cut snapshot."""
    cut_snapshot(directory / "seed.xml", revisions)
    wiki = {"name": "seed", "snapshot": "seed.xml"}
    if index_url:
        wiki["index_url"] = index_url
    return write_config(
        directory,
        wikis=[wiki],
        watches=[{"wiki": "seed", "title": SEED_TITLE}],
        web={"base_url": web} if web else None,
        subscriptions=subscriptions,
    )


@dataclass
class Tracker:
    """A config and its store, polled and digested in-process with an injected clock."""

    path: Path
    now: datetime = T0

    @property
    def config(self):  # noqa: ANN201
        from tracker.config import load_config

        return load_config(self.path)

    def stage(self, revisions: int | None) -> None:
        """Let the history grow to its first ``revisions`` revisions, then poll."""
        from tracker.fetch.poll import poll_all
        from tracker.store import Store

        cut_snapshot(self.path.parent / "seed.xml", revisions)
        with Store(self.config.database_path) as store:
            results = poll_all(store, self.config, progress=False)
        assert all(r.ok for r in results), [r.errors for r in results]

    def deliver(self, minutes: float = 1.0, **kwargs: Any) -> list[str]:
        """deliver_due at a clock ``minutes`` later than the previous call."""
        from tracker.digest.run import deliver_due
        from tracker.store import Store

        self.now += timedelta(minutes=minutes)
        with Store(self.config.database_path) as store:
            return deliver_due(store, self.config, now=self.now, **kwargs)

    def digests(self, subscription: str | None = None) -> list[dict]:
        from tracker.store import Store

        with Store(self.config.database_path) as store:
            where = " WHERE subscription = ?" if subscription else ""
            rows = store.query(
                f"SELECT * FROM digests{where} ORDER BY id", [subscription] if subscription else []
            )
        for row in rows:
            row["model"] = json.loads(row["model"])
        return rows

    def deliveries(self) -> list[dict]:
        from tracker.store import Store

        with Store(self.config.database_path) as store:
            return store.query("SELECT * FROM deliveries ORDER BY id")


def copy_templates(target: Path) -> Path:
    """A copy of the bundled templates (to override one in a test)."""
    from tracker.digest.render import bundled_templates

    shutil.copytree(bundled_templates(), target)
    return target
