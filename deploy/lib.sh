# Shared helpers of the deploy/ scripts; not run on its own. A script sets its short name
# (and how many lines of its header are its usage), then sources this file:
#
#   NAME=wrk USAGE_LINES=11
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# It then has: $LOG (removed on exit), say, fail, usage, attempt (run a command, keeping its
# output in $LOG), log_tail (the end of $LOG, for a failure message), is_root, can_admin
# (sets SUDO), apt_install [--with-recommends] PACKAGE... and take_lock SECONDS (serialises
# concurrent runs of the same script).

LOG="${TMPDIR:-/tmp}/herald-$NAME.$$.log"
trap 'rm -f "$LOG"' EXIT

say() { printf '%s: %s\n' "$NAME" "$*"; }
fail() { printf '%s: %s\n' "$NAME" "$*" >&2; }

usage() {
    sed -n "2,${USAGE_LINES:-9}p" "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

is_root() { [[ $(id -u) == 0 ]]; }

# Commands that need root: run directly as root, through passwordless sudo otherwise.
SUDO=()
can_admin() {
    if is_root; then
        SUDO=()
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
        SUDO=(sudo -n)
    else
        return 1
    fi
}

# Run a command, keeping its output for the failure message.
attempt() {
    printf '$ %s\n' "$*" >>"$LOG"
    "$@" >>"$LOG" 2>&1 </dev/null
}

log_tail() {
    [[ -s $LOG ]] || return 0
    fail "what was tried:"
    grep -v "^[[:space:]]*$" "$LOG" | tail -n 8 | sed "s/^/    /" >&2
}

# Debian packages, with apt-get (once; the package lists are refreshed if the first try
# fails). Recommended packages are left out unless --with-recommends comes first.
apt_install() { # [--with-recommends] package...
    local options=(-y -q --no-install-recommends)
    if [[ ${1:-} == --with-recommends ]]; then
        options=(-y -q)
        shift
    fi
    command -v apt-get >/dev/null || return 1
    can_admin || return 1
    say "installing $* with apt-get (once; this can take a few minutes)"
    local env=(env DEBIAN_FRONTEND=noninteractive)
    attempt "${SUDO[@]}" "${env[@]}" apt-get install "${options[@]}" "$@" && return 0
    attempt "${SUDO[@]}" "${env[@]}" apt-get update -q &&
        attempt "${SUDO[@]}" "${env[@]}" apt-get install "${options[@]}" "$@"
}

# Serialise concurrent runs of this script (one installs, the others wait and then find it).
take_lock() { # seconds
    command -v flock >/dev/null || return 0
    { exec 9>>"${TMPDIR:-/tmp}/herald-$NAME.lock"; } 2>/dev/null || return 0
    flock -w "${1:-900}" 9 || true
}
