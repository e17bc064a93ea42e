"""The public Python API: what `tracker` names is there, works, and is in the README."""

from __future__ import annotations

from pathlib import Path

import tracker

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_public_api_names_resolve() -> None:
    for name in tracker.__all__:
        assert getattr(tracker, name) is not None, name


def test_public_api_is_documented() -> None:
    for name in tracker.__all__:
        if not name.startswith("_") and name != "NAME":
            assert f"`{name}" in README, f"tracker.{name} is not in the README"


def test_public_api_splits_and_diffs() -> None:
    old = "Lead.\n\n== A ==\nOne sentence here.\n"
    new = "Lead.\n\n== A ==\nOne longer sentence here.\n\n== B ==\nNew.\n"
    assert [s.heading for s in tracker.split_sections(new)] == ["", "A", "B"]
    result = tracker.diff_texts(old, new)
    assert [s["kinds"] for s in result.sections] == [[], ["edited"], ["added"]]
    assert "py.typed" in {p.name for p in Path(tracker.__file__).parent.iterdir()}
