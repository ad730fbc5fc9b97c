#!/usr/bin/env bash
# Install bussdcc-system on this machine: build the Debian package from this checkout
# and install it with apt, which creates the service user, enables and starts
# bussdcc-system.service. For Debian 12/13 and Raspberry Pi OS (bookworm, trixie).
# Running it again rebuilds and reinstalls (your /etc/bussdcc-system/config.yaml is kept).
#
# The tools the build needs (debhelper, dh-python, ...) are installed from your apt
# sources for the build and removed again afterwards, with their downloaded .debs; the
# build itself uses no network. What stays: bussdcc-system and the packages it needs, and
# a copy of the .debs in dist/, owned by you.
#
#   sudo ./install.sh               build, install, start, print the dashboard URL(s)
#   sudo ./install.sh --foreground  where systemd is not PID 1 (a container, a chroot):
#                                   install, then run the daemon in the foreground
#   ./install.sh --help
set -euo pipefail

args=("$@")
foreground=0
for arg in "$@"; do
    case "$arg" in
        --foreground) foreground=1 ;;
        -h|--help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) printf 'install.sh: unknown argument: %s (see --help)\n' "$arg" >&2; exit 2 ;;
    esac
done

say() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
warn() { printf 'install.sh: warning: %s\n' "$*" >&2; }
die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        say "not root: re-running with sudo"
        exec sudo -- "$0" "${args[@]}"
    fi
    die "run this as root (or install sudo)"
fi

# Debian's tools, not a python3 from pyenv or a virtualenv that may come first in PATH.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
unset PYTHONPATH PYTHONHOME VIRTUAL_ENV || true

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
config=/etc/bussdcc-system/config.yaml
unit=bussdcc-system.service

# --- the system ----------------------------------------------------------------------
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
    die "this installer needs a Debian-based system with apt (Debian 12/13, Raspberry Pi OS)"
fi
os_id="" os_like="" os_codename="" os_name="an unknown system"
if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    os_id=${ID:-} os_like=${ID_LIKE:-} os_codename=${VERSION_CODENAME:-}
    os_name=${PRETTY_NAME:-$os_id}
fi
case " $os_id $os_like " in
    *" debian "*|*" raspbian "*) ;;
    *) warn "$os_name is not Debian or Raspberry Pi OS; trying anyway" ;;
esac
case "$os_codename" in
    bookworm|trixie) say "system: $os_name ($(dpkg --print-architecture))" ;;
    *) warn "$os_name ($os_codename) is untested: Debian 12 (bookworm) and 13 (trixie) are" ;;
esac

pid1=$(cat /proc/1/comm 2>/dev/null || echo unknown)
if [ -d /run/systemd/system ] && [ "$pid1" = systemd ]; then
    have_systemd=1
else
    have_systemd=0
fi

# --- build ---------------------------------------------------------------------------
say "refreshing the package lists (apt-get update)"
apt-get update -qq

installed_packages() {
    dpkg-query -W -f='${db:Status-Abbrev}${Package}\n' | sed -n 's/^ii *//p' | sort -u
}
cached_debs() { find /var/cache/apt/archives -maxdepth 1 -name '*.deb' -printf '%f\n' | sort; }
count() { printf '%s\n' "$1" | grep -c . || true; }
words() { printf '%s\n' "$1" | paste -sd ' '; }

before=$(dpkg-query -W -f='${db:Status-Status} ${Version}' bussdcc-system 2>/dev/null || true)
packages_before=$(installed_packages)
debs_before=$(cached_debs)
build_only=""  # packages installed for the build, not there before: removed at the end

