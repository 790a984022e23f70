#!/usr/bin/env bash
# Check or install wrk, the HTTP load generator of the tracking benchmark: Debian's `wrk`.
#
#   deploy/wrk.sh check    report whether wrk is there, install nothing
#   deploy/wrk.sh ensure   install Debian's `wrk` if it is missing
#
# Exit status: 0 wrk is there, 1 it is not (the message says what to install), 2 bad usage.
# tests/benchmarks/bench_tracking.py runs the wrk on PATH, or the one HERALD_WRK names.
#
# Environment:
#   HERALD_WRK   use this wrk executable instead: it is only checked, never installed

set -o pipefail

NAME=wrk USAGE_LINES=11
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
PACKAGES=(wrk)

# The wrk to use: HERALD_WRK, else the one on PATH.
wrk_path() {
    if [[ -n ${HERALD_WRK:-} ]]; then
        [[ -x $HERALD_WRK ]] && printf '%s\n' "$HERALD_WRK"
        return
    fi
    command -v wrk
}

present() { [[ -n $(wrk_path) ]]; }

# `wrk --version` prints its banner and exits 1; keep the first line only.
version() { "$(wrk_path)" --version 2>&1 | head -n 1; }

need() {
    fail "wrk is needed for the tracking benchmark: install it with" \
        "\`sudo apt-get install ${PACKAGES[*]}\`, or point HERALD_WRK at a wrk executable."
}

check() {
    if present; then
        say "wrk is at $(wrk_path) ($(version))"
        return 0
    fi
    need
    return 1
}

ensure() {
    present && { say "wrk is at $(wrk_path) ($(version))"; return 0; }
    if [[ -n ${HERALD_WRK:-} ]]; then
        fail "HERALD_WRK=$HERALD_WRK is not an executable file"
        return 1
    fi
    take_lock 900
    present && { say "wrk is at $(wrk_path) ($(version))"; return 0; }
    if ! command -v apt-get >/dev/null; then
        fail "no apt-get here (not Debian/Ubuntu)."
        need
        return 1
    fi
    if ! can_admin; then
        fail "installing wrk needs root (or passwordless sudo)."
        need
        return 1
    fi
    if apt_install "${PACKAGES[@]}" && present; then
        say "wrk is at $(wrk_path) ($(version))"
        return 0
    fi
    log_tail
    need
    return 1
}

main() {
    (($# == 1)) || usage
    case $1 in
    check) check ;;
    ensure) ensure ;;
    *) usage ;;
    esac
}

main "$@"
