"""mwedittypes' own cases (tests/data/mwedittypes_cases.yaml) run on our diff: where their
notion of a change to a template, reference, category, link, file, heading or section is
ours, we must agree; the rest is listed as out of scope with its reason."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from tracker.text.diff import diff_texts

DATA = yaml.safe_load(
    (Path(__file__).parent / "data" / "mwedittypes_cases.yaml").read_text("utf-8")
)
CASES = DATA["cases"]
WORD_OPS = {"insert", "delete", "move", "heading_level"}


def _texts(case: dict) -> tuple[str, str]:
    old = DATA["bases"][case["base"]]
    new = old
    for edit in case["edits"]:
        if "replace" in edit:
            a, b = edit["replace"]
            assert a in new, (case["name"], a)
            new = new.replace(a, b, 1)
        elif "prepend" in edit:
            new = edit["prepend"] + new
        else:
            new = new + edit["append"]
    return old, new


def _ours(old: str, new: str) -> tuple[Counter, list[tuple[object, dict]]]:
    result = diff_texts(old, new)
    kinds = Counter(kind for entry in result.sections for kind in entry["kinds"])
    changes = [("page", c) for c in result.page_changes]
    changes += [
        (entry["path"], c)
        for entry in result.sections
        for c in entry["changes"]
        if c["type"] not in WORD_OPS
    ]
    return kinds, changes


def _agrees(expected: dict, where: object, change: dict) -> bool:
    return all(
        (where == value) if key == "section" else change.get(key) == value
        for key, value in expected.items()
    )


COMPARED = [c for c in CASES if "out_of_scope" not in c]  # the others: accounted for below


@pytest.mark.parametrize("case", COMPARED, ids=[c["name"] for c in COMPARED])
def test_mwedittypes_case(case):
    kinds, changes = _ours(*_texts(case))
    assert dict(kinds) == case["expect"]["sections"], case["their"]
    expected = list(case["expect"]["semantic"])
    unmatched = list(changes)
    for want in expected:
        found = next((c for c in unmatched if _agrees(want, *c)), None)
        assert found is not None, (want, changes)
        unmatched.remove(found)
    assert not unmatched, unmatched


def test_mwedittypes_cases_are_accounted_for():
    """Every case of theirs is compared or out of scope, for a reason listed."""
    reasons = DATA["reasons"]
    out = Counter(c["out_of_scope"] for c in CASES if "out_of_scope" in c)
    compared = [c for c in CASES if "out_of_scope" not in c]
    assert set(out) <= set(reasons)
    assert all(set(c.get("not_compared", ())) <= set(reasons) for c in compared)
    assert all("expect" in c for c in compared)
    assert len(CASES) == 40 and len(compared) == 35
    assert out == {"text": 3, "lead-always-there": 1, "upstream-xfail": 1}
