#!/usr/bin/env bash
# Installs the Debian packages the test suite needs, only those missing:
#   - mediawiki + PHP: the real wiki of the integration tests (tests/mediawiki.py)
#   - chromium + chromium-driver: the headless browser of the web UI tests
# Idempotent: with everything present it changes nothing and exits 0.
# Needs root to install; without root it prints the command to run and exits 1.
set -euo pipefail

packages=(mediawiki php-sqlite3 php-cli php-intl php-mbstring php-xml chromium chromium-driver)

# Debian's own python3 can only make a venv (scripts/test.sh does) with python3-venv.
if [ "$(command -v python3 || true)" = /usr/bin/python3 ] \
    && ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null; then
    packages+=(python3-venv)
fi

if ! command -v dpkg-query >/dev/null; then
    echo "install-system-deps.sh: this is not a Debian-like system (no dpkg-query)." >&2
    echo "Install by hand: ${packages[*]}" >&2
    exit 1
fi

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-system-deps.sh: all system packages present (${packages[*]})."
    exit 0
fi

command="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-deps.sh: missing system packages: ${missing[*]}" >&2
    echo "Install them as root, then run this again:" >&2
    echo "  sudo sh -c '$command'" >&2
    exit 1
fi

echo "install-system-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run (e.g. unattended upgrades) instead of failing on its lock.
lock=(-o DPkg::Lock::Timeout=600)
apt-get "${lock[@]}" update
apt-get "${lock[@]}" install -y --no-install-recommends "${missing[@]}"
