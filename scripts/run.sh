#!/usr/bin/env bash
# Sets up and runs the main job on the shipped config.toml (the README's run command):
#   scripts/run.sh [tracker arguments...]      default: run --once
# Makes or reuses the virtualenv .venv, installs the project into it, then runs `tracker`.
# The shipped config reads the bundled history in snapshots/, so no network is needed after
# the installation. PYTHON picks the interpreter (default python3).
set -euo pipefail

cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "run.sh: Python 3.11 or newer is needed; $python is $("$python" --version 2>&1)." >&2
    exit 1
fi
if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    rm -rf .venv
    "$python" -m venv .venv || {
        echo "run.sh: cannot create a virtualenv; on Debian: apt-get install python3-venv" >&2
        exit 1
    }
fi
stamp=.venv/.wiki-tracker-run
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
    echo "$wanted" >"$stamp"
fi

if [ "$#" -eq 0 ]; then
    set -- run --once
fi
exec .venv/bin/tracker --config config.toml "$@"
