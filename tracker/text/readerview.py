"""How the reader diffs of a page's sections (tracker.text.reader) are told: the one line
that sums up what changed that no reader sees, and the text for a terminal. Every output
(digests, the web, the CLI) says the first the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from tracker.text.display import one_line, section_label, terminal_text
from tracker.text.reader import ReaderDiff


def hidden_kind(item: str) -> str:
    """What a hidden thing of `ReaderText.hidden` is: "Category:X" a category,
    "{{Use dmy dates}}" a maintenance template, "__NOTOC__" a behaviour switch..."""
    if item.startswith("Category:"):
        return "category"
    if item.startswith("__") and item.endswith("__"):
        return "behaviour switch"
    if item.startswith("{{"):
        name = item[2:].removesuffix("}}")
        return "magic word" if name.startswith("#") or name.isupper() else "maintenance template"
    return "language link"


def invisible_counts(diffs: Iterable[ReaderDiff]) -> dict[str, int]:
    """{"markup-only edit": 3, "category added": 1, ...}: the sections whose change no
    reader sees, and each hidden thing added or removed, by kind."""
    counts: dict[str, int] = {}
    for diff in diffs:
        if diff.markup_only and not diff.lines and not diff.hidden:
            counts["markup-only edit"] = counts.get("markup-only edit", 0) + 1
        for line in diff.hidden:
            action, _sep, item = line.partition(" ")
            key = f"{hidden_kind(item)} {action}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def invisible_line(diffs: Iterable[ReaderDiff]) -> str | None:
    """ "Not visible to readers: 3 markup-only edits, 1 category added, 1 maintenance
    template removed", or None when a reader sees every change."""
    counts = invisible_counts(diffs)
    if not counts:
        return None
    parts = []
    for key, count in counts.items():
        if count != 1:
            head, _sep, action = key.rpartition(" ")
            if key == "markup-only edit":
                key = "markup-only edits"
            else:
                key = f"{head}s {action}".replace("switchs", "switches")
        parts.append(f"{count} {key}")
    return "Not visible to readers: " + ", ".join(parts)


def render_reader_text(
    result: Mapping[str, Any],
    diffs: Mapping[str, ReaderDiff],
    context: int | None = 80,
    *,
    head: bool = True,
) -> str:
    """The reader view of a diff (the JSON contract's sections) for a terminal: the title
    and the two revisions (``head``), each changed section's heading, what changed for a
    reader, and its words with wdiff's marks (``[-deleted-]``, ``{+inserted+}``); what no
    reader sees in one line at the end. Text of the wiki is shown, never obeyed."""
    lines: list[str] = []
    if head:
        if "title" in result:
            lines.append(one_line(result["title"]))
        for side in ("from", "to"):
            rev = result.get(side)
            if rev:
                who = " ".join(one_line(rev[k]) for k in ("timestamp", "user") if rev.get(k))
                lines.append(f"{side:>4}: r{rev.get('revid')}" + (f" ({who})" if who else ""))
    shown: list[ReaderDiff] = []
    for entry in result.get("sections", []):
        if not entry["kinds"]:
            continue
        diff = diffs.get(str(entry["id"]))
        lines.append("")
        heading = f"{one_line(section_label(entry['path']))}  " + " ".join(
            f"[{kind}]" for kind in entry["kinds"]
        )
        if diff is None:
            lines.append(heading + "  (no reader text: the section's text is not stored)")
            continue
        shown.append(diff)
        lines.append(heading + f"  +{diff.words_added} -{diff.words_removed} words")
        lines.extend("    - " + one_line(line) for line in diff.lines)
        if diff.changed:
            text = terminal_text(diff.text(context)).strip("\n")
            lines.extend(("    " + line).rstrip() for line in text.split("\n"))
        elif diff.markup_only:
            lines.append("    (markup only: a reader sees no change)")
    summary = invisible_line(shown)
    if summary:
        lines += ["", summary]
    if not shown and not any(entry["kinds"] for entry in result.get("sections", [])):
        lines += ["", "No section changed."]
    return "\n".join(lines).lstrip("\n") + "\n"
