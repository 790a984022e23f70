#!/usr/bin/env bash
# Check or fetch Postfix's smtp-sink, the SMTP server of the sender benchmark.
#
#   deploy/smtp-sink.sh check    report whether smtp-sink is there, fetch nothing
#   deploy/smtp-sink.sh ensure   fetch Debian's `postfix` package and unpack it into var/tools/
#   deploy/smtp-sink.sh path     print the command to run (a wrapper that finds its libraries)
#
# Exit status: 0 smtp-sink is there, 1 it is not (the message says what to do), 2 bad usage.
# Nothing is installed or started: `apt-get download` fetches the .deb and `dpkg-deb -x`
# unpacks it under var/tools/postfix, so no mail server is configured on this host.
# tests/benchmarks/bench_sender.py runs the command `deploy/smtp-sink.sh path` prints.
#
# Environment:
#   HERALD_SMTP_SINK   use this smtp-sink executable instead: it is only checked, never fetched

set -o pipefail

NAME=smtp-sink USAGE_LINES=14
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$REPO/var/tools"
EXTRACT="$TOOLS/postfix"
WRAPPER="$EXTRACT/smtp-sink"
PACKAGE=postfix

# The command to run: HERALD_SMTP_SINK, else the wrapper around the unpacked package's binary.
sink_path() {
    if [[ -n ${HERALD_SMTP_SINK:-} ]]; then
        [[ -x $HERALD_SMTP_SINK ]] && printf '%s\n' "$HERALD_SMTP_SINK"
        return
    fi
    [[ -x $WRAPPER && -x $EXTRACT/usr/sbin/smtp-sink ]] && printf '%s\n' "$WRAPPER"
}

present() { [[ -n $(sink_path) ]]; }

# smtp-sink has no --version; the unpacked package's version, when we unpacked it.
version() {
    if [[ -s $EXTRACT/VERSION ]]; then
        printf 'postfix %s' "$(cat "$EXTRACT/VERSION")"
    else
        printf 'version unknown'
    fi
}

need() {
    fail "smtp-sink is needed for the sender benchmark: run \`deploy/smtp-sink.sh ensure\`" \
        "(it needs apt-get and Debian's package lists), or point HERALD_SMTP_SINK at an" \
        "smtp-sink executable."
}

# A wrapper that puts the package's own libraries (libpostfix-*.so) on the loader's path.
write_wrapper() {
    cat >"$WRAPPER" <<EOF
#!/bin/sh
# Postfix's smtp-sink from the unpacked Debian package (deploy/smtp-sink.sh ensure).
LD_LIBRARY_PATH="$EXTRACT/usr/lib/postfix\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" \\
    exec "$EXTRACT/usr/sbin/smtp-sink" "\$@"
EOF
    chmod +x "$WRAPPER"
}

# `smtp-sink` with no arguments prints its usage and exits; it must find its libraries.
runs() {
    attempt "$WRAPPER"
    ! grep -q "error while loading shared libraries" "$LOG"
}

fetch() {
    local work deb
    work="$(mktemp -d "${TMPDIR:-/tmp}/herald-smtp-sink.XXXXXX")" || return 1
    say "fetching Debian's $PACKAGE package with apt-get download (nothing is installed)"
    if ! (cd "$work" && attempt apt-get download "$PACKAGE"); then
        rm -rf "$work"
        return 1
    fi
    deb="$(ls "$work"/"$PACKAGE"_*.deb 2>/dev/null | head -n 1)"
    if [[ -z $deb ]]; then
        printf 'no %s_*.deb after apt-get download\n' "$PACKAGE" >>"$LOG"
        rm -rf "$work"
        return 1
    fi
    rm -rf "$EXTRACT"
    mkdir -p "$EXTRACT"
    if ! attempt dpkg-deb -x "$deb" "$EXTRACT"; then
        rm -rf "$work" "$EXTRACT"
        return 1
    fi
    dpkg-deb -f "$deb" Version >"$EXTRACT/VERSION" 2>/dev/null
    rm -rf "$work"
    write_wrapper
    runs
}

check() {
    if present; then
        say "smtp-sink is at $(sink_path) ($(version))"
        return 0
    fi
    need
    return 1
}

ensure() {
    present && { say "smtp-sink is at $(sink_path) ($(version))"; return 0; }
    if [[ -n ${HERALD_SMTP_SINK:-} ]]; then
        fail "HERALD_SMTP_SINK=$HERALD_SMTP_SINK is not an executable file"
        return 1
    fi
    take_lock 900
    present && { say "smtp-sink is at $(sink_path) ($(version))"; return 0; }
    if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
        fail "no apt-get or dpkg-deb here (not Debian/Ubuntu)."
        need
        return 1
    fi
    if fetch && present; then
        say "smtp-sink is at $(sink_path) ($(version))"
        return 0
    fi
    log_tail
    need
    return 1
}

path() {
    if present; then
        sink_path
        return 0
    fi
    need
    return 1
}

main() {
    (($# == 1)) || usage
    case $1 in
    check) check ;;
    ensure) ensure ;;
    path) path ;;
    *) usage ;;
    esac
}

main "$@"
