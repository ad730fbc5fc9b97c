#!/usr/bin/env bash
# The whole test suite: lint, types, unit/integration tests, browser and real-systemd tiers.
# Installs what it needs on a fresh Debian 12 machine (apt packages when run as root or
# with sudo, a virtualenv in .venv), so `./tests/run.sh` is the only command to type.
# Extra arguments go to pytest (e.g. `./tests/run.sh -m "not system"` for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

APT_PACKAGES=(
    python3 python3-venv python3-pip
    # slow tiers: real systemd in a container, the .deb build, a real browser
    debootstrap systemd-container dpkg-dev debhelper dh-python pybuild-plugin-pyproject
    python3-all python3-setuptools lintian piuparts adequate chromium curl ca-certificates
    # the plain `dpkg-buildpackage -us -uc -b` checks Debian's implicit build dependency
    build-essential
    # the arm64 tier: Debian arm64 binaries under emulation (binfmt_misc is set up by the
    # test itself from /usr/lib/binfmt.d/qemu-aarch64.conf)
    qemu-user-static
    # MQTT and fleet tiers: a real broker, promtool (Debian ships it in prometheus), a test CA
    mosquitto prometheus openssl
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    say "installing system packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $($PYTHON --version)"
    $PYTHON -m venv .venv
fi
say "installing the package and test tools into .venv"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

say "checking the committed browser assets against scripts/assets.lock (no network)"
scripts/fetch-assets.sh --check

say "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
say "mypy --strict"
.venv/bin/mypy --strict src
say "pytest"
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: treating as a failure" >&2
    exit 1
fi
exit "$status"
