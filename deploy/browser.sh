#!/usr/bin/env bash
# Check or install the browser Herald's browser tests drive: Debian's Chromium.
#
#   deploy/browser.sh check    report whether the browser is there, install nothing
#   deploy/browser.sh ensure   install Debian's `chromium` (and fonts) if it is missing
#
# Exit status: 0 the browser is there, 1 it is not (the message says what to install),
# 2 bad usage. The tests use /usr/bin/chromium, or the browser HERALD_CHROMIUM names; without
# one they are skipped with that reason. Playwright's own browser downloads are never used.
#
# Environment:
#   HERALD_CHROMIUM   use this browser executable instead: it is only checked, never installed

set -o pipefail

NAME=browser USAGE_LINES=9
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
CHROMIUM="${HERALD_CHROMIUM:-/usr/bin/chromium}"
# Chromium, and fonts with Cyrillic glyphs so the Russian pages render as people see them.
PACKAGES=(chromium fonts-dejavu-core fonts-liberation)

present() { [[ -x $CHROMIUM ]]; }

need() {
    fail "Chromium is needed at $CHROMIUM for the browser tests: install it with" \
        "\`sudo apt-get install ${PACKAGES[*]}\`, or point HERALD_CHROMIUM at a Chromium" \
        "or Chrome executable."
}

check() {
    if present; then
        say "Chromium is at $CHROMIUM"
        return 0
    fi
    need
    return 1
}

ensure() {
    present && { say "Chromium is at $CHROMIUM"; return 0; }
    if [[ -n ${HERALD_CHROMIUM:-} ]]; then
        fail "HERALD_CHROMIUM=$HERALD_CHROMIUM is not an executable file"
        return 1
    fi
    take_lock 900
    present && { say "Chromium is at $CHROMIUM"; return 0; }
    if ! command -v apt-get >/dev/null; then
        fail "no apt-get here (not Debian/Ubuntu)."
        need
        return 1
    fi
    if ! can_admin; then
        fail "installing Chromium needs root (or passwordless sudo)."
        need
        return 1
    fi
    if apt_install "${PACKAGES[@]}" && present; then
        say "Chromium is at $CHROMIUM ($("$CHROMIUM" --version 2>/dev/null | head -n 1))"
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
