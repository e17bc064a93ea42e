"""README.md's quick tour is what scripts/readme_tour.py makes from a real run, so that it
cannot go stale; and wherever the README shows the seed article's bundled history, it says
that the history is made up for the demo."""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

from trackerutil import REPO


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "readme_tour", REPO / "scripts" / "readme_tour.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_tour_is_the_output_of_a_real_run() -> None:
    script = load_script()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    start, end = script.block(readme)
    assert readme[start:end] == script.tour(), "run: python scripts/readme_tour.py"


def test_readme_says_the_bundled_history_is_made_up() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    tour = readme[readme.index("## A quick tour") : readme.index("## Configuration")]
    assert "made up for the demo" in tour
    # Every section that shows or runs the bundled history says it.
    for section in re.split(r"\n## ", readme):
        if "snapshots/pakistan-nato-relations.xml" in section or "Shahid.Karachi" in section:
            assert "made up for the demo" in section, section.splitlines()[0]