remove_build_tools() {
    # Of the packages installed for the build, keep what bussdcc-system needs (its
    # Depends and Recommends, recursively: apt would have installed them with it) and
    # mark them "installed automatically", so they go when it goes; purge the rest.
    # Nothing else: other packages are not ours to remove.
    [ -n "$build_only" ] || return 0
    local needed remove kept extra f
    needed=$(apt-cache depends --recurse --installed --no-suggests --no-conflicts \
        --no-breaks --no-replaces --no-enhances bussdcc-system 2>/dev/null \
        | sed -n 's/^\([^ <][^ :]*\).*/\1/p' | sort -u || true)
    remove=$(comm -23 <(printf '%s\n' "$build_only") <(printf '%s\n' "$needed"))
    kept=$(comm -12 <(printf '%s\n' "$build_only") <(printf '%s\n' "$needed"))
    build_only=""
    if [ -n "$kept" ]; then
        # shellcheck disable=SC2086 # one package name per word
        apt-mark auto $kept >/dev/null
    fi
    if [ -n "$remove" ]; then
        # shellcheck disable=SC2086
        extra=$(apt-get -s purge $remove | sed -n 's/^\(Purg\|Remv\) \([^ :]*\).*/\2/p' \
            | sort -u | comm -23 - <(printf '%s\n' "$remove"))
        if [ -n "$extra" ]; then
            warn "not removing the build tools: apt would also remove $(words "$extra")"
        else
            say "removing the $(count "$remove") packages installed only for the build"
            # shellcheck disable=SC2086
            apt-get purge -y -q $remove >"$outdir/purge.log" 2>&1 \
                || { cat "$outdir/purge.log" >&2; warn "could not remove them all"; }
            # and their .debs, which apt keeps in /var/cache/apt/archives
            comm -13 <(printf '%s\n' "$debs_before") <(cached_debs) | while IFS= read -r f; do
                if printf '%s\n' "$remove" | grep -Fqx -- "${f%%_*}"; then
                    rm -f "/var/cache/apt/archives/$f"
                fi
            done
        fi
    fi
    if [ -n "$kept" ]; then
        note "kept $(count "$kept") of them, which bussdcc-system needs (marked as installed" \
            "automatically, so they go with it): $(words "$kept")"
    fi
}

outdir=$(mktemp -d /tmp/bussdcc-system-install.XXXXXX)
cleanup() {
    remove_build_tools || true
    rm -rf "$outdir"
}
trap cleanup EXIT
chmod 0755 "$outdir" # apt reads local .debs as the unprivileged _apt user

build_deps=$("$repo/scripts/build-deb.sh" --print-build-deps)
say "installing what the build needs (removed again at the end): $build_deps"
deps_status=0
apt-get satisfy -y -q --no-install-recommends "$build_deps" >"$outdir/deps.log" 2>&1 \
    || deps_status=$?
build_only=$(comm -13 <(printf '%s\n' "$packages_before") <(installed_packages))
if [ "$deps_status" != 0 ]; then
    cat "$outdir/deps.log" >&2
    die "could not install the build dependencies"
fi
if [ -n "$build_only" ]; then
    note "installed $(count "$build_only") packages: $(words "$build_only")"
else
    note "all of it was installed already"
fi

say "building the package (scripts/build-deb.sh; no network)"
buildlog="$outdir/build.log"
if ! deb=$("$repo/scripts/build-deb.sh" --no-install-deps -o "$outdir" 2>"$buildlog" | tail -n 1) \
    || [ ! -f "$deb" ]; then
    tail -n 30 "$buildlog" >&2
    cp "$buildlog" /var/tmp/bussdcc-system-build.log
    die "the build failed; full log: /var/tmp/bussdcc-system-build.log"
fi
version=$(dpkg-deb -f "$deb" Version)
note "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

# A copy in dist/ for the person who ran this (with sudo: SUDO_UID), not for root.
owner=$(id -u) group=$(id -g)
case "${SUDO_UID:-}:${SUDO_GID:-}" in
    [0-9]*:[0-9]*) owner=$SUDO_UID group=$SUDO_GID ;;
esac
if install -d -o "$owner" -g "$group" -m 0755 "$repo/dist" 2>/dev/null \
    && install -o "$owner" -g "$group" -m 0644 "$outdir"/bussdcc-system*.deb "$repo/dist/" 2>/dev/null
