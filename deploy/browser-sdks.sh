#!/usr/bin/env bash
# Check or install the official browser SDKs the tracker is tested against: Segment's
# analytics-next and RudderStack's JavaScript SDK v3, from npm, at the exact versions of
# tests/browser/sdk/package.json and package-lock.json.
#
#   deploy/browser-sdks.sh check    report whether the pinned SDKs are installed, install nothing
#   deploy/browser-sdks.sh ensure   install them with `npm ci` if they are missing or stale
#
# Exit status: 0 the SDKs are there, 1 they are not (the message says why), 2 bad usage.
# They go to tests/browser/sdk/node_modules (git-ignored); only the npm registry is needed.
# tests/browser/test_tracking_browser_sdks.py serves their browser bundles to Chromium and is
# skipped, saying so, while they are missing.

set -o pipefail

NAME=browser-sdks USAGE_LINES=9
# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SDK_DIR="$ROOT/tests/browser/sdk"
MODULES="$SDK_DIR/node_modules"
# The browser bundles the test loads: each SDK's UMD build.
BUNDLES=(
    "@segment/analytics-next/dist/umd/index.js"
    "@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js"
)

# The installed version of every dependency of package.json, one "name version" a line
# (version "missing" when it is not installed); empty without node.
installed() {
    command -v node >/dev/null || return 0
    node -e '
        const fs = require("fs"), path = require("path");
        const dir = process.argv[1];
        const wanted = JSON.parse(fs.readFileSync(path.join(dir, "package.json"))).dependencies;
        for (const [name, pin] of Object.entries(wanted)) {
            let version = "missing";
            try {
                version = JSON.parse(fs.readFileSync(
                    path.join(dir, "node_modules", name, "package.json"))).version;
            } catch (error) {}
            console.log(`${name} ${version} ${pin}`);
        }
    ' "$SDK_DIR"
}

# 0 when every pinned SDK is installed at its version and every bundle is there.
present() {
    local bundle name version pin stale=0
    for bundle in "${BUNDLES[@]}"; do
        [[ -f $MODULES/$bundle ]] || return 1
    done
    while read -r name version pin; do
        [[ $version == "$pin" ]] || stale=1
    done < <(installed)
    return $stale
}

describe() {
    local name version pin
    while read -r name version pin; do
        say "$name $version"
    done < <(installed)
}

need() {
    fail "the browser SDKs are needed in $MODULES for tests/browser/test_tracking_browser_sdks.py:" \
        "run \`deploy/browser-sdks.sh ensure\` (needs Node.js 18+ with npm and the npm registry)."
}

check() {
    if present; then
        describe
        return 0
    fi
    need
    return 1
}

ensure() {
    present && { describe; return 0; }
    if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
        fail "no node/npm here: install Node.js 18 or later (Debian: \`apt-get install nodejs npm\`)."
        need
        return 1
    fi
    take_lock 600
    present && { describe; return 0; }
    say "installing the pinned SDKs with npm ci (once)"
    printf '$ npm ci\n' >>"$LOG"
    if (cd "$SDK_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
        >>"$LOG" 2>&1 </dev/null && present; then
        describe
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
