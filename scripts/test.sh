#!/usr/bin/env bash
# Sets up and runs the whole test suite, real MediaWiki included (the README's test command):
#   scripts/test.sh [pytest arguments...]
# On a fresh Debian machine with Python 3.11+: installs the system packages (as root),
# makes or reuses the virtualenv .venv, installs the project with its test extra, runs
# pytest and exits with pytest's exit code. PYTHON picks the interpreter (default python3).
set -euo pipefail

cd "$(dirname "$0")/.."

bash scripts/install-system-deps.sh

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "test.sh: Python 3.11 or newer is needed; $python is $("$python" --version 2>&1)." >&2
    echo "Run with PYTHON=/path/to/python3.11 scripts/test.sh" >&2
    exit 1
fi

# Reuse .venv unless it is missing, broken or too old (e.g. made by another Python).
if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    rm -rf .venv
    "$python" -m venv .venv
fi

# pip resolving an unchanged project takes seconds: redo it only when pyproject.toml changed.
stamp=.venv/.wiki-tracker-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
    echo "$wanted" >"$stamp"
fi

# The real histories a package registry serves (tests/data/real/README.md), into
# tests/data/real/cache/ once; the files only a GitHub repository has are opt-in.
if ! .venv/bin/python scripts/get_real_corpus.py; then
    if [ -n "${TRACKER_REQUIRE_REAL_CORPUS:-}" ]; then
        exit 1
    fi
    echo "test.sh: going on without the real corpus; its tests are skipped" >&2
fi

# One worker per core (pytest-xdist), each test file on one worker so that a file's
# MediaWiki starts once; `-n 0` among the arguments runs in this process alone.
status=0
.venv/bin/python -m pytest -n auto --dist loadfile "$@" || status=$?
if [ "$status" -eq 5 ]; then
    # pytest's "no tests collected" must not pass for a green run.
    echo "test.sh: pytest collected no tests (exit code 5): failing." >&2
fi
exit "$status"
