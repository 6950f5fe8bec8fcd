#!/usr/bin/env bash
# Runs the browser tests of the web client (registered with ctest in tests/CMakeLists.txt).
#   MONOCHAT_BINARY=<built monochat> tests/browser/run.sh <output dir>
# MONOCHAT_TEST_SERVER, when set, names the server binary instead (scripts/test.sh uses it to run
# the tests against the Release build).
# Installs playwright-core and http_ece into the output dir with `npm ci` (package-lock.json pins it), then
# runs client.test.mjs, web19.test.mjs, files.test.mjs, account.test.mjs, groups.test.mjs and admin.test.mjs (one after the other) with node's test runner against
# Debian's chromium. Screenshots of failed tests, and client.png and client-phone.png (the
# documentation's pictures), land in <output dir>.
# MONOCHAT_DOC_SCREENSHOTS=docs/img also copies the documentation's pictures there.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${1:?usage: run.sh <output dir> [node --test options]}" && cd "$1" && pwd)
shift
MONOCHAT_BINARY=${MONOCHAT_TEST_SERVER:-${MONOCHAT_BINARY:-}}
: "${MONOCHAT_BINARY:?set MONOCHAT_BINARY to the built monochat}"
command -v node >/dev/null || { echo "node is missing: run scripts/deps.sh --test" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is missing: run scripts/deps.sh --test" >&2; exit 1; }

cp "$src/package.json" "$src/package-lock.json" "$src"/*.mjs "$out/"
stamp="$out/node_modules/.monochat-lock"
if ! cmp -s "$src/package-lock.json" "$stamp" 2>/dev/null; then
    (cd "$out" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$src/package-lock.json" "$stamp"
fi
export MONOCHAT_BROWSER_OUT="$out"
MONOCHAT_BINARY=$(realpath "$MONOCHAT_BINARY")
export MONOCHAT_BINARY
if [[ -n "${MONOCHAT_DOC_SCREENSHOTS:-}" ]]; then
    export MONOCHAT_DOC_SCREENSHOTS=$(realpath -m "$MONOCHAT_DOC_SCREENSHOTS")
fi
cd "$out"
exec node --test --test-reporter=spec --test-concurrency=1 "$@" client.test.mjs web19.test.mjs files.test.mjs account.test.mjs groups.test.mjs admin.test.mjs
