#!/usr/bin/env bash
# Fetch the dashboard's third-party browser assets, pinned in scripts/assets.lock, from
# the npm registry into src/bussdcc_system/web/static/vendor/ with their LICENSE files.
# The daemon serves them itself (a kiosk Pi may be offline): no CDN, and no vendor file
# is ever committed or hand-copied into the source tree.
#
#   scripts/fetch-assets.sh           fetch what is missing or stale (no network when up to date)
#   scripts/fetch-assets.sh --check   verify only: exit 1 if anything is missing or altered
#   scripts/fetch-assets.sh --force   fetch again even when up to date
#
# Tarballs come from `npm pack` when npm is installed, else straight from the registry
# ($NPM_REGISTRY, default https://registry.npmjs.org) with curl or python3. To build
# offline, set ASSETS_TARBALL_DIR to a directory holding <package>-<version>.tgz files.
# Every tarball must match the sha512 integrity pinned in assets.lock.
set -euo pipefail

die() { printf 'fetch-assets: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'fetch-assets: %s\n' "$*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock="$repo/scripts/assets.lock"
vendor="$repo/src/bussdcc_system/web/static/vendor"
registry=${NPM_REGISTRY:-https://registry.npmjs.org}
mode=fetch

case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    --force) mode=force ;;
    -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
esac

[ -f "$lock" ] || die "missing $lock"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to verify tarball integrity"

up_to_date() {
    [ -f "$vendor/assets.lock" ] && cmp -s "$lock" "$vendor/assets.lock" \
        && [ -f "$vendor/SHA256SUMS" ] \
        && (cd "$vendor" && sha256sum --check --quiet --strict SHA256SUMS >/dev/null 2>&1)
}

if [ "$mode" != force ] && up_to_date; then
    say "vendor assets up to date ($vendor)"
    exit 0
fi
if [ "$mode" = check ]; then
    die "vendor assets missing or not matching scripts/assets.lock: run scripts/fetch-assets.sh"
fi

sri() {
    python3 - "$1" <<'PY'
import base64, hashlib, sys
with open(sys.argv[1], "rb") as f:
    print("sha512-" + base64.b64encode(hashlib.sha512(f.read()).digest()).decode())
PY
}

download() {
    # download URL DEST
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$2" "$1"
    else
        python3 - "$1" "$2" <<'PY'
import shutil, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=60) as r, open(sys.argv[2], "wb") as f:
    shutil.copyfileobj(r, f)
PY
    fi
}

fetch_tarball() {
    # fetch_tarball NAME VERSION DIR -> prints the tarball path
    local name=$1 version=$2 dir=$3 base file
    base="${name#@}"; base="${base//\//-}-$version.tgz"
    if [ -n "${ASSETS_TARBALL_DIR:-}" ] && [ -f "$ASSETS_TARBALL_DIR/$base" ]; then
        printf '%s\n' "$ASSETS_TARBALL_DIR/$base"
        return
    fi
    if command -v npm >/dev/null 2>&1; then
        file=$(cd "$dir" && npm pack "$name@$version" --silent --loglevel=error 2>/dev/null | tail -n1) \
            || die "npm pack $name@$version failed"
        printf '%s\n' "$dir/$file"
        return
    fi
    download "$registry/$name/-/${name##*/}-$version.tgz" "$dir/$base" \
        || die "cannot download $name@$version from $registry"
    printf '%s\n' "$dir/$base"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetch-assets.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
stage="$tmp/vendor"
mkdir -p "$stage"

while read -r name version integrity files; do
    case "$name" in ''|'#'*) continue ;; esac
    [ -n "$files" ] || die "assets.lock: no files listed for $name"
    say "fetching $name@$version"
    tarball=$(fetch_tarball "$name" "$version" "$tmp")
    [ -f "$tarball" ] || die "no tarball for $name@$version"
    actual=$(sri "$tarball")
    [ "$actual" = "$integrity" ] \
        || die "$name@$version: integrity mismatch (expected $integrity, got $actual)"
    mkdir -p "$tmp/x"
    for spec in $files; do
        src=${spec%%=*}; dest=${spec#*=}
        tar -xzf "$tarball" -C "$tmp/x" "package/$src" \
            || die "$name@$version has no file $src"
        cp "$tmp/x/package/$src" "$stage/$dest"
    done
    rm -rf "$tmp/x"
done < "$lock"

(cd "$stage" && sha256sum -- * > SHA256SUMS)
cp "$lock" "$stage/assets.lock"
mkdir -p "$vendor"
find "$vendor" -mindepth 1 -maxdepth 1 -type f -delete
cp "$stage"/* "$vendor/"
chmod 0644 "$vendor"/*
say "vendor assets installed in $vendor:"
(cd "$vendor" && ls -l) >&2
