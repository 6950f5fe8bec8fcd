#!/usr/bin/env bash
# The README's run command: installs what is missing, builds a Release binary and runs the
# server with embedded defaults (127.0.0.1:8080, data in ./data). Arguments go to the server,
# e.g. `scripts/run.sh --config config/monochat.json`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
build_dir=${MONOCHAT_BUILD_DIR:-build/release}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DMONOCHAT_BUILD_TESTS=OFF -DMONOCHAT_BUILD_TOOLS=OFF >/dev/null
cmake --build "$build_dir" --target monochat -j "$(nproc)"
exec "$build_dir/src/app/monochat" "$@"
