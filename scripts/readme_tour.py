"""Regenerate README.md's quick tour from a real run of the shipped configuration.

    python scripts/readme_tour.py          # rewrite the block between the tour markers
    python scripts/readme_tour.py --check  # exit 1 when the README's block is stale

The shipped config.toml and the bundled snapshot are copied into a temporary directory and
the commands shown run there as their own processes (`python -m tracker`), exactly as a user
types them. Two things vary from run to run and are written as placeholders: the temporary
directory (shown as /home/me/wiki-tracker) and the time of the run in the digest's file names.
Long outputs are cut where the README says so. tests/test_readme_tour.py checks that the
README's block is what this script makes, so the tour cannot go stale.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BEGIN = "<!-- tour: made by scripts/readme_tour.py; do not edit by hand -->"
END = "<!-- end of tour -->"
TITLE = "Pakistan–NATO relations"
HOME = "/home/me/wiki-tracker"
DIGEST_LINES = 16


def run(directory: Path, *args: str) -> str:
    """One `tracker` command in ``directory``, its standard output with placeholders."""
    result = subprocess.run(
        [sys.executable, "-m", "tracker", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(directory), "NO_COLOR": "1", "LANG": "C.UTF-8"},
    )
    if result.returncode != 0:
        raise SystemExit(f"tracker {' '.join(args)} failed: {result.stderr.strip()}")
    return placeholders(result.stdout, directory)


def placeholders(text: str, directory: Path) -> str:
    text = text.replace(str(directory.resolve()), HOME).replace(str(directory), HOME)
    return re.sub(r"-\d{4}-\d\d-\d\dT\d{6}Z-", "-<time of the run>-", text)


def tour() -> str:
    """The tour's Markdown, from a fresh run in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="readme-tour-") as tmp:
        directory = Path(tmp)
        shutil.copy(REPO / "config.toml", directory / "config.toml")
        shutil.copytree(REPO / "snapshots", directory / "snapshots")
        ran = run(directory, "run", "--once")
        history = run(directory, "history", TITLE)
        diff = run(directory, "diff", TITLE, "--from", "1844188", "--to", "1844397")
        digest_path = next((directory / "digests").glob("*.md"))
        digest = digest_path.read_text(encoding="utf-8").splitlines()
    shown = "\n".join(digest[:DIGEST_LINES]).rstrip()
    more = len(digest) - DIGEST_LINES
    parts = [
        "(Real output of the shipped config, made by `scripts/readme_tour.py`. The history of",
        '"Pakistan–NATO relations" bundled in `snapshots/` is **made up for the demo**: its',
        "revisions, users and summaries are invented; the live article is on EverybodyWiki.)",
        "",
        "```console",
        "$ tracker run --once",
        ran.rstrip(),
        "",
        f'$ tracker history "{TITLE}"',
        history.rstrip(),
        "```",
        "(`m` minor, `R` a revert, `x` reverted later, `d` deleted on the wiki since; sizes are "
        "the\nchange in bytes, `?` where the wiki hides one.)",
        "",
        "```console",
        f'$ tracker diff "{TITLE}" --from 1844188 --to 1844397',
        diff.rstrip(),
        "```",
        "",
        f"The digest the run left in `digests/` (Markdown, its first {DIGEST_LINES} lines of "
        f"{len(digest)}; the HTML one says the same with colours):",
        "",
        "````markdown",
        shown,
        "````" if more <= 0 else "…\n````",
    ]
    return "\n".join(parts) + "\n"


def block(readme: str) -> tuple[int, int]:
    """Where the tour's text starts and ends in the README (between the markers)."""
    start = readme.index(BEGIN) + len(BEGIN) + 1
    return start, readme.index(END, start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the README is stale")
    check = parser.parse_args().check
    readme = README.read_text(encoding="utf-8")
    start, end = block(readme)
    fresh = tour()
    if readme[start:end] == fresh:
        return 0
    if check:
        print("README.md's tour is stale: run python scripts/readme_tour.py", file=sys.stderr)
        return 1
    README.write_text(readme[:start] + fresh + readme[end:], encoding="utf-8")
    print("README.md: tour rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
