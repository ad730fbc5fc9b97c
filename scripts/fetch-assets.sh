#!/usr/bin/env bash
# The dashboard's third-party browser assets, pinned in scripts/assets.lock, live in the
# source tree, committed: src/bussdcc_system/web/static/vendor/ (served by the daemon,
# with their licences) and debian/missing-sources/ (the readable source of a minified
# file, as Debian wants it). No Debian package ships the Socket.IO browser client, a
# package build must not use the network, and a kiosk Pi may be offline. This script
# verifies them, and refreshes them from the npm registry package at the pinned version
# when the pin changes.
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
# copied out, each directory's SHA256SUMS is rewritten, and a copy of the lock in vendor/
# records the pin they came from. Commit the result (and update debian/copyright).
set -euo pipefail

die() { printf 'fetch-assets: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'fetch-assets: %s\n' "$*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
lock="$repo/scripts/assets.lock"
vendor_rel=src/bussdcc_system/web/static/vendor
registry=${NPM_REGISTRY:-https://registry.npmjs.org}
mode=fetch

case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    --force) mode=force ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
esac

[ -f "$lock" ] || die "missing $lock"

# Where each file of assets.lock goes, relative to the repository, in the lock's order: a
# plain name goes to static/vendor/ (packaged and served); debian/missing-sources/NAME
# holds the readable source of a minified file (Debian's place for it; not packaged).
expected_paths() {
    local name version integrity files spec dest
    while read -r name version integrity files; do
        case "$name" in ''|'#'*) continue ;; esac
        for spec in $files; do
            dest=${spec#*=}
            case "$dest" in
                debian/missing-sources/*/*) ;;
                debian/missing-sources/?*) printf '%s\n' "$dest"; continue ;;
                */*) ;;
                ?*) printf '%s/%s\n' "$vendor_rel" "$dest"; continue ;;
            esac
            die "assets.lock: $dest must be a file name (for static/vendor/) or debian/missing-sources/NAME"
        done
    done < "$lock"
}

# The directories those files live in, each with its own SHA256SUMS.
expected_dirs() {
    { printf '%s\n' "$vendor_rel"; expected_paths | sed 's|/[^/]*$||'; } | awk '!seen[$0]++'
}

# problems: print one line per thing wrong with the assets; nothing when all is well.
# Coreutils and diffutils only (a build chroot has them), no network.
problems() {
    local dir path f listed extras
    if [ ! -f "$repo/$vendor_rel/assets.lock" ]; then
        printf '%s/assets.lock is missing\n' "$vendor_rel"
    elif ! cmp -s "$lock" "$repo/$vendor_rel/assets.lock"; then
        printf '%s/assets.lock differs from scripts/assets.lock (the pin changed)\n' "$vendor_rel"
    fi
    while IFS= read -r dir; do
        if [ ! -d "$repo/$dir" ]; then
            printf '%s/ is missing\n' "$dir"
            continue
        fi
        if [ ! -f "$repo/$dir/SHA256SUMS" ]; then
            printf '%s/SHA256SUMS is missing\n' "$dir"
            listed=""
        else
            listed=$(sed -n 's/^[0-9a-f]\{64\} [ *]//p' "$repo/$dir/SHA256SUMS")
            (cd "$repo/$dir" && sha256sum --check --strict --quiet SHA256SUMS 2>/dev/null) \
                | sed -n "s|^\(.*\): FAILED.*|$dir/\1: missing or its sha256 differs|p"
        fi
        while IFS= read -r path; do
            [ "${path%/*}" = "$dir" ] || continue
            if [ ! -f "$repo/$path" ]; then
                printf '%s is missing\n' "$path"
            elif ! printf '%s\n' "$listed" | grep -Fqx -- "${path##*/}"; then
                printf '%s is not in SHA256SUMS\n' "$path"
            fi
        done < <(expected_paths)
        # Anything else would be shipped (or taken for a source) without a pin.
        extras=$(cd "$repo/$dir" && find . -mindepth 1 -maxdepth 1 \
            ! -name SHA256SUMS ! -name assets.lock -printf '%P\n' | sort)
        while IFS= read -r f; do
            [ -n "$f" ] || continue
            expected_paths | grep -Fqx -- "$dir/$f" \
                || printf '%s/%s is not named in scripts/assets.lock\n' "$dir" "$f"
        done <<<"$extras"
    done < <(expected_dirs)
    return 0
}

expected_paths >/dev/null  # a malformed lock stops here
wrong=$(problems)
if [ "$mode" != force ] && [ -z "$wrong" ]; then
    say "browser assets match scripts/assets.lock ($(expected_dirs | paste -sd ' '))"
    exit 0
fi
if [ "$mode" = check ]; then
    printf 'fetch-assets: %s\n' "$wrong" | sed '2,$s/^/fetch-assets: /' >&2
    die "the browser assets do not match scripts/assets.lock; restore them" \
        "(git checkout -- $(expected_dirs | paste -sd ' ')) or, after changing the pin," \
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
stage="$tmp/tree"
while IFS= read -r dir; do mkdir -p "$stage/$dir"; done < <(expected_dirs)

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
        case "$dest" in debian/*) ;; *) dest="$vendor_rel/$dest" ;; esac
        tar -xzf "$tarball" -C "$tmp/x" "package/$src" \
            || die "$name@$version has no file $src"
        cp "$tmp/x/package/$src" "$stage/$dest"
    done
    rm -rf "$tmp/x"
done < "$lock"

cp "$lock" "$stage/$vendor_rel/assets.lock"
while IFS= read -r dir; do
    # In the lock's order, so a refresh that changes nothing leaves SHA256SUMS unchanged.
    (cd "$stage/$dir" && expected_paths | while IFS= read -r path; do
        [ "${path%/*}" != "$dir" ] || sha256sum -- "${path##*/}"
    done) > "$stage/$dir/SHA256SUMS"
    mkdir -p "$repo/$dir"
    find "$repo/$dir" -mindepth 1 -maxdepth 1 -delete
    cp "$stage/$dir"/* "$repo/$dir/"
    chmod 0644 "$repo/$dir"/*
done < <(expected_dirs)
wrong=$(problems)
[ -z "$wrong" ] || die "after the refresh: $wrong"
say "assets refreshed (commit them, and check debian/copyright):"
while IFS= read -r dir; do (cd "$repo/$dir" && ls -l | sed "1s|.*|$dir/|") >&2; done < <(expected_dirs)
