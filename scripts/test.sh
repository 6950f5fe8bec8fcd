#!/usr/bin/env bash
# The README's test command (and what CI runs through .ci/run): installs what is missing,
# builds everything with warnings as errors, and runs every unit and integration test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh --test
build_dir=${MONOCHAT_BUILD_DIR:-build/test}
jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DMONOCHAT_WERROR=ON -DMONOCHAT_BUILD_TESTS=ON -DMONOCHAT_BUILD_TOOLS=ON \
      -DMONOCHAT_SANITIZE="${MONOCHAT_SANITIZE:-}" >/dev/null
cmake --build "$build_dir" -j "$jobs"
# Connection tests open thousands of sockets: raise the soft limit to the hard one.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
cd "$build_dir"
ctest --output-on-failure --timeout 600 -j "$jobs"
