"""`tracker init`: a commented config.toml that works at once, from the template shipped in
the package (example.toml), with the bundled history of the seed article beside it so that
the first `tracker run --once` needs no network."""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from tracker.config.locate import CONFIG_NAME
from tracker.errors import TrackerError, UsageError

# Where the template's `snapshot` key points, relative to the config file.
SEED_SNAPSHOT = Path("snapshots") / "pakistan-nato-relations.xml"


@dataclass(frozen=True)
class Started:
    """What `init_config` wrote."""

    config: Path
    snapshot: Path


def example_config() -> str:
    """The text of the shipped template, as `tracker init` writes it."""
    return importlib.resources.files("tracker.config").joinpath("example.toml").read_text("utf-8")


def bundled_snapshot() -> Traversable:
    """The seed article's made-up history, installed (package tracker.snapshots) or in a
    source checkout (snapshots/)."""
    name = SEED_SNAPSHOT.name
    try:
        installed = importlib.resources.files("tracker.snapshots").joinpath(name)
        if installed.is_file():
            return installed
    except (ModuleNotFoundError, TypeError):
        # An editable install may not import the mapped namespace package: try the checkout.
        pass
    checkout = Path(__file__).resolve().parents[2] / SEED_SNAPSHOT
    if checkout.is_file():
        return checkout
    raise TrackerError(
        f"the bundled seed snapshot {name} is missing from the installation; reinstall wiki-tracker"
    )


def init_config(directory: Path, force: bool = False) -> Started:
    """Write ``directory/config.toml`` and the seed snapshot it reads; refuse to overwrite
    either unless ``force`` (an identical snapshot is left as it is)."""
    config = directory / CONFIG_NAME
    snapshot = directory / SEED_SNAPSHOT
    seed = bundled_snapshot().read_bytes()
    if not force:
        if config.exists():
            raise UsageError(f"{config} exists already: keep it, or overwrite it with --force")
        if snapshot.exists() and not _same(snapshot, seed):
            raise UsageError(
                f"{snapshot} exists and is not the bundled one: move it, or overwrite it "
                "with --force"
            )
    try:
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        if not (snapshot.is_file() and _same(snapshot, seed)):
            snapshot.write_bytes(seed)
        config.write_text(example_config(), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write in {directory}: {exc.strerror or exc}") from None
    return Started(config, snapshot)


def _same(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except OSError:
        return False