then
    note "a copy is in $repo/dist/ (with the optional kiosk package: apt install ./dist/bussdcc-system-kiosk_*.deb)"
fi

# --- install -------------------------------------------------------------------------
case "$before" in
    "installed $version") say "reinstalling bussdcc-system $version" ;;
    installed*) say "upgrading bussdcc-system ${before#installed } -> $version" ;;
    *) say "installing bussdcc-system $version and its dependencies" ;;
esac
# --reinstall makes a second run with the same version rebuild-and-replace, not a no-op.
apt-get install -y -q --reinstall "$deb"
remove_build_tools
note "config:  $config (kept across upgrades; check with: bussdcc-system check-config)"
note "history: /var/lib/bussdcc-system/history"

# --- where the dashboard is ----------------------------------------------------------
port=$(bussdcc-system check-config "$config" 2>/dev/null \
    | sed -n 's/^ *web: .*:\([0-9][0-9]*\),.*/\1/p' | head -n 1 || true)
port=${port:-8086}

print_urls() {
    local host addr
    host=$(hostname 2>/dev/null || cat /etc/hostname 2>/dev/null || echo localhost)
    say "dashboard:"
    note "http://$host:$port/"
    for addr in $(hostname -I 2>/dev/null || true); do
        case "$addr" in
            fe80:*) ;; # link-local: not reachable without a zone id
            *:*) note "http://[$addr]:$port/" ;;
            *) note "http://$addr:$port/" ;;
        esac
    done
}

healthz() {
    # healthz TIMEOUT: does the dashboard answer /healthz within TIMEOUT seconds?
    python3 - "$port" "$1" <<'EOF'
import sys, time, urllib.request
port, timeout = sys.argv[1], float(sys.argv[2])
deadline = time.monotonic() + timeout
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
            sys.exit(0 if r.status == 200 else 1)
    except Exception:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.5)
EOF
}

if [ "$have_systemd" = 1 ]; then
    # The package's postinst enabled and (re)started the unit; apt waited for READY=1.
    state=$(systemctl is-active "$unit" || true)
    if [ "$state" != active ]; then
        warn "$unit is $state; last log lines:"
        journalctl -u "$unit" -n 20 --no-pager >&2 || true
        die "the service did not start (systemctl status $unit)"
    fi
    say "$unit is active and enabled at boot"
    note "status: $(systemctl show -P StatusText "$unit")"
    if healthz 30; then
        note "the dashboard answers on port $port"
    else
        warn "the dashboard does not answer http://127.0.0.1:$port/healthz yet"
    fi
    print_urls
    say "manage it with: systemctl status|reload|restart $unit; logs: journalctl -u $unit"
    [ "$foreground" = 0 ] || note "--foreground ignored: systemd runs the service here"
    exit 0
fi

# No systemd as PID 1 (a container, a chroot, a CI machine): installed, but not started.
install -d -o bussdcc-system -g bussdcc-system -m 0750 /var/lib/bussdcc-system
say "systemd is not running as PID 1 here (PID 1 is '$pid1'):"
note "the package is installed, but $unit cannot be started on this machine."
note "Run the daemon in the foreground instead (Ctrl-C stops it):"
note "  bussdcc-system run --config $config"
note "or, as the unprivileged service user:"
note "  runuser -u bussdcc-system -- bussdcc-system run --config $config"
note "or run this installer with --foreground."
print_urls
if [ "$foreground" = 1 ]; then
    say "running bussdcc-system in the foreground as user bussdcc-system (Ctrl-C stops it)"
    cleanup
    trap - EXIT
    cd /var/lib/bussdcc-system
    # Not under a service manager: a NOTIFY_SOCKET inherited from a container manager
    # (systemd-nspawn sets one) is not ours to talk to.
    exec runuser -u bussdcc-system -- \
        env -u NOTIFY_SOCKET -u WATCHDOG_USEC -u WATCHDOG_PID LG_WD=/var/lib/bussdcc-system \
        bussdcc-system run --config "$config"
fi
