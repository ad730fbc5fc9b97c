#!/usr/bin/env bash
# The dashboard's third-party browser assets, pinned in scripts/assets.lock, live in the
# source tree (src/bussdcc_system/web/static/vendor/, committed with their licences):
# no Debian package ships the Socket.IO browser client, a package build must not use the
# network, and a kiosk Pi may be offline. This script verifies them, and refreshes them
# from the npm registry package at the pinned version when the pin changes.
#
#   scripts/fetch-assets.sh --check   verify only, never the network (debian/rules runs
#                                     this): exit 1 naming every file that is missing,
#                                     altered, unlisted or stale against assets.lock
#   scripts/fetch-assets.sh           refresh what --check finds wrong (the network only then)
#   scripts/fetch-assets.sh --force   fetch again from the registry even when up to date
#
# A refresh takes the package tarball from `npm pack` when npm is installed, else straight
# from the registry ($NPM_REGISTRY, default https://registry.npmjs.org) with curl or
# python3, or from $ASSETS_TARBALL_DIR/<package>-<version>.tgz when that file exists. The
# tarball must match the sha512 integrity pinned in assets.lock; the files named there are
# copied out with the package's LICENSE, SHA256SUMS is rewritten, and a copy of the lock
# records the pin they came from. Commit the result (and update debian/copyright).
set -euo pipefail

die() { printf 'fetch-assets: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'fetch-assets: %s\n' "$*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock="$repo/scripts/assets.lock"
vendor_rel=src/bussdcc_system/web/static/vendor
vendor="$repo/$vendor_rel"
registry=${NPM_REGISTRY:-https://registry.npmjs.org}
mode=fetch

case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    --force) mode=force ;;
    -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
esac

[ -f "$lock" ] || die "missing $lock"

# The files assets.lock puts under vendor/ (the part after "=" of each file spec).
expected_files() {
    local name version integrity files spec
    while read -r name version integrity files; do
        case "$name" in ''|'#'*) continue ;; esac
        for spec in $files; do printf '%s\n' "${spec#*=}"; done
    done < "$lock"
}

# problems: print one line per thing wrong with vendor/; nothing when it is complete.
# Coreutils and diffutils only (a build chroot has them), no network.
problems() {
    local f listed
    if [ ! -d "$vendor" ]; then
        printf '%s/ is missing\n' "$vendor_rel"
        return
    fi
    if [ ! -f "$vendor/assets.lock" ]; then
        printf '%s/assets.lock is missing\n' "$vendor_rel"
    elif ! cmp -s "$lock" "$vendor/assets.lock"; then
        printf '%s/assets.lock differs from scripts/assets.lock (the pin changed)\n' "$vendor_rel"
    fi
    if [ ! -f "$vendor/SHA256SUMS" ]; then
        printf '%s/SHA256SUMS is missing\n' "$vendor_rel"
        listed=""
    else
        listed=$(sed -n 's/^[0-9a-f]\{64\} [ *]//p' "$vendor/SHA256SUMS")
        (cd "$vendor" && sha256sum --check --strict --quiet SHA256SUMS 2>/dev/null) \
            | sed -n "s|^\(.*\): FAILED.*|$vendor_rel/\1: missing or its sha256 differs|p"
    fi
    while IFS= read -r f; do
        if [ ! -f "$vendor/$f" ]; then
            printf '%s/%s is missing\n' "$vendor_rel" "$f"
        elif ! printf '%s\n' "$listed" | grep -Fqx -- "$f"; then
            printf '%s/%s is not in SHA256SUMS\n' "$vendor_rel" "$f"
        fi
    done < <(expected_files)
    # Anything else would be packaged and served without a pin.
    for f in "$vendor"/* "$vendor"/.[!.]*; do
        [ -e "$f" ] || continue
        f=${f##*/}
        case "$f" in SHA256SUMS|assets.lock) continue ;; esac
        expected_files | grep -Fqx -- "$f" \
            || printf '%s/%s is not named in scripts/assets.lock\n' "$vendor_rel" "$f"
    done
    return 0
}

wrong=$(problems)
if [ "$mode" != force ] && [ -z "$wrong" ]; then
    say "vendor assets match scripts/assets.lock ($vendor_rel)"
    exit 0
fi
if [ "$mode" = check ]; then
    printf 'fetch-assets: %s\n' "$wrong" | sed '2,$s/^/fetch-assets: /' >&2
    die "the browser assets in $vendor_rel do not match scripts/assets.lock; restore" \
        "them (git checkout -- $vendor_rel) or, after changing the pin," \
        "run scripts/fetch-assets.sh and commit the result"
fi
[ -z "$wrong" ] || say "refreshing: $(printf '%s' "$wrong" | paste -sd ';' | sed 's/;/; /g')"

command -v python3 >/dev/null 2>&1 || die "python3 is needed to verify tarball integrity"

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

# In the lock's order, so a refresh that changes nothing leaves SHA256SUMS unchanged.
(cd "$stage" && expected_files | while IFS= read -r f; do sha256sum -- "$f"; done) \
    > "$stage/SHA256SUMS"
cp "$lock" "$stage/assets.lock"
mkdir -p "$vendor"
find "$vendor" -mindepth 1 -maxdepth 1 -delete
cp "$stage"/* "$vendor/"
chmod 0644 "$vendor"/*
wrong=$(problems)
[ -z "$wrong" ] || die "after the refresh: $wrong"
say "vendor assets refreshed in $vendor_rel (commit them, and check debian/copyright):"
(cd "$vendor" && ls -l) >&2
