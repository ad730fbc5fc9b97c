#!/usr/bin/env bash
# Build the bussdcc-system and bussdcc-system-kiosk .debs from this source tree.
#
# The build runs in a temporary copy of the tree, so the checkout is never modified
# (no debian/.debhelper, no .pybuild, no ../*.deb next to the repository).
#
#   scripts/build-deb.sh [-o OUTDIR] [--version VERSION] [--no-install-deps]
#   scripts/build-deb.sh --print-build-deps
#
#   -o, --output DIR    where to put the .debs (default: <repo>/dist)
#   --version VERSION   build as VERSION (e.g. 0.1.0+test1) by prepending a changelog
#                       entry in the temporary copy; the repository is not touched
#   --no-install-deps   never call apt-get; fail if build dependencies are missing
#   --print-build-deps  print what the build needs, for `apt-get satisfy`, and exit
#
# Missing build dependencies (from debian/control) are installed with apt-get when
# running as root. stdout gets one path per built .deb: bussdcc-system-kiosk's first,
# bussdcc-system's last (so `| tail -n 1` is the daemon's package). The build uses no
# network: everything it needs is in the tree.
set -euo pipefail

# A non-Debian python3 first in PATH (pyenv, a venv) breaks pybuild: use the system's.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV PYTHONSTARTUP PIP_REQUIRE_VIRTUALENV || true
export LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'build-deb: error: %s\n' "$*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$repo/dist"
version=""
install_deps=1

build_deps() {
    # What the build needs: dpkg-dev and debian/control's Build-Depends, as one line for
    # `apt-get satisfy`. Not build-essential (Debian's implicit build dependency: gcc,
    # g++, libc6-dev and their libraries): nothing is compiled (Architecture: all).
    awk '/^Build-Depends:/ { f = 1; sub(/^Build-Depends:/, ""); print; next }
         f && /^[ \t]/ { print; next } { f = 0 }' "$repo/debian/control" \
        | tr -s ' \t\n' ' ' | sed -e 's/^ */dpkg-dev, /' -e 's/[, ]*$//'
}

while [ $# -gt 0 ]; do
    case "$1" in
        -o|--output) [ $# -ge 2 ] || die "$1 needs a directory"; out=$2; shift 2 ;;
        --output=*) out=${1#*=}; shift ;;
        --version) [ $# -ge 2 ] || die "$1 needs a version"; version=$2; shift 2 ;;
        --version=*) version=${1#*=}; shift ;;
        --no-install-deps) install_deps=0; shift ;;
        --print-build-deps) build_deps; exit 0 ;;
        -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

if [ -n "$version" ] && ! printf '%s' "$version" | grep -Eq '^[0-9][A-Za-z0-9.+~]*$'; then
    die "invalid Debian native version: $version"
fi

apt_install() {
    # apt_install PKG... : install packages, refreshing the package lists once if needed.
    if apt-get install -y --no-install-recommends "$@" >&2; then return 0; fi
    log "apt-get install failed; refreshing package lists and retrying"
    apt-get update >&2
    apt-get install -y --no-install-recommends "$@" >&2
}

can_install() { [ "$install_deps" = 1 ] && [ "$(id -u)" = 0 ]; }

ensure_tool() {
    # ensure_tool COMMAND PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    can_install || die "$1 is missing: apt-get install $2"
    log "installing $2 (for $1)"
    apt_install "$2"
}

ensure_tool dpkg-buildpackage dpkg-dev

work=$(mktemp -d "${TMPDIR:-/tmp}/bussdcc-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
src="$work/bussdcc-system"
mkdir -p "$src"

# 1. Copy the source tree: the files git knows about (tracked or untracked, not
#    ignored) when this is a git checkout, else everything but build/venv litter.
log "copying $repo to a temporary build tree"
if command -v git >/dev/null 2>&1 \
    && git -c safe.directory='*' -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$repo" && git -c safe.directory='*' ls-files -z --cached --others --exclude-standard \
        | while IFS= read -r -d '' f; do
            if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
        done \
        | tar --null --no-recursion -T - -cf -) | tar -xf - -C "$src"
else
    tar -C "$repo" \
        --exclude=./.git --exclude=./.venv --exclude=./dist --exclude=./build \
        --exclude=./artifacts --exclude=./.cache --exclude=./.pybuild \
        --exclude='*.egg-info' --exclude=__pycache__ --exclude=.mypy_cache \
        --exclude=.ruff_cache --exclude=.pytest_cache --exclude=.hypothesis \
        --exclude=./debian/.debhelper --exclude=./debian/bussdcc-system \
        --exclude=./debian/bussdcc-system-kiosk --exclude=./debian/tmp \
        --exclude=./debian/files --exclude='./debian/*.substvars' \
        --exclude='./debian/*.debhelper.log' --exclude=./debian/debhelper-build-stamp \
        -cf - . | tar -xf - -C "$src"
fi

# 2. Optional version override, for test builds (e.g. an "upgrade" to 0.1.0+test1).
if [ -n "$version" ]; then
    log "building as version $version (changelog entry in the temporary copy only)"
    maint=$(sed -n 's/^Maintainer: //p' "$src/debian/control")
    {
        printf 'bussdcc-system (%s) unstable; urgency=medium\n\n' "$version"
        printf '  * Build of version %s made by scripts/build-deb.sh.\n\n' "$version"
        printf ' -- %s  %s\n\n' "$maint" "$(date -R)"
        cat "$src/debian/changelog"
    } >"$work/changelog"
    mv "$work/changelog" "$src/debian/changelog"
fi

# 3. Build dependencies (build_deps above): without build-essential, so neither the check
#    (-I) nor dpkg-buildpackage (--ignore-builtin-builddeps) asks for it.
if ! (cd "$src" && dpkg-checkbuilddeps -I) >/dev/null 2>&1; then
    missing=$(cd "$src" && { dpkg-checkbuilddeps -I 2>&1 || true; } \
        | sed -n 's/.*Unmet build dependencies: //p')
    can_install || die "missing build dependencies: $missing (run as root to install them)"
    log "installing build dependencies: $missing"
    builddeps=$(build_deps)
    if ! apt-get satisfy -y --no-install-recommends "$builddeps" >&2; then
        apt-get update >&2
        apt-get satisfy -y --no-install-recommends "$builddeps" >&2
    fi
    (cd "$src" && dpkg-checkbuilddeps -I) || die "build dependencies still missing"
fi

# 4. Build (tests run separately: nocheck). No network is needed: the browser assets are
#    part of the tree, and debian/rules fails the build if one is missing or altered.
log "dpkg-buildpackage --ignore-builtin-builddeps -us -uc -b"
(
    cd "$src"
    export DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}"
    dpkg-buildpackage --ignore-builtin-builddeps -us -uc -b
) >&2

# One .deb per binary package. The globs cannot overlap: "bussdcc-system_" needs the "_"
# right after the name, which "bussdcc-system-kiosk_..." does not have there.
shopt -s nullglob
mkdir -p "$out"
out=$(cd "$out" && pwd)
for package in bussdcc-system-kiosk bussdcc-system; do  # the daemon's last: see above
    debs=("$work/${package}_"*.deb)
    [ ${#debs[@]} -eq 1 ] || die "expected one ${package}_*.deb, found ${#debs[@]}"
    install -m 0644 "${debs[0]}" "$out/"
    deb="$out/$(basename "${debs[0]}")"
    log "built $deb ($(du -k "$deb" | cut -f1) KiB)"
    printf '%s\n' "$deb"
done
